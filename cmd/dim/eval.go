package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/deepinfomax/deepinfomax/checkpoint"
	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/dim"
	"github.com/deepinfomax/deepinfomax/eval"
	"github.com/deepinfomax/deepinfomax/runlog"
	"github.com/spf13/cobra"
)

type evalOptions struct {
	layers []string
	probe  eval.ProbeConfig
}

// report is what eval.json holds.
type report struct {
	Model   string                 `json:"model"`
	Data    string                 `json:"data"`
	Arch    string                 `json:"arch"`
	Random  bool                   `json:"random_encoder,omitempty"`
	Probe   string                 `json:"probe"`
	Results map[string]layerResult `json:"results"`
	Seconds float64                `json:"seconds"`
}

type layerResult struct {
	Dims        int     `json:"dims"`
	TrainAcc    float64 `json:"train_acc"`
	TestAcc     float64 `json:"test_acc"`
	ValAcc      float64 `json:"val_acc"`      // on the held-out part of train that chose:
	WeightDecay float64 `json:"weight_decay"` // the probe's L2 strength
	Epochs      int     `json:"epochs"`       // and its training epochs
}

func evalCmd() *cobra.Command {
	var (
		modelDir, out, layers string
		df                    dataFlags
		random                bool
		seed                  uint64
		o                     evalOptions
	)
	cmd := &cobra.Command{
		Use:   "eval --model RUN_DIR --data SPEC",
		Short: "Evaluate a trained encoder with linear probes on frozen features",
		Long: `Embed the training and test splits with the frozen encoder and train a
multinomial logistic regression (linear probe) on standardised conv, fc and Y
features; print train and test accuracy per layer and write eval.json.
--random evaluates a randomly initialised encoder instead (a baseline).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !random && modelDir == "" {
				return errors.New("--model RUN_DIR is required (or --random)")
			}
			split, err := df.open(seed)
			if err != nil {
				return err
			}
			defer split.Close()
			if split.Test == nil {
				return fmt.Errorf("%s has no test split (folders: pass --holdout)", df.spec)
			}
			var model *dim.Model
			if random {
				cfg := dim.DefaultConfig()
				cfg.Seed = seed
				if cfg.Arch, err = archFor(split.Train, 0); err != nil {
					return err
				}
				model, err = dim.New(cfg)
			} else {
				model, _, _, err = dim.LoadCheckpoint(modelDir)
			}
			if err != nil {
				return err
			}
			o.layers = strings.Split(layers, ",")
			o.probe.Seed = seed
			rep, err := evaluate(model, split, o)
			if err != nil {
				return err
			}
			rep.Model, rep.Random = modelDir, random
			if out == "" {
				out = modelDir
			}
			if out == "" {
				return printReport(rep)
			}
			return writeReport(out, rep)
		},
	}
	f := cmd.Flags()
	f.StringVar(&modelDir, "model", "", "run directory written by dim train")
	df.register(f)
	f.StringVar(&out, "out", "", "directory for eval.json (default: the run directory)")
	f.StringVar(&layers, "layers", "conv,fc,y", "feature layers to probe")
	f.BoolVar(&random, "random", false, "evaluate a randomly initialised encoder (baseline)")
	f.Uint64Var(&seed, "seed", 0, "seed of the probe (and of the random encoder)")
	f.IntVar(&o.probe.Epochs, "probe-epochs", 30, "most epochs of probe training (the number is chosen on a validation split)")
	return cmd
}

// evaluate embeds both splits and runs a linear probe on each layer.
func evaluate(model *dim.Model, split *data.Split, o evalOptions) (*report, error) {
	start := time.Now()
	classes := split.Train.NumClasses()
	if classes < 2 {
		return nil, fmt.Errorf("%s is unlabelled: a probe needs labels", split.Name)
	}
	embed := func(name string, ds data.Dataset) (*dim.Embeddings, error) {
		bar := runlog.NewProgress(os.Stderr, ds.Len(), "embed "+name)
		done := 0
		e, err := dim.Embed(model.Encoder, ds, 500, func(n int) { bar.Add(n-done, ""); done = n })
		bar.Finish()
		return e, err
	}
	tr, err := embed("train", split.Train)
	if err != nil {
		return nil, err
	}
	te, err := embed("test", split.Test)
	if err != nil {
		return nil, err
	}
	rep := &report{Data: split.Name, Arch: model.Config.Arch, Probe: "linear (logistic regression on standardised features, Adam 1e-3, batch 256; weight decay and epochs chosen on 10% of train)", Results: map[string]layerResult{}}
	for _, l := range o.layers {
		xtr, err := tr.Layer(l)
		if err != nil {
			return nil, err
		}
		xte, _ := te.Layer(l)
		fmt.Fprintf(os.Stderr, "probe %s (%d features)...\n", l, xtr.Shape[1])
		r, err := eval.LinearProbe(xtr, tr.Labels, xte, te.Labels, classes, o.probe)
		if err != nil {
			return nil, fmt.Errorf("probe %s: %w", l, err)
		}
		rep.Results[l] = layerResult{Dims: xtr.Shape[1], TrainAcc: r.TrainAcc, TestAcc: r.TestAcc, ValAcc: r.ValAcc, WeightDecay: r.WeightDecay, Epochs: r.Epochs}
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func printReport(rep *report) error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "layer\tfeatures\ttrain acc\ttest acc\tprobe (val acc, weight decay, epochs)\n")
	for _, l := range dim.Layers {
		if r, ok := rep.Results[l]; ok {
			fmt.Fprintf(tw, "%s\t%d\t%.2f%%\t%.2f%%\t%.2f%%, %g, %d\n", l, r.Dims, 100*r.TrainAcc, 100*r.TestAcc, 100*r.ValAcc, r.WeightDecay, r.Epochs)
		}
	}
	return tw.Flush()
}

// writeReport prints the table, writes eval.json into dir and appends an
// "eval" line to the run's metrics.
func writeReport(dir string, rep *report) error {
	if err := printReport(rep); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	path := filepath.Join(dir, "eval.json")
	if err := checkpoint.WriteJSONAtomic(path, rep); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if m, err := runlog.Open(filepath.Join(dir, dim.MetricsFile), true); err == nil {
		fields := map[string]any{"data": rep.Data, "random_encoder": rep.Random}
		for l, r := range rep.Results {
			fields[l+"_test_acc"] = r.TestAcc
			fields[l+"_train_acc"] = r.TrainAcc
		}
		m.Log("eval", fields)
		m.Close()
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", path)
	return nil
}
