package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// Adversarial tests of Conv2dWinograd (decision #51), written in review.
// TestWinogradBreakOneRowImages and TestWinogradBreakNonFinite failed on
// the implementation they were written against and pin down the two
// defects fixed since; the others guard properties an implementation could
// easily lose (edge geometries, memory outside the slices, the job pool and
// the filter cache under concurrency, the reach of non-finite values).

// wbGuardBits is a quiet NaN with a payload, written around and past the
// operands: a read of it turns an output NaN, and a write over it changes
// its bits.
const wbGuardBits = 0x7fc5a5a5

var wbGuard = math.Float32frombits(wbGuardBits)

// wbCase is one Conv2dWinograd call.
type wbCase struct {
	n, c, h, w, k, pad, cout int
	bias, epi, relu          bool
}

func (tc wbCase) String() string {
	return fmt.Sprintf("n%d_c%d_%dx%d_k%d_p%d_co%d_b%v_e%v_r%v", tc.n, tc.c, tc.h, tc.w, tc.k, tc.pad, tc.cout, tc.bias, tc.epi, tc.relu)
}

func (tc wbCase) geom() ConvGeom {
	return NewConvGeom(tc.n, tc.c, tc.h, tc.w, tc.k, tc.k, 2, tc.pad)
}

// wbEmbed returns a slice of n values drawn by fill, of length n+extra,
// at offset off in a larger array; everything else in the array, the
// extra values included, is wbGuard.
func wbEmbed(n, off, extra, tail int, fill func(i int) float32) (big, s []float32) {
	big = make([]float32, off+n+extra+tail)
	for i := range big {
		big[i] = wbGuard
	}
	s = big[off : off+n+extra]
	for i := range n {
		s[i] = fill(i)
	}
	return big, s
}

// wbGuardsIntact reports the first index of big outside [lo, hi) whose
// bits are no longer wbGuard's, or -1.
func wbGuardsIntact(big []float32, lo, hi int) int {
	for i, v := range big {
		if (i < lo || i >= hi) && math.Float32bits(v) != wbGuardBits {
			return i
		}
	}
	return -1
}

// wbCheckConv runs Conv2dWinograd on tc with every operand an odd-offset
// sub-slice of a guarded array (x of exact length with guards before and
// after; w, bias, the epilogue and out longer than needed, their extra
// values guards) and checks every output against the float64 definition,
// that nothing outside out[:N*cout*OH*OW] was written and that no operand
// was.
func wbCheckConv(t *testing.T, tc wbCase, seed uint64) {
	t.Helper()
	g := tc.geom()
	if !winoShapeOK(g, tc.cout) {
		t.Fatalf("geometry %+v with %d filters refused", g, tc.cout)
	}
	r := rand.New(rand.NewPCG(seed, uint64(tc.c*1000+tc.h)))
	uni := func(int) float32 { return r.Float32()*2 - 1 }
	nx, nw, nout := g.N*g.C*g.H*g.W, tc.cout*g.ColRows(), g.N*tc.cout*g.OH*g.OW
	xBig, x := wbEmbed(nx, 5, 0, 7, uni)
	wBig, w := wbEmbed(nw, 3, 9, 2, uni)
	var bias, bBig []float32
	if tc.bias {
		bBig, bias = wbEmbed(tc.cout, 1, 3, 0, uni)
	}
	var epi *ConvEpilogue
	var eBig [3][]float32
	if tc.epi {
		epi = &ConvEpilogue{ReLU: tc.relu}
		eBig[0], epi.Sub = wbEmbed(tc.cout, 1, 2, 0, uni)
		eBig[1], epi.Mul = wbEmbed(tc.cout, 1, 2, 0, uni)
		eBig[2], epi.Add = wbEmbed(tc.cout, 1, 2, 0, uni)
	}
	inputs := [][]float32{xBig, wBig, bBig, eBig[0], eBig[1], eBig[2]}
	saved := make([][]float32, len(inputs))
	for i, in := range inputs {
		saved[i] = slices.Clone(in)
	}
	const outOff = 11
	outBig, out := wbEmbed(0, outOff, nout+5, 13, nil)

	want, scale := convRef64(g, tc.cout, w[:nw], bias, x, epi)
	Conv2dWinograd(g, tc.cout, w, bias, x, out, epi)

	worst := 0.0
	for i, v := range want {
		got := float64(out[i])
		d := math.Abs(got - v)
		if !(d <= 2e-5*scale[i]) {
			n, rest := i/(tc.cout*g.OH*g.OW), i%(tc.cout*g.OH*g.OW)
			co, p := rest/(g.OH*g.OW), rest%(g.OH*g.OW)
			t.Fatalf("output %d (image %d, channel %d, row %d, column %d) = %v, want %v (error %.3g of scale %.3g)",
				i, n, co, p/g.OW, p%g.OW, out[i], v, d/scale[i], scale[i])
		}
		if tc.epi && tc.relu && !(got >= 0) {
			t.Fatalf("output %d = %v after the ReLU", i, got)
		}
		worst = max(worst, d/scale[i])
	}
	if i := wbGuardsIntact(outBig, outOff, outOff+nout); i >= 0 {
		t.Fatalf("wrote outside out[:%d]: at %d of the output array (out starts at %d), now %v", nout, i, outOff, outBig[i])
	}
	for k, in := range inputs {
		for i := range in {
			if math.Float32bits(in[i]) != math.Float32bits(saved[k][i]) {
				t.Fatalf("operand %d was written at %d", k, i)
			}
		}
	}
	t.Logf("largest error %.3g of the terms' magnitudes", worst)
}

// TestWinogradBreakGeometries: the edges of what winoShapeOK accepts
// (pads 0 and K-1 for every window, outputs of 1, 2, 3 and 5 a side,
// unequal sides, 64 x 64 images, one image, batches that leave a partial
// last group, 16, 17 and 300 filters, 16, 17 and 513 channels), with and
// without bias, epilogue and ReLU, every operand at an odd offset in a
// guarded array.
func TestWinogradBreakGeometries(t *testing.T) {
	cases := []wbCase{
		// Pad 0 and K-1 for each window.
		{2, 16, 9, 9, 3, 0, 16, true, true, true},
		{2, 16, 9, 9, 3, 2, 16, false, true, false},
		{2, 16, 10, 10, 4, 0, 16, true, false, false},
		{2, 16, 10, 10, 4, 3, 16, false, true, true},
		{2, 16, 11, 11, 5, 0, 16, true, true, false},
		{2, 16, 11, 11, 5, 4, 16, true, true, true},
		{2, 16, 12, 12, 6, 0, 16, false, false, false},
		{2, 16, 12, 12, 6, 5, 16, true, true, true},
		// Tiny outputs: 1 x 1, 1 x 1 from a 2 x 2 image, 2 x 3, 5 x 5, a
		// patch almost all padding.
		{1, 16, 3, 3, 3, 0, 16, true, true, true},
		{3, 16, 4, 4, 4, 0, 17, true, false, false},
		{1, 16, 5, 5, 5, 0, 16, false, true, true},
		{1, 16, 6, 6, 6, 0, 16, true, true, false},
		{1, 16, 2, 2, 3, 1, 16, true, true, true},
		{1, 16, 2, 3, 4, 1, 16, true, false, false},
		{2, 16, 2, 2, 6, 5, 16, true, true, true},
		{2, 16, 3, 2, 6, 5, 16, false, true, false},
		{5, 16, 5, 7, 3, 0, 16, true, true, true},
		{2, 16, 11, 11, 3, 0, 16, false, false, false},
		{1, 16, 3, 9, 3, 1, 16, true, true, true},
		{1, 16, 9, 3, 3, 1, 16, true, true, true},
		{1, 16, 3, 1, 3, 1, 16, true, false, false}, // one column, three rows
		// Large and unequal sides: one image a group, many tiles.
		{1, 16, 64, 64, 4, 1, 16, true, true, true},
		{1, 16, 64, 64, 3, 1, 16, false, true, false},
		{1, 16, 33, 17, 5, 2, 16, true, true, true},
		{2, 16, 17, 33, 6, 2, 20, true, false, false},
		{2, 16, 40, 5, 4, 2, 16, false, true, true},
		// Batches: 2 groups of 32 and 1, 3 groups (32, 32, 6), 1 group of
		// 7, groups of 8 and 1.
		{33, 16, 8, 8, 4, 1, 16, true, true, true},
		{70, 16, 6, 6, 3, 1, 16, false, true, false},
		{7, 16, 16, 16, 5, 2, 16, true, true, true},
		{9, 16, 16, 16, 5, 2, 16, true, false, false},
		// Filters and channels.
		{2, 16, 8, 8, 4, 1, 300, true, true, true},
		{2, 16, 8, 8, 4, 1, 17, false, true, false},
		{1, 17, 8, 8, 5, 2, 16, true, true, true},
		{1, 513, 8, 8, 6, 2, 16, true, true, false},
		{1, 513, 7, 7, 3, 1, 33, false, false, false},
		// The encoders' own convolutions, at a small batch.
		{2, 64, 14, 14, 5, 2, 128, true, true, true},
		{2, 128, 8, 8, 4, 1, 256, true, true, true},
	}
	forEachTransformPath(t, func(t *testing.T) {
		for i, tc := range cases {
			t.Run(tc.String(), func(t *testing.T) { wbCheckConv(t, tc, uint64(i)) })
		}
	})
}

// TestWinogradBreakOneRowImages: images of one row (or of two rows and one
// column) are accepted by CanWinograd and computed with exactly sized
// inputs. The first version panicked with an index out of range: runChunk
// started phase (p, q) of channel c of the group's first image n0 at
// (n0*C + c)*H*W + p*W + q and winoIn took &x[base] before its gathers
// (which are masked to the taps inside the image and read nothing there),
// past the end of x for the last channel of the last image when H = 1, or
// H = 2 and W = 1; with several groups the panic came from a pool
// goroutine and killed the process. Now p*W + q is added to the lanes'
// offsets instead.
func TestWinogradBreakOneRowImages(t *testing.T) {
	cases := []wbCase{
		{1, 16, 1, 8, 3, 1, 16, true, true, true},
		{1, 16, 1, 9, 4, 2, 16, false, false, false},
		{1, 16, 1, 1, 3, 1, 16, true, false, false},
		{1, 16, 2, 1, 3, 1, 16, false, true, true},
		{1, 16, 1, 12, 6, 3, 16, true, true, false},
	}
	forEachTransformPath(t, func(t *testing.T) {
		for i, tc := range cases {
			t.Run(tc.String(), func(t *testing.T) {
				defer func() {
					if e := recover(); e != nil {
						t.Fatalf("geometry %+v: Conv2dWinograd panicked: %v", tc.geom(), e)
					}
				}()
				wbCheckConv(t, tc, uint64(100+i))
			})
		}
	})
}

// TestWinogradBreakRefusesBadOperands: operands too short panic before
// anything is computed, and geometries at the edge of winoShapeOK are
// refused (pad = K, 15 channels or filters, stride 1 or 3).
func TestWinogradBreakRefusesBadOperands(t *testing.T) {
	g := NewConvGeom(2, 16, 8, 8, 4, 4, 2, 1)
	k, nx, nout := g.ColRows(), 2*16*64, 2*16*16
	ok := func() (w, bias, x, out []float32, epi *ConvEpilogue) {
		return make([]float32, 16*k), make([]float32, 16), make([]float32, nx), make([]float32, nout),
			&ConvEpilogue{Sub: make([]float32, 16), Mul: make([]float32, 16), Add: make([]float32, 16)}
	}
	for _, c := range []struct {
		name  string
		g     ConvGeom
		cout  int
		spoil func(w, bias, x, out *[]float32, epi *ConvEpilogue)
	}{
		{"short w", g, 16, func(w, _, _, _ *[]float32, _ *ConvEpilogue) { *w = (*w)[:16*k-1] }},
		{"short bias", g, 16, func(_, b, _, _ *[]float32, _ *ConvEpilogue) { *b = (*b)[:15] }},
		{"short x", g, 16, func(_, _, x, _ *[]float32, _ *ConvEpilogue) { *x = (*x)[:nx-1] }},
		{"short out", g, 16, func(_, _, _, o *[]float32, _ *ConvEpilogue) { *o = (*o)[:nout-1] }},
		{"short epilogue", g, 16, func(_, _, _, _ *[]float32, e *ConvEpilogue) { e.Add = e.Add[:15] }},
		{"inconsistent OH", ConvGeom{N: 2, C: 16, H: 8, W: 8, KH: 4, KW: 4, Stride: 2, Pad: 1, OH: 5, OW: 4}, 16, nil},
		{"pad = K", NewConvGeom(2, 16, 8, 8, 4, 4, 2, 4), 16, nil},
		{"15 channels", NewConvGeom(2, 15, 8, 8, 4, 4, 2, 1), 16, nil},
		{"15 filters", g, 15, nil},
		{"stride 1", NewConvGeom(2, 16, 8, 8, 4, 4, 1, 1), 16, nil},
		{"stride 3", NewConvGeom(2, 16, 8, 8, 4, 4, 3, 1), 16, nil},
		{"window 2", NewConvGeom(2, 16, 8, 8, 2, 2, 2, 1), 16, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, bias, x, out, epi := ok()
			if c.spoil != nil {
				c.spoil(&w, &bias, &x, &out, epi)
			} else {
				if winoShapeOK(c.g, c.cout) && c.g.OH == OutSize(c.g.H, c.g.KH, c.g.Stride, c.g.Pad) {
					t.Fatalf("winoShapeOK(%+v, %d) = true", c.g, c.cout)
				}
				w, x, out = make([]float32, 64*c.g.ColRows()), make([]float32, 4096), make([]float32, 1<<14)
			}
			for i := range out {
				out[i] = wbGuard
			}
			defer func() {
				if recover() == nil {
					t.Errorf("no panic")
				}
				for i, v := range out {
					if math.Float32bits(v) != wbGuardBits {
						t.Fatalf("out[%d] written before the panic", i)
					}
				}
			}()
			Conv2dWinograd(c.g, c.cout, w, bias, x, out, epi)
		})
	}
}

// wbBank is one convolution of the concurrency and cache tests, with its
// result computed alone.
type wbBank struct {
	tc   wbCase
	w    []float32 // possibly a view of an array other banks share
	x    []float32
	bias []float32
	epi  *ConvEpilogue
	want []float32 // Conv2dWinograd's result, computed alone on fresh slices
}

func (b *wbBank) run() []float32 {
	g := b.tc.geom()
	out := make([]float32, g.N*b.tc.cout*g.OH*g.OW)
	Conv2dWinograd(g, b.tc.cout, b.w, b.bias, b.x, out, b.epi)
	return out
}

// wbBanks builds banks over geometries and filters that share backing
// arrays: shared (9216 values) is read as 32 x 16 x 4 x 4, 16 x 32 x 4 x
// 4, 16 x 16 x 6 x 6, 36 x 16 x 4 x 4, 64 x 16 x 3 x 3 and 16 x 64 x 3 x 3
// filters (the same pointer and bits, other shapes), and with its first
// value dropped (another pointer). Each want is computed from fresh
// copies of the filters, checked against the float64 definition.
func wbBanks(t *testing.T) []*wbBank {
	t.Helper()
	r := rand.New(rand.NewPCG(11, 12))
	shared := randWin(r, 9216+1)
	cases := []struct {
		tc  wbCase
		off int // offset in shared, or -1 for filters of its own
	}{
		{wbCase{3, 16, 8, 8, 4, 1, 32, true, true, true}, 0},
		{wbCase{2, 32, 9, 7, 4, 2, 16, false, true, false}, 0},
		{wbCase{2, 16, 12, 12, 6, 2, 16, true, false, false}, 0},
		{wbCase{5, 16, 8, 8, 4, 1, 36, false, false, false}, 0},
		{wbCase{1, 16, 10, 10, 3, 1, 64, true, true, true}, 0},
		{wbCase{2, 64, 7, 7, 3, 0, 16, true, true, false}, 0},
		{wbCase{3, 16, 8, 8, 4, 1, 32, true, true, true}, 1},
		{wbCase{40, 16, 6, 6, 3, 1, 20, true, true, true}, -1},
		{wbCase{1, 16, 33, 17, 5, 2, 24, false, true, true}, -1},
		{wbCase{4, 64, 14, 14, 5, 2, 32, true, true, true}, -1},
	}
	banks := make([]*wbBank, len(cases))
	for i, c := range cases {
		g := c.tc.geom()
		b := &wbBank{tc: c.tc, x: randWin(r, g.N*g.C*g.H*g.W)}
		n := c.tc.cout * g.ColRows()
		if c.off >= 0 {
			b.w = shared[c.off : c.off+n]
		} else {
			b.w = randWin(r, n)
		}
		if c.tc.bias {
			b.bias = randWin(r, c.tc.cout)
		}
		if c.tc.epi {
			b.epi = &ConvEpilogue{Sub: randWin(r, c.tc.cout), Mul: randWin(r, c.tc.cout), Add: randWin(r, c.tc.cout), ReLU: c.tc.relu}
		}
		fresh := *b
		fresh.w = slices.Clone(b.w)
		b.want = fresh.run()
		ref, scale := convRef64(g, c.tc.cout, b.w, b.bias, b.x, b.epi)
		for j, v := range ref {
			if d := math.Abs(float64(b.want[j]) - v); !(d <= 2e-5*scale[j]) {
				t.Fatalf("bank %d (%v): output %d = %v, want %v", i, c.tc, j, b.want[j], v)
			}
		}
		banks[i] = b
	}
	return banks
}

// TestWinogradBreakFilterCacheAliasing: the filter cache sees the same
// slice as filters of six shapes (same pointer, same bits, same length for
// four of them), a view one value further, more banks than a job keeps,
// filters changed in place and changed back, and the same filters over
// other images: every call gives the bits of a transform from scratch.
func TestWinogradBreakFilterCacheAliasing(t *testing.T) {
	banks := wbBanks(t)
	check := func(what string, b *wbBank) {
		t.Helper()
		if got := b.run(); !equalBits(got, b.want) {
			t.Fatalf("%s (%v): outputs differ from a fresh transform's", what, b.tc)
		}
	}
	for round := range 3 {
		for i, b := range banks {
			check(fmt.Sprintf("round %d, bank %d", round, i), b)
		}
		for i := len(banks) - 1; i >= 0; i-- {
			check(fmt.Sprintf("round %d backwards, bank %d", round, i), banks[i])
		}
		for i := range banks {
			check(fmt.Sprintf("round %d, bank 0 after bank %d", round, i), banks[0])
			check(fmt.Sprintf("round %d, bank %d after bank 0", round, i), banks[i])
		}
	}
	// Changed in place (bank 0's filters: every view of shared sees it),
	// then changed back.
	b := banks[0]
	old := b.w[100]
	b.w[100] += 0.25
	changed := *b
	changed.w = slices.Clone(b.w)
	wantChanged := changed.run()
	if equalBits(wantChanged, b.want) {
		t.Fatal("changing a filter value does not change the outputs")
	}
	if got := b.run(); !equalBits(got, wantChanged) {
		t.Fatal("filters changed in place: stale transform used")
	}
	b.w[100] = old
	check("changed back", b)
	// A NaN filter value, then the number again.
	old = b.w[7]
	b.w[7] = float32(math.NaN())
	if got := b.run(); !slices.ContainsFunc(got, func(v float32) bool { return math.IsNaN(float64(v)) }) {
		t.Fatal("a NaN filter value leaves no NaN output")
	}
	b.w[7] = old
	check("NaN removed", b)
	// The same filters over other images and pads: the transform depends
	// on the filters only.
	for _, o := range []wbCase{
		{1, 16, 13, 5, 4, 3, 32, false, false, false},
		{35, 16, 8, 8, 4, 0, 32, true, true, true},
	} {
		g := o.geom()
		other := &wbBank{tc: o, w: b.w, x: randWin(rand.New(rand.NewPCG(1, 1)), g.N*g.C*g.H*g.W)}
		if o.bias {
			other.bias = b.bias
		}
		if o.epi {
			other.epi = b.epi
		}
		fresh := *other
		fresh.w = slices.Clone(b.w)
		other.want = fresh.run()
		check("first bank over other images", b)
		check("other images", other)
		check("first bank again", b)
	}
}

// TestWinogradBreakConcurrent: goroutines call Conv2dWinograd at once on
// banks of different geometries and filters (some aliasing one array), so
// that calls overlap on the job pool, the filter caches and the worker
// pool; other goroutines call it from inside ParallelFor bodies (nested
// regions). Every result must have the bits of the bank computed alone.
func TestWinogradBreakConcurrent(t *testing.T) {
	banks := wbBanks(t)
	const goroutines, iters = 6, 12
	var wg sync.WaitGroup
	errs := make(chan string, goroutines*iters+16)
	for gi := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range iters {
				i := (gi*7 + it*3) % len(banks)
				if got := banks[i].run(); !equalBits(got, banks[i].want) {
					errs <- fmt.Sprintf("goroutine %d, iteration %d, bank %d (%v): wrong outputs", gi, it, i, banks[i].tc)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 3 {
			ParallelFor(len(banks), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					if got := banks[i].run(); !equalBits(got, banks[i].want) {
						errs <- fmt.Sprintf("nested in ParallelFor, bank %d (%v): wrong outputs", i, banks[i].tc)
					}
				}
			})
		}
	}()
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// wbPatchReach returns, per output tile (image, tile row, tile column),
// whether the input position (y, x) of that image lies in the tile's input
// patch: the alpha x alpha taps of each phase, rows 8ty - Pad .. 8ty - Pad
// + 2(alpha-1) + 1, likewise the columns.
func wbPatchReach(g ConvGeom, y, x, ty, tx int) bool {
	r := (g.KH + 1) / 2
	alpha := winoM + r - 1
	y0, x0 := 2*winoM*ty-g.Pad, 2*winoM*tx-g.Pad
	return y >= y0 && y <= y0+2*(alpha-1)+1 && x >= x0 && x <= x0+2*(alpha-1)+1
}

// TestWinogradBreakNaNConfined: a NaN input stays in its image (other
// images of the same group are columns of the same products) and within
// the tiles whose input patch holds it; a NaN filter value stays in its
// output channel; the output over the NaN is NaN, with and without ReLU.
func TestWinogradBreakNaNConfined(t *testing.T) {
	forEachTransformPath(t, func(t *testing.T) {
		for _, k := range []int{3, 4, 5, 6} {
			for _, relu := range []bool{false, true} {
				g := NewConvGeom(3, 16, 16, 16, k, k, 2, k/2)
				cout := 16
				r := rand.New(rand.NewPCG(uint64(k), 3))
				x, w := randWin(r, g.N*g.C*g.H*g.W), randWin(r, cout*g.ColRows())
				epi := &ConvEpilogue{Sub: randWin(r, cout), Mul: randWin(r, cout), Add: randWin(r, cout), ReLU: relu}
				const ny, nxx = 9, 6
				x[((1*g.C+5)*g.H+ny)*g.W+nxx] = float32(math.NaN()) // image 1, channel 5
				w[(3*g.C+2)*k*k+k+1] = float32(math.NaN())          // filter 3, channel 2
				out := make([]float32, g.N*cout*g.OH*g.OW)
				Conv2dWinograd(g, cout, w, nil, x, out, epi)
				for n := range g.N {
					for co := range cout {
						for oy := range g.OH {
							for ox := range g.OW {
								v := out[((n*cout+co)*g.OH+oy)*g.OW+ox]
								reach := n == 1 && wbPatchReach(g, ny, nxx, oy/winoM, ox/winoM)
								covers := n == 1 && ny >= oy*2-g.Pad && ny < oy*2-g.Pad+k && nxx >= ox*2-g.Pad && nxx < ox*2-g.Pad+k
								isNaN := math.IsNaN(float64(v))
								switch {
								case co == 3 && !isNaN:
									t.Fatalf("k=%d relu=%v: image %d, output (%d, %d) of the NaN filter = %v", k, relu, n, oy, ox, v)
								case co != 3 && covers && !isNaN:
									t.Fatalf("k=%d relu=%v: channel %d, output (%d, %d) over the NaN input = %v", k, relu, co, oy, ox, v)
								case co != 3 && !reach && isNaN:
									t.Fatalf("k=%d relu=%v: image %d, channel %d, output (%d, %d) is NaN, out of the NaN's reach", k, relu, n, co, oy, ox)
								}
							}
						}
					}
				}
			}
		}
	})
}

// TestWinogradBreakNonFinite: Conv2dWinograd computes what Conv2d computes
// up to float rounding, non-finite values included. Through the transforms
// a single non-finite input would make NaN of every output of the 4 x 4
// tiles whose patch holds it (B^T d B mixes the patch, and A^T adds points
// holding +Inf and -Inf), where Conv2d leaves finite every output whose
// window does not hold it and gives +-Inf, not NaN, over an infinite
// input: the first version had 16 non-finite outputs per channel for one
// +Inf in a 16 x 16 image where Conv2d has one. Now a non-finite input or
// filter sends the call to Conv2d.
func TestWinogradBreakNonFinite(t *testing.T) {
	for _, bad := range []float32{float32(math.Inf(1)), float32(math.NaN())} {
		for _, k := range []int{3, 5} {
			g := NewConvGeom(1, 16, 16, 16, k, k, 2, 1)
			cout := 16
			r := rand.New(rand.NewPCG(1, 2))
			x, w := randWin(r, g.N*g.C*g.H*g.W), randWin(r, cout*g.ColRows())
			x[15*16+15] = bad // channel 0, the last pixel
			got, direct := make([]float32, cout*g.OH*g.OW), make([]float32, cout*g.OH*g.OW)
			Conv2dWinograd(g, cout, w, nil, x, got, nil)
			Conv2d(g, cout, w, nil, x, direct, nil)
			leaks, infToNaN, infs := 0, 0, 0
			for i, d := range direct {
				v := got[i]
				switch {
				case !math.IsNaN(float64(d)) && !math.IsInf(float64(d), 0):
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						leaks++
					}
				case math.IsInf(float64(d), 0):
					infs++
					if v != d {
						infToNaN++
					}
				}
			}
			if leaks > 0 || infToNaN > 0 {
				t.Errorf("input %v, k=%d: %d outputs non-finite where Conv2d's are finite, %d of Conv2d's %d infinite outputs not the same infinity (%d outputs)",
					bad, k, leaks, infToNaN, infs, len(got))
			}
		}
	}
}

// TestWinogradBreakExtremeValues: subnormal inputs, inputs of 1e30 with
// unit filters, and heavy-tailed inputs (a few values 1e4 times the
// rest). The error is measured against the largest scale (sum of |w x|)
// in the output's 4 x 4 tile rather than its own: Winograd's rounding
// error follows the tile's input patch, not each output's window, so one
// large input perturbs the tile's small outputs beyond 2e-5 of their own
// scale (logged, about 1e-2 of it for a spike of 1e6 under F(4, 3)).
func TestWinogradBreakExtremeValues(t *testing.T) {
	for _, c := range []struct {
		name   string
		k      int
		x      func(r *rand.Rand) float32
		wScale float32
	}{
		{"subnormal", 4, func(r *rand.Rand) float32 { return (r.Float32()*2 - 1) * 1e-39 }, 1},
		{"tiny", 5, func(r *rand.Rand) float32 { return (r.Float32()*2 - 1) * 1e-36 }, 1},
		{"huge", 4, func(r *rand.Rand) float32 { return (r.Float32()*2 - 1) * 1e30 }, 1},
		{"huge", 6, func(r *rand.Rand) float32 { return (r.Float32()*2 - 1) * 1e30 }, 1},
		{"spikes", 3, wbSpiky, 1},
		{"spikes", 4, wbSpiky, 1},
		{"spikes", 5, wbSpiky, 1},
		{"spikes", 6, wbSpiky, 1},
	} {
		forEachTransformPath(t, func(t *testing.T) {
			t.Run(fmt.Sprintf("%s/k%d", c.name, c.k), func(t *testing.T) {
				g := NewConvGeom(2, 16, 15, 15, c.k, c.k, 2, c.k/2)
				cout := 16
				r := rand.New(rand.NewPCG(uint64(c.k), 77))
				x := make([]float32, g.N*g.C*g.H*g.W)
				for i := range x {
					x[i] = c.x(r)
				}
				w := randWin(r, cout*g.ColRows())
				out := make([]float32, g.N*cout*g.OH*g.OW)
				Conv2dWinograd(g, cout, w, nil, x, out, nil)
				want, scale := wbRefNoFloor(g, cout, w, x)
				tileScale := make([]float64, len(scale))
				for i := range scale {
					p := i % (g.OH * g.OW)
					oy, ox := p/g.OW, p%g.OW
					base := i - p
					for y := oy / winoM * winoM; y < min(g.OH, oy/winoM*winoM+winoM); y++ {
						for xx := ox / winoM * winoM; xx < min(g.OW, ox/winoM*winoM+winoM); xx++ {
							tileScale[i] = max(tileScale[i], scale[base+y*g.OW+xx])
						}
					}
				}
				worstOwn, worstTile := 0.0, 0.0
				for i, v := range want {
					d := math.Abs(float64(out[i]) - v)
					if !(d <= 2e-5*tileScale[i]+1e-44) {
						t.Fatalf("output %d = %v, want %v (error %.3g of the tile's scale %.3g)", i, out[i], v, d/tileScale[i], tileScale[i])
					}
					if scale[i] > 0 {
						worstOwn = max(worstOwn, d/scale[i])
					}
					worstTile = max(worstTile, d/tileScale[i])
				}
				t.Logf("largest error: %.3g of the output's own scale, %.3g of its tile's", worstOwn, worstTile)
			})
		})
	}
}

// wbSpiky draws 1 in 200 values from +-1e4, the rest from [-1, 1).
func wbSpiky(r *rand.Rand) float32 {
	v := r.Float32()*2 - 1
	if r.IntN(200) == 0 {
		v *= 1e4
	}
	return v
}

// wbRefNoFloor is the float64 definition without bias or epilogue, with
// the sum of |w x| of each output's terms as its scale and no floor on it
// (convRef64 adds 1e-3, which hides errors on inputs far below 1).
func wbRefNoFloor(g ConvGeom, cout int, w, x []float32) (out, scale []float64) {
	out = make([]float64, g.N*cout*g.OH*g.OW)
	scale = make([]float64, len(out))
	k := g.KH
	for n := range g.N {
		for co := range cout {
			for oy := range g.OH {
				for ox := range g.OW {
					var s, a float64
					for c := range g.C {
						for i := range k {
							for j := range k {
								y, xx := 2*oy-g.Pad+i, 2*ox-g.Pad+j
								if y < 0 || y >= g.H || xx < 0 || xx >= g.W {
									continue
								}
								p := float64(w[((co*g.C+c)*k+i)*k+j]) * float64(x[((n*g.C+c)*g.H+y)*g.W+xx])
								s += p
								a += math.Abs(p)
							}
						}
					}
					o := ((n*cout+co)*g.OH+oy)*g.OW + ox
					out[o], scale[o] = s, a
				}
			}
		}
	}
	return out, scale
}

// TestWinogradBreakBatchIndependent: an image's outputs have the same bits
// whatever the batch around it (alone, first of 1 to 3, last of 37: other
// group sizes, other columns of the products, a partial last group), as
// evaluation mode promises (a sample's features do not depend on the rest
// of the batch).
func TestWinogradBreakBatchIndependent(t *testing.T) {
	for _, tc := range []wbCase{
		{37, 64, 14, 14, 5, 2, 128, true, true, true},
		{37, 64, 16, 16, 4, 1, 128, false, true, false},
		{37, 128, 8, 8, 4, 1, 256, true, false, false},
		{37, 16, 9, 9, 3, 1, 16, true, true, true},
		{37, 16, 11, 11, 6, 5, 16, false, false, false},
	} {
		t.Run(tc.String(), func(t *testing.T) {
			g := tc.geom()
			x, w, bias, epi := randConv(rand.New(rand.NewPCG(uint64(tc.k), uint64(tc.c))), g, tc.cout, tc.bias, tc.epi, tc.relu)
			per, plane := tc.cout*g.OH*g.OW, g.C*g.H*g.W
			all := make([]float32, g.N*per)
			Conv2dWinograd(g, tc.cout, w, bias, x, all, epi)
			for _, c := range []struct{ first, n int }{{0, 1}, {0, 2}, {0, 3}, {36, 1}, {5, 32}} {
				gs := g
				gs.N = c.n
				out := make([]float32, c.n*per)
				Conv2dWinograd(gs, tc.cout, w, bias, x[c.first*plane:], out, epi)
				if !equalBits(out, all[c.first*per:(c.first+c.n)*per]) {
					t.Errorf("images %d to %d computed as a batch of %d differ from the batch of %d", c.first, c.first+c.n-1, c.n, g.N)
				}
			}
		})
	}
}
