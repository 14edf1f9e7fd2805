package autograd

import (
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Dropout zeroes each element with probability p and scales survivors by
// 1/(1-p) when training (identity otherwise); the mask is drawn from rng.
//
// Each element consumes 32 random bits (two elements per rng.Uint64), so a
// given seed yields the same mask for the same shape. When not training, or
// when p is 0, Dropout returns x itself. p must lie in [0, 1]; p = 1 zeroes
// everything.
func (tp *Tape) Dropout(x *Var, p float32, training bool, rng *tensor.RNG) *Var {
	if tp.failed() || tp.bad("dropout", "x", x) {
		return tp.newVar(1)
	}
	if !(p >= 0 && p <= 1) {
		return tp.fail("dropout: input %v: probability %v outside [0, 1]", x.Value.Shape, p)
	}
	if !training || p == 0 {
		return x
	}
	if rng == nil {
		return tp.fail("dropout: input %v: training needs a random generator", x.Value.Shape)
	}
	out := tp.newVar(x.Value.Shape...)
	mask := tp.Buffer(x.Value.Shape...)
	xd, yd, md := x.Value.Data, out.Value.Data, mask.Data
	if p >= 1 {
		clear(md)
		clear(yd)
	} else {
		// keep when the 32-bit draw u satisfies u >= p*2^32, i.e. with
		// probability 1-p.
		thr := uint64(float64(p) * (1 << 32))
		scale := 1 / (1 - p)
		i := 0
		for ; i+2 <= len(md); i += 2 {
			u := rng.Uint64()
			md[i], md[i+1] = 0, 0
			if u&0xffffffff >= thr {
				md[i] = scale
			}
			if u>>32 >= thr {
				md[i+1] = scale
			}
		}
		if i < len(md) {
			md[i] = 0
			if rng.Uint64()&0xffffffff >= thr {
				md[i] = scale
			}
		}
		md = md[:len(xd)]
		yd = yd[:len(xd)]
		for i, v := range xd {
			yd[i] = v * md[i]
		}
	}
	if n := tp.record(dropoutBackward, out, x); n != nil {
		n.aux[0] = mask
	}
	return out
}

// dropoutBackward adds g*mask into the input's gradient.
func dropoutBackward(tp *Tape, n *node) {
	gx, g, m := tp.grad(n.in[0]).Data, n.out.Grad.Data, n.aux[0].Data
	g, m = g[:len(gx)], m[:len(gx)]
	for i := range gx {
		gx[i] += g[i] * m[i]
	}
}
