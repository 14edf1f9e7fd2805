package train_test

import (
	"context"
	"fmt"
	"os"

	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/dim"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/train"
)

// Train DIM for a few steps on a tiny in-memory data set, then load only
// the encoder back from the run directory, as evaluation does.
func Example() {
	// Eight 28x28 grey images with a simple pattern.
	pix := make([]uint8, 8*28*28)
	for i := range pix {
		pix[i] = uint8(i * 37 % 251)
	}
	ds, err := data.NewMemory(1, 28, 28, pix, nil, 0)
	if err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "dim-run")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	cfg := dim.DefaultConfig()
	cfg.MIUnits, cfg.Batch = 16, 4
	spec := encoder.Spec{Name: "basic28x28", Transform: data.Transform{Mean: []float32{0.13}, Std: []float32{0.31}}}
	newDIM := func() (train.Method, error) { return dim.New(cfg, spec) }
	_, p, err := train.Train(context.Background(), newDIM, train.Options{Dir: dir, Train: ds, DataSpec: "example", Steps: 2})
	if err != nil {
		panic(err)
	}
	fmt.Printf("trained %d steps, epoch %d\n", p.Step, p.Epoch)

	enc, info, err := train.LoadEncoder(dir)
	if err != nil {
		panic(err)
	}
	s := enc.Spec()
	fmt.Println(info.Method, s.Name, s.Transform.Mean, s.Transform.Std)
	fmt.Println("progress step", info.Progress.Step, "on", info.Progress.Data)
	// Output:
	// trained 2 steps, epoch 1
	// dim basic28x28 [0.13] [0.31]
	// progress step 2 on example
}
