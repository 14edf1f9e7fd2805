package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// Adversarial tests of Conv2dBackward's first-convolution path (third
// review round): the filter gradient summed image by image in two fixed
// parts (convPerImage, filterGradPerImage, the output gradient read in
// place with gemmCtx.forceDirectA, a tile padded to whole strips) and the
// bias gradient in 32 float64 lanes (convBiasGrad, sumLanes64). Every
// buffer lies in a NaN-guarded array, so that a read past an operand turns
// a result NaN and a write past a gradient changes a guard's bits.

// b3Conv is one geometry of the table below.
type b3Conv struct {
	n, c, h, w, kh, kw, stride, pad, cout int
	perImage                              bool // what convPerImage must say
}

func (tc b3Conv) String() string {
	return fmt.Sprintf("n%d_c%d_%dx%d_k%dx%d_s%d_p%d_out%d", tc.n, tc.c, tc.h, tc.w, tc.kh, tc.kw, tc.stride, tc.pad, tc.cout)
}

func (tc b3Conv) geom() ConvGeom {
	return NewConvGeom(tc.n, tc.c, tc.h, tc.w, tc.kh, tc.kw, tc.stride, tc.pad)
}

// b3ConvCases: one image (a single part), two (one image a part), three
// and five (uneven parts), output planes of exactly 128 values (the
// smallest that goes image by image) and 127, column counts of exactly 128
// (the largest, no padding of the tile) and 129, k of 25, 33 and 75 (a
// tile padded by 7, 31 and 21 columns), filter counts that are not
// multiples of 14 or 32 (1, 13, 15, 29, 33, 113: two blocks of rows), a
// stride beyond the window, and products large enough for the pool.
var b3ConvCases = []b3Conv{
	{1, 1, 28, 28, 5, 5, 2, 2, 13, true},    // one image, 196 positions, k 25
	{2, 1, 28, 28, 5, 5, 2, 2, 1, true},     // one filter
	{3, 3, 32, 32, 5, 5, 1, 2, 29, true},    // k 75 (3 strips, 21 padding), parallel
	{5, 2, 8, 16, 3, 3, 1, 1, 15, true},     // p exactly 128, parts of 2 and 3 images
	{4, 5, 1, 127, 1, 1, 1, 0, 33, false},   // p 127: the grouped path
	{3, 2, 20, 20, 8, 8, 1, 0, 31, true},    // k exactly 128: a tile without padding
	{3, 129, 12, 12, 1, 1, 1, 0, 14, false}, // k 129: the grouped path
	{2, 1, 20, 30, 3, 11, 1, 0, 64, true},   // k 33: 31 columns of padding
	{3, 1, 40, 40, 4, 4, 3, 0, 113, true},   // stride 3, 113 filters (two row blocks)
	{17, 1, 16, 16, 3, 3, 1, 1, 8, true},    // many images, few filters
	{6, 3, 32, 32, 4, 4, 2, 1, 64, true},    // basic32x32's first convolution
	{64, 1, 28, 28, 5, 5, 2, 2, 64, true},   // basic28x28's, at the training batch
}

// b3Guarded returns v at offset off of a NaN-guarded array, guards after
// it too.
func b3Guarded(v []float32, off int) (big, s []float32) {
	big = make([]float32, off+len(v)+19)
	for i := range big {
		big[i] = g2Guard
	}
	s = big[off : off+len(v) : off+len(v)]
	copy(s, v)
	return big, s
}

// b3GuardsIntact fails if a guard of big (outside [off, off+n)) changed.
func b3GuardsIntact(t *testing.T, what string, big []float32, off, n int) {
	t.Helper()
	for i, v := range big {
		if (i < off || i >= off+n) && math.Float32bits(v) != g2GuardBits {
			t.Fatalf("%s: guard %d (values [%d, %d)) overwritten: %#08x", what, i, off, off+n, math.Float32bits(v))
		}
	}
}

// b3ConvOperands returns x, w and gout for tc, each followed in its array
// by NaN guards (which must never be read), and the three gradients'
// initial values (non-zero, since Conv2dBackward adds into them).
func b3ConvOperands(tc b3Conv, seed uint64) (x, w, gout, gw0, gb0, gx0 []float32) {
	g := tc.geom()
	r := rand.New(rand.NewPCG(seed, uint64(tc.n*1000+tc.cout)))
	k, p := g.ColRows(), g.OH*g.OW
	_, x = b3Guarded(randWin(r, g.N*g.C*g.H*g.W), 3)
	_, w = b3Guarded(randWin(r, tc.cout*k), 5)
	// The guards right after gout's last image catch an in-place read
	// (gout[n*cout*p:] as A) past its end.
	_, gout = b3Guarded(randWin(r, g.N*tc.cout*p), 1)
	return x, w, gout, randWin(r, tc.cout*k), randWin(r, tc.cout), randWin(r, len(x))
}

// b3ConvRun runs Conv2dBackward for the gradients named in which ("w",
// "b", "x" in any combination) on guarded copies of the initial values and
// returns them (nil where not asked), checking the guards.
func b3ConvRun(t *testing.T, tc b3Conv, which string, x, w, gout, gw0, gb0, gx0 []float32, overwriteX bool) (gw, gb, gx []float32) {
	t.Helper()
	g := tc.geom()
	var bigW, bigB, bigX []float32
	if slices.Contains([]byte(which), 'w') {
		bigW, gw = b3Guarded(gw0, 7)
	}
	if slices.Contains([]byte(which), 'b') {
		bigB, gb = b3Guarded(gb0, 1)
	}
	if slices.Contains([]byte(which), 'x') {
		bigX, gx = b3Guarded(gx0, 9)
	}
	Conv2dBackward(g, tc.cout, w, x, gout, gw, gb, gx, overwriteX)
	if gw != nil {
		b3GuardsIntact(t, tc.String()+" "+which+" gw", bigW, 7, len(gw))
	}
	if gb != nil {
		b3GuardsIntact(t, tc.String()+" "+which+" gb", bigB, 1, len(gb))
	}
	if gx != nil {
		b3GuardsIntact(t, tc.String()+" "+which+" gx", bigX, 9, len(gx))
	}
	return gw, gb, gx
}

// b3ConvRef returns the float64 gradients and, for tolerances, the sums
// of the absolute values of their terms.
func b3ConvRef(g ConvGeom, cout int, w, x, gout []float32) (gw, gb, gx, aw, ab, ax []float64) {
	gw, gb, gx = convBackwardRef(g, cout, w, x, gout)
	abs := func(s []float32) []float32 {
		a := make([]float32, len(s))
		for i, v := range s {
			a[i] = float32(math.Abs(float64(v)))
		}
		return a
	}
	aw, ab, ax = convBackwardRef(g, cout, abs(w), abs(x), abs(gout))
	return
}

// TestBreak3ConvBackwardGeometries checks, on every geometry of the table
// and for each combination of gradients asked for, that convPerImage
// chooses as expected, that each gradient asked for is its initial value
// plus the float64 definition within float32 rounding (so it is added
// into, never overwritten), that the others and every guard are untouched,
// and that overwriteX replaces the input gradient.
func TestBreak3ConvBackwardGeometries(t *testing.T) {
	for i, tc := range b3ConvCases {
		t.Run(tc.String(), func(t *testing.T) {
			g := tc.geom()
			if got := convPerImage(g); got != tc.perImage {
				t.Fatalf("convPerImage = %v, want %v (p %d, k %d)", got, tc.perImage, g.OH*g.OW, g.ColRows())
			}
			x, w, gout, gw0, gb0, gx0 := b3ConvOperands(tc, uint64(i))
			rw, rb, rx, aw, ab, ax := b3ConvRef(g, tc.cout, w, x, gout)
			check := func(what string, got, init []float32, want, scale []float64) {
				t.Helper()
				for i, v := range want {
					v += float64(init[i])
					tol := 2e-6*(scale[i]+math.Abs(float64(init[i]))) + 1e-7
					if d := math.Abs(float64(got[i]) - v); !(d <= tol) {
						t.Fatalf("%s[%d] = %v, want %v (tolerance %v)", what, i, got[i], v, tol)
					}
				}
			}
			for _, which := range []string{"wbx", "w", "b", "x", "wb", "bx", "wx"} {
				gw, gb, gx := b3ConvRun(t, tc, which, x, w, gout, gw0, gb0, gx0, false)
				if gw != nil {
					check(which+": gw", gw, gw0, rw, aw)
				}
				if gb != nil {
					check(which+": gb", gb, gb0, rb, ab)
				}
				if gx != nil {
					check(which+": gx", gx, gx0, rx, ax)
				}
			}
			_, _, gx := b3ConvRun(t, tc, "wbx", x, w, gout, gw0, gb0, gx0, true)
			check("overwrite: gx", gx, make([]float32, len(gx0)), rx, ax)
		})
	}
}

// TestBreak3ConvBackwardAddsBits checks that gradients are added into
// their buffers bit for bit as zeros-then-add: the result from non-zero
// initial values is float32(init + result from zeros) element by element,
// for the filter gradient (one addition of the parts' sum) and the bias
// gradient (one addition of the rounded float64 sum).
func TestBreak3ConvBackwardAddsBits(t *testing.T) {
	for i, tc := range b3ConvCases {
		if !tc.perImage {
			continue
		}
		x, w, gout, gw0, gb0, _ := b3ConvOperands(tc, uint64(40+i))
		zw, zb, _ := b3ConvRun(t, tc, "wb", x, w, gout, make([]float32, len(gw0)), make([]float32, len(gb0)), nil, false)
		gw, gb, _ := b3ConvRun(t, tc, "wb", x, w, gout, gw0, gb0, nil, false)
		for i := range gw {
			if want := gw0[i] + zw[i]; math.Float32bits(gw[i]) != math.Float32bits(want) {
				t.Fatalf("%v: gw[%d] = %v from %v, want %v + %v = %v", tc, i, gw[i], gw0[i], gw0[i], zw[i], want)
			}
		}
		for i := range gb {
			if want := gb0[i] + zb[i]; math.Float32bits(gb[i]) != math.Float32bits(want) {
				t.Fatalf("%v: gb[%d] = %v from %v, want %v + %v = %v", tc, i, gb[i], gb0[i], gb0[i], zb[i], want)
			}
		}
	}
}

// TestBreak3ConvBackwardDirectVsPacked checks that the image-by-image
// filter gradient has the same bits whether the output gradient is read in
// place (forceDirectA, the AVX-512 in-place micro-kernels) or packed (the
// same kernel without its in-place variants), for all three gradients, and
// that the bias gradient is the same with and without the AVX-512 lane
// sums.
func TestBreak3ConvBackwardDirectVsPacked(t *testing.T) {
	if defaultKernel.directFns == nil {
		t.Skip("no in-place micro-kernels on this CPU or build")
	}
	packed := *defaultKernel
	packed.directFns = nil
	for i, tc := range b3ConvCases {
		x, w, gout, gw0, gb0, gx0 := b3ConvOperands(tc, uint64(80+i))
		dw, db, dx := b3ConvRun(t, tc, "wbx", x, w, gout, gw0, gb0, gx0, false)
		var pw, pb, px []float32
		func() {
			defer func(k *microKernel, avx bool) { defaultKernel, elemAVX512 = k, avx }(defaultKernel, elemAVX512)
			defaultKernel, elemAVX512 = &packed, false
			pw, pb, px = b3ConvRun(t, tc, "wbx", x, w, gout, gw0, gb0, gx0, false)
		}()
		sameBits(t, tc.String()+" gw in place vs packed", dw, pw)
		sameBits(t, tc.String()+" gb AVX-512 vs Go lanes", db, pb)
		sameBits(t, tc.String()+" gx", dx, px)
	}
}

// TestBreak3ConvBackwardStaleParts: a call whose output gradient holds
// NaN and infinities leaves NaNs in the job's scratch (the parts' tiles,
// the columns); the next call on the same geometry must not see them (the
// first image of a part is written with beta 0, which must not read the
// tile) and must give the bits of the same call made before.
func TestBreak3ConvBackwardStaleParts(t *testing.T) {
	for i, tc := range b3ConvCases {
		if !tc.perImage {
			continue
		}
		x, w, gout, gw0, gb0, gx0 := b3ConvOperands(tc, uint64(120+i))
		before, beforeB, beforeX := b3ConvRun(t, tc, "wbx", x, w, gout, gw0, gb0, gx0, false)
		bad := slices.Clone(gout)
		for j := range bad {
			switch j % 3 {
			case 0:
				bad[j] = float32(math.NaN())
			case 1:
				bad[j] = float32(math.Inf(1))
			default:
				bad[j] = float32(math.Inf(-1))
			}
		}
		nw, _, _ := b3ConvRun(t, tc, "wbx", x, w, bad, gw0, gb0, gx0, false)
		if !isNaN32(nw[0]) {
			t.Fatalf("%v: a NaN output gradient gave gw[0] = %v", tc, nw[0])
		}
		for range 2 {
			after, afterB, afterX := b3ConvRun(t, tc, "wbx", x, w, gout, gw0, gb0, gx0, false)
			sameBits(t, tc.String()+" gw after a NaN call", after, before)
			sameBits(t, tc.String()+" gb after a NaN call", afterB, beforeB)
			sameBits(t, tc.String()+" gx after a NaN call", afterX, beforeX)
		}
	}
}

// TestBreak3ConvBackwardConcurrent runs image-by-image filter gradients
// of several geometries from several goroutines at once (their jobs, tiles
// and contexts must not be shared) and compares each with the same call
// made alone. Under -race it also looks for data races between the parts.
func TestBreak3ConvBackwardConcurrent(t *testing.T) {
	type run struct {
		tc                      b3Conv
		x, w, gout, gw, gb, gx0 []float32
		want, wantB             []float32
	}
	var runs []*run
	for i, tc := range b3ConvCases {
		if !tc.perImage || tc.n > 8 {
			continue
		}
		x, w, gout, gw0, gb0, gx0 := b3ConvOperands(tc, uint64(160+i))
		rn := &run{tc: tc, x: x, w: w, gout: gout, gw: gw0, gb: gb0, gx0: gx0}
		rn.want, rn.wantB, _ = b3ConvRun(t, tc, "wb", x, w, gout, gw0, gb0, nil, false)
		runs = append(runs, rn)
	}
	var wg sync.WaitGroup
	errs := make([]string, len(runs)*3)
	for rep := range 3 {
		for i, rn := range runs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g := rn.tc.geom()
				gw, gb := slices.Clone(rn.gw), slices.Clone(rn.gb)
				Conv2dBackward(g, rn.tc.cout, rn.w, rn.x, rn.gout, gw, gb, nil, false)
				for j := range gw {
					if math.Float32bits(gw[j]) != math.Float32bits(rn.want[j]) {
						errs[rep*len(runs)+i] = fmt.Sprintf("%v: concurrent gw[%d] = %v, alone %v", rn.tc, j, gw[j], rn.want[j])
						return
					}
				}
				for j := range gb {
					if math.Float32bits(gb[j]) != math.Float32bits(rn.wantB[j]) {
						errs[rep*len(runs)+i] = fmt.Sprintf("%v: concurrent gb[%d] = %v, alone %v", rn.tc, j, gb[j], rn.wantB[j])
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Error(e)
		}
	}
}

// TestBreak3ConvBiasGradExact: output gradients of multiples of 2^-12 below
// 2^12 (every float64 partial sum exact, in any order) whose planes' sizes
// leave every tail length of the 32 lanes: the bias gradient must be
// exactly float32(init + float32(exact sum)), on both paths. A lane
// dropped, counted twice, or a tail lane read past a plane shows up as a
// wrong bit. Also the lane sums with infinities and NaN: Go and AVX-512
// agree.
func TestBreak3ConvBiasGradExact(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, p := range []int{1, 2, 7, 31, 32, 33, 63, 64, 65, 127, 128, 129, 196, 1000} {
		for _, n := range []int{1, 2, 3} {
			const cout = 3
			gout := make([]float32, n*cout*p)
			for i := range gout {
				gout[i] = float32(r.IntN(1<<24)-1<<23) / (1 << 12)
			}
			for _, avx := range n2AVXModes() {
				withAVX(avx, func() {
					for co := range cout {
						var exact float64
						for i := range n {
							for _, v := range gout[(i*cout+co)*p : (i*cout+co+1)*p] {
								exact += float64(v)
							}
						}
						got := convBiasGrad(gout, n, cout, co, p)
						if got != float32(exact) {
							t.Fatalf("p=%d n=%d avx=%v: bias gradient of filter %d = %v, want %v", p, n, avx, co, got, float32(exact))
						}
					}
				})
			}
			// Specials: the two paths give the same bits (NaNs as NaNs).
			sp := slices.Clone(gout)
			sp[r.IntN(len(sp))] = float32(math.Inf(1))
			sp[r.IntN(len(sp))] = float32(math.Inf(-1))
			if p > 5 {
				sp[r.IntN(len(sp))] = float32(math.NaN())
			}
			var res [2][cout]float32
			for j, avx := range n2AVXModes() {
				withAVX(avx, func() {
					for co := range cout {
						res[j][co] = convBiasGrad(sp, n, cout, co, p)
					}
				})
			}
			if len(n2AVXModes()) == 2 {
				sameBitsAnyNaN(t, fmt.Sprintf("p=%d n=%d specials", p, n), res[0][:], res[1][:])
			}
		}
	}
}

// TestBreak3ConvBackwardPerImageNoAlloc: a warm image-by-image filter
// gradient (with and without the bias and input gradients) allocates
// nothing.
func TestBreak3ConvBackwardPerImageNoAlloc(t *testing.T) {
	for _, tc := range []b3Conv{b3ConvCases[2], b3ConvCases[11]} {
		g := tc.geom()
		x, w, gout, gw, gb, gx := b3ConvOperands(tc, 3)
		for _, which := range []string{"w", "wb", "wbx"} {
			aw, ab, ax := gw, gb, gx
			if which != "wbx" {
				ax = nil
			}
			if which == "w" {
				ab = nil
			}
			Conv2dBackward(g, tc.cout, w, x, gout, aw, ab, ax, false)
			if a := testing.AllocsPerRun(3, func() { Conv2dBackward(g, tc.cout, w, x, gout, aw, ab, ax, false) }); a != 0 {
				t.Errorf("%v %s: %v allocations per call", tc, which, a)
			}
		}
	}
}
