package main

import (
	"io"
	"math"
	"strings"
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
	r, err := benchOne(cfg, "basic28x28", 2, 1, false, false)
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
	r, err := benchOne(cfg, "basic28x28", peakRound+3, 1, true, false)
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

// TestBenchOps times steps with dim bench --ops: the breakdown names the
// step's operations (the encoder's convolutions and the MI networks'
// linear layers, both passes) and the optimizer's update, each run once
// or more a step (these for a positive time), and the operations' times add up to
// no more than the steps' (their mean, against a median, with room for
// the timer's own reads of the clock); --ops with --embed is refused.
func TestBenchOps(t *testing.T) {
	cfg := dim.DefaultConfig()
	cfg.MIUnits, cfg.Batch = 8, 2
	const steps = 4
	r, err := benchOne(cfg, "basic28x28", steps, 1, false, true)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	has := map[string]bool{}
	for _, o := range r.Ops {
		if !(o.CallsPerStep >= 1) || !(o.MS >= 0) {
			t.Errorf("%+v: want a call or more a step and a time", o)
		}
		has[o.Pass+" "+o.Op] = o.MS > 0
		sum += o.MS
	}
	for _, want := range []string{"forward conv2d", "backward conv2d", "forward linear", "backward linear", "step optimizer"} {
		if !has[want] {
			t.Errorf("no %q with a positive time in %+v", want, r.Ops)
		}
	}
	if sum > 2*r.MedianMS+1 {
		t.Errorf("the operations take %.3g ms a step, the step %.3g", sum, r.MedianMS)
	}
	plain, err := benchOne(cfg, "basic28x28", 1, 1, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Ops != nil {
		t.Errorf("without --ops: %+v", plain.Ops)
	}
	cmd := benchCmd()
	cmd.SetArgs([]string{"--embed", "--ops"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "--ops") {
		t.Errorf("--embed --ops: %v", err)
	}
}
