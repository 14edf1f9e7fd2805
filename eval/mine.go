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

// MINEConfig sets up the MINE estimate of I(X;Y). Zero fields take the
// defaults: convolutions of 64 and 128 channels, 256 image features, 512
// hidden units, Adam 1e-4, batches of 256 pairs, 2000 steps. Negative
// ImageFeatures, Hidden, Steps or Batch, a Batch of 1 (the negatives
// shuffle the batch) and a negative or non-finite LR are errors.
type MINEConfig struct {
	// Convs are the output channels of the critic's convolutions on the
	// image (4x4, stride 2, padding 1, ReLU each). A nil slice takes the
	// default; an empty non-nil slice means none (the image is flattened).
	Convs []int
	// ImageFeatures is the width of the linear layer (with ReLU) after the
	// convolutions.
	ImageFeatures int
	// Hidden is the width of the hidden layer of the MLP on [image
	// features, Y].
	Hidden       int
	Steps, Batch int
	LR           float64
	Seed         uint64
	// Progress, if not nil, is called after each training step with the
	// number of steps done (last with Steps, before the test-set
	// evaluation).
	Progress func(done int)
}

func (c MINEConfig) withDefaults() MINEConfig {
	if c.Convs == nil {
		c.Convs = []int{64, 128}
	}
	if c.ImageFeatures == 0 {
		c.ImageFeatures = 256
	}
	if c.Hidden == 0 {
		c.Hidden = 512
	}
	if c.Steps == 0 {
		c.Steps = 2000
	}
	if c.Batch == 0 {
		c.Batch = 256
	}
	if c.LR == 0 {
		c.LR = 1e-4
	}
	return c
}

// validate returns an error naming the first field of c (before
// withDefaults) that is out of range (the convolutions are checked with
// the image).
func (c MINEConfig) validate() error {
	switch {
	case c.ImageFeatures < 0:
		return fmt.Errorf("mine: ImageFeatures = %d: want at least 1 (0 for the default 256)", c.ImageFeatures)
	case c.Hidden < 0:
		return fmt.Errorf("mine: Hidden = %d: want at least 1 (0 for the default 512)", c.Hidden)
	case c.Steps < 0:
		return fmt.Errorf("mine: Steps = %d: want at least 1 (0 for the default 2000)", c.Steps)
	case c.Batch < 0 || c.Batch == 1:
		return fmt.Errorf("mine: Batch = %d: want at least 2, to shuffle (0 for the default 256)", c.Batch)
	case !(c.LR >= 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("mine: LR = %v: want a finite rate > 0 (0 for the default 1e-4)", c.LR)
	}
	return nil
}

// mineCritic is T(x, y): a small conv net on the image, whose features are
// concatenated with y and scored by an MLP.
type mineCritic struct {
	Image *nn.Sequential // [B,C,H,W] -> [B,ImageFeatures]
	Joint *nn.Sequential // [B,ImageFeatures+D] -> [B,1]
}

func newMINECritic(c, h, w, d int, cfg MINEConfig, rng *tensor.RNG) (*mineCritic, error) {
	img := nn.NewSequential()
	for i, out := range cfg.Convs {
		if out < 1 {
			return nil, fmt.Errorf("mine: conv %d has %d channels", i, out)
		}
		if h < 2 || w < 2 {
			return nil, fmt.Errorf("mine: %d convolutions of stride 2 do not fit the image (%dx%d left after %d)", len(cfg.Convs), h, w, i)
		}
		img.Add(fmt.Sprintf("conv%d", i), nn.NewConv2d(c, out, 4, 2, 1, true, rng))
		img.Add(fmt.Sprintf("relu%d", i), nn.ReLU)
		c, h, w = out, (h-2)/2+1, (w-2)/2+1
	}
	img.Add("flatten", nn.Func{F: func(tp *autograd.Tape, x *autograd.Var) *autograd.Var { return tp.Flatten(x) }})
	img.Add("fc", nn.NewLinear(c*h*w, cfg.ImageFeatures, true, rng))
	img.Add("fc_relu", nn.ReLU)
	joint := nn.NewSequential(
		nn.NewLinear(cfg.ImageFeatures+d, cfg.Hidden, true, rng), nn.ReLU,
		nn.NewLinear(cfg.Hidden, 1, true, rng),
	)
	return &mineCritic{Image: img, Joint: joint}, nil
}

// scores returns T(x_i, y_i) and T(x_i, y'_i) for the image batch x and the
// feature batches y (matching) and yNeg (shuffled), each [B,1]; the image
// branch runs once for both.
func (m *mineCritic) scores(tp *autograd.Tape, x, y, yNeg *tensor.Tensor) (pos, neg *autograd.Var) {
	f := m.Image.Forward(tp, tp.Const(x))
	pos = m.Joint.Forward(tp, tp.Concat(1, f, tp.Const(y)))
	neg = m.Joint.Forward(tp, tp.Concat(1, f, tp.Const(yNeg)))
	return pos, neg
}

// MINE estimates the mutual information I(X;Y), in nats, between images
// x [N,C,H,W] (or vectors [N,D'], as 1x1 images of D' channels) and
// features y [N,D] of the same rows, as MINE (Belghazi et al. 2018) and
// the paper's Table 3 do: a critic T(x, y) (MINEConfig) is trained on the
// training pairs to maximise the Donsker-Varadhan bound
//
//	I(X;Y) >= E_joint[T(x, y)] - log E_marginals[e^T(x, y')],
//
// whose negatives pair each image with the y of another row of its batch
// (y shuffled across the batch), and the bound is then evaluated on the
// whole test split at once: positives are the matching test pairs,
// negatives pair image i with the y of a random permutation of the test
// rows, and log E[e^T] is a float64 log-mean-exp over all of them.
//
// The training gradient uses the batch's stable log-mean-exp
// (mi.DiscriminatorLoss with mi.DV), without MINE's moving-average
// correction of the gradient's bias: with batches of 256 the bias is small
// (the tests recover known MI within 10%), and the estimate itself is not
// a batch average, so it carries no such bias.
//
// Errors: an invalid cfg (see MINEConfig), nil tensors, shapes that
// disagree, fewer than 2 rows, no feature columns, a NaN or Inf image or
// feature, a conv stack that does not fit the image, or a training
// failure (non-finite loss).
func MINE(trainX, trainY, testX, testY *tensor.Tensor, cfg MINEConfig) (float64, error) {
	if err := cfg.validate(); err != nil {
		return 0, err
	}
	cfg = cfg.withDefaults()
	trainX, testX = asImages(trainX), asImages(testX)
	for _, s := range []struct {
		name string
		x, y *tensor.Tensor
	}{{"train", trainX, trainY}, {"test", testX, testY}} {
		switch {
		case s.x == nil || s.x.Rank() != 4 || s.x.Size() != tensor.SizeOf(s.x.Shape):
			return 0, fmt.Errorf("mine: %s images: want [N,C,H,W] or [N,D]", s.name)
		case s.y == nil:
			return 0, fmt.Errorf("mine: %s features: nil tensor", s.name)
		case s.y.Rank() != 2 || s.y.Size() != tensor.SizeOf(s.y.Shape) || s.y.Shape[1] < 1:
			return 0, fmt.Errorf("mine: %s features of shape %v: want [N,D] with D >= 1", s.name, s.y.Shape)
		case s.x.Shape[0] != s.y.Shape[0] || s.y.Shape[0] < 2:
			return 0, fmt.Errorf("mine: %s has %d images and %d feature rows: want the same number, at least 2", s.name, s.x.Shape[0], s.y.Shape[0])
		}
	}
	if !tensor.EqualShape(trainX.Shape[1:], testX.Shape[1:]) || trainY.Shape[1] != testY.Shape[1] {
		return 0, fmt.Errorf("mine: train images %v and features %v do not match test %v and %v", trainX.Shape[1:], trainY.Shape[1:], testX.Shape[1:], testY.Shape[1:])
	}
	for _, s := range []struct {
		name string
		x    *tensor.Tensor
	}{{"train images", trainX}, {"train features", trainY}, {"test images", testX}, {"test features", testY}} {
		if err := CheckFinite(s.x); err != nil {
			return 0, fmt.Errorf("mine: %s: %w", s.name, err)
		}
	}
	c, h, w, d := trainX.Shape[1], trainX.Shape[2], trainX.Shape[3], trainY.Shape[1]
	rng := tensor.NewRNG(cfg.Seed)
	critic, err := newMINECritic(c, h, w, d, cfg, rng)
	if err != nil {
		return 0, err
	}
	opt, err := optim.NewAdam(nn.StateOf(critic, "").Vars(), optim.AdamConfig{LR: cfg.LR})
	if err != nil {
		return 0, fmt.Errorf("mine: %w", err)
	}
	tp := autograd.NewTape()
	xb, yb, yNeg := &tensor.Tensor{}, &tensor.Tensor{}, &tensor.Tensor{}
	n := trainX.Shape[0]
	batch := min(cfg.Batch, n)
	perm, pos := rng.Perm(n), 0
	for step := range cfg.Steps {
		if pos+batch > n {
			perm, pos = rng.Perm(n), 0
		}
		idx := perm[pos : pos+batch]
		pos += batch
		minePairs(xb, yb, yNeg, trainX, trainY, idx, idx, rng.Perm(batch))
		tp.Reset()
		p, q := critic.scores(tp, xb, yb, yNeg)
		loss, err := mi.DiscriminatorLoss(tp, mi.DV, p, q)
		if err != nil {
			return 0, fmt.Errorf("mine: step %d: %w", step, err)
		}
		if l := loss.Item(); math.IsNaN(float64(l)) || math.IsInf(float64(l), 0) {
			return 0, fmt.Errorf("mine: step %d: loss %v", step, l)
		}
		opt.ZeroGrad()
		if err := tp.Backward(loss); err != nil {
			return 0, fmt.Errorf("mine: step %d: %w", step, err)
		}
		opt.Step()
		if cfg.Progress != nil {
			cfg.Progress(step + 1)
		}
	}
	if err := opt.Err(); err != nil {
		return 0, fmt.Errorf("mine: %w", err)
	}
	// The bound on the whole test split.
	tp.SetNoGrad(true)
	m := testX.Shape[0]
	shuffle := rng.Perm(m)
	all := make([]int, m)
	for i := range all {
		all[i] = i
	}
	var sumPos float64
	neg := make([]float64, 0, m)
	for s := 0; s < m; s += batch {
		e := min(s+batch, m)
		minePairs(xb, yb, yNeg, testX, testY, all[s:e], shuffle[s:e], nil)
		tp.Reset()
		p, q := critic.scores(tp, xb, yb, yNeg)
		if err := tp.Err(); err != nil {
			return 0, fmt.Errorf("mine: test: %w", err)
		}
		for i := range e - s {
			sumPos += float64(p.Value.Data[i])
			neg = append(neg, float64(q.Value.Data[i]))
		}
	}
	v := sumPos/float64(m) - logMeanExp64(neg)
	if !finite(v) {
		return 0, fmt.Errorf("mine: test estimate %v", v)
	}
	return v, nil
}

// asImages views vectors [N,D] as [N,D,1,1]; other shapes are returned as
// they are.
func asImages(x *tensor.Tensor) *tensor.Tensor {
	if x != nil && x.Rank() == 2 {
		return &tensor.Tensor{Shape: []int{x.Shape[0], x.Shape[1], 1, 1}, Data: x.Data}
	}
	return x
}

// minePairs fills xb and yb with the rows idx of x and y, and yNeg with the
// rows negIdx of y, permuted by shuffle if it is not nil (row k of yNeg is
// y[negIdx[shuffle[k]]]).
func minePairs(xb, yb, yNeg, x, y *tensor.Tensor, idx, negIdx, shuffle []int) {
	dx, dy := x.Size()/x.Shape[0], y.Shape[1]
	b := len(idx)
	xb.Resize(append([]int{b}, x.Shape[1:]...)...)
	yb.Resize(b, dy)
	yNeg.Resize(b, dy)
	for k, r := range idx {
		copy(xb.Data[k*dx:(k+1)*dx], x.Data[r*dx:(r+1)*dx])
		copy(yb.Data[k*dy:(k+1)*dy], y.Data[r*dy:(r+1)*dy])
		nr := negIdx[k]
		if shuffle != nil {
			nr = negIdx[shuffle[k]]
		}
		copy(yNeg.Data[k*dy:(k+1)*dy], y.Data[nr*dy:(nr+1)*dy])
	}
}

// logMeanExp64 is log(mean(e^v)), shifted by the maximum for stability.
func logMeanExp64(v []float64) float64 {
	mx := math.Inf(-1)
	for _, x := range v {
		mx = max(mx, x)
	}
	var s float64
	for _, x := range v {
		s += math.Exp(x - mx)
	}
	return mx + math.Log(s/float64(len(v)))
}
