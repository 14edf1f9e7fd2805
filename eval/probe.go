// Package eval measures learnt representations the way the paper does:
// classifiers trained on frozen features (linear probe, linear SVM, the
// paper's MLP, k nearest neighbours) and the neural dependency measure
// (NDM); MINE and MS-SSIM are to come. Their numbers are recorded as rows
// of a Report, which reads and writes eval.json.
package eval

import (
	"fmt"
	"math"
	"runtime"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// ProbeConfig sets up a linear probe. Zero fields take the defaults: up to
// 30 epochs, batch 256, Adam lr 1e-3 (the reference peer's settings), and
// the weight decay and number of epochs chosen on a validation split.
type ProbeConfig struct {
	Epochs int // most epochs (default 30)
	Batch  int
	LR     float64
	// WeightDecays are the L2 strengths tried (default 1e-5, 1e-4, 1e-3).
	WeightDecays []float64
	// ValFraction of the training set (default 0.1) is held out to choose
	// the weight decay and the number of epochs; the probe is then trained
	// on the whole training set with them. Negative: no selection, train
	// Epochs epochs with the first weight decay.
	ValFraction float64
	Seed        uint64
	// Hinge trains a linear SVM (the multi-class hinge loss of Crammer and
	// Singer, mean over rows of max(0, 1 + max_{j != y} s_j - s_y)) instead
	// of logistic regression.
	Hinge bool
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
	if len(c.WeightDecays) == 0 {
		c.WeightDecays = []float64{1e-5, 1e-4, 1e-3}
	}
	if c.ValFraction == 0 {
		c.ValFraction = 0.1
	}
	return c
}

// ProbeResult is the outcome of a probe.
type ProbeResult struct {
	TrainAcc, TestAcc float64
	Classes           int
	// The hyperparameters used for the final probe, and the validation
	// accuracy that chose them (0 without selection).
	WeightDecay float64
	Epochs      int
	ValAcc      float64
}

// Standardize returns per-column mean and standard deviation (+1e-6) of x
// [N,D], as the reference probe computes them on the training features.
func Standardize(x *tensor.Tensor) (mean, std []float32) {
	return standardizeRows(x, nil)
}

// standardizeRows is Standardize over the rows idx of x, in that order (all
// rows when idx is nil), without gathering them.
func standardizeRows(x *tensor.Tensor, idx []int) (mean, std []float32) {
	n, d := x.Shape[0], x.Shape[1]
	row := func(i int) []float32 {
		if idx != nil {
			i = idx[i]
		}
		return x.Data[i*d : (i+1)*d]
	}
	if idx != nil {
		n = len(idx)
	}
	sum := make([]float64, d)
	sq := make([]float64, d)
	for i := 0; i < n; i++ {
		for j, v := range row(i) {
			sum[j] += float64(v)
		}
	}
	mean = make([]float32, d)
	for j := range sum {
		mean[j] = float32(sum[j] / float64(n))
	}
	for i := 0; i < n; i++ {
		for j, v := range row(i) {
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
	return standardizedRows(x, nil, nil, mean, std).x
}

// standardizedRows gathers the rows idx of x (all rows when idx is nil)
// and their labels (when y is not nil), standardised: one new matrix,
// without an unstandardised copy in between.
func standardizedRows(x *tensor.Tensor, y []int, idx []int, mean, std []float32) labelled {
	n, d := x.Shape[0], x.Shape[1]
	if idx != nil {
		n = len(idx)
	}
	out := labelled{x: tensor.New(n, d)}
	if y != nil {
		out.y = make([]int, n)
	}
	for i := 0; i < n; i++ {
		r := i
		if idx != nil {
			r = idx[i]
		}
		src, dst := x.Data[r*d:(r+1)*d], out.x.Data[i*d:(i+1)*d]
		for j, v := range src {
			dst[j] = (v - mean[j]) / std[j]
		}
		if y != nil {
			out.y[i] = y[r]
		}
	}
	return out
}

// LinearProbe trains multinomial logistic regression (a linear SVM with
// cfg.Hinge) on standardised training features, choosing the weight decay
// and the number of epochs on held-out training rows, and reports accuracy
// on both sets. Labels must be in [0, classes).
func LinearProbe(trainX *tensor.Tensor, trainY []int, testX *tensor.Tensor, testY []int, classes int, cfg ProbeConfig) (ProbeResult, error) {
	cfg = cfg.withDefaults()
	if err := check(trainX, trainY, testX, testY, classes); err != nil {
		return ProbeResult{}, err
	}
	res := ProbeResult{Classes: classes, WeightDecay: cfg.WeightDecays[0], Epochs: cfg.Epochs}
	if cfg.ValFraction > 0 && cfg.ValFraction < 1 {
		// Choose the weight decay and the epoch count on held-out training
		// rows, standardised with the statistics of the fitting rows only.
		fit, val, _ := selectionSets(trainX, trainY, cfg.ValFraction, cfg.Seed)
		res.ValAcc = -1
		// Ties go to the first weight decay in the list and the earliest epoch.
		best := make([]float64, len(cfg.WeightDecays))
		bestEpoch := make([]int, len(cfg.WeightDecays))
		_, err := trainLinear(fit.x, fit.y, classes, cfg.WeightDecays, cfg, func(epoch int, clfs []*nn.Linear) {
			for i, clf := range clfs {
				if acc := Accuracy(clf, val.x, val.y); epoch == 1 || acc > best[i] {
					best[i], bestEpoch[i] = acc, epoch
				}
			}
		})
		if err != nil {
			return ProbeResult{}, err
		}
		for i, wd := range cfg.WeightDecays {
			if best[i] > res.ValAcc {
				res.ValAcc, res.WeightDecay, res.Epochs = best[i], wd, bestEpoch[i]
			}
		}
	}
	releaseSelection()
	// The final probe: the whole training set, standardised with its statistics.
	mean, std := Standardize(trainX)
	xtr, xte := applyStandardize(trainX, mean, std), applyStandardize(testX, mean, std)
	final := cfg
	final.Epochs = res.Epochs
	clfs, err := trainLinear(xtr, trainY, classes, []float64{res.WeightDecay}, final, nil)
	if err != nil {
		return ProbeResult{}, err
	}
	clf := clfs[0]
	res.TrainAcc = Accuracy(clf, xtr, trainY)
	res.TestAcc = Accuracy(clf, xte, testY)
	return res, nil
}

// check checks both sets before any fitting: shapes, labels in [0,
// classes), and finite features (the error names the set, the row and the
// column of the first NaN or Inf).
func check(trainX *tensor.Tensor, trainY []int, testX *tensor.Tensor, testY []int, classes int) error {
	if err := checkSet("train", trainX, trainY, classes); err != nil {
		return err
	}
	if err := checkSet("test", testX, testY, classes); err != nil {
		return err
	}
	if trainX.Shape[1] != testX.Shape[1] {
		return fmt.Errorf("probe: train has %d features, test %d", trainX.Shape[1], testX.Shape[1])
	}
	return nil
}

// selectionSets splits the training rows into a fitting part and a
// validation part (a fraction frac of the rows, at least one, drawn with
// seed) and standardises both with the fitting part's statistics, which
// it returns too: the validation rows must not leak into what the
// selected classifier was fitted with.
func selectionSets(x *tensor.Tensor, y []int, frac float64, seed uint64) (fit, val labelled, stats [2][]float32) {
	n := x.Shape[0]
	perm := tensor.NewRNG(seed ^ 0x5eed).Perm(n)
	nv := max(1, int(float64(n)*frac))
	mean, std := standardizeRows(x, perm[nv:])
	fit, val = standardizedRows(x, y, perm[nv:], mean, std), standardizedRows(x, y, perm[:nv], mean, std)
	return fit, val, [2][]float32{mean, std}
}

// releaseSelection collects the standardised copies of the selection sets
// (together as large as the training features) once they are unreachable,
// before the final fit makes its own copies: the heap target of the Go
// collector is twice the live heap, so without it both copies are held at
// once. The collection is quick (the heap is a few large arrays without
// pointers); with it (and the selection copies made in one pass) the eval
// of the README's MNIST main job peaks at 4.3 GB instead of 7.4 GB
// (docs/decisions.md #35).
func releaseSelection() { runtime.GC() }

// CheckFinite returns an error naming the first row and column of x
// [N, D] that holds NaN or ±Inf, or nil.
func CheckFinite(x *tensor.Tensor) error {
	d := 1
	if len(x.Shape) > 1 {
		d = tensor.SizeOf(x.Shape[1:])
	}
	for i, v := range x.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("row %d, column %d is %v", i/d, i%d, v)
		}
	}
	return nil
}

// labelled is a feature matrix with its labels.
type labelled struct {
	x *tensor.Tensor
	y []int
}

// trainLinear trains one logistic regression per weight decay in wds, with
// Adam for cfg.Epochs epochs, all from the same initialisation and on the
// same batches, exactly as if they were trained one after the other. They
// share one weight matrix [len(wds)*classes, d], so each batch is gathered
// once and multiplied once. after (if not nil) is called at the end of each
// epoch (counted from 1) with the classifiers in the order of wds.
func trainLinear(x *tensor.Tensor, y []int, classes int, wds []float64, cfg ProbeConfig, after func(epoch int, clfs []*nn.Linear)) ([]*nn.Linear, error) {
	n, d, k := x.Shape[0], x.Shape[1], len(wds)
	rng := tensor.NewRNG(cfg.Seed)
	init := nn.NewLinear(d, classes, true, rng)
	all := nn.NewLinear(d, k*classes, true, tensor.NewRNG(0))
	clfs := make([]*nn.Linear, k)
	opts := make([]*optim.Adam, k)
	for i, wd := range wds {
		w, b := d*classes, classes
		copy(all.W.Value.Data[i*w:], init.W.Value.Data)
		copy(all.B.Value.Data[i*b:], init.B.Value.Data)
		clfs[i] = &nn.Linear{W: block(all.W, i*w, classes, d), B: block(all.B, i*b, classes)}
		var err error
		if opts[i], err = optim.NewAdam([]*autograd.Var{clfs[i].W, clfs[i].B}, optim.AdamConfig{LR: cfg.LR, WeightDecay: wd}); err != nil {
			return nil, fmt.Errorf("probe: %w", err)
		}
	}
	tp := autograd.NewTape()
	xb := &tensor.Tensor{}
	labels := make([]int, cfg.Batch)
	set := labelled{x, y}
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		perm := rng.Perm(n)
		for s := 0; s < n; s += cfg.Batch {
			e := min(s+cfg.Batch, n)
			gather(xb, labels, set, perm[s:e])
			tp.Reset()
			logits := all.Forward(tp, tp.Const(xb))
			var loss *autograd.Var
			for i := range k {
				var li *autograd.Var
				if cfg.Hinge {
					li = multiHinge(tp, tp.Slice(logits, 1, i*classes, (i+1)*classes), labels[:e-s])
				} else {
					li = tp.CrossEntropy(tp.Slice(logits, 1, i*classes, (i+1)*classes), labels[:e-s])
				}
				if loss == nil {
					loss = li
				} else {
					loss = tp.Add(loss, li)
				}
			}
			all.W.Grad.Zero()
			all.B.Grad.Zero()
			if err := tp.Backward(loss); err != nil {
				return nil, fmt.Errorf("probe: %w", err)
			}
			for _, o := range opts {
				o.Step()
			}
		}
		if after != nil {
			after(epoch, clfs)
		}
	}
	return clfs, nil
}

// multiHinge is the Crammer-Singer multi-class hinge loss of scores s [B,C]
// for the labels: the mean of max(0, 1 + max_{j != y} s_j - s_y).
func multiHinge(tp *autograd.Tape, s *autograd.Var, labels []int) *autograd.Var {
	b, c := s.Value.Shape[0], s.Value.Shape[1]
	onehot, away := tp.Buffer(b, c), tp.Buffer(b, c)
	onehot.Zero()
	away.Zero()
	for i, y := range labels {
		onehot.Data[i*c+y] = 1
		away.Data[i*c+y] = -1e4 // the true class never wins the max
	}
	sy := tp.SumAxes(tp.Mul(s, tp.Const(onehot)), []int{1}, true)
	other := tp.MaxAxes(tp.Add(s, tp.Const(away)), []int{1}, true)
	return tp.Mean(tp.ReLU(tp.AddScalar(tp.Sub(other, sy), 1)))
}

// block returns a parameter whose value and gradient are the shape-sized
// run of p's starting at off (shared storage).
func block(p *autograd.Var, off int, shape ...int) *autograd.Var {
	size := tensor.SizeOf(shape)
	v := autograd.NewParam(&tensor.Tensor{Shape: shape, Data: p.Value.Data[off : off+size]})
	v.Grad = &tensor.Tensor{Shape: shape, Data: p.Grad.Data[off : off+size]}
	return v
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
		correct += nn.Correct(m.Forward(tp, tp.Const(xb)).Value, labels[s:e])
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
	if err := CheckFinite(x); err != nil {
		return fmt.Errorf("probe: %s features: %w", name, err)
	}
	return nil
}
