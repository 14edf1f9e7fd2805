package optim

import (
	"math"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
)

func TestClipGradNormRejectsBadArguments(t *testing.T) {
	for _, tc := range []struct {
		name string
		max  float64
		nil2 bool
		want string
	}{
		{"negative max norm", -1, false, "max norm -1"}, // used to flip the gradient: 3 became -1
		{"NaN max norm", math.NaN(), false, "max norm NaN"},
		{"negative infinite max norm", math.Inf(-1), false, "max norm -Inf"},
		{"nil parameter", 1, true, "parameter 1 of 2 is nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := param(0)
			p.Grad.Data[0] = 3
			ps := []*autograd.Var{p, param(0)}
			if tc.nil2 {
				ps[1] = nil
			}
			n, err := ClipGradNorm(ps, tc.max)
			if err == nil || !strings.Contains(err.Error(), "ClipGradNorm") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ClipGradNorm = %v, %v; want an error with %q", n, err, tc.want)
			}
			if n != 0 || p.Grad.Data[0] != 3 {
				t.Errorf("refused ClipGradNorm returned norm %v and left grad %v, want 0 and 3 untouched", n, p.Grad.Data[0])
			}
		})
	}
	// +Inf never clips; 0 clips to zero; both are valid.
	p := param(0)
	p.Grad.Data[0] = 3
	if n, err := ClipGradNorm([]*autograd.Var{p}, math.Inf(1)); err != nil || n != 3 || p.Grad.Data[0] != 3 {
		t.Errorf("ClipGradNorm(+Inf) = %v, %v, grad %v", n, err, p.Grad.Data[0])
	}
	if n, err := ClipGradNorm([]*autograd.Var{p}, 0); err != nil || n != 3 || p.Grad.Data[0] != 0 {
		t.Errorf("ClipGradNorm(0) = %v, %v, grad %v", n, err, p.Grad.Data[0])
	}
	if n, err := ClipGradNorm(nil, 1); err != nil || n != 0 {
		t.Errorf("ClipGradNorm(no params) = %v, %v", n, err)
	}
}

func TestConstructorsRejectNoParameters(t *testing.T) {
	for _, ps := range [][]*autograd.Var{nil, {}} {
		if a, err := NewAdam(ps, AdamConfig{}); a != nil || err == nil || !strings.Contains(err.Error(), "adam: no parameters") {
			t.Errorf("NewAdam(%v) = %v, %v", ps, a, err)
		}
		if s, err := NewSGD(ps, SGDConfig{}); s != nil || err == nil || !strings.Contains(err.Error(), "sgd: no parameters") {
			t.Errorf("NewSGD(%v) = %v, %v", ps, s, err)
		}
	}
}

// TestSetLRRefusesInvalidRates checks that SetLR keeps the rate in use and
// reports a negative or NaN one through Err, and takes a valid one.
func TestSetLRRefusesInvalidRates(t *testing.T) {
	for _, lr := range []float64{-1e-3, math.NaN(), math.Inf(-1)} {
		a, err := NewAdam([]*autograd.Var{param(0)}, AdamConfig{LR: 0.1})
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSGD([]*autograd.Var{param(0)}, SGDConfig{LR: 0.1})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range []Optimizer{a, s} {
			o.SetLR(lr)
			if o.LR() != 0.1 {
				t.Errorf("%T.SetLR(%v): rate %v, want 0.1 kept", o, lr, o.LR())
			}
			if err := o.Err(); err == nil || !strings.Contains(err.Error(), "SetLR") {
				t.Errorf("%T.SetLR(%v): Err() = %v, want an error naming SetLR", o, lr, err)
			}
		}
	}
	a, _ := NewAdam([]*autograd.Var{param(0)}, AdamConfig{LR: 0.1})
	for _, lr := range []float64{0, 1e-4, math.Inf(1)} {
		if a.SetLR(lr); a.LR() != lr || a.Err() != nil {
			t.Errorf("Adam.SetLR(%v): rate %v, Err %v", lr, a.LR(), a.Err())
		}
	}
}
