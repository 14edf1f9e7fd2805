package autograd

import (
	"math/rand/v2"
	"testing"

	"github.com/deepinfomax/deepinfomax/internal/testutil"
	"github.com/deepinfomax/deepinfomax/kernels"
)

// TestRowPass checks the passes split across cores against the one-core
// loops they replaced, bit for bit, below and above the split's threshold.
func TestRowPass(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(r.NormFloat64())
		}
		return s
	}
	for _, sz := range []struct{ rows, cols int }{{1, 1}, {3, 7}, {3137, 515}, {64, 1024}, {70001, 1}} {
		rows, cols := sz.rows, sz.cols
		g, y := fill(rows*cols), fill(rows*cols)

		gb := fill(cols)
		want := append([]float32(nil), gb...)
		rowPass(rowBiasGrad, gb, g, nil, rows, cols)
		for i := range rows {
			for j, v := range g[i*cols : (i+1)*cols] {
				want[j] += v
			}
		}
		if !testutil.SameBits(gb, want) {
			t.Fatalf("%dx%d: %s differs", rows, cols, "bias grad")
		}

		got, want := fill(rows*cols), make([]float32, rows*cols)
		rowPass(rowReLUBack, got, g, y, 1, rows*cols)
		kernels.ReLUBackward(want, g, y)
		if !testutil.SameBits(got, want) {
			t.Fatalf("%dx%d: %s differs", rows, cols, "relu backward")
		}

		got = fill(rows * cols)
		want = append([]float32(nil), got...)
		rowPass(rowReLUBackAdd, got, g, y, 1, rows*cols)
		kernels.ReLUBackwardAdd(want, g, y)
		if !testutil.SameBits(got, want) {
			t.Fatalf("%dx%d: %s differs", rows, cols, "relu backward add")
		}

		got = fill(rows * cols)
		want = append([]float32(nil), got...)
		addTo(got, g)
		for i, v := range g {
			want[i] += v
		}
		if !testutil.SameBits(got, want) {
			t.Fatalf("%dx%d: %s differs", rows, cols, "add")
		}
	}
}
