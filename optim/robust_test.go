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
