package kernels

import (
	"sync"
	"time"
)

// peakDepth is the depth k of the micro-kernel calls PeakGFlops times: the
// panels (mr x k and k x nr floats, 7 and 16 KiB on AVX-512) stay in each
// core's L1, so the products run at the arithmetic rate alone.
const peakDepth = 128

// peakCalls is the number of micro-kernel calls each goroutine makes in one
// round of PeakGFlops (as in BenchmarkMicroKernelPeak).
const peakCalls = 1 << 12

// peakPanel is one goroutine's in-cache operands for PeakGFlops: an A
// micro-panel, a B micro-panel and a C tile.
type peakPanel struct{ a, bp, c []float32 }

// newPeakPanels returns n goroutines' operands for kernel mk, filled with
// small exact values (the micro-kernel's speed does not depend on them).
func newPeakPanels(mk *microKernel, n int) []peakPanel {
	ps := make([]peakPanel, n)
	for i := range ps {
		ps[i] = peakPanel{make([]float32, mk.mr*peakDepth), make([]float32, peakDepth*mk.nr), make([]float32, mk.mr*mk.nr)}
		for j := range ps[i].a {
			ps[i].a[j] = float32(j%7) * 0.125
		}
		for j := range ps[i].bp {
			ps[i].bp[j] = float32(j%5) * 0.25
		}
	}
	return ps
}

// peakRound runs calls micro-kernel calls on each panel, one goroutine per
// panel, and returns when all are done.
func peakRound(mk *microKernel, ps []peakPanel, calls int) {
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() {
			for j := 0; j < calls; j++ {
				mk.fn(peakDepth, &p.a[0], &p.bp[0], mk.nr, &p.c[0], mk.nr, 1, 0)
			}
		})
	}
	wg.Wait()
}

// PeakGFlops measures the machine's arithmetic peak as this package
// reaches it: the GEMM micro-kernel (the inner loop of Sgemm, Conv2d and
// every product here) run on in-cache panels by Workers() goroutines at
// once, in rounds of a few milliseconds for about d (at least one round),
// in GFLOP/s (10^9 floating-point operations a second, a multiply-add
// counting 2). It returns the best round's rate: another job's burst on a
// shared host slows the rounds it overlaps, not the best one (one 0.3 s
// average once measured 98 GFLOP/s among others of 140-260, session 17).
// It is the rate a product can approach but not pass, so a step's GFLOP/s
// over it is the share of the machine the step uses; on a shared host it
// still moves with the other jobs' load over minutes, so compare it with
// timings taken in the same minute (dim bench --peak does; decision #56).
// BenchmarkMicroKernelPeak times the same calls.
func PeakGFlops(d time.Duration) float64 {
	mk := defaultKernel
	ps := newPeakPanels(mk, Workers())
	flops := 2 * float64(mk.mr*mk.nr*peakDepth) * peakCalls * float64(len(ps))
	return peakBest(d, func() float64 {
		t0 := time.Now()
		peakRound(mk, ps, peakCalls)
		return flops / time.Since(t0).Seconds() / 1e9
	})
}

// peakBest runs round, which returns one round's GFLOP/s, until d has
// passed (at least once) and returns the highest rate it gave.
func peakBest(d time.Duration, round func() float64) float64 {
	start := time.Now()
	best := round()
	for time.Since(start) < d {
		best = max(best, round())
	}
	return best
}
