package eval

import (
	"fmt"
	"math"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/kernels"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// MLPConfig sets up the paper's classifier on frozen features: one hidden
// layer (Linear, BatchNorm, ReLU, dropout) and a linear output, trained with
// Adam. Zero fields take the reference code's values (200 hidden units,
// dropout 0.1, Adam 1e-4, batch 64) and at most 30 epochs. Negative
// Hidden, Epochs or Batch, a Batch of 1 (BatchNorm needs 2 rows), a
// Dropout outside [0, 1), a negative or non-finite LR, and a ValFraction
// outside [0, 1) are errors.
type MLPConfig struct {
	Hidden  int
	Dropout float32
	Epochs  int
	Batch   int
	LR      float64
	// ValFraction of the training set (default 0.1; in (0, 1)) is held
	// out; the weights of the epoch with the best accuracy on it are kept.
	ValFraction float64
	Seed        uint64
}

func (c MLPConfig) withDefaults() MLPConfig {
	if c.Hidden == 0 {
		c.Hidden = 200
	}
	if c.Dropout == 0 {
		c.Dropout = 0.1
	}
	if c.Epochs == 0 {
		c.Epochs = 30
	}
	if c.Batch == 0 {
		c.Batch = 64
	}
	if c.LR == 0 {
		c.LR = 1e-4
	}
	if c.ValFraction == 0 {
		c.ValFraction = 0.1
	}
	return c
}

// validateNet returns an error if c's Hidden or Dropout (before
// withDefaults), the fields NewMLP reads, is out of range.
func (c MLPConfig) validateNet() error {
	switch {
	case c.Hidden < 0:
		return fmt.Errorf("mlp: Hidden = %d: want at least 1 (0 for the default 200)", c.Hidden)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return fmt.Errorf("mlp: Dropout = %v: want [0, 1) (0 for the default 0.1)", c.Dropout)
	}
	return nil
}

// validate returns an error naming the first field of c (before
// withDefaults) that is out of range.
func (c MLPConfig) validate() error {
	if err := c.validateNet(); err != nil {
		return err
	}
	switch {
	case c.Epochs < 0:
		return fmt.Errorf("mlp: Epochs = %d: want at least 1 (0 for the default 30)", c.Epochs)
	case c.Batch < 0 || c.Batch == 1:
		return fmt.Errorf("mlp: Batch = %d: want at least 2, for BatchNorm (0 for the default 64)", c.Batch)
	case !(c.LR >= 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("mlp: LR = %v: want a finite rate > 0 (0 for the default 1e-4)", c.LR)
	case !(c.ValFraction >= 0 && c.ValFraction < 1):
		return fmt.Errorf("mlp: ValFraction = %v: want (0, 1) (0 for the default 0.1)", c.ValFraction)
	}
	return nil
}

// NewMLP returns the classifier of MLPConfig for d features: Linear(d,
// hidden), BatchNorm, ReLU, Dropout, Linear(hidden, classes); only cfg's
// Hidden and Dropout are read. Errors: d < 1, classes outside [1,
// MaxClasses], a nil rng, or an invalid Hidden or Dropout (see MLPConfig).
func NewMLP(d, classes int, cfg MLPConfig, rng *tensor.RNG) (*nn.Sequential, error) {
	if err := cfg.validateNet(); err != nil {
		return nil, err
	}
	switch {
	case d < 1:
		return nil, fmt.Errorf("mlp: %d input features: want at least 1", d)
	case classes < 1 || classes > MaxClasses:
		return nil, fmt.Errorf("mlp: classes = %d: want 1 to %d", classes, MaxClasses)
	case rng == nil:
		return nil, fmt.Errorf("mlp: nil random number generator")
	}
	cfg = cfg.withDefaults()
	return nn.NewSequential(
		nn.NewLinear(d, cfg.Hidden, true, rng),
		nn.NewBatchNorm(cfg.Hidden, true),
		nn.ReLU,
		nn.NewDropout(cfg.Dropout, rng),
		nn.NewLinear(cfg.Hidden, classes, true, rng),
	), nil
}

// MLPProbe trains the MLP classifier on training features (minus a
// validation part that picks the epoch), standardised with the statistics
// of the rows it is fitted on, and reports accuracy on the fitted rows and
// the test set.
//
// trainX [N,D] and testX [M,D] are matrices with one label a row in
// trainY and testY, D >= 1 and M >= 1; labels must be in [0, classes),
// with 2 <= classes <= MaxClasses; the held-out part (at least 1 row)
// must leave at least 2 training rows to fit. Errors: any of these
// broken, an invalid cfg (see MLPConfig), a NaN or Inf feature (naming the
// set, row and column), features too large to standardise in float32, or
// a training failure.
func MLPProbe(trainX *tensor.Tensor, trainY []int, testX *tensor.Tensor, testY []int, classes int, cfg MLPConfig) (ProbeResult, error) {
	if err := cfg.validate(); err != nil {
		return ProbeResult{}, err
	}
	cfg = cfg.withDefaults()
	if err := check("mlp probe", trainX, trainY, testX, testY, classes); err != nil {
		return ProbeResult{}, err
	}
	if err := checkSplit("mlp probe", trainX.Shape[0], cfg.ValFraction); err != nil {
		return ProbeResult{}, err
	}
	d := trainX.Shape[1]
	// The network is fitted on the fitting part only, so everything is
	// standardised with its statistics.
	fit, val, stats, err := selectionSets(trainX, trainY, cfg.ValFraction, cfg.Seed)
	if err != nil {
		return ProbeResult{}, fmt.Errorf("mlp probe: %w", err)
	}
	xte, err := applyStandardize("test", testX, stats[0], stats[1])
	if err != nil {
		return ProbeResult{}, fmt.Errorf("mlp probe: %w", err)
	}

	rng := tensor.NewRNG(cfg.Seed)
	net, err := NewMLP(d, classes, cfg, rng)
	if err != nil {
		return ProbeResult{}, fmt.Errorf("mlp probe: %w", err)
	}
	state := nn.StateOf(net, "")
	opt, err := optim.NewAdam(state.Vars(), optim.AdamConfig{LR: cfg.LR})
	if err != nil {
		return ProbeResult{}, fmt.Errorf("mlp probe: %w", err)
	}
	best := map[string]*tensor.Tensor{}
	for k, v := range state.Tensors() {
		best[k] = v.Clone()
	}
	res := ProbeResult{Classes: classes, ValAcc: -1, Selected: true}
	tp := autograd.NewTape()
	xb := &tensor.Tensor{}
	nf := fit.x.Shape[0]
	labels := make([]int, min(cfg.Batch, nf))
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		nn.SetTraining(net, true)
		perm := rng.Perm(nf)
		for s := 0; s+2 <= nf; s += cfg.Batch { // BatchNorm needs 2 rows
			e := min(s+cfg.Batch, nf)
			gather(xb, labels, fit, perm[s:e])
			tp.Reset()
			loss := tp.CrossEntropy(net.Forward(tp, tp.Const(xb)), labels[:e-s])
			opt.ZeroGrad()
			if err := tp.Backward(loss); err != nil {
				return ProbeResult{}, fmt.Errorf("mlp probe: %w", err)
			}
			opt.Step()
		}
		if err := opt.Err(); err != nil {
			return ProbeResult{}, fmt.Errorf("mlp probe: %w", err)
		}
		nn.SetTraining(net, false)
		if acc := Accuracy(net, val.x, val.y); acc > res.ValAcc {
			res.ValAcc, res.Epochs = acc, epoch
			for k, v := range state.Tensors() {
				copy(best[k].Data, v.Data)
			}
		}
	}
	if err := state.Load(best); err != nil {
		return ProbeResult{}, fmt.Errorf("mlp probe: %w", err)
	}
	nn.SetTraining(net, false)
	res.TrainAcc = Accuracy(net, fit.x, fit.y)
	res.TestAcc = Accuracy(net, xte, testY)
	return res, nil
}

// gather copies the rows idx of set into xb (resized) and their labels.
func gather(xb *tensor.Tensor, labels []int, set labelled, idx []int) {
	d := set.x.Shape[1]
	xb.Resize(len(idx), d)
	kernels.ParallelFor(len(idx), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			copy(xb.Data[i*d:(i+1)*d], set.x.Data[idx[i]*d:(idx[i]+1)*d])
		}
	})
	for i, r := range idx {
		labels[i] = set.y[r]
	}
}
