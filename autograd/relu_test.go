package autograd

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// TestReLUBitIdentical checks ReLU and its two backward paths (a fresh
// gradient buffer, accumulation into an existing one) bit for bit against
// the scalar loops they replaced, on values with NaNs, infinities, signed
// zeros and subnormals.
func TestReLUBitIdentical(t *testing.T) {
	specials := []uint32{0x7fc00000, 0xffc00000, 0x7fc00001, 0xff800001, 0x7f800000, 0xff800000,
		0, 0x80000000, 1, 0x80000001, 0x007fffff}
	rng := rand.New(rand.NewPCG(3, 4))
	gen := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			if rng.IntN(3) == 0 {
				x[i] = math.Float32frombits(specials[rng.IntN(len(specials))])
			} else {
				x[i] = float32(rng.NormFloat64())
			}
		}
		return x
	}
	same := func(what string, got, want []float32) {
		t.Helper()
		for i := range want {
			if g, w := math.Float32bits(got[i]), math.Float32bits(want[i]); g != w {
				t.Fatalf("%s[%d] = %#08x, want %#08x", what, i, g, w)
			}
		}
	}
	for _, n := range []int{1, 15, 33, 1000, 1<<16 + 5} {
		xs, seed, g0 := gen(n), gen(n), gen(n)
		for i := range g0 {
			if g0[i] != g0[i] && seed[i] != seed[i] {
				g0[i] = 1 // at most one NaN per addition (see kernels.ReLUBackwardAdd)
			}
		}
		wantY := make([]float32, n)
		wantFresh := make([]float32, n)
		wantAcc := append([]float32(nil), g0...)
		for i, v := range xs {
			wantY[i] = max(v, 0)
			if wantY[i] > 0 {
				wantFresh[i] = seed[i]
				wantAcc[i] += seed[i]
			}
		}
		for _, acc := range []bool{false, true} {
			tp := NewTape()
			x := tp.Leaf(&tensor.Tensor{Shape: []int{n}, Data: xs})
			if acc {
				x.Grad = &tensor.Tensor{Shape: []int{n}, Data: append([]float32(nil), g0...)}
			}
			y := tp.ReLU(x)
			same("ReLU", y.Value.Data, wantY)
			if err := tp.BackwardWith(y, &tensor.Tensor{Shape: []int{n}, Data: seed}); err != nil {
				t.Fatal(err)
			}
			if acc {
				same("ReLU backward (accumulating)", x.Grad.Data, wantAcc)
			} else {
				same("ReLU backward (fresh)", x.Grad.Data, wantFresh)
			}
		}
	}
}
