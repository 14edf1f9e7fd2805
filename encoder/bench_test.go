package encoder

import (
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// BenchmarkEncodeStep times one forward and backward pass (loss = sum of Y
// squared, training mode, no optimiser) of each LayerNet encoder and of
// basic32x32 for comparison, with batch 64. Run with -benchmem: a warm
// step allocates nothing.
//
//	go test -run XXX -bench EncodeStep -benchmem -benchtime 3x ./encoder
func BenchmarkEncodeStep(b *testing.B) {
	for _, name := range []string{"basic32x32", "resnet19_32x32", "resnet34_32x32", "foldresnet19_32x32", "foldresnet34_32x32", "foldmultialex64x64"} {
		b.Run(name, func(b *testing.B) {
			e, err := New(Spec{Name: name}, tensor.NewRNG(1))
			if err != nil {
				b.Fatal(err)
			}
			s := e.Spec()
			x := tensor.New(64, s.Channels, s.Size, s.Size)
			tensor.NewRNG(2).Uniform(x, -1, 1)
			params := nn.StateOf(e, "").Vars()
			tp := autograd.NewTape()
			step := func() {
				tp.Reset()
				autograd.ZeroGrad(params...)
				y := e.Encode(tp, tp.Const(x)).Y
				if err := tp.Backward(tp.Sum(tp.Square(y))); err != nil {
					b.Fatal(err)
				}
			}
			step() // warm the tape's buffers
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				step()
			}
		})
	}
}
