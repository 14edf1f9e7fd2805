package nn

import (
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/internal/testutil"
	"github.com/deepinfomax/deepinfomax/tensor"
)

func TestConstructorsPanicClearly(t *testing.T) {
	rng := tensor.NewRNG(1)
	testutil.WantPanic(t, "NewLinear(-1, 2)", func() { NewLinear(-1, 2, true, rng) }, "nn.NewLinear", "in = -1")
	testutil.WantPanic(t, "NewLinear(2, -1)", func() { NewLinear(2, -1, true, rng) }, "nn.NewLinear", "out = -1")
	testutil.WantPanic(t, "NewLinear nil rng", func() { NewLinear(2, 2, true, nil) }, "nn.NewLinear", "nil rng")
	testutil.WantPanic(t, "NewConv2d kernel -3", func() { NewConv2d(1, 2, -3, 1, 0, true, rng) }, "nn.NewConv2d", "kernel = -3")
	testutil.WantPanic(t, "NewConvTranspose2d in -1", func() { NewConvTranspose2d(-1, 2, 3, 1, 0, 0, true, rng) }, "nn.NewConvTranspose2d", "in = -1")
	testutil.WantPanic(t, "NewBatchNorm(-1)", func() { NewBatchNorm(-1, true) }, "nn.NewBatchNorm", "-1")
	testutil.WantPanic(t, "NewLayerNorm(-1)", func() { NewLayerNorm(-1) }, "nn.NewLayerNorm", "-1")
}

func TestZeroFanInBiasIsZero(t *testing.T) {
	// PyTorch's bound is 0 without inputs; 1/sqrt(0) made every bias NaN.
	rng := tensor.NewRNG(1)
	for name, b := range map[string]*autograd.Var{
		"linear":     NewLinear(0, 3, true, rng).B,
		"conv2d":     NewConv2d(0, 3, 3, 1, 1, true, rng).B,
		"convT":      NewConvTranspose2d(2, 3, 0, 1, 0, 0, true, rng).B,
		"conv2d k=0": NewConv2d(2, 3, 0, 1, 0, true, rng).B,
	} {
		for _, v := range b.Value.Data {
			if v != 0 {
				t.Errorf("%s: bias %v, want zeros", name, b.Value.Data)
				break
			}
		}
	}
}

func TestSequentialRejectsNilModules(t *testing.T) {
	testutil.WantPanic(t, "NewSequential(nil)", func() { NewSequential(nil) }, "Sequential.Add", `module "0" is nil`)
	testutil.WantPanic(t, "NewSequential(nil *Linear)", func() { NewSequential(ReLU, (*Linear)(nil)) }, `module "1" is nil`)
	s := &Sequential{Names: []string{"0"}, Modules: []Module{nil}}
	tp := autograd.NewTape()
	testutil.WantPanic(t, "Forward", func() { s.Forward(tp, tp.Const(tensor.New(1, 2))) }, "Sequential.Forward", "module 0 is nil")
}
