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

// TestPeakBestRound: the peak is the best round's rate, not the first's,
// the last's or their mean, so a burst of another job that slows some
// rounds does not lower it.
func TestPeakBestRound(t *testing.T) {
	calls := 0
	round := func() float64 { // 3, then 8, then 5 for every later round
		time.Sleep(2 * time.Millisecond)
		calls++
		return []float64{3, 8, 5}[min(calls, 3)-1]
	}
	if got := peakBest(60*time.Millisecond, round); got != 8 || calls < 3 {
		t.Errorf("peakBest over %d rounds = %v, want 8 (the best round)", calls, got)
	}
	calls = 0
	if got := peakBest(0, round); got != 3 || calls != 1 {
		t.Errorf("peakBest(0) = %v after %d rounds, want one round (3)", got, calls)
	}
}
