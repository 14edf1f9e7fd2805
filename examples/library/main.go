// Command library is the README's library example, compiled: train DIM(L)
// on MNIST for a few hundred steps through the shared run loop, load the
// encoder back from the run directory as any user of a run would, embed a
// part of each split and fit a linear probe on Y.
//
//	go run ./examples/library [-steps 200] [-out DIR]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/dim"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/eval"
	"github.com/deepinfomax/deepinfomax/train"
)

func main() {
	steps := flag.Int("steps", 200, "training steps")
	out := flag.String("out", "", "run directory (default: a temporary one)")
	flag.Parse()
	if err := run(*steps, *out); err != nil {
		log.Fatal(err)
	}
}

func run(steps int, dir string) error {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "dim-library")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	split, err := data.Open("mnist", data.Options{})
	if err != nil {
		return err
	}
	defer split.Close()

	// The method: DIM(L) with prior matching, on the reference encoder.
	cfg := dim.DefaultConfig()  // local DIM, JSD, 2048 MI units, Adam 1e-4, batch 64
	cfg.MIUnits = 512           // about 4-5x faster than 2048 on a CPU
	cfg.SetWeight("gamma", 0.1) // prior matching ("alpha": global DIM, "coord": coordinates)
	spec := encoder.Spec{Name: "basic28x28"}
	newModel := func() (train.Method, error) { return dim.New(cfg, spec) }

	// The shared loop: progress, metrics.jsonl, checkpoints, resume.
	_, progress, err := train.Train(context.Background(), newModel,
		train.Options{Dir: dir, Train: split.Train, DataSpec: "mnist", Steps: steps, Log: os.Stderr})
	if err != nil {
		return err
	}

	// Any run directory's encoder, whatever method trained it.
	enc, info, err := train.LoadEncoder(dir)
	if err != nil {
		return err
	}
	first := func(ds data.Dataset, n int) data.Dataset {
		idx := make([]int, min(n, ds.Len()))
		for i := range idx {
			idx[i] = i
		}
		return data.Subset(ds, idx)
	}
	trainEmb, err := encoder.Embed(enc, first(split.Train, 10000), encoder.EmbedOptions{Taps: []string{encoder.TapY}})
	if err != nil {
		return err
	}
	testEmb, err := encoder.Embed(enc, first(split.Test, 2000), encoder.EmbedOptions{Taps: []string{encoder.TapY}})
	if err != nil {
		return err
	}
	res, err := eval.LinearProbe(trainEmb.Taps["y"], trainEmb.Labels, testEmb.Taps["y"], testEmb.Labels, 10, eval.ProbeConfig{})
	if err != nil {
		return err
	}
	fmt.Printf("%s run of %s after %d steps: linear probe on Y, test accuracy %.2f%%\n", info.Method, info.Encoder.Name, progress.Step, 100*res.TestAcc)
	return nil
}
