package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// inputGradRef64 is the definition of Conv2d's input gradient in float64
// for the output gradient gout (convBackwardRef's), and per input the sum
// of the magnitudes of its terms (the scale of its rounding error): the
// same sums of |gout| |w|.
func inputGradRef64(g ConvGeom, cout int, w, gout []float32) (gx, scale []float64) {
	x := make([]float32, g.N*g.C*g.H*g.W)
	_, _, gx = convBackwardRef(g, cout, w, x, gout)
	_, _, scale = convBackwardRef(g, cout, absSlice(w), x, absSlice(gout))
	for i := range scale {
		scale[i] += 1e-3
	}
	return gx, scale
}

// absSlice returns the magnitudes of s.
func absSlice(s []float32) []float32 {
	a := make([]float32, len(s))
	for i, v := range s {
		a[i] = float32(math.Abs(float64(v)))
	}
	return a
}

// winoGradCases are geometries winoGradGeom accepts: every stride-2 window
// of 3 to 6 with even and odd padding, stride-1 windows of 2 and 3, odd
// and unequal sides, batches that leave a partial last group.
var winoGradCases = []struct{ n, c, h, w, k, stride, pad, cout int }{
	{3, 64, 14, 14, 5, 2, 2, 128}, // basic28x28's second convolution
	{5, 64, 16, 16, 4, 2, 1, 128}, // basic32x32's second (9 phase rows)
	{9, 16, 9, 9, 3, 2, 1, 16},
	{9, 16, 10, 10, 6, 2, 2, 16},
	{4, 17, 13, 11, 3, 2, 1, 19},
	{2, 16, 12, 15, 5, 2, 2, 33},
	{3, 16, 12, 10, 4, 2, 2, 16},
	{7, 16, 8, 8, 6, 2, 3, 16},
	{5, 16, 11, 11, 3, 1, 1, 16},
	{2, 20, 9, 6, 2, 1, 1, 17},
	{3, 16, 7, 10, 3, 1, 2, 16},
}

// TestWinoInputGrad compares winoInputGrad (assembly transforms where the
// CPU has them, and Go ones), writing and adding, with the float64
// definition of the input gradient, within 2e-5 of the sum of the terms'
// magnitudes (about 30 rounding units; a wrong tap, phase or offset is off
// by a whole term), and checks that nothing past gx is written.
func TestWinoInputGrad(t *testing.T) {
	forEachTransformPath(t, func(t *testing.T) {
		for _, tc := range winoGradCases {
			g := NewConvGeom(tc.n, tc.c, tc.h, tc.w, tc.k, tc.k, tc.stride, tc.pad)
			t.Run(fmt.Sprintf("%+v", tc), func(t *testing.T) {
				if _, _, ok := winoGradGeom(g, tc.cout); !ok {
					t.Fatalf("geometry %+v refused", g)
				}
				r := rand.New(rand.NewPCG(uint64(tc.c*tc.k), uint64(tc.h)))
				x, w, gout := randWin(r, g.N*g.C*g.H*g.W), randWin(r, tc.cout*g.ColRows()), randWin(r, g.N*tc.cout*g.OH*g.OW)
				want, scale := inputGradRef64(g, tc.cout, w, gout)
				for _, overwrite := range []bool{true, false} {
					init := randWin(r, len(want))
					gx := append(append([]float32(nil), init...), float32(math.NaN()), 7)
					if !winoInputGrad(g, tc.cout, w, x, gout, gx[:len(want)], overwrite) {
						t.Fatal("refused finite filters")
					}
					worst := 0.0
					for i, v := range want {
						if !overwrite {
							v += float64(init[i])
						}
						d := math.Abs(float64(gx[i]) - v)
						if !(d <= 2e-5*(scale[i]+math.Abs(float64(init[i])))) {
							t.Fatalf("overwrite %v: gx[%d] = %v, want %v", overwrite, i, gx[i], v)
						}
						worst = max(worst, d/scale[i])
					}
					if !math.IsNaN(float64(gx[len(want)])) || gx[len(want)+1] != 7 {
						t.Fatal("wrote past gx")
					}
					t.Logf("overwrite %v: largest error %.3g of the terms' magnitudes", overwrite, worst)
				}
			})
		}
	})
}

// TestWinoInputGradNonFinite: a NaN in one image's output gradient makes
// its group the direct product's, bit for bit (the NaN reaches only the
// inputs its output reads), and leaves the other groups' Winograd values;
// a non-finite filter refuses the call and leaves gx alone.
func TestWinoInputGradNonFinite(t *testing.T) {
	g := NewConvGeom(20, 64, 14, 14, 5, 5, 2, 2)
	const cout = 32
	r := rand.New(rand.NewPCG(3, 4))
	x, w, gout := randWin(r, g.N*g.C*g.H*g.W), randWin(r, cout*g.ColRows()), randWin(r, g.N*cout*g.OH*g.OW)
	pl := newWinoPlan(g, cout) // the same groups as the stride-1 form's: the tiles are the same
	g2, _, _ := winoGradGeom(g, cout)
	pl2 := newWinoPlan(g2, 4*g.C)
	if pl.group != pl2.group || pl2.groups < 3 {
		t.Fatalf("groups of %d and %d images, %d groups", pl.group, pl2.group, pl2.groups)
	}
	bad := pl2.group + 1 // an image of the second group
	gout[(bad*cout+5)*g.OH*g.OW+10] = float32(math.NaN())
	want, _ := inputGradRef64(g, cout, w, gout)
	direct := make([]float32, len(x))
	conv2dBackwardDirect(g, cout, w, x, gout, nil, nil, direct, true)
	gx := make([]float32, len(x))
	if !winoInputGrad(g, cout, w, x, gout, gx, true) {
		t.Fatal("refused finite filters")
	}
	chw := g.C * g.H * g.W
	g0, g1 := pl2.group*chw, 2*pl2.group*chw
	for i := range gx {
		switch {
		case i >= g0 && i < g1:
			if math.Float32bits(gx[i]) != math.Float32bits(direct[i]) {
				t.Fatalf("gx[%d] = %v in the non-finite group, direct product %v", i, gx[i], direct[i])
			}
		case math.IsNaN(float64(gx[i])) || math.Abs(float64(gx[i])-want[i]) > 1e-3:
			t.Fatalf("gx[%d] = %v outside the non-finite group, want %v", i, gx[i], want[i])
		}
	}
	nans := 0
	for _, v := range gx {
		if math.IsNaN(float64(v)) {
			nans++
		}
	}
	if nans == 0 || nans > g.C*g.KH*g.KW {
		t.Fatalf("%d NaN inputs, want the %d or fewer the NaN output reads", nans, g.C*g.KH*g.KW)
	}
	w[77] = float32(math.Inf(1))
	before := slices.Clone(gx)
	if winoInputGrad(g, cout, w, x, gout, gx, false) {
		t.Fatal("accepted an infinite filter")
	}
	if !equalBits(before, gx) { // NaNs compare by their bits
		t.Fatal("a refused call changed gx")
	}
}

// TestWinogradInputGradPays: basic28x28's second convolution at the
// training batch takes the Winograd input gradient; basic32x32's (9 phase
// rows for 8 image rows: more tiles than its forward pass), small
// batches, thin layers and unhandled windows do not.
func TestWinogradInputGradPays(t *testing.T) {
	for _, tc := range []struct {
		g    ConvGeom
		cout int
		want bool
	}{
		{NewConvGeom(64, 64, 14, 14, 5, 5, 2, 2), 128, true},
		{NewConvGeom(32, 64, 14, 14, 5, 5, 2, 2), 128, true},
		{NewConvGeom(16, 64, 14, 14, 5, 5, 2, 2), 128, false}, // 64 tiles
		{NewConvGeom(64, 64, 16, 16, 4, 4, 2, 1), 128, false},
		{NewConvGeom(64, 8, 14, 14, 5, 5, 2, 2), 128, false},
		{NewConvGeom(64, 64, 14, 14, 7, 7, 2, 3), 128, false},
		{NewConvGeom(64, 64, 14, 14, 5, 3, 2, 2), 128, false},
	} {
		want := tc.want && elemAVX512
		if got := WinogradInputGradPays(tc.g, tc.cout); got != want {
			t.Errorf("WinogradInputGradPays(%+v, %d) = %v, want %v", tc.g, tc.cout, got, want)
		}
	}
}

// TestConv2dBackwardInputGradOnly: the input gradient alone, on a job
// never used before (a fresh process's first call), once divided by the
// filter gradient's split of a recycled job.
func TestConv2dBackwardInputGradOnly(t *testing.T) {
	convFree.mu.Lock()
	saved := convFree.free
	convFree.free = nil
	convFree.mu.Unlock()
	defer func() {
		convFree.mu.Lock()
		convFree.free = append(convFree.free, saved...)
		convFree.mu.Unlock()
	}()
	g := NewConvGeom(3, 5, 7, 9, 3, 3, 2, 1)
	const cout = 4
	r := rand.New(rand.NewPCG(8, 9))
	x, w, gout := randWin(r, g.N*g.C*g.H*g.W), randWin(r, cout*g.ColRows()), randWin(r, g.N*cout*g.OH*g.OW)
	want, scale := inputGradRef64(g, cout, w, gout)
	gx := make([]float32, len(x))
	Conv2dBackward(g, cout, w, x, gout, nil, nil, gx, true)
	for i, v := range want {
		if math.Abs(float64(gx[i])-v) > 1e-5*scale[i] {
			t.Fatalf("gx[%d] = %v, want %v", i, gx[i], v)
		}
	}
}
