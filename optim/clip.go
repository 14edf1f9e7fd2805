package optim

import (
	"math"

	"github.com/deepinfomax/deepinfomax/autograd"
)

// ClipGradNorm scales the gradients of params in place so that their joint
// L2 norm is at most maxNorm, like torch.nn.utils.clip_grad_norm_ (scale
// maxNorm/(norm+1e-6), applied only when below 1). It returns the norm
// before clipping, accumulated in float64. If the norm is not finite the
// gradients are left unchanged, so the caller can detect it and skip the
// step. Parameters with a nil Grad are ignored. It allocates nothing.
func ClipGradNorm(params []*autograd.Var, maxNorm float64) float64 {
	var sum float64
	for _, p := range params {
		if p.Grad == nil {
			continue
		}
		for _, g := range p.Grad.Data {
			sum += float64(g) * float64(g)
		}
	}
	norm := math.Sqrt(sum)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm
	}
	coef := maxNorm / (norm + 1e-6)
	if coef >= 1 {
		return norm
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
	return norm
}
