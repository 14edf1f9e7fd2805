// Package eval measures learnt representations the way the paper does:
// classifiers trained on frozen features (linear probe; MLP, SVM and k-NN
// to come), and later MINE, NDM and MS-SSIM.
package eval

import (
	"fmt"
	"math"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// ProbeConfig sets up a linear probe. Zero fields take the defaults of the
// reference peer (torch_dim.py): 30 epochs, batch 256, Adam lr 1e-3,
// weight decay 1e-5.
type ProbeConfig struct {
	Epochs      int
	Batch       int
	LR          float64
	WeightDecay float64
	Seed        uint64
}

func (c ProbeConfig) withDefaults() ProbeConfig {
	if c.Epochs == 0 {
		c.Epochs = 30
	}
	if c.Batch == 0 {
		c.Batch = 256
	}
	if c.LR == 0 {
		c.LR = 1e-3
	}
	if c.WeightDecay == 0 {
		c.WeightDecay = 1e-5
	}
	return c
}

// ProbeResult is the outcome of a probe.
type ProbeResult struct {
	TrainAcc, TestAcc float64
	Classes           int
}

// Standardize returns per-column mean and standard deviation (+1e-6) of x
// [N,D], as the reference probe computes them on the training features.
func Standardize(x *tensor.Tensor) (mean, std []float32) {
	n, d := x.Shape[0], x.Shape[1]
	sum := make([]float64, d)
	sq := make([]float64, d)
	for i := 0; i < n; i++ {
		row := x.Data[i*d : (i+1)*d]
		for j, v := range row {
			sum[j] += float64(v)
		}
	}
	mean = make([]float32, d)
	for j := range sum {
		mean[j] = float32(sum[j] / float64(n))
	}
	for i := 0; i < n; i++ {
		row := x.Data[i*d : (i+1)*d]
		for j, v := range row {
			dv := float64(v - mean[j])
			sq[j] += dv * dv
		}
	}
	std = make([]float32, d)
	for j := range sq {
		// Unbiased, as torch.std.
		std[j] = float32(math.Sqrt(sq[j]/float64(max(n-1, 1)))) + 1e-6
	}
	return mean, std
}

// applyStandardize returns (x - mean) / std as a new tensor.
func applyStandardize(x *tensor.Tensor, mean, std []float32) *tensor.Tensor {
	out := tensor.New(x.Shape...)
	d := x.Shape[1]
	for i := 0; i < x.Shape[0]; i++ {
		for j := 0; j < d; j++ {
			out.Data[i*d+j] = (x.Data[i*d+j] - mean[j]) / std[j]
		}
	}
	return out
}

// LinearProbe trains multinomial logistic regression on standardised
// training features and reports accuracy on both sets. Labels must be in
// [0, classes).
func LinearProbe(trainX *tensor.Tensor, trainY []int, testX *tensor.Tensor, testY []int, classes int, cfg ProbeConfig) (ProbeResult, error) {
	cfg = cfg.withDefaults()
	if err := checkSet("train", trainX, trainY, classes); err != nil {
		return ProbeResult{}, err
	}
	if err := checkSet("test", testX, testY, classes); err != nil {
		return ProbeResult{}, err
	}
	if trainX.Shape[1] != testX.Shape[1] {
		return ProbeResult{}, fmt.Errorf("probe: train has %d features, test %d", trainX.Shape[1], testX.Shape[1])
	}
	mean, std := Standardize(trainX)
	xtr, xte := applyStandardize(trainX, mean, std), applyStandardize(testX, mean, std)
	n, d := xtr.Shape[0], xtr.Shape[1]
	rng := tensor.NewRNG(cfg.Seed)
	clf := nn.NewLinear(d, classes, true, rng)
	params := []*autograd.Var{clf.W, clf.B}
	opt, err := optim.NewAdam(params, optim.AdamConfig{LR: cfg.LR, WeightDecay: cfg.WeightDecay})
	if err != nil {
		return ProbeResult{}, fmt.Errorf("probe: %w", err)
	}
	tp := autograd.NewTape()
	xb := &tensor.Tensor{}
	labels := make([]int, cfg.Batch)
	for epoch := 0; epoch < cfg.Epochs; epoch++ {
		perm := rng.Perm(n)
		for s := 0; s < n; s += cfg.Batch {
			e := min(s+cfg.Batch, n)
			xb.Resize(e-s, d)
			for i, idx := range perm[s:e] {
				copy(xb.Data[i*d:(i+1)*d], xtr.Data[idx*d:(idx+1)*d])
				labels[i] = trainY[idx]
			}
			tp.Reset()
			loss := tp.CrossEntropy(clf.Forward(tp, tp.Const(xb)), labels[:e-s])
			opt.ZeroGrad()
			if err := tp.Backward(loss); err != nil {
				return ProbeResult{}, fmt.Errorf("probe: %w", err)
			}
			opt.Step()
		}
	}
	return ProbeResult{
		TrainAcc: Accuracy(clf, xtr, trainY),
		TestAcc:  Accuracy(clf, xte, testY),
		Classes:  classes,
	}, nil
}

// Accuracy returns the fraction of rows of x that m classifies as labels.
func Accuracy(m nn.Module, x *tensor.Tensor, labels []int) float64 {
	tp := autograd.NewTape()
	tp.SetNoGrad(true)
	n, d := x.Shape[0], tensor.SizeOf(x.Shape[1:])
	const chunk = 1000
	correct := 0
	for s := 0; s < n; s += chunk {
		e := min(s+chunk, n)
		tp.Reset()
		shape := append([]int{e - s}, x.Shape[1:]...)
		xb := &tensor.Tensor{Shape: shape, Data: x.Data[s*d : e*d]}
		out := m.Forward(tp, tp.Const(xb)).Value
		k := out.Shape[1]
		for i := 0; i < e-s; i++ {
			row := out.Data[i*k : (i+1)*k]
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			if best == labels[s+i] {
				correct++
			}
		}
	}
	return float64(correct) / float64(max(n, 1))
}

func checkSet(name string, x *tensor.Tensor, y []int, classes int) error {
	if x.Rank() != 2 || x.Shape[0] != len(y) || x.Shape[0] == 0 {
		return fmt.Errorf("probe: %s features %v with %d labels: want [N,D] with N labels, N > 0", name, x.Shape, len(y))
	}
	for i, l := range y {
		if l < 0 || l >= classes {
			return fmt.Errorf("probe: %s label %d of sample %d outside [0,%d)", name, l, i, classes)
		}
	}
	return nil
}
