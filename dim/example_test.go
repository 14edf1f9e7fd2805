package dim_test

import (
	"fmt"

	"github.com/deepinfomax/deepinfomax/dim"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// One training step of DIM(L) with the basic28x28 encoder on random images.
func Example() {
	cfg := dim.DefaultConfig()
	cfg.MIUnits, cfg.Batch = 64, 8
	model, err := dim.New(cfg)
	if err != nil {
		panic(err)
	}
	x := tensor.New(cfg.Batch, 1, 28, 28)
	tensor.NewRNG(1).Uniform(x, -1, 1)
	tr, err := dim.NewTrainer(model)
	if err != nil {
		panic(err)
	}
	if _, err := tr.Step(x); err != nil {
		panic(err)
	}
	fmt.Println(model.Encoder.Arch.Name, model.Encoder.Arch.LocalShape(), model.State().NumParams() > 0)
	// Output: basic28x28 [128 7 7] true
}
