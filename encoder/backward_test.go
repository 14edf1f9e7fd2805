package encoder

import (
	"math"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// TestEveryEncoderForwardBackward runs every registered encoder forward
// and backward on random input of its size (batch 2): the loss sums the
// squares of every standard tap, and every parameter tensor must get a
// finite gradient that is not all zero.
func TestEveryEncoderForwardBackward(t *testing.T) {
	for _, name := range Names() {
		if strings.HasPrefix(Doc(name), "a test") {
			continue // small encoders registered by this package's tests
		}
		t.Run(name, func(t *testing.T) {
			enc, err := New(Spec{Name: name}, tensor.NewRNG(1))
			if err != nil {
				t.Fatal(err)
			}
			s := enc.Spec()
			x := tensor.New(2, s.Channels, s.Size, s.Size)
			tensor.NewRNG(2).Uniform(x, -1, 1)
			st := nn.StateOf(enc, "encoder")
			autograd.ZeroGrad(st.Vars()...)
			tp := autograd.NewTape()
			f := enc.Encode(tp, tp.Const(x))
			var loss *autograd.Var
			for _, tap := range []*autograd.Var{f.Local, f.Conv, f.FC, f.Y} {
				l := tp.Sum(tp.Square(tap))
				if loss == nil {
					loss = l
				} else {
					loss = tp.Add(loss, l)
				}
			}
			if err := tp.Backward(loss); err != nil {
				t.Fatal(err)
			}
			for _, p := range st.Params {
				nonzero := false
				for _, g := range p.Var.Grad.Data {
					if math.IsNaN(float64(g)) || math.IsInf(float64(g), 0) {
						t.Fatalf("%s: gradient %v", p.Name, g)
					}
					nonzero = nonzero || g != 0
				}
				if !nonzero {
					t.Errorf("%s: gradient all zero", p.Name)
				}
			}
		})
	}
}
