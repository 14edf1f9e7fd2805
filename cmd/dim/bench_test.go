package main

import (
	"math"
	"testing"

	"github.com/deepinfomax/deepinfomax/dim"
	"github.com/deepinfomax/deepinfomax/encoder"
)

// TestBenchEveryEncoder runs dim bench's inference timing (--embed) on
// every registered encoder, and its training-step timing on the smallest,
// with tiny batches: each reports a finite, positive rate.
func TestBenchEveryEncoder(t *testing.T) {
	for _, name := range encoder.Names() {
		t.Run(name, func(t *testing.T) {
			r, err := benchEmbed(name, 2, 2, 1)
			if err != nil {
				t.Fatal(err)
			}
			if r.Steps != 2 || r.Batch != 2 || !(r.ImagesPerS > 0) || math.IsInf(r.ImagesPerS, 0) || r.Arch != name {
				t.Errorf("benchEmbed(%s) = %+v", name, r)
			}
		})
	}
	cfg := dim.DefaultConfig()
	cfg.MIUnits, cfg.Batch = 8, 2
	r, err := benchOne(cfg, "basic28x28", 2, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if r.Steps != 2 || !(r.MedianMS > 0) || !(r.GFlopStep > 0) || r.MinMS > r.MedianMS || r.PeakGFlops != 0 || r.PctOfPeak != 0 {
		t.Errorf("benchOne = %+v", r)
	}
}

// TestBenchPeak times steps over two rounds of dim bench --peak: the peak
// is a positive rate, and the steps' share of it (tiny networks on two
// images) is positive and below 100%, and agrees with the rates reported
// within the spread of the peak's samples.
func TestBenchPeak(t *testing.T) {
	cfg := dim.DefaultConfig()
	cfg.MIUnits, cfg.Batch = 8, 2
	r, err := benchOne(cfg, "basic28x28", peakRound+3, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if !(r.PeakGFlops > 0) || math.IsInf(r.PeakGFlops, 0) || !(r.PctOfPeak > 0) || !(r.PctOfPeak < 100) {
		t.Fatalf("benchOne --peak = %+v", r)
	}
	if share := 100 * r.GFlops / r.PeakGFlops; share > 3*r.PctOfPeak || share < r.PctOfPeak/3 {
		t.Errorf("share of the median peak %.3g%%, --peak's %.3g%%", share, r.PctOfPeak)
	}
}
