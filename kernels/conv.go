package kernels

import (
	"fmt"
	"runtime"
	"sync/atomic"
)

// packedA is op(A) [m, k] packed once into the micro-panels of kern, block
// by block as gemmCtx.packA lays them out for a single-threaded product, so
// that many products with the same A (a convolution's filters against
// each group of images) share one packing.
type packedA struct {
	kern        *microKernel
	m, k, mcEff int
	data        []float32
}

// pack packs op(A) (m x k, row-major with leading dimension lda; transposed
// when transA) for kern.
func (pa *packedA) pack(kern *microKernel, transA bool, m, k int, a []float32, lda int) {
	mcEff, mBlocks := gemmBlocks(kern, m, 1)
	pa.kern, pa.m, pa.k, pa.mcEff = kern, m, k, mcEff
	pa.data = gemmGrow(pa.data, mBlocks*mcEff*k)
	x := gemmCtx{kern: kern, transA: transA, m: m, k: k, a: a, lda: lda}
	for ib := range mBlocks {
		i0 := ib * mcEff
		mc := min(mcEff, m-i0)
		for pk := 0; pk < k; pk += kern.kc {
			x.packA(pa.block(ib, pk), i0, mc, pk, min(kern.kc, k-pk))
		}
	}
}

// block returns the packed panels of A block ib for the columns [pk,
// pk+kc) of op(A).
func (pa *packedA) block(ib, pk int) []float32 {
	i0 := ib * pa.mcEff
	mc := min(pa.mcEff, pa.m-i0)
	w := mc // a last partial panel is packed as wide as its rows
	if pa.kern.rowFns == nil {
		w = gemmRoundUp(mc, pa.kern.mr)
	}
	off := i0*pa.k + w*pk
	return pa.data[off : off+w*min(pa.kern.kc, pa.k-pk)]
}

// prepare makes x the context of products with the packed pa and up to n
// columns of B, and sizes its buffers: sgemmPackedA with x and at most n
// columns then allocates nothing.
func (x *gemmCtx) prepare(pa *packedA, n int) {
	x.kern, x.preA = pa.kern, pa
	x.transA, x.transB = false, false
	x.m, x.n, x.k = pa.m, n, pa.k
	x.alpha, x.beta = 1, 0
	x.setup()
}

// sgemmPackedA computes C = A*B on the calling goroutine, in the context
// x, with A packed by pa.pack: B is k x n (row-major, leading dimension
// ldb), C m x n (ldc).
func sgemmPackedA(x *gemmCtx, pa *packedA, n int, b []float32, ldb int, c []float32, ldc int) {
	gemmCheckMatrix("B", b, pa.k, n, ldb)
	gemmCheckMatrix("C", c, pa.m, n, ldc)
	if pa.m == 0 || n == 0 {
		return
	}
	x.kern, x.preA = pa.kern, pa
	x.transA, x.transB = false, false
	x.m, x.n, x.k = pa.m, n, pa.k
	x.alpha, x.beta = 1, 0
	x.b, x.c = b, c
	x.ldb, x.ldc = ldb, ldc
	x.run()
	x.b, x.c = nil, nil
}

// convColsTarget is the size (in floats, 1 MiB) of the column matrix of one
// group of images in Conv2d: it stays in the L2 cache of the core that
// unfolds it and multiplies it.
const convColsTarget = 1 << 18

// ConvEpilogue is what Conv2d applies to each output v of channel co
// (after the bias): y = (v - Sub[co]) * Mul[co] + Add[co], then max(y, 0)
// when ReLU. With a BatchNorm's running mean as Sub, gamma/sqrt(var+eps)
// as Mul and beta as Add, it is that BatchNorm in evaluation mode followed
// by a ReLU, in the same float32 operations as autograd's BatchNorm and
// ReLU. Sub, Mul and Add hold at least cout values.
type ConvEpilogue struct {
	Sub, Mul, Add []float32
	ReLU          bool
}

// Conv2d computes the convolution of the batch x ([N,C,H,W], geometry g)
// with the filters w ([cout, C*KH*KW], row-major) into out ([N,cout,OH,OW]),
// adding bias[co] to every output of channel co when bias is not nil, then
// applying epi when it is not nil.
//
// Unlike Im2col followed by one Sgemm over the whole batch, it never
// materialises the batch's column matrix: each participant unfolds a group
// of a few images into a column matrix that fits its L2 cache
// (convColsTarget), multiplies the filters (packed once for all groups) by
// it, and writes the group's outputs in NCHW order. It computes the same
// sums in the same order as Im2col + Sgemm. It panics on inconsistent
// sizes.
func Conv2d(g ConvGeom, cout int, w, bias, x, out []float32, epi *ConvEpilogue) {
	g.check("Conv2d", x, nil)
	k, p := g.ColRows(), g.OH*g.OW
	if cout < 0 || len(w) < cout*k || len(out) < g.N*cout*p || bias != nil && len(bias) < cout {
		panic(fmt.Sprintf("kernels: Conv2d: %d filter, %d output, %d bias values for %d filters of geometry %+v",
			len(w), len(out), len(bias), cout, g))
	}
	if epi != nil && (len(epi.Sub) < cout || len(epi.Mul) < cout || len(epi.Add) < cout) {
		panic(fmt.Sprintf("kernels: Conv2d: epilogue of %d, %d, %d values for %d filters", len(epi.Sub), len(epi.Mul), len(epi.Add), cout))
	}
	if g.N == 0 || cout == 0 || p == 0 {
		return
	}
	flopCount.Add(2 * int64(g.N) * int64(cout) * int64(p) * int64(k))
	j := getConvJob()
	j.backward = false
	j.g, j.cout, j.bias, j.x, j.out, j.epi = g, cout, bias, x, out, epi
	j.pa.pack(defaultKernel, false, cout, k, w, k)

	workers := 1
	if g.N*cout*p*k >= sgemmParallelMinWork {
		workers = Workers()
	}
	j.group = max(1, min(convColsTarget/(k*p), gemmCeilDiv(g.N, workers)))
	groups := gemmCeilDiv(g.N, j.group)
	workers = min(workers, groups)
	j.reserve(workers, k*j.group*p, cout*j.group*p)
	for i := range workers {
		j.ctx[i].prepare(&j.pa, j.group*p)
	}
	parallelRun(j, groups, workers)
	putConvJob(j)
}

// convJob is one Conv2d call in flight, with the packed filters and each
// participant's scratch. Jobs are recycled so that a call allocates nothing
// in steady state.
type convJob struct {
	g           ConvGeom
	cout, group int
	bias, x     []float32
	out         []float32
	backward    bool      // a Conv2dBackward call: chunks run runBackward
	wChunks     int       // Conv2dBackward's chunks of the filter gradient: wChans x wRows
	wChans      int       // parts of the input channels (the filter gradient's columns)
	wRows       int       // parts of the filters (its rows), when channels are fewer than cores
	perImage    bool      // the filter gradient is summed image by image (convPerImage)
	partial     []float32 // convPerImage's parts' sums
	w, gout     []float32
	gw, gb, gx  []float32
	overwriteX  bool // Conv2dBackward writes gx instead of adding into it
	epi         *ConvEpilogue
	pa          packedA
	cols, prod  [][]float32 // per participant
	ctx         []*gemmCtx  // per participant, sized before the region
	gwT         [][]float32 // per participant: its filter-gradient block, transposed
	// grouped holds Conv2dBackward's groups' output gradients arranged
	// channel-major (groupGrad), each copied once by the first chunk that
	// needs it; groupState[gi] is 0 (not yet), 1 (being copied) or 2 (done).
	grouped    []float32
	groupState []atomic.Int32
}

var convFree freeList[convJob]

// reserve sizes the scratch of participants [0, workers): a column buffer
// of cols floats, a product buffer of prod floats and a product context
// each.
func (j *convJob) reserve(workers, cols, prod int) {
	for len(j.cols) < workers {
		j.cols = append(j.cols, nil)
		j.prod = append(j.prod, nil)
		j.ctx = append(j.ctx, new(gemmCtx))
		j.gwT = append(j.gwT, nil)
	}
	for i := range workers {
		j.cols[i] = gemmGrow(j.cols[i], cols)
		j.prod[i] = gemmGrow(j.prod[i], prod)
	}
}

// putConvJob drops the job's references to the caller's slices and
// returns it to the free list.
func putConvJob(j *convJob) {
	j.bias, j.x, j.out, j.epi = nil, nil, nil, nil
	j.w, j.gout, j.gw, j.gb, j.gx = nil, nil, nil, nil, nil
	convFree.put(j)
}

func getConvJob() *convJob { return convFree.get() }

// runChunk convolves group number chunk of the batch (Conv2d), or runs
// chunk number chunk of Conv2dBackward.
func (j *convJob) runChunk(w, chunk int) {
	if j.backward {
		j.runBackward(w, chunk)
		return
	}
	g := j.g
	n0 := chunk * j.group
	gn := min(j.group, g.N-n0)
	chw, p := g.C*g.H*g.W, g.OH*g.OW
	sub := g
	sub.N = gn
	x := j.x[n0*chw : (n0+gn)*chw]
	k, np := g.ColRows(), gn*p
	cols := j.cols[w][:k*np]
	for c := range g.C {
		im2colChannel(&sub, c, 0, gn, x, cols)
	}
	out := j.out[n0*j.cout*p : (n0+gn)*j.cout*p]
	if gn == 1 {
		// One image: [cout, P] is its NCHW output already.
		sgemmPackedA(j.ctx[w], &j.pa, np, cols, np, out, np)
		for co := range j.cout {
			d := out[co*p : (co+1)*p]
			j.finish(co, d, d)
		}
		return
	}
	prod := j.prod[w][:j.cout*np]
	sgemmPackedA(j.ctx[w], &j.pa, np, cols, np, prod, np)
	for co := range j.cout {
		for i := range gn {
			j.finish(co, out[(i*j.cout+co)*p:(i*j.cout+co+1)*p], prod[co*np+i*p:co*np+(i+1)*p])
		}
	}
}

// finish writes the products s of output channel co to d (s may be d),
// with the bias and the epilogue.
func (j *convJob) finish(co int, d, s []float32) {
	var flags int
	var b, sub, mul, add float32
	if j.bias != nil {
		b, flags = j.bias[co], affineBias
	}
	if e := j.epi; e != nil {
		sub, mul, add = e.Sub[co], e.Mul[co], e.Add[co]
		flags |= affineNorm
		if e.ReLU {
			flags |= affineReLU
		}
	}
	switch {
	case len(s) == 0:
	case flags == 0:
		copy(d, s)
	default:
		affineConst(d[:len(s)], s, b, sub, mul, add, flags)
	}
}

// Conv2dBackward computes the gradients of Conv2d (geometry g, filters w
// [cout, C*KH*KW]) from the output gradient gout ([N,cout,OH,OW]), adding
// each into its buffer when that is not nil: the filters' gradient into gw
// ([cout, C*KH*KW]), the bias's into gb ([cout]), the input's into gx
// ([N,C,H,W]), or written there instead when overwriteX (a fresh buffer:
// each group's part is cleared in cache just before it is folded into).
// x is the convolution's input (read only for gw).
//
// Like Conv2d it works on groups of a few images unfolded in cache, never
// on the batch's column matrix: the filter gradient is cut by input
// channels (its columns) and, when there are fewer channels than cores, by
// filters (its rows) too; each part is summed over every group in order,
// gb's rows are shared out among the same chunks, and the
// groups' input gradients (W^T x gout unfolded back, the filters packed
// once) are shared out among the participants. The groups' size does not
// depend on the number of cores, so neither do the sums: the gradients are
// the same on every machine.
//
// Where WinogradInputGradPays accepts the geometry (basic28x28's second
// convolution, alex64x64's 3 x 3 ones), the input gradient is computed by
// Winograd's algorithm instead (winoInputGrad, decision #58), and where
// WinogradFilterGradPays does (basic64x64's second and third, alex64x64's),
// the filter gradient (winoFilterGrad, decision #59): equal to the
// products' to float rounding, and the same on every machine with
// AVX-512; CPUs without it always take the products. It panics on
// inconsistent sizes.
func Conv2dBackward(g ConvGeom, cout int, w, x, gout, gw, gb, gx []float32, overwriteX bool) {
	g.check("Conv2dBackward", x, nil)
	k, p := g.ColRows(), g.OH*g.OW
	if cout < 0 || len(w) < cout*k || len(gout) < g.N*cout*p || gw != nil && len(gw) < cout*k ||
		gb != nil && len(gb) < cout || gx != nil && len(gx) < g.N*g.C*g.H*g.W {
		panic(fmt.Sprintf("kernels: Conv2dBackward: %d filter, %d output-gradient, %d, %d and %d gradient values for %d filters of geometry %+v",
			len(w), len(gout), len(gw), len(gb), len(gx), cout, g))
	}
	if g.N == 0 || cout == 0 || p == 0 {
		return
	}
	if gx != nil && WinogradInputGradPays(g, cout) && winoInputGrad(g, cout, w, x, gout, gx, overwriteX) {
		flopCount.Add(2 * int64(g.N) * int64(cout) * int64(p) * int64(k))
		gx = nil
	}
	if gw != nil && WinogradFilterGradPays(g, cout) && winoFilterGrad(g, cout, x, gout, gw) {
		flopCount.Add(2 * int64(g.N) * int64(cout) * int64(p) * int64(k))
		gw = nil
	}
	conv2dBackwardDirect(g, cout, w, x, gout, gw, gb, gx, overwriteX)
}

// conv2dBackwardDirect is Conv2dBackward by products of the unfolded
// images, its arguments checked.
func conv2dBackwardDirect(g ConvGeom, cout int, w, x, gout, gw, gb, gx []float32, overwriteX bool) {
	k, p := g.ColRows(), g.OH*g.OW
	if gw == nil && gb == nil && gx == nil {
		return
	}
	flops := int64(0)
	if gw != nil {
		flops += 2 * int64(g.N) * int64(cout) * int64(p) * int64(k)
	}
	if gx != nil {
		flops += 2 * int64(g.N) * int64(cout) * int64(p) * int64(k)
	}
	flopCount.Add(flops)

	j := getConvJob()
	j.backward, j.overwriteX = true, overwriteX
	j.g, j.cout, j.w, j.x, j.gout, j.gw, j.gb, j.gx = g, cout, w, x, gout, gw, gb, gx
	j.group = max(1, min(convColsTarget/(k*p), g.N))
	groups := gemmCeilDiv(g.N, j.group)
	np := j.group * p
	workers := 1
	if 2*g.N*cout*p*k >= sgemmParallelMinWork {
		workers = Workers()
	}
	// Chunks [0, wChunks) are the filter gradient's columns, split by
	// input channel (and the bias gradient's rows), the others the groups'
	// input gradients.
	// With fewer channels than cores (a first convolution on grey
	// images), the filters' rows are split too, so that every core works.
	j.wChunks, j.wChans, j.wRows = 0, 1, 1
	j.perImage = gw != nil && convPerImage(g)
	switch {
	case j.perImage:
		// convPerImage: the images are split in convImageParts, a number
		// of parts that does not depend on the cores.
		j.wChans, j.wRows, j.wChunks = 1, 1, min(convImageParts, g.N)
	case gw != nil || gb != nil:
		j.wChans = max(1, min(workers, g.C))
		j.wRows = max(1, min(workers/j.wChans, cout))
		j.wChunks = j.wChans * j.wRows
	}
	chunks := j.wChunks
	if gx != nil {
		j.pa.pack(defaultKernel, true, k, cout, w, k) // W^T [k, cout]
		chunks += groups
	}
	workers = min(workers, chunks)
	j.reserve(workers, max(k*np, gemmRoundUp(k, defaultKernel.nr)*p), 0)
	if j.group > 1 && (gx != nil || !j.perImage) { // groupGrad's copies
		j.grouped = gemmGrow(j.grouped, groups*cout*np)
		if len(j.groupState) < groups {
			j.groupState = make([]atomic.Int32, groups)
		}
		for i := range groups {
			j.groupState[i].Store(0)
		}
	}
	wCols := gemmCeilDiv(g.C, j.wChans) * g.KH * g.KW
	kPad := gemmRoundUp(k, defaultKernel.nr)
	if j.perImage {
		j.partial = gemmGrow(j.partial, j.wChunks*cout*kPad)
	}
	for i := range workers {
		x := j.ctx[i]
		if gx != nil {
			x.prepare(&j.pa, np)
		}
		if j.wChunks > 0 {
			// The filter gradient's product: gw's block transposed +=
			// cols x gout^T (runBackward), or image by image gw +=
			// gout x cols^T (convPerImage).
			x.kern, x.preA, x.serial = defaultKernel, nil, true
			x.transA, x.transB = false, true
			x.m, x.n, x.k, x.forceDirectA = wCols, gemmCeilDiv(cout, j.wRows), np, true
			if j.perImage {
				x.m, x.n, x.k = cout, kPad, p
			} else {
				j.gwT[i] = gemmGrow(j.gwT[i], x.m*x.n)
			}
			x.setup()
			x.serial, x.forceDirectA = false, false
		}
	}
	parallelRun(j, chunks, workers)
	if j.perImage {
		// The parts' sums in order, then into gw.
		part := j.partial[:j.wChunks*cout*kPad]
		for co := range cout {
			row := gw[co*k : (co+1)*k]
			for t := range row {
				s := part[co*kPad+t]
				for q := 1; q < j.wChunks; q++ {
					s += part[(q*cout+co)*kPad+t]
				}
				row[t] += s
			}
		}
	}
	putConvJob(j)
}

// groupGrad returns the output gradient of images [n0, n0+gn) (a group of
// j.group images, or the last, shorter one) as a [cout, gn*P] matrix
// (channel-major, as the products want it): one image's is its NCHW
// gradient itself; several are copied into the group's place in j.grouped
// once, by the first chunk that needs them (the filter gradient's chunks
// and the group's input-gradient chunk all read it), while the others
// wait for the copy.
func (j *convJob) groupGrad(n0, gn int) []float32 {
	p := j.g.OH * j.g.OW
	np := gn * p
	if gn == 1 {
		return j.gout[n0*j.cout*p : (n0+1)*j.cout*p]
	}
	gi := n0 / j.group
	off := gi * j.cout * j.group * p
	dst := j.grouped[off : off+j.cout*np]
	st := &j.groupState[gi]
	if st.CompareAndSwap(0, 1) {
		for co := range j.cout {
			for i := range gn {
				copy(dst[co*np+i*p:co*np+(i+1)*p], j.gout[((n0+i)*j.cout+co)*p:((n0+i)*j.cout+co+1)*p])
			}
		}
		st.Store(2)
		return dst
	}
	for spins := 0; st.Load() != 2; spins++ { // another participant is copying it
		if spins > 64 {
			runtime.Gosched()
		}
	}
	return dst
}

// runBackward runs chunk number chunk of Conv2dBackward.
func (j *convJob) runBackward(w, chunk int) {
	g := j.g
	k, p, chw := g.ColRows(), g.OH*g.OW, g.C*g.H*g.W
	groups := gemmCeilDiv(g.N, j.group)
	x := j.ctx[w]
	if chunk < j.wChunks {
		if j.gb != nil {
			r0, r1 := chunk*j.cout/j.wChunks, (chunk+1)*j.cout/j.wChunks
			for co := r0; co < r1; co++ {
				j.gb[co] += convBiasGrad(j.gout, g.N, j.cout, co, p)
			}
		}
		cc, rc := chunk%j.wChans, chunk/j.wChans
		c0, c1 := cc*g.C/j.wChans, (cc+1)*g.C/j.wChans
		f0, f1 := rc*j.cout/j.wRows, (rc+1)*j.cout/j.wRows
		if j.gw == nil || c0 == c1 || f0 == f1 {
			return
		}
		if j.perImage {
			j.filterGradPerImage(x, w, chunk)
			return
		}
		// Only this chunk's rows of each group's column matrix are
		// unfolded (at their place in the full matrix). The chunk's block
		// of gw is summed transposed, in gwT: gw^T += cols x gout^T reads
		// the columns in place as the product's A (14 rows of a group's
		// np positions each) and packs only the group's output gradient
		// (cout x np) as B, where gw += gout x cols^T packed the columns,
		// transposed, for every group. Every sum is the same, in the same
		// order, so the bits are too (TestConv2dBackwardSplitBits); the
		// filter gradient of basic28x28's second convolution went from
		// 6.30 to 5.72-5.89 ms (decision #54).
		k0, k1 := c0*g.KH*g.KW, c1*g.KH*g.KW
		rows, fc := k1-k0, f1-f0
		gt := j.gwT[w][:rows*fc]
		gemmTranspose(gt, fc, j.gw[f0*k+k0:], k, rows, fc)
		x.forceDirectA = true
		for gi := range groups {
			n0 := gi * j.group
			gn := min(j.group, g.N-n0)
			np := gn * p
			sub := g
			sub.N = gn
			cols := j.cols[w][:k*np]
			xs := j.x[n0*chw : (n0+gn)*chw]
			for c := c0; c < c1; c++ {
				im2colChannel(&sub, c, 0, gn, xs, cols)
			}
			dout := j.groupGrad(n0, gn)
			sgemmSerial(x, false, true, rows, fc, np, cols[k0*np:], np, dout[f0*np:], np, 1, gt, fc)
		}
		x.forceDirectA = false
		gemmTranspose(j.gw[f0*k+k0:], k, gt, fc, fc, rows)
		return
	}
	n0 := (chunk - j.wChunks) * j.group
	gn := min(j.group, g.N-n0)
	np := gn * p
	dout := j.groupGrad(n0, gn)
	dcols := j.cols[w][:k*np]
	sgemmPackedA(x, &j.pa, np, dout, np, dcols, np)
	sub := g
	sub.N = gn
	gx := j.gx[n0*chw : (n0+gn)*chw]
	if j.overwriteX {
		clear(gx)
	}
	for c := range g.C {
		col2imChannel(&sub, c, 0, gn, dcols, gx)
	}
}

// convPerImage reports whether Conv2dBackward sums the filter gradient of
// geometry g image by image: a first convolution, whose few channels make
// a narrow filter gradient (at most convPerImageMaxCols columns) and whose
// large output planes (at least convPerImageMinP values) make each image's
// product deep enough. Each image's output gradient is read in place as
// the product's A (a [cout, P] block of the NCHW gradient, by the
// in-place micro-kernels where the CPU has them, which give the packed
// ones' bits) and the images are shared out in convImageParts parts, each
// summed from zero into a tile of its own (filterGradPerImage); the parts
// are then added in order, and their sum into gw. The grouped path
// instead copies the batch's output gradient channel-major and packs it
// for every chunk, and splits a one-channel layer by filters, so each
// core unfolded every image: passes over the layer's largest tensor for
// a product of a few MFLOP. The filter gradient of basic28x28's first
// convolution at batch 64 went from 0.80-0.83 to 0.44-0.48 ms,
// basic32x32's from 1.38-1.41 to 0.77-0.80; with the bias gradient
// (convBiasGrad), 1.11-1.24 -> 0.52-0.53 ms and 1.75-1.89 -> 0.84-0.90
// (BenchmarkConv2dBackward/.../first). The choice and the parts depend on
// the geometry alone, so the sums are the same on every machine.
func convPerImage(g ConvGeom) bool {
	return g.OH*g.OW >= convPerImageMinP && g.ColRows() <= convPerImageMaxCols
}

// convPerImageMinP and convPerImageMaxCols bound convPerImage; convImageParts
// is the number of parts its images are split in.
const (
	convPerImageMinP    = 128
	convPerImageMaxCols = 128
	convImageParts      = 2
)

// filterGradPerImage sums the filter gradient of the images of part q
// (convPerImage) into the part's tile of j.partial ([cout, kPad], k
// rounded up to the micro-kernel's strips): each image's output gradient
// (in place) times its unfolded channels, the first one written, the
// others added.
func (j *convJob) filterGradPerImage(x *gemmCtx, w, q int) {
	g := j.g
	k, p, chw := g.ColRows(), g.OH*g.OW, g.C*g.H*g.W
	kPad := gemmRoundUp(k, defaultKernel.nr)
	tile := j.partial[q*j.cout*kPad : (q+1)*j.cout*kPad]
	sub := g
	sub.N = 1
	// The rows of cols past k are zeros, so that the product's columns
	// are whole strips and its tiles go straight to the part's tile.
	cols := j.cols[w][:kPad*p]
	clear(cols[k*p:])
	n0, n1 := q*g.N/j.wChunks, (q+1)*g.N/j.wChunks
	var beta float32
	x.forceDirectA = true
	for n := n0; n < n1; n++ {
		xs := j.x[n*chw : (n+1)*chw]
		for c := range g.C {
			im2colChannel(&sub, c, 0, 1, xs, cols)
		}
		sgemmSerial(x, false, true, j.cout, kPad, p, j.gout[n*j.cout*p:], p, cols, p, beta, tile, kPad)
		beta = 1
	}
	x.forceDirectA = false
}

// convBiasGrad returns the bias gradient of filter co: the sum of its
// output gradient over the batch (gout [n, cout, p]), accumulated in
// float64, each image's plane into 32 partial sums (sumLanes64, in
// AVX-512) reduced in a fixed order, so the result does not depend on
// the CPU. The scalar float64 chain it replaced, one addition per four
// cycles of latency, took 0.45-0.51 ms of basic28x28's first convolution
// at batch 64; this takes 0.14.
func convBiasGrad(gout []float32, n, cout, co, p int) float32 {
	var l [32]float64
	for i := range n {
		sumLanes64(&l, gout[(i*cout+co)*p:(i*cout+co+1)*p])
	}
	return float32(reduceLanes64(&l))
}

// sgemmSerial is Sgemm with alpha 1 on the calling goroutine alone, in the
// context x.
func sgemmSerial(x *gemmCtx, transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmCheckArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	x.kern, x.preA, x.serial = defaultKernel, nil, true
	x.transA, x.transB = transA, transB
	x.m, x.n, x.k = m, n, k
	x.alpha, x.beta = 1, beta
	x.a, x.b, x.c = a, b, c
	x.lda, x.ldb, x.ldc = lda, ldb, ldc
	x.run()
	x.a, x.b, x.c, x.serial = nil, nil, nil, false
}
