// Package eval measures learnt representations the way the paper does:
// classifiers trained on frozen features (linear probe, linear SVM, the
// paper's MLP, k nearest neighbours) and the neural dependency measure
// (NDM); MINE and MS-SSIM are to come. Their numbers are recorded as rows
// of a Report, which reads and writes eval.json.
package eval

import (
	"errors"
	"fmt"
	"math"
	"runtime"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// MaxClasses is the most classes LinearProbe, MLPProbe, KNN, NewMLP and
// SemiSupervised accept: it bounds the classifiers' size (a linear probe
// holds classes x features weights per weight decay tried).
const MaxClasses = 1 << 16

// ProbeConfig sets up a linear probe. Zero fields take the defaults: up to
// 30 epochs, batch 256, Adam lr 1e-3 (the reference peer's settings), and
// the weight decay and number of epochs chosen on a validation split.
// Negative Epochs, Batch or LR, a non-finite LR, a negative or non-finite
// weight decay, and a NaN ValFraction or one of 1 or more are errors.
type ProbeConfig struct {
	Epochs int // most epochs (default 30)
	Batch  int
	LR     float64
	// WeightDecays are the L2 strengths tried (default 1e-5, 1e-4, 1e-3).
	WeightDecays []float64
	// ValFraction of the training set (default 0.1; below 1) is held out
	// to choose the weight decay and the number of epochs; the probe is
	// then trained on the whole training set with them. Negative: no
	// selection, train Epochs epochs with the first weight decay.
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

// validate returns an error naming the first field of c (before
// withDefaults) that is out of range.
func (c ProbeConfig) validate() error {
	switch {
	case c.Epochs < 0:
		return fmt.Errorf("probe: Epochs = %d: want at least 1 (0 for the default 30)", c.Epochs)
	case c.Batch < 0:
		return fmt.Errorf("probe: Batch = %d: want at least 1 (0 for the default 256)", c.Batch)
	case !(c.LR >= 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("probe: LR = %v: want a finite rate > 0 (0 for the default 1e-3)", c.LR)
	case math.IsNaN(c.ValFraction) || c.ValFraction >= 1:
		return fmt.Errorf("probe: ValFraction = %v: want below 1 (0 for the default 0.1, negative for no selection)", c.ValFraction)
	}
	for i, wd := range c.WeightDecays {
		if !(wd >= 0) || math.IsInf(wd, 0) {
			return fmt.Errorf("probe: WeightDecays[%d] = %v: want a finite strength >= 0", i, wd)
		}
	}
	return nil
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
	// Selected says the hyperparameters were chosen on held-out training
	// rows (ValFraction in (0, 1)); without it ValAcc means nothing and
	// Rows leaves it out.
	Selected bool
}

// Standardize returns per-column mean and standard deviation (+1e-6) of x
// [N,D], as the reference probe computes them on the training features
// (the unbiased deviation; 1e-6 with one row). x must be a [N,D] matrix
// with N >= 1 rows, else Standardize panics with a message saying so; nil
// gives nil statistics. Features near the float32 limit can make a
// statistic ±Inf, and a NaN feature makes its column's NaN: check them
// with CheckFinite first.
func Standardize(x *tensor.Tensor) (mean, std []float32) {
	if x == nil {
		return nil, nil
	}
	if x.Rank() != 2 || x.Shape[0] < 1 || x.Shape[1] < 0 || x.Size() != x.Shape[0]*x.Shape[1] {
		panic(fmt.Sprintf("eval: Standardize: x of shape %v with %d values: want a [N,D] matrix with N >= 1", x.Shape, x.Size()))
	}
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

// checkStats returns an error naming the first column whose mean or
// standard deviation (from standardizeRows over the rows of set) is not
// finite: features so large that float32 overflows.
func checkStats(set string, mean, std []float32) error {
	for j := range mean {
		if !finite(float64(mean[j])) || !finite(float64(std[j])) {
			return fmt.Errorf("%s features: column %d has mean %v and standard deviation %v: too large for float32 (rescale the features)", set, j, mean[j], std[j])
		}
	}
	return nil
}

// applyStandardize returns (x - mean) / std as a new tensor; set names x
// in the error for a standardised value that overflows float32.
func applyStandardize(set string, x *tensor.Tensor, mean, std []float32) (*tensor.Tensor, error) {
	out, err := standardizedRows(set, x, nil, nil, mean, std)
	return out.x, err
}

// standardizedRows gathers the rows idx of x (all rows when idx is nil)
// and their labels (when y is not nil), standardised: one new matrix,
// without an unstandardised copy in between. A standardised value that is
// not finite (a row far outside the statistics' scale) is an error naming
// set, the row of x and the column.
func standardizedRows(set string, x *tensor.Tensor, y []int, idx []int, mean, std []float32) (labelled, error) {
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
		for j, v := range dst {
			if !finite(float64(v)) {
				return labelled{}, fmt.Errorf("%s features: row %d, column %d: %v standardised (mean %v, standard deviation %v) is %v: too large for float32 (rescale the features)", set, r, j, src[j], mean[j], std[j], v)
			}
		}
		if y != nil {
			out.y[i] = y[r]
		}
	}
	return out, nil
}

// LinearProbe trains multinomial logistic regression (a linear SVM with
// cfg.Hinge) on standardised training features, choosing the weight decay
// and the number of epochs on held-out training rows, and reports accuracy
// on both sets.
//
// trainX [N,D] and testX [M,D] are matrices with one label a row in
// trainY and testY, D >= 1 and M >= 1; labels must be in [0, classes),
// with 2 <= classes <= MaxClasses. N must be at least 2, and with
// selection (cfg.ValFraction >= 0) large enough that the held-out part
// (at least 1 row) leaves at least 2 rows to fit. Errors: any of these
// broken, an invalid cfg (see ProbeConfig), a NaN or Inf feature (naming
// the set, row and column), features too large to standardise in
// float32, or a training failure.
func LinearProbe(trainX *tensor.Tensor, trainY []int, testX *tensor.Tensor, testY []int, classes int, cfg ProbeConfig) (ProbeResult, error) {
	if err := cfg.validate(); err != nil {
		return ProbeResult{}, err
	}
	cfg = cfg.withDefaults()
	if err := check("probe", trainX, trainY, testX, testY, classes); err != nil {
		return ProbeResult{}, err
	}
	selection := cfg.ValFraction > 0 && cfg.ValFraction < 1
	if selection {
		if err := checkSplit("probe", trainX.Shape[0], cfg.ValFraction); err != nil {
			return ProbeResult{}, err
		}
	}
	res := ProbeResult{Classes: classes, WeightDecay: cfg.WeightDecays[0], Epochs: cfg.Epochs, Selected: selection}
	if selection {
		// Choose the weight decay and the epoch count on held-out training
		// rows, standardised with the statistics of the fitting rows only.
		fit, val, _, err := selectionSets(trainX, trainY, cfg.ValFraction, cfg.Seed)
		if err != nil {
			return ProbeResult{}, fmt.Errorf("probe: %w", err)
		}
		res.ValAcc = -1
		// Ties go to the first weight decay in the list and the earliest epoch.
		best := make([]float64, len(cfg.WeightDecays))
		bestEpoch := make([]int, len(cfg.WeightDecays))
		_, err = trainLinear(fit.x, fit.y, classes, cfg.WeightDecays, cfg, func(epoch int, clfs []*nn.Linear) {
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
	xtr, xte, err := standardizedSets(trainX, testX)
	if err != nil {
		return ProbeResult{}, fmt.Errorf("probe: %w", err)
	}
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

// standardizedSets returns the training and test features standardised
// with the training features' statistics (Standardize), or an error for
// statistics or standardised values that overflow float32.
func standardizedSets(trainX, testX *tensor.Tensor) (xtr, xte *tensor.Tensor, err error) {
	mean, std := standardizeRows(trainX, nil)
	if err := checkStats("train", mean, std); err != nil {
		return nil, nil, err
	}
	if xtr, err = applyStandardize("train", trainX, mean, std); err != nil {
		return nil, nil, err
	}
	if xte, err = applyStandardize("test", testX, mean, std); err != nil {
		return nil, nil, err
	}
	return xtr, xte, nil
}

// check checks both sets before any fitting (what names the caller in the
// errors): 2 <= classes <= MaxClasses, trainX [N,D] with N >= 2 and testX
// [M,D] with M >= 1 and the same D >= 1, one label a row in [0, classes),
// and finite features (the error names the set, the row and the column of
// the first NaN or Inf).
func check(what string, trainX *tensor.Tensor, trainY []int, testX *tensor.Tensor, testY []int, classes int) error {
	if err := checkClasses(what, classes); err != nil {
		return err
	}
	if err := checkSet(what, "train", trainX, trainY, classes, 2); err != nil {
		return err
	}
	if err := checkSet(what, "test", testX, testY, classes, 1); err != nil {
		return err
	}
	if trainX.Shape[1] != testX.Shape[1] {
		return fmt.Errorf("%s: train has %d features, test %d", what, trainX.Shape[1], testX.Shape[1])
	}
	return nil
}

// checkClasses returns an error unless 2 <= classes <= MaxClasses (what
// names the caller).
func checkClasses(what string, classes int) error {
	if classes < 2 || classes > MaxClasses {
		return fmt.Errorf("%s: classes = %d: want 2 to %d", what, classes, MaxClasses)
	}
	return nil
}

// splitSizes returns how many of n training rows selectionSets fits on
// and holds out with the fraction frac in (0, 1): frac of them, at least
// one, at most n-1, are held out.
func splitSizes(n int, frac float64) (nfit, nval int) {
	nv := min(max(1, int(float64(n)*frac)), n-1)
	return n - nv, nv
}

// checkSplit returns an error unless n training rows, split by frac,
// leave at least 2 rows to fit (and to standardise with) and 1 to
// validate on.
func checkSplit(what string, n int, frac float64) error {
	if nfit, nval := splitSizes(n, frac); nfit < 2 || nval < 1 {
		return fmt.Errorf("%s: %d training rows with ValFraction %v leave %d to fit and %d to validate: want at least 2 to fit and 1 to validate", what, n, frac, nfit, nval)
	}
	return nil
}

// selectionSets splits the training rows into a fitting part and a
// validation part (a fraction frac of the rows, at least one, drawn with
// seed) and standardises both with the fitting part's statistics, which
// it returns too: the validation rows must not leak into what the
// selected classifier was fitted with. The caller checks the sizes
// (checkSplit); the error is for statistics or standardised values that
// overflow float32.
func selectionSets(x *tensor.Tensor, y []int, frac float64, seed uint64) (fit, val labelled, stats [2][]float32, err error) {
	n := x.Shape[0]
	perm := tensor.NewRNG(seed ^ 0x5eed).Perm(n)
	_, nv := splitSizes(n, frac)
	mean, std := standardizeRows(x, perm[nv:])
	if err := checkStats("train", mean, std); err != nil {
		return labelled{}, labelled{}, stats, err
	}
	if fit, err = standardizedRows("train", x, y, perm[nv:], mean, std); err != nil {
		return labelled{}, labelled{}, stats, err
	}
	if val, err = standardizedRows("train", x, y, perm[:nv], mean, std); err != nil {
		return labelled{}, labelled{}, stats, err
	}
	return fit, val, [2][]float32{mean, std}, nil
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
// [N, D] that holds NaN or ±Inf, or nil (rows are along the first axis;
// the others are flattened into columns, and a vector has one column). A
// nil x is an error.
func CheckFinite(x *tensor.Tensor) error {
	if x == nil {
		return errors.New("nil tensor")
	}
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
	labels := make([]int, min(cfg.Batch, n))
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

// Accuracy returns the fraction of rows of x [N,...] that m classifies as
// labels (one a row; 0 for no rows). x must not be nil and must have one
// row a label, else Accuracy panics with a message saying so: it has no
// error result, and a count of labels that does not match the rows is a
// bug in the caller.
func Accuracy(m nn.Module, x *tensor.Tensor, labels []int) float64 {
	if x == nil || x.Rank() < 1 || x.Shape[0] != len(labels) || x.Size() != tensor.SizeOf(x.Shape) {
		shape := []int(nil)
		if x != nil {
			shape = x.Shape
		}
		panic(fmt.Sprintf("eval: Accuracy: features of shape %v for %d labels: want [N,...] with N labels", shape, len(labels)))
	}
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

// checkMatrix returns an error unless x is a [N,D] matrix whose data
// matches its shape, with D >= 1 columns and N >= minRows rows.
func checkMatrix(x *tensor.Tensor, minRows int) error {
	switch {
	case x == nil:
		return errors.New("nil tensor")
	case x.Rank() != 2:
		return fmt.Errorf("shape %v: want [N,D]", x.Shape)
	case x.Shape[0] < 0 || x.Shape[1] < 0 || x.Size() != x.Shape[0]*x.Shape[1]:
		return fmt.Errorf("shape %v does not match its %d values", x.Shape, x.Size())
	case x.Shape[1] == 0:
		return fmt.Errorf("shape %v: no feature columns (want D >= 1)", x.Shape)
	case x.Shape[0] < minRows && minRows == 1:
		return fmt.Errorf("shape %v: want at least 1 row", x.Shape)
	case x.Shape[0] < minRows:
		return fmt.Errorf("shape %v: want at least %d rows", x.Shape, minRows)
	}
	return nil
}

// checkSet checks one set of a classifier (what names the caller, name
// the set): x a [N,D] matrix with N >= minRows and D >= 1, one label a row
// in [0, classes), and finite features.
func checkSet(what, name string, x *tensor.Tensor, y []int, classes, minRows int) error {
	if err := checkMatrix(x, minRows); err != nil {
		return fmt.Errorf("%s: %s features: %w", what, name, err)
	}
	if x.Shape[0] != len(y) {
		return fmt.Errorf("%s: %s features %v with %d labels: want one label a row", what, name, x.Shape, len(y))
	}
	for i, l := range y {
		if l < 0 || l >= classes {
			return fmt.Errorf("%s: %s label %d of sample %d outside [0,%d)", what, name, l, i, classes)
		}
	}
	if err := CheckFinite(x); err != nil {
		return fmt.Errorf("%s: %s features: %w", what, name, err)
	}
	return nil
}
