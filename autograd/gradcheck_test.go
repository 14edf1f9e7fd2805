package autograd

import (
	"fmt"
	"math"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// gradCase describes one gradient check: build computes the op's output
// from Vars holding the inputs; inputs are their initial values.
type gradCase struct {
	name   string
	inputs []*tensor.Tensor
	build  func(tp *Tape, in []*Var) *Var
	// noGrad lists inputs that are not differentiated (indices, constants).
	noGrad map[int]bool
	// h is the finite-difference step (default 1e-2); atol/rtol the tolerance
	// (defaults 2e-3 and 2e-2).
	h, atol, rtol float64
	// maxProbe bounds the number of elements probed per input (default 40).
	maxProbe int
}

// randTensor returns a tensor of the shape with values uniform in [lo, hi).
func randTensor(rng *tensor.RNG, lo, hi float32, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	rng.Uniform(t, lo, hi)
	return t
}

// awayFromZero pushes values out of (-margin, margin) so that kinks (ReLU,
// abs, max) are not straddled by finite differences.
func awayFromZero(t *tensor.Tensor, margin float32) *tensor.Tensor {
	for i, v := range t.Data {
		if v >= 0 && v < margin {
			t.Data[i] = v + margin
		} else if v < 0 && v > -margin {
			t.Data[i] = v - margin
		}
	}
	return t
}

// checkGrad compares the op's backward pass with central finite differences.
// The loss is L = sum_i r_i * out_i for a fixed random r, accumulated in
// float64; each probed input element x is moved to x±h and the forward pass
// recomputed on a fresh tape.
func checkGrad(t *testing.T, c gradCase) {
	t.Helper()
	h, atol, rtol, maxProbe := c.h, c.atol, c.rtol, c.maxProbe
	if h == 0 {
		h = 1e-2
	}
	if atol == 0 {
		atol = 2e-3
	}
	if rtol == 0 {
		rtol = 2e-2
	}
	if maxProbe == 0 {
		maxProbe = 40
	}
	rng := tensor.NewRNG(7)

	tp := NewTape()
	vars := make([]*Var, len(c.inputs))
	for i, x := range c.inputs {
		if c.noGrad[i] {
			vars[i] = NewConst(x.Clone())
		} else {
			vars[i] = NewParam(x.Clone())
		}
	}
	out := c.build(tp, vars)
	if err := tp.Err(); err != nil {
		t.Fatalf("%s: forward: %v", c.name, err)
	}
	r := randTensor(rng, -1, 1, out.Value.Shape...)
	if err := tp.BackwardWith(out, r); err != nil {
		t.Fatalf("%s: backward: %v", c.name, err)
	}

	loss := func() float64 {
		tp := NewTape()
		vs := make([]*Var, len(c.inputs))
		for i, x := range c.inputs {
			vs[i] = NewConst(x)
		}
		o := c.build(tp, vs)
		if err := tp.Err(); err != nil {
			t.Fatalf("%s: forward: %v", c.name, err)
		}
		var s float64
		for i, v := range o.Value.Data {
			s += float64(v) * float64(r.Data[i])
		}
		return s
	}
	for i, x := range c.inputs {
		if c.noGrad[i] {
			continue
		}
		g := vars[i].Grad
		step := 1
		if x.Size() > maxProbe {
			step = x.Size()/maxProbe + 1
		}
		for j := (i * 3) % step; j < x.Size(); j += step {
			orig := x.Data[j]
			x.Data[j] = orig + float32(h)
			lp := loss()
			x.Data[j] = orig - float32(h)
			lm := loss()
			x.Data[j] = orig
			num := (lp - lm) / (2 * h)
			ana := float64(g.Data[j])
			if d := math.Abs(num - ana); d > atol+rtol*math.Max(math.Abs(num), math.Abs(ana)) {
				t.Errorf("%s: input %d element %d: analytic %.6g, numeric %.6g", c.name, i, j, ana, num)
			}
		}
	}
}

func TestGradUnary(t *testing.T) {
	rng := tensor.NewRNG(1)
	shape := []int{3, 5, 7}
	cases := []struct {
		name string
		lo   float32
		hi   float32
		kink bool
		f    func(tp *Tape, x *Var) *Var
	}{
		{"exp", -2, 2, false, (*Tape).Exp},
		{"log", 0.5, 3, false, (*Tape).Log},
		{"relu", -2, 2, true, (*Tape).ReLU},
		{"leakyrelu", -2, 2, true, func(tp *Tape, x *Var) *Var { return tp.LeakyReLU(x, 0.2) }},
		{"sigmoid", -4, 4, false, (*Tape).Sigmoid},
		{"tanh", -2, 2, false, (*Tape).Tanh},
		{"softplus", -30, 30, false, (*Tape).Softplus},
		{"neg", -2, 2, false, (*Tape).Neg},
		{"affine", -2, 2, false, func(tp *Tape, x *Var) *Var { return tp.Affine(x, -1.5, 0.25) }},
		{"square", -2, 2, false, (*Tape).Square},
		{"sqrt", 0.5, 3, false, (*Tape).Sqrt},
		{"abs", -2, 2, true, (*Tape).Abs},
	}
	for _, c := range cases {
		x := randTensor(rng, c.lo, c.hi, shape...)
		if c.kink {
			awayFromZero(x, 0.05)
		}
		f := c.f
		checkGrad(t, gradCase{name: c.name, inputs: []*tensor.Tensor{x},
			build: func(tp *Tape, in []*Var) *Var { return f(tp, in[0]) }})
	}
}

func TestUnaryValues(t *testing.T) {
	tp := NewTape()
	x := tp.Const(&tensor.Tensor{Shape: []int{4}, Data: []float32{-100, -1, 0, 100}})
	for _, c := range []struct {
		name string
		got  *Var
		want []float64
	}{
		{"softplus", tp.Softplus(x), []float64{0, math.Log1p(math.Exp(-1)), math.Log(2), 100}},
		{"sigmoid", tp.Sigmoid(x), []float64{0, 1 / (1 + math.E), 0.5, 1}},
		{"relu", tp.ReLU(x), []float64{0, 0, 0, 100}},
	} {
		for i, w := range c.want {
			if g := float64(c.got.Value.Data[i]); math.Abs(g-w) > 1e-6*math.Max(1, math.Abs(w)) {
				t.Errorf("%s[%d] = %v, want %v", c.name, i, g, w)
			}
		}
	}
}

// fmtShape is a helper for test names.
func fmtShape(s []int) string { return fmt.Sprint(s) }
