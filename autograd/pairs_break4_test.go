package autograd

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/deepinfomax/deepinfomax/internal/testutil"
	"github.com/deepinfomax/deepinfomax/kernels"
	"github.com/deepinfomax/deepinfomax/tensor"
)

const break4Guard = float32(-777.25)

// TestBreak4AddTo: addTo around rowParMin, src longer than dst (its tail
// NaN, never read), dst a prefix of a bigger buffer whose tail must stay
// untouched, against the scalar loop bit for bit.
func TestBreak4AddTo(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, n := range []int{0, 1, rowParMin - 1, rowParMin, rowParMin + 1, 2*rowParMin + 3, 100003} {
		buf := make([]float32, n+50)
		for i := range buf {
			buf[i] = float32(r.NormFloat64())
			if i >= n {
				buf[i] = break4Guard
			}
		}
		src := make([]float32, n+77)
		for i := range src {
			src[i] = float32(r.NormFloat64())
			if i >= n {
				src[i] = float32(math.NaN())
			}
		}
		want := append([]float32(nil), buf...)
		for i := 0; i < n; i++ {
			want[i] += src[i]
		}
		addTo(buf[:n], src)
		if !testutil.SameBits(buf, want) {
			for i := range buf {
				if math.Float32bits(buf[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n=%d: [%d] = %v, want %v", n, i, buf[i], want[i])
				}
			}
		}
	}
}

// TestBreak4PairBackRows: the backward rows, serial vs split, fresh and
// accumulated, against a float64 reference, around normParMin.
func TestBreak4PairBackRows(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, c := range []struct{ n, l int }{{181, 1}, {128, 2}, {64, 8}, {3, 3641}, {127, 2}, {2, 8192}, {200, 1}, {5, 1}} {
		n, l := c.n, c.l
		w := n * l
		df := make([]float32, n*w)
		for i := range df {
			df[i] = float32(r.NormFloat64())
		}
		prior := make([]float32, n*w+9) // longer gradient buffer: tail untouched
		for i := range prior {
			prior[i] = float32(r.NormFloat64())
			if i >= n*w {
				prior[i] = break4Guard
			}
		}
		g := 1.7
		for _, fresh := range []bool{true, false} {
			var outs [2][]float32
			for mode := 0; mode < 2; mode++ {
				gu := append([]float32(nil), prior...)
				j := getPairJob()
				j.n, j.l, j.df, j.gu, j.fresh = n, l, df, gu, fresh
				j.cPos = float32(-g / float64(n*l))
				j.cNeg = float32(g / float64(n*(n-1)*l))
				if mode == 0 {
					j.backRows(0, n)
				} else {
					kernels.ParallelFor(n, j.bfn)
				}
				j.put()
				outs[mode] = gu
			}
			if !testutil.SameBits(outs[0], outs[1]) {
				t.Fatalf("n=%d l=%d fresh=%v: split rows differ", n, l, fresh)
			}
		}
		// End to end: u feeds PairMeans twice (the second accumulates) and
		// a Sum, so the gradient is non-fresh when PairMeans' pass runs.
		u := tensor.New(n, w)
		for i := range u.Data {
			u.Data[i] = float32(r.NormFloat64())
		}
		f := func(x float32, positive bool) (float32, float32) {
			if positive {
				return x * x, 2 * x
			}
			return float32(math.Sin(float64(x))), float32(math.Cos(float64(x)))
		}
		tp := NewTape()
		uv := tp.Leaf(u)
		loss := tp.Add(tp.Add(tp.PairMeans(uv, f), tp.Scale(tp.PairMeans(uv, f), 3)), tp.Scale(tp.Sum(uv), 0.5))
		if err := tp.Backward(loss); err != nil {
			t.Fatal(err)
		}
		cPos, cNeg := -1/float64(n*l), 1/float64(n*(n-1)*l)
		for i := range n {
			for k := range w {
				x := float64(u.Data[i*w+k])
				var d float64
				if k/l == i {
					d = 4 * cPos * 2 * float64(float32(x))
				} else {
					d = 4 * cNeg * float64(float32(math.Cos(x)))
				}
				d += 0.5
				got := float64(uv.Grad.Data[i*w+k])
				if math.Abs(got-d) > 1e-5*(1+math.Abs(d)) {
					t.Fatalf("n=%d l=%d: grad[%d,%d] = %v, want %v", n, l, i, k, got, d)
				}
			}
		}
	}
}
