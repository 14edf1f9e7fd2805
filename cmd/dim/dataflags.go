package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/deepinfomax/deepinfomax/data"
	"github.com/spf13/pflag"
)

// dataFlags are the data-set options shared by train, embed and eval.
type dataFlags struct {
	spec    string
	size    int
	holdOut float64
	coarse  bool
	// heldSeed, when a run's recorded options were taken, is the seed that
	// chose its held-out images (whatever --seed says).
	heldSeed *uint64
}

func (d *dataFlags) register(f *pflag.FlagSet) {
	d.spec = "mnist"
	f.Var((*specValue)(&d.spec), "data", "data set spec ("+data.Specs+")")
	f.IntVar(&d.size, "size", 0, "side that folder, tinyimagenet and celeba images are cropped and resized to (0: folder images keep their size; 64 for the others)")
	f.Float64Var(&d.holdOut, "holdout", 0, "fraction of a folder data set without train/ and test/ held out as its test split")
	f.BoolVar(&d.coarse, "coarse", false, "CIFAR-100: the 20 coarse labels instead of the 100 fine ones")
}

// options are data.Options of the flags; seed picks the held-out images
// unless a run's recorded seed was taken (takeRecorded).
func (d *dataFlags) options(seed uint64) data.Options {
	if d.heldSeed != nil {
		seed = *d.heldSeed
	}
	return data.Options{Size: d.size, HoldOut: d.holdOut, Coarse: d.coarse, Seed: seed}
}

// open opens the data set with options(seed).
func (d *dataFlags) open(seed uint64) (*data.Split, error) {
	return data.Open(d.spec, d.options(seed))
}

// takeRecorded takes a run's recorded data options (nil: a run from before
// they were recorded, which changes nothing) for the flags f did not set,
// and refuses flags that contradict them; dir names the run in errors.
func (d *dataFlags) takeRecorded(f *pflag.FlagSet, rec *data.Options, dir string) error {
	if rec == nil {
		return nil
	}
	for _, c := range []struct {
		flag      string
		same      bool
		have, was any
		why       string
	}{
		{"size", data.SizeFor(d.spec, d.size) == data.SizeFor(d.spec, rec.Size), d.size, rec.Size,
			"its images were resized to that side"},
		{"holdout", d.holdOut == rec.HoldOut, d.holdOut, rec.HoldOut,
			"its test split must be the images it was not trained on"},
		{"coarse", d.coarse == rec.Coarse, d.coarse, rec.Coarse,
			"its labels were those"},
	} {
		if !c.same && f.Changed(c.flag) {
			return fmt.Errorf("--%s %v: %s was trained with --%s %v on %s (%s; --other-data takes the flags as given)", c.flag, c.have, dir, c.flag, c.was, d.spec, c.why)
		}
	}
	// The recorded values, also where a flag agrees with them in another
	// spelling (--size 64 is tinyimagenet's 0).
	d.size, d.holdOut, d.coarse = rec.Size, rec.HoldOut, rec.Coarse
	seed := rec.Seed
	d.heldSeed = &seed
	return nil
}

// specValue is the --data flag: the spec as data.Canonical spells it, with
// a relative directory made absolute, so that runs record one spelling
// ("MNIST" and "mnist" are the same data set) that also holds from another
// working directory.
type specValue string

func (v *specValue) String() string { return string(*v) }

func (v *specValue) Set(s string) error {
	spec := data.Canonical(s)
	if kind, dir, ok := strings.Cut(spec, ":"); ok && dir != "" && !filepath.IsAbs(dir) {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("data directory %s: %w", dir, err)
		}
		spec = kind + ":" + abs
	}
	*v = specValue(spec)
	return nil
}

func (v *specValue) Type() string { return "string" }
