package optim

import (
	"fmt"
	"math"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/kernels"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// AdamConfig holds Adam's hyperparameters. A zero field takes PyTorch's
// default: LR 1e-3, Beta1 0.9, Beta2 0.999, Eps 1e-8, WeightDecay 0.
type AdamConfig struct {
	// LR is the learning rate.
	LR float64
	// Beta1 is the decay rate of the first-moment (mean) estimate.
	Beta1 float64
	// Beta2 is the decay rate of the second-moment (uncentred variance)
	// estimate.
	Beta2 float64
	// Eps is added to the square root of the bias-corrected second moment.
	Eps float64
	// WeightDecay is the decay coefficient. Without Decoupled it is an L2
	// penalty added to the gradient (torch.optim.Adam); with Decoupled the
	// parameters shrink by LR*WeightDecay each step instead
	// (torch.optim.AdamW; note PyTorch's AdamW defaults it to 1e-2, here
	// zero means none).
	WeightDecay float64
	// Decoupled selects AdamW's decoupled weight decay.
	Decoupled bool
}

// withDefaults fills zero fields with PyTorch's defaults.
func (c AdamConfig) withDefaults() AdamConfig {
	if c.LR == 0 {
		c.LR = 1e-3
	}
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Eps == 0 {
		c.Eps = 1e-8
	}
	return c
}

// Adam is the Adam optimiser (Kingma & Ba), or AdamW with
// AdamConfig.Decoupled, with exactly torch.optim.Adam's update: for step t,
//
//	g = grad + wd*p                 (L2; AdamW instead does p *= 1 - lr*wd)
//	m = m + (1-beta1)*(g - m)
//	v = beta2*v + (1-beta2)*g*g
//	p = p - lr/(1-beta1^t) * m / (sqrt(v)/sqrt(1-beta2^t) + eps)
//
// Its state is "adam.<i>.m" and "adam.<i>.v" for parameter i, plus the
// scalar "adam.step".
type Adam struct {
	k       kernels.AdamScalars
	cur     int              // parameter being updated by updateRange
	rangeFn func(lo, hi int) // a.updateRange, bound once so Step allocates nothing

	params []*autograd.Var
	sizes  []int // values per parameter at construction
	m, v   []*tensor.Tensor
	names  []string
	bufs   []*tensor.Tensor
	cfg    AdamConfig
	step   int64
	err    error // first problem met by Step
}

// NewAdam returns an Adam optimiser over params, allocating its moment
// buffers. It returns an error on an invalid configuration (negative or NaN
// LR, Eps or WeightDecay, a beta outside [0, 1)), an empty parameter list,
// or a nil or repeated parameter.
func NewAdam(params []*autograd.Var, cfg AdamConfig) (*Adam, error) {
	cfg = cfg.withDefaults()
	switch {
	case !(cfg.LR >= 0):
		return nil, fmt.Errorf("optim: adam: invalid learning rate %v (want >= 0)", cfg.LR)
	case !(cfg.Beta1 >= 0 && cfg.Beta1 < 1):
		return nil, fmt.Errorf("optim: adam: invalid beta1 %v (want [0,1))", cfg.Beta1)
	case !(cfg.Beta2 >= 0 && cfg.Beta2 < 1):
		return nil, fmt.Errorf("optim: adam: invalid beta2 %v (want [0,1))", cfg.Beta2)
	case !(cfg.Eps >= 0):
		return nil, fmt.Errorf("optim: adam: invalid eps %v (want >= 0)", cfg.Eps)
	case !(cfg.WeightDecay >= 0):
		return nil, fmt.Errorf("optim: adam: invalid weight decay %v (want >= 0)", cfg.WeightDecay)
	}
	if err := checkParams("adam", params); err != nil {
		return nil, err
	}
	a := &Adam{
		params: append([]*autograd.Var(nil), params...),
		sizes:  sizesOf(params),
		m:      zerosLike(params),
		v:      zerosLike(params),
		cfg:    cfg,
	}
	for i := range params {
		a.names = append(a.names, fmt.Sprintf("adam.%d.m", i), fmt.Sprintf("adam.%d.v", i))
		a.bufs = append(a.bufs, a.m[i], a.v[i])
	}
	return a, nil
}

// Config returns the configuration in use, defaults filled in and LR
// reflecting the latest SetLR.
func (a *Adam) Config() AdamConfig { return a.cfg }

// Steps returns the number of steps taken (restored by LoadState).
func (a *Adam) Steps() int64 { return a.step }

// LR returns the current learning rate.
func (a *Adam) LR() float64 { return a.cfg.LR }

// SetLR sets the learning rate for later steps. A negative or NaN rate is
// refused: the rate stays, and Err reports it.
func (a *Adam) SetLR(lr float64) {
	if err := checkLR("adam", lr, a.cfg.LR); err != nil {
		if a.err == nil {
			a.err = err
		}
		return
	}
	a.cfg.LR = lr
}

// Params returns the parameters being optimised.
func (a *Adam) Params() []*autograd.Var { return a.params }

// Err returns the first problem met by Step, or nil: a parameter whose
// value or gradient changed size since NewAdam, which Step leaves
// untouched, or a rate SetLR refused. Once set it stays set; check it after training steps.
func (a *Adam) Err() error { return a.err }

// ZeroGrad drops every parameter's gradient (see Optimizer).
func (a *Adam) ZeroGrad() { zeroGrads(a.params) }

// Step applies one Adam update to every parameter with a gradient. A
// parameter whose value or gradient changed size since NewAdam is left
// untouched (its moments too) and reported by Err. Large parameters are
// updated on all cores.
func (a *Adam) Step() {
	a.step++
	t := float64(a.step)
	c := a.cfg
	bc1 := 1 - math.Pow(c.Beta1, t)
	bc2 := 1 - math.Pow(c.Beta2, t)
	k := &a.k
	k.StepSize = float32(c.LR / bc1)
	k.InvBC2 = float32(1 / math.Sqrt(bc2))
	k.B2 = float32(c.Beta2)
	k.OB1, k.OB2 = float32(1-c.Beta1), float32(1-c.Beta2)
	k.Eps = float32(c.Eps)
	k.L2, k.Decay = 0, 1
	if c.Decoupled {
		k.Decay = float32(1 - c.LR*c.WeightDecay)
	} else {
		k.L2 = float32(c.WeightDecay)
	}
	if a.rangeFn == nil {
		a.rangeFn = a.updateRange
	}
	for i, p := range a.params {
		if p.Grad == nil {
			continue
		}
		if !sizeOK(p, a.sizes[i]) {
			if a.err == nil {
				a.err = sizeError("adam", i, p, a.sizes[i])
			}
			continue
		}
		a.cur = i
		if n := len(p.Value.Data); n >= parallelMin {
			kernels.ParallelFor(n, a.rangeFn)
		} else {
			a.updateRange(0, n)
		}
	}
}

// parallelMin is the parameter size from which an update is split across
// cores (smaller ones cost less than the hand-off).
const parallelMin = 1 << 15

// updateRange updates elements [lo, hi) of parameter a.cur with
// kernels.AdamUpdate (AVX-512 assembly where the CPU has it), bit-identical
// to the scalar loop
//
//	g := grad[j] + l2*p[j]            // only when l2 != 0
//	p[j] *= decay                     // only when l2 == 0 and decay != 1
//	m := m[j] + ob1*(g-m[j])
//	v := b2*v[j] + ob2*g*g
//	p[j] -= stepSize*m/(float32(math.Sqrt(float64(v)))*invBC2+eps)
func (a *Adam) updateRange(lo, hi int) {
	p := a.params[a.cur]
	kernels.AdamUpdate(p.Value.Data[lo:hi], p.Grad.Data[lo:hi], a.m[a.cur].Data[lo:hi], a.v[a.cur].Data[lo:hi], a.k)
}

// State returns copies of the moment buffers ("adam.<i>.m", "adam.<i>.v")
// and the step count ("adam.step", a rank-0 tensor; exact up to 2^24 steps).
func (a *Adam) State() map[string]*tensor.Tensor {
	return exportState("adam", a.names, a.bufs, a.step)
}

// LoadState restores a state saved by State from an Adam over parameters
// of the same shapes. On error the optimiser is unchanged.
func (a *Adam) LoadState(state map[string]*tensor.Tensor) error {
	step, err := importState("adam", state, a.names, a.bufs)
	if err != nil {
		return err
	}
	a.step = step
	return nil
}

var _ Optimizer = (*Adam)(nil)
