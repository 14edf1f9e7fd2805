package baselines

import (
	"fmt"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

var supervisedSpec = Spec{
	Name: "supervised",
	Doc:  "the encoder and a linear classifier on Y trained with the labels (the paper's upper reference)",
	New: func(o Options, enc encoder.Spec) (train.Method, error) {
		if o.Classes < 2 {
			return nil, fmt.Errorf("supervised: %d classes: the data set needs labels", o.Classes)
		}
		rng := tensor.NewRNG(o.Seed)
		e, err := encoder.New(enc, rng)
		if err != nil {
			return nil, err
		}
		m := &Supervised{base: base{Enc: e}, Head: nn.NewLinear(e.Spec().Out, o.Classes, true, rng)}
		return m, m.init(m, "supervised", o, "train_acc")
	},
}

// Supervised trains the encoder and a linear classifier on Y with
// cross-entropy on the labels: the fully supervised encoder the paper
// compares with (75.39% on CIFAR-10 with its MLP probe). The "train_acc"
// it logs is the batch's accuracy before the step.
type Supervised struct {
	base
	Head *nn.Linear
}

// Step implements train.Method. The batch must have a label per image in
// [0, Options.Classes); its Index, if any, names the images in errors.
func (m *Supervised) Step(b *train.Batch) ([]train.Loss, error) {
	return m.step(func(tp *autograd.Tape) (*autograd.Var, error) { return m.objective(tp, b) })
}

// Evaluate implements train.Evaluator: the losses Step would report for b
// before its update (see base.evaluate).
func (m *Supervised) Evaluate(b *train.Batch) ([]train.Loss, error) {
	return m.evaluate(func(tp *autograd.Tape) (*autograd.Var, error) { return m.objective(tp, b) })
}

// objective is the classifier's cross-entropy on b's labels; it records
// the batch's accuracy.
func (m *Supervised) objective(tp *autograd.Tape, b *train.Batch) (*autograd.Var, error) {
	if err := checkImages(m.Enc, b); err != nil {
		return nil, err
	}
	if err := checkPerImage("supervised", "labels", b.Labels, b); err != nil {
		return nil, err
	}
	for i, y := range b.Labels {
		if y < 0 || y >= m.cfg.Classes {
			which := fmt.Sprintf("batch image %d", i)
			if len(b.Index) == len(b.Labels) {
				which = fmt.Sprintf("image %d", b.Index[i])
			}
			return nil, fmt.Errorf("supervised: %s has label %d, want a class in [0,%d)", which, y, m.cfg.Classes)
		}
	}
	logits := m.Head.Forward(tp, m.Enc.Encode(tp, tp.Const(b.X)).Y)
	m.losses[1].Value = nn.Accuracy(logits.Value, b.Labels)
	return tp.CrossEntropy(logits, b.Labels), nil
}
