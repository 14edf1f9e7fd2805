package main

import (
	"math"
	"runtime"
	"testing"

	"github.com/deepinfomax/deepinfomax/dim"
)

// break6Sink keeps allocations alive so that the process's malloc count is
// large before a timing starts.
var break6Sink [][]byte

// TestBenchEmbedBreak6AllocsAreTheBatches checks that --embed's
// allocs_per_batch counts the timed batches' allocations only: at most
// what the whole call to benchEmbed allocated. 8a8f0da turned
// float64(ms.Mallocs-mallocs) into float64(mallocs) in benchEmbed too,
// where mallocs is the process's count since it started, so dim bench
// --embed reported every allocation of the process divided by --steps
// (1425 allocs/batch at --steps 3 and 142 at --steps 30, against 8-10
// before).
func TestBenchEmbedBreak6AllocsAreTheBatches(t *testing.T) {
	for range 100000 {
		break6Sink = append(break6Sink, make([]byte, 16))
	}
	defer func() { break6Sink = nil }()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.Mallocs
	r, err := benchEmbed("basic28x28", 2, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&ms)
	if whole := float64(ms.Mallocs - before); r.Allocs*float64(r.Steps) > whole {
		t.Errorf("benchEmbed: %.0f allocs/batch x %d batches, more than the %.0f the whole call made", r.Allocs, r.Steps, whole)
	}
}

// TestBenchPeakBreak6StepsOnly checks that dim bench --peak leaves the
// peak's runs (0.3 s of every thread, and the goroutines and panels they
// allocate) out of the step's CPU time and allocation count. With one
// step (one round, a peak on either side, the shortest --steps) the median
// is that step, so its CPU time cannot pass GOMAXPROCS times it; and its
// allocations must match those of a step timed without --peak. And with
// a single round, fewer steps than peakRound, the share is the rate over
// the peak exactly.
func TestBenchPeakBreak6StepsOnly(t *testing.T) {
	cfg := dim.DefaultConfig()
	cfg.MIUnits, cfg.Batch = 8, 2
	plain, err := benchOne(cfg, "basic28x28", 1, 2, false, false)
	if err != nil {
		t.Fatal(err)
	}
	r, err := benchOne(cfg, "basic28x28", 1, 2, true, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("--peak: %.2f ms/step, %.2f ms CPU/step, %.1f allocs/step, %d threads; without: %.2f ms, %.2f ms CPU, %.1f allocs",
		r.MedianMS, r.CPUMS, r.Allocs, r.Threads, plain.MedianMS, plain.CPUMS, plain.Allocs)
	if r.CPUMS >= 0 && r.CPUMS > 1.5*float64(r.Threads)*r.MedianMS+10 {
		t.Errorf("--peak: %.1f ms CPU per step of %.1f ms on %d threads: the peak's runs counted", r.CPUMS, r.MedianMS, r.Threads)
	}
	// One round: its rate is the reported GFLOP/s, and the median of its two
	// peaks is their mean, so the share is exactly the rate over the peak.
	if share := 100 * r.GFlops / r.PeakGFlops; !(r.PctOfPeak > 0) || math.Abs(r.PctOfPeak-share) > 1e-9*share {
		t.Errorf("--peak with one step: %.6g%% of the peak, want %.6g%% (%+v)", r.PctOfPeak, share, r)
	}
	if r.Allocs > plain.Allocs+20 {
		t.Errorf("--peak: %.1f allocs/step, %.1f without it: the peak's allocations counted", r.Allocs, plain.Allocs)
	}
}
