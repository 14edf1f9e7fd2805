package autograd

import (
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

func TestGradLinearSum(t *testing.T) {
	rng := tensor.NewRNG(61)
	x1, w1, b := randTensor(rng, -1, 1, 5, 7), randTensor(rng, -1, 1, 3, 7), randTensor(rng, -1, 1, 3)
	x2, w2 := randTensor(rng, -1, 1, 5, 4), randTensor(rng, -1, 1, 3, 4)
	checkGrad(t, gradCase{name: "linearsum", inputs: []*tensor.Tensor{x1, w1, b, x2, w2},
		build: func(tp *Tape, in []*Var) *Var { return tp.LinearSum(in[0], in[1], in[2], in[3], in[4]) }})
	checkGrad(t, gradCase{name: "linearsum-nobias", inputs: []*tensor.Tensor{x1, w1, x2, w2},
		build: func(tp *Tape, in []*Var) *Var { return tp.LinearSum(in[0], in[1], nil, in[2], in[3]) }})
}

// TestLinearSumShapes checks that mismatched shapes are refused with the
// op's name, and a bias of the wrong size too.
func TestLinearSumShapes(t *testing.T) {
	for _, c := range []struct {
		name                 string
		x1, w1, x2, w2, bias []int
	}{
		{"in1", []int{4, 3}, []int{2, 5}, []int{4, 6}, []int{2, 6}, nil},
		{"rows", []int{4, 3}, []int{2, 3}, []int{5, 6}, []int{2, 6}, nil},
		{"out", []int{4, 3}, []int{2, 3}, []int{4, 6}, []int{3, 6}, nil},
		{"bias", []int{4, 3}, []int{2, 3}, []int{4, 6}, []int{2, 6}, []int{3}},
		{"rank", []int{4, 3, 1}, []int{2, 3}, []int{4, 6}, []int{2, 6}, nil},
	} {
		tp := NewTape()
		v := func(s []int) *Var { return tp.Leaf(tensor.New(s...)) }
		var b *Var
		if c.bias != nil {
			b = v(c.bias)
		}
		tp.LinearSum(v(c.x1), v(c.w1), b, v(c.x2), v(c.w2))
		if err := tp.Err(); err == nil || !strings.Contains(err.Error(), "linearsum") {
			t.Errorf("%s: error %v, want one from linearsum", c.name, err)
		}
	}
}
