package dim

import (
	"fmt"
	"math"
	"strings"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Trainer runs optimisation steps of a Model: tapes and optimisers reused
// across steps so that a step allocates nothing once warm.
type Trainer struct {
	Model *Model
	// Opt trains the encoder and the MI networks on the DIM objective.
	Opt *optim.Adam
	// PriorOpt trains the prior-matching discriminator (nil without prior
	// matching), with the same learning rate.
	PriorOpt *optim.Adam

	tape, priorTape *autograd.Tape
}

// Prefixes of the optimiser states in a checkpoint.
const (
	optimPrefix      = "optim."
	priorOptimPrefix = "optim_prior."
)

// NewTrainer returns a trainer with Adam at the model's learning rate over
// the model's parameters, or an error if the optimiser cannot be made (e.g.
// a negative learning rate).
func NewTrainer(m *Model) (*Trainer, error) {
	opt, err := optim.NewAdam(m.EncoderState().Vars(), optim.AdamConfig{LR: m.Config.LR})
	if err != nil {
		return nil, fmt.Errorf("dim: trainer: %w", err)
	}
	t := &Trainer{Model: m, Opt: opt, tape: autograd.NewTape()}
	if m.Prior != nil {
		s := &nn.State{}
		m.Prior.D.Collect("", s)
		if t.PriorOpt, err = optim.NewAdam(s.Vars(), optim.AdamConfig{LR: m.Config.LR}); err != nil {
			return nil, fmt.Errorf("dim: trainer: prior discriminator: %w", err)
		}
		t.priorTape = autograd.NewTape()
	}
	return t, nil
}

// StepResult holds the losses of one step.
type StepResult struct {
	Loss, Local, Global float32
	// Prior is the encoder's prior-matching loss and Discriminator the
	// discriminator's loss (gradient penalty included); 0 without prior
	// matching.
	Prior, Discriminator float32
}

// Step does one optimisation step on the batch x [N,C,H,W]: the encoder and
// MI networks on the DIM objective, then (with prior matching) the
// discriminator on the same batch's outputs. A non-finite loss is an error
// and leaves the parameters unchanged.
func (t *Trainer) Step(x *tensor.Tensor) (StepResult, error) {
	tp := t.tape
	tp.Reset()
	t.Model.SetTraining(true)
	step := t.Opt.Steps()
	ls, err := t.Model.Loss(tp, tp.Const(x))
	if err != nil {
		return StepResult{}, err
	}
	r := StepResult{Loss: ls.Total.Item(), Local: ls.Local, Global: ls.Global, Prior: ls.Prior}
	if !finite(r.Loss) {
		return r, fmt.Errorf("loss is %v", r.Loss)
	}
	var dloss *autograd.Var
	if t.Model.Prior != nil {
		// The discriminator sees this step's outputs as constants, before
		// the encoder moves, as the reference does.
		dt := t.priorTape
		dt.Reset()
		seed := t.Model.Config.Seed*0x9e3779b97f4a7c15 ^ uint64(step+1)*0xbf58476d1ce4e5b9
		if dloss, err = t.Model.Prior.DiscriminatorLoss(dt, dt.Const(ls.PriorInput.Value), seed); err != nil {
			return r, fmt.Errorf("prior discriminator: %w", err)
		}
		if r.Discriminator = dloss.Item(); !finite(r.Discriminator) {
			return r, fmt.Errorf("prior discriminator loss is %v", r.Discriminator)
		}
	}
	t.Opt.ZeroGrad()
	if err := tp.Backward(ls.Total); err != nil {
		return r, err
	}
	t.Opt.Step()
	if err := t.Opt.Err(); err != nil {
		return r, err
	}
	if dloss != nil {
		// Zeroed after the encoder's backward, which also reached D.
		t.PriorOpt.ZeroGrad()
		if err := t.priorTape.Backward(dloss); err != nil {
			return r, fmt.Errorf("prior discriminator: %w", err)
		}
		t.PriorOpt.Step()
		if err := t.PriorOpt.Err(); err != nil {
			return r, fmt.Errorf("prior discriminator: %w", err)
		}
	}
	return r, nil
}

func finite(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

// OptimizerState returns the optimisers' states for a checkpoint, under the
// prefixes "optim." (encoder) and "optim_prior." (discriminator).
func (t *Trainer) OptimizerState() map[string]*tensor.Tensor {
	out := map[string]*tensor.Tensor{}
	for k, v := range t.Opt.State() {
		out[optimPrefix+k] = v
	}
	if t.PriorOpt != nil {
		for k, v := range t.PriorOpt.State() {
			out[priorOptimPrefix+k] = v
		}
	}
	return out
}

// LoadOptimizerState restores what OptimizerState returned (as
// LoadCheckpoint gives it back).
func (t *Trainer) LoadOptimizerState(st map[string]*tensor.Tensor) error {
	enc, prior := map[string]*tensor.Tensor{}, map[string]*tensor.Tensor{}
	for k, v := range st {
		switch {
		case strings.HasPrefix(k, priorOptimPrefix):
			prior[k[len(priorOptimPrefix):]] = v
		case strings.HasPrefix(k, optimPrefix):
			enc[k[len(optimPrefix):]] = v
		default:
			return fmt.Errorf("unexpected optimiser tensor %q", k)
		}
	}
	if err := t.Opt.LoadState(enc); err != nil {
		return err
	}
	if t.PriorOpt != nil {
		if err := t.PriorOpt.LoadState(prior); err != nil {
			return fmt.Errorf("prior discriminator: %w", err)
		}
	} else if len(prior) > 0 {
		return fmt.Errorf("checkpoint has a prior discriminator's optimiser but the model has no prior matching")
	}
	return nil
}
