package optim

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
)

// adamScalarStep is the scalar update loop Adam ran before kernels.AdamUpdate,
// with the per-step constants computed as Step computes them.
func adamScalarStep(cfg AdamConfig, step int64, pd, gd, md, vd []float32) {
	c := cfg.withDefaults()
	t := float64(step)
	stepSize := float32(c.LR / (1 - math.Pow(c.Beta1, t)))
	invBC2 := float32(1 / math.Sqrt(1-math.Pow(c.Beta2, t)))
	b2, ob1, ob2, eps := float32(c.Beta2), float32(1-c.Beta1), float32(1-c.Beta2), float32(c.Eps)
	var l2, decay float32 = 0, 1
	if c.Decoupled {
		decay = float32(1 - c.LR*c.WeightDecay)
	} else {
		l2 = float32(c.WeightDecay)
	}
	for j, pj := range pd {
		g := gd[j]
		switch {
		case l2 != 0:
			g += l2 * pj
		case decay != 1:
			pj *= decay
		}
		m := md[j] + ob1*(g-md[j])
		v := b2*vd[j] + ob2*g*g
		md[j], vd[j] = m, v
		pd[j] = pj - stepSize*m/(float32(math.Sqrt(float64(v)))*invBC2+eps)
	}
}

// TestAdamBitIdentical checks Step bit for bit against the scalar loop, on
// small and parallel-sized parameters holding infinities, signed zeros,
// subnormals and NaNs (at most one NaN among an element's value, gradient
// and moments, and no infinity beside it: when two different NaNs meet in
// an addition or multiplication, which one the scalar loop keeps is the
// compiler's choice of operand order; see kernels.AdamUpdate).
func TestAdamBitIdentical(t *testing.T) {
	specials := []uint32{0x7fc00000, 0xffc00000, 0x7fc00001, 0xff800001, 0x7f800000, 0xff800000,
		0, 0x80000000, 1, 0x80000001, 0x007fffff, 0x7f7fffff}
	rng := rand.New(rand.NewPCG(1, 2))
	gen := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			if rng.IntN(4) == 0 {
				x[i] = math.Float32frombits(specials[rng.IntN(len(specials))])
			} else {
				x[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(7)-4)))
			}
		}
		return x
	}
	for _, cfg := range []AdamConfig{{}, {LR: 0.01, WeightDecay: 0.01}, {LR: 0.01, WeightDecay: 0.1, Decoupled: true}} {
		sizes := []int{1, 17, 1000, parallelMin + 33}
		params := make([]*autograd.Var, len(sizes))
		for i, n := range sizes {
			params[i] = param(gen(n)...)
		}
		a := newAdam(t, params, cfg)
		for step := int64(1); step <= 2; step++ {
			for i, p := range params {
				n := sizes[i]
				g, m, v := gen(n), gen(n), gen(n)
				for j := range n {
					// At most one NaN per element, the other values there
					// finite (no NaN made of infinities meets it either).
					xs := []*float32{&p.Value.Data[j], &g[j], &m[j], &v[j]}
					for k, x := range xs {
						if *x == *x {
							continue
						}
						for l, y := range xs {
							if l != k && (*y != *y || math.IsInf(float64(*y), 0)) {
								*y = 0.25
							}
						}
						break
					}
				}
				p.Grad = p.Value.Clone()
				copy(p.Grad.Data, g)
				copy(a.m[i].Data, m)
				copy(a.v[i].Data, v)
			}
			want := make([][3][]float32, len(params))
			for i, p := range params {
				w := [3][]float32{append([]float32(nil), p.Value.Data...), append([]float32(nil), a.m[i].Data...), append([]float32(nil), a.v[i].Data...)}
				adamScalarStep(cfg, step, w[0], p.Grad.Data, w[1], w[2])
				want[i] = w
			}
			a.Step()
			for i, p := range params {
				for k, got := range [][]float32{p.Value.Data, a.m[i].Data, a.v[i].Data} {
					for j := range got {
						if g, w := math.Float32bits(got[j]), math.Float32bits(want[i][k][j]); g != w {
							t.Fatalf("%+v step %d param %d buffer %d [%d]: %#08x, want %#08x", cfg, step, i, k, j, g, w)
						}
					}
				}
			}
		}
	}
}
