package optim

import (
	"fmt"
	"math"

	"github.com/deepinfomax/deepinfomax/autograd"
)

// ClipGradNorm scales the gradients of params in place so that their joint
// L2 norm is at most maxNorm, like torch.nn.utils.clip_grad_norm_ (scale
// maxNorm/(norm+1e-6), applied only when below 1). It returns the norm
// before clipping, accumulated in float64. If the norm is not finite the
// gradients are left unchanged, so the caller can detect it and skip the
// step. Parameters with a nil Grad are ignored. It allocates nothing.
//
// A negative or NaN maxNorm (which would flip or poison the gradients) or a
// nil parameter is an error, returned with a zero norm before any gradient
// is touched. A maxNorm of +Inf never clips.
func ClipGradNorm(params []*autograd.Var, maxNorm float64) (float64, error) {
	if !(maxNorm >= 0) {
		return 0, fmt.Errorf("optim: ClipGradNorm: max norm %v, want >= 0", maxNorm)
	}
	var sum float64
	for i, p := range params {
		if p == nil {
			return 0, fmt.Errorf("optim: ClipGradNorm: parameter %d of %d is nil", i, len(params))
		}
		if p.Grad == nil {
			continue
		}
		for _, g := range p.Grad.Data {
			sum += float64(g) * float64(g)
		}
	}
	norm := math.Sqrt(sum)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm, nil
	}
	coef := maxNorm / (norm + 1e-6)
	if coef >= 1 {
		return norm, nil
	}
	c := float32(coef)
	for _, p := range params {
		if p.Grad == nil {
			continue
		}
		gd := p.Grad.Data
		for j := range gd {
			gd[j] *= c
		}
	}
	return norm, nil
}
