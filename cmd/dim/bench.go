package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/dim"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/kernels"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
	"github.com/spf13/cobra"
)

// benchResult is one configuration's timing, printed as a JSON line too.
type benchResult struct {
	Arch     string             `json:"arch"`
	Batch    int                `json:"batch"`
	Measure  string             `json:"measure"`
	MIUnits  int                `json:"mi_units"`
	Weights  map[string]float32 `json:"weights"` // of the objective's terms, by weight name
	Steps    int                `json:"steps"`
	MedianMS float64            `json:"median_ms"`
	// CPUMS is the process's CPU time per step, all threads together (-1
	// where the OS does not say): on a host shared with other jobs it
	// moves less than the wall time, since time the cores spend on other
	// jobs is not counted.
	CPUMS     float64 `json:"cpu_ms"`
	MinMS     float64 `json:"min_ms"`
	GFlopStep float64 `json:"gflop_per_step"`
	GFlops    float64 `json:"gflops"`
	Threads   int     `json:"threads"`
	Allocs    float64 `json:"allocs_per_step"`
	// PeakGFlops (with --peak) is the median of the machine's peak
	// (kernels.PeakGFlops) measured before the first round of peakRound
	// steps and after each, and PctOfPeak the median over the rounds of the
	// round's GFLOP/s (its median step) over the mean of the peaks
	// measured on either side of it, in percent.
	PeakGFlops float64 `json:"peak_gflops,omitempty"`
	PctOfPeak  float64 `json:"pct_of_peak,omitempty"`
	// Ops (with --ops) is the step's time by operation, the longest first
	// (autograd.OpTimer).
	Ops []benchOp `json:"ops,omitempty"`
}

// benchOp is one operation's share of a step (dim bench --ops): its pass
// ("forward", "backward", or "step" for the optimizer's update), name and
// output shape, and its calls and milliseconds per step.
type benchOp struct {
	Pass         string  `json:"pass"`
	Op           string  `json:"op"`
	Shape        []int   `json:"shape,omitempty"`
	CallsPerStep float64 `json:"calls_per_step"`
	MS           float64 `json:"ms_per_step"`
}

// peakRound is the number of steps dim bench --peak times between two
// measurements of the peak, and peakTime how long each measurement runs:
// the peak then comes from the same few seconds as the steps it is
// compared with.
const (
	peakRound = 10
	peakTime  = 300 * time.Millisecond
)

func benchCmd() *cobra.Command {
	cfg := dim.DefaultConfig()
	arch := "basic28x28"
	weights := map[string]*float32{}
	var flagErr error // a term's weight flag that could not be registered
	var units, measure string
	var steps, warmup int
	var jsonOut, embed, peak, ops bool
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Time training steps on random data: median ms per step and GFLOP/s",
		Long: `Time full training steps (forward, backward, Adam) of a DIM configuration on
random images and report the median milliseconds per step, the process's
CPU time per step (all threads; "cpu_ms" in --json) and the matrix GFLOP/s
achieved; --arch names any registered encoder (dim train --help lists
them). --embed times the encoder's inference instead, the way dim embed runs
it (eval mode, no gradients, batches of dim embed's size or --batch images, conv,
fc and Y kept),
in images per second. Compare with scripts/torch_peer.py time --arch A
--mi-units N (or embed --arch A) run in the same minute. --peak also
measures the machine's peak GFLOP/s (the GEMM micro-kernel on in-cache
data, every thread) before the first 10 steps and after every 10, and
reports the step's share of the peak measured around it: on a shared
host both move with the other jobs' load, so the share is the number to
compare across minutes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if flagErr != nil {
				return flagErr
			}
			ranges := []flagRange{
				between("batch", 1, train.MaxBatch, fmt.Sprintf("1 to %d", train.MaxBatch)),
				between("steps", 1, maxSteps, fmt.Sprintf("1 to %d", maxSteps)),
				between("warmup", 0, maxSteps, fmt.Sprintf("0 to %d", maxSteps)),
			}
			for _, t := range dim.Terms() {
				ranges = append(ranges, between(t.Weight, 0, math.MaxFloat32, "0 (off) or more"))
			}
			if err := checkFlags(cmd.Flags(), ranges...); err != nil {
				return err
			}
			if peak && embed {
				return fmt.Errorf("--peak: times training steps against the peak, not --embed's inference")
			}
			if ops && embed {
				return fmt.Errorf("--ops: breaks training steps down by operation, not --embed's inference")
			}
			var widths []int
			for _, u := range strings.Split(units, ",") {
				if embed {
					break // --embed times the encoder alone
				}
				n, err := strconv.Atoi(strings.TrimSpace(u))
				if err != nil || n < 1 || n > dim.MaxMIUnits {
					return fmt.Errorf("--mi-units %q: want comma-separated widths of 1 to %d", units, dim.MaxMIUnits)
				}
				widths = append(widths, n)
			}
			m, err := mi.ParseMeasure(measure)
			if err != nil {
				return err
			}
			cfg.Measure = m
			cfg.Weights = map[string]float32{}
			for w, v := range weights {
				if *v != 0 {
					cfg.Weights[w] = *v
				}
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return fmt.Errorf("cpu profile: %w", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("cpu profile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			if embed {
				batch := 0 // dim embed's default
				if cmd.Flags().Changed("batch") {
					batch = cfg.Batch
				}
				r, err := benchEmbed(arch, batch, steps, warmup)
				if err != nil {
					return err
				}
				if jsonOut {
					js, _ := json.Marshal(r)
					fmt.Println(string(js))
				} else {
					fmt.Printf("%s inference batch=%d taps=%s: %.0f images/s (median of %d batches, %.1f ms each), %d threads, %.0f allocs/batch\n",
						r.Arch, r.Batch, strings.Join(r.Taps, ","), r.ImagesPerS, r.Steps, r.MedianMS, r.Threads, r.Allocs)
				}
				return nil
			}
			for _, n := range widths {
				c := cfg
				c.MIUnits = n
				r, err := benchOne(c, arch, steps, warmup, peak, ops)
				if err != nil {
					return err
				}
				if jsonOut {
					js, _ := json.Marshal(r)
					fmt.Println(string(js))
				} else {
					cpu := ""
					if r.CPUMS >= 0 {
						cpu = fmt.Sprintf(", %.1f ms CPU/step", r.CPUMS)
					}
					pk := ""
					if peak {
						pk = fmt.Sprintf(" (%.0f%% of the peak measured around every %d steps: the median over those rounds; peak %.0f GFLOP/s)", r.PctOfPeak, min(peakRound, r.Steps), r.PeakGFlops)
					}
					fmt.Printf("%s batch=%d measure=%s mi_units=%d %s: median %.1f ms/step (min %.1f%s), %.2f GFLOP/step, %.1f GFLOP/s%s, %d threads, %.1f allocs/step\n",
						r.Arch, r.Batch, r.Measure, r.MIUnits, weightList(r.Weights), r.MedianMS, r.MinMS, cpu, r.GFlopStep, r.GFlops, pk, r.Threads, r.Allocs)
					if ops {
						fmt.Println("  by operation (ms per step, the longest first; an op's forward time runs from the previous op's):")
						for _, o := range r.Ops {
							shape := ""
							if o.Shape != nil {
								shape = fmt.Sprint(o.Shape)
							}
							fmt.Printf("  %8.2f  %-8s %-16s %-18s %5.1f calls/step\n", o.MS, o.Pass, o.Op, shape, o.CallsPerStep)
						}
					}
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&arch, "arch", arch, "encoder")
	f.IntVar(&cfg.Batch, "batch", cfg.Batch, "batch size (with --embed: images per inference batch, by default dim embed's: at most 500 within 1 GiB of activations)")
	f.StringVar(&units, "mi-units", "512,2048", "comma-separated MI network widths to time")
	f.StringVar(&measure, "measure", "jsd", "MI estimator")
	flagErr = termFlags(f, cfg, weights)
	f.IntVar(&steps, "steps", 20, "timed steps")
	f.IntVar(&warmup, "warmup", 3, "untimed steps first")
	f.BoolVar(&jsonOut, "json", false, "print JSON lines")
	f.BoolVar(&peak, "peak", false, "also measure the machine's peak GFLOP/s (the GEMM micro-kernel on in-cache data, all threads) before the first 10 steps and after every 10, and report the step's share of it: the median over those rounds of each round's GFLOP/s over the peak measured on either side")
	f.BoolVar(&ops, "ops", false, "also break the timed steps down by operation (forward and backward pass of each op, by output shape, and the optimizer's update), in ms per step")
	f.BoolVar(&embed, "embed", false, "time the encoder's inference (dim embed's path) in images per second instead of training steps")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (setup and warm-up included; go tool pprof) to this file")
	return cmd
}

func benchOne(cfg dim.Config, arch string, steps, warmup int, peak, ops bool) (benchResult, error) {
	model, err := dim.New(cfg, encoder.Spec{Name: arch})
	if err != nil {
		return benchResult{}, err
	}
	var timer *autograd.OpTimer
	if ops {
		timer = autograd.NewOpTimer()
		model.SetOpTimer(timer) // the warm-up makes its entries
	}
	a := model.Encoder().Spec()
	x := tensor.New(cfg.Batch, a.Channels, a.Size, a.Size)
	tensor.NewRNG(1).Normal(x, 0, 1)
	for i := 0; i < warmup; i++ {
		if _, err := model.StepImages(x); err != nil {
			return benchResult{}, err
		}
	}
	if timer != nil {
		timer.Reset()
	}
	times := make([]float64, steps)
	var peaks, ratios []float64
	var ms runtime.MemStats
	var mallocs uint64
	var flops int64
	var cpu time.Duration
	cpuOK := true
	for r0 := 0; r0 < steps; r0 += peakRound {
		r1 := min(r0+peakRound, steps)
		if peak && r0 == 0 {
			peaks = append(peaks, kernels.PeakGFlops(peakTime))
		}
		runtime.ReadMemStats(&ms)
		m0 := ms.Mallocs
		f0 := kernels.Flops()
		cpu0, ok := processCPU()
		cpuOK = cpuOK && ok
		for i := r0; i < r1; i++ {
			t := time.Now()
			if _, err := model.StepImages(x); err != nil {
				return benchResult{}, err
			}
			times[i] = float64(time.Since(t).Microseconds()) / 1000
		}
		cpu1, _ := processCPU()
		cpu += cpu1 - cpu0
		rf := kernels.Flops() - f0
		flops += rf
		runtime.ReadMemStats(&ms)
		mallocs += ms.Mallocs - m0
		if peak {
			// The round's rate against the peak measured on either side.
			after := kernels.PeakGFlops(peakTime)
			round := float64(rf) / float64(r1-r0) / 1e6 / median(slices.Clone(times[r0:r1]))
			ratios = append(ratios, round/((peaks[len(peaks)-1]+after)/2))
			peaks = append(peaks, after)
		}
	}
	flopStep := float64(flops) / float64(steps)
	sorted := append([]float64(nil), times...)
	med := median(sorted)
	cpuMS := -1.0
	if cpuOK {
		cpuMS = float64(cpu.Microseconds()) / 1000 / float64(steps)
	}
	r := benchResult{
		CPUMS: cpuMS,
		Arch:  a.Name, Batch: cfg.Batch, Measure: string(cfg.Measure), MIUnits: cfg.MIUnits, Weights: cfg.Weights,
		Steps: steps, MedianMS: med, MinMS: sorted[0], GFlopStep: flopStep / 1e9, GFlops: flopStep / 1e9 / (med / 1000),
		Threads: runtime.GOMAXPROCS(0), Allocs: float64(mallocs) / float64(steps),
	}
	if peak {
		r.PeakGFlops = median(peaks)
		r.PctOfPeak = 100 * median(ratios)
	}
	if timer != nil {
		for _, o := range timer.Times() {
			r.Ops = append(r.Ops, benchOp{Pass: o.Pass, Op: o.Op, Shape: o.Shape,
				CallsPerStep: float64(o.Calls) / float64(steps), MS: float64(o.Total.Nanoseconds()) / 1e6 / float64(steps)})
		}
	}
	return r, nil
}

// weightList prints term weights as flags: "--alpha 0.5 --beta 1".
func weightList(w map[string]float32) string {
	keys := slices.Sorted(maps.Keys(w))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("--%s %g", k, w[k])
	}
	return strings.Join(parts, " ")
}

// embedResult is the timing of an encoder's inference, printed as a JSON
// line too.
type embedResult struct {
	Arch       string   `json:"arch"`
	Batch      int      `json:"batch"`
	Taps       []string `json:"taps"`
	Steps      int      `json:"batches"`
	MedianMS   float64  `json:"median_ms"`
	ImagesPerS float64  `json:"images_per_s"`
	Threads    int      `json:"threads"`
	Allocs     float64  `json:"allocs_per_batch"`
}

// benchEmbed times encoder.EmbedEach, the path of dim embed and dim eval,
// on warmup+steps batches of random images: the median time per batch.
func benchEmbed(arch string, batch, steps, warmup int) (embedResult, error) {
	rng := tensor.NewRNG(1)
	enc, err := encoder.New(encoder.Spec{Name: arch}, rng)
	if err != nil {
		return embedResult{}, err
	}
	s := enc.Spec()
	if batch <= 0 {
		if batch, err = encoder.InferenceBatch(enc); err != nil {
			return embedResult{}, err
		}
	}
	n := batch * (warmup + steps)
	pix := make([]uint8, n*s.Channels*s.Size*s.Size)
	for i := range pix {
		pix[i] = uint8(rng.Uint64())
	}
	ds, err := data.NewMemory(s.Channels, s.Size, s.Size, pix, nil, 0)
	if err != nil {
		return embedResult{}, err
	}
	times := make([]float64, 0, steps)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mallocs := ms.Mallocs // replaced after the warm-up batches, if any
	last := time.Now()
	err = encoder.EmbedEach(enc, ds, encoder.EmbedOptions{Batch: batch}, func(c *encoder.Chunk) error {
		now := time.Now()
		if c.Start/batch >= warmup {
			times = append(times, float64(now.Sub(last).Microseconds())/1000)
		} else if c.Start/batch == warmup-1 {
			runtime.ReadMemStats(&ms)
			mallocs = ms.Mallocs
		}
		last = time.Now() // the callback's own time is not the encoder's
		return nil
	})
	if err != nil {
		return embedResult{}, err
	}
	runtime.ReadMemStats(&ms)
	med := median(times)
	return embedResult{
		Arch: s.Name, Batch: batch, Taps: encoder.Layers, Steps: steps, MedianMS: med,
		ImagesPerS: float64(batch) / (med / 1000), Threads: runtime.GOMAXPROCS(0),
		Allocs: float64(ms.Mallocs-mallocs) / float64(steps),
	}, nil
}

// median of xs (not empty); xs is reordered.
func median(xs []float64) float64 {
	sort.Float64s(xs)
	if len(xs)%2 == 0 {
		return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return xs[len(xs)/2]
}
