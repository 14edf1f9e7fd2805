package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

type sgemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// gemmCase is one product checked against SgemmRef.
type gemmCase struct {
	m, n, k     int
	alpha, beta float32
	pad         int // extra leading-dimension padding of A, B and C
}

// gemmCases mixes sizes 1..300 (primes, powers of two and their neighbours)
// with scalars: beta = 0 (C is NaN-filled), beta = 1 and general values.
var gemmCases = []gemmCase{
	{1, 1, 1, 1, 0, 0},
	{1, 1, 7, 2, 1, 1},
	{2, 3, 5, 1, 0.5, 3},
	{3, 2, 1, -1, 0, 0},
	{5, 7, 3, 0.5, 1, 2},
	{7, 5, 13, 1, -2, 1},
	{8, 8, 8, 1, 0, 0},
	{13, 17, 16, 1.5, 1, 5},
	{16, 16, 16, 1, 0.25, 0},
	{17, 13, 31, -0.75, 0, 1},
	{31, 32, 33, 1, 1, 0},
	{32, 33, 31, 2, 0, 3},
	{33, 31, 32, 1, -1, 1},
	{63, 64, 65, 1, 0, 0},
	{64, 65, 63, 0.5, 1, 2},
	{65, 63, 64, 1, 0.5, 0},
	{97, 127, 129, 1, 0, 1},
	{127, 128, 97, -1, 1, 0},
	{128, 128, 128, 1, 0, 0},
	{129, 97, 127, 1.25, -0.5, 3},
	{191, 17, 255, 1, 1, 0},
	{1, 300, 257, 1, 0, 1},
	{300, 1, 293, 2, 1, 0},
	{255, 256, 257, 1, 0, 0},
	{256, 257, 255, 1, 1, 1},
	{257, 255, 256, -0.5, 0.5, 0},
	{293, 300, 5, 1, 0, 2},
	{8, 293, 300, 1, 1, 0},
	{300, 300, 300, 1, 0.75, 1},
	{13, 2, 300, 1, 0, 0},
	{3, 257, 1, 1, 1, 5},
	{256, 7, 128, 0.5, 0, 0},
	{2, 191, 65, 1, 2, 0},
	{191, 191, 191, 1, 0, 1},
	{100, 60, 0, 1, 0.5, 0}, // k == 0: C = beta*C
	{40, 50, 60, 0, 2, 1},   // alpha == 0
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// gemmProblem is a gemmCase with its operands, initial C and expected result.
type gemmProblem struct {
	gemmCase
	transA, transB bool
	a, b, c0       []float32
	lda, ldb, ldc  int
	want, tol      []float64 // SgemmRef's result and the tolerance per element of C
}

// C is followed by a guard zone that must stay untouched, and so is the
// padding of each row past column n.
const (
	gemmGuard    = 64 * 64
	gemmSentinel = 12345
)

func newGemmProblem(tc gemmCase, transA, transB bool, seed uint64) *gemmProblem {
	r := rand.New(rand.NewPCG(seed, 7))
	m, n, k := tc.m, tc.n, tc.k
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	p := &gemmProblem{gemmCase: tc, transA: transA, transB: transB,
		lda: ac + tc.pad, ldb: bc + 2*tc.pad, ldc: n + 3*tc.pad}
	p.a = randSlice(r, max(ar*p.lda, 1))
	p.b = randSlice(r, max(br*p.ldb, 1))
	p.c0 = randSlice(r, m*p.ldc)
	for i := range p.c0 {
		if tc.beta == 0 {
			p.c0[i] = float32(math.NaN())
		}
		if i%p.ldc >= n {
			p.c0[i] = gemmSentinel
		}
	}
	want := append([]float32(nil), p.c0...)
	SgemmRef(transA, transB, m, n, k, tc.alpha, p.a, p.lda, p.b, p.ldb, tc.beta, want, p.ldc)
	p.want = make([]float64, len(want))
	p.tol = make([]float64, len(want))
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var bound float64
			for q := 0; q < k; q++ {
				var av, bv float32
				if transA {
					av = p.a[q*p.lda+i]
				} else {
					av = p.a[i*p.lda+q]
				}
				if transB {
					bv = p.b[j*p.ldb+q]
				} else {
					bv = p.b[q*p.ldb+j]
				}
				bound += math.Abs(float64(av) * float64(bv))
			}
			bound = bound*math.Abs(float64(tc.alpha)) + 1
			p.tol[i*p.ldc+j] = 1e-6 * float64(k+4) * bound
		}
	}
	for i, v := range want {
		p.want[i] = float64(v)
	}
	return p
}

// check runs f on the problem and compares C with SgemmRef's.
func (p *gemmProblem) check(f sgemmFunc) error {
	m, n := p.m, p.n
	cg := make([]float32, len(p.c0)+gemmGuard)
	copy(cg, p.c0)
	for i := len(p.c0); i < len(cg); i++ {
		cg[i] = gemmSentinel
	}
	c := cg[:len(p.c0)]
	f(p.transA, p.transB, m, n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, c, p.ldc)
	for i := len(c); i < len(cg); i++ {
		if cg[i] != gemmSentinel {
			return fmt.Errorf("write past the end of C, at offset %d", i)
		}
	}
	for i := 0; i < m; i++ {
		for j := 0; j < p.ldc; j++ {
			got := c[i*p.ldc+j]
			if j >= n {
				if got != gemmSentinel {
					return fmt.Errorf("C[%d][%d] outside the product changed to %v", i, j, got)
				}
				continue
			}
			want, tol := p.want[i*p.ldc+j], p.tol[i*p.ldc+j]
			if d := math.Abs(float64(got) - want); !(d <= tol) {
				return fmt.Errorf("C[%d][%d] = %v, want %v (|diff| %g > tol %g)", i, j, got, want, d, tol)
			}
		}
	}
	return nil
}

// gemmImpl is one way of running Sgemm checked against SgemmRef.
type gemmImpl struct {
	name     string
	f        sgemmFunc
	fastPack bool // whether AVX-512 packing may run (amd64)
}

func withKernel(kn *microKernel) sgemmFunc {
	return func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		sgemm(kn, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
}

// gemmImpls lists Sgemm (the CPU's best kernel), SgemmGo, and every
// assembly micro-kernel the CPU supports (AVX-512, AVX2) selected explicitly,
// each also with tiny blocks (many A blocks, k blocks and B slabs, so that B
// is packed rather than read in place) and without the AVX-512 packing
// routines.
func gemmImpls() []gemmImpl {
	fast := gemmFastPack
	tinyGo := goKernel
	tinyGo.mc, tinyGo.kc, tinyGo.nc = 6, 40, 12
	impls := []gemmImpl{
		{"Sgemm", Sgemm, fast},
		{"SgemmGo", SgemmGo, fast},
		{"SgemmGo/tiny/gopack", withKernel(&tinyGo), false},
	}
	for _, kn := range asmKernels() {
		tiny := *kn
		tiny.mc, tiny.kc, tiny.nc = 2*kn.mr, 40, 3*kn.nr
		impls = append(impls,
			gemmImpl{kn.name, withKernel(kn), fast},
			gemmImpl{kn.name + "/tiny", withKernel(&tiny), fast},
			gemmImpl{kn.name + "/gopack", withKernel(kn), false},
			gemmImpl{kn.name + "/tiny/gopack", withKernel(&tiny), false},
		)
	}
	return impls
}

// TestSgemm checks every implementation in gemmImpls against SgemmRef on
// every case of gemmCases and all four transpose combinations, with leading
// dimensions padded past the row widths.
func TestSgemm(t *testing.T) {
	impls := gemmImpls()
	if len(asmKernels()) == 0 {
		t.Log("no assembly micro-kernel on this build or CPU: pure Go only")
	}
	t.Logf("Sgemm runs on %s", defaultKernel.name)
	fast := gemmFastPack
	defer func() { gemmFastPack = fast }()
	for ci, tc := range gemmCases {
		for tr := 0; tr < 4; tr++ {
			transA, transB := tr&1 != 0, tr&2 != 0
			tc := tc
			tc.pad = (ci + tr) % 3 * 3
			name := fmt.Sprintf("%dx%dx%d/tA=%v,tB=%v,alpha=%v,beta=%v,pad=%d", tc.m, tc.n, tc.k, transA, transB, tc.alpha, tc.beta, tc.pad)
			t.Run(name, func(t *testing.T) {
				p := newGemmProblem(tc, transA, transB, uint64(ci*4+tr))
				for _, im := range impls {
					t.Run(im.name, func(t *testing.T) {
						gemmFastPack = im.fastPack
						if err := p.check(im.f); err != nil {
							t.Fatal(err)
						}
					})
				}
			})
		}
	}
}

func TestSgemmConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 3; i++ {
				p := newGemmProblem(gemmCase{190 + g, 150, 160 + i, 1, 0.5, 1}, g&1 != 0, i&1 != 0, uint64(g*10+i))
				if err := p.check(Sgemm); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}

func TestSgemmPanics(t *testing.T) {
	a := make([]float32, 6)
	tests := []struct {
		name string
		f    func()
	}{
		{"short A", func() { Sgemm(false, false, 3, 2, 3, 1, a[:8], 3, a, 2, 0, a, 2) }},
		{"small lda", func() { Sgemm(false, false, 2, 2, 3, 1, a, 2, a, 2, 0, a, 2) }},
		{"negative", func() { Sgemm(false, false, -1, 2, 3, 1, a, 3, a, 2, 0, a, 2) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			tt.f()
		})
	}
}

func TestSgemmAllocs(t *testing.T) {
	for _, s := range []struct{ m, n, k int }{{8, 8, 8}, {33, 65, 17}, {256, 256, 256}, {300, 130, 129}} {
		a := make([]float32, s.m*s.k)
		b := make([]float32, s.k*s.n)
		c := make([]float32, s.m*s.n)
		for _, f := range []sgemmFunc{Sgemm, SgemmGo} {
			f(false, true, s.m, s.n, s.k, 1, a, s.k, b, s.k, 0, c, s.n)
			if n := testing.AllocsPerRun(20, func() {
				f(false, true, s.m, s.n, s.k, 1, a, s.k, b, s.k, 0, c, s.n)
			}); n != 0 {
				t.Errorf("%dx%dx%d: %v allocations per call, want 0", s.m, s.n, s.k, n)
			}
		}
	}
}

var pfHits []atomic.Int32

func pfMark(lo, hi int) {
	for i := lo; i < hi; i++ {
		pfHits[i].Add(1)
	}
}

// TestParallelJobsMade: the pool makes its region jobs up front, so that
// a step whose regions happen to overlap more than before (nested regions,
// a caller opening the next region while a worker is still in a nested
// one) takes a job from the free list instead of allocating one.
func TestParallelJobsMade(t *testing.T) {
	p := Workers()
	ParallelFor(4*p, pfNested) // every job back on the free list afterwards
	jobFree.mu.Lock()
	n := len(jobFree.free)
	jobFree.mu.Unlock()
	if n < parJobsMade*p {
		t.Fatalf("%d region jobs on the free list, want at least %d made up front", n, parJobsMade*p)
	}
}

func pfNested(lo, hi int) {
	for range hi - lo {
		ParallelFor(3, func(int, int) {})
	}
}

func TestParallelFor(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 17, 1000} {
		pfHits = make([]atomic.Int32, n)
		ParallelFor(n, pfMark)
		for i := range pfHits {
			if v := pfHits[i].Load(); v != 1 {
				t.Fatalf("n=%d: index %d visited %d times", n, i, v)
			}
		}
	}
	// Nested regions must not deadlock.
	var total atomic.Int64
	ParallelFor(8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ParallelFor(100, func(lo, hi int) { total.Add(int64(hi - lo)) })
		}
	})
	if total.Load() != 800 {
		t.Fatalf("nested ParallelFor covered %d, want 800", total.Load())
	}
	pfHits = make([]atomic.Int32, 64)
	if n := testing.AllocsPerRun(50, func() { ParallelFor(64, pfMark) }); n != 0 {
		t.Errorf("ParallelFor with a top-level function: %v allocations, want 0", n)
	}
}

// benchGemm reports the speed of one product shape.
func benchGemm(b *testing.B, f sgemmFunc, transA, transB bool, m, n, k int) {
	r := rand.New(rand.NewPCG(1, 2))
	a := randSlice(r, m*k)
	bb := randSlice(r, k*n)
	c := make([]float32, m*n)
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	f(transA, transB, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f(transA, transB, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSgemm measures Sgemm on square products and on the shapes of the
// DIM model, reporting GFLOP/s.
func BenchmarkSgemm(b *testing.B) {
	for _, n := range []int{64, 128, 256, 512, 1024, 2048} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) { benchGemm(b, Sgemm, false, false, n, n, n) })
	}
	// The DIM model's shapes: forward A*B, backward A^T*B and A*B^T.
	for _, s := range []struct {
		name           string
		transA, transB bool
		m, n, k        int
	}{
		{"dim=3136x2048x2048", false, false, 3136, 2048, 2048},
		{"dim=3136x2048x128", false, false, 3136, 2048, 128},
		{"dimTA=2048x2048x3136", true, false, 2048, 2048, 3136},
		{"dimTA=128x2048x3136", true, false, 128, 2048, 3136},
		{"dimTB=3136x2048x2048", false, true, 3136, 2048, 2048},
		{"dimTB=3136x128x2048", false, true, 3136, 128, 2048},
		// The step at 512 MI units (basic28x28, batch 64): the local MI
		// network's layers, the score matrix's backward pass, the fc layer
		// (forward, input and weight gradients; its 1024 x 6272 weight is
		// read from memory).
		{"step512=3136x512x512", false, true, 3136, 512, 512},
		{"step512TA=512x512x3136", true, false, 512, 512, 3136},
		{"step512=64x512x3136", false, false, 64, 512, 3136},
		{"step512fc=64x1024x6272", false, true, 64, 1024, 6272},
		{"step512fc=64x6272x1024", false, false, 64, 6272, 1024},
		{"step512fcTA=1024x6272x64", true, false, 1024, 6272, 64},
	} {
		b.Run(s.name, func(b *testing.B) { benchGemm(b, Sgemm, s.transA, s.transB, s.m, s.n, s.k) })
	}
}

// BenchmarkSgemmDeep measures products with several blocks of k (the MI
// networks' weight gradients at 512 units, k = 3136 locations), where each
// participant walks k outside its group of A blocks.
func BenchmarkSgemmDeep(b *testing.B) {
	for _, s := range []struct {
		transA  bool
		m, n, k int
	}{{true, 512, 512, 3136}, {true, 512, 128, 3136}, {false, 1024, 512, 3136}, {false, 512, 1024, 3136}} {
		b.Run(fmt.Sprintf("tA=%v/%dx%dx%d", s.transA, s.m, s.n, s.k), func(b *testing.B) {
			benchGemm(b, Sgemm, s.transA, false, s.m, s.n, s.k)
		})
	}
}

// TestSgemmGroups checks products with several blocks of k, whose A blocks
// are shared out in groups, one per participant, bit for bit against the
// same products on one goroutine (one group): each element of C gets the
// same blocks of k in the same order either way.
func TestSgemmGroups(t *testing.T) {
	if Workers() < 2 {
		t.Skip("one core: no groups to compare")
	}
	r := rand.New(rand.NewPCG(23, 24))
	for _, s := range []struct {
		transA, transB bool
		m, n, k        int
		beta           float32
	}{
		{false, false, 300, 200, 1100, 0},
		{true, false, 501, 77, 1500, 1},
		{false, true, 1000, 130, 1030, 0.5},
		{true, true, 130, 600, 2000, 0},
	} {
		if s.m*s.n*s.k < sgemmParallelMinWork || s.k <= defaultKernel.kc {
			t.Fatalf("%+v: not a parallel product with several blocks of k", s)
		}
		lda, ldb := s.k, s.n
		if s.transA {
			lda = s.m
		}
		if s.transB {
			ldb = s.k
		}
		a, bm, c0 := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n), randSlice(r, s.m*s.n)
		got, want := append([]float32(nil), c0...), append([]float32(nil), c0...)
		Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, s.beta, got, s.n)
		x := getGemmCtx()
		x.alpha = 1
		x.kern, x.preA, x.serial = defaultKernel, nil, true
		x.transA, x.transB = s.transA, s.transB
		x.m, x.n, x.k = s.m, s.n, s.k
		x.beta = s.beta
		x.a, x.b, x.c = a, bm, want
		x.lda, x.ldb, x.ldc = lda, ldb, s.n
		x.run()
		x.a, x.b, x.c, x.serial = nil, nil, nil, false
		putGemmCtx(x)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Errorf("%+v: C[%d] = %v on %d cores, %v on one", s, i, got[i], Workers(), want[i])
				break
			}
		}
	}
}

// BenchmarkSgemmFromMemory measures the products of the DIM encoder's fc
// layer (basic28x28: 6272 -> 1024, batch 64) with the weight read from
// memory, as in a training step, where the rest of the step evicts it from
// the caches: the products cycle through 8 copies of the weight (200 MB).
// The forward product and the input gradient take Sgemm's transposed path
// (sgemmTransposed); "direct" runs the input gradient in eight slices of
// columns, each below that path's minimum size, for comparison.
func BenchmarkSgemmFromMemory(b *testing.B) {
	const copies, m, n, k = 8, 64, 1024, 6272 // y[m,n] = x[m,k] W^T, W [n,k]
	r := rand.New(rand.NewPCG(1, 2))
	ws := make([][]float32, copies)
	for i := range ws {
		ws[i] = randSlice(r, n*k)
	}
	x, dy := randSlice(r, m*k), randSlice(r, m*n)
	y, dx := make([]float32, m*n), make([]float32, m*k)
	for _, c := range []struct {
		name string
		f    func(w []float32)
	}{
		{"fc-forward", func(w []float32) { Sgemm(false, true, m, n, k, 1, x, k, w, k, 0, y, n) }},
		{"fc-input-grad", func(w []float32) { Sgemm(false, false, m, k, n, 1, dy, n, w, k, 0, dx, k) }},
		// The path the input gradient took before decision #57 (and takes
		// without a prefetching kernel): computed transposed.
		{"fc-input-grad-transposed", func(w []float32) { sgemmTransposed(defaultKernel, false, m, k, n, 1, dy, n, w, k, 0, dx, k) }},
		{"fc-input-grad-direct", func(w []float32) {
			for j := 0; j < k; j += k / 8 {
				Sgemm(false, false, m, k/8, n, 1, dy, n, w[j:], k, 0, dx[j:], k)
			}
		}},
		{"fc-weight-grad", func(w []float32) { Sgemm(true, false, n, k, m, 1, dy, n, x, k, 0, w, k) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				c.f(ws[i%copies])
				i++
			}
			b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkSgemmGo measures the pure-Go micro-kernel (sub-benchmarks are
// named size=N so that -bench 'Sgemm/n=N' selects only Sgemm).
func BenchmarkSgemmGo(b *testing.B) {
	for _, n := range []int{256, 1024} {
		b.Run(fmt.Sprintf("size=%d", n), func(b *testing.B) { benchGemm(b, SgemmGo, false, false, n, n, n) })
	}
}

// TestSgemmTransposed checks the products Sgemm computes transposed (few
// rows of A, more columns, a B of gemmTransposeMinB floats or more, beta 0
// or 1) against the same
// products with B given the other way round, in two halves, which take the
// ordinary path: the sums are the same, in the same order, so the bits
// must be too.
func TestSgemmTransposed(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, s := range []struct {
		m, n, k, lda, ldb, ldc int
		beta                   float32
	}{
		{64, 1100, 1000, 1000, 1100, 1100, 0},
		{64, 1100, 1000, 1000, 1100, 1100, 1},
		// Two blocks of rows: transposed whether B is transposed or not
		// (with one block, a row-major B is read in place where the
		// kernel prefetches it; TestSgemmInPlaceB).
		{150, 1100, 1000, 1000, 1100, 1100, 0},
		{5, 1031, 1027, 1030, 1040, 1033, 1},
		{1, 2048, 512, 512, 2048, 2048, 0},
		{29, 333, 3200, 3201, 3300, 340, 1},
		// Few rows and few columns: no transposing (it would transpose
		// back, without end, before the ordinary path was split out).
		{64, 64, 16384, 16384, 16384, 64, 0},
	} {
		if s.n*s.k < gemmTransposeMinB {
			t.Fatalf("%+v: B too small to be computed transposed", s)
		}
		a := randSlice(r, s.m*s.lda)
		b := randSlice(r, max(s.k, s.n)*s.ldb)
		bT := make([]float32, s.n*s.k) // op(B) the other way round, ld s.k or s.n
		c0 := randSlice(r, s.m*s.ldc)
		for _, transB := range []bool{false, true} {
			ldT := s.n
			for p := 0; p < s.k; p++ {
				for j := 0; j < s.n; j++ {
					if transB { // B [n,k], ldb; bT = B^T [k,n]
						bT[p*s.n+j] = b[j*s.ldb+p]
					} else { // B [k,n], ldb; bT = B^T [n,k]
						bT[j*s.k+p] = b[p*s.ldb+j]
					}
				}
			}
			if !transB {
				ldT = s.k
			}
			got := append([]float32(nil), c0...)
			want := append([]float32(nil), c0...)
			Sgemm(false, transB, s.m, s.n, s.k, 0.75, a, s.lda, b, s.ldb, s.beta, got, s.ldc)
			// The ordinary path: the same product with op(B) stored the
			// other way round, in two halves of the columns so that
			// neither reaches gemmTransposeMinB.
			h := s.n / 2
			Sgemm(false, !transB, s.m, h, s.k, 0.75, a, s.lda, bT, ldT, s.beta, want, s.ldc)
			off := h * s.k
			if transB {
				off = h
			}
			Sgemm(false, !transB, s.m, s.n-h, s.k, 0.75, a, s.lda, bT[off:], ldT, s.beta, want[h:], s.ldc)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%+v transB=%v: C[%d] = %v, want %v", s, transB, i, got[i], want[i])
				}
			}
		}
	}
}

// BenchmarkMicroKernelPeak runs the micro-kernel Sgemm uses on panels that
// stay in the L1 cache (k = 128 steps; A, B and C together about 26 KiB),
// on one core and on every core the pool uses, each with its own panels. It
// reports the FMA rate the kernel sustains with no memory traffic: the
// ceiling for every product, convolution and training step built on it
// (docs/performance.md, "Issue #14's bars").
func BenchmarkMicroKernelPeak(b *testing.B) {
	mk := defaultKernel
	for _, cores := range []int{1, Workers()} {
		b.Run(fmt.Sprintf("cores=%d", cores), func(b *testing.B) {
			ps := newPeakPanels(mk, cores)
			b.ResetTimer()
			for it := 0; it < b.N; it++ {
				peakRound(mk, ps, peakCalls)
			}
			flops := 2 * float64(mk.mr*mk.nr*peakDepth) * peakCalls * float64(cores) * float64(b.N)
			b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// TestGemmTranspose checks gemmTranspose (AVX-512 where present) against a
// plain double loop on odd sizes, padded strides and more rows than one
// pass of the transposer takes, and that it writes nothing outside dst's
// rows x cols.
func TestGemmTranspose(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, s := range []struct{ rows, cols, ldd, lds int }{
		{1, 1, 1, 1}, {1, 17, 17, 3}, {17, 1, 2, 17}, {16, 16, 16, 16}, {15, 33, 40, 19},
		{64, 6272, 6272, 64}, {6272, 64, 64, 6272}, {1100, 37, 41, 1103}, {2049, 5, 5, 2049},
	} {
		src := randSlice(r, (s.cols-1)*s.lds+s.rows)
		dst := make([]float32, (s.rows-1)*s.ldd+s.cols+7)
		for i := range dst {
			dst[i] = -7
		}
		Transpose(dst, s.ldd, src, s.lds, s.rows, s.cols)
		for i := range dst {
			row, col := i/s.ldd, i%s.ldd
			want := float32(-7)
			if row < s.rows && col < s.cols {
				want = src[col*s.lds+row]
			}
			if dst[i] != want {
				t.Fatalf("%+v: dst[%d] (row %d, col %d) = %v, want %v", s, i, row, col, dst[i], want)
			}
		}
	}
}

// BenchmarkGemmTranspose measures the transposition of sgemmTransposed's
// result for the fc layer's input gradient (6272 x 64 into 64 x 6272).
func BenchmarkGemmTranspose(b *testing.B) {
	const rows, cols = 64, 6272
	src := make([]float32, rows*cols)
	dst := make([]float32, rows*cols)
	b.SetBytes(4 * rows * cols)
	for i := 0; i < b.N; i++ {
		gemmTranspose(dst, cols, src, rows, rows, cols)
	}
}

// TestSgemmDirectA checks the products that read A in place (gemmCtx.directA,
// forced here on small sizes by lowering gemmDirectAMin) against the packed
// path bit for bit, and against SgemmRef, on odd sizes: partial panels of
// rows, a last strip narrower than nr, several blocks of k, padded strides,
// both layouts of B and three betas.
func TestSgemmDirectA(t *testing.T) {
	defer func(v int) { gemmDirectAMin = v }(gemmDirectAMin)
	r := rand.New(rand.NewPCG(31, 32))
	for _, kern := range asmKernels() {
		if kern.directFns == nil {
			continue
		}
		for _, s := range []struct{ m, n, k, lda, ldb, ldc int }{
			{1, 1, 1, 1, 1, 1},
			{13, 32, 7, 9, 40, 33},
			{14, 64, 512, 515, 70, 64},
			{15, 33, 600, 601, 64, 40},
			{37, 17, 1100, 1103, 1100, 20},
			{250, 64, 513, 520, 64, 70},
			{113, 50, 31, 31, 50, 50},
		} {
			if gemmCeilDiv(s.n, kern.nr) > gemmDirectAMaxStrips {
				t.Fatalf("%+v: too many columns for the in-place path", s)
			}
			a := randSlice(r, s.m*s.lda)
			b := randSlice(r, max(s.k, s.n)*max(s.ldb, s.k))
			c0 := randSlice(r, s.m*s.ldc)
			for _, transB := range []bool{false, true} {
				ldb := s.ldb
				if transB {
					ldb = max(s.ldb, s.k)
				}
				for _, beta := range []float32{0, 1, 0.5} {
					got, packed, ref := slices.Clone(c0), slices.Clone(c0), slices.Clone(c0)
					gemmDirectAMin = 0
					sgemmOrdinary(kern, false, transB, s.m, s.n, s.k, 0.75, a, s.lda, b, ldb, beta, got, s.ldc)
					gemmDirectAMin = math.MaxInt
					sgemmOrdinary(kern, false, transB, s.m, s.n, s.k, 0.75, a, s.lda, b, ldb, beta, packed, s.ldc)
					SgemmRef(false, transB, s.m, s.n, s.k, 0.75, a, s.lda, b, ldb, beta, ref, s.ldc)
					gemmCheckPaths(t, fmt.Sprintf("%s %+v transB=%v beta=%v: C", kern.name, s, transB, beta), got, "in place", packed, "packed", ref, s.k)
				}
			}
		}
	}
}

// TestSgemmBias checks SgemmBias bit for bit against filling C's rows with
// the bias and calling Sgemm with beta 1, on the ordinary path (odd sizes,
// several blocks of rows, columns and k, transposed operands, A read in
// place) and on the transposed one (few rows, a large B), and that it
// panics on a short bias.
func TestSgemmBias(t *testing.T) {
	defer func(v int) { gemmDirectAMin = v }(gemmDirectAMin)
	r := rand.New(rand.NewPCG(71, 72))
	for _, s := range []struct {
		m, n, k        int
		transA, transB bool
		directA        bool
	}{
		{1, 1, 1, false, false, false},
		{13, 33, 7, false, true, false},
		{250, 70, 600, false, true, false},
		{3136, 64, 128, false, true, false},
		{37, 130, 1100, true, false, false},
		{120, 40, 513, false, false, true},
		{64, 1024, 1100, false, true, false}, // transposed: few rows, a large B
		{5, 9, 0, false, false, false},
	} {
		if s.directA {
			gemmDirectAMin = 0
		}
		lda, ldb, ldc := s.k+3, s.n+5, s.n+2
		if s.transA {
			lda = s.m + 3
		}
		if s.transB {
			ldb = s.k + 5
		}
		a := randSlice(r, max(s.m, s.k)*lda)
		b := randSlice(r, max(s.n, s.k)*ldb)
		bias := randSlice(r, s.n+1)
		got, want := randSlice(r, s.m*ldc), []float32(nil)
		want = slices.Clone(got)
		for i := range s.m {
			copy(want[i*ldc:i*ldc+s.n], bias[:s.n])
		}
		Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, b, ldb, 1, want, ldc)
		SgemmBias(s.transA, s.transB, s.m, s.n, s.k, a, lda, b, ldb, bias, got, ldc)
		gemmDirectAMin = 4 << 20
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%+v: C[%d] = %v, filled and multiplied %v", s, i, got[i], want[i])
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("SgemmBias with 2 bias values for 3 columns: no panic")
		}
	}()
	SgemmBias(false, false, 2, 3, 2, make([]float32, 4), 2, make([]float32, 6), 3, make([]float32, 2), make([]float32, 6), 3)
}

// TestGemmBalancedBlocks checks the blocks of A on several cores: they
// tile [0, m) in order, each ends on a panel boundary (or at m), none
// holds more than mcEff rows, and their panel counts differ by at most one
// (512 rows had blocks of 98 and a last one of 22).
func TestGemmBalancedBlocks(t *testing.T) {
	kn := defaultKernel
	for _, m := range []int{1, 13, 14, 15, 100, 512, 1000, 1024, 3136, 6272} {
		for _, p := range []int{2, 3, 4} {
			x := &gemmCtx{kern: kn, m: m}
			x.cutA(p)
			next, lo, hi := 0, m, 0
			for ib := range x.mBlocks {
				i0, mc := x.block(ib)
				if i0 != next || mc <= 0 || mc > x.mcEff || (i0+mc != m && (i0+mc)%kn.mr != 0) {
					t.Fatalf("m=%d p=%d: block %d = rows [%d, %d), want from %d, at most %d rows, ending on a panel", m, p, ib, i0, i0+mc, next, x.mcEff)
				}
				next = i0 + mc
				panels := gemmCeilDiv(mc, kn.mr)
				lo, hi = min(lo, panels), max(hi, panels)
			}
			if next != m || hi-lo > 1 {
				t.Fatalf("m=%d p=%d: blocks end at %d (want %d), panels per block %d to %d", m, p, next, m, lo, hi)
			}
		}
	}
}

// TestGemmFits checks the length test of Sgemm's and Transpose's operands,
// overflowing strides included ((2^64+2)/3 times 3 wraps to 2).
func TestGemmFits(t *testing.T) {
	const huge = 6148914691236517206
	for _, c := range []struct {
		n, rows, cols, ld int
		want              bool
	}{
		{16, 1, 16, 16, true}, {15, 1, 16, 16, false}, {31, 2, 16, 16, false}, {32, 2, 16, 16, true},
		{34, 3, 2, 16, true}, {33, 3, 2, 16, false}, {64, 4, 16, huge, false}, {64, 1, 16, huge, true},
	} {
		if got := gemmFits(c.n, c.rows, c.cols, c.ld); got != c.want {
			t.Errorf("gemmFits(%d, %d, %d, %d) = %v, want %v", c.n, c.rows, c.cols, c.ld, got, c.want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Sgemm with an overflowing leading dimension: no panic")
		}
	}()
	a := make([]float32, 64)
	Sgemm(false, false, 4, 4, 16, 1, a, huge, a, 4, 0, a, 4)
}

// TestGemmRowOrder checks the products computed in row order (k at most
// gemmRowOrderMaxK, packed A and B) bit for bit against the same products
// in the usual order, and against the reference: odd sizes, edge tiles,
// several slabs of B, transposed operands, every beta, on every kernel.
func TestGemmRowOrder(t *testing.T) {
	defer func(v int) { gemmRowOrderMaxK = v }(gemmRowOrderMaxK)
	r := rand.New(rand.NewPCG(41, 42))
	kerns := append(asmKernels(), &goKernel)
	for _, kern := range kerns {
		for _, s := range []struct{ m, n, k int }{
			{250, 70, 64},
			{230, 2090, 33},
			{300, 33, 1},
			{517, 129, 128},
			{29, 40, 128},
		} {
			// The path must be taken where A has more than two blocks.
			gemmRowOrderMaxK = 128
			x := &gemmCtx{kern: kern, m: s.m, n: s.n, k: s.k, transB: true}
			x.setup()
			if want := x.mBlocks > 2 || x.transB; x.rowOrder != want {
				t.Fatalf("%s %+v: row order %v, want %v", kern.name, s, x.rowOrder, want)
			}
			for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				lda, ldb, ldc := s.k+3, s.n+5, s.n+2
				if tr[0] {
					lda = s.m + 1
				}
				if tr[1] {
					ldb = s.k + 7
				}
				a := randSlice(r, max(s.m, s.k)*lda)
				b := randSlice(r, max(s.k, s.n)*ldb)
				c0 := randSlice(r, s.m*ldc)
				for _, beta := range []float32{0, 1, 0.5} {
					rows, cols, ref := slices.Clone(c0), slices.Clone(c0), slices.Clone(c0)
					gemmRowOrderMaxK = 128
					sgemmOrdinary(kern, tr[0], tr[1], s.m, s.n, s.k, 0.75, a, lda, b, ldb, beta, rows, ldc)
					gemmRowOrderMaxK = 0
					sgemmOrdinary(kern, tr[0], tr[1], s.m, s.n, s.k, 0.75, a, lda, b, ldb, beta, cols, ldc)
					SgemmRef(tr[0], tr[1], s.m, s.n, s.k, 0.75, a, lda, b, ldb, beta, ref, ldc)
					gemmCheckPaths(t, fmt.Sprintf("%s %+v trans=%v beta=%v: C", kern.name, s, tr, beta), rows, "in row order", cols, "in column order", ref, s.k)
				}
			}
		}
	}
}

// TestSgemm2 checks Sgemm2 bit for bit against two Sgemm calls, and
// against the reference: both operands transposed or not, betas of their
// own, strides past the rows, several slabs of columns, a first segment
// that is not a whole number of strips (two products then), a short k (row
// order), a long one (several blocks of k), few rows (A read in place).
func TestSgemm2(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	for _, s := range []struct{ m, n1, n2, k int }{
		{150, 512, 128, 512},
		{250, 64, 33, 64},
		{97, 32, 2100, 33},
		{130, 96, 7, 1100},
		{29, 40, 70, 300},
		{14, 32, 32, 5000},
		{1, 32, 1, 1},
	} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			lda := s.k + 3
			if tr[0] {
				lda = s.m + 1
			}
			ldb1, ldb2 := s.n1+5, s.n2+2
			if tr[1] {
				ldb1, ldb2 = s.k+7, s.k+1
			}
			a := randSlice(r, max(s.m, s.k)*lda)
			b1 := randSlice(r, max(s.k, s.n1)*ldb1)
			b2 := randSlice(r, max(s.k, s.n2)*ldb2)
			ldc1, ldc2 := s.n1+9, s.n2
			c10, c20 := randSlice(r, s.m*ldc1), randSlice(r, s.m*ldc2)
			for _, betas := range [][2]float32{{0, 0}, {1, 0}, {0, 1}, {0.5, 1}} {
				c1, c2 := slices.Clone(c10), slices.Clone(c20)
				Sgemm2(tr[0], tr[1], s.m, s.n1, s.n2, s.k, a, lda, b1, ldb1, betas[0], c1, ldc1, b2, ldb2, betas[1], c2, ldc2)
				w1, w2 := slices.Clone(c10), slices.Clone(c20)
				Sgemm(tr[0], tr[1], s.m, s.n1, s.k, 1, a, lda, b1, ldb1, betas[0], w1, ldc1)
				Sgemm(tr[0], tr[1], s.m, s.n2, s.k, 1, a, lda, b2, ldb2, betas[1], w2, ldc2)
				// The reference is slow: once per shape and transposes.
				r1, r2 := w1, w2
				if betas == [2]float32{0.5, 1} {
					r1, r2 = slices.Clone(c10), slices.Clone(c20)
					SgemmRef(tr[0], tr[1], s.m, s.n1, s.k, 1, a, lda, b1, ldb1, betas[0], r1, ldc1)
					SgemmRef(tr[0], tr[1], s.m, s.n2, s.k, 1, a, lda, b2, ldb2, betas[1], r2, ldc2)
				}
				for _, o := range []struct {
					name           string
					got, two, want []float32
				}{{"C1", c1, w1, r1}, {"C2", c2, w2, r2}} {
					gemmCheckPaths(t, fmt.Sprintf("%+v trans=%v betas=%v: %s", s, tr, betas, o.name), o.got, "in one product", o.two, "in two", o.want, s.k)
				}
			}
		}
	}
}

// gemmCheckPaths fails t unless got, computed by one path of a product of
// depth k, has the bits of other, computed by another (named gotName and
// otherName in the message), and is within 1e-4*k of the reference ref.
// label names the product and the matrix.
func gemmCheckPaths(t *testing.T, label string, got []float32, gotName string, other []float32, otherName string, ref []float32, k int) {
	t.Helper()
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(other[i]) {
			t.Fatalf("%s[%d] = %v %s, %v %s", label, i, got[i], gotName, other[i], otherName)
		}
		if d := math.Abs(float64(got[i] - ref[i])); d > 1e-4*float64(k) {
			t.Fatalf("%s[%d] = %v, reference %v", label, i, got[i], ref[i])
		}
	}
}
