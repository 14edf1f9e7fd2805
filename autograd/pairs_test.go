package autograd

import (
	"math"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// TestPairMeans checks PairMeans's value and gradient against a float64
// formula, on sizes below and above the parallel split, and that a warm
// call allocates nothing.
func TestPairMeans(t *testing.T) {
	// A nonlinear term whose positive and negative parts differ.
	f := func(u float32, positive bool) (float32, float32) {
		if positive {
			return u * u, 2 * u
		}
		return float32(math.Sin(float64(u))), float32(math.Cos(float64(u)))
	}
	for _, c := range []struct{ n, l int }{{2, 1}, {3, 7}, {5, 1}, {64, 5}, {33, 17}} {
		u := tensor.New(c.n, c.n*c.l)
		tensor.NewRNG(uint64(c.n*100+c.l)).Normal(u, 0, 2)
		tp := NewTape()
		uv := tp.Leaf(u)
		loss := tp.PairMeans(uv, f)
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
		step := func() {
			tp.Reset()
			uv := tp.Leaf(u)
			if err := tp.Backward(tp.PairMeans(uv, f)); err != nil {
				t.Fatal(err)
			}
		}
		step()
		if a := testing.AllocsPerRun(3, step); a != 0 {
			t.Errorf("n=%d l=%d: %v allocations per warm call", c.n, c.l, a)
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
