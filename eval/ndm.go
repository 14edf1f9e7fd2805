package eval

import (
	"fmt"
	"math"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// NDMConfig sets up the neural dependency measure. Zero fields take the
// defaults: the reference's critic (1000 and 200 ReLU units), Adam 1e-4,
// batches of 1000 rows, 2000 steps.
type NDMConfig struct {
	Hidden1, Hidden2 int
	Steps, Batch     int
	// Progress, if not nil, is called after each training step with the
	// number of steps done (last with Steps, before the test-set
	// evaluation).
	Progress func(done int)
	LR       float64
	// Sigmoid applies a sigmoid to the features first (the paper reports
	// NDM with and without it).
	Sigmoid bool
	Seed    uint64
}

func (c NDMConfig) withDefaults() NDMConfig {
	if c.Hidden1 == 0 {
		c.Hidden1 = 1000
	}
	if c.Hidden2 == 0 {
		c.Hidden2 = 200
	}
	if c.Steps == 0 {
		c.Steps = 2000
	}
	if c.Batch == 0 {
		c.Batch = 1000
	}
	if c.LR == 0 {
		c.LR = 1e-4
	}
	return c
}

// NDM is the neural dependency measure of the paper: how far the joint
// distribution of the units of a representation is from the product of
// their marginals. As in the reference code, a critic T is trained on train
// [N,D] with the f-divergence (Fenchel dual) form of KL to tell rows from
// "shuffled" rows, whose every unit is permuted independently across the
// batch, and the result is the Donsker-Varadhan bound E_joint[T] - log
// E_shuffled[e^T] on KL(joint || product of marginals), averaged over
// batches of test. Higher means more dependent units; independent units
// give about 0.
func NDM(train, test *tensor.Tensor, cfg NDMConfig) (float64, error) {
	cfg = cfg.withDefaults()
	for _, s := range []struct {
		name string
		x    *tensor.Tensor
	}{{"train", train}, {"test", test}} {
		if s.x.Rank() != 2 || s.x.Shape[0] < 2 {
			return 0, fmt.Errorf("ndm: %s features of shape %v: want [N,D] with N >= 2", s.name, s.x.Shape)
		}
	}
	if train.Shape[1] != test.Shape[1] {
		return 0, fmt.Errorf("ndm: train has %d units, test %d", train.Shape[1], test.Shape[1])
	}
	d := train.Shape[1]
	rng := tensor.NewRNG(cfg.Seed)
	critic := nn.NewSequential(
		nn.NewLinear(d, cfg.Hidden1, true, rng), nn.ReLU,
		nn.NewLinear(cfg.Hidden1, cfg.Hidden2, true, rng), nn.ReLU,
		nn.NewLinear(cfg.Hidden2, 1, true, rng),
	)
	opt, err := optim.NewAdam(nn.StateOf(critic, "").Vars(), optim.AdamConfig{LR: cfg.LR})
	if err != nil {
		return 0, fmt.Errorf("ndm: %w", err)
	}
	tp := autograd.NewTape()
	joint, shuffled := &tensor.Tensor{}, &tensor.Tensor{}
	n := train.Shape[0]
	batch := min(cfg.Batch, n)
	perm, pos := rng.Perm(n), 0
	for step := range cfg.Steps {
		if pos+batch > n {
			perm, pos = rng.Perm(n), 0
		}
		ndmBatch(joint, shuffled, train, perm[pos:pos+batch], cfg.Sigmoid, rng)
		pos += batch
		tp.Reset()
		loss, err := mi.DiscriminatorLoss(tp, mi.KL, critic.Forward(tp, tp.Const(joint)), critic.Forward(tp, tp.Const(shuffled)))
		if err != nil {
			return 0, fmt.Errorf("ndm: %w", err)
		}
		opt.ZeroGrad()
		if err := tp.Backward(loss); err != nil {
			return 0, fmt.Errorf("ndm: %w", err)
		}
		opt.Step()
		if cfg.Progress != nil {
			cfg.Progress(step + 1)
		}
	}
	// The bound on held-out rows, batch by batch (shuffling needs a batch).
	tp.SetNoGrad(true)
	m := test.Shape[0]
	batch = min(cfg.Batch, m)
	order := rng.Perm(m)
	var sum float64
	var count int
	for s := 0; s+batch <= m; s += batch {
		ndmBatch(joint, shuffled, test, order[s:s+batch], cfg.Sigmoid, rng)
		tp.Reset()
		loss, err := mi.DiscriminatorLoss(tp, mi.DV, critic.Forward(tp, tp.Const(joint)), critic.Forward(tp, tp.Const(shuffled)))
		if err != nil {
			return 0, fmt.Errorf("ndm: %w", err)
		}
		sum -= float64(loss.Item())
		count++
	}
	return sum / float64(count), nil
}

// ndmBatch fills joint with the rows idx of x and shuffled with the same
// rows with every column permuted independently (through a sigmoid first
// if asked).
func ndmBatch(joint, shuffled, x *tensor.Tensor, idx []int, sigmoid bool, rng *tensor.RNG) {
	d := x.Shape[1]
	b := len(idx)
	joint.Resize(b, d)
	shuffled.Resize(b, d)
	for i, r := range idx {
		copy(joint.Data[i*d:(i+1)*d], x.Data[r*d:(r+1)*d])
	}
	if sigmoid {
		for i, v := range joint.Data {
			joint.Data[i] = float32(1 / (1 + math.Exp(-float64(v))))
		}
	}
	for j := range d {
		p := rng.Perm(b)
		for i := range b {
			shuffled.Data[i*d+j] = joint.Data[p[i]*d+j]
		}
	}
}
