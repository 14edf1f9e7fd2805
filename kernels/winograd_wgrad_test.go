package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// filterGradRef64 is the definition of Conv2d's filter gradient in float64
// (convBackwardRef's), and per filter tap the sum of the magnitudes of its
// terms (the scale of its rounding error).
func filterGradRef64(g ConvGeom, cout int, x, gout []float32) (gw, scale []float64) {
	w := make([]float32, cout*g.ColRows())
	gw, _, _ = convBackwardRef(g, cout, w, x, gout)
	scale, _, _ = convBackwardRef(g, cout, w, absSlice(x), absSlice(gout))
	for i := range scale {
		scale[i] += 1e-3
	}
	return gw, scale
}

// TestWinoFilterGrad compares winoFilterGrad (assembly transforms where the
// CPU has them, and Go ones) with the float64 definition of the filter
// gradient, added into a non-zero buffer: every stride-2 window of 3 to 6
// and stride-1 windows of 2 and 3, odd and unequal sides, tiles cut by the
// output's edge, and batches cut into chunks (winoWGradFloats lowered so
// that a chunk holds one to three images). The bound, 2e-5 of the sum of
// the terms' magnitudes, is TestConv2dWinograd's; a wrong transform entry,
// tap or tile is off by whole terms.
func TestWinoFilterGrad(t *testing.T) {
	cases := []struct {
		n, c, h, w, k, stride, pad, cout, chunkImages int
	}{
		{3, 64, 14, 14, 5, 2, 2, 128, 0}, // basic28x28's second convolution
		{4, 64, 16, 16, 4, 2, 1, 128, 3}, // basic32x32's second, chunks of 3 and 1
		{5, 16, 9, 9, 3, 2, 1, 16, 2},
		{3, 16, 10, 10, 6, 2, 2, 17, 0},
		{4, 17, 13, 11, 3, 2, 1, 19, 1},
		{2, 16, 12, 15, 5, 2, 2, 33, 0},
		{3, 16, 11, 9, 4, 2, 2, 16, 2},
		{5, 16, 11, 11, 3, 1, 1, 16, 2},
		{2, 20, 9, 6, 2, 1, 1, 17, 0},
		{3, 16, 7, 10, 3, 1, 0, 16, 1},
	}
	defer func(v int) { winoWGradFloats = v }(winoWGradFloats)
	forEachTransformPath(t, func(t *testing.T) {
		for _, tc := range cases {
			g := NewConvGeom(tc.n, tc.c, tc.h, tc.w, tc.k, tc.k, tc.stride, tc.pad)
			t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
				if !winoShapeOK(g, tc.cout) {
					t.Fatalf("geometry %+v refused", g)
				}
				winoWGradFloats = 4 << 20
				if tc.chunkImages > 0 {
					pl := newWinoPlan(g, tc.cout)
					winoWGradFloats = tc.chunkImages * pl.xi * pl.cp * pl.tiles
				}
				r := rand.New(rand.NewPCG(uint64(tc.c*tc.k), uint64(tc.h*tc.n)))
				x, gout := randWin(r, g.N*g.C*g.H*g.W), randWin(r, g.N*tc.cout*g.OH*g.OW)
				want, scale := filterGradRef64(g, tc.cout, x, gout)
				init := randWin(r, len(want))
				gw := append(append([]float32(nil), init...), float32(math.NaN()), 7)
				if !winoFilterGrad(g, tc.cout, x, gout, gw[:len(want)]) {
					t.Fatal("refused finite operands")
				}
				worst := 0.0
				for i, v := range want {
					d := math.Abs(float64(gw[i]) - (v + float64(init[i])))
					if !(d <= 2e-5*(scale[i]+math.Abs(float64(init[i])))) {
						t.Fatalf("gw[%d] = %v, want %v", i, gw[i], v+float64(init[i]))
					}
					worst = max(worst, d/scale[i])
				}
				if !math.IsNaN(float64(gw[len(want)])) || gw[len(want)+1] != 7 {
					t.Fatal("wrote past gw")
				}
				t.Logf("largest error %.3g of the terms' magnitudes", worst)
			})
		}
	})
}

// TestWinoFilterGradNonFinite: an Inf or NaN in the input or the output
// gradient refuses the call and leaves gw alone; Conv2dBackward then
// gives the direct product's filter gradient, bit for bit.
func TestWinoFilterGradNonFinite(t *testing.T) {
	g := NewConvGeom(3, 16, 9, 9, 3, 3, 2, 1)
	const cout = 16
	for _, bad := range []struct {
		what string
		v    float32
	}{{"x", float32(math.NaN())}, {"x", float32(math.Inf(-1))}, {"gout", float32(math.Inf(1))}} {
		r := rand.New(rand.NewPCG(5, 6))
		x, gout := randWin(r, g.N*g.C*g.H*g.W), randWin(r, g.N*cout*g.OH*g.OW)
		if bad.what == "x" {
			x[len(x)/2] = bad.v
		} else {
			gout[len(gout)/3] = bad.v
		}
		gw := randWin(r, cout*g.ColRows())
		before := append([]float32(nil), gw...)
		if winoFilterGrad(g, cout, x, gout, gw) {
			t.Fatalf("%s %v: accepted", bad.what, bad.v)
		}
		if !equalBits(before, gw) {
			t.Fatalf("%s %v: a refused call changed gw", bad.what, bad.v)
		}
	}
}

// TestWinogradFilterGradPays: large layers take the Winograd filter
// gradient (basic64x64's second convolution, alex64x64's 3 x 3 ones);
// basic28x28's and basic32x32's second convolutions, too few tiles and
// unhandled windows do not.
func TestWinogradFilterGradPays(t *testing.T) {
	for _, tc := range []struct {
		g    ConvGeom
		cout int
		want bool
	}{
		{NewConvGeom(64, 64, 32, 32, 4, 4, 2, 1), 128, true},   // basic64x64's second
		{NewConvGeom(64, 384, 15, 15, 3, 3, 1, 1), 384, true},  // alex64x64's fourth
		{NewConvGeom(64, 64, 14, 14, 5, 5, 2, 2), 128, false},  // basic28x28's second
		{NewConvGeom(64, 64, 16, 16, 4, 4, 2, 1), 128, false},  // basic32x32's second
		{NewConvGeom(64, 256, 8, 8, 4, 4, 2, 1), 512, false},   // basic64x64's fourth: 64 tiles
		{NewConvGeom(64, 384, 15, 15, 7, 7, 1, 3), 384, false}, // no Winograd form
	} {
		want := tc.want && elemAVX512
		if got := WinogradFilterGradPays(tc.g, tc.cout); got != want {
			t.Errorf("WinogradFilterGradPays(%+v, %d) = %v, want %v", tc.g, tc.cout, got, want)
		}
	}
}

// TestConv2dBackwardWinogradNoAlloc: a warm Conv2dBackward that takes both
// Winograd gradients allocates nothing.
func TestConv2dBackwardWinogradNoAlloc(t *testing.T) {
	g := NewConvGeom(64, 64, 32, 32, 4, 4, 2, 1) // basic64x64's second convolution
	const cout = 128
	if testing.Short() {
		t.Skip("a 4.3-GFLOP layer")
	}
	r := rand.New(rand.NewPCG(1, 2))
	k, p := g.ColRows(), g.OH*g.OW
	x, w, gout := randWin(r, g.N*g.C*g.H*g.W), randWin(r, cout*k), randWin(r, g.N*cout*p)
	gw, gb, gx := make([]float32, cout*k), make([]float32, cout), make([]float32, len(x))
	Conv2dBackward(g, cout, w, x, gout, gw, gb, gx, false)
	if a := testing.AllocsPerRun(3, func() { Conv2dBackward(g, cout, w, x, gout, gw, gb, gx, false) }); a != 0 {
		t.Errorf("Conv2dBackward allocates %v times per call", a)
	}
}
