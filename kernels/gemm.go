package kernels

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices.
// op(A) is m x k (A is m x k with leading dim lda, or k x m when transA);
// op(B) is k x n (B is k x n with ldb, or n x k when transB); C is m x n with ldc.
// beta == 0 means C is overwritten (never read, so NaNs in C do not propagate).
//
// The product is packed and cache blocked (GotoBLAS style) and runs on the
// best micro-kernel the CPU supports (AVX-512, else AVX2+FMA, else pure Go),
// in parallel over the package's worker pool when it is large enough. It
// allocates nothing in steady state. Sgemm panics if a slice is too short or
// a leading dimension is smaller than the row width it describes.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	flopCount.Add(2 * int64(m) * int64(n) * int64(k))
	sgemm(defaultKernel, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Sgemm2 computes C1 = op(A)*op(B1) + beta1*C1 and C2 = op(A)*op(B2) +
// beta2*C2, one A against two operands: op(B1) and op(B2) are k x n1 and
// k x n2 (both transposed when transB), C1 and C2 m x n1 and m x n2, each
// with its own row stride. When n1 is a multiple of the micro-kernel's
// width the two run as one product, whose columns [0, n1) come from B1
// and go to C1 and the others from B2 to C2, so op(A) is packed once
// instead of twice (a layer's input gradient and its neighbour's, which
// read the same output gradient; decision #55); else, or when C1 and C2
// share memory, as two products, C1's first. Each element is the same sum,
// in the same order, as the two Sgemm calls', so the bits are too. It
// panics as Sgemm does.
func Sgemm2(transA, transB bool, m, n1, n2, k int, a []float32, lda int, b1 []float32, ldb1 int, beta1 float32, c1 []float32, ldc1 int, b2 []float32, ldb2 int, beta2 float32, c2 []float32, ldc2 int) {
	sgemmCheckArgs(transA, transB, m, n1, k, a, lda, b1, ldb1, c1, ldc1)
	sgemmCheckArgs(transA, transB, m, n2, k, a, lda, b2, ldb2, c2, ldc2)
	flopCount.Add(2 * int64(m) * int64(n1+n2) * int64(k))
	kern := defaultKernel
	if m == 0 || n1 == 0 || n2 == 0 || k == 0 || n1%kern.nr != 0 ||
		gemmOverlap(c1[:(m-1)*ldc1+n1], c2[:(m-1)*ldc2+n2]) {
		sgemm(kern, transA, transB, m, n1, k, 1, a, lda, b1, ldb1, beta1, c1, ldc1)
		sgemm(kern, transA, transB, m, n2, k, 1, a, lda, b2, ldb2, beta2, c2, ldc2)
		return
	}
	x := getGemmCtx()
	x.kern = kern
	x.transA, x.transB = transA, transB
	x.m, x.n, x.k = m, n1+n2, k
	x.alpha, x.beta = 1, beta1
	x.a, x.b, x.c = a, b1, c1
	x.lda, x.ldb, x.ldc = lda, ldb1, ldc1
	x.n1, x.b2, x.ldb2, x.c2, x.ldc2, x.beta2 = n1, b2, ldb2, c2, ldc2, beta2
	x.run()
	putGemmCtx(x)
}

// gemmOverlap reports whether two non-empty slices share memory: one
// product adding into what it also writes would not sum as two in turn.
func gemmOverlap(x, y []float32) bool {
	x0, y0 := uintptr(unsafe.Pointer(&x[0])), uintptr(unsafe.Pointer(&y[0]))
	return x0 < y0+4*uintptr(len(y)) && y0 < x0+4*uintptr(len(x))
}

// SgemmDepth is the number of steps of k a product sums before adding them
// into C: a product with k at most SgemmDepth() and beta 1 adds its whole
// sum into C with one rounding, as adding a separately computed product
// would; a deeper one adds block by block (autograd.Tape.LinearSum relies
// on it).
func SgemmDepth() int { return defaultKernel.kc }

// SgemmBias computes C = op(A)*op(B) + bias, bias [n] added to every row
// of C (a Linear layer's output), bit for bit what filling each row of C
// with bias and calling Sgemm with alpha 1 and beta 1 gives. On the
// ordinary path each block of C is filled just before its first
// micro-kernel call, while it is in cache, instead of in a pass of its
// own; the transposed path fills C first. It panics as Sgemm does, or if
// bias holds fewer than n values.
func SgemmBias(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, bias, c []float32, ldc int) {
	if len(bias) < n {
		panic(fmt.Sprintf("kernels: SgemmBias: %d bias values for %d columns", len(bias), n))
	}
	sgemmCheckArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || sgemmTransposes(defaultKernel, transA, transB, 1, m, n, k, ldb) {
		gemmFillRows(c, ldc, bias[:n], m)
		Sgemm(transA, transB, m, n, k, 1, a, lda, b, ldb, 1, c, ldc)
		return
	}
	flopCount.Add(2 * int64(m) * int64(n) * int64(k))
	sgemmOrdinaryBias(defaultKernel, transA, transB, m, n, k, 1, a, lda, b, ldb, 1, bias[:n], c, ldc)
}

// gemmFillRows sets rows [0, m) of c (row stride ldc) to row.
func gemmFillRows(c []float32, ldc int, row []float32, m int) {
	for i := range m {
		copy(c[i*ldc:i*ldc+len(row)], row)
	}
}

// SgemmGo is Sgemm forced onto the portable pure-Go micro-kernel (same
// blocking, packing and parallelism), so that tests can compare both paths.
func SgemmGo(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	flopCount.Add(2 * int64(m) * int64(n) * int64(k))
	sgemm(&goKernel, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmRef is the naive reference implementation of Sgemm: a triple loop
// with float64 accumulation, used by the tests. Like Sgemm it never reads C
// when beta == 0.
func SgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmCheckArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			r := float64(alpha) * s
			if beta != 0 {
				r += float64(beta) * float64(c[i*ldc+j])
			}
			c[i*ldc+j] = float32(r)
		}
	}
}

// microKernel is a register-tile kernel and the block sizes tuned for it.
//
// fn computes the mr x nr tile C = alpha*A*B + beta*C, where A is a packed
// micro-panel (k steps of mr values), B holds k steps of nr values, ldb
// apart (nr when packed; the row stride of B when it is used in place), C
// has row stride ldc (in elements) and is not read when beta == 0.
type microKernel struct {
	name   string
	mr, nr int
	mc, kc int // cache blocks: A block mc x kc (L2), B micro-panel kc x nr (L1)
	nc     int // widest slab of B packed at once (columns)
	fn     kernelFunc
	// rowFns[r], when present, is fn for a tile of r < mr rows (its A
	// micro-panel packed r values wide), so that a last partial panel of A
	// costs no padding work.
	rowFns []kernelFunc
	// directFns[r], when present, is the kernel for r <= mr rows that reads
	// A in place, rows lda floats apart, instead of a packed micro-panel
	// (directFns[mr] is the full tile). Its arithmetic is fn's, operation
	// for operation, so the product's bits do not depend on it.
	directFns []directKernelFunc
	// pfb, when present, is fn prefetching B pfRowsB (gemm_gen.go) rows
	// ahead of the step it multiplies, for a B read in place whose row
	// stride is beyond the reach of the hardware's stride prefetcher
	// (sgemmTransposes). Its arithmetic is fn's, so the bits are too.
	pfb kernelFunc
}

// kernelFunc is the signature of micro-kernels (see microKernel).
type kernelFunc = func(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// directKernelFunc is the signature of micro-kernels that read A in place.
type directKernelFunc = func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// gemmDirectAMaxStrips and gemmDirectAMin say when a product reads A in
// place instead of packing it (decision #52): A not transposed, at most
// this many strips of nr columns of B to reuse each packed panel, and at
// least this many floats of A (16 MiB, more than the caches keep between
// the steps). Packing such an A is a pass over memory on its own, before
// any multiplication, while the in-place kernel's loads run under its
// multiply-adds: the DIM encoder's fc layer, whose forward product is
// computed transposed (sgemmTransposed) with its 1024 x 6272 weight as A
// and the batch's 64 columns as B, went from 4.0 to 3.5 ms
// (BenchmarkSgemmFromMemory/fc-forward, alternated twice). A transposed A
// read in place (steps of k a weight row apart) measured no gain in the
// step and was not kept. gemmDirectAMin is a variable so that tests can
// send small products through the in-place path.
const gemmDirectAMaxStrips = 2

var gemmDirectAMin = 4 << 20

// gemmRowOrderMaxK is the deepest product whose blocks are computed in row
// order (gemmCtx.computeRows): with so few steps of k, C is mostly written,
// and it is written across its rows, each A panel meeting every strip of
// the slab in turn, instead of down its columns, one strip meeting every A
// panel; the slab of packed B strips (at most kn.nc columns, 512 KiB at k
// = 64) stays in L2 either way. The fc layer's weight gradient (1024 x 6272
// from k = 64, 25 MB written to memory) went from 5.2-5.5 to 3.7-4.0 ms
// (BenchmarkSgemmFromMemory/fc-weight-grad, alternated 3 times), the MI
// networks' [3136 x 512] products from 128 values 4.3 to 4.0 ms in the
// step (decision #54); in cache it makes no difference. The tiles are the
// same kernel calls on the same operands either way, so the bits are too.
// It is a variable so that tests can turn the order off.
var gemmRowOrderMaxK = 128

// gemmMaxKC is the largest kc block a micro-kernel may use.
const gemmMaxKC = 1024

// sgemmParallelMinWork is the m*n*k below which Sgemm runs single-threaded
// (about 45 µs of work on one Zen 5 core): waking a pool worker costs
// microseconds when it is spinning and tens of them when it is parked.
const sgemmParallelMinWork = 1 << 22

// gemmGroupBlocks bounds the blocks of A in a group of a product with
// several blocks of k (its packed A, at most 8 x 112 x 512 floats, 1.8 MiB,
// is kept by the pooled context).
const gemmGroupBlocks = 8

// gemmMaxPackedB bounds the packed B slab (in floats, 16 MiB): wider products
// are processed in several slabs of columns.
const gemmMaxPackedB = 4 << 20

func sgemmCheckArgs(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic("kernels: negative Sgemm dimension")
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	gemmCheckMatrix("A", a, ar, ac, lda)
	gemmCheckMatrix("B", b, br, bc, ldb)
	gemmCheckMatrix("C", c, m, n, ldc)
}

// gemmCheckMatrix panics unless s holds a rows x cols matrix with leading
// dimension ld.
func gemmCheckMatrix(name string, s []float32, rows, cols, ld int) {
	if rows == 0 || cols == 0 {
		return // empty: never read
	}
	if ld < cols {
		panic("kernels: Sgemm leading dimension of " + name + " too small")
	}
	if !gemmFits(len(s), rows, cols, ld) {
		panic("kernels: Sgemm slice " + name + " too short")
	}
}

// gemmFits reports whether n values hold rows rows of cols values ld
// apart ((rows-1)*ld + cols <= n), for rows, cols >= 1 and ld >= cols,
// without the product overflowing.
func gemmFits(n, rows, cols, ld int) bool {
	if cols > n {
		return false
	}
	return rows == 1 || ld <= (n-cols)/(rows-1)
}

// gemmCtx holds one Sgemm call in flight and the packing buffers it owns.
// Contexts are recycled through gemmCtxFree, so buffers are allocated once and
// grown only when a bigger product comes.
type gemmCtx struct {
	kern           *microKernel
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int

	// Current slab of B columns [jc, jc+nc) and how it is cut: chunks
	// [0, packChunks) of the slab's parallel region pack B, the others
	// multiply blocks of A by it once packed counts all packing chunks.
	packed        atomic.Int32
	jc, nc, ncPad int
	strips        int // ncPad / nr
	packChunks    int
	mcEff         int // rows of an A block (the most, when balanced)
	mBlocks       int
	// balanced cuts A's panels of mr rows evenly among the blocks (block
	// ib starts at panel ib*panels/mBlocks) instead of in blocks of mcEff
	// rows and a shorter last one (gemmCtx.cutA).
	balanced bool
	mPanels  int
	groups   int  // chunks of A blocks (fewer than mBlocks when k has several blocks)
	nSubs    int  // column groups per A block
	directB  bool // full strips of B are read in place, not packed
	directA  bool // A is read in place, not packed (see gemmDirectAMaxStrips)
	rowOrder bool // each A panel meets every strip in turn (see gemmRowOrderMaxK)
	// forceDirectA reads A in place whatever its size and B's width (the
	// filter gradient's per-image products, convJob.perImage); the bits are
	// the packed path's either way.
	forceDirectA bool
	// bias, when set (SgemmBias), fills each block of C's rows just
	// before its first k block is added to it (beta is then 1).
	bias []float32

	bufB []float32
	bufA [][]float32 // per worker
	edge [][]float32 // per worker, one mr x nr tile

	// preA, when set, is op(A) packed beforehand (sgemmPackedA): the product
	// runs on the calling goroutine alone and packs no A.
	preA *packedA
	// serial runs the product on the calling goroutine alone.
	serial bool
	// A second segment of columns (Sgemm2): columns [n1, n) of op(B) come
	// from b2 (row stride ldb2) and those of C go to c2 (ldc2), scaled by
	// beta2 at the first block of k; n1 is 0 in a product of one segment.
	n1         int
	b2, c2     []float32
	ldb2, ldc2 int
	beta2      float32

	// bufT holds op(B)^T op(A)^T for sgemmTransposed, and tj its
	// transposes.
	bufT []float32
	tj   transposeJob
}

var gemmCtxFree freeList[gemmCtx]

func getGemmCtx() *gemmCtx { return gemmCtxFree.get() }

func putGemmCtx(x *gemmCtx) {
	x.a, x.b, x.c = nil, nil, nil
	x.n1, x.b2, x.c2 = 0, nil, nil
	gemmCtxFree.put(x)
}

// gemmAlignedFloats returns a zeroed slice of n floats starting on 64 bytes.
func gemmAlignedFloats(n int) []float32 {
	s := make([]float32, n+16)
	off := int(uintptr(unsafe.Pointer(&s[0]))&63) / 4
	if off != 0 {
		off = 16 - off
	}
	return s[off : off+n : off+n]
}

func gemmGrow(s []float32, n int) []float32 {
	if cap(s) < n {
		return gemmAlignedFloats(n + n/4)
	}
	return s[:n]
}

func sgemm(kern *microKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmCheckArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		sgemmScaleC(m, n, beta, c, ldc)
		return
	}
	if sgemmTransposes(kern, transA, transB, beta, m, n, k, ldb) {
		sgemmTransposed(kern, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	sgemmOrdinary(kern, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemmTransposes reports whether sgemm computes the product transposed
// (sgemmTransposed): A not transposed, beta 0 or 1, a B of at least
// gemmTransposeMinB floats, at most two blocks of rows and more of columns
// - unless B is row-major, A one block of rows and the kernel has a
// prefetching twin (microKernel.pfb): the ordinary path then reads B in
// place, split by columns between the participants, and the first panel
// of A to meet each strip prefetches the strip's rows ahead. That is the
// DIM encoder's fc input gradient (the output gradient, 64 x 1024, times
// the 1024 x 6272 weight): its weight was packed transposed, mc floats a
// weight row apart, a read too scattered for the hardware prefetcher (the
// pack took 8.2-11.6 of the product's 13-17 ms of CPU time in the step,
// busy host); read in place and prefetched, the product takes 4.9-5.6 ms
// instead of 5.7-7.1 with its weight from memory, and 5.8-7.2 instead of
// 6.7-8.5 in the step (decision #57). The bits are the same either way.
// With two blocks of rows, both participants would read all of B, so
// such products are still transposed; so are those with fewer rows than a
// panel (their kernels for partial panels do not prefetch: 13 rows took
// 6.2-7.4 ms in place against 5.0-5.6 transposed), and those whose B rows
// are a multiple of gemmAliasFloats apart, which fall into too few sets of
// the caches to stay there between the panels of A.
func sgemmTransposes(kern *microKernel, transA, transB bool, beta float32, m, n, k, ldb int) bool {
	if transA || beta != 0 && beta != 1 || k*n < gemmTransposeMinB {
		return false
	}
	p := Workers()
	_, mb := gemmBlocks(kern, m, p)
	_, nb := gemmBlocks(kern, n, p)
	if !transB && kern.pfb != nil && mb == 1 && m >= kern.mr && ldb%gemmAliasFloats != 0 {
		return false
	}
	return mb <= 2 && nb > 2
}

// sgemmOrdinary runs a product with checked arguments, m, n and k above 0
// and alpha not 0, on the packed path.
func sgemmOrdinary(kern *microKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmOrdinaryBias(kern, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, nil, c, ldc)
}

// sgemmOrdinaryBias is sgemmOrdinary with, when bias is not nil, each block
// of C's rows filled with bias just before its first k block (SgemmBias).
func sgemmOrdinaryBias(kern *microKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, bias, c []float32, ldc int) {
	x := getGemmCtx()
	x.kern = kern
	x.transA, x.transB = transA, transB
	x.m, x.n, x.k = m, n, k
	x.alpha, x.beta = alpha, beta
	x.a, x.b, x.c = a, b, c
	x.lda, x.ldb, x.ldc = lda, ldb, ldc
	x.bias = bias
	x.run()
	x.bias = nil
	putGemmCtx(x)
}

// gemmTransposeMinB is the size of B (k*n floats, 4 MiB) from which a
// product with few rows of A (at most two blocks of mc), more columns (over
// two blocks) and beta 0 or 1 is computed transposed (sgemmTransposed):
// such a B no longer stays in the caches between steps, and read for the
// ordinary path (in place, a row of nr values every ldb floats, or packed
// nr rows of B^T at a time) it streams from memory at a fraction of the
// bandwidth.
const gemmTransposeMinB = 1 << 20

// gemmAliasFloats is the row stride (in floats, 2 KiB) of which a B read in
// place must not be a multiple (sgemmTransposes): the kc rows of a strip of
// B, a multiple of 2 KiB apart, fall into at most 1/32 of the sets of a
// 16-way L2 (2 MiB on this Xeon, 1 MiB on Zen 5), and evict one another
// before the next panel of A reads them again. basic32x32's fc input
// gradient (its weight 1024 x 4096, rows 16 KiB apart) took 7.7-8.3 ms in
// place against 4.8-5.6 transposed; basic28x28's (rows of 6272 floats,
// 25088 bytes: 512 bytes times 49) gained.
const gemmAliasFloats = 512

// sgemmTransposed computes C = alpha*A*op(B) + beta*C (A not transposed,
// beta 0 or 1) as T = alpha*op(B)^T*A^T + beta*C^T on the ordinary path,
// then C = T^T: B is then the product's A, packed in L2-sized blocks of
// rows read one after the other, which streams it from memory at full
// speed. For the DIM encoder's fc layer, its 1024 x 6272 weight read from
// memory every step at batch 64, the forward product took 4.7-5.0 ms
// instead of 5.7, and the input gradient 5.6-5.9 instead of 9.8-10.3 (it
// is now read in place with prefetches where the kernel can, see
// sgemmTransposes).
// Every element is the same sum, in the same order and with the same fused
// multiply-adds, as on the ordinary path, and its scaling by beta is exact
// either way (the ordinary path scales C with a fused multiply-add in full
// tiles but a multiplication and an addition in edge tiles, which would
// round differently for another beta), so the result is bit-identical.
func sgemmTransposed(kern *microKernel, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	x := getGemmCtx()
	t := gemmGrow(x.bufT, n*m)
	x.bufT = t
	if beta != 0 {
		x.tj.transpose(t, m, c, ldc, n, m)
	}
	sgemmOrdinary(kern, !transB, true, n, m, k, alpha, b, ldb, a, lda, beta, t, m)
	x.tj.transpose(c, ldc, t, m, m, n)
	putGemmCtx(x)
}

// Transpose sets dst[i*ldd+j] = src[j*lds+i] for i < rows, j < cols: dst
// (rows x cols, row stride ldd) becomes the transpose of src (cols x
// rows, row stride lds), 16 rows of src at a time with AVX-512 (the
// products' transposing pack), else in 16 x 16 blocks. It runs on the
// calling goroutine and allocates nothing. It panics if a stride is
// smaller than its row or a slice too short.
func Transpose(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	if rows < 0 || cols < 0 || ldd < cols || lds < rows {
		panic(fmt.Sprintf("kernels: Transpose: %d x %d with strides %d and %d", rows, cols, ldd, lds))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if !gemmFits(len(dst), rows, cols, ldd) || !gemmFits(len(src), cols, rows, lds) {
		panic(fmt.Sprintf("kernels: Transpose: %d and %d values for %d x %d with strides %d and %d", len(dst), len(src), rows, cols, ldd, lds))
	}
	gemmTranspose(dst, ldd, src, lds, rows, cols)
}

// transposeParallelMin is the size (rows*cols floats, 256 KiB) from which
// transposeJob.transpose splits a transpose across cores.
const transposeParallelMin = 1 << 16

// transposeJob is a transpose split across cores by blocks of 16 columns
// of dst (transposeJob.transpose). A gemmCtx holds one for
// sgemmTransposed, so the job comes with the pooled context; fn, bound on
// first use, keeps ParallelFor from allocating after that.
type transposeJob struct {
	dst, src   []float32
	ldd, lds   int
	rows, cols int
	fn         func(lo, hi int)
}

// transpose is gemmTranspose on every core when dst holds at least
// transposeParallelMin values: sgemmTransposed's transposes of its result
// (the fc layer's input gradient, 6272 x 64) ran on one core while the
// other waited. A transpose copies values, so the result does not depend
// on the split.
func (j *transposeJob) transpose(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	if rows*cols < transposeParallelMin || Workers() == 1 {
		gemmTranspose(dst, ldd, src, lds, rows, cols)
		return
	}
	if j.fn == nil {
		j.fn = j.run
	}
	j.dst, j.ldd, j.src, j.lds, j.rows, j.cols = dst, ldd, src, lds, rows, cols
	ParallelFor(gemmCeilDiv(cols, 16), j.fn)
	j.dst, j.src = nil, nil
}

// run transposes dst's columns [16*lo, 16*hi).
func (j *transposeJob) run(lo, hi int) {
	c0, c1 := 16*lo, min(16*hi, j.cols)
	gemmTranspose(j.dst[c0:], j.ldd, j.src[c0*j.lds:], j.lds, j.rows, c1-c0)
}

// gemmTranspose sets dst[i*ldd+j] = src[j*lds+i] for i < rows, j < cols
// (dst is rows x cols, src cols x rows), in 16 x 16 blocks.
func gemmTranspose(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	if transposeFast(dst, ldd, src, lds, rows, cols) {
		return
	}
	const bs = 16
	for i0 := 0; i0 < rows; i0 += bs {
		i1 := min(i0+bs, rows)
		for j0 := 0; j0 < cols; j0 += bs {
			j1 := min(j0+bs, cols)
			for i := i0; i < i1; i++ {
				row := dst[i*ldd+j0 : i*ldd+j1]
				for j := range row {
					row[j] = src[(j0+j)*lds+i]
				}
			}
		}
	}
}

// sgemmScaleC sets C = beta*C (C = 0 when beta == 0).
func sgemmScaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
		} else if beta != 1 {
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

func (x *gemmCtx) run() {
	p, ncMax := x.setup()
	nr := x.kern.nr
	for jc := 0; jc < x.n; jc += ncMax {
		x.jc = jc
		x.nc = min(ncMax, x.n-jc)
		x.strips = gemmCeilDiv(x.nc, nr)
		x.ncPad = x.strips * nr

		switch {
		case x.directB && x.nc%nr == 0:
			x.packChunks = 0
		case x.directB || p == 1:
			x.packChunks = 1
		default:
			x.packChunks = min(x.strips, 2*p)
		}
		x.packed.Store(0)
		subs := min(x.nSubs, x.strips)
		parallelRun(x, x.packChunks+x.groups*subs, p)
	}
}

// setup chooses the participants p, the blocks of A and the widest slab of
// B (ncMax columns) of the product described by x, and sizes its buffers.
func (x *gemmCtx) setup() (p, ncMax int) {
	kn := x.kern
	mr, nr := kn.mr, kn.nr
	p = 1
	if x.preA == nil && !x.serial && x.m*x.n*x.k >= sgemmParallelMinWork {
		p = Workers()
	}
	x.cutA(p)
	x.nSubs = 1
	if x.mBlocks < p {
		x.nSubs = p
	}
	// With several blocks of k and a wide B, each participant takes an
	// equal group of A blocks and walks k outside them: a block of B then
	// comes from memory once per participant, not once per A block
	// (BenchmarkSgemmDeep: 5-12% faster than one chunk per A block, and
	// than 2 or 3 groups per participant). A narrow B (the fc layer's
	// products with the batch's 64 columns) stays in cache anyway, and
	// there the A blocks, read from memory, stream better one at a time.
	// A group packs its blocks of A together, so groups have at most
	// gemmGroupBlocks blocks (more groups, a multiple of p, for a long A).
	x.groups = x.mBlocks
	if x.k > kn.kc && x.nSubs == 1 && p > 1 && x.n >= 4*nr {
		x.groups = min(x.mBlocks, gemmRoundUp(gemmCeilDiv(x.mBlocks, gemmGroupBlocks), p))
	}
	kcMax := min(kn.kc, x.k)

	// When few blocks of A reuse each panel of B, packing B costs more than
	// it saves: the kernel then reads row-major B in place, and only a last
	// strip narrower than nr is packed (zero padded). Otherwise B is packed
	// in slabs of at most kn.nc columns and gemmMaxPackedB floats.
	x.directB = !x.transB && x.mBlocks <= 2 && x.n1 == 0
	x.directA = x.preA == nil && !x.transA && kn.directFns != nil &&
		(x.forceDirectA || gemmCeilDiv(x.n, nr) <= gemmDirectAMaxStrips && x.m*x.k >= gemmDirectAMin)
	x.rowOrder = x.k <= gemmRowOrderMaxK && x.bias == nil && x.preA == nil && !x.directA && !x.directB
	ncMax = gemmRoundUp(x.n, nr)
	if x.directB {
		x.bufB = gemmGrow(x.bufB, x.k*nr)
	} else {
		ncMax = min(ncMax, kn.nc)
		if lim := gemmMaxPackedB / x.k / nr * nr; ncMax > lim {
			ncMax = max(lim, nr)
		}
		x.bufB = gemmGrow(x.bufB, x.k*ncMax)
	}

	if len(x.bufA) < p {
		x.bufA = append(x.bufA, make([][]float32, p-len(x.bufA))...)
		x.edge = append(x.edge, make([][]float32, p-len(x.edge))...)
	}
	for w := 0; w < p; w++ {
		if x.preA == nil && !x.directA {
			x.bufA[w] = gemmGrow(x.bufA[w], gemmCeilDiv(x.mBlocks, x.groups)*x.mcEff*kcMax)
		}
		x.edge[w] = gemmGrow(x.edge[w], mr*nr)
	}
	return p, ncMax
}

// gemmBlocks cuts m rows of A into mBlocks blocks of mcEff rows (the last
// one shorter): about kn.mc rows each, a multiple of mr, and (when p > 1) a
// multiple of p blocks so that the workers finish together.
func gemmBlocks(kn *microKernel, m, p int) (mcEff, mBlocks int) {
	mb := gemmCeilDiv(m, kn.mc)
	if p > 1 && mb%p != 0 && mb > 1 {
		mb += p - mb%p
	}
	mcEff = gemmRoundUp(gemmCeilDiv(m, mb), kn.mr)
	return mcEff, gemmCeilDiv(m, mcEff)
}

// cutA cuts A's rows into blocks for p participants. On several cores the
// blocks share A's panels of mr rows evenly, so that the participants
// finish together: 512 rows in blocks of 98 gave one participant 294 rows
// and the other 218, and the MI networks' weight gradients (512 x 512 and
// 512 x 128, k = 3136) waited on the first (decision #53). Which rows a
// block holds changes no sum.
func (x *gemmCtx) cutA(p int) {
	x.mcEff, x.mBlocks = gemmBlocks(x.kern, x.m, p)
	x.balanced = p > 1
	if x.balanced {
		mr := x.kern.mr
		x.mPanels = gemmCeilDiv(x.m, mr)
		x.mBlocks = min(x.mBlocks, x.mPanels)
		x.mcEff = gemmCeilDiv(x.mPanels, x.mBlocks) * mr
	}
}

// block returns the first row and the number of rows of A block ib.
func (x *gemmCtx) block(ib int) (i0, mc int) {
	if !x.balanced {
		i0 = ib * x.mcEff
		return i0, min(x.mcEff, x.m-i0)
	}
	mr := x.kern.mr
	i0 = ib * x.mPanels / x.mBlocks * mr
	return i0, min((ib+1)*x.mPanels/x.mBlocks*mr, x.m) - i0
}

func gemmCeilDiv(a, b int) int { return (a + b - 1) / b }
func gemmRoundUp(a, b int) int { return gemmCeilDiv(a, b) * b }

// runChunk implements chunkRunner for a slab. Chunks are claimed in order,
// so when a participant gets a multiplication chunk every packing chunk is
// already running on an active participant: waiting for them is short.
func (x *gemmCtx) runChunk(w, chunk int) {
	if chunk < x.packChunks {
		s0 := chunk * x.strips / x.packChunks
		s1 := (chunk + 1) * x.strips / x.packChunks
		if x.directB {
			s0 = x.strips - 1 // the partial strip
		}
		x.packBStrips(s0, s1)
		x.packed.Add(1)
		return
	}
	chunk -= x.packChunks
	for spins := 0; x.packed.Load() < int32(x.packChunks); spins++ {
		if spins > 64 {
			runtime.Gosched()
		}
	}
	subs := min(x.nSubs, x.strips)
	ig, js := chunk/subs, chunk%subs
	s0 := js * x.strips / subs
	s1 := (js + 1) * x.strips / subs
	x.compute(w, ig*x.mBlocks/x.groups, (ig+1)*x.mBlocks/x.groups, s0, s1)
}

// bOffset is where strip s of the current slab of B, for the block of rows
// [pk, pk+kc), lies in bufB: kc steps of nr consecutive columns, zero padded
// past n. With B read in place only the last strip is packed.
func (x *gemmCtx) bOffset(pk, kc, s int) int {
	if x.directB {
		return pk * x.kern.nr
	}
	return pk*x.ncPad + s*kc*x.kern.nr
}

// segB returns the operand B that holds column j of op(B), its row stride
// and j's column in it (Sgemm2's second segment, or B itself).
func (x *gemmCtx) segB(j int) ([]float32, int, int) {
	if x.n1 > 0 && j >= x.n1 {
		return x.b2, x.ldb2, j - x.n1
	}
	return x.b, x.ldb, j
}

// segC returns the C that holds column j, its row stride, j's column in it
// and the beta of the block of k starting at pk, which is beta (x.beta's at
// pk = 0, else 1) for the first segment.
func (x *gemmCtx) segC(j, pk int, beta float32) ([]float32, int, int, float32) {
	if x.n1 > 0 && j >= x.n1 {
		if pk == 0 {
			beta = x.beta2
		}
		return x.c2, x.ldc2, j - x.n1, beta
	}
	return x.c, x.ldc, j, beta
}

// packBStrips packs strips [s0, s1) of the current slab of op(B), for all k.
func (x *gemmCtx) packBStrips(s0, s1 int) {
	nr, kcB := x.kern.nr, x.kern.kc
	for pk := 0; pk < x.k; pk += kcB {
		kc := min(kcB, x.k-pk)
		if x.transB {
			for s := s0; s < s1; s++ {
				off := x.bOffset(pk, kc, s)
				j0 := x.jc + s*nr
				b, ldb, jj := x.segB(j0)
				gemmPackT(x.bufB[off:off+kc*nr], b, jj*ldb+pk, ldb, min(nr, x.n-j0), kc, nr)
			}
			continue
		}
		// Row-major B: walk it a few rows at a time across all the strips,
		// so that reads stay sequential.
		const rows = 16
		for p0 := 0; p0 < kc; p0 += rows {
			pr := min(rows, kc-p0)
			for s := s0; s < s1; s++ {
				off := x.bOffset(pk, kc, s) + p0*nr
				j0 := x.jc + s*nr
				b, ldb, jj := x.segB(j0)
				gemmPackN(x.bufB[off:off+pr*nr], b, (pk+p0)*ldb+jj, ldb, min(nr, x.n-j0), pr, nr)
			}
		}
	}
}

// packA packs rows [i0, i0+mc) and columns [pk, pk+kc) of op(A) into dst as
// micro-panels of mr rows: panel r at r*mr*kc holds kc steps of mr values,
// zero padded past mc.
func (x *gemmCtx) packA(dst []float32, i0, mc, pk, kc int) {
	mr := x.kern.mr
	width := func(rows int) int {
		if rows < mr && x.kern.rowFns != nil {
			return rows
		}
		return mr
	}
	if !x.transA {
		for r := 0; r < mc; r += mr {
			rows := min(mr, mc-r)
			w := width(rows)
			gemmPackT(dst[r*kc:r*kc+w*kc], x.a, (i0+r)*x.lda+pk, x.lda, rows, kc, w)
		}
		return
	}
	// A^T is row-major k x m: walk it a few rows at a time across all the
	// panels, so that reads stay sequential.
	const steps = 16
	for p0 := 0; p0 < kc; p0 += steps {
		ps := min(steps, kc-p0)
		for r := 0; r < mc; r += mr {
			rows := min(mr, mc-r)
			w := width(rows)
			off := r*kc + p0*w
			gemmPackN(dst[off:off+ps*w], x.a, (pk+p0)*x.lda+i0+r, x.lda, rows, ps, w)
		}
	}
}

// gemmPackN copies kc rows of w consecutive floats (rows ld apart, from src[off])
// into dst as kc steps of width, zero padding columns w..width-1.
func gemmPackN(dst, src []float32, off, ld, w, kc, width int) {
	if packNFast(dst, src, off, ld, w, kc, width) {
		return
	}
	if w == width {
		for p := 0; p < kc; p++ {
			copy(dst[p*width:(p+1)*width], src[off+p*ld:off+p*ld+width])
		}
		return
	}
	for p := 0; p < kc; p++ {
		d := dst[p*width : (p+1)*width]
		copy(d, src[off+p*ld:off+p*ld+w])
		clear(d[w:])
	}
}

// gemmPackT transposes w rows of kc consecutive floats (rows ld apart, from
// src[off]) into dst as kc steps of width, zero padding lanes w..width-1.
func gemmPackT(dst, src []float32, off, ld, w, kc, width int) {
	if packTFast(dst, src, off, ld, w, kc, width) {
		return
	}
	dst = dst[:kc*width]
	for i := 0; i < w; i++ {
		s := src[off+i*ld : off+i*ld+kc]
		for p, v := range s {
			dst[p*width+i] = v
		}
	}
	for i := w; i < width; i++ {
		for p := 0; p < kc; p++ {
			dst[p*width+i] = 0
		}
	}
}

// compute runs A blocks [ib0, ib1) against strips [s0, s1) of the current
// B slab, for each block of k in turn: the group's A blocks are packed,
// then each strip of B meets all of them while it is in cache. Each element
// of C gets its k blocks in order whatever the grouping, so the sums do not
// depend on it.
func (x *gemmCtx) compute(w, ib0, ib1, s0, s1 int) {
	nr, kcB := x.kern.nr, x.kern.kc
	for pk := 0; pk < x.k; pk += kcB {
		kc := min(kcB, x.k-pk)
		for ib := ib0; ib < ib1; ib++ {
			if x.preA == nil && !x.directA {
				i0, mc := x.block(ib)
				x.packA(x.bufA[w][(ib-ib0)*x.mcEff*kc:], i0, mc, pk, kc)
			}
		}
		beta := x.beta
		if pk > 0 {
			beta = 1
		}
		if x.rowOrder {
			x.computeRows(w, ib0, ib1, s0, s1, pk, kc, beta)
			continue
		}
		for s := s0; s < s1; s++ {
			j := x.jc + s*nr
			cols := min(nr, x.n-j)
			if pk == 0 && x.bias != nil {
				for ib := ib0; ib < ib1; ib++ {
					i0, mc := x.block(ib)
					gemmFillRows(x.c[i0*x.ldc+j:], x.ldc, x.bias[j:j+cols], mc)
				}
			}
			var bp *float32
			ldb := nr
			if x.directB && cols == nr {
				bp, ldb = &x.b[pk*x.ldb+j], x.ldb
			} else {
				bp = &x.bufB[x.bOffset(pk, kc, s)]
			}
			c, ldc, jj, sbeta := x.segC(j, pk, beta)
			for ib := ib0; ib < ib1; ib++ {
				i0, mc := x.block(ib)
				if x.directA {
					x.panelsDirect(w, i0, mc, pk, c, ldc, jj, cols, kc, bp, ldb, sbeta)
					continue
				}
				var bufA []float32
				if x.preA != nil {
					bufA = x.preA.block(ib, pk)
				} else {
					bufA = x.bufA[w][(ib-ib0)*x.mcEff*kc:]
				}
				x.panels(w, bufA, i0, mc, c, ldc, jj, cols, kc, bp, ldb, sbeta)
			}
		}
	}
}

// computeRows is compute's inner part for blocks [ib0, ib1) of packed A
// and strips [s0, s1) of packed B, in row order (gemmRowOrderMaxK): each
// A panel of mr rows meets every strip in turn.
func (x *gemmCtx) computeRows(w, ib0, ib1, s0, s1, pk, kc int, beta float32) {
	mr, nr := x.kern.mr, x.kern.nr
	for ib := ib0; ib < ib1; ib++ {
		i0, mc := x.block(ib)
		bufA := x.bufA[w][(ib-ib0)*x.mcEff*kc:]
		for ir := 0; ir < mc; ir += mr {
			rows := min(mr, mc-ir)
			for s := s0; s < s1; s++ {
				j := x.jc + s*nr
				c, ldc, jj, sbeta := x.segC(j, pk, beta)
				x.panels(w, bufA[ir*kc:], i0+ir, rows, c, ldc, jj, min(nr, x.n-j), kc, &x.bufB[x.bOffset(pk, kc, s)], nr, sbeta)
			}
		}
	}
}

// panels multiplies the packed A block bufA (mc rows from i0, kc deep) by
// one strip of B (bp, cols columns, row stride ldb) into the columns from
// j of c (row stride ldc: x.c, or Sgemm2's second C), one micro-kernel
// call per panel of mr rows; edge tiles go through x.edge[w].
func (x *gemmCtx) panels(w int, bufA []float32, i0, mc int, c []float32, ldc, j, cols, kc int, bp *float32, ldb int, beta float32) {
	kn := x.kern
	mr, nr := kn.mr, kn.nr
	edge := x.edge[w]
	for ir := 0; ir < mc; ir += mr {
		ap := &bufA[ir*kc]
		rows := min(mr, mc-ir)
		ci := (i0+ir)*ldc + j
		fn := kn.fn
		if rows < mr && kn.rowFns != nil {
			fn = kn.rowFns[rows]
			if cols == nr {
				fn(kc, ap, bp, ldb, &c[ci], ldc, x.alpha, beta)
				continue
			}
		} else if rows == mr && cols == nr {
			if ir == 0 && ldb != nr && kn.pfb != nil {
				// B in place (sgemmTransposes' products, and small ones): the
				// first panel to meet it prefetches it.
				fn = kn.pfb
			}
			fn(kc, ap, bp, ldb, &c[ci], ldc, x.alpha, beta)
			continue
		}
		fn(kc, ap, bp, ldb, &edge[0], nr, x.alpha, 0)
		gemmEdgeStore(c[ci:], ldc, edge, nr, rows, cols, beta)
	}
}

// panelsDirect is panels for a product whose A is read in place: mc rows
// from i0, columns [pk, pk+kc) of A times one strip of B into c.
func (x *gemmCtx) panelsDirect(w, i0, mc, pk int, c []float32, ldc, j, cols, kc int, bp *float32, ldb int, beta float32) {
	kn := x.kern
	mr, nr := kn.mr, kn.nr
	edge := x.edge[w]
	for ir := 0; ir < mc; ir += mr {
		rows := min(mr, mc-ir)
		ap, fn := &x.a[(i0+ir)*x.lda+pk], kn.directFns[rows]
		ci := (i0+ir)*ldc + j
		if cols == nr {
			fn(kc, ap, x.lda, bp, ldb, &c[ci], ldc, x.alpha, beta)
			continue
		}
		fn(kc, ap, x.lda, bp, ldb, &edge[0], nr, x.alpha, 0)
		gemmEdgeStore(c[ci:], ldc, edge, nr, rows, cols, beta)
	}
}

// gemmEdgeStore adds the rows x cols tile held in edge (row stride nr) to
// C (from c[0], row stride ldc) scaled by beta, or stores it when beta is 0.
func gemmEdgeStore(c []float32, ldc int, edge []float32, nr, rows, cols int, beta float32) {
	for i := 0; i < rows; i++ {
		cr := c[i*ldc : i*ldc+cols]
		er := edge[i*nr : i*nr+cols]
		if beta == 0 {
			copy(cr, er)
		} else {
			for jj, v := range er {
				cr[jj] = v + beta*cr[jj]
			}
		}
	}
}

// goKernel is the portable micro-kernel: a 2 x 4 tile, whose 8
// accumulators and 6 operands fit the 16 registers of amd64 without spilling
// (a 4 x 4 tile spills and runs at half the speed).
var goKernel = microKernel{
	name: "go2x4", mr: 2, nr: 4, mc: 128, kc: 256, nc: 2048,
	fn: kernelGo2x4,
}

func kernelGo2x4(k int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32) {
	as := unsafe.Slice(a, 2*k)
	bs := unsafe.Slice(b, (k-1)*ldb+4)
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	for len(as) >= 2 && len(bs) >= 4 {
		b0, b1, b2, b3 := bs[0], bs[1], bs[2], bs[3]
		a0, a1 := as[0], as[1]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		as = as[2:]
		if len(as) == 0 {
			break
		}
		bs = bs[ldb:]
	}
	cs := unsafe.Slice(c, ldc+4)
	gemmStore4(cs[0:4:4], c00, c01, c02, c03, alpha, beta)
	gemmStore4(cs[ldc:ldc+4:ldc+4], c10, c11, c12, c13, alpha, beta)
}

func gemmStore4(r []float32, v0, v1, v2, v3, alpha, beta float32) {
	if beta == 0 {
		r[0], r[1], r[2], r[3] = alpha*v0, alpha*v1, alpha*v2, alpha*v3
		return
	}
	r[0] = alpha*v0 + beta*r[0]
	r[1] = alpha*v1 + beta*r[1]
	r[2] = alpha*v2 + beta*r[2]
	r[3] = alpha*v3 + beta*r[3]
}
