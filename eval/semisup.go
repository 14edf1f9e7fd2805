package eval

import (
	"fmt"
	"math"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// SemiConfig sets up the semi-supervised evaluation. Zero fields take the
// defaults: the Y tap, 1000 steps of batches of 64, Adam 1e-4 and the
// paper's MLP head (MLPConfig: 200 hidden units, BatchNorm, dropout 0.1).
// Negative Steps or Batch, a Batch of 1 (the head's BatchNorm needs 2
// rows), a negative or non-finite LR and an invalid Head are errors.
type SemiConfig struct {
	// LabelsPerClass is the number of labelled training images per class
	// (required, at least 1).
	LabelsPerClass int
	// Tap is the encoder feature the head reads (default encoder.TapY).
	Tap          string
	Steps, Batch int
	LR           float64
	// Head sets the MLP head's width and dropout (its other fields are
	// unused).
	Head MLPConfig
	Seed uint64
	// Progress, if not nil, is called after each training step with the
	// number of steps done by both runs (frozen, then fine-tuned: 2*Steps
	// in all).
	Progress func(done int)
}

func (c SemiConfig) withDefaults() SemiConfig {
	if c.Tap == "" {
		c.Tap = encoder.TapY
	}
	if c.Steps == 0 {
		c.Steps = 1000
	}
	if c.Batch == 0 {
		c.Batch = 64
	}
	if c.LR == 0 {
		c.LR = 1e-4
	}
	return c
}

// validate returns an error naming the first field of c (before
// withDefaults) that is out of range.
func (c SemiConfig) validate() error {
	switch {
	case c.LabelsPerClass < 1:
		return fmt.Errorf("semi-supervised: %d labels per class: want at least 1", c.LabelsPerClass)
	case c.Steps < 0:
		return fmt.Errorf("semi-supervised: Steps = %d: want at least 1 (0 for the default 1000)", c.Steps)
	case c.Batch < 0 || c.Batch == 1:
		return fmt.Errorf("semi-supervised: Batch = %d: want at least 2, for BatchNorm (0 for the default 64)", c.Batch)
	case !(c.LR >= 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("semi-supervised: LR = %v: want a finite rate > 0 (0 for the default 1e-4)", c.LR)
	}
	if err := c.Head.validateNet(); err != nil {
		return fmt.Errorf("semi-supervised: head: %w", err)
	}
	return nil
}

// SemiResult holds the accuracies of the semi-supervised evaluation: the
// head trained on the frozen encoder, and the head and a copy of the
// encoder trained together. TrainAcc is on the labelled images.
type SemiResult struct {
	Frozen, FineTuned struct{ TrainAcc, TestAcc float64 }
	// Labelled is the number of labelled training images used.
	Labelled int
}

// Rows returns the result rows of the frozen and fine-tuned classifiers on
// cfg's tap (kinds KindFrozen and KindFineTuned; train and test accuracy,
// with labels_per_class and steps as settings).
func (r SemiResult) Rows(cfg SemiConfig) []Result {
	cfg = cfg.withDefaults()
	s := func() map[string]any {
		return map[string]any{"labels_per_class": cfg.LabelsPerClass, "steps": cfg.Steps}
	}
	var rows []Result
	for _, k := range []struct {
		kind       string
		train, tst float64
	}{{KindFrozen, r.Frozen.TrainAcc, r.Frozen.TestAcc}, {KindFineTuned, r.FineTuned.TrainAcc, r.FineTuned.TestAcc}} {
		rows = append(rows,
			Result{Layer: cfg.Tap, Kind: k.kind, Metric: MetricTrainAcc, Value: k.train, Settings: s()},
			Result{Layer: cfg.Tap, Kind: k.kind, Metric: MetricTestAcc, Value: k.tst, Settings: s()})
	}
	return rows
}

// semiNet is an encoder with a classifier head on one of its taps.
type semiNet struct {
	Enc  encoder.Encoder
	Head *nn.Sequential
	tap  string
}

// Forward returns the logits of images x [B,C,H,W].
func (m *semiNet) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	f, err := m.Enc.Encode(tp, x).Tap(m.tap)
	if err != nil {
		// Unreachable: SemiSupervised checks the tap first. An empty
		// result fails the loss with a tape error.
		return tp.Const(tensor.New(0))
	}
	return m.Head.Forward(tp, tp.Flatten(f))
}

// SemiSupervised is the paper's semi-supervised evaluation (section 4.2,
// mission.md section 6): with only cfg.LabelsPerClass labelled training
// images per class (chosen at random with cfg.Seed from trainX
// [N,C,H,W], as the encoder's transform leaves them, e.g.
// encoder.Embed's Images), it trains the paper's MLP head on the encoder's
// cfg.Tap features twice, for cfg.Steps steps of cross-entropy with Adam:
// once with the encoder frozen (evaluation mode, no gradient), and once
// together with a copy of the encoder (fine-tuning: the encoder's
// parameters are trained too, its BatchNorm layers in training mode). Both
// start from the same head initialisation and see the same batches; enc
// itself is not changed. Test accuracy is on all of testX. The head reads
// the raw features (no standardisation, which fine-tuning would make
// stale); its first layer is followed by BatchNorm. There is no validation
// split (there are too few labels): both runs use the last step.
//
// Errors: an invalid cfg (see SemiConfig), a nil encoder or images,
// classes outside [2, MaxClasses], shapes that disagree with the encoder,
// labels outside [0, classes), a class with fewer than LabelsPerClass
// training images, an unknown tap, or a training failure.
func SemiSupervised(enc encoder.Encoder, trainX *tensor.Tensor, trainY []int, testX *tensor.Tensor, testY []int, classes int, cfg SemiConfig) (SemiResult, error) {
	if err := cfg.validate(); err != nil {
		return SemiResult{}, err
	}
	cfg = cfg.withDefaults()
	if enc == nil {
		return SemiResult{}, fmt.Errorf("semi-supervised: nil encoder")
	}
	if err := checkClasses("semi-supervised", classes); err != nil {
		return SemiResult{}, err
	}
	spec := enc.Spec()
	want := []int{spec.Channels, spec.Size, spec.Size}
	for _, s := range []struct {
		name string
		x    *tensor.Tensor
		y    []int
	}{{"train", trainX, trainY}, {"test", testX, testY}} {
		if s.x == nil {
			return SemiResult{}, fmt.Errorf("semi-supervised: %s images: nil tensor", s.name)
		}
		if s.x.Rank() != 4 || s.x.Size() != tensor.SizeOf(s.x.Shape) || !tensor.EqualShape(s.x.Shape[1:], want) || s.x.Shape[0] != len(s.y) || len(s.y) == 0 {
			return SemiResult{}, fmt.Errorf("semi-supervised: %s images %v with %d labels: want [N,%d,%d,%d] with N labels, N > 0",
				s.name, s.x.Shape, len(s.y), spec.Channels, spec.Size, spec.Size)
		}
		for i, y := range s.y {
			if y < 0 || y >= classes {
				return SemiResult{}, fmt.Errorf("semi-supervised: %s label %d of image %d not in [0, %d)", s.name, y, i, classes)
			}
		}
	}
	shape, err := enc.TapShape(cfg.Tap)
	if err != nil {
		return SemiResult{}, fmt.Errorf("semi-supervised: %w", err)
	}
	d := tensor.SizeOf(shape)

	// The labelled subset: the first LabelsPerClass images of each class
	// in a seeded random order.
	count := make([]int, classes)
	var idx []int
	for _, i := range tensor.NewRNG(cfg.Seed ^ 0x5e111).Perm(len(trainY)) {
		if y := trainY[i]; count[y] < cfg.LabelsPerClass {
			count[y]++
			idx = append(idx, i)
		}
	}
	for c, k := range count {
		if k < cfg.LabelsPerClass {
			return SemiResult{}, fmt.Errorf("semi-supervised: class %d has %d training images, fewer than %d", c, k, cfg.LabelsPerClass)
		}
	}
	lx := tensor.New(append([]int{len(idx)}, want...)...)
	gatherRows(lx, trainX, idx)
	ly := make([]int, len(idx))
	for k, i := range idx {
		ly[k] = trainY[i]
	}

	res := SemiResult{Labelled: len(idx)}
	for arm, fine := range []bool{false, true} {
		c := cfg
		if cfg.Progress != nil {
			c.Progress = func(done int) { cfg.Progress(arm*cfg.Steps + done) }
		}
		train, test, err := semiRun(enc, lx, ly, testX, testY, classes, d, fine, c)
		if err != nil {
			return SemiResult{}, err
		}
		if fine {
			res.FineTuned.TrainAcc, res.FineTuned.TestAcc = train, test
		} else {
			res.Frozen.TrainAcc, res.Frozen.TestAcc = train, test
		}
	}
	return res, nil
}

// semiRun trains the head (and, if fine, a copy of the encoder) on the
// labelled images and returns the accuracy on them and on the test set.
func semiRun(enc encoder.Encoder, lx *tensor.Tensor, ly []int, testX *tensor.Tensor, testY []int, classes, d int, fine bool, cfg SemiConfig) (trainAcc, testAcc float64, err error) {
	what := "frozen"
	if fine {
		what = "fine-tuned"
	}
	spec := enc.Spec()
	cp, err := encoder.New(spec, tensor.NewRNG(cfg.Seed))
	if err != nil {
		return 0, 0, fmt.Errorf("semi-supervised %s: copy encoder: %w", what, err)
	}
	if err := nn.StateOf(cp, "").Load(nn.StateOf(enc, "").Tensors()); err != nil {
		return 0, 0, fmt.Errorf("semi-supervised %s: copy encoder: %w", what, err)
	}
	rng := tensor.NewRNG(cfg.Seed)
	head, err := NewMLP(d, classes, cfg.Head, rng)
	if err != nil {
		return 0, 0, fmt.Errorf("semi-supervised %s: head: %w", what, err)
	}
	net := &semiNet{Enc: cp, Head: head, tap: cfg.Tap}
	params := nn.StateOf(net.Head, "").Vars()
	if fine {
		params = append(params, nn.StateOf(cp, "").Vars()...)
	}
	opt, err := optim.NewAdam(params, optim.AdamConfig{LR: cfg.LR})
	if err != nil {
		return 0, 0, fmt.Errorf("semi-supervised %s: %w", what, err)
	}
	encModes, headModes := nn.ModesOf(cp), nn.ModesOf(net.Head)
	encModes.Set(fine)
	headModes.Set(true)
	tp := autograd.NewTape()
	xb := &tensor.Tensor{}
	n := len(ly)
	batch := min(cfg.Batch, n)
	labels := make([]int, batch)
	shuffle := tensor.NewRNG(cfg.Seed ^ 0x5ff1e) // the same batches in both runs
	perm, pos := shuffle.Perm(n), 0
	for step := range cfg.Steps {
		if pos+batch > n {
			perm, pos = shuffle.Perm(n), 0
		}
		gatherRows(xb, lx, perm[pos:pos+batch])
		for k, i := range perm[pos : pos+batch] {
			labels[k] = ly[i]
		}
		pos += batch
		tp.Reset()
		loss := tp.CrossEntropy(net.Forward(tp, tp.Const(xb)), labels)
		if err := tp.Err(); err != nil {
			return 0, 0, fmt.Errorf("semi-supervised %s: step %d: %w", what, step, err)
		}
		if l := float64(loss.Item()); !finite(l) {
			return 0, 0, fmt.Errorf("semi-supervised %s: step %d: loss %v", what, step, l)
		}
		opt.ZeroGrad()
		if err := tp.Backward(loss); err != nil {
			return 0, 0, fmt.Errorf("semi-supervised %s: step %d: %w", what, step, err)
		}
		opt.Step()
		if cfg.Progress != nil {
			cfg.Progress(step + 1)
		}
	}
	if err := opt.Err(); err != nil {
		return 0, 0, fmt.Errorf("semi-supervised %s: %w", what, err)
	}
	encModes.Set(false)
	headModes.Set(false)
	return Accuracy(net, lx, ly), Accuracy(net, testX, testY), nil
}
