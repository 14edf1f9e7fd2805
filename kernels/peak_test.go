package kernels

import (
	"math"
	"testing"
	"time"
)

// TestPeakGFlops checks that the peak is a positive, finite rate, that a
// zero duration still times one round, and that it stays below what any
// CPU can do. Its count of operations is checked against the same calls
// timed by hand in TestPeakGFlopsBreak6NotAboveItsCalls. (Comparing it with
// an Sgemm's rate was flaky: go test runs packages side by side, so the
// two could see different numbers of free cores.)
func TestPeakGFlops(t *testing.T) {
	if p := PeakGFlops(0); !(p > 0) || math.IsInf(p, 0) {
		t.Fatalf("PeakGFlops(0) = %v", p)
	}
	// No core does more than 2 FMA units x 16 lanes x 2 operations at
	// 6.25 GHz: a peak above that timed calls it did not wait for.
	if p, most := PeakGFlops(time.Millisecond), 400*float64(Workers()); p > most {
		t.Fatalf("PeakGFlops = %.0f GFLOP/s on %d cores, above any CPU's %.0f", p, Workers(), most)
	}
}
