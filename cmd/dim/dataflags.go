package main

import (
	"github.com/deepinfomax/deepinfomax/data"
	"github.com/spf13/pflag"
)

// dataFlags are the data-set options shared by train, embed and eval.
type dataFlags struct {
	spec    string
	size    int
	holdOut float64
	coarse  bool
}

func (d *dataFlags) register(f *pflag.FlagSet) {
	d.spec = "mnist"
	f.Var((*specValue)(&d.spec), "data", "data set spec ("+data.Specs+")")
	f.IntVar(&d.size, "size", 0, "side that folder, tinyimagenet and celeba images are cropped and resized to (0: folder images keep their size; 64 for the others)")
	f.Float64Var(&d.holdOut, "holdout", 0, "fraction of a folder data set without train/ and test/ held out as its test split")
	f.BoolVar(&d.coarse, "coarse", false, "CIFAR-100: the 20 coarse labels instead of the 100 fine ones")
}

// open opens the data set; seed picks the held-out images.
func (d *dataFlags) open(seed uint64) (*data.Split, error) {
	return data.Open(d.spec, data.Options{Size: d.size, HoldOut: d.holdOut, Coarse: d.coarse, Seed: seed})
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
