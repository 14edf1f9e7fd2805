package optim

import (
	"fmt"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// SGDConfig holds SGD's hyperparameters. A zero LR means PyTorch's default
// 1e-3; the other zero fields mean none.
type SGDConfig struct {
	// LR is the learning rate.
	LR float64
	// Momentum is the momentum factor; 0 disables momentum.
	Momentum float64
	// Dampening scales down the gradient's contribution to the momentum
	// buffer (by 1-Dampening).
	Dampening float64
	// WeightDecay is an L2 penalty added to the gradient.
	WeightDecay float64
	// Nesterov selects Nesterov momentum; it needs Momentum > 0 and
	// Dampening == 0.
	Nesterov bool
}

// SGD is stochastic gradient descent with optional momentum, Nesterov
// momentum and weight decay, with exactly torch.optim.SGD's update:
//
//	g = grad + wd*p
//	buf = g on the first step, else momentum*buf + (1-dampening)*g
//	d = g + momentum*buf with Nesterov, else buf   (d = g without momentum)
//	p = p - lr*d
//
// Its state is "sgd.<i>.momentum" for parameter i (only with momentum) plus
// the scalar "sgd.step".
type SGD struct {
	params []*autograd.Var
	sizes  []int // values per parameter at construction
	buf    []*tensor.Tensor
	names  []string
	cfg    SGDConfig
	step   int64
	err    error // first problem met by Step
}

// NewSGD returns an SGD optimiser over params, allocating its momentum
// buffers. It returns an error on an invalid configuration (a negative or
// NaN LR, Momentum or WeightDecay, Nesterov without momentum or with
// dampening), an empty parameter list, or a nil or repeated parameter.
func NewSGD(params []*autograd.Var, cfg SGDConfig) (*SGD, error) {
	if cfg.LR == 0 {
		cfg.LR = 1e-3
	}
	switch {
	case !(cfg.LR >= 0):
		return nil, fmt.Errorf("optim: sgd: invalid learning rate %v (want >= 0)", cfg.LR)
	case !(cfg.Momentum >= 0):
		return nil, fmt.Errorf("optim: sgd: invalid momentum %v (want >= 0)", cfg.Momentum)
	case !(cfg.WeightDecay >= 0):
		return nil, fmt.Errorf("optim: sgd: invalid weight decay %v (want >= 0)", cfg.WeightDecay)
	case cfg.Nesterov && (cfg.Momentum <= 0 || cfg.Dampening != 0):
		return nil, fmt.Errorf("optim: sgd: Nesterov momentum requires a momentum > 0 and zero dampening (have momentum %v, dampening %v)",
			cfg.Momentum, cfg.Dampening)
	}
	if err := checkParams("sgd", params); err != nil {
		return nil, err
	}
	s := &SGD{params: append([]*autograd.Var(nil), params...), sizes: sizesOf(params), cfg: cfg}
	if cfg.Momentum != 0 {
		s.buf = zerosLike(params)
		for i := range params {
			s.names = append(s.names, fmt.Sprintf("sgd.%d.momentum", i))
		}
	}
	return s, nil
}

// Config returns the configuration in use, LR reflecting the latest SetLR.
func (s *SGD) Config() SGDConfig { return s.cfg }

// Steps returns the number of steps taken (restored by LoadState).
func (s *SGD) Steps() int64 { return s.step }

// LR returns the current learning rate.
func (s *SGD) LR() float64 { return s.cfg.LR }

// SetLR sets the learning rate for later steps. A negative or NaN rate is
// refused: the rate stays, and Err reports it.
func (s *SGD) SetLR(lr float64) {
	if err := checkLR("sgd", lr, s.cfg.LR); err != nil {
		if s.err == nil {
			s.err = err
		}
		return
	}
	s.cfg.LR = lr
}

// Params returns the parameters being optimised.
func (s *SGD) Params() []*autograd.Var { return s.params }

// Err returns the first problem met by Step, or nil: a parameter whose
// value or gradient changed size since NewSGD, which Step leaves
// untouched, or a rate SetLR refused. Once set it stays set; check it after training steps.
func (s *SGD) Err() error { return s.err }

// ZeroGrad drops every parameter's gradient (see Optimizer).
func (s *SGD) ZeroGrad() { zeroGrads(s.params) }

// Step applies one SGD update to every parameter with a gradient. A
// parameter whose value or gradient changed size since NewSGD is left
// untouched (its momentum buffer too) and reported by Err.
func (s *SGD) Step() {
	first := s.step == 0
	s.step++
	c := s.cfg
	lr := float32(c.LR)
	wd := float32(c.WeightDecay)
	mom := float32(c.Momentum)
	od := float32(1 - c.Dampening)
	for i, p := range s.params {
		if p.Grad == nil {
			continue
		}
		if !sizeOK(p, s.sizes[i]) {
			if s.err == nil {
				s.err = sizeError("sgd", i, p, s.sizes[i])
			}
			continue
		}
		pd := p.Value.Data
		gd := p.Grad.Data[:len(pd)]
		if mom == 0 {
			for j, pj := range pd {
				g := gd[j]
				if wd != 0 {
					g += wd * pj
				}
				pd[j] = pj - lr*g
			}
			continue
		}
		bd := s.buf[i].Data[:len(pd)]
		for j, pj := range pd {
			g := gd[j]
			if wd != 0 {
				g += wd * pj
			}
			b := g
			if !first {
				b = mom*bd[j] + od*g
			}
			bd[j] = b
			if c.Nesterov {
				g += mom * b
			} else {
				g = b
			}
			pd[j] = pj - lr*g
		}
	}
}

// State returns copies of the momentum buffers ("sgd.<i>.momentum", none
// without momentum) and the step count ("sgd.step", a rank-0 tensor).
func (s *SGD) State() map[string]*tensor.Tensor {
	return exportState("sgd", s.names, s.buf, s.step)
}

// LoadState restores a state saved by State from an SGD with the same
// momentum setting over parameters of the same shapes. On error the
// optimiser is unchanged.
func (s *SGD) LoadState(state map[string]*tensor.Tensor) error {
	step, err := importState("sgd", state, s.names, s.buf)
	if err != nil {
		return err
	}
	s.step = step
	return nil
}

var _ Optimizer = (*SGD)(nil)
