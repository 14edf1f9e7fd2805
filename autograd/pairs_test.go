package autograd

import (
	"math"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// TestPairMeans checks the value and gradient of PairMeans and
// PairMeansSlices against a float64 formula, on sizes below and above the
// parallel split, that the two agree bit for bit, and that a warm call
// allocates nothing.
func TestPairMeans(t *testing.T) {
	// A nonlinear term whose positive and negative parts differ.
	f := func(u float32, positive bool) (float32, float32) {
		if positive {
			return u * u, 2 * u
		}
		return float32(math.Sin(float64(u))), float32(math.Cos(float64(u)))
	}
	fs := func(u, fv, df []float32, positive bool) {
		for i, v := range u {
			fv[i], df[i] = f(v, positive)
		}
	}
	build := func(tp *Tape, u *Var, slices bool) *Var {
		if slices {
			return tp.PairMeansSlices(u, fs)
		}
		return tp.PairMeans(u, f)
	}
	for _, c := range []struct{ n, l int }{{2, 1}, {3, 7}, {5, 1}, {64, 5}, {33, 17}, {64, 49}} {
		u := tensor.New(c.n, c.n*c.l)
		tensor.NewRNG(uint64(c.n*100+c.l)).Normal(u, 0, 2)
		var first []float32 // PairMeans's value and gradient
		for _, slices := range []bool{false, true} {
			tp := NewTape()
			uv := tp.Leaf(u)
			loss := build(tp, uv, slices)
			if err := tp.Backward(loss); err != nil {
				t.Fatal(err)
			}
			w := c.n * c.l
			var pos, neg float64
			for i := range c.n {
				for k := range w {
					x := float64(u.Data[i*w+k])
					if k/c.l == i {
						pos += x * x
					} else {
						neg += math.Sin(x)
					}
				}
			}
			np, nn := float64(c.n*c.l), float64(c.n*(c.n-1)*c.l)
			want := neg/nn - pos/np
			if got := float64(loss.Value.Data[0]); math.Abs(got-want) > 1e-5*(1+math.Abs(want)) {
				t.Errorf("n=%d l=%d: value %v, want %v", c.n, c.l, got, want)
			}
			for i := range c.n {
				for k := range w {
					x := float64(u.Data[i*w+k])
					g := math.Cos(x) / nn
					if k/c.l == i {
						g = -2 * x / np
					}
					if got := float64(uv.Grad.Data[i*w+k]); math.Abs(got-g) > 1e-6*(1+math.Abs(g)) {
						t.Fatalf("n=%d l=%d: gradient [%d,%d] %v, want %v", c.n, c.l, i, k, got, g)
					}
				}
			}
			got := append([]float32{loss.Value.Data[0]}, uv.Grad.Data...)
			if first == nil {
				first = got
			} else {
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
						t.Fatalf("n=%d l=%d: PairMeansSlices element %d = %v, PairMeans %v", c.n, c.l, i, got[i], first[i])
					}
				}
			}
			step := func() {
				tp.Reset()
				uv := tp.Leaf(u)
				if err := tp.Backward(build(tp, uv, slices)); err != nil {
					t.Fatal(err)
				}
			}
			step()
			if a := testing.AllocsPerRun(3, step); a != 0 {
				t.Errorf("n=%d l=%d slices=%v: %v allocations per warm call", c.n, c.l, slices, a)
			}
		}
	}
	for _, shape := range [][]int{{1, 3}, {2, 0}, {2, 3}, {4}} {
		tp := NewTape()
		tp.PairMeans(tp.Leaf(tensor.New(shape...)), f)
		if tp.Err() == nil {
			t.Errorf("scores of shape %v: no error", shape)
		}
	}
}
