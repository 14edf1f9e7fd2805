package kernels

import (
	"math"
	"testing"
	"time"
)

// TestPeakGFlops checks that the peak is a positive, finite rate, that a
// zero duration still times one round, and that a large product through
// Sgemm, which runs the same micro-kernel plus its packing, does not pass
// it by more than the host's noise could explain.
func TestPeakGFlops(t *testing.T) {
	if p := PeakGFlops(0); !(p > 0) || math.IsInf(p, 0) {
		t.Fatalf("PeakGFlops(0) = %v", p)
	}
	// No core does more than 2 FMA units x 16 lanes x 2 operations at
	// 6.25 GHz: a peak above that timed calls it did not wait for.
	if p, most := PeakGFlops(0), 400*float64(Workers()); p > most {
		t.Fatalf("PeakGFlops(0) = %.0f GFLOP/s on %d cores, above any CPU's %.0f", p, Workers(), most)
	}
	peak := 0.0 // the best of three, for a host whose other jobs take a core now and then
	for range 3 {
		peak = max(peak, PeakGFlops(20*time.Millisecond))
	}
	const n = 384
	a, b, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for i := range a {
		a[i], b[i] = float32(i%9)/8, float32(i%11)/16
	}
	best := math.Inf(1)
	for range 5 {
		t0 := time.Now()
		Sgemm(false, false, n, n, n, 1, a, n, b, n, 0, c, n)
		best = min(best, time.Since(t0).Seconds())
	}
	// Sgemm reaches 85-95% of the peak here; half the peak's operations
	// counted (one core's, say) would put it far above.
	if rate := 2 * n * n * n / best / 1e9; rate > 1.5*peak {
		t.Errorf("Sgemm %dx%dx%d at %.0f GFLOP/s, above 1.5 times the peak %.0f", n, n, n, rate, peak)
	}
}
