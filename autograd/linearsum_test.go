package autograd

import (
	"fmt"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/internal/testutil"
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

// TestLinearSumBits checks LinearSum against Add of two Linear ops bit for
// bit, value and every gradient: the MI networks' shapes (the products run
// as one through kernels.Sgemm2), odd ones (two products), inputs and
// weights that need no gradient, and gradients that add into earlier ones
// (the shortcut's input also feeding another op).
func TestLinearSumBits(t *testing.T) {
	for _, c := range []struct {
		n, in1, in2, out int
		bias             bool
	}{
		{3136 / 4, 512, 128, 512, true},
		{64, 512, 64, 512, true},
		{37, 7, 5, 3, false},
		{70, 96, 33, 40, true},
	} {
		for _, frozen := range []string{"", "x1", "x2", "w1", "w2", "shared"} {
			name := fmt.Sprintf("%+v/%s", c, frozen)
			rng := tensor.NewRNG(uint64(c.n + c.in1))
			vals := []*tensor.Tensor{
				randTensor(rng, -1, 1, c.n, c.in1), randTensor(rng, -1, 1, c.out, c.in1), randTensor(rng, -1, 1, c.out),
				randTensor(rng, -1, 1, c.n, c.in2), randTensor(rng, -1, 1, c.out, c.in2),
			}
			seed := randTensor(rng, -1, 1, c.n, c.out)
			run := func(fused bool) []*tensor.Tensor {
				tp := NewTape()
				in := make([]*Var, len(vals))
				for i, v := range vals {
					if (frozen == "x1" && i == 0) || (frozen == "w1" && i == 1) || (frozen == "x2" && i == 3) || (frozen == "w2" && i == 4) {
						in[i] = tp.Const(v)
					} else {
						in[i] = tp.Leaf(v)
					}
				}
				var b *Var
				if c.bias {
					b = in[2]
				}
				var y *Var
				if fused {
					y = tp.LinearSum(in[0], in[1], b, in[3], in[4])
				} else {
					y = tp.Add(tp.Linear(in[0], in[1], b), tp.Linear(in[3], in[4], nil))
				}
				if frozen == "shared" { // x2 feeds another op too: its gradient is added into
					y = tp.Add(y, tp.Linear(in[3], in[4], nil))
				}
				if err := tp.BackwardWith(y, seed); err != nil {
					t.Fatal(err)
				}
				outs := []*tensor.Tensor{y.Value}
				for _, v := range in {
					if v.Grad != nil {
						outs = append(outs, v.Grad)
					} else {
						outs = append(outs, tensor.New(1))
					}
				}
				return outs
			}
			fused, plain := run(true), run(false)
			for i := range fused {
				if !testutil.SameBits(fused[i].Data, plain[i].Data) {
					t.Fatalf("%s: output %d differs from Add(Linear, Linear)", name, i)
				}
			}
		}
	}
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
