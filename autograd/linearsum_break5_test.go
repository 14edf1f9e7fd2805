package autograd

import (
	"fmt"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/internal/testutil"
	"github.com/deepinfomax/deepinfomax/tensor"
)

type lsCase struct {
	n, in1, in2, out int
	bias             bool
}

// lsCompare runs LinearSum and Add(Linear, Linear) under one of several
// modes and returns a description of the first differing output ("" when
// bit-identical).
func lsCompare(t *testing.T, c lsCase, mode string) string {
	t.Helper()
	in2 := c.in2
	if mode == "samex" || mode == "samew" || mode == "sameboth" {
		in2 = c.in1
	}
	rng := tensor.NewRNG(uint64(7*c.n + 3*c.in1 + c.out + len(mode)))
	vals := []*tensor.Tensor{
		randTensor(rng, -1, 1, c.n, c.in1), randTensor(rng, -1, 1, c.out, c.in1), randTensor(rng, -1, 1, c.out),
		randTensor(rng, -1, 1, c.n, in2), randTensor(rng, -1, 1, c.out, in2),
	}
	seed := randTensor(rng, -1, 1, c.n, c.out)
	run := func(fused bool) []*tensor.Tensor {
		tp := NewTape()
		in := make([]*Var, len(vals))
		for i, v := range vals {
			in[i] = tp.Leaf(v)
		}
		switch mode {
		case "constx1":
			in[0] = tp.Const(vals[0])
		case "constw2":
			in[4] = tp.Const(vals[4])
		case "lateconstx2":
			in[3] = tp.Const(vals[3])
		case "constall":
			in[0], in[1], in[3], in[4] = tp.Const(vals[0]), tp.Const(vals[1]), tp.Const(vals[3]), tp.Const(vals[4])
		case "samex":
			in[3] = in[0]
		case "samew":
			in[4] = in[1]
		case "sameboth":
			in[3], in[4] = in[0], in[1]
		}
		var b *Var
		if c.bias {
			b = in[2]
		}
		pre := []*Var{}
		if mode == "accum" { // every input's gradient accumulates from an earlier use
			for _, i := range []int{0, 1, 3, 4} {
				pre = append(pre, tp.Scale(in[i], 0.37))
			}
		}
		var y *Var
		if fused {
			y = tp.LinearSum(in[0], in[1], b, in[3], in[4])
		} else {
			y = tp.Add(tp.Linear(in[0], in[1], b), tp.Linear(in[3], in[4], nil))
		}
		if mode == "late" || mode == "lateconstx2" { // uses recorded after LinearSum: their gradients exist when its backward runs
			for _, i := range []int{0, 1, 3, 4} {
				pre = append(pre, tp.Scale(in[i], 0.37))
			}
		}
		loss := y
		var err error
		if len(pre) > 0 {
			// sum of pre's adds into gradients after (in backward order) LinearSum
			s := tp.Sum(y)
			for _, p := range pre {
				s = tp.Add(s, tp.Sum(p))
			}
			loss = s
			err = tp.Backward(loss)
		} else {
			err = tp.BackwardWith(y, seed)
		}
		if err != nil {
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
			nd := 0
			for j := range fused[i].Data {
				if fused[i].Data[j] != plain[i].Data[j] {
					nd++
				}
			}
			return fmt.Sprintf("output %d (0=value,1=x1,2=w1,3=b,4=x2,5=w2) differs in %d of %d elements", i, nd, len(fused[i].Data))
		}
	}
	return ""
}

// TestLinearSumBreak5Shapes: shapes with in1 a multiple of 32 (Sgemm2 as
// one product) and not, out not a multiple of 32, N = 1; k dims below,
// at and above the AVX-512 kc (512).
func TestLinearSumBreak5Shapes(t *testing.T) {
	cases := []lsCase{
		{1, 32, 5, 7, true}, {1, 64, 64, 33, false}, {13, 31, 1, 40, true}, {14, 96, 33, 1, true},
		{15, 128, 129, 50, false}, {64, 512, 64, 512, true}, {40, 33, 32, 100, true},
		{20, 64, 513, 30, true}, {20, 32, 1000, 30, false}, // in2 > kc: forward k blocks
		{600, 64, 48, 20, true},    // N > kc: weight gradients' k blocks
		{784, 512, 128, 512, true}, // the MI networks' local shapes, a quarter of the rows
		{30, 64, 40, 600, true},    // out > kc: input gradients' k blocks
	}
	for _, c := range cases {
		if d := lsCompare(t, c, "plain"); d != "" {
			t.Errorf("%+v: %s", c, d)
		}
	}
}

func TestLinearSumBreak5Modes(t *testing.T) {
	cases := []lsCase{{13, 64, 40, 70, true}, {17, 33, 20, 9, false}, {600, 64, 64, 40, true}, {20, 64, 64, 600, false}}
	for _, c := range cases {
		for _, mode := range []string{"constx1", "constw2", "constall", "accum", "late", "lateconstx2", "samex", "samew", "sameboth"} {
			if mode == "constall" && !c.bias {
				continue // nothing would need a gradient
			}
			if d := lsCompare(t, c, mode); d != "" {
				t.Errorf("%+v/%s: %s", c, mode, d)
			}
		}
	}
}

// TestLinearSumBreak5Errors: bad inputs are refused with the op's name and
// no panic; a failed tape stays failed.
func TestLinearSumBreak5Errors(t *testing.T) {
	tp := NewTape()
	v := func(s ...int) *Var { return tp.Leaf(tensor.New(s...)) }
	for name, f := range map[string]func() *Var{
		"nil x1":  func() *Var { return tp.LinearSum(nil, v(2, 3), nil, v(4, 6), v(2, 6)) },
		"nil w2":  func() *Var { return tp.LinearSum(v(4, 3), v(2, 3), nil, v(4, 6), nil) },
		"w rank":  func() *Var { return tp.LinearSum(v(4, 3), v(2, 3, 1), nil, v(4, 6), v(2, 6)) },
		"x2 rank": func() *Var { return tp.LinearSum(v(4, 3), v(2, 3), nil, v(24), v(2, 6)) },
		"in2":     func() *Var { return tp.LinearSum(v(4, 3), v(2, 3), nil, v(4, 6), v(2, 5)) },
		"bias2d":  func() *Var { return tp.LinearSum(v(4, 3), v(2, 3), v(1, 3), v(4, 6), v(2, 6)) },
	} {
		tp = NewTape()
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s: panic %v", name, r)
				}
			}()
			f()
		}()
		if err := tp.Err(); err == nil || !strings.Contains(err.Error(), "linearsum") {
			t.Errorf("%s: error %v, want one from linearsum", name, err)
		}
	}
}
