package main

import (
	"fmt"

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
		take      func()
		have, was any
	}{
		{"size", d.size == rec.Size, func() { d.size = rec.Size }, d.size, rec.Size},
		{"holdout", d.holdOut == rec.HoldOut, func() { d.holdOut = rec.HoldOut }, d.holdOut, rec.HoldOut},
		{"coarse", d.coarse == rec.Coarse, func() { d.coarse = rec.Coarse }, d.coarse, rec.Coarse},
	} {
		switch {
		case !f.Changed(c.flag):
			c.take()
		case !c.same:
			return fmt.Errorf("--%s %v: %s was trained with --%s %v on %s (its test split must be the one it was not trained on)", c.flag, c.have, dir, c.flag, c.was, d.spec)
		}
	}
	seed := rec.Seed
	d.heldSeed = &seed
	return nil
}

// specValue is the --data flag: the spec as data.Canonical spells it, so
// that runs record one spelling ("MNIST" and "mnist" are the same data set).
type specValue string

func (v *specValue) String() string { return string(*v) }

func (v *specValue) Set(s string) error {
	*v = specValue(data.Canonical(s))
	return nil
}

func (v *specValue) Type() string { return "string" }
