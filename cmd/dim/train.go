package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/dim"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/spf13/cobra"
)

func trainCmd() *cobra.Command {
	cfg := dim.DefaultConfig()
	var (
		df                dataFlags
		out, measure      string
		epochs, steps     int
		resume, evalAfter bool
		crop, pad         int
		flip              bool
		logEvery          int
		normalize         bool
		prior             string
	)
	cmd := &cobra.Command{
		Use:   "train --data SPEC --out RUN_DIR",
		Short: "Train a Deep InfoMax encoder",
		Long: `Train a Deep InfoMax encoder and its MI networks on the training split of a
data set. Weights (safetensors), config (JSON) and metrics (JSON lines) go to
RUN_DIR; a checkpoint is written after every epoch and at the end, and Ctrl-C
saves one before exiting (exit status 130). --resume continues a run from its
last checkpoint with the checkpoint's own config (model flags are then
ignored) and the same data order, up to the new --epochs or --steps total.

Data specs: ` + data.Specs,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out RUN_DIR is required")
			}
			m, err := mi.ParseMeasure(measure)
			if err != nil {
				return err
			}
			cfg.Measure = m
			if cfg.Prior, err = dim.ParsePrior(prior); err != nil {
				return err
			}
			split, err := df.open(cfg.Seed)
			if err != nil {
				return err
			}
			defer split.Close()
			if cfg.Arch == "auto" {
				if cfg.Arch, err = archFor(split.Train, crop); err != nil {
					return err
				}
			}
			if normalize && !resume {
				if cfg.Mean, cfg.Std, err = data.ChannelStats(split.Train); err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "per-channel normalisation: mean %v std %v\n", cfg.Mean, cfg.Std)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			model, prog, err := dim.Train(ctx, cfg, dim.RunOptions{
				Dir: out, Train: split.Train, DataSpec: df.spec, Epochs: epochs, Steps: steps,
				Resume: resume, Log: os.Stderr, LogEvery: logEvery, Crop: crop, Pad: pad, Flip: flip,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "trained %d steps (%d epochs); checkpoint in %s\n", prog.Step, prog.Epoch, out)
			if !evalAfter {
				return nil
			}
			if split.Test == nil {
				return fmt.Errorf("%s has no test split to evaluate on", df.spec)
			}
			rep, err := evaluate(model, split, evalOptions{layers: dim.Layers, kind: "linear"})
			if err != nil {
				return err
			}
			return writeReport(out, rep)
		},
	}
	f := cmd.Flags()
	df.register(f)
	f.StringVar(&out, "out", "", "run directory for checkpoints, config and metrics")
	f.IntVar(&epochs, "epochs", 1, "epochs to train in total")
	f.IntVar(&steps, "steps", 0, "steps to train in total (overrides --epochs)")
	f.BoolVar(&resume, "resume", false, "continue the run in --out from its last checkpoint")
	f.BoolVar(&evalAfter, "eval", false, "evaluate with linear probes on conv, fc and Y after training")
	f.StringVar(&cfg.Arch, "arch", "auto", "encoder: auto (by image size), basic28x28, basic32x32, basic64x64, alex64x64")
	f.IntVar(&cfg.MIUnits, "mi-units", cfg.MIUnits, "width of the MI networks (paper: 2048; 512 trains ~3x faster on a CPU)")
	f.Float32Var(&cfg.Alpha, "alpha", cfg.Alpha, "weight of global DIM")
	f.Float32Var(&cfg.Beta, "beta", cfg.Beta, "weight of local DIM")
	f.Float32Var(&cfg.Gamma, "gamma", cfg.Gamma, "weight of prior matching (paper's DIM(L): 0.1, DIM(G): 1)")
	f.StringVar(&prior, "prior", string(cfg.Prior), "prior for prior matching: uniform (matched by sigmoid(Y)), gaussian, sphere, ball")
	f.Float32Var(&cfg.GradPenalty, "grad-penalty", cfg.GradPenalty, "weight of the prior discriminator's gradient penalty")
	f.StringVar(&measure, "measure", string(cfg.Measure), "MI estimator: jsd, nce, dv, gan, kl, rkl, h2, x2, w1")
	f.Float64Var(&cfg.LR, "lr", cfg.LR, "Adam learning rate")
	f.IntVar(&cfg.Batch, "batch", cfg.Batch, "batch size")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed for initialisation and data order")
	f.IntVar(&crop, "crop", 0, "random crop side (0: none)")
	f.IntVar(&pad, "pad", 0, "zero padding before random crops")
	f.BoolVar(&flip, "flip", false, "random horizontal flips")
	f.BoolVar(&normalize, "normalize", false, "normalise each channel by the training set's mean and std (default: scale to [-1, 1])")
	f.IntVar(&logEvery, "log-every", 10, "steps between metrics lines")
	return cmd
}

// archFor picks the reference encoder for the images' size.
func archFor(ds data.Dataset, crop int) (string, error) {
	c, h, w := ds.Shape()
	if crop > 0 {
		h, w = crop, crop
	}
	for _, name := range []string{"basic28x28", "basic32x32", "basic64x64"} {
		a := dim.Archs[name]
		if a.Size == h && a.Size == w && a.Channels == c {
			return name, nil
		}
	}
	return "", fmt.Errorf("no encoder for %dx%dx%d images: choose --arch (and --crop to resize)", c, h, w)
}
