package optim

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Optimizer updates a fixed list of parameters from their gradients.
//
// Step applies one update using each parameter's current Grad (parameters
// whose Grad is nil are skipped) and allocates nothing. ZeroGrad drops the
// gradients, as PyTorch's zero_grad(set_to_none=True): each Grad becomes nil
// and the next backward pass writes it afresh into the same buffer, which
// saves clearing millions of values a step (a parameter that no backward
// pass reaches then keeps a nil Grad and Step skips it). State returns deep copies of the optimiser's buffers, keyed by
// name (parameter index within the list given to the constructor, e.g.
// "adam.0.m", plus a "<kind>.step" scalar); LoadState copies such a map back,
// after checking that it was made by the same kind of optimiser over
// parameters of the same shapes. Keys without the optimiser's prefix are
// ignored by LoadState, so one map may hold model weights and optimiser
// state together. Hyperparameters (learning rate, betas, ...) are not part
// of the state: they come from the configuration and the schedule.
//
// An Optimizer is not safe for concurrent use.
type Optimizer interface {
	// Step updates every parameter from its gradient. A parameter whose
	// value or gradient no longer has the size it had when the optimiser
	// was made is left untouched, and the problem is recorded for Err.
	Step()
	// Err returns the first problem met by Step (a parameter whose size
	// changed since construction) or SetLR (an invalid rate), or nil. It
	// stays set once set.
	Err() error
	// ZeroGrad drops every parameter's gradient (autograd.Var.DropGrad):
	// the next backward pass writes it afresh.
	ZeroGrad()
	// LR returns the current learning rate.
	LR() float64
	// SetLR sets the learning rate used by later steps. A rate the
	// constructor would refuse (negative or NaN) is refused: the rate in
	// use stays, and the problem is recorded for Err.
	SetLR(lr float64)
	// Params returns the parameters being optimised, in order; the slice
	// must not be modified.
	Params() []*autograd.Var
	// State returns a copy of the optimiser's buffers for a checkpoint.
	State() map[string]*tensor.Tensor
	// LoadState restores buffers saved by State, or returns an error naming
	// the first missing, unexpected or mis-shaped entry, leaving the
	// optimiser unchanged.
	LoadState(state map[string]*tensor.Tensor) error
}

// checkParams returns an error if params is empty (an optimiser over no
// parameters is a mistake: every known caller has some, and baselines
// without any skip the optimiser), or holds a nil Var, a Var without a
// value, or the same Var twice.
func checkParams(kind string, params []*autograd.Var) error {
	if len(params) == 0 {
		return fmt.Errorf("optim: %s: no parameters to optimise", kind)
	}
	seen := make(map[*autograd.Var]int, len(params))
	for i, p := range params {
		if p == nil || p.Value == nil {
			return fmt.Errorf("optim: %s: parameter %d is nil", kind, i)
		}
		if j, ok := seen[p]; ok {
			return fmt.Errorf("optim: %s: parameter %d is parameter %d again", kind, i, j)
		}
		seen[p] = i
	}
	return nil
}

// sizesOf returns the number of values of each parameter.
func sizesOf(params []*autograd.Var) []int {
	sizes := make([]int, len(params))
	for i, p := range params {
		sizes[i] = len(p.Value.Data)
	}
	return sizes
}

// sizeOK reports whether parameter p, which has a gradient, still has n
// values in both its value and its gradient. It allocates nothing.
func sizeOK(p *autograd.Var, n int) bool {
	return p.Value != nil && len(p.Value.Data) == n && len(p.Grad.Data) == n
}

// sizeError describes parameter i of an optimiser of the given kind, which
// had n values at construction but no longer matches.
func sizeError(kind string, i int, p *autograd.Var, n int) error {
	if p.Value == nil {
		return fmt.Errorf("optim: %s: parameter %d has no value (had %d values); left unchanged", kind, i, n)
	}
	return fmt.Errorf("optim: %s: parameter %d has %d values and a %d-value gradient, was %d; left unchanged",
		kind, i, len(p.Value.Data), len(p.Grad.Data), n)
}

// zerosLike returns one zeroed buffer per parameter, shaped like its value.
func zerosLike(params []*autograd.Var) []*tensor.Tensor {
	bufs := make([]*tensor.Tensor, len(params))
	for i, p := range params {
		bufs[i] = tensor.New(p.Value.Shape...)
	}
	return bufs
}

// zeroGrads drops the gradients of params (autograd.Var.DropGrad): the
// next backward pass writes them afresh.
func zeroGrads(params []*autograd.Var) {
	for _, p := range params {
		p.DropGrad()
	}
}

// stepKey returns the name of the step-count scalar for an optimiser kind.
func stepKey(prefix string) string { return prefix + ".step" }

// exportState returns deep copies of the named buffers plus the step count
// as a rank-0 tensor.
func exportState(prefix string, names []string, bufs []*tensor.Tensor, step int64) map[string]*tensor.Tensor {
	st := make(map[string]*tensor.Tensor, len(names)+1)
	for i, n := range names {
		st[n] = bufs[i].Clone()
	}
	st[stepKey(prefix)] = &tensor.Tensor{Shape: []int{}, Data: []float32{float32(step)}}
	return st
}

// importState validates state against the expected buffer names and shapes
// and, only if all is well, copies the buffers in and returns the step.
func importState(prefix string, state map[string]*tensor.Tensor, names []string, bufs []*tensor.Tensor) (int64, error) {
	expected := make(map[string]bool, len(names)+1)
	for _, n := range names {
		expected[n] = true
	}
	sk := stepKey(prefix)
	expected[sk] = true
	have := 0
	for _, k := range slices.Sorted(maps.Keys(state)) { // sorted: the same error every time
		if !strings.HasPrefix(k, prefix+".") {
			continue
		}
		if !expected[k] {
			return 0, fmt.Errorf("optim: %s state has unexpected entry %q (optimiser has %d entries: %d buffers and %q)",
				prefix, k, len(names)+1, len(names), sk)
		}
		have++
	}
	for i, n := range names {
		t, ok := state[n]
		if !ok || t == nil {
			return 0, fmt.Errorf("optim: %s state lacks entry %q (has %d of %d entries)", prefix, n, have, len(names)+1)
		}
		if !bufs[i].SameShape(t) || len(t.Data) != len(bufs[i].Data) {
			return 0, fmt.Errorf("optim: %s state entry %q has shape %v (%d values), parameter needs %v",
				prefix, n, t.Shape, len(t.Data), bufs[i].Shape)
		}
	}
	t, ok := state[sk]
	if !ok || t == nil {
		return 0, fmt.Errorf("optim: %s state lacks entry %q", prefix, sk)
	}
	if len(t.Data) != 1 || tensor.SizeOf(t.Shape) != 1 {
		return 0, fmt.Errorf("optim: %s state entry %q has shape %v, want a scalar", prefix, sk, t.Shape)
	}
	s := float64(t.Data[0])
	if s < 0 || s != math.Trunc(s) || math.IsInf(s, 0) {
		return 0, fmt.Errorf("optim: %s state entry %q holds %v, want a non-negative integer", prefix, sk, t.Data[0])
	}
	for i, n := range names {
		copy(bufs[i].Data, state[n].Data)
	}
	return int64(s), nil
}

// checkLR returns the error of SetLR for an invalid rate lr of the given
// kind of optimiser, or nil.
func checkLR(kind string, lr, kept float64) error {
	if lr >= 0 {
		return nil
	}
	return fmt.Errorf("optim: %s: SetLR(%v): invalid learning rate (want >= 0); the rate stays %v", kind, lr, kept)
}
