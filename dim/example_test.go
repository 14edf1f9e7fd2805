package dim_test

import (
	"fmt"

	"github.com/deepinfomax/deepinfomax/dim"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// One training step of DIM(L) with the basic28x28 encoder on random images.
func Example() {
	cfg := dim.DefaultConfig()
	cfg.MIUnits, cfg.Batch = 64, 8
	model, err := dim.New(cfg, encoder.Spec{Name: "basic28x28"})
	if err != nil {
		panic(err)
	}
	x := tensor.New(cfg.Batch, 1, 28, 28)
	tensor.NewRNG(1).Uniform(x, -1, 1)
	losses, err := model.StepImages(x)
	if err != nil {
		panic(err)
	}
	local, _ := model.Encoder().TapShape(encoder.TapLocal)
	fmt.Println(model.Encoder().Spec().Name, local, losses[0].Name, nn.StateOf(model, "").NumParams() > 0)
	// Output: basic28x28 [128 7 7] loss true
}
