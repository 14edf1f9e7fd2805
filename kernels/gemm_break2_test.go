package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// Adversarial tests of the products that read A in place (gemmCtx.directA,
// the sgemmKernelDirectAVX512 micro-kernels), written in review: every
// operand an odd-offset sub-slice of a NaN-guarded array with NaN in the
// padding of its rows, so that a read past a row of A or B turns an output
// NaN and a write past a row of C changes a guard's bits; the in-place
// result is compared with the packed path's bit for bit.

// g2Guard is a quiet NaN with a payload, written around and between the
// operands' rows.
const g2GuardBits = 0x7fd1e5e5

var g2Guard = math.Float32frombits(g2GuardBits)

// g2Matrix returns a rows x cols matrix with leading dimension ld at
// offset off of a larger array (big), every value outside the matrix a
// guard; fill gives element (i, j).
func g2Matrix(rows, cols, ld, off int, fill func(i, j int) float32) (big, s []float32) {
	n := 0
	if rows > 0 {
		n = (rows-1)*ld + cols
	}
	big = make([]float32, off+n+37)
	for i := range big {
		big[i] = g2Guard
	}
	s = big[off : off+n : off+n]
	for i := range rows {
		for j := range cols {
			s[i*ld+j] = fill(i, j)
		}
	}
	return big, s
}

// g2Intact returns the first index of big, outside the matrix at off
// (rows x cols, leading dimension ld), whose bits are not the guard's, or
// -1.
func g2Intact(big []float32, rows, cols, ld, off int) int {
	for i, v := range big {
		r, c := (i-off)/ld, (i-off)%ld
		inside := i >= off && r < rows && c < cols
		if !inside && math.Float32bits(v) != g2GuardBits {
			return i
		}
	}
	return -1
}

// g2Ref is C = alpha*op(A)*op(B) + beta*C (A not transposed) in float64,
// with the sum of the terms' magnitudes per element.
func g2Ref(transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (want, scale []float64) {
	want, scale = make([]float64, m*n), make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s, abs float64
			for p := range k {
				var bv float32
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				t := float64(a[i*lda+p]) * float64(bv)
				s += t
				abs += math.Abs(t)
			}
			r := float64(alpha) * s
			sc := math.Abs(float64(alpha)) * abs
			if beta != 0 {
				r += float64(beta) * float64(c[i*ldc+j])
				sc += math.Abs(float64(beta) * float64(c[i*ldc+j]))
			}
			want[i*n+j], scale[i*n+j] = r, sc
		}
	}
	return want, scale
}

// g2Product is one product of the in-place tests.
type g2Product struct {
	m, n, k          int
	padA, padB, padC int // leading dimension minus the row width
	offA, offB, offC int
	alpha, beta      float32
	transB           bool
	specials         bool // Inf and NaN in A and B
}

func (p g2Product) String() string {
	return fmt.Sprintf("m%d_n%d_k%d_pad%d.%d.%d_off%d.%d.%d_alpha%v_beta%v_tB%v_sp%v",
		p.m, p.n, p.k, p.padA, p.padB, p.padC, p.offA, p.offB, p.offC, p.alpha, p.beta, p.transB, p.specials)
}

// g2Run runs p with kern through sgemm (the full dispatch) with A read in
// place (direct) or packed, and returns C's guarded array.
func g2Run(kern *microKernel, p g2Product, direct bool, seed uint64) (bigC, a, b, c0 []float32, lda, ldb, ldc int) {
	r := rand.New(rand.NewPCG(seed, uint64(p.m*7919+p.n*31+p.k)))
	val := func(int, int) float32 { return r.Float32()*2 - 1 }
	lda = p.k + p.padA
	_, a = g2Matrix(p.m, p.k, lda, p.offA, val)
	br, bc := p.k, p.n
	if p.transB {
		br, bc = p.n, p.k
	}
	ldb = bc + p.padB
	_, b = g2Matrix(br, bc, ldb, p.offB, val)
	if p.specials {
		sp := []float32{float32(math.Inf(1)), float32(math.Inf(-1)), math.Float32frombits(0x7fc00123), math.Float32frombits(0xffc00456), 0, float32(math.Copysign(0, -1)), 1e-40, 3e38}
		for range 1 + p.m*p.k/50 {
			a[r.IntN(p.m)*lda+r.IntN(p.k)] = sp[r.IntN(len(sp))]
		}
		for range 1 + p.n*p.k/50 {
			b[r.IntN(br)*ldb+r.IntN(bc)] = sp[r.IntN(len(sp))]
		}
	}
	ldc = p.n + p.padC
	var c []float32
	bigC, c = g2Matrix(p.m, p.n, ldc, p.offC, func(int, int) float32 {
		if p.beta == 0 {
			return float32(math.NaN()) // never read
		}
		return r.Float32()*2 - 1
	})
	c0 = slices.Clone(c)
	defer func(v int) { gemmDirectAMin = v }(gemmDirectAMin)
	gemmDirectAMin = math.MaxInt
	if direct {
		gemmDirectAMin = 0
	}
	sgemm(kern, false, p.transB, p.m, p.n, p.k, p.alpha, a, lda, b, ldb, p.beta, c, ldc)
	return bigC, a, b, c0, lda, ldb, ldc
}

// g2Check runs p both ways with kern and checks the guards, the bits of
// the in-place product against the packed one and (unless specials) the
// values against the float64 reference.
func g2Check(t *testing.T, kern *microKernel, p g2Product, seed uint64) {
	t.Helper()
	// The in-place path must be the one taken: by the ordinary product,
	// or by the transposed one (B as its A) where sgemm transposes.
	x := &gemmCtx{kern: kern, m: p.m, n: p.n, k: p.k}
	if p.k*p.n >= gemmTransposeMinB {
		x.m, x.n = p.n, p.m
	}
	saved := gemmDirectAMin
	gemmDirectAMin = 0
	x.setup()
	gemmDirectAMin = saved
	if !x.directA {
		t.Fatalf("%s %v: A would not be read in place", kern.name, p)
	}
	got, a, b, c0, lda, ldb, ldc := g2Run(kern, p, true, seed)
	packed, _, _, _, _, _, _ := g2Run(kern, p, false, seed)
	if i := g2Intact(got, p.m, p.n, ldc, p.offC); i >= 0 {
		t.Fatalf("%s %v: in place, C's guard at %d overwritten: %#08x", kern.name, p, i, math.Float32bits(got[i]))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(packed[i]) {
			t.Fatalf("%s %v: C array[%d] = %v (%#08x) in place, %v (%#08x) packed", kern.name, p, i, got[i], math.Float32bits(got[i]), packed[i], math.Float32bits(packed[i]))
		}
	}
	if p.specials {
		return
	}
	want, scale := g2Ref(p.transB, p.m, p.n, p.k, p.alpha, a, lda, b, ldb, p.beta, c0, ldc)
	c := got[p.offC:]
	for i := range p.m {
		for j := range p.n {
			v := float64(c[i*ldc+j])
			if d := math.Abs(v - want[i*p.n+j]); !(d <= 1e-6*float64(p.k+4)*scale[i*p.n+j]+1e-30) {
				t.Fatalf("%s %v: C[%d,%d] = %v, reference %v (scale %v)", kern.name, p, i, j, v, want[i*p.n+j], scale[i*p.n+j])
			}
		}
	}
}

func g2DirectKernels(t *testing.T) []*microKernel {
	return asmKernelsWhere(t, func(k *microKernel) bool { return k.directFns != nil }, "reads A in place")
}

// asmKernelsWhere returns the assembly micro-kernels of this CPU for which
// has is true, or skips t, saying that none "<what>", when there is none.
func asmKernelsWhere(t *testing.T, has func(*microKernel) bool, what string) []*microKernel {
	var ks []*microKernel
	for _, k := range asmKernels() {
		if has(k) {
			ks = append(ks, k)
		}
	}
	if len(ks) == 0 {
		t.Skipf("no micro-kernel %s on this CPU or build", what)
	}
	return ks
}

// TestBreak2DirectAShapes: every row count 1..30 (partial panels of 1..13
// rows after full ones of 14), columns 1..64 (one or two strips, a last one
// narrower than 32), k = 1..5 (the unrolled loop's tail alone) and across
// 512-blocks, padded leading dimensions and odd offsets, four alphas and
// betas, both layouts of B.
func TestBreak2DirectAShapes(t *testing.T) {
	kerns := g2DirectKernels(t)
	r := rand.New(rand.NewPCG(2, 3))
	var ps []g2Product
	for m := 1; m <= 30; m++ {
		ps = append(ps, g2Product{m: m, n: 1 + r.IntN(64), k: 1 + r.IntN(9), padA: r.IntN(5), padB: r.IntN(5), padC: r.IntN(5),
			offA: 1 + 2*r.IntN(8), offB: 1 + 2*r.IntN(8), offC: 1 + 2*r.IntN(8), alpha: 1, beta: 0, transB: m%2 == 0})
	}
	for n := 1; n <= 64; n++ {
		ps = append(ps, g2Product{m: 14 + r.IntN(30), n: n, k: 1 + r.IntN(70), padA: r.IntN(3), padB: r.IntN(3), padC: r.IntN(3),
			offA: 3, offB: 5, offC: 7, alpha: -0.75, beta: 1, transB: n%3 == 0})
	}
	for _, k := range []int{1, 2, 3, 4, 5, 8, 511, 512, 513, 1023, 1024, 1025, 1537} {
		for _, beta := range []float32{0, 1, 0.5, -2} {
			ps = append(ps, g2Product{m: 29, n: 33, k: k, padA: 3, padB: 1, padC: 2, offA: 1, offB: 3, offC: 5, alpha: 1.5, beta: beta, transB: beta < 0})
		}
	}
	for _, alpha := range []float32{1, -1, 0.3, 1e-20} {
		ps = append(ps, g2Product{m: 15, n: 64, k: 77, padA: 1, padB: 0, padC: 1, offA: 7, offB: 1, offC: 3, alpha: alpha, beta: 0.25})
	}
	for _, kern := range kerns {
		for i, p := range ps {
			g2Check(t, kern, p, uint64(i))
		}
	}
}

// TestBreak2DirectASpecials: Inf, NaN (with payloads), signed zeros,
// subnormals and huge values in A and B give the same bits read in place
// as packed, and beta 0 never lets C's NaNs through.
func TestBreak2DirectASpecials(t *testing.T) {
	for _, kern := range g2DirectKernels(t) {
		for i, p := range []g2Product{
			{m: 14, n: 32, k: 9, offA: 1, offB: 1, offC: 1, alpha: 1, beta: 0, specials: true},
			{m: 27, n: 45, k: 600, padA: 3, padB: 2, padC: 1, offA: 5, offB: 3, offC: 1, alpha: -2, beta: 1, specials: true},
			{m: 5, n: 64, k: 1030, padA: 1, padC: 4, offA: 9, offB: 3, offC: 7, alpha: 0.5, beta: 0.5, transB: true, specials: true},
		} {
			g2Check(t, kern, p, uint64(100+i))
		}
	}
}

// TestBreak2DirectAParallel: a product big enough for both workers, with
// several blocks of rows and of k, gives the same bits in place as packed,
// and the same on the calling goroutine alone (sgemmSerial) as on the
// pool.
func TestBreak2DirectAParallel(t *testing.T) {
	kerns := g2DirectKernels(t)
	defer func(v int) { gemmDirectAMin = v }(gemmDirectAMin)
	for _, kern := range kerns {
		g2Check(t, kern, g2Product{m: 1001, n: 61, k: 1100, padA: 5, padB: 3, padC: 1, offA: 1, offB: 1, offC: 1, alpha: 1, beta: 0}, 7)
	}
	if defaultKernel.directFns == nil {
		return
	}
	r := rand.New(rand.NewPCG(8, 9))
	m, n, k := 997, 64, 1031
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	gemmDirectAMin = 0
	pool, serial := make([]float32, m*n), make([]float32, m*n)
	sgemm(defaultKernel, false, false, m, n, k, 1, a, k, b, n, 0, pool, n)
	sgemmSerial(new(gemmCtx), false, false, m, n, k, a, k, b, n, 0, serial, n)
	sameBits(t, "pool against serial, in place", pool, serial)
}

// TestBreak2DirectATransposedDispatch: a product sgemm computes transposed
// (few rows of A, a wide B) whose transposed product reads B in place as its
// A: same bits as with every A packed.
func TestBreak2DirectATransposedDispatch(t *testing.T) {
	kerns := g2DirectKernels(t)
	for _, kern := range kerns {
		for i, p := range []g2Product{
			{m: 40, n: 301, k: 3500, padA: 1, padB: 3, padC: 2, offA: 1, offB: 3, offC: 5, alpha: 1, beta: 0, transB: true},
			{m: 64, n: 257, k: 4100, padA: 0, padB: 1, padC: 0, offA: 2, offB: 1, offC: 1, alpha: 0.5, beta: 1, transB: true},
		} {
			if p.k*p.n < gemmTransposeMinB {
				t.Fatalf("%v: too small for the transposed path", p)
			}
			g2Check(t, kern, p, uint64(200+i))
		}
	}
}

// TestBreak2DirectAThreshold: at the real threshold (m*k = gemmDirectAMin,
// 16 MiB of A) Sgemm reads A in place and gives the packed path's bits.
func TestBreak2DirectAThreshold(t *testing.T) {
	if defaultKernel.directFns == nil {
		t.Skip("the default micro-kernel does not read A in place")
	}
	defer func(v int) { gemmDirectAMin = v }(gemmDirectAMin)
	m, k, n := 1024, gemmDirectAMin/1024, 50
	r := rand.New(rand.NewPCG(4, 5))
	a, b := randSlice(r, m*k), randSlice(r, k*n)
	got, packed := make([]float32, m*n), make([]float32, m*n)
	x := &gemmCtx{kern: defaultKernel, m: m, n: n, k: k}
	if x.setup(); !x.directA {
		t.Fatalf("m=%d k=%d n=%d: not read in place at the threshold", m, k, n)
	}
	Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, got, n)
	gemmDirectAMin = math.MaxInt
	Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, packed, n)
	sameBits(t, "threshold product, in place against packed", got, packed)
	// A sample of rows against the reference.
	for _, i := range []int{0, 13, 14, 500, 1023} {
		want, scale := g2Ref(false, 1, n, k, 1, a[i*k:], k, b, n, 0, nil, n)
		for j := range n {
			if d := math.Abs(float64(got[i*n+j]) - want[j]); d > 1e-6*float64(k)*scale[j] {
				t.Fatalf("C[%d,%d] = %v, reference %v", i, j, got[i*n+j], want[j])
			}
		}
	}
}

// TestBreak2DirectAConcurrent: several goroutines multiplying in place at
// once (pooled contexts, per-worker edge tiles) get the bits each gets
// alone.
func TestBreak2DirectAConcurrent(t *testing.T) {
	if defaultKernel.directFns == nil {
		t.Skip("the default micro-kernel does not read A in place")
	}
	defer func(v int) { gemmDirectAMin = v }(gemmDirectAMin)
	gemmDirectAMin = 0
	type job struct {
		m, n, k   int
		a, b      []float32
		want, got []float32
	}
	r := rand.New(rand.NewPCG(6, 7))
	var jobs []*job
	for i := range 6 {
		j := &job{m: 150 + 37*i, n: 1 + 13*i, k: 300 + 211*i}
		j.a, j.b = randSlice(r, j.m*j.k), randSlice(r, j.k*j.n)
		j.want, j.got = make([]float32, j.m*j.n), make([]float32, j.m*j.n)
		Sgemm(false, false, j.m, j.n, j.k, 1, j.a, j.k, j.b, j.n, 0, j.want, j.n)
		jobs = append(jobs, j)
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				Sgemm(false, false, j.m, j.n, j.k, 1, j.a, j.k, j.b, j.n, 0, j.got, j.n)
				for i := range j.got {
					if math.Float32bits(j.got[i]) != math.Float32bits(j.want[i]) {
						t.Errorf("%dx%dx%d concurrent: C[%d] = %v, alone %v", j.m, j.n, j.k, i, j.got[i], j.want[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// TestBreak2DirectAKernelsDirect calls every direct micro-kernel itself
// against its packed twin, with k from 1 to 9 (unrolled loop and tail), a
// large lda, and C surrounded by guards: same bits, nothing written past
// the tile.
func TestBreak2DirectAKernelsDirect(t *testing.T) {
	for _, kern := range g2DirectKernels(t) {
		r := rand.New(rand.NewPCG(10, 11))
		nr := kern.nr
		for rows := 1; rows <= kern.mr; rows++ {
			fnP := kern.fn
			if rows < kern.mr {
				fnP = kern.rowFns[rows]
			}
			for k := 1; k <= 9; k++ {
				for _, beta := range []float32{0, 1, -0.5} {
					lda := k + 1000 + rows
					_, a := g2Matrix(rows, k, lda, 3, func(int, int) float32 { return r.Float32()*2 - 1 })
					packedA := make([]float32, k*rows)
					for i := range rows {
						for p := range k {
							packedA[p*rows+i] = a[i*lda+p]
						}
					}
					b := randSlice(r, k*nr)
					ldc := nr + 3
					bigD, cd := g2Matrix(rows, nr, ldc, 5, func(int, int) float32 { return r.Float32() })
					bigP := slices.Clone(bigD)
					cp := bigP[5 : 5+len(cd)]
					kern.directFns[rows](k, &a[0], lda, &b[0], nr, &cd[0], ldc, 0.75, beta)
					fnP(k, &packedA[0], &b[0], nr, &cp[0], ldc, 0.75, beta)
					what := fmt.Sprintf("%s rows=%d k=%d beta=%v", kern.name, rows, k, beta)
					if i := g2Intact(bigD, rows, nr, ldc, 5); i >= 0 {
						t.Fatalf("%s: guard %d overwritten", what, i)
					}
					sameBits(t, what, bigD, bigP)
				}
			}
		}
	}
}
