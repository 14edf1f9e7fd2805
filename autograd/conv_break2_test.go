package autograd

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/deepinfomax/deepinfomax/kernels"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Adversarial tests of the session's autograd changes, written in review
// (second round): a recorded Conv2d on Winograd's path across steps whose
// filters change in place, Add through kernels.Add (operands aliased,
// broadcast), LayerNorm's affine gradients through
// kernels.LayerNormGradSums2 (odd widths, a lone last row).

// TestBreak2ConvWinogradSteps: a recorded Conv2d where WinogradPays, over
// steps that update its filters in place (as an optimiser does): each
// step's output has the bits of Conv2dWinograd on a copy of the current
// filters (no stale transform), its filter gradient the direct
// convolution's; a NaN input gives the direct convolution's outputs.
func TestBreak2ConvWinogradSteps(t *testing.T) {
	g := kernels.NewConvGeom(32, 16, 16, 16, 4, 4, 2, 1) // 32 images of 2 x 2 tiles: 128
	const cout = 17
	if !kernels.WinogradPays(g, cout) {
		t.Skip("Winograd's path is not taken on this CPU")
	}
	rng := tensor.NewRNG(71)
	x := randTensor(rng, -1, 1, g.N, g.C, g.H, g.W)
	w := randTensor(rng, -0.3, 0.3, cout, g.C, g.KH, g.KW)
	r := randTensor(rng, -1, 1, g.N, cout, g.OH, g.OW)
	tp := NewTape()
	for step := range 4 {
		tp.Reset()
		xv, wv := tp.Const(x), tp.Leaf(w)
		out := tp.Conv2d(xv, wv, nil, 2, 1)
		if err := tp.Backward(tp.Sum(tp.Mul(out, tp.Const(r)))); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, len(out.Value.Data))
		kernels.Conv2dWinograd(g, cout, slices.Clone(w.Data), nil, x.Data, want, nil)
		for i := range want {
			if math.Float32bits(out.Value.Data[i]) != math.Float32bits(want[i]) {
				t.Fatalf("step %d: output %d = %v, Winograd on the current filters %v", step, i, out.Value.Data[i], want[i])
			}
		}
		gw := make([]float32, len(w.Data))
		kernels.Conv2dBackward(g, cout, w.Data, x.Data, r.Data, gw, nil, nil, false)
		for i := range gw {
			if math.Float32bits(wv.Grad.Data[i]) != math.Float32bits(gw[i]) {
				t.Fatalf("step %d: filter gradient %d = %v, direct %v", step, i, wv.Grad.Data[i], gw[i])
			}
		}
		for i, gr := range wv.Grad.Data { // the update, in place
			w.Data[i] -= 0.1 * gr
		}
	}
	xn := x.Clone()
	xn.Data[5*g.H*g.W+3] = float32(math.NaN())
	tp.Reset()
	out := tp.Conv2d(tp.Const(xn), tp.Leaf(w), nil, 2, 1)
	want := make([]float32, len(out.Value.Data))
	kernels.Conv2d(g, cout, w.Data, nil, xn.Data, want, nil)
	for i := range want {
		if math.Float32bits(out.Value.Data[i]) != math.Float32bits(want[i]) {
			t.Fatalf("NaN input: output %d = %v, direct %v", i, out.Value.Data[i], want[i])
		}
	}
}

// TestBreak2AddAliased: x + x, (x + x) + x and x + bias (broadcast) on
// odd sizes: values one float32 addition each, gradients 2g, 3g and the
// bias's column sums, bit for bit.
func TestBreak2AddAliased(t *testing.T) {
	for _, n := range []int{1, 15, 17, 63, 65, 129} {
		rng := tensor.NewRNG(uint64(n))
		x := randTensor(rng, -2, 2, 3, n)
		gseed := randTensor(rng, -1, 1, 3, n)
		tp := NewTape()
		xv := tp.Leaf(x)
		y := tp.Add(xv, xv)
		z := tp.Add(y, xv)
		if err := tp.BackwardWith(z, gseed); err != nil {
			t.Fatal(err)
		}
		for i, v := range x.Data {
			if want := (v + v) + v; math.Float32bits(z.Value.Data[i]) != math.Float32bits(want) {
				t.Fatalf("n=%d: (x+x)+x [%d] = %v, want %v", n, i, z.Value.Data[i], want)
			}
			g := gseed.Data[i] // x's gradient: g through z, g twice through y
			if got := xv.Grad.Data[i]; !(math.Abs(float64(got-3*g)) <= 1e-6*math.Abs(float64(g))) {
				t.Fatalf("n=%d: gradient [%d] = %v, want 3 * %v", n, i, got, g)
			}
		}
		tp2 := NewTape()
		bias := randTensor(rng, -1, 1, n)
		xv2, bv := tp2.Leaf(x), tp2.Leaf(bias)
		out := tp2.Add(xv2, bv)
		if err := tp2.BackwardWith(out, gseed); err != nil {
			t.Fatal(err)
		}
		for j := range n {
			var s float64
			for i := range 3 {
				s += float64(gseed.Data[i*n+j])
				if want := x.Data[i*n+j] + bias.Data[j]; math.Float32bits(out.Value.Data[i*n+j]) != math.Float32bits(want) {
					t.Fatalf("n=%d: x + bias [%d,%d] = %v, want %v", n, i, j, out.Value.Data[i*n+j], want)
				}
			}
			if d := math.Abs(float64(bv.Grad.Data[j]) - s); d > 1e-6*(math.Abs(s)+1) {
				t.Fatalf("n=%d: bias gradient [%d] = %v, want %v", n, j, bv.Grad.Data[j], s)
			}
		}
	}
}

// TestBreak2LayerNormAffineGrads: LayerNorm's gamma and beta gradients
// (two rows at a time through kernels.LayerNormGradSums2, a lone last row
// when the rows are odd) and its input gradient against float64, on odd
// widths; AddLayerNorm has LayerNorm(Add)'s bits.
func TestBreak2LayerNormAffineGrads(t *testing.T) {
	for _, c := range []struct{ rows, d int }{{1, 1}, {1, 17}, {2, 15}, {3, 16}, {5, 33}, {7, 100}, {4, 1}} {
		name := fmt.Sprintf("%dx%d", c.rows, c.d)
		rng := tensor.NewRNG(uint64(c.rows*1000 + c.d))
		x := randTensor(rng, -2, 2, c.rows, c.d)
		res := randTensor(rng, -1, 1, c.rows, c.d)
		gam := randTensor(rng, 0.5, 1.5, c.d)
		bet := randTensor(rng, -0.5, 0.5, c.d)
		seed := randTensor(rng, -1, 1, c.rows, c.d)
		const eps = 1e-5
		tp := NewTape()
		xv, gv, bv := tp.Leaf(x), tp.Leaf(gam), tp.Leaf(bet)
		out := tp.LayerNorm(xv, gv, bv, eps)
		if err := tp.BackwardWith(out, seed); err != nil {
			t.Fatal(err)
		}
		// float64 reference.
		dg, db := make([]float64, c.d), make([]float64, c.d)
		dx := make([]float64, c.rows*c.d)
		for i := range c.rows {
			row := x.Data[i*c.d : (i+1)*c.d]
			var m, v float64
			for _, e := range row {
				m += float64(e)
			}
			m /= float64(c.d)
			for _, e := range row {
				v += (float64(e) - m) * (float64(e) - m)
			}
			is := 1 / math.Sqrt(v/float64(c.d)+eps)
			var a, b float64
			for j, e := range row {
				xh := (float64(e) - m) * is
				g := float64(seed.Data[i*c.d+j])
				dg[j] += g * xh
				db[j] += g
				a += g * float64(gam.Data[j])
				b += g * float64(gam.Data[j]) * xh
			}
			for j, e := range row {
				xh := (float64(e) - m) * is
				g := float64(seed.Data[i*c.d+j]) * float64(gam.Data[j])
				dx[i*c.d+j] = is * (g - a/float64(c.d) - xh*b/float64(c.d))
			}
		}
		for j := range c.d {
			if d := math.Abs(float64(gv.Grad.Data[j]) - dg[j]); d > 1e-5*(1+math.Abs(dg[j])) {
				t.Fatalf("%s: gamma gradient [%d] = %v, want %v", name, j, gv.Grad.Data[j], dg[j])
			}
			if d := math.Abs(float64(bv.Grad.Data[j]) - db[j]); d > 1e-5*(1+math.Abs(db[j])) {
				t.Fatalf("%s: beta gradient [%d] = %v, want %v", name, j, bv.Grad.Data[j], db[j])
			}
		}
		if c.d > 1 {
			for i, want := range dx {
				if d := math.Abs(float64(xv.Grad.Data[i]) - want); d > 2e-4*(1+math.Abs(want)) {
					t.Fatalf("%s: input gradient [%d] = %v, want %v", name, i, xv.Grad.Data[i], want)
				}
			}
		}
		// AddLayerNorm against Add then LayerNorm, bit for bit.
		var vals, grads [2][][]float32
		for k := range 2 {
			tp := NewTape()
			xv, rv, gv, bv := tp.Leaf(x), tp.Leaf(res), tp.Leaf(gam), tp.Leaf(bet)
			var out *Var
			if k == 0 {
				out = tp.AddLayerNorm(xv, rv, gv, bv, eps)
			} else {
				out = tp.LayerNorm(tp.Add(xv, rv), gv, bv, eps)
			}
			if err := tp.BackwardWith(out, seed); err != nil {
				t.Fatal(err)
			}
			vals[k] = [][]float32{slices.Clone(out.Value.Data)}
			grads[k] = [][]float32{slices.Clone(xv.Grad.Data), slices.Clone(rv.Grad.Data), slices.Clone(gv.Grad.Data), slices.Clone(bv.Grad.Data)}
		}
		for k, pair := range [][2][][]float32{{vals[0], vals[1]}, {grads[0], grads[1]}} {
			for q := range pair[0] {
				for i := range pair[0][q] {
					if math.Float32bits(pair[0][q][i]) != math.Float32bits(pair[1][q][i]) {
						t.Fatalf("%s: AddLayerNorm against LayerNorm(Add): %s %d [%d] = %v, %v", name, []string{"value", "gradient"}[k], q, i, pair[0][q][i], pair[1][q][i])
					}
				}
			}
		}
	}
}
