package kernels

import (
	"fmt"
	"math"
	"math/rand"
	"sync"
	"testing"
)

const b5Guard = float32(-12345.5)

func b5Rand(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

func b5Bits(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

type b5Shape struct {
	transA, transB     bool
	m, n1, n2, k       int
	beta1, beta2       float32
	padC1, padC2, padB int
}

// b5Run runs Sgemm2 and two Sgemm calls on identical copies (C padded with
// guard columns and a guard tail) and reports the first difference.
func b5Run(r *rand.Rand, s b5Shape, cInit float32) string {
	lda := s.k
	arows := s.m
	if s.transA {
		lda, arows = s.m, s.k
	}
	lda += 3
	a := b5Rand(r, arows*lda)
	mkB := func(n int) ([]float32, int) {
		if s.transB {
			return b5Rand(r, n*(s.k+s.padB)), s.k + s.padB
		}
		return b5Rand(r, s.k*(n+s.padB)), n + s.padB
	}
	b1, ldb1 := mkB(s.n1)
	b2, ldb2 := mkB(s.n2)
	ldc1, ldc2 := s.n1+s.padC1, s.n2+s.padC2
	mkC := func(n, ldc int) []float32 {
		c := make([]float32, s.m*ldc+17)
		for i := range c {
			c[i] = b5Guard
		}
		for i := 0; i < s.m; i++ {
			for j := 0; j < n; j++ {
				if math.IsNaN(float64(cInit)) || math.IsInf(float64(cInit), 0) {
					c[i*ldc+j] = cInit
				} else {
					c[i*ldc+j] = r.Float32()*2 - 1
				}
			}
		}
		return c
	}
	c1, c2 := mkC(s.n1, ldc1), mkC(s.n2, ldc2)
	r1, r2 := append([]float32(nil), c1...), append([]float32(nil), c2...)
	Sgemm(s.transA, s.transB, s.m, s.n1, s.k, 1, a, lda, b1, ldb1, s.beta1, r1, ldc1)
	Sgemm(s.transA, s.transB, s.m, s.n2, s.k, 1, a, lda, b2, ldb2, s.beta2, r2, ldc2)
	Sgemm2(s.transA, s.transB, s.m, s.n1, s.n2, s.k, a, lda, b1, ldb1, s.beta1, c1, ldc1, b2, ldb2, s.beta2, c2, ldc2)
	if i := b5Bits(c1, r1); i >= 0 {
		return fmt.Sprintf("C1[%d] = %v, two Sgemm calls give %v", i, c1[i], r1[i])
	}
	if i := b5Bits(c2, r2); i >= 0 {
		return fmt.Sprintf("C2[%d] = %v, two Sgemm calls give %v", i, c2[i], r2[i])
	}
	return ""
}

// TestSgemm2Break5Shapes: n1 at 32/64 (one product) and not, n2 = 1,
// k around the row-order bound (128) and kc (512), m around mr (14),
// padded strides with guard values in the padding and past the end.
func TestSgemm2Break5Shapes(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	n := 0
	for _, m := range []int{1, 13, 14, 15, 29} {
		for _, n1 := range []int{32, 64, 33, 4} {
			for _, n2 := range []int{1, 31, 32, 45} {
				for _, k := range []int{1, 127, 128, 129, 513} {
					for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
						s := b5Shape{transA: tr[0], transB: tr[1], m: m, n1: n1, n2: n2, k: k,
							beta1: []float32{0, 1, 0.5}[n%3], beta2: []float32{1, 0, -2}[n%3], padC1: n % 3, padC2: 5 - n%3, padB: n % 2}
						n++
						if d := b5Run(r, s, 0); d != "" {
							t.Fatalf("%+v: %s", s, d)
						}
					}
				}
			}
		}
	}
}

// TestSgemm2Break5Big: parallel products, several k blocks, n2 over
// several 2048-column slabs, k = 5000.
func TestSgemm2Break5Big(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	for _, s := range []b5Shape{
		{m: 40, n1: 64, n2: 4500, k: 70, beta1: 0, beta2: 1, padC2: 3},
		{m: 200, n1: 2048, n2: 2100, k: 20, beta1: 1, beta2: 0},
		{transA: true, m: 130, n1: 96, n2: 300, k: 1100, beta1: 0, beta2: 0, padC1: 1},
		{m: 33, n1: 32, n2: 65, k: 5000, beta1: 1, beta2: 0.25},
		{transB: true, m: 300, n1: 512, n2: 128, k: 600, beta1: 0, beta2: 1},
		{m: 3136 / 4, n1: 512, n2: 128, k: 512, beta1: 0, beta2: 0},
		{transA: true, m: 512, n1: 512, n2: 128, k: 784, beta1: 1, beta2: 1},
	} {
		if d := b5Run(r, s, 0); d != "" {
			t.Errorf("%+v: %s", s, d)
		}
	}
}

// TestSgemm2Break5Beta: beta 0 ignores NaN/Inf in C, another beta carries
// them, exactly as two Sgemm calls do.
func TestSgemm2Break5Beta(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	for _, ci := range []float32{nan, inf} {
		for _, bb := range [][2]float32{{0, 0}, {0, 1}, {1, 0}, {2, 0}, {0, nan}, {inf, 0}} {
			for _, k := range []int{5, 600} {
				s := b5Shape{m: 15, n1: 64, n2: 40, k: k, beta1: bb[0], beta2: bb[1], padC1: 2, padC2: 1}
				if d := b5Run(r, s, ci); d != "" {
					t.Errorf("C %v %+v: %s", ci, s, d)
				}
			}
		}
	}
}

// TestSgemm2Break5NoLeak: a plain Sgemm right after Sgemm2 (same
// goroutine, so the same pooled context) is unaffected: its n is below
// and above the earlier n1, its C shorter than the earlier C2 region.
func TestSgemm2Break5NoLeak(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	for i := 0; i < 20; i++ {
		m, k := 20+i, 50+17*i
		a := b5Rand(r, m*k)
		b1, b2 := b5Rand(r, k*32), b5Rand(r, k*64)
		c1, c2 := make([]float32, m*32), make([]float32, m*64)
		ns := []int{40, 96, 16, 200}
		bs, biases, refs, refbs := [][]float32{}, [][]float32{}, [][]float32{}, [][]float32{}
		for _, n := range ns { // references from a context no Sgemm2 has touched yet
			b, bias := b5Rand(r, k*n), b5Rand(r, n)
			ref, refb := make([]float32, m*n), make([]float32, m*n)
			Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, ref, n)
			SgemmBias(false, false, m, n, k, a, k, b, n, bias, refb, n)
			bs, biases, refs, refbs = append(bs, b), append(biases, bias), append(refs, ref), append(refbs, refb)
		}
		Sgemm2(false, false, m, 32, 64, k, a, k, b1, 32, 0, c1, 32, b2, 64, 0, c2, 64)
		for q, n := range ns {
			c, cb := make([]float32, m*n), make([]float32, m*n)
			Sgemm(false, false, m, n, k, 1, a, k, bs[q], n, 0, c, n)
			if j := b5Bits(c, refs[q]); j >= 0 {
				t.Fatalf("Sgemm after Sgemm2 n=%d: c[%d] %v, want %v", n, j, c[j], refs[q][j])
			}
			SgemmBias(false, false, m, n, k, a, k, bs[q], n, biases[q], cb, n)
			if j := b5Bits(cb, refbs[q]); j >= 0 {
				t.Fatalf("SgemmBias after Sgemm2 n=%d: c[%d] %v, want %v", n, j, cb[j], refbs[q][j])
			}
		}
	}
}

// TestSgemm2Break5Concurrent: goroutines calling Sgemm2 and Sgemm at once
// (run with -race on its own).
func TestSgemm2Break5Concurrent(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(100 + g)))
			for i := 0; i < 8; i++ {
				s := b5Shape{m: 14 + g + i, n1: 32 * (1 + (g+i)%3), n2: 7 + 13*i, k: 60 + 97*((g+i)%7), beta1: 0, beta2: 1}
				if g%2 == 1 {
					s.transA = true
				}
				if d := b5Run(r, s, 0); d != "" {
					errs <- fmt.Sprintf("%+v: %s", s, d)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestSgemm2Break5Aliased: C1 and C2 the same buffer (n1 == n2), as
// LinearSum's backward passes when x1 == x2 or w1 == w2, against the two
// Sgemm calls in sequence.
func TestSgemm2Break5Aliased(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	for _, s := range []struct{ m, n, k int }{{20, 64, 100}, {20, 64, 600}, {300, 64, 600}} {
		a := b5Rand(r, s.m*s.k)
		b1, b2 := b5Rand(r, s.k*s.n), b5Rand(r, s.k*s.n)
		c := make([]float32, s.m*s.n)
		ref := make([]float32, s.m*s.n)
		Sgemm(false, false, s.m, s.n, s.k, 1, a, s.k, b1, s.n, 0, ref, s.n)
		Sgemm(false, false, s.m, s.n, s.k, 1, a, s.k, b2, s.n, 1, ref, s.n)
		Sgemm2(false, false, s.m, s.n, s.n, s.k, a, s.k, b1, s.n, 0, c, s.n, b2, s.n, 1, c, s.n)
		if j := b5Bits(c, ref); j >= 0 {
			t.Errorf("%+v: aliased C1 == C2: c[%d] = %v, two calls give %v", s, j, c[j], ref[j])
		}
	}
}
