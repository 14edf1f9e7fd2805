package decoder

import (
	"slices"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

func TestShapesAndNames(t *testing.T) {
	for _, c := range []struct {
		channels, size int
		names          string
	}{
		{1, 28, "fc bnfc tconv1 bn1 tconv2 bn2 out"},
		{3, 32, "fc bnfc tconv1 bn1 tconv2 bn2 tconv3 bn3 out"},
		{3, 64, "fc bnfc tconv1 bn1 tconv2 bn2 tconv3 bn3 tconv4 bn4 out"},
	} {
		d, err := New(5, c.channels, c.size, tensor.NewRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		tp := autograd.NewTape()
		z := tensor.New(3, 5)
		tensor.NewRNG(2).Normal(z, 0, 1)
		x := d.Forward(tp, tp.Const(z))
		if err := tp.Err(); err != nil || !slices.Equal(x.Value.Shape, []int{3, c.channels, c.size, c.size}) {
			t.Fatalf("size %d: output %v, %v", c.size, x.Value.Shape, err)
		}
		for _, v := range x.Value.Data {
			if !(v > -1 && v < 1) {
				t.Fatalf("size %d: output %v outside (-1, 1)", c.size, v)
			}
		}
		var names []string
		nn.Walk(d, func(name string, node any) bool {
			if _, ok := node.(nn.Collector); ok {
				names = append(names, name)
				return false
			}
			return true
		})
		if got := joined(names); got != c.names {
			t.Errorf("size %d: layers %q, want %q", c.size, got, c.names)
		}
	}
	for _, size := range []int{30, 3, 9} {
		if _, err := New(5, 3, size, tensor.NewRNG(1)); err == nil {
			t.Errorf("size %d: no error", size)
		}
	}
}

func joined(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}
