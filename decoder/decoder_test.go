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
		d, err := New(5, c.channels, c.size, 0, tensor.NewRNG(1))
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
		if _, err := New(5, 3, size, 0, tensor.NewRNG(1)); err == nil {
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

func TestLayout(t *testing.T) {
	for _, c := range []struct{ size, s0, k int }{
		{28, 7, 2}, {32, 4, 3}, {64, 4, 4}, {96, 6, 4}, {16, 4, 2}, {8, 4, 1}, {7, 0, 0}, {6, 0, 0}, {27, 0, 0},
	} {
		s0, k, err := Layout(c.size)
		if (err != nil) != (c.k == 0) || s0 != c.s0 || k != c.k {
			t.Errorf("Layout(%d) = %d, %d, %v; want %d, %d", c.size, s0, k, err, c.s0, c.k)
		}
	}
}

// TestReferenceParameters: the 32x32 decoder has the reference's layers
// (its parameter count), and a narrow one still works at 64x64.
func TestReferenceParameters(t *testing.T) {
	d, err := New(64, 3, 32, 0, tensor.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	want := (64*8192 + 8192 + 2*8192) + // linear to 512x4x4, BatchNorm
		(512*256*16 + 256 + 2*256) + (256*128*16 + 128 + 2*128) + (128*64*16 + 64 + 2*64) + // tconvs, BatchNorm
		64*3*9 // conv, no bias
	if got := nn.StateOf(d, "").NumParams(); got != want {
		t.Errorf("32x32 decoder: %d parameters, want %d", got, want)
	}
	narrow, err := New(5, 3, 64, 8, tensor.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	tp := autograd.NewTape()
	x := narrow.Forward(tp, tp.Const(tensor.New(2, 5)))
	if err := tp.Err(); err != nil || !slices.Equal(x.Value.Shape, []int{2, 3, 64, 64}) {
		t.Errorf("narrow 64x64 decoder: %v, %v", x.Value.Shape, err)
	}
}
