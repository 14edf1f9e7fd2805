package kernels

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// pfbKernels returns the micro-kernels with a B-prefetching twin, or skips
// t when this CPU or build has none.
func pfbKernels(t *testing.T) []*microKernel {
	return asmKernelsWhere(t, func(k *microKernel) bool { return k.pfb != nil }, "prefetches B")
}

// TestPFBKernelBits calls the B-prefetching kernel itself against the
// plain one on the same operands: k from 1 to 9 (the unrolled loop and
// its tail) and deeper ones, B read in place with a long row stride (the
// prefetches run past B's end, which must be harmless) and packed, beta
// 0, 1 and -0.5, C surrounded by guards. Same bits, nothing written past
// the tile.
func TestPFBKernelBits(t *testing.T) {
	for _, kern := range pfbKernels(t) {
		r := rand.New(rand.NewPCG(57, 2))
		mr, nr := kern.mr, kern.nr
		for _, k := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 33, 130, 512} {
			for _, ldb := range []int{nr, 6272 + 3} {
				for _, beta := range []float32{0, 1, -0.5} {
					a := randSlice(r, k*mr)
					_, b := g2Matrix(k, nr, ldb, 0, func(int, int) float32 { return r.Float32()*2 - 1 })
					ldc := nr + 3
					bigP, cp := g2Matrix(mr, nr, ldc, 5, func(int, int) float32 { return r.Float32() })
					bigF := slices.Clone(bigP)
					cf := bigF[5 : 5+len(cp)]
					kern.pfb(k, &a[0], &b[0], ldb, &cp[0], ldc, 0.75, beta)
					kern.fn(k, &a[0], &b[0], ldb, &cf[0], ldc, 0.75, beta)
					what := fmt.Sprintf("%s prefetching B: k=%d ldb=%d beta=%v", kern.name, k, ldb, beta)
					if i := g2Intact(bigP, mr, nr, ldc, 5); i >= 0 {
						t.Fatalf("%s: guard %d overwritten", what, i)
					}
					sameBits(t, what, bigP, bigF)
				}
			}
		}
	}
}

// TestSgemmInPlaceB: the products sgemm no longer transposes because B is
// row-major, read in place and prefetched (one block of A's rows, the
// kernel has a prefetching twin) have the bits of the transposed path
// (sgemmTransposed, which they took before) and are within 1e-4*k of the
// float64 reference: the fc input gradient's shape at batch 64 and odd
// ones, beta 0 and 1. Products with B transposed, two blocks of rows or
// fewer rows than a panel are still transposed, and so are those whose B
// rows lie a multiple of gemmAliasFloats apart.
func TestSgemmInPlaceB(t *testing.T) {
	kern := pfbKernels(t)[0]
	if defaultKernel != kern {
		t.Skipf("the default kernel is %s", defaultKernel.name)
	}
	_, one := gemmBlocks(kern, 112, Workers())
	if one != 1 {
		t.Fatalf("112 rows make %d blocks", one)
	}
	for _, c := range []struct {
		m, n, k, ldb int
		transB       bool
		want         bool // transposed
	}{
		{64, 6272, 1024, 6272, false, false},
		{64, 6272, 1024, 6272, true, true},
		{150, 6272, 1024, 6272, false, true},
		{64, 4096, 1024, 4096, false, true}, // rows 16 KiB apart
		{64, 4096, 1024, 4100, false, false},
		{64, 1536, 1024, 1536, false, true}, // rows 6 KiB apart
		{13, 6272, 1024, 6272, false, true}, // fewer rows than a panel
	} {
		if got := sgemmTransposes(kern, false, c.transB, 0, c.m, c.n, c.k, c.ldb); got != c.want {
			t.Errorf("%+v: transposed %v, want %v", c, got, c.want)
		}
	}
	r := rand.New(rand.NewPCG(57, 3))
	for _, p := range []struct {
		m, n, k int
		beta    float32
	}{
		{64, 6272, 1024, 0},
		{61, 3001, 707, 1},
		{14, 1100, 1000, 0},
		{112, 2049, 513, 1},
		{15, 1031, 1027, 0},
	} {
		if p.n*p.k < gemmTransposeMinB || sgemmTransposes(kern, false, false, p.beta, p.m, p.n, p.k, p.n+7) {
			t.Fatalf("%+v: not a product read in place", p)
		}
		lda, ldb, ldc := p.k+3, p.n+7, p.n+2
		a := randSlice(r, (p.m-1)*lda+p.k)
		b := randSlice(r, (p.k-1)*ldb+p.n)
		c0 := randSlice(r, (p.m-1)*ldc+p.n)
		got, was, ref := slices.Clone(c0), slices.Clone(c0), slices.Clone(c0)
		Sgemm(false, false, p.m, p.n, p.k, 0.75, a, lda, b, ldb, p.beta, got, ldc)
		sgemmTransposed(kern, false, p.m, p.n, p.k, 0.75, a, lda, b, ldb, p.beta, was, ldc)
		SgemmRef(false, false, p.m, p.n, p.k, 0.75, a, lda, b, ldb, p.beta, ref, ldc)
		gemmCheckPaths(t, fmt.Sprintf("%+v C", p), got, "in place", was, "transposed", ref, p.k)
	}
}
