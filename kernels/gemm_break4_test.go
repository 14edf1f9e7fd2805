//go:build unix

// The pool tests read the process's CPU time with getrusage.

package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const break4Guard = float32(-12345.5)

func break4Bits(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// TestBreak4RowOrderEdges: row order vs gemmRowOrderMaxK = 0, bit for bit,
// on edge shapes around mr, nr, k = 128/129, several B slabs, a huge ldc
// whose padding must stay untouched, alpha != 1, beta 0/1/0.5/-2/NaN/Inf,
// and C holding NaN/Inf before the product.
func TestBreak4RowOrderEdges(t *testing.T) {
	defer func(v int) { gemmRowOrderMaxK = v }(gemmRowOrderMaxK)
	r := rand.New(rand.NewPCG(4, 4))
	kerns := append(asmKernels(), &goKernel)
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	for _, kern := range kerns {
		mr, nr := kern.mr, kern.nr
		type shape struct{ m, n, k int }
		shapes := []shape{
			{1, 1, 1}, {mr - 1, nr - 1, 128}, {mr + 1, nr + 1, 129}, {mr, nr, 128},
			{3*kern.mc + 1, nr + 1, 127}, {2*mr + 1, 2*kern.nc + nr + 3, 7},
			{kern.mc + mr - 1, 3*nr - 1, 128}, {5, 4100, 64}, {400, 3, 2},
		}
		for _, s := range shapes {
			if s.m < 1 || s.n < 1 {
				continue
			}
			for _, tr := range [][2]bool{{false, true}, {true, true}, {false, false}, {true, false}} {
				lda, ldb := s.k+3, s.n+5
				if tr[0] {
					lda = s.m + 1
				}
				if tr[1] {
					ldb = s.k + 7
				}
				ldc := s.n + 1000 // huge ldc: padding must stay guarded
				a := randSlice(r, max(s.m, s.k)*lda)
				b := randSlice(r, max(s.k, s.n)*ldb)
				c0 := make([]float32, s.m*ldc+64)
				for i := range c0 {
					c0[i] = break4Guard
				}
				for i := 0; i < s.m; i++ {
					for j := 0; j < s.n; j++ {
						v := r.Float32()*2 - 1
						switch (i*7 + j) % 97 {
						case 3:
							v = nan
						case 5:
							v = inf
						case 8:
							v = -inf
						}
						c0[i*ldc+j] = v
					}
				}
				for _, ab := range [][2]float32{{1, 0}, {1, 1}, {-0.3, 0.5}, {1, -2}, {-0.3, nan}, {1, inf}, {-0.3, 0}} {
					{
						alpha, beta := ab[0], ab[1]
						rows, cols := slices.Clone(c0), slices.Clone(c0)
						gemmRowOrderMaxK = 128
						sgemmOrdinary(kern, tr[0], tr[1], s.m, s.n, s.k, alpha, a, lda, b, ldb, beta, rows, ldc)
						gemmRowOrderMaxK = 0
						sgemmOrdinary(kern, tr[0], tr[1], s.m, s.n, s.k, alpha, a, lda, b, ldb, beta, cols, ldc)
						if i := break4Bits(rows, cols); i >= 0 {
							t.Fatalf("%s %+v tr=%v alpha=%v beta=%v: C[%d] row order %v (%08x), column order %v (%08x)",
								kern.name, s, tr, alpha, beta, i, rows[i], math.Float32bits(rows[i]), cols[i], math.Float32bits(cols[i]))
						}
						for i := 0; i < s.m; i++ {
							for j := s.n; j < ldc && i*ldc+j < len(rows); j++ {
								if rows[i*ldc+j] != break4Guard {
									t.Fatalf("%s %+v: wrote C padding at row %d col %d", kern.name, s, i, j)
								}
							}
						}
						for _, v := range rows[s.m*ldc:] {
							if v != break4Guard {
								t.Fatalf("%s %+v: wrote past C", kern.name, s)
							}
						}
						// Finite operands, beta 0: the product must be finite.
						if beta == 0 {
							for i := 0; i < s.m; i++ {
								for j := 0; j < s.n; j++ {
									if v := rows[i*ldc+j]; math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
										t.Fatalf("%s %+v tr=%v beta=0: C[%d,%d]=%v leaked from old C", kern.name, s, tr, i, j, v)
									}
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestBreak4RowOrderTaken checks the row order is actually in effect on a
// case with several A blocks (so the edge test exercises it).
func TestBreak4RowOrderTaken(t *testing.T) {
	for _, kern := range append(asmKernels(), &goKernel) {
		x := &gemmCtx{kern: kern, m: 3*kern.mc + 1, n: kern.nr + 1, k: 128}
		x.setup()
		if !x.rowOrder {
			t.Fatalf("%s: row order not taken", kern.name)
		}
		x = &gemmCtx{kern: kern, m: 3*kern.mc + 1, n: kern.nr + 1, k: 129}
		x.setup()
		if x.rowOrder {
			t.Fatalf("%s: row order taken at k=129", kern.name)
		}
	}
}

// TestBreak4PublicSgemmRowOrder: the public Sgemm (which may go through
// sgemmTransposed and transposeJob.transpose) with row order on and off, bit
// for bit, including the transposed path with beta 1 and C guard padding.
func TestBreak4PublicSgemmRowOrder(t *testing.T) {
	defer func(v int) { gemmRowOrderMaxK = v }(gemmRowOrderMaxK)
	r := rand.New(rand.NewPCG(7, 8))
	for _, s := range []struct{ m, n, k int }{
		{64, 6272, 128},  // k*n >= 1<<20: transposed path, from 64K values
		{17, 16400, 64},  // transposed, odd m
		{100, 9000, 129}, // k just above the row order's
		{1024, 300, 64},
	} {
		for _, beta := range []float32{0, 1} {
			lda, ldb, ldc := s.k+1, s.n+3, s.n+37
			a := randSlice(r, s.m*lda)
			b := randSlice(r, s.k*ldb)
			c0 := randSlice(r, s.m*ldc+16)
			for i := 0; i < s.m; i++ {
				for j := s.n; j < ldc; j++ {
					c0[i*ldc+j] = break4Guard
				}
			}
			for i := s.m * ldc; i < len(c0); i++ {
				c0[i] = break4Guard
			}
			on, off, ord := slices.Clone(c0), slices.Clone(c0), slices.Clone(c0)
			gemmRowOrderMaxK = 128
			Sgemm(false, false, s.m, s.n, s.k, 1, a, lda, b, ldb, beta, on, ldc)
			gemmRowOrderMaxK = 0
			Sgemm(false, false, s.m, s.n, s.k, 1, a, lda, b, ldb, beta, off, ldc)
			if i := break4Bits(on, off); i >= 0 {
				t.Fatalf("%+v beta=%v: C[%d] %v vs %v", s, beta, i, on[i], off[i])
			}
			kern := defaultKernel
			sgemmOrdinary(kern, false, false, s.m, s.n, s.k, 1, a, lda, b, ldb, beta, ord, ldc)
			if i := break4Bits(on, ord); i >= 0 {
				t.Fatalf("%+v beta=%v: transposed vs ordinary C[%d] %v vs %v", s, beta, i, on[i], ord[i])
			}
			for i := 0; i < s.m; i++ {
				for j := s.n; j < ldc; j++ {
					if on[i*ldc+j] != break4Guard {
						t.Fatalf("%+v: padding written at %d,%d", s, i, j)
					}
				}
			}
		}
	}
}

// TestBreak4TransposeParallel: transposeJob.transpose against gemmTranspose
// around the 64K threshold, odd cols, strides larger than needed, guard
// values all around dst.
func TestBreak4TransposeParallel(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, s := range []struct{ rows, cols, padD, padS int }{
		{256, 255, 0, 0},   // 65280 < 64K
		{256, 256, 0, 0},   // exactly 64K
		{257, 255, 3, 1},   // 65535
		{65537, 1, 0, 5},   // one column, one block
		{1, 65537, 7, 0},   // one row
		{4097, 17, 1, 2},   // two blocks, second 1 wide
		{300, 1000, 29, 3}, // many blocks
		{6272, 64, 0, 0},   // the fc layer's
		{64, 6272, 5, 5},
		{100, 700, 0, 0},
	} {
		ldd, lds := s.cols+s.padD, s.rows+s.padS
		src := randSlice(r, s.cols*lds)
		const pre, post = 37, 41
		buf := make([]float32, pre+s.rows*ldd+post)
		for i := range buf {
			buf[i] = break4Guard
		}
		want := slices.Clone(buf)
		var tj transposeJob
		tj.transpose(buf[pre:pre+(s.rows-1)*ldd+s.cols], ldd, src, lds, s.rows, s.cols)
		gemmTranspose(want[pre:pre+(s.rows-1)*ldd+s.cols], ldd, src, lds, s.rows, s.cols)
		if i := break4Bits(buf, want); i >= 0 {
			t.Fatalf("%+v: buf[%d] = %v, want %v", s, i, buf[i], want[i])
		}
		for i := 0; i < s.rows; i++ {
			for j := 0; j < s.cols; j++ {
				if buf[pre+i*ldd+j] != src[j*lds+i] {
					t.Fatalf("%+v: dst[%d,%d] wrong", s, i, j)
				}
			}
		}
	}
}

// TestBreak4TransposeParallelConcurrent: many goroutines transposing at
// once through the pool, each with its own job (as each pooled gemmCtx
// has) and buffers; one job reused for every iteration.
func TestBreak4TransposeParallelConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 12; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			rows, cols := 300+g, 250+3*g
			src := randSlice(r, rows*cols)
			var tj transposeJob
			for it := 0; it < 10; it++ {
				dst := make([]float32, rows*cols)
				tj.transpose(dst, cols, src, rows, rows, cols)
				for i := 0; i < rows; i++ {
					for j := 0; j < cols; j++ {
						if dst[i*cols+j] != src[j*rows+i] {
							errs <- fmt.Sprintf("g=%d it=%d: [%d,%d]", g, it, i, j)
							return
						}
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// TestBreak4NestedAndConcurrent: ParallelFor bodies calling ParallelFor and
// Sgemm, from several goroutines at once, against serial results.
func TestBreak4NestedAndConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const m, n, k = 130, 170, 100 // m*n*k >= 1<<21; parallel inside when >= 1<<22
	const m2, n2, k2 = 200, 300, 90
	a, b := randSlice(r, m2*k2), randSlice(r, k2*n2)
	want := make([]float32, m2*n2)
	SgemmRef(false, false, m2, n2, k2, 1, a, k2, b, n2, 0, want, n2)
	var wg sync.WaitGroup
	var bad atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs := make([][]float32, 6)
			for i := range outs {
				outs[i] = make([]float32, m2*n2)
			}
			ParallelFor(len(outs), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					Sgemm(false, false, m2, n2, k2, 1, a, k2, b, n2, 0, outs[i], n2)
					var cnt atomic.Int64
					ParallelFor(1000, func(lo, hi int) { cnt.Add(int64(hi - lo)) })
					if cnt.Load() != 1000 {
						bad.Add(1)
					}
				}
			})
			for _, o := range outs {
				for i := range o {
					if d := math.Abs(float64(o[i] - want[i])); d > 1e-3 {
						bad.Add(1)
						return
					}
				}
			}
			// Bit-identity between the nested results.
			for _, o := range outs[1:] {
				if break4Bits(o, outs[0]) >= 0 {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d bad results", bad.Load())
	}
	_ = m * n * k
}

// TestBreak4ConcurrentSgemmRace: short, for -race: goroutines calling Sgemm
// (row-order and transposed sizes) at once.
func TestBreak4ConcurrentSgemmRace(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	type sz struct{ m, n, k int }
	sizes := []sz{{64, 2048, 64}, {300, 200, 100}, {8, 140000, 8}}
	var wg sync.WaitGroup
	var bad atomic.Int64
	for g := 0; g < 6; g++ {
		s := sizes[g%len(sizes)]
		a, b := randSlice(r, s.m*s.k), randSlice(r, s.k*s.n)
		want := make([]float32, s.m*s.n)
		sgemmOrdinary(defaultKernel, false, false, s.m, s.n, s.k, 1, a, s.k, b, s.n, 0, want, s.n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := make([]float32, s.m*s.n)
			for it := 0; it < 2; it++ {
				Sgemm(false, false, s.m, s.n, s.k, 1, a, s.k, b, s.n, 0, c, s.n)
				if break4Bits(c, want) >= 0 {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d bad", bad.Load())
	}
}

// TestBreak4OtherGoroutineProgress: a goroutine with CPU work of its own
// (and one waiting on a channel/timer) completes while the caller issues
// back-to-back small ParallelFor regions and workers poll.
func TestBreak4OtherGoroutineProgress(t *testing.T) {
	Workers()
	stop := make(chan struct{})
	spun := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				spun <- n
				return
			default:
			}
			ParallelFor(64, func(lo, hi int) {
				s := 0
				for i := lo; i < hi; i++ {
					s += i
				}
				_ = s
			})
			n++
		}
	}()
	done := make(chan time.Duration)
	go func() {
		t0 := time.Now()
		x := 0.0
		for i := 0; i < 20_000_000; i++ {
			x += math.Sqrt(float64(i))
		}
		if x < 0 {
			panic("x")
		}
		time.Sleep(5 * time.Millisecond)
		done <- time.Since(t0)
	}()
	select {
	case d := <-done:
		close(stop)
		n := <-spun
		t.Logf("worker goroutine finished in %v while %d regions ran", d, n)
	case <-time.After(4 * time.Second):
		close(stop)
		<-spun
		t.Fatal("other goroutine starved by polling pool")
	}
}

// TestBreak4PoolParks: once regions stop, the polling workers and callers
// park: the process uses little CPU while idle.
func TestBreak4PoolParks(t *testing.T) {
	for i := 0; i < 200; i++ {
		ParallelFor(64, func(lo, hi int) {})
	}
	time.Sleep(20 * time.Millisecond) // > poolSpin, callerSpin
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	time.Sleep(200 * time.Millisecond)
	syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu := time.Duration(r1.Utime.Nano()+r1.Stime.Nano()-r0.Utime.Nano()-r0.Stime.Nano()) * time.Nanosecond
	t.Logf("idle CPU over 200ms: %v", cpu)
	if cpu > 60*time.Millisecond {
		t.Fatalf("pool burns %v of CPU over 200 ms idle", cpu)
	}
}

// TestBreak4SlowChunks: regions whose chunks outlast callerSpin, back to
// back, each complete (every call done before ParallelFor returns) and
// none hangs; the caller, waiting ~100 ms for a worker's chunk, parks
// instead of polling the whole time (little CPU used).
func TestBreak4SlowChunks(t *testing.T) {
	if Workers() < 2 {
		t.Skip("one participant")
	}
	done := make(chan string, 1)
	go func() {
		for it := 0; it < 30; it++ {
			var calls atomic.Int64
			ParallelFor(8, func(lo, hi int) {
				time.Sleep(3 * time.Millisecond)
				calls.Add(1)
			})
			if c := calls.Load(); c != int64(min(8, 4*Workers())) {
				done <- fmt.Sprintf("iteration %d: %d calls done at return", it, c)
				return
			}
		}
		done <- ""
	}()
	select {
	case msg := <-done:
		if msg != "" {
			t.Fatal(msg)
		}
	case <-time.After(4 * time.Second):
		t.Fatal("slow-chunk regions hung")
	}
	// CPU while the caller waits for a sleeping chunk on a worker.
	var worst time.Duration
	measured := 0
	for it := 0; it < 20 && measured < 3; it++ {
		var first atomic.Bool
		var slept atomic.Bool
		var r0, r1 syscall.Rusage
		time.Sleep(5 * time.Millisecond)
		syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
		me := break4Gid()
		ParallelFor(2, func(lo, hi int) {
			if break4Gid() == me {
				time.Sleep(2 * time.Millisecond) // leave the other chunk to a worker
				return
			}
			if !first.CompareAndSwap(false, true) {
				return // only a worker's chunk sleeps
			}
			slept.Store(true)
			time.Sleep(100 * time.Millisecond)
		})
		syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
		if !slept.Load() {
			continue
		}
		measured++
		cpu := time.Duration(r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano())
		worst = max(worst, cpu)
	}
	t.Logf("CPU during a 100 ms wait: worst %v over %d", worst, measured)
	if worst > 50*time.Millisecond {
		t.Fatalf("caller/worker polled through a 100 ms wait: %v CPU", worst)
	}
}

func break4Gid() int {
	var b [64]byte
	f := strings.Fields(string(b[:runtime.Stack(b[:], false)]))
	id, _ := strconv.Atoi(f[1])
	return id
}
