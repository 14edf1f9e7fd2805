package dim

import (
	"fmt"
	"math"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Trainer runs optimisation steps of a Model: one tape and one optimiser,
// reused across steps so that a step allocates nothing once warm.
type Trainer struct {
	Model *Model
	Opt   *optim.Adam
	tape  *autograd.Tape
}

// NewTrainer returns a trainer with Adam at the model's learning rate over
// every parameter of the model, or an error if the optimiser cannot be made
// (e.g. a negative learning rate).
func NewTrainer(m *Model) (*Trainer, error) {
	opt, err := optim.NewAdam(m.State().Vars(), optim.AdamConfig{LR: m.Config.LR})
	if err != nil {
		return nil, fmt.Errorf("dim: trainer: %w", err)
	}
	return &Trainer{Model: m, Opt: opt, tape: autograd.NewTape()}, nil
}

// StepResult holds the losses of one step.
type StepResult struct {
	Loss, Local, Global float32
}

// Step does one optimisation step on the batch x [N,C,H,W]. A non-finite
// loss is an error and leaves the parameters unchanged.
func (t *Trainer) Step(x *tensor.Tensor) (StepResult, error) {
	tp := t.tape
	tp.Reset()
	t.Model.SetTraining(true)
	ls, err := t.Model.Loss(tp, tp.Const(x))
	if err != nil {
		return StepResult{}, err
	}
	r := StepResult{Loss: ls.Total.Item(), Local: ls.Local, Global: ls.Global}
	if math.IsNaN(float64(r.Loss)) || math.IsInf(float64(r.Loss), 0) {
		return r, fmt.Errorf("loss is %v", r.Loss)
	}
	t.Opt.ZeroGrad()
	if err := tp.Backward(ls.Total); err != nil {
		return r, err
	}
	t.Opt.Step()
	if err := t.Opt.Err(); err != nil {
		return r, err
	}
	return r, nil
}
