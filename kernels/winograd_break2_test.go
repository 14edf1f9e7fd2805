package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// Adversarial tests of the filter transform of Conv2dWinograd as one
// product into the packed panels (computeFilters, winoFilterRun,
// winoPackedOffset) and of WinogradPays, written in review (second round).

// w2Kernels returns the micro-kernels the filter transform is checked
// with: the default one, the portable one (unpadded panels are not
// available there: a last partial panel is zero padded), and each assembly
// kernel with tiny blocks, so that small banks have several blocks of rows
// (partial last panels) and several blocks of k.
func w2Kernels() []*microKernel {
	ks := []*microKernel{defaultKernel, &goKernel}
	tinyGo := goKernel
	tinyGo.name, tinyGo.mc, tinyGo.kc = "go2x4/tiny", 6, 10
	ks = append(ks, &tinyGo)
	for _, k := range asmKernels() {
		tiny := *k
		tiny.name, tiny.mc, tiny.kc = k.name+"/tiny", 2*k.mr, 40
		ks = append(ks, k, &tiny)
	}
	return ks
}

// w2WithKernel runs f with defaultKernel set to kern.
func w2WithKernel(kern *microKernel, f func()) {
	defer func(k *microKernel) { defaultKernel = k }(defaultKernel)
	defaultKernel = kern
	f()
}

// w2RefSlab computes, for the plan of a job, what computeFilters must leave
// in each point's packed matrix: G g G^T of every phase filter as one
// ordinary product over the natural layout of the taps (columns
// co*cp + phases*c + ph), with the same micro-kernel (each element the
// same r*r-term sum in the same order), then packed by packedA.pack.
func w2RefSlab(pl *winoPlan, kg, w []float32, kern *microKernel) []packedA {
	g, r, cp, cout := pl.g, pl.r, pl.cp, pl.cout
	n := cout * cp
	taps := make([]float32, r*r*n)
	kk := g.KH
	for co := range cout {
		for c := range g.C {
			for ph := range pl.phases {
				col := co*cp + pl.phases*c + ph
				for a := range r {
					for b := range r {
						if y, x := pl.s*a+ph/pl.s, pl.s*b+ph%pl.s; y < kk && x < kk {
							taps[(a*r+b)*n+col] = w[((co*g.C+c)*kk+y)*kk+x]
						}
					}
				}
			}
		}
	}
	u := make([]float32, pl.xi*n)
	sgemm(kern, false, false, pl.xi, n, r*r, 1, kg, r*r, taps, n, 0, u, n)
	pa := make([]packedA, pl.xi)
	for xi := range pa {
		pa[xi].pack(kern, false, cout, cp, u[xi*n:], cp)
	}
	return pa
}

// w2Geoms are filter banks of odd shapes: stride 2 windows 3 to 6 and
// stride 1 windows 2 and 3, cout not a multiple of 14, above 112 (several
// blocks of rows) and above 512 (chunks of more than 64 filters), 4C above
// 512 (several blocks of k).
var w2Geoms = []struct {
	c, k, s, cout int
}{
	{16, 3, 2, 16},
	{17, 4, 2, 29},
	{19, 5, 2, 113},
	{16, 6, 2, 31},
	{130, 3, 2, 23},  // 4C = 520
	{16, 2, 1, 530},  // 530 filters: chunks of 66 with 2 workers
	{33, 3, 1, 127},  // r = 3
	{520, 3, 1, 17},  // C = 520 with stride 1
	{16, 3, 1, 1000}, // 1000 filters
}

// TestBreak2WinoFilterSlabBits: the packed transformed filters computed by
// the gathered product are, bit for bit, those of the product over the
// natural layout packed afterwards, for every micro-kernel (padded panels,
// tiny blocks) and odd banks.
func TestBreak2WinoFilterSlabBits(t *testing.T) {
	for _, kern := range w2Kernels() {
		for gi, gs := range w2Geoms {
			if kern.kc < 64 && gs.c*gs.cout > 20000 {
				continue // tiny blocks: keep the big banks to the real kernels
			}
			g := NewConvGeom(1, gs.c, 9, 9, gs.k, gs.k, gs.s, 1)
			if !winoShapeOK(g, gs.cout) {
				t.Fatalf("%+v refused", gs)
			}
			r := rand.New(rand.NewPCG(uint64(gi), 77))
			w := randWin(r, gs.cout*g.ColRows())
			w2WithKernel(kern, func() {
				j := new(winoJob)
				j.pl, j.w = newWinoPlan(g, gs.cout), w
				if !j.transformFilters() {
					t.Fatalf("%s %+v: finite filters refused", kern.name, gs)
				}
				ref := w2RefSlab(&j.pl, j.kg, w, kern)
				for xi := range ref {
					got, want := j.pa[xi], ref[xi]
					if got.kern != kern || got.m != want.m || got.k != want.k || got.mcEff != want.mcEff {
						t.Fatalf("%s %+v point %d: packedA %s %d x %d /%d, want %s %d x %d /%d", kern.name, gs, xi,
							got.kern.name, got.m, got.k, got.mcEff, want.kern.name, want.m, want.k, want.mcEff)
					}
					if len(got.data) > len(want.data) {
						t.Fatalf("%s %+v point %d: %d packed values, pack gives %d", kern.name, gs, xi, len(got.data), len(want.data))
					}
					for i, v := range got.data {
						if math.Float32bits(v) != math.Float32bits(want.data[i]) {
							t.Fatalf("%s %+v point %d: packed value %d = %v, want %v", kern.name, gs, xi, i, v, want.data[i])
						}
					}
				}
			})
		}
	}
}

// TestBreak2WinoKernelsConv: whole convolutions with each micro-kernel of
// w2Kernels (so the gathered transform feeds products with several blocks
// of rows and of k, and zero-padded panels) against the float64
// definition; then the filters changed in place and the call repeated.
func TestBreak2WinoKernelsConv(t *testing.T) {
	cases := []struct{ n, c, h, k, s, pad, cout int }{
		{2, 17, 9, 4, 2, 1, 29},
		{1, 130, 5, 3, 2, 1, 23},
		{3, 16, 7, 3, 1, 1, 47},
		{1, 16, 6, 2, 1, 0, 125},
	}
	for _, kern := range w2Kernels() {
		for ci, tc := range cases {
			g := NewConvGeom(tc.n, tc.c, tc.h, tc.h+1, tc.k, tc.k, tc.s, tc.pad)
			r := rand.New(rand.NewPCG(uint64(ci), 99))
			x, w, bias, _ := randConv(r, g, tc.cout, true, false, false)
			w2WithKernel(kern, func() {
				for round := range 2 {
					want, scale := convRef64(g, tc.cout, w, bias, x, nil)
					out := make([]float32, len(want))
					Conv2dWinograd(g, tc.cout, w, bias, x, out, nil)
					for i, v := range want {
						if d := math.Abs(float64(out[i]) - v); !(d <= 2e-5*scale[i]) {
							t.Fatalf("%s %+v round %d: output %d = %v, want %v", kern.name, tc, round, i, out[i], v)
						}
					}
					for i := range w { // a training step's update, in place
						w[i] = -0.5*w[i] + 0.01
					}
				}
			})
		}
	}
}

// TestBreak2WinoFiltersInPlaceABA: filters changed in place, then changed
// back (A, B, A, B'), at the same address, interleaved with a second bank
// and a NaN in place (the direct convolution's result, the cache entry of
// the finite bank kept): every call has the bits of a fresh transform.
func TestBreak2WinoFiltersInPlaceABA(t *testing.T) {
	g := NewConvGeom(3, 16, 10, 10, 5, 5, 2, 2)
	const cout = 21
	r := rand.New(rand.NewPCG(12, 13))
	x := randWin(r, g.N*g.C*g.H*g.W)
	wa := randWin(r, cout*g.ColRows())
	wb := slices.Clone(wa)
	wb[len(wb)-1] += 0.25 // the very last tap of the last filter
	wc := slices.Clone(wa)
	wc[0] = math.Float32frombits(math.Float32bits(wc[0]) ^ 1) // the first, by one ulp
	other := randWin(r, cout*g.ColRows())
	run := func(w []float32) []float32 {
		out := make([]float32, g.N*cout*g.OH*g.OW)
		Conv2dWinograd(g, cout, w, nil, x, out, nil)
		return out
	}
	fresh := func(w []float32) []float32 { return run(slices.Clone(w)) }
	wantA, wantB, wantC, wantO := fresh(wa), fresh(wb), fresh(wc), fresh(other)
	if equalBits(wantA, wantB) || equalBits(wantA, wantC) {
		t.Fatal("the changes do not change the outputs: the test cannot see a stale transform")
	}
	w := slices.Clone(wa)
	for step, s := range []struct {
		src  []float32
		want []float32
	}{{wa, wantA}, {wb, wantB}, {wa, wantA}, {wc, wantC}, {wa, wantA}, {wb, wantB}, {wb, wantB}, {wc, wantC}} {
		copy(w, s.src)
		if got := run(w); !equalBits(got, s.want) {
			t.Fatalf("step %d: outputs differ from a fresh transform's", step)
		}
		if got := run(other); !equalBits(got, wantO) {
			t.Fatalf("step %d: the other bank's outputs differ", step)
		}
	}
	// A NaN in place: the direct convolution's outputs, bit for bit.
	copy(w, wa)
	w[37] = float32(math.NaN())
	direct := make([]float32, g.N*cout*g.OH*g.OW)
	Conv2d(g, cout, w, nil, x, direct, nil)
	if got := run(w); !equalBits(got, direct) {
		t.Fatal("a NaN filter changed in place: not the direct convolution's outputs")
	}
	copy(w, wa)
	if got := run(w); !equalBits(got, wantA) {
		t.Fatal("the filters put back after a NaN: outputs differ from a fresh transform's")
	}
	// More banks at one address than the cache holds, cycled twice.
	banks := make([][]float32, winoCached+2)
	wants := make([][]float32, len(banks))
	for i := range banks {
		banks[i] = slices.Clone(wa)
		banks[i][i*11] += float32(i+1) * 0.125
		wants[i] = fresh(banks[i])
	}
	for it := range 2 * len(banks) {
		i := it % len(banks)
		copy(w, banks[i])
		if got := run(w); !equalBits(got, wants[i]) {
			t.Fatalf("bank %d at one address, round %d: outputs differ from a fresh transform's", i, it/len(banks))
		}
	}
}

// TestBreak2WinoSameBankOtherGeometry: a cached bank (same address, same
// bits) used with other images (sizes, padding, batch) is still right.
func TestBreak2WinoSameBankOtherGeometry(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 15))
	const cout = 18
	w := randWin(r, cout*16*4*4)
	for _, g := range []ConvGeom{
		NewConvGeom(2, 16, 8, 8, 4, 4, 2, 1),
		NewConvGeom(5, 16, 13, 7, 4, 4, 2, 3),
		NewConvGeom(1, 16, 4, 4, 4, 4, 2, 0),
		NewConvGeom(2, 16, 8, 8, 4, 4, 2, 1),
	} {
		x := randWin(r, g.N*g.C*g.H*g.W)
		want, scale := convRef64(g, cout, w, nil, x, nil)
		out := make([]float32, len(want))
		Conv2dWinograd(g, cout, w, nil, x, out, nil)
		for i, v := range want {
			if d := math.Abs(float64(out[i]) - v); !(d <= 2e-5*scale[i]) {
				t.Fatalf("%+v: output %d = %v, want %v", g, i, out[i], v)
			}
		}
	}
}

// TestBreak2WinoTrainingConcurrent: goroutines, each with its own filters
// updated in place before every call (a training step each), call
// Conv2dWinograd at once: each gets the bits of a fresh transform of its
// current filters. Run it with -race.
func TestBreak2WinoTrainingConcurrent(t *testing.T) {
	type worker struct {
		g       ConvGeom
		cout    int
		x, w    []float32
		want    [][]float32 // per step
		updates [][]float32 // the filters at each step
	}
	const steps = 4
	geoms := []struct {
		g    ConvGeom
		cout int
	}{
		{NewConvGeom(2, 16, 8, 8, 4, 4, 2, 1), 20},
		{NewConvGeom(3, 17, 9, 9, 3, 3, 1, 1), 16},
		{NewConvGeom(2, 16, 8, 8, 4, 4, 2, 1), 20}, // the same shape as the first, other filters
		{NewConvGeom(1, 33, 7, 7, 5, 5, 2, 2), 40},
	}
	ws := make([]*worker, len(geoms))
	for i, gg := range geoms {
		r := rand.New(rand.NewPCG(uint64(i), 16))
		wk := &worker{g: gg.g, cout: gg.cout, x: randWin(r, gg.g.N*gg.g.C*gg.g.H*gg.g.W)}
		for range steps {
			u := randWin(r, gg.cout*gg.g.ColRows())
			wk.updates = append(wk.updates, u)
			out := make([]float32, gg.g.N*gg.cout*gg.g.OH*gg.g.OW)
			Conv2dWinograd(gg.g, gg.cout, slices.Clone(u), nil, wk.x, out, nil)
			wk.want = append(wk.want, out)
		}
		wk.w = make([]float32, gg.cout*gg.g.ColRows())
		ws[i] = wk
	}
	var wg sync.WaitGroup
	errs := make(chan string, len(ws)*steps*2)
	for i, wk := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := make([]float32, wk.g.N*wk.cout*wk.g.OH*wk.g.OW)
			for rep := range 2 {
				for s := range steps {
					copy(wk.w, wk.updates[s])
					Conv2dWinograd(wk.g, wk.cout, wk.w, nil, wk.x, out, nil)
					if !equalBits(out, wk.want[s]) {
						errs <- fmt.Sprintf("worker %d, round %d, step %d: outputs differ from a fresh transform's", i, rep, s)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestBreak2WinogradPaysBoundary: WinogradPays holds from winoFreshTiles
// output tiles of 4 x 4 (partial tiles counted) in the batch, and never
// where CanWinograd refuses.
func TestBreak2WinogradPaysBoundary(t *testing.T) {
	for _, c := range []struct {
		g     ConvGeom
		cout  int
		tiles int
	}{
		{NewConvGeom(32, 64, 14, 14, 5, 5, 2, 2), 128, 32 * 2 * 2}, // 7 x 7 outputs: 2 x 2 tiles
		{NewConvGeom(31, 64, 14, 14, 5, 5, 2, 2), 128, 31 * 4},
		{NewConvGeom(8, 16, 16, 16, 3, 3, 1, 1), 16, 8 * 16},
		{NewConvGeom(1, 16, 45, 45, 3, 3, 1, 1), 16, 12 * 12},
		{NewConvGeom(127, 16, 4, 4, 3, 3, 1, 1), 16, 127},
		{NewConvGeom(128, 16, 4, 4, 3, 3, 1, 1), 16, 128},
		{NewConvGeom(128, 15, 4, 4, 3, 3, 1, 1), 16, 128}, // 15 channels: refused
		{NewConvGeom(128, 16, 4, 4, 3, 3, 1, 1), 15, 128}, // 15 filters: refused
		{NewConvGeom(256, 16, 8, 8, 1, 1, 1, 0), 16, 512}, // 1 x 1 window: refused
	} {
		want := CanWinograd(c.g, c.cout) && c.tiles >= winoFreshTiles
		if got := WinogradPays(c.g, c.cout); got != want {
			t.Errorf("%+v cout %d (%d tiles): WinogradPays = %v, want %v", c.g, c.cout, c.tiles, got, want)
		}
	}
	saved := elemAVX512
	defer func() { elemAVX512 = saved }()
	elemAVX512 = false
	if WinogradPays(NewConvGeom(128, 16, 4, 4, 3, 3, 1, 1), 16) {
		t.Error("WinogradPays without AVX-512")
	}
}

// TestBreak2WinoTransformNoAlloc: after one call, calls whose filters
// change in place at every call (a training step's) allocate nothing: the
// bank takes its own cache entry back. (Before, each miss filled the next
// of the winoCached entries, allocating in the first four calls and
// keeping four transforms of one bank.)
func TestBreak2WinoTransformNoAlloc(t *testing.T) {
	g := NewConvGeom(8, 32, 14, 14, 5, 5, 2, 2)
	const cout = 48
	r := rand.New(rand.NewPCG(17, 18))
	x, w := randWin(r, g.N*g.C*g.H*g.W), randWin(r, cout*g.ColRows())
	out := make([]float32, g.N*cout*g.OH*g.OW)
	step := func() {
		w[3] += 1e-3
		Conv2dWinograd(g, cout, w, nil, x, out, nil)
	}
	// One call sizes everything: a bank changed in place takes its own
	// entry back instead of filling (and allocating) the cache's others.
	step()
	if a := testing.AllocsPerRun(2*winoCached, step); a != 0 {
		t.Errorf("Conv2dWinograd with filters changed at every call: %v allocations a call after the first", a)
	}
}
