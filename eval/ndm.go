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
// batches of 1000 rows, 2000 steps. Negative Hidden1, Hidden2, Steps or
// Batch, a Batch of 1 (shuffling needs 2 rows) and a negative or
// non-finite LR are errors.
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

// validate returns an error naming the first field of c (before
// withDefaults) that is out of range.
func (c NDMConfig) validate() error {
	switch {
	case c.Hidden1 < 0:
		return fmt.Errorf("ndm: Hidden1 = %d: want at least 1 (0 for the default 1000)", c.Hidden1)
	case c.Hidden2 < 0:
		return fmt.Errorf("ndm: Hidden2 = %d: want at least 1 (0 for the default 200)", c.Hidden2)
	case c.Steps < 0:
		return fmt.Errorf("ndm: Steps = %d: want at least 1 (0 for the default 2000)", c.Steps)
	case c.Batch < 0 || c.Batch == 1:
		return fmt.Errorf("ndm: Batch = %d: want at least 2, to shuffle (0 for the default 1000)", c.Batch)
	case !(c.LR >= 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("ndm: LR = %v: want a finite rate > 0 (0 for the default 1e-4)", c.LR)
	}
	return nil
}

// CheckNDM returns the error NDM would return for train, test and cfg
// before it trains anything: an invalid cfg (see NDMConfig), features
// that are not matrices [N,D] and [M,D] with N, M >= 2 and the same D >=
// 1, or a NaN or Inf feature (naming the set, row and column). A caller
// that runs other measures first can call it to fail before them; NDM
// can still fail afterwards if its critic diverges.
func CheckNDM(train, test *tensor.Tensor, cfg NDMConfig) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	for _, s := range []struct {
		name string
		x    *tensor.Tensor
	}{{"train", train}, {"test", test}} {
		if err := checkMatrix(s.x, 2); err != nil {
			return fmt.Errorf("ndm: %s features: %w", s.name, err)
		}
	}
	if train.Shape[1] != test.Shape[1] {
		return fmt.Errorf("ndm: train has %d units, test %d", train.Shape[1], test.Shape[1])
	}
	for _, s := range []struct {
		name string
		x    *tensor.Tensor
	}{{"train", train}, {"test", test}} {
		if err := CheckFinite(s.x); err != nil {
			return fmt.Errorf("ndm: %s features: %w", s.name, err)
		}
	}
	return nil
}

// NDM is the neural dependency measure of the paper: how far the joint
// distribution of the units of a representation is from the product of
// their marginals. As in the reference code, a critic T is trained on train
// [N,D] with the f-divergence (Fenchel dual) form of KL to tell rows from
// "shuffled" rows, whose every unit is permuted independently across the
// batch, and the result is the Donsker-Varadhan bound E_joint[T] - log
// E_shuffled[e^T] on KL(joint || product of marginals), averaged over
// batches of test [M,D]. Higher means more dependent units; independent
// units give about 0.
//
// Without cfg.Sigmoid the critic sees every unit standardised: minus the
// training rows' mean, divided by their unbiased standard deviation,
// computed in float64, the same map on the test rows; a unit constant on
// the training rows is 0 in both. A map of each unit on its own leaves the
// measured KL unchanged, and standardising keeps the critic's inputs at a
// scale it trains on whatever the features' scale (features near the
// float32 limit made the critic overflow, and NDM return NaN). With
// cfg.Sigmoid the critic sees sigmoid(features) as they are, as in the
// reference code and the paper: they are bounded, and the features' scale
// (how far the sigmoid saturates) is part of what that variant measures;
// standardising them too would make it, in theory, the same quantity as
// the plain NDM. The reference critic sees unstandardised features.
//
// Errors: those of CheckNDM, a test value whose standardised value
// overflows float32, a critic whose training loss or final estimate is
// not finite (it diverged), or a training failure.
func NDM(train, test *tensor.Tensor, cfg NDMConfig) (float64, error) {
	if err := CheckNDM(train, test, cfg); err != nil {
		return 0, err
	}
	cfg = cfg.withDefaults()
	train, test, err := ndmInputs(train, test, cfg.Sigmoid)
	if err != nil {
		return 0, err
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
		ndmBatch(joint, shuffled, train, perm[pos:pos+batch], rng)
		pos += batch
		tp.Reset()
		loss, err := mi.DiscriminatorLoss(tp, mi.KL, critic.Forward(tp, tp.Const(joint)), critic.Forward(tp, tp.Const(shuffled)))
		if err != nil {
			return 0, fmt.Errorf("ndm: step %d: %w", step, err)
		}
		if l := float64(loss.Item()); !finite(l) {
			return 0, fmt.Errorf("ndm: step %d: critic loss %v: the critic diverged", step, l)
		}
		opt.ZeroGrad()
		if err := tp.Backward(loss); err != nil {
			return 0, fmt.Errorf("ndm: step %d: %w", step, err)
		}
		opt.Step()
		if cfg.Progress != nil {
			cfg.Progress(step + 1)
		}
	}
	if err := opt.Err(); err != nil {
		return 0, fmt.Errorf("ndm: %w", err)
	}
	// The bound on held-out rows, batch by batch (shuffling needs a batch).
	tp.SetNoGrad(true)
	m := test.Shape[0]
	batch = min(cfg.Batch, m)
	order := rng.Perm(m)
	var sum float64
	var count int
	for s := 0; s+batch <= m; s += batch {
		ndmBatch(joint, shuffled, test, order[s:s+batch], rng)
		tp.Reset()
		loss, err := mi.DiscriminatorLoss(tp, mi.DV, critic.Forward(tp, tp.Const(joint)), critic.Forward(tp, tp.Const(shuffled)))
		if err != nil {
			return 0, fmt.Errorf("ndm: test: %w", err)
		}
		sum -= float64(loss.Item())
		count++
	}
	v := sum / float64(count)
	if !finite(v) {
		return 0, fmt.Errorf("ndm: test estimate %v: the critic diverged", v)
	}
	return v, nil
}

// ndmInputs returns train and test as NDM's critic sees them: through a
// sigmoid if asked; else each column standardised with the training rows'
// mean and unbiased standard deviation, in float64 (a column constant on
// the training rows becomes 0). The error is for a test value that
// overflows float32 once standardised.
func ndmInputs(train, test *tensor.Tensor, sigmoid bool) (tr, te *tensor.Tensor, err error) {
	tr, te = train.Clone(), test.Clone()
	if sigmoid {
		for _, x := range []*tensor.Tensor{tr, te} {
			for i, v := range x.Data {
				x.Data[i] = float32(1 / (1 + math.Exp(-float64(v))))
			}
		}
		return tr, te, nil
	}
	n, d := tr.Shape[0], tr.Shape[1]
	mean, std := make([]float64, d), make([]float64, d)
	for i := range n {
		for j, v := range tr.Data[i*d : (i+1)*d] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	for i := range n {
		for j, v := range tr.Data[i*d : (i+1)*d] {
			dv := float64(v) - mean[j]
			std[j] += dv * dv
		}
	}
	for j := range std {
		std[j] = math.Sqrt(std[j] / float64(n-1))
	}
	for k, x := range []*tensor.Tensor{tr, te} {
		for i, v := range x.Data {
			j := i % d
			z := 0.0
			if std[j] > 0 {
				z = (float64(v) - mean[j]) / std[j]
			}
			x.Data[i] = float32(z)
			if !finite(float64(x.Data[i])) {
				set := [2]string{"train", "test"}[k]
				return nil, nil, fmt.Errorf("ndm: %s features: row %d, column %d: %v is %.3g training standard deviations from the training mean: too far for float32", set, i/d, j, v, z)
			}
		}
	}
	return tr, te, nil
}

// ndmBatch fills joint with the rows idx of x and shuffled with the same
// rows with every column permuted independently.
func ndmBatch(joint, shuffled, x *tensor.Tensor, idx []int, rng *tensor.RNG) {
	d := x.Shape[1]
	b := len(idx)
	joint.Resize(b, d)
	shuffled.Resize(b, d)
	for i, r := range idx {
		copy(joint.Data[i*d:(i+1)*d], x.Data[r*d:(r+1)*d])
	}
	for j := range d {
		p := rng.Perm(b)
		for i := range b {
			shuffled.Data[i*d+j] = joint.Data[p[i]*d+j]
		}
	}
}
