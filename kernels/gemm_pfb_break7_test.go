//go:build linux

// Review of decision #57 (seventh review round): a row-major B of one block
// of A's rows read in place, its first panel's kernel prefetching B
// (sgemmKernelPFBAVX512x14x32), instead of the product computed transposed.
// The page-end tests use b3PageEnd (conv_page_break3_test.go, linux).

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// b7Kernel returns the default kernel when it has a B-prefetching twin, or
// skips t.
func b7Kernel(t *testing.T) *microKernel {
	kern := pfbKernels(t)[0]
	if defaultKernel != kern {
		t.Skipf("the default kernel is %s", defaultKernel.name)
	}
	if _, mb := gemmBlocks(kern, kern.mc, Workers()); mb != 1 {
		t.Fatalf("%d rows make %d blocks", kern.mc, mb)
	}
	return kern
}

// b7Product is a product C = alpha*A*B + beta*C with A and B not
// transposed and padded strides.
type b7Product struct {
	m, n, k       int
	lda, ldb, ldc int
	alpha, beta   float32
}

// b7Operands returns A, B and C (inside guards, at offset 3 of bigC) for
// p; C holds NaN where beta is 0 (never read).
func b7Operands(p b7Product, seed uint64) (a, b, bigC, c []float32) {
	r := rand.New(rand.NewPCG(seed, uint64(p.m*131+p.n*7+p.k)))
	a = randSlice(r, (p.m-1)*p.lda+p.k)
	b = randSlice(r, (p.k-1)*p.ldb+p.n)
	nan := float32(math.NaN())
	bigC, c = g2Matrix(p.m, p.n, p.ldc, 3, func(int, int) float32 {
		if p.beta == 0 {
			return nan
		}
		return r.Float32()*2 - 1
	})
	return a, b, bigC, c
}

// TestBreak7InPlaceBShapes: products that now read B in place (checked with
// sgemmTransposes) have the bits of the transposed path they took before,
// everywhere in C's guarded buffer, leave C's guards and padding intact
// and are within 1e-4*k of the float64 reference. The shapes cover one
// panel (14 rows) to a whole block (112), a full panel then a partial one
// (the row kernels, which do not prefetch), n a multiple of
// 32 or not (the last strip packed), k at and around the kc = 512 block
// (511, 512, 513, 1025), alpha not 1, beta 0 (C NaN) and 1, and padded
// strides.
func TestBreak7InPlaceBShapes(t *testing.T) {
	kern := b7Kernel(t)
	for i, p := range []b7Product{
		{14, 1031, 1025, 1025, 1031, 1031, 1, 0},
		{20, 2049, 513, 520, 2051, 2049, -0.5, 1},
		{27, 2048, 512, 512, 2050, 2060, 1, 0},
		{14, 1057, 1000, 1003, 1057, 1100, -1.25, 0},
		{14, 2080, 511, 511, 2081, 2080, 1, 1},
		{15, 1024, 1025, 1030, 1025, 1024, 0.75, 1},
		{29, 1040, 1025, 1025, 1041, 1045, 1, 0},
		{56, 4099, 256, 300, 4099, 4099, 2, 1},
		{99, 1100, 1000, 1000, 1100, 1100, 0.5, 1},
		{112, 1056, 1024, 1024, 1056, 1056, 1, 0},
	} {
		if p.n*p.k < gemmTransposeMinB || sgemmTransposes(kern, false, false, p.beta, p.m, p.n, p.k, p.ldb) {
			t.Fatalf("%+v: not a product read in place", p)
		}
		a, b, bigC, c := b7Operands(p, uint64(i))
		bigW := slices.Clone(bigC)
		w := bigW[3 : 3+len(c)]
		ref := slices.Clone(c)
		Sgemm(false, false, p.m, p.n, p.k, p.alpha, a, p.lda, b, p.ldb, p.beta, c, p.ldc)
		sgemmTransposed(kern, false, p.m, p.n, p.k, p.alpha, a, p.lda, b, p.ldb, p.beta, w, p.ldc)
		SgemmRef(false, false, p.m, p.n, p.k, p.alpha, a, p.lda, b, p.ldb, p.beta, ref, p.ldc)
		b7Check(t, fmt.Sprintf("%+v", p), p, bigC, bigW, c, ref)
	}
}

// b7Check fails t unless the product p computed in place (C inside the
// guarded bigC, at offset 3) left the guards intact, has the bits of the
// transposed path's bigW and is within 1e-4*k of the reference ref.
func b7Check(t *testing.T, what string, p b7Product, bigC, bigW, c, ref []float32) {
	t.Helper()
	if j := g2Intact(bigC, p.m, p.n, p.ldc, 3); j >= 0 {
		t.Fatalf("%s: C's guard %d overwritten", what, j)
	}
	gemmCheckPaths(t, what+" C", c, "in place", bigW[3:3+len(c)], "transposed", ref, p.k)
}

// TestBreak7TransposeRule: which products sgemmTransposes still computes
// transposed, at the edges of the new rule: one block of rows (112) against
// two (113), a full panel (14 rows) against fewer (13, 1), B's stride a
// multiple of gemmAliasFloats (512, 1536, 4096) or not (1 KiB apart, 513,
// one float more), B transposed, beta neither 0 nor 1, B just under
// gemmTransposeMinB, A transposed; and kernels without a prefetching twin
// (the Go one in a purego build too) keep the old rule.
func TestBreak7TransposeRule(t *testing.T) {
	for _, k := range append(asmKernels(), &goKernel) {
		if k.pfb != nil {
			continue
		}
		_, mb := gemmBlocks(k, 64, Workers())
		_, nb := gemmBlocks(k, 6272, Workers())
		want := mb <= 2 && nb > 2
		if got := sgemmTransposes(k, false, false, 0, 64, 6272, 1024, 6272); got != want {
			t.Errorf("%s (no prefetching twin): 64 x 6272 x 1024 transposed %v, want %v", k.name, got, want)
		}
	}
	kern := b7Kernel(t)
	for _, c := range []struct {
		m, n, k, ldb   int
		transA, transB bool
		beta           float32
		want           bool
	}{
		{112, 6272, 1024, 6272, false, false, 0, false},
		{113, 6272, 1024, 6272, false, false, 0, true},
		{1, 6272, 1024, 6272, false, false, 1, true},
		{13, 6272, 1024, 6272, false, false, 0, true},
		{14, 6272, 1024, 6272, false, false, 0, false},
		{64, 1024, 1024, 1024, false, false, 0, true},
		{64, 1024, 1024, 1536, false, false, 1, true},
		{64, 4096, 1024, 4096, false, false, 0, true},
		{64, 4096, 1024, 4097, false, false, 0, false},
		{64, 1280, 1024, 1280, false, false, 0, false},
		{64, 1024, 1024, 1025, false, false, 0, false},
		{64, 6272, 1024, 1025, false, true, 0, true},
		{64, 6272, 1024, 1025, false, true, 1, true},
		{64, 6272, 1024, 6272, false, false, 0.5, false},
		{64, 6272, 1024, 6272, true, false, 0, false},
		{64, 1023, 1025, 1023, false, false, 0, false},
		{64, 1023, 1024, 1024, false, false, 0, false},
	} {
		if got := sgemmTransposes(kern, c.transA, c.transB, c.beta, c.m, c.n, c.k, c.ldb); got != c.want {
			t.Errorf("%+v: transposed %v, want %v", c, got, c.want)
		}
	}
}

// TestBreak7SgemmBiasInPlace: SgemmBias on products whose B is now read in
// place (its own ordinary path with the bias, no longer the transposed
// one) gives the bits of filling C with the bias and computing the product
// transposed with beta 1, as it did before, and the reference's values.
func TestBreak7SgemmBiasInPlace(t *testing.T) {
	kern := b7Kernel(t)
	for i, p := range []b7Product{
		{14, 1057, 1025, 1025, 1057, 1060, 1, 1},
		{64, 1100, 1000, 1003, 1100, 1100, 1, 1},
		{20, 2049, 513, 513, 2050, 2049, 1, 1},
	} {
		if sgemmTransposes(kern, false, false, 1, p.m, p.n, p.k, p.ldb) {
			t.Fatalf("%+v: not a product read in place", p)
		}
		a, b, bigC, c := b7Operands(p, uint64(100+i))
		bias := randSlice(rand.New(rand.NewPCG(7, uint64(i))), p.n)
		bigW := slices.Clone(bigC)
		w := bigW[3 : 3+len(c)]
		SgemmBias(false, false, p.m, p.n, p.k, a, p.lda, b, p.ldb, bias, c, p.ldc)
		gemmFillRows(w, p.ldc, bias, p.m)
		ref := slices.Clone(w)
		sgemmTransposed(kern, false, p.m, p.n, p.k, 1, a, p.lda, b, p.ldb, 1, w, p.ldc)
		SgemmRef(false, false, p.m, p.n, p.k, 1, a, p.lda, b, p.ldb, 1, ref, p.ldc)
		b7Check(t, fmt.Sprintf("SgemmBias %+v", p), p, bigC, bigW, c, ref)
	}
}

// TestBreak7Sgemm2InPlace: Sgemm2 runs as two products when n1 is not a
// multiple of the kernel's width or when C1 and C2 share memory; each of
// them may now read its B in place, and the results keep the bits of two
// products computed transposed in turn (C1's first).
func TestBreak7Sgemm2InPlace(t *testing.T) {
	kern := b7Kernel(t)
	const m, k = 20, 1030
	for _, s := range []struct {
		n1, n2   int
		overlap  bool // C2 starts inside C1
		b1, b2   float32
		ld1, ld2 int // B strides (C's are n + 2)
	}{
		{1057, 1100, false, 0, 1, 1057, 1103},
		{1024, 1056, true, 1, 0, 1030, 1056},
	} {
		r := rand.New(rand.NewPCG(27, uint64(s.n1)))
		a := randSlice(r, m*k)
		bb1 := randSlice(r, (k-1)*s.ld1+s.n1)
		bb2 := randSlice(r, (k-1)*s.ld2+s.n2)
		ldc1, ldc2 := s.n1+2, s.n2+2
		len1, len2 := (m-1)*ldc1+s.n1, (m-1)*ldc2+s.n2
		off2 := len1 + 5
		if s.overlap {
			off2 = len1 / 2
		}
		buf := randSlice(r, off2+len2+5)
		want := slices.Clone(buf)
		Sgemm2(false, false, m, s.n1, s.n2, k, a, k, bb1, s.ld1, s.b1, buf[:len1], ldc1, bb2, s.ld2, s.b2, buf[off2:off2+len2], ldc2)
		sgemmTransposed(kern, false, m, s.n1, k, 1, a, k, bb1, s.ld1, s.b1, want[:len1], ldc1)
		sgemmTransposed(kern, false, m, s.n2, k, 1, a, k, bb2, s.ld2, s.b2, want[off2:off2+len2], ldc2)
		sameBits(t, fmt.Sprintf("Sgemm2 %+v against two transposed products", s), buf, want)
	}
}

// TestBreak7BAtPageEnd: B (and C) ending exactly where an inaccessible page
// begins, for the prefetching kernel called alone (B in place, long
// stride: its prefetches run up to 32 rows past the page) and for products
// read in place whose last strip is full (n a multiple of 32) or partial:
// a load or store past the operands would fault; prefetches must not. The
// bits are those of the same call on ordinary memory (kernel) or of the
// transposed path (products).
func TestBreak7BAtPageEnd(t *testing.T) {
	kern := b7Kernel(t)
	r := rand.New(rand.NewPCG(7, 7))
	mr, nr := kern.mr, kern.nr
	for _, k := range []int{1, 5, 40, 512} {
		const ldb = 6275
		a := randSlice(r, k*mr)
		b := randSlice(r, (k-1)*ldb+nr)
		pb, free := b3PageEnd(t, b)
		c1 := randSlice(r, mr*nr)
		pc, freeC := b3PageEnd(t, c1)
		kern.pfb(k, &a[0], &pb[0], ldb, &pc[0], nr, 0.75, 1)
		kern.fn(k, &a[0], &b[0], ldb, &c1[0], nr, 0.75, 1)
		sameBits(t, fmt.Sprintf("%s prefetching B at a page's end, k=%d", kern.name, k), pc, c1)
		free()
		freeC()
	}
	for _, p := range []b7Product{
		{14, 1056, 1000, 1000, 1056, 1056, 1, 0},
		{15, 1057, 1000, 1000, 1057, 1057, 1, 1},
	} {
		if sgemmTransposes(kern, false, false, p.beta, p.m, p.n, p.k, p.ldb) {
			t.Fatalf("%+v: not a product read in place", p)
		}
		a, b, _, c := b7Operands(p, 9)
		if p.beta == 0 {
			clear(c)
		}
		pb, free := b3PageEnd(t, b)
		pc, freeC := b3PageEnd(t, c)
		Sgemm(false, false, p.m, p.n, p.k, p.alpha, a, p.lda, pb, p.ldb, p.beta, pc, p.ldc)
		sgemmTransposed(kern, false, p.m, p.n, p.k, p.alpha, a, p.lda, b, p.ldb, p.beta, c, p.ldc)
		sameBits(t, fmt.Sprintf("%+v with B and C at a page's end", p), pc, c)
		free()
		freeC()
	}
}
