package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/deepinfomax/deepinfomax/baselines"
	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/dim"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/train"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func trainCmd() *cobra.Command {
	cfg := dim.DefaultConfig()
	var (
		arch                           string
		weights                        = map[string]*float32{}
		df                             dataFlags
		out, measure                   string
		epochs, steps                  int
		resume, evalAfter, reportAfter bool
		crop, pad                      int
		flip                           bool
		logEvery                       int
		normalize                      bool
		prior                          string
		occlude                        bool
		method                         string
		checkpointEvery                string
		klWeight                       float32
		priorWeight                    float32
		flagErr                        error // a term's weight flag that could not be registered
		unlabeled                      bool
		occlusion                      dim.Occlusion
		divergeFactor                  float64
		every                          int           // --checkpoint-every as steps
		interval                       time.Duration // or as a duration
	)
	cmd := &cobra.Command{
		Use:   "train --data SPEC --out RUN_DIR",
		Short: "Train a Deep InfoMax encoder",
		Long: `Train a Deep InfoMax encoder and its MI networks on the training split of a
data set. Weights (safetensors), config (JSON) and metrics (JSON lines) go to
RUN_DIR; a checkpoint is written every --checkpoint-every (5 minutes by
default), after every epoch and at the end; Ctrl-C, SIGTERM or SIGHUP during
training saves one before exiting (exit status 130; a second signal exits at
once), and during --eval stops at once. A second dim train on the same
RUN_DIR is refused while the first runs. --resume continues a run from its
last checkpoint with the checkpoint's own config and augmentation (model flags
are then ignored, with a note; a different --crop, --pad or --flip is an
error), on the data set it recorded unless --data is given, and with the same
data order, up to the new --epochs or --steps total. A loss that explodes
(see --diverge-factor) or weights that are not finite stop the run; a
checkpoint holding the weights that gave the exploding loss is moved to
RUN_DIR/model.diverged.safetensors and the one before it is the run's again.
At the end of a DIM run the final weights get the same test, on the last
batch evaluated again without an update, before they are saved: if they
fail it they go to RUN_DIR/model.diverged.safetensors instead.

Data specs: ` + data.Specs,
		Args: cobra.NoArgs,
		// The checks of the flags' values and of a new DIM run's config,
		// before any file is read; dim compare runs them on its
		// --train-args before it trains anything (checkSubRun).
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			if flagErr != nil {
				return flagErr
			}
			if out == "" {
				return errors.New("--out RUN_DIR is required")
			}
			if err := checkFlags(cmd.Flags(), trainRanges(&df)...); err != nil {
				return err
			}
			if pad > 0 && crop == 0 {
				return errors.New("--pad pads the images for random crops: it needs --crop")
			}
			m, err := mi.ParseMeasure(measure)
			if err != nil {
				return err
			}
			cfg.Measure = m
			if cfg.Prior, err = dim.ParsePrior(prior); err != nil {
				return err
			}
			cfg.Weights = map[string]float32{}
			for w, v := range weights {
				if *v != 0 {
					cfg.Weights[w] = *v
				}
			}
			if occlude {
				cfg.Occlude = &occlusion
			}
			if cfg.Coordinates != "" && !cmd.Flags().Changed("coord") {
				cfg.Weights["coord"] = 1
			}
			if !resume && method == dim.MethodName {
				if err := cfg.Validate(); err != nil {
					return err
				}
			}
			every, interval, err = parseCheckpointEvery(checkpointEvery)
			return err
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if resume {
				if !train.HasRun(out) {
					return fmt.Errorf("--resume: %s holds no run (no %s)", out, train.WeightsFile)
				}
				var ignored []string
				cmd.Flags().Visit(func(fl *pflag.Flag) {
					if !runFlags[fl.Name] {
						ignored = append(ignored, "--"+fl.Name)
					}
				})
				if len(ignored) > 0 {
					fmt.Fprintf(os.Stderr, "note: --resume continues with the run's own config; ignoring %s\n", strings.Join(ignored, " "))
				}
				// The run's own data set and options, as dim eval and embed
				// take them (a --data or option given is checked by train.Run).
				info, err := train.ReadInfo(out)
				if err != nil {
					return err
				}
				if rec := info.Progress.Data; rec != "" && !cmd.Flags().Changed("data") {
					df.spec = data.Canonical(strings.TrimSuffix(rec, "+unlabeled"))
					unlabeled = unlabeled || strings.HasSuffix(rec, "+unlabeled")
				}
				if rec := info.Progress.DataOptions; rec != nil && data.Canonical(strings.TrimSuffix(info.Progress.Data, "+unlabeled")) == df.spec {
					if err := df.takeRecorded(cmd.Flags(), rec, out); err != nil {
						return err
					}
				}
			} else if method != dim.MethodName {
				var ignored []string
				cmd.Flags().Visit(func(fl *pflag.Flag) {
					if dimOnlyFlag(fl.Name, method) {
						ignored = append(ignored, "--"+fl.Name)
					}
				})
				if len(ignored) > 0 {
					fmt.Fprintf(os.Stderr, "note: %s does not use %s\n", method, strings.Join(ignored, " "))
				}
			} else {
				for _, n := range dimIgnoredFlags(cmd.Flags(), weights, occlude) {
					fmt.Fprintf(os.Stderr, "note: %s\n", n)
				}
			}
			split, err := df.open(cfg.Seed)
			if err != nil {
				return err
			}
			defer split.Close()
			images, dataSpec := split.Train, df.spec
			if unlabeled {
				if split.Unlabeled == nil {
					return fmt.Errorf("--unlabeled: %s has no unlabeled part", df.spec)
				}
				if images, err = data.Concat(split.Train, split.Unlabeled); err != nil {
					return err
				}
				dataSpec += "+unlabeled"
			}
			if n := images.Len(); !resume && n < cfg.Batch {
				// train.Run would refuse it too, without naming the flags.
				held := ""
				if df.holdOut > 0 && split.Test != nil {
					held = fmt.Sprintf(" (--holdout %v held out %d of its %d images as the test split)", df.holdOut, split.Test.Len(), n+split.Test.Len())
				}
				return fmt.Errorf("--batch %d is larger than the %d training images of %s%s: lower --batch", cfg.Batch, n, dataSpec, held)
			}
			newModel := func() (train.Method, error) {
				spec, err := encoderSpec(arch, images, crop, normalize)
				if err != nil {
					return nil, err
				}
				if method != dim.MethodName {
					o := baselines.Options{Common: cfg.Common, Classes: images.NumClasses(), Samples: images.Len(), KLWeight: klWeight}
					switch method { // the options each method reads
					case "aae":
						o.Prior, o.PriorWeight, o.GradPenalty = cfg.Prior, priorWeight, cfg.GradPenalty
					case "bigan":
						o.GradPenalty = cfg.GradPenalty
					}
					return baselines.New(method, o, spec)
				}
				return dim.New(cfg, spec)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
			defer stop()
			go func() {
				// The first signal asks for a checkpoint; a second one ends
				// the process at once (the default action once stopped).
				<-ctx.Done()
				stop()
			}()
			_, prog, err := train.Train(ctx, newModel, train.Options{
				Dir: out, Train: images, DataSpec: dataSpec, DataOptions: df.options(cfg.Seed), Epochs: epochs, Steps: steps,
				Resume: resume, Log: os.Stderr, LogEvery: logEvery, Augment: train.Augment{Crop: crop, Pad: pad, Flip: flip},
				CheckpointEvery: every, CheckpointInterval: interval, DivergeFactor: divergeFactor,
			})
			stop() // from here Ctrl-C stops the process at once: the checkpoint is written
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "trained %d steps (%d full epochs); checkpoint in %s\n", prog.Step, prog.Epoch, out)
			if !evalAfter {
				return maybeReport(reportAfter, out, &df)
			}
			if split.Test == nil {
				return fmt.Errorf("%s has no test split to evaluate on", df.spec)
			}
			// What dim eval --model RUN_DIR does, with its defaults.
			args := []string{"--model", out, "--data", df.spec, "--size", fmt.Sprint(df.size), "--holdout", fmt.Sprint(df.holdOut), fmt.Sprintf("--coarse=%v", df.coarse)}
			if err := runSub(evalCmd(), args); err != nil {
				return fmt.Errorf("--eval: %w", err)
			}
			return maybeReport(reportAfter, out, &df)
		},
	}
	f := cmd.Flags()
	df.register(f)
	f.StringVar(&out, "out", "", "run directory for checkpoints, config and metrics")
	f.StringVar(&method, "method", dim.MethodName, "what trains the encoder: dim, or a baseline: "+baselineNames()+" (for a baseline, the DIM flags are ignored but --prior and --grad-penalty for aae)")
	f.Float32Var(&klWeight, "kl-weight", 0, "beta-vae: the weight of the KL term (0: 4)")
	f.Float32Var(&priorWeight, "prior-weight", 0, "aae: the weight of its prior-matching loss (0: 1)")
	f.IntVar(&epochs, "epochs", 1, "epochs to train in total")
	f.IntVar(&steps, "steps", 0, "steps to train in total (overrides --epochs)")
	f.BoolVar(&resume, "resume", false, "continue the run in --out from its last checkpoint")
	f.BoolVar(&evalAfter, "eval", false, "evaluate with linear probes on conv, fc and Y after training")
	f.BoolVar(&reportAfter, "report", false, "write RUN_DIR/report.html at the end (see dim report)")
	f.StringVar(&arch, "arch", "auto", "encoder: auto (by image size), "+strings.Join(encoder.Names(), ", "))
	f.IntVar(&cfg.MIUnits, "mi-units", cfg.MIUnits, "width of the MI networks (paper: 2048; 512 trains ~4-5x faster on a CPU)")
	flagErr = termFlags(f, cfg, weights)
	f.StringVar(&prior, "prior", string(cfg.Prior), "prior for prior matching: uniform (matched by sigmoid(Y)), gaussian, sphere, ball")
	f.Float32Var(&cfg.GradPenalty, "grad-penalty", cfg.GradPenalty, "weight of the prior discriminator's gradient penalty")
	f.StringVar(&cfg.Coordinates, "coordinates", "", "coordinate prediction: abs (each local feature's location) or rel (another location's offset); weight --coord, 1 by default")
	f.StringVar(&cfg.Score, "score", "dot", "score function: dot (encode-and-dot) or concat (concat-and-convolve, hidden width --mi-units; the paper used 512)")
	f.IntVar(&cfg.LocalSamples, "local-samples", 0, "score this many random locations of the local map per image (0: all)")
	f.StringVar(&cfg.Globals, "globals", "", "multiple globals: score the local map against every location of this feature-map tap (e.g. conv) instead of Y")
	f.IntVar(&cfg.GlobalSamples, "global-samples", 0, "with --globals: this many random global vectors per image (0: all)")
	f.BoolVar(&occlude, "occlude", false, "compute Y from the images with squares hidden (local features from the full images), as the paper's occlusion")
	f.IntVar(&occlusion.Size, "occlude-size", 0, "side of each hidden square in pixels (0: half the image side)")
	f.IntVar(&occlusion.Blocks, "occlude-blocks", 1, "hidden squares per image")
	f.StringVar(&measure, "measure", string(cfg.Measure), "MI estimator: jsd, nce, dv, gan, kl, rkl, h2, x2, w1")
	f.Float64Var(&cfg.LR, "lr", cfg.LR, "Adam learning rate")
	f.IntVar(&cfg.Batch, "batch", cfg.Batch, "batch size")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed for initialisation and data order")
	f.BoolVar(&unlabeled, "unlabeled", false, "train on the training and unlabeled parts together (STL-10, as the paper)")
	f.IntVar(&crop, "crop", 0, "random crop side (0: none); embed and eval then take the centre crop of that side")
	f.IntVar(&pad, "pad", 0, "zero padding before random crops")
	f.BoolVar(&flip, "flip", false, "random horizontal flips")
	f.BoolVar(&normalize, "normalize", false, "normalise each channel by the training set's mean and std (default: scale to [-1, 1])")
	f.IntVar(&logEvery, "log-every", 10, "steps between metrics lines")
	f.Float64Var(&divergeFactor, "diverge-factor", 0, "stop when a loss exceeds this many times its usual magnitude (0: 1e4); negative: only a NaN or infinite loss stops. The f-divergence measures (kl, rkl, h2, x2) can swing by orders of magnitude: raise it or use -1 for them. Also a run flag of --resume")
	f.StringVar(&checkpointEvery, "checkpoint-every", "5m", "checkpoint every N steps (500) or every duration (5m, 1h); 0: only after each epoch and at the end")
	return cmd
}

// trainRanges are the ranges of dim train's numeric flags (method
// settings are checked again by the method's config).
func trainRanges(df *dataFlags) []flagRange {
	r := append(df.ranges(),
		between("epochs", 1, maxEpochs, fmt.Sprintf("1 to %d", maxEpochs)),
		between("steps", 0, math.MaxInt, "0 (use --epochs) or more"),
		between("kl-weight", 0, math.MaxFloat32, "0 (the default) or more"),
		between("prior-weight", 0, math.MaxFloat32, "0 (the default) or more"),
		between("mi-units", 1, dim.MaxMIUnits, fmt.Sprintf("1 to %d", dim.MaxMIUnits)),
		between("grad-penalty", 0, math.MaxFloat32, "0 or more"),
		between("local-samples", 0, dim.MaxSamples, fmt.Sprintf("0 (all) to %d", dim.MaxSamples)),
		between("global-samples", 0, dim.MaxSamples, fmt.Sprintf("0 (all) to %d", dim.MaxSamples)),
		between("occlude-size", 0, maxSide, fmt.Sprintf("0 (half the image side) to %d", maxSide)),
		between("occlude-blocks", 1, dim.MaxOcclusionBlocks, fmt.Sprintf("1 to %d", dim.MaxOcclusionBlocks)),
		between("lr", math.SmallestNonzeroFloat64, math.MaxFloat64, "a positive number"),
		between("batch", 1, train.MaxBatch, fmt.Sprintf("1 to %d", train.MaxBatch)),
		between("crop", 0, maxSide, fmt.Sprintf("0 (none) to %d", maxSide)),
		between("pad", 0, maxSide, fmt.Sprintf("0 to %d", maxSide)),
		atLeast("log-every", 1),
	)
	for _, t := range dim.Terms() {
		r = append(r, between(t.Weight, 0, math.MaxFloat32, "0 (off) or more"))
	}
	return r
}

// baselineNames lists the baselines for help texts.
func baselineNames() string {
	var names []string
	for _, s := range baselines.Specs() {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

// parseCheckpointEvery reads --checkpoint-every: a number of steps or a
// duration.
func parseCheckpointEvery(v string) (steps int, interval time.Duration, err error) {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return n, 0, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return 0, d, nil
	}
	return 0, 0, fmt.Errorf("--checkpoint-every %q: want a number of steps (500) or a duration (5m)", v)
}

// dimOnlyFlag reports whether a train flag sets only DIM's objective
// (and so is ignored by the baseline method).
func dimOnlyFlag(name, method string) bool {
	switch name {
	case "mi-units", "measure", "score", "coordinates", "occlude", "occlude-size", "occlude-blocks",
		"local-samples", "globals", "global-samples":
		return true
	case "prior", "prior-weight":
		return method != "aae"
	case "grad-penalty":
		return method != "aae" && method != "bigan"
	case "kl-weight":
		return method != "beta-vae"
	}
	for _, t := range dim.Terms() {
		if name == t.Weight {
			return true
		}
	}
	return false
}

// dimIgnoredFlags returns a note for each group of flags set on a new dim
// run that its settings leave unused (as baselines are told of the DIM
// flags they ignore): the baselines' own flags, and the settings of a
// term whose weight is 0 or of occlusion without --occlude.
func dimIgnoredFlags(f *pflag.FlagSet, weights map[string]*float32, occlude bool) []string {
	set := func(names ...string) []string {
		var out []string
		for _, n := range names {
			if f.Changed(n) {
				out = append(out, "--"+n)
			}
		}
		return out
	}
	// off reports whether the term named term has weight 0, and its flag.
	off := func(term string) (bool, string) {
		for _, t := range dim.Terms() {
			if t.Name == term {
				w, ok := weights[t.Weight]
				return ok && *w == 0, "--" + t.Weight
			}
		}
		return false, ""
	}
	var notes []string
	if fl := set("kl-weight", "prior-weight"); len(fl) > 0 {
		notes = append(notes, fmt.Sprintf("%s does not use %s", dim.MethodName, strings.Join(fl, " ")))
	}
	if isOff, w := off("prior"); isOff {
		if fl := set("prior", "grad-penalty"); len(fl) > 0 {
			notes = append(notes, fmt.Sprintf("prior matching is off (%s 0): ignoring %s", w, strings.Join(fl, " ")))
		}
	}
	if isOff, w := off("local"); isOff {
		if fl := set("local-samples", "globals", "global-samples"); len(fl) > 0 {
			notes = append(notes, fmt.Sprintf("local DIM is off (%s 0): ignoring %s", w, strings.Join(fl, " ")))
		}
	}
	if isOff, w := off("coordinates"); isOff {
		if fl := set("coordinates"); len(fl) > 0 && f.Changed(strings.TrimPrefix(w, "--")) {
			notes = append(notes, fmt.Sprintf("coordinate prediction is off (%s 0): ignoring %s", w, strings.Join(fl, " ")))
		}
	}
	if !occlude {
		if fl := set("occlude-size", "occlude-blocks"); len(fl) > 0 {
			notes = append(notes, fmt.Sprintf("occlusion is off (no --occlude): ignoring %s", strings.Join(fl, " ")))
		}
	}
	return notes
}

// runFlags are the train flags that apply to a resumed run too; the others
// define the model, which a resumed run takes from its checkpoint.
var runFlags = map[string]bool{
	"data": true, "size": true, "holdout": true, "coarse": true, "out": true, "epochs": true, "steps": true,
	"resume": true, "eval": true, "report": true, "log-every": true, "checkpoint-every": true, "crop": true, "pad": true, "flip": true, "unlabeled": true, "method": true,
	"diverge-factor": true,
}

// termFlags registers a weight flag for every registered term of the DIM
// objective (--alpha, --beta, --gamma, ...), with cfg's weights as
// defaults, filling weights.
// A term whose weight name is already a flag gets no flag, and the error
// returned says so (it is a term registered with a clashing name).
func termFlags(f *pflag.FlagSet, cfg dim.Config, weights map[string]*float32) error {
	var err error
	for _, t := range dim.Terms() {
		if f.Lookup(t.Weight) != nil {
			err = fmt.Errorf("term %s: its weight name --%s is already a flag", t.Name, t.Weight)
			continue
		}
		weights[t.Weight] = f.Float32(t.Weight, cfg.Weight(t.Weight), t.Usage)
	}
	return err
}

// encoderSpec describes the encoder a new run trains: arch ("auto" picks
// the reference encoder for the image size), the normalisation (the
// training set's per-channel statistics with normalize, else [-1, 1]) and
// the evaluation-time transform (a centre crop when training takes random
// crops smaller than the images).
func encoderSpec(arch string, ds data.Dataset, crop int, normalize bool) (encoder.Spec, error) {
	spec := encoder.Spec{Name: arch}
	var err error
	if arch == "auto" {
		if spec.Name, err = archFor(ds, crop); err != nil {
			return spec, fmt.Errorf("%w: choose --arch, and --crop to train on crops of that size", err)
		}
	}
	if _, h, w := ds.Shape(); crop > 0 && (crop < h || crop < w) {
		spec.Transform.CenterCrop = crop
	}
	if normalize {
		if spec.Transform.Mean, spec.Transform.Std, err = data.ChannelStats(ds); err != nil {
			return spec, err
		}
		fmt.Fprintf(os.Stderr, "per-channel normalisation: mean %v std %v\n", spec.Transform.Mean, spec.Transform.Std)
	}
	return spec, nil
}

// archFor picks the reference encoder for the images' size.
func archFor(ds data.Dataset, crop int) (string, error) {
	c, h, w := ds.Shape()
	if crop > 0 {
		h, w = crop, crop
	}
	for _, name := range []string{"basic28x28", "basic32x32", "basic64x64"} {
		a := encoder.Archs[name]
		if a.Size == h && a.Size == w && a.Channels == c {
			return name, nil
		}
	}
	return "", fmt.Errorf("no reference encoder takes %dx%dx%d images", c, h, w)
}
