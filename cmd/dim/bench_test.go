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
	r, err := benchOne(cfg, "basic28x28", 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Steps != 2 || !(r.MedianMS > 0) || !(r.GFlopStep > 0) || r.MinMS > r.MedianMS {
		t.Errorf("benchOne = %+v", r)
	}
}
