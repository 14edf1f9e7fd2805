package autograd

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

func TestDropoutMask(t *testing.T) {
	x := tensor.New(1001, 101)
	x.Fill(1)
	for _, p := range []float32{0.1, 0.5, 0.9} {
		tp := NewTape()
		y := tp.Dropout(tp.Const(x), p, true, tensor.NewRNG(42))
		if err := tp.Err(); err != nil {
			t.Fatal(err)
		}
		scale := 1 / (1 - p)
		zeros := 0
		for i, v := range y.Data() {
			switch v {
			case 0:
				zeros++
			case scale:
			default:
				t.Fatalf("p=%v: y[%d] = %v, want 0 or %v", p, i, v, scale)
			}
		}
		if frac := float64(zeros) / float64(x.Size()); math.Abs(frac-float64(p)) > 0.01 {
			t.Errorf("p=%v: dropped fraction %v", p, frac)
		}
		// The same seed gives the same mask; another seed a different one.
		same := tp.Dropout(tp.Const(x), p, true, tensor.NewRNG(42))
		other := tp.Dropout(tp.Const(x), p, true, tensor.NewRNG(43))
		diff := 0
		for i, v := range y.Data() {
			if same.Data()[i] != v {
				t.Fatalf("p=%v: same seed, different mask at %d", p, i)
			}
			if other.Data()[i] != v {
				diff++
			}
		}
		if diff == 0 {
			t.Errorf("p=%v: different seeds gave the same mask", p)
		}
	}
}

func TestDropoutValues(t *testing.T) {
	rng := tensor.NewRNG(31)
	x := randTensor(rng, -2, 2, 5, 7)
	tp := NewTape()
	xv := tp.Const(x)
	if y := tp.Dropout(xv, 0.5, false, nil); y != xv {
		t.Errorf("evaluation mode: want x itself")
	}
	if y := tp.Dropout(xv, 0, true, nil); y != xv {
		t.Errorf("p = 0: want x itself")
	}
	for i, v := range tp.Dropout(xv, 1, true, rng).Data() {
		if v != 0 {
			t.Fatalf("p = 1: y[%d] = %v, want 0", i, v)
		}
	}
	y := tp.Dropout(xv, 0.3, true, tensor.NewRNG(9))
	kept := 0
	for i, v := range y.Data() {
		if v != 0 {
			kept++
			if w := x.Data[i] / 0.7; math.Abs(float64(v-w)) > 1e-6*math.Abs(float64(w)) {
				t.Errorf("y[%d] = %v, want %v", i, v, w)
			}
		}
	}
	if kept == 0 || kept == x.Size() {
		t.Errorf("kept %d of %d", kept, x.Size())
	}
}

func TestGradDropout(t *testing.T) {
	rng := tensor.NewRNG(32)
	for _, shape := range [][]int{{3, 5, 7}, {11}, {9, 13}} {
		for _, p := range []float32{0.2, 0.5, 1} {
			x := randTensor(rng, -2, 2, shape...)
			p := p
			checkGrad(t, gradCase{
				name:   fmt.Sprintf("dropout %v p=%v", shape, p),
				inputs: []*tensor.Tensor{x},
				build: func(tp *Tape, in []*Var) *Var {
					return tp.Dropout(in[0], p, true, tensor.NewRNG(5))
				},
			})
		}
	}
}

func TestDropoutErrors(t *testing.T) {
	x := tensor.New(3, 4)
	for _, c := range []struct {
		name, want string
		f          func(tp *Tape) *Var
	}{
		{"negative", "probability", func(tp *Tape) *Var { return tp.Dropout(tp.Const(x), -0.1, true, tensor.NewRNG(1)) }},
		{"above one", "probability", func(tp *Tape) *Var { return tp.Dropout(tp.Const(x), 1.5, true, tensor.NewRNG(1)) }},
		{"nan", "probability", func(tp *Tape) *Var {
			return tp.Dropout(tp.Const(x), float32(math.NaN()), true, tensor.NewRNG(1))
		}},
		{"no rng", "random", func(tp *Tape) *Var { return tp.Dropout(tp.Const(x), 0.5, true, nil) }},
	} {
		tp := NewTape()
		c.f(tp)
		if err := tp.Err(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}

func TestDropoutNoAllocs(t *testing.T) {
	rng := tensor.NewRNG(33)
	for _, shape := range [][]int{{3, 5, 7}, {131, 257}} {
		x := NewParam(randTensor(rng, -1, 1, shape...))
		seed := randTensor(rng, -1, 1, shape...)
		tp := NewTape()
		assertNoAllocsNorm(t, fmt.Sprintf("dropout %v", shape), tp, func() {
			tp.Reset()
			_ = tp.BackwardWith(tp.Dropout(x, 0.3, true, rng), seed)
		})
	}
}
