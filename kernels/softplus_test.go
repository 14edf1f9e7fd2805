package kernels

import (
	"math"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"testing"
)

// softplusInputs returns scores covering every range SoftplusNeg
// distinguishes: a sweep over float32 bit patterns (both signs, subnormals,
// infinities and NaNs included), the boundaries of Log1p's cases and of
// Exp's underflow, and random scores at several scales.
func softplusInputs() []float32 {
	var u []float32
	for b := uint64(0); b < 1<<32; b += 4099 {
		u = append(u, math.Float32frombits(uint32(b)))
	}
	for _, v := range []float64{0, 1e-45, 2.2e-16, 1.1e-16, 3.3e-16, 1e-9, 1.862645e-9, 0.3465736, 0.8813736, 0.88137364, 1, 19.9, 20, 36.7, 37.4, 103, 104, 708, 708.4, 709, 745, 746, 1e30} {
		for _, s := range []float64{1, -1} {
			f := float32(s * v)
			u = append(u, f, math.Nextafter32(f, 1e38), math.Nextafter32(f, -1e38))
		}
	}
	r := rand.New(rand.NewPCG(31, 32))
	for _, scale := range []float64{1e-8, 1e-3, 0.3, 1, 3, 30, 300} {
		for range 20000 {
			u = append(u, float32(r.NormFloat64()*scale))
		}
	}
	return append(u, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()))
}

// TestSoftplusNeg checks SoftplusNeg bit for bit against the scalar float64
// loop it documents, on every offset of the vector blocks, and against an
// independent formula within float32 rounding.
func TestSoftplusNeg(t *testing.T) {
	u := softplusInputs()
	sp, sig := make([]float32, len(u)), make([]float32, len(u))
	wsp, wsig := make([]float32, len(u)), make([]float32, len(u))
	softplusNegGo(wsp, wsig, u)
	same := func(a, b float32) bool {
		return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b
	}
	for off := range 9 { // blocks of 8 starting anywhere, a scalar tail of 0-7
		SoftplusNeg(sp[off:], sig[off:], u[off:])
		for i := off; i < len(u); i++ {
			if !same(sp[i], wsp[i]) || !same(sig[i], wsig[i]) {
				t.Fatalf("offset %d: u = %v (%#x): got (%v, %v), want (%v, %v)", off, u[i], math.Float32bits(u[i]), sp[i], sig[i], wsp[i], wsig[i])
			}
		}
	}
	for i, v := range u {
		x := -float64(v)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			continue
		}
		wantSp := math.Max(x, 0) + math.Log(1+math.Exp(-math.Abs(x)))
		wantSig := 1 / (1 + math.Exp(-x))
		if d := math.Abs(float64(sp[i]) - wantSp); d > 1e-6*math.Max(1, wantSp) {
			t.Fatalf("u = %v: softplus(-u) = %v, want %v", v, sp[i], wantSp)
		}
		if d := math.Abs(float64(sig[i]) - wantSig); d > 1e-6 {
			t.Fatalf("u = %v: sigmoid(-u) = %v, want %v", v, sig[i], wantSig)
		}
	}
}

func TestSoftplusNegPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for short outputs")
		}
	}()
	SoftplusNeg(make([]float32, 3), make([]float32, 4), make([]float32, 4))
}

// BenchmarkSoftplusNeg compares the kernel with the scalar loop on a DIM
// score matrix's size (64 x 3136 scores).
func BenchmarkSoftplusNeg(b *testing.B) {
	r := rand.New(rand.NewPCG(33, 34))
	u := make([]float32, 64*3136)
	for i := range u {
		u[i] = float32(r.NormFloat64() * 3)
	}
	sp, sig := make([]float32, len(u)), make([]float32, len(u))
	b.Run("kernel", func(b *testing.B) {
		for b.Loop() {
			SoftplusNeg(sp, sig, u)
		}
	})
	b.Run("scalar", func(b *testing.B) {
		for b.Loop() {
			softplusNegGo(sp, sig, u)
		}
	})
}

// TestSoftplusNegExhaustive checks SoftplusNeg bit for bit against the
// scalar loop on all 2^32 float32 inputs (a few minutes on two cores; set
// DIM_EXHAUSTIVE=1 to run it).
func TestSoftplusNegExhaustive(t *testing.T) {
	if os.Getenv("DIM_EXHAUSTIVE") == "" {
		t.Skip("set DIM_EXHAUSTIVE=1 to check all 2^32 inputs")
	}
	const block = 1 << 20
	var bad atomic.Int64
	ParallelFor(1<<32/block, func(lo, hi int) {
		u := make([]float32, block)
		sp, sig := make([]float32, block), make([]float32, block)
		wsp, wsig := make([]float32, block), make([]float32, block)
		for b := lo; b < hi; b++ {
			for i := range u {
				u[i] = math.Float32frombits(uint32(b*block + i))
			}
			SoftplusNeg(sp, sig, u)
			softplusNegGo(wsp, wsig, u)
			for i := range u {
				if (math.Float32bits(sp[i]) != math.Float32bits(wsp[i]) || math.Float32bits(sig[i]) != math.Float32bits(wsig[i])) &&
					!(u[i] != u[i]) {
					if bad.Add(1) <= 5 {
						t.Errorf("u = %v (%#x): got (%v, %v), want (%v, %v)", u[i], math.Float32bits(u[i]), sp[i], sig[i], wsp[i], wsig[i])
					}
				}
			}
		}
	})
	if n := bad.Load(); n > 0 {
		t.Errorf("%d inputs differ", n)
	}
}
