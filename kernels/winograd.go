package kernels

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"unsafe"
)

// Winograd convolution for inference (decision #51).
//
// A stride-2 convolution with a K x K window is a stride-1 convolution with
// an r x r window, r = ceil(K/2), over the four phases of its padded input
// (space to depth): phase (p, q) holds the padded values at (2u+p, 2v+q), and
// the filter of input channel c' = 4c + 2p + q holds w[c, 2a+p, 2b+q] at
// (a, b), zero where 2a+p or 2b+q reaches K. That stride-1 convolution is
// computed by Winograd's minimal filtering F(4x4, r x r) (Lavin and Gray,
// "Fast Algorithms for Convolutional Neural Networks", 2016): each 4 x 4 tile
// of outputs is A^T [ sum over c' of (G g G^T) . (B^T d B) ] A, with d the
// tile's alpha x alpha input patch (alpha = 4 + r - 1) and g the r x r
// filter. The sum over c' is alpha^2 matrix products [cout, 4C] x [4C,
// tiles], one per point of the transformed tile, in place of the direct
// product's [cout, C*K*K] x [C*K*K, positions]: basic28x28's second
// convolution (5 x 5, 64 -> 128 channels, 7 x 7 outputs) takes 2.1x fewer
// multiplications, basic32x32's 4 x 4 ones 2.6x fewer. A stride-1 window of
// 2 or 3 is the same with one phase (c' = c, r = K): 4x fewer for 3 x 3
// (alex64x64's convolutions).
//
// The values differ from Conv2d's at float rounding (relative errors of
// about 1e-6 to 1e-5 against a float64 reference, TestConv2dWinograd), so
// it is used where no gradient is taken: an encoder's conv block at
// inference (autograd.Conv2dBNReLU).

// winoM is the side of an output tile.
const winoM = 4

// winoCols is the number of tiles (the products' columns) a group of
// images aims at: enough for full 32-column strips of the micro-kernel,
// few enough that a group's transformed input (alpha^2 x 4C x columns)
// stays in the core's L2 cache.
const winoCols = 32

// winoMat holds the transform matrices of F(4, r), padded to 6 columns so
// that one assembly routine serves alpha = 5 and 6: bt is B^T (alpha x
// alpha), at is A^T (4 x alpha), g is G (alpha x r), row-major with 6
// columns (bt, at) or r columns (g); the padding is zero.
type winoMat struct {
	alpha, r int
	bt       [36]float32
	at       [24]float32
	g        [18]float64
}

// winoMats[r] is F(4, r)'s matrices for r = 2 and 3.
var winoMats = [4]*winoMat{2: newWinoMat(2), 3: newWinoMat(3)}

// winoPoints are the interpolation points of F(4, r) besides infinity,
// the usual small ones (Lavin and Gray's for F(4, 3)).
var winoPoints = [...]float64{0, 1, -1, 2, -2}

// newWinoMat builds F(4, r)'s matrices by the modified Toom-Cook
// construction: with M(x) the product of (x - p) over the alpha-1 finite
// points, row j of B^T holds the coefficients of M(x)/(x - p_j) and its last
// row those of M(x); row j of G is p_j^k / prod_{l != j}(p_j - p_l), its last
// row picks the highest filter tap; A^T[i][j] = p_j^i, and its last column
// picks the highest output.
func newWinoMat(r int) *winoMat {
	alpha := winoM + r - 1
	n := alpha - 1
	pts := winoPoints[:n]
	mat := &winoMat{alpha: alpha, r: r}
	// poly returns the coefficients (lowest first) of the product of
	// (x - p) over the points other than skip (all when skip < 0).
	poly := func(skip int) []float64 {
		c := []float64{1}
		for l, p := range pts {
			if l == skip {
				continue
			}
			next := make([]float64, len(c)+1)
			for k, v := range c {
				next[k+1] += v
				next[k] -= p * v
			}
			c = next
		}
		return c
	}
	for j := range n {
		for k, v := range poly(j) {
			mat.bt[j*6+k] = float32(v)
		}
		den := 1.0
		for l, p := range pts {
			if l != j {
				den *= pts[j] - p
			}
		}
		pk := 1.0
		for k := range r {
			mat.g[j*r+k] = pk / den
			pk *= pts[j]
		}
		pi := 1.0
		for i := range winoM {
			mat.at[i*6+j] = float32(pi)
			pi *= pts[j]
		}
	}
	for k, v := range poly(-1) {
		mat.bt[n*6+k] = float32(v)
	}
	mat.g[n*r+r-1] = 1
	mat.at[(winoM-1)*6+n] = 1
	return mat
}

// CanWinograd reports whether Conv2dWinograd computes the convolution of
// geometry g with cout filters: a square window of 3 to 6 with stride 2,
// or of 2 or 3 with stride 1, at least 16 input channels and 16 filters
// (below that the transformed products are too thin to gain), and a CPU
// with AVX-512 (the transforms' gathers and scatters; elsewhere Conv2d is
// as fast).
func CanWinograd(g ConvGeom, cout int) bool {
	return elemAVX512 && winoShapeOK(g, cout)
}

// WinogradPays reports whether Conv2dWinograd, for a geometry CanWinograd
// accepts, is faster than Conv2d even when its filters are new at every
// call, as in a training step: transforming and packing them, then
// streaming the transformed filters (alpha^2 / r^2 times the phase
// filters: 4x for 3 x 3, 6.25x for 2 x 2) once per group of tiles, costs
// about what a batch of winoFreshTiles tiles saves. At inference the
// transformed filters are cached across batches and CanWinograd alone
// decides.
func WinogradPays(g ConvGeom, cout int) bool {
	if !CanWinograd(g, cout) {
		return false
	}
	return g.N*gemmCeilDiv(g.OH, winoM)*gemmCeilDiv(g.OW, winoM) >= winoFreshTiles
}

// winoFreshTiles is the fewest tiles a call must convolve for fresh
// filters to pay (BenchmarkWinogradTraining, batch 64, filters changed at
// every call, direct -> Winograd: basic28x28's second convolution, 256
// tiles, 5.94 -> 4.15 ms; basic32x32's second, 256 tiles, 4.07 -> 2.80
// ms; its third, 64 tiles, 4.45 -> 6.13 ms; basic64x64's fourth, 64
// tiles, 17.8 -> 27.1 ms).
const winoFreshTiles = 128

// winoShapeOK is CanWinograd without the CPU test.
func winoShapeOK(g ConvGeom, cout int) bool {
	k := g.KH
	return (g.Stride == 2 && k >= 3 && k <= 6 || g.Stride == 1 && k >= 2 && k <= 3) && g.KW == k &&
		g.C >= 16 && cout >= 16 && g.OH > 0 && g.OW > 0 && g.Pad >= 0 && g.Pad < k
}

// winoPlan is the layout of one Conv2dWinograd call.
type winoPlan struct {
	g                 ConvGeom
	cout              int
	mat               *winoMat
	alpha, r, xi      int // transformed tile side, sub-window side, alpha^2
	s, phases         int // the stride, and the phases of the input: stride^2
	cp                int // input channels of the stride-1 convolution, phases*C
	tx, tiles         int // tiles per image row, per image
	group, groups     int // images per group, groups
	ld                int // columns of the products (tiles of a group, rounded to 16)
	blocks            int // ld / 16
	planeIn, planeOut int
}

func newWinoPlan(g ConvGeom, cout int) winoPlan {
	st := g.Stride
	r := (g.KH + st - 1) / st
	mat := winoMats[r]
	ty, tx := gemmCeilDiv(g.OH, winoM), gemmCeilDiv(g.OW, winoM)
	pl := winoPlan{g: g, cout: cout, mat: mat, alpha: mat.alpha, r: r, xi: mat.alpha * mat.alpha,
		s: st, phases: st * st, cp: st * st * g.C, tx: tx, tiles: ty * tx}
	pl.group = max(1, min(g.N, gemmCeilDiv(winoCols, pl.tiles)))
	pl.groups = gemmCeilDiv(g.N, pl.group)
	pl.ld = gemmRoundUp(pl.group*pl.tiles, 16)
	pl.blocks = pl.ld / 16
	pl.planeIn, pl.planeOut = g.H*g.W, g.OH*g.OW
	return pl
}

// Conv2dWinograd computes what Conv2d computes (same arguments, same
// layouts, bias and epilogue) by Winograd's F(4x4, r x r) over the phases
// of the stride-2 input, for a geometry CanWinograd accepts; the values
// differ from Conv2d's at float rounding. kernels.Flops counts the direct
// convolution's multiply-adds, so that rates stay comparable. It panics on
// inconsistent sizes or a geometry it does not handle.
func Conv2dWinograd(g ConvGeom, cout int, w, bias, x, out []float32, epi *ConvEpilogue) {
	g.check("Conv2dWinograd", x, nil)
	k, p := g.ColRows(), g.OH*g.OW
	if !winoShapeOK(g, cout) {
		panic(fmt.Sprintf("kernels: Conv2dWinograd: geometry %+v with %d filters is not a window of 3 to 6 with stride 2, or 2 or 3 with stride 1, over 16 or more channels", g, cout))
	}
	if len(w) < cout*k || len(out) < g.N*cout*p || bias != nil && len(bias) < cout {
		panic(fmt.Sprintf("kernels: Conv2dWinograd: %d filter, %d output, %d bias values for %d filters of geometry %+v",
			len(w), len(out), len(bias), cout, g))
	}
	if epi != nil && (len(epi.Sub) < cout || len(epi.Mul) < cout || len(epi.Add) < cout) {
		panic(fmt.Sprintf("kernels: Conv2dWinograd: epilogue of %d, %d, %d values for %d filters", len(epi.Sub), len(epi.Mul), len(epi.Add), cout))
	}
	if g.N == 0 {
		return
	}
	pl := newWinoPlan(g, cout)
	j := getWinoJob()
	j.pl, j.w, j.bias, j.x, j.out, j.epi = pl, w, bias, x, out, epi
	// An Inf or NaN would spread over its whole tile through the
	// transforms (and +Inf meet -Inf), where the direct convolution keeps
	// it to the outputs it feeds: a non-finite filter, or a transformed
	// input that is not finite (each group checks its own while it is in
	// cache), sends the call to Conv2d.
	if !j.transformFilters() {
		j.release()
		Conv2d(g, cout, w, bias, x, out, epi)
		return
	}
	workers := min(Workers(), pl.groups)
	j.reserve(workers)
	parallelRun(j, pl.groups, workers)
	nonFinite := j.nonFinite.Swap(false)
	j.release()
	if nonFinite {
		Conv2d(g, cout, w, bias, x, out, epi)
		return
	}
	flopCount.Add(2 * int64(g.N) * int64(cout) * int64(p) * int64(k))
}

// release drops the job's references to the call's slices and returns it
// to the free list.
func (j *winoJob) release() {
	j.w, j.bias, j.x, j.out, j.epi, j.pa = nil, nil, nil, nil, nil, nil
	if j.grad != nil {
		j.grad.gx, j.grad = nil, nil
	}
	winoFree.put(j)
}

// winoJob is one Conv2dWinograd call in flight: the transformed filters,
// packed once, and each participant's scratch. Jobs are recycled.
type winoJob struct {
	pl      winoPlan
	w, bias []float32
	x, out  []float32
	epi     *ConvEpilogue
	taps    []float32 // the phase filters [r*r][cout*4C], columns in packed order
	kg      []float32 // G (x) G, [alpha^2][r*r]
	pa      []packedA // the call's transformed filters, per transformed point: one of filters' entries
	filters [winoCached]winoFilters
	next    int // the entry of filters to replace next
	ws      []*winoScratch
	fr      winoFilterRun
	// nonFinite is set by a group whose transformed input holds an Inf or
	// NaN: the call is then the direct convolution's.
	nonFinite atomic.Bool
	// grad, when not nil, makes the call Conv2dBackward's input gradient
	// (winoInputGrad): x is the output gradient, w the forward filters.
	grad *winoGrad
	gr   winoGrad // grad's storage
}

// winoCached is how many filter banks a job keeps transformed: an
// encoder's stride-2 convolutions (two for basic32x32) find theirs at every
// batch.
const winoCached = 4

// winoFilters is one filter bank transformed and packed, with a copy of
// the filters it came from: a call with the same slice and the same bits
// reuses it, so that inference over many batches transforms each bank
// once, and a bank changed in place (a training step between two
// evaluations) is transformed again.
//
// The filters' address is kept as a number, not a pointer, so that the
// cache never keeps a dropped model's weights alive; it only speeds the
// search, since a hit needs the same bits, for which the transform is right
// wherever they lie.
type winoFilters struct {
	addr          uintptr
	cout, c, k, s int // the bank's shape and the stride its transform is for
	w             []float32
	pa            []packedA
	slab          []float32 // the data of pa, one point after the other
}

// winoScratch is one participant's buffers.
type winoScratch struct {
	ctx        gemmCtx
	v, m       []float32 // transformed input [alpha^2][4C][ld] and products [alpha^2][cout][ld]
	out        []float32 // a group's outputs [group][cout][OH*OW], for winoInputGrad
	gidx, oidx []int32   // per column: the tile's offset in the group's input (can be negative) and output
	masks      []uint16  // per 16-column block and output of a tile: the columns that hold it
	// inMasks holds, per 16-column block and phase, the columns whose
	// patch row a (inMasks[..][a]) and column b (inMasks[..][6+b]) fall
	// inside the image: the padding is read as zeros, never from memory.
	inMasks []uint16
	tmp     [36 * 16]float32
}

var winoFree freeList[winoJob]

func getWinoJob() *winoJob { return winoFree.get() }

// transformFilters sets j.pa to the packed transforms of the call's
// filters: a cached entry's when its copy holds the same bits, else
// computed into the entry of the same slice and shape (the bank changed in
// place) or, failing that, the least recently filled entry. It reports
// false, and sets nothing, when a filter is not finite.
func (j *winoJob) transformFilters() bool {
	pl := &j.pl
	n := pl.cout * pl.g.ColRows()
	w := j.w[:n]
	addr := uintptr(unsafe.Pointer(&w[0]))
	// A bank has at most one entry: one changed in place (a training
	// step's filters, new at every step) takes its own entry back, where it
	// would only evict the others and the job would hold four transforms
	// of one bank.
	var f *winoFilters
	for i := range j.filters {
		if e := &j.filters[i]; e.addr == addr && e.cout == pl.cout && e.c == pl.g.C && e.k == pl.g.KH && e.s == pl.s {
			if equalBits(e.w, w) {
				j.pa = e.pa
				return true
			}
			f = e
			break
		}
	}
	if !AllFinite(w) {
		return false
	}
	if f == nil {
		f = &j.filters[j.next]
		j.next = (j.next + 1) % winoCached
	}
	f.addr, f.cout, f.c, f.k, f.s = 0, pl.cout, pl.g.C, pl.g.KH, pl.s
	f.w = append(f.w[:0], w...)
	for len(f.pa) < pl.xi {
		f.pa = append(f.pa, packedA{})
	}
	f.pa = f.pa[:pl.xi]
	j.computeFilters(&f.slab, f.pa)
	f.addr = addr
	j.pa = f.pa
	return true
}

// equalBits reports whether a and b hold the same float32 bit patterns.
func equalBits(a, b []float32) bool {
	return len(a) == len(b) && (len(a) == 0 ||
		bytes.Equal(unsafe.Slice((*byte)(unsafe.Pointer(&a[0])), 4*len(a)), unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), 4*len(b))))
}

// computeFilters computes U = G g G^T of every phase filter and leaves each
// transformed point's [cout, 4C] matrix in pa, packed for the micro-kernel,
// through one product (G (x) G) [alpha^2, r^2] x taps [r^2, L]: the taps'
// columns are laid out in the packed order (winoPackedOffset), which is the
// same for every point, so that row xi of the product is pa[xi]'s packed
// data, held in one slab. It runs on the worker pool in two passes
// (winoFilterRun): ranges of filters gathered, then ranges of columns
// multiplied. A training step changes the filters, so this runs at every
// step there.
func (j *winoJob) computeFilters(slab *[]float32, pa []packedA) {
	pl := &j.pl
	r, kern := pl.r, defaultKernel
	mcEff, mBlocks := gemmBlocks(kern, pl.cout, 1)
	var l int // the packed length of one point's matrix
	for ib := range mBlocks {
		mc := min(mcEff, pl.cout-ib*mcEff)
		if kern.rowFns == nil {
			mc = gemmRoundUp(mc, kern.mr)
		}
		l += mc * pl.cp
	}
	*slab = gemmGrow(*slab, pl.xi*l)
	for xi := range pa {
		pa[xi] = packedA{kern: kern, m: pl.cout, k: pl.cp, mcEff: mcEff, data: (*slab)[xi*l : (xi+1)*l : (xi+1)*l]}
	}
	// Rows of taps a multiple of 4 KiB apart would share the L1 sets.
	ld := l + 16
	j.taps = gemmGrow(j.taps, r*r*ld)
	if kern.rowFns == nil {
		clear(j.taps) // the padding rows of a last panel
	}
	j.kg = gemmGrow(j.kg, pl.xi*r*r)
	for i := range pl.alpha {
		for jj := range pl.alpha {
			for a := range r {
				for b := range r {
					j.kg[(i*pl.alpha+jj)*r*r+a*r+b] = float32(pl.mat.g[i*r+a] * pl.mat.g[jj*r+b])
				}
			}
		}
	}
	workers := Workers()
	for len(j.ws) < workers {
		j.ws = append(j.ws, new(winoScratch))
	}
	f := &j.fr
	f.j, f.pa, f.slab, f.l, f.ld = j, pa, *slab, l, ld
	f.gather, f.chunks = true, min(pl.cout, 4*workers)
	parallelRun(f, f.chunks, workers)
	f.gather, f.chunks = false, min(gemmCeilDiv(l, 1024), 4*workers)
	// Every participant's context is sized for the product here, whichever
	// chunks it ends up taking, so that no later call grows one.
	for _, s := range j.ws[:workers] {
		x := &s.ctx
		x.kern, x.preA, x.serial = defaultKernel, nil, true
		x.transA, x.transB = false, false
		x.m, x.n, x.k = pl.xi, gemmCeilDiv(l, f.chunks), r*r
		x.setup()
		x.serial = false
	}
	parallelRun(f, f.chunks, workers)
	f.j, f.pa, f.slab = nil, nil, nil
	// The taps are kept for banks up to winoKeepFloats (a training step
	// transforms its filters at every step), else dropped (basic64x64's
	// last convolution, transformed once per bank at inference).
	if len(j.taps) > winoKeepFloats {
		j.taps = nil
	}
}

// winoKeepFloats bounds the filter-transform scratch a job keeps between
// calls (16 MiB).
const winoKeepFloats = 4 << 20

// winoPackedOffset is where packedA.pack puts element (i, p) of an m x k
// matrix for kern in a single-threaded packing with mcEff-row blocks (see
// packedA.block and gemmCtx.packA).
func winoPackedOffset(kern *microKernel, m, k, mcEff, i, p int) int {
	ib := i / mcEff
	i0 := ib * mcEff
	mc := min(mcEff, m-i0)
	w := mc
	if kern.rowFns == nil {
		w = gemmRoundUp(mc, kern.mr)
	}
	rr := i - i0
	pr, lane := rr-rr%kern.mr, rr%kern.mr
	pk, q := p-p%kern.kc, p%kern.kc
	kcb := min(kern.kc, k-pk)
	wd := kern.mr
	if rows := min(kern.mr, mc-pr); rows < kern.mr && kern.rowFns != nil {
		wd = rows
	}
	return i0*k + w*pk + pr*kcb + q*wd + lane
}

// winoPhaseTaps returns, for each phase ph of a stride-s convolution with
// a k x k window and its r x r phase filters, the window's tap (kh*k+kw)
// at (a, b) of phase ph's filter: kh = s*a + ph/s, kw = s*b + ph%s, or, when
// flip, at (r-1-a, r-1-b) (the input gradient's flipped filters, winoGrad);
// -1 past the window (a zero tap). Entries [ph][a*r+b] are set for the s*s
// phases.
func winoPhaseTaps(s, r, k int, flip bool) [4][9]int {
	var t [4][9]int
	for ph := range s * s {
		for a := range r {
			for b := range r {
				ia, ib := a, b
				if flip {
					ia, ib = r-1-a, r-1-b
				}
				t[ph][a*r+b] = -1
				if kh, kw := s*ia+ph/s, s*ib+ph%s; kh < k && kw < k {
					t[ph][a*r+b] = kh*k + kw
				}
			}
		}
	}
	return t
}

// winoFilterRun is computeFilters' two parallel passes over a job.
type winoFilterRun struct {
	j      *winoJob
	pa     []packedA
	slab   []float32
	l      int  // the packed length of one point's matrix
	ld     int  // the taps' row stride: l, padded off a multiple of 4 KiB
	gather bool // the first pass: chunks of filters; else chunks of columns
	chunks int
}

func (f *winoFilterRun) runChunk(w, chunk int) {
	j := f.j
	pl := &j.pl
	g, r, cp, l := pl.g, pl.r, pl.cp, f.l
	if !f.gather {
		c0, c1 := chunk*l/f.chunks, (chunk+1)*l/f.chunks
		sgemmSerial(&j.ws[w].ctx, false, false, pl.xi, c1-c0, r*r, j.kg, r*r, j.taps[c0:], f.ld, 0, f.slab[c0:], l)
		return
	}
	// The source of each phase's taps in a filter's kk x kk window.
	kk := g.KH
	src := winoPhaseTaps(pl.s, r, kk, false)
	// A filter's packed offsets for column c' of the point matrices: its
	// row's base plus c' times the width of its panel (winoPackedOffset),
	// for each block of kc columns. The filters of a sub-range go inner,
	// so that the lanes of a panel are written side by side.
	pa := &f.pa[0]
	kern, kc, ld := pa.kern, pa.kern.kc, f.ld
	taps := j.taps
	var base, wd [64]int
	for s0 := chunk * pl.cout / f.chunks; s0 < (chunk+1)*pl.cout/f.chunks; s0 += len(base) {
		s1 := min(s0+len(base), (chunk+1)*pl.cout/f.chunks)
		for pk := 0; pk < cp; pk += kc {
			kcb := min(kc, cp-pk)
			for co := s0; co < s1; co++ {
				base[co-s0] = winoPackedOffset(kern, pl.cout, cp, pa.mcEff, co, pk)
				wd[co-s0] = winoPackedOffset(kern, pl.cout, cp, pa.mcEff, co, pk+min(1, kcb-1)) - base[co-s0]
			}
			for q := range kcb {
				cc := pk + q
				c, ph := cc/pl.phases, cc%pl.phases
				for co := s0; co < s1; co++ {
					col := base[co-s0] + q*wd[co-s0]
					var w []float32
					sp := &src[ph]
					if gr := j.grad; gr != nil {
						// Output channel co is phase co/C of input
						// channel co%C; input channel c is filter c.
						gc, gk := gr.g.C, gr.g.KH
						w = j.w[(c*gc+co%gc)*gk*gk : (c*gc+co%gc+1)*gk*gk]
						sp = &gr.src[co/gc]
					} else {
						w = j.w[(co*g.C+c)*kk*kk : (co*g.C+c+1)*kk*kk]
					}
					for t, si := range sp[:r*r] {
						var v float32
						if si >= 0 {
							v = w[si]
						}
						taps[t*ld+col] = v
					}
				}
			}
		}
	}
}

// reserve sizes the scratch of participants [0, workers).
func (j *winoJob) reserve(workers int) {
	pl := &j.pl
	for len(j.ws) < workers {
		j.ws = append(j.ws, new(winoScratch))
	}
	for _, s := range j.ws[:workers] {
		s.v = gemmGrow(s.v, pl.xi*pl.cp*pl.ld)
		s.m = gemmGrow(s.m, pl.xi*pl.cout*pl.ld)
		if j.grad != nil {
			s.out = gemmGrow(s.out, pl.group*pl.cout*pl.planeOut)
		}
		if cap(s.gidx) < pl.ld {
			s.gidx, s.oidx = make([]int32, pl.ld), make([]int32, pl.ld)
			s.masks = make([]uint16, pl.blocks*16)
		}
		if cap(s.inMasks) < pl.blocks*4*12 {
			s.inMasks = make([]uint16, pl.blocks*4*12)
		}
		s.gidx, s.oidx = s.gidx[:pl.ld], s.oidx[:pl.ld]
		s.masks, s.inMasks = s.masks[:pl.blocks*16], s.inMasks[:pl.blocks*4*12]
		s.ctx.prepare(&j.pa[0], pl.ld)
	}
}

// runChunk convolves group number chunk of the batch.
func (j *winoJob) runChunk(w, chunk int) {
	pl, s := &j.pl, j.ws[w]
	g := pl.g
	n0 := chunk * pl.group
	gn := min(pl.group, g.N-n0)
	pl.lanes(s, gn)
	// The input transform, read from the images in place.
	vStride := pl.cp * pl.ld
	for c := range g.C {
		for ph := range pl.phases {
			// The phase's first tap, (ph/s, ph%s) of the group's first
			// image, can lie past the end of x (one-row images): it is
			// added to the lanes' offsets, never formed as a pointer.
			base, off := (n0*g.C+c)*pl.planeIn, (ph/pl.s)*g.W+ph%pl.s
			for b := range pl.blocks {
				m := s.inMasks[(b*4+ph)*12:]
				winoIn(s.v[(pl.phases*c+ph)*pl.ld+16*b:], vStride, j.x, base, off, pl.s*g.W, pl.s, s.gidx[16*b:16*b+16], m[:6], m[6:12], pl.mat, &s.tmp)
			}
		}
	}
	if !AllFinite(s.v[:pl.xi*vStride]) {
		if j.grad != nil {
			j.grad.bad[chunk] = true
			return
		}
		j.nonFinite.Store(true)
		return
	}
	// The products, one per transformed point.
	for xi := range pl.xi {
		sgemmPackedA(&s.ctx, &j.pa[xi], pl.ld, s.v[xi*vStride:], pl.ld, s.m[xi*pl.cout*pl.ld:], pl.ld)
	}
	// The output transform with the bias and the epilogue.
	mStride := pl.cout * pl.ld
	var out []float32
	if j.grad != nil {
		out = s.out
	} else {
		out = j.out[n0*pl.cout*pl.planeOut:]
	}
	var ep [4]float32
	relu := false
	for co := range pl.cout {
		ep = [4]float32{0, 0, 1, 0}
		if j.bias != nil {
			ep[0] = j.bias[co]
		}
		if e := j.epi; e != nil {
			ep[1], ep[2], ep[3], relu = e.Sub[co], e.Mul[co], e.Add[co], e.ReLU
		}
		for b := range pl.blocks {
			winoOut(out[co*pl.planeOut:], s.oidx[16*b:16*b+16], s.masks[16*b:16*b+16], s.m[co*pl.ld+16*b:], mStride, pl.mat, g.OW, &ep, relu, &s.tmp)
		}
	}
	if j.grad != nil {
		j.grad.scatter(out, n0, gn)
	}
}

// lanes fills s's per-column tables for a group of gn images: column j =
// image*tiles + tile; columns past gn*tiles read nothing and are never
// stored.
func (pl *winoPlan) lanes(s *winoScratch, gn int) {
	g := pl.g
	used := gn * pl.tiles
	clear(s.masks)
	clear(s.inMasks)
	for col := range pl.ld {
		if col >= used {
			s.gidx[col], s.oidx[col] = 0, 0
			continue
		}
		i, t := col/pl.tiles, col%pl.tiles
		ty, tx := t/pl.tx, t%pl.tx
		// Patch element (a, b) of phase (p, q) is the input at row
		// s(4ty+a)+p-Pad, column s(4tx+b)+q-Pad, s the stride.
		y0, x0 := pl.s*winoM*ty-g.Pad, pl.s*winoM*tx-g.Pad
		s.gidx[col] = int32(i*g.C*pl.planeIn + y0*g.W + x0)
		s.oidx[col] = int32(i*pl.cout*pl.planeOut + winoM*ty*g.OW + winoM*tx)
		bit := uint16(1) << (col % 16)
		for ph := range pl.phases {
			m := s.inMasks[((col/16)*4+ph)*12:]
			for a := range pl.alpha {
				if y := y0 + pl.s*a + ph/pl.s; y >= 0 && y < g.H {
					m[a] |= bit
				}
				if x := x0 + pl.s*a + ph%pl.s; x >= 0 && x < g.W {
					m[6+a] |= bit
				}
			}
		}
		for oy := range winoM {
			for ox := range winoM {
				if winoM*ty+oy < g.OH && winoM*tx+ox < g.OW {
					s.masks[(col/16)*16+oy*winoM+ox] |= 1 << (col % 16)
				}
			}
		}
	}
}

// winoInGo is the input transform of 16 columns (winoIn's contract) in Go.
func winoInGo(dst []float32, dstStride int, x []float32, base, off, rowStep, tapStep int, idx []int32, rowMask, colMask []uint16, mat *winoMat, tmp *[36 * 16]float32) {
	al := mat.alpha
	var d [6]float32
	for l := range 16 {
		o := base + off + int(idx[l])
		// Rows: tmp[a][i] = sum_b bt[i][b] d[a][b].
		for a := range al {
			for b := range al {
				d[b] = 0
				if (rowMask[a]&colMask[b])&(1<<l) != 0 {
					d[b] = x[o+a*rowStep+tapStep*b]
				}
			}
			for i := range al {
				var s float32
				for b := range al {
					s += mat.bt[i*6+b] * d[b]
				}
				tmp[(a*6+i)*16+l] = s
			}
		}
		for i := range al {
			for jj := range al {
				var s float32
				for a := range al {
					s += mat.bt[jj*6+a] * tmp[(a*6+i)*16+l]
				}
				dst[(jj*al+i)*dstStride+l] = s
			}
		}
	}
}

// winoOutGo is the output transform of 16 columns (winoOut's contract) in
// Go.
func winoOutGo(dst []float32, idx []int32, masks []uint16, src []float32, srcStride int, mat *winoMat, ow int, ep *[4]float32, relu bool, tmp *[36 * 16]float32) {
	al := mat.alpha
	for l := range 16 {
		for a := range al {
			for jj := range winoM {
				var s float32
				for b := range al {
					s += mat.at[jj*6+b] * src[(a*al+b)*srcStride+l]
				}
				tmp[(a*4+jj)*16+l] = s
			}
		}
		for jj := range winoM {
			for i := range winoM {
				if masks[i*4+jj]&(1<<l) == 0 {
					continue
				}
				var s float32
				for a := range al {
					s += mat.at[i*6+a] * tmp[(a*4+jj)*16+l]
				}
				s = ((s+ep[0])-ep[1])*ep[2] + ep[3]
				if relu {
					s = max(s, 0)
				}
				dst[int(idx[l])+i*ow+jj] = s
			}
		}
	}
}
