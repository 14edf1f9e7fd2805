package autograd

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// refBatchNorm is a naive float64 BatchNorm over an [N,C,S] view of x. It
// returns the output and, in training, the updated running statistics.
func refBatchNorm(x *tensor.Tensor, gamma, beta, rm, rv []float32, training bool, mom, eps float64) (y, newRM, newRV []float64) {
	N, C := x.Shape[0], x.Shape[1]
	S := x.Size() / (N * C)
	cnt := float64(N * S)
	y = make([]float64, x.Size())
	newRM, newRV = make([]float64, C), make([]float64, C)
	for c := 0; c < C; c++ {
		var m, v float64
		if training {
			for n := 0; n < N; n++ {
				for s := 0; s < S; s++ {
					m += float64(x.Data[(n*C+c)*S+s])
				}
			}
			m /= cnt
			for n := 0; n < N; n++ {
				for s := 0; s < S; s++ {
					d := float64(x.Data[(n*C+c)*S+s]) - m
					v += d * d
				}
			}
			v /= cnt
			if rm != nil {
				newRM[c] = (1-mom)*float64(rm[c]) + mom*m
				newRV[c] = (1-mom)*float64(rv[c]) + mom*v*cnt/(cnt-1)
			}
		} else {
			m, v = float64(rm[c]), float64(rv[c])
		}
		g, b := 1.0, 0.0
		if gamma != nil {
			g = float64(gamma[c])
		}
		if beta != nil {
			b = float64(beta[c])
		}
		for n := 0; n < N; n++ {
			for s := 0; s < S; s++ {
				i := (n*C+c)*S + s
				y[i] = (float64(x.Data[i])-m)/math.Sqrt(v+eps)*g + b
			}
		}
	}
	return y, newRM, newRV
}

// refLayerNorm is a naive float64 LayerNorm over the last axis.
func refLayerNorm(x *tensor.Tensor, gamma, beta []float32, eps float64) []float64 {
	D := x.Shape[len(x.Shape)-1]
	y := make([]float64, x.Size())
	for r := 0; r < x.Size()/D; r++ {
		row := x.Data[r*D : r*D+D]
		var m, v float64
		for _, u := range row {
			m += float64(u)
		}
		m /= float64(D)
		for _, u := range row {
			v += (float64(u) - m) * (float64(u) - m)
		}
		v /= float64(D)
		for i, u := range row {
			g, b := 1.0, 0.0
			if gamma != nil {
				g = float64(gamma[i])
			}
			if beta != nil {
				b = float64(beta[i])
			}
			y[r*D+i] = (float64(u)-m)/math.Sqrt(v+eps)*g + b
		}
	}
	return y
}

// normClose reports the first index where got and want differ by more than
// atol + rtol*|want|, or -1.
func normClose(got []float32, want []float64, atol, rtol float64) int {
	if len(got) != len(want) {
		return 0
	}
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); !(d <= atol+rtol*math.Abs(w)) {
			return i
		}
	}
	return -1
}

// normAffineFlags names which of gamma and beta a case uses.
var normAffineFlags = []struct {
	name        string
	gamma, beta bool
}{{"affine", true, true}, {"plain", false, false}, {"gamma", true, false}, {"beta", false, true}}

// normShapes are the BatchNorm test shapes: [N,C] (row path, one and several
// chunks, parallel), [N,C,L] and [N,C,H,W] (channel path, parallel).
var normShapes = [][]int{{7, 5}, {131, 257}, {5, 3, 7}, {3, 5, 3, 3}, {3, 67, 13, 13}}

func TestBatchNormValues(t *testing.T) {
	rng := tensor.NewRNG(11)
	for _, shape := range normShapes {
		C := shape[1]
		for _, af := range normAffineFlags {
			for _, training := range []bool{true, false} {
				name := fmt.Sprintf("%v/%s/train=%v", shape, af.name, training)
				x := randTensor(rng, -1, 3, shape...)
				gamma, beta := randTensor(rng, 0.5, 2, C), randTensor(rng, -1, 1, C)
				rm, rv := randTensor(rng, -1, 1, C), randTensor(rng, 0.5, 2, C)
				var gv, bv *Var
				var gd, bd []float32
				if af.gamma {
					gv, gd = NewParam(gamma), gamma.Data
				}
				if af.beta {
					bv, bd = NewParam(beta), beta.Data
				}
				want, wantRM, wantRV := refBatchNorm(x, gd, bd, rm.Data, rv.Data, training, 0.1, 1e-5)
				rmT, rvT := rm.Clone(), rv.Clone()
				tp := NewTape()
				y := tp.BatchNorm(NewParam(x), gv, bv, rmT, rvT, training, 0.1, 1e-5)
				if err := tp.Err(); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !tensor.EqualShape(y.Shape(), shape) {
					t.Fatalf("%s: shape %v", name, y.Shape())
				}
				if i := normClose(y.Data(), want, 1e-4, 1e-4); i >= 0 {
					t.Errorf("%s: y[%d] = %v, want %v", name, i, y.Data()[i], want[i])
				}
				if training {
					if i := normClose(rmT.Data, wantRM, 1e-6, 1e-5); i >= 0 {
						t.Errorf("%s: running mean[%d] = %v, want %v", name, i, rmT.Data[i], wantRM[i])
					}
					if i := normClose(rvT.Data, wantRV, 1e-6, 1e-5); i >= 0 {
						t.Errorf("%s: running var[%d] = %v, want %v", name, i, rvT.Data[i], wantRV[i])
					}
				} else if normClose(rmT.Data, normF64(rm.Data), 0, 0) >= 0 || normClose(rvT.Data, normF64(rv.Data), 0, 0) >= 0 {
					t.Errorf("%s: evaluation changed the running statistics", name)
				}
			}
		}
	}
}

// TestBatchNormAccuracy checks the statistics of channels whose mean is far
// from zero relative to their spread, and many rows.
func TestBatchNormAccuracy(t *testing.T) {
	rng := tensor.NewRNG(3)
	for _, shape := range [][]int{{2000, 3}, {40, 3, 50}} {
		x := randTensor(rng, -1, 1, shape...)
		for i := range x.Data {
			x.Data[i] = 1000 + x.Data[i]*0.01
		}
		want, _, _ := refBatchNorm(x, nil, nil, nil, nil, true, 0.1, 0)
		tp := NewTape()
		y := tp.BatchNorm(tp.Const(x), nil, nil, nil, nil, true, 0.1, 0)
		if i := normClose(y.Data(), want, 1e-2, 1e-2); i >= 0 {
			t.Errorf("%v: y[%d] = %v, want %v", shape, i, y.Data()[i], want[i])
		}
	}
}

func TestGradBatchNorm(t *testing.T) {
	rng := tensor.NewRNG(12)
	for _, shape := range normShapes {
		C := shape[1]
		for _, af := range normAffineFlags {
			for _, training := range []bool{true, false} {
				x := randTensor(rng, -2, 2, shape...)
				gamma, beta := randTensor(rng, 0.5, 2, C), randTensor(rng, -1, 1, C)
				rm, rv := randTensor(rng, -1, 1, C), randTensor(rng, 0.5, 2, C)
				af, training := af, training
				checkGrad(t, gradCase{
					name:   fmt.Sprintf("batchnorm %v/%s/train=%v", shape, af.name, training),
					inputs: []*tensor.Tensor{x, gamma, beta},
					build: func(tp *Tape, in []*Var) *Var {
						var g, b *Var
						if af.gamma {
							g = in[1]
						}
						if af.beta {
							b = in[2]
						}
						return tp.BatchNorm(in[0], g, b, rm.Clone(), rv.Clone(), training, 0.1, 1e-5)
					},
				})
			}
		}
	}
}

// TestGradBatchNormIntermediate checks the input gradient when BatchNorm's
// input is an intermediate value, whose gradient buffer is fresh (written,
// not cleared and added into), and when that value also feeds another op
// first (accumulated into).
func TestGradBatchNormIntermediate(t *testing.T) {
	rng := tensor.NewRNG(15)
	for _, shape := range [][]int{{9, 5}, {3, 5, 7}} {
		for _, shared := range []bool{false, true} {
			x := randTensor(rng, -2, 2, shape...)
			w := randTensor(rng, -1, 1, shape...)
			shared := shared
			checkGrad(t, gradCase{
				name:   fmt.Sprintf("batchnorm of an intermediate %v shared=%v", shape, shared),
				inputs: []*tensor.Tensor{x, w},
				build: func(tp *Tape, in []*Var) *Var {
					h := tp.Mul(in[0], in[1])
					y := tp.BatchNorm(h, nil, nil, nil, nil, true, 0.1, 1e-5)
					if shared {
						// Recorded after BatchNorm, so its backward runs first.
						return tp.Add(tp.Mul(y, y), tp.Mul(h, h))
					}
					return tp.Mul(y, y)
				},
			})
		}
	}
}

// TestGradBatchNormPartial checks the backward pass when only some inputs
// need a gradient.
func TestGradBatchNormPartial(t *testing.T) {
	rng := tensor.NewRNG(13)
	for _, shape := range [][]int{{9, 5}, {3, 5, 7}} {
		C := shape[1]
		for _, ng := range []map[int]bool{{0: true}, {1: true, 2: true}, {0: true, 2: true}} {
			x := randTensor(rng, -2, 2, shape...)
			gamma, beta := randTensor(rng, 0.5, 2, C), randTensor(rng, -1, 1, C)
			checkGrad(t, gradCase{
				name:   fmt.Sprintf("batchnorm partial %v %v", shape, ng),
				inputs: []*tensor.Tensor{x, gamma, beta},
				noGrad: ng,
				build: func(tp *Tape, in []*Var) *Var {
					return tp.BatchNorm(in[0], in[1], in[2], nil, nil, true, 0.1, 1e-5)
				},
			})
		}
	}
}

func TestLayerNormValues(t *testing.T) {
	rng := tensor.NewRNG(14)
	for _, shape := range [][]int{{7, 5}, {3, 5, 9}, {11}, {131, 257}} {
		D := shape[len(shape)-1]
		for _, af := range normAffineFlags {
			x := randTensor(rng, -1, 3, shape...)
			gamma, beta := randTensor(rng, 0.5, 2, D), randTensor(rng, -1, 1, D)
			var gv, bv *Var
			var gd, bd []float32
			if af.gamma {
				gv, gd = NewParam(gamma), gamma.Data
			}
			if af.beta {
				bv, bd = NewParam(beta), beta.Data
			}
			want := refLayerNorm(x, gd, bd, 1e-5)
			tp := NewTape()
			y := tp.LayerNorm(NewParam(x), gv, bv, 1e-5)
			if err := tp.Err(); err != nil {
				t.Fatalf("%v/%s: %v", shape, af.name, err)
			}
			if i := normClose(y.Data(), want, 1e-4, 1e-4); i >= 0 {
				t.Errorf("%v/%s: y[%d] = %v, want %v", shape, af.name, i, y.Data()[i], want[i])
			}
		}
	}
	// A row far from zero with a small spread.
	x := randTensor(rng, -1, 1, 3, 1000)
	for i := range x.Data {
		x.Data[i] = -500 + 0.01*x.Data[i]
	}
	tp := NewTape()
	if i := normClose(tp.LayerNorm(tp.Const(x), nil, nil, 0).Data(), refLayerNorm(x, nil, nil, 0), 1e-2, 1e-2); i >= 0 {
		t.Errorf("offset rows: element %d differs", i)
	}
}

func TestGradLayerNorm(t *testing.T) {
	rng := tensor.NewRNG(15)
	for _, shape := range [][]int{{7, 5}, {3, 5, 9}, {1, 11}, {131, 257}} {
		D := shape[len(shape)-1]
		for _, af := range normAffineFlags {
			for _, ng := range []map[int]bool{nil, {0: true}} {
				if ng != nil && !af.gamma && !af.beta {
					continue // nothing to differentiate
				}
				x := randTensor(rng, -2, 2, shape...)
				gamma, beta := randTensor(rng, 0.5, 2, D), randTensor(rng, -1, 1, D)
				af := af
				checkGrad(t, gradCase{
					name:   fmt.Sprintf("layernorm %v/%s/nograd=%v", shape, af.name, ng),
					inputs: []*tensor.Tensor{x, gamma, beta},
					noGrad: ng,
					build: func(tp *Tape, in []*Var) *Var {
						var g, b *Var
						if af.gamma {
							g = in[1]
						}
						if af.beta {
							b = in[2]
						}
						return tp.LayerNorm(in[0], g, b, 1e-5)
					},
				})
			}
		}
	}
}

func TestGradAddLayerNorm(t *testing.T) {
	rng := tensor.NewRNG(17)
	for _, shape := range [][]int{{7, 5}, {3, 5, 9}, {131, 257}} {
		D := shape[len(shape)-1]
		for _, c := range []struct {
			name   string
			noGrad map[int]bool
			build  func(tp *Tape, in []*Var) *Var
		}{
			{"both", nil, func(tp *Tape, in []*Var) *Var { return tp.AddLayerNorm(in[0], in[1], in[2], in[3], 1e-5) }},
			{"x only", map[int]bool{1: true}, func(tp *Tape, in []*Var) *Var { return tp.AddLayerNorm(in[0], in[1], in[2], in[3], 1e-5) }},
			{"r only", map[int]bool{0: true}, func(tp *Tape, in []*Var) *Var { return tp.AddLayerNorm(in[0], in[1], in[2], in[3], 1e-5) }},
			{"plain", nil, func(tp *Tape, in []*Var) *Var { return tp.AddLayerNorm(in[0], in[1], nil, nil, 1e-5) }},
			// x and r reach the loss by another path too: their gradients
			// exist when the op's backward runs, which adds into them.
			{"accumulate", nil, func(tp *Tape, in []*Var) *Var {
				return tp.Add(tp.AddLayerNorm(in[0], in[1], in[2], in[3], 1e-5), tp.Mul(in[0], in[1]))
			}},
			{"same input", nil, func(tp *Tape, in []*Var) *Var { return tp.AddLayerNorm(in[0], in[0], in[2], in[3], 1e-5) }},
		} {
			checkGrad(t, gradCase{
				name: fmt.Sprintf("addlayernorm %v/%s", shape, c.name),
				inputs: []*tensor.Tensor{randTensor(rng, -2, 2, shape...), randTensor(rng, -2, 2, shape...),
					randTensor(rng, 0.5, 2, D), randTensor(rng, -1, 1, D)},
				noGrad: c.noGrad,
				build:  c.build,
			})
		}
	}
}

// TestAddLayerNormBits checks that AddLayerNorm's output and gradients are
// bit for bit those of Add followed by LayerNorm, with gradients written
// fresh and added into existing ones.
func TestAddLayerNormBits(t *testing.T) {
	rng := tensor.NewRNG(18)
	for _, shape := range [][]int{{7, 5}, {131, 257}, {64, 512}} {
		D := shape[len(shape)-1]
		xt, rt := randTensor(rng, -2, 2, shape...), randTensor(rng, -2, 2, shape...)
		gt, bt := randTensor(rng, 0.5, 2, D), randTensor(rng, -1, 1, D)
		seed := randTensor(rng, -1, 1, shape...)
		for _, extra := range []bool{false, true} {
			run := func(fused bool) [][]float32 {
				x, r, g, b := NewParam(xt.Clone()), NewParam(rt.Clone()), NewParam(gt.Clone()), NewParam(bt.Clone())
				tp := NewTape()
				xv, rv := tp.Mul(x, tp.Scalar(1)), tp.Mul(r, tp.Scalar(1)) // tape Vars, whose gradients start nil
				var y *Var
				if fused {
					y = tp.AddLayerNorm(xv, rv, g, b, 1e-5)
				} else {
					y = tp.LayerNorm(tp.Add(xv, rv), g, b, 1e-5)
				}
				if extra {
					y = tp.Add(y, tp.Mul(xv, rv))
				}
				if err := tp.BackwardWith(y, seed); err != nil {
					t.Fatal(err)
				}
				return [][]float32{y.Value.Data, x.Grad.Data, r.Grad.Data, g.Grad.Data, b.Grad.Data}
			}
			want, got := run(false), run(true)
			for k, name := range []string{"output", "x grad", "r grad", "gamma grad", "beta grad"} {
				for i := range want[k] {
					if math.Float32bits(got[k][i]) != math.Float32bits(want[k][i]) {
						t.Errorf("%v extra=%v: %s[%d] = %v, want %v (Add then LayerNorm)", shape, extra, name, i, got[k][i], want[k][i])
						break
					}
				}
			}
		}
	}
}

func TestNormErrors(t *testing.T) {
	x2 := tensor.New(4, 3)
	c3, c4 := tensor.New(3), tensor.New(4)
	for _, c := range []struct {
		name, want string
		f          func(tp *Tape) *Var
	}{
		{"bn rank", "batchnorm", func(tp *Tape) *Var { return tp.BatchNorm(tp.Const(tensor.New(5)), nil, nil, nil, nil, true, 0.1, 1e-5) }},
		{"bn gamma", "gamma", func(tp *Tape) *Var {
			return tp.BatchNorm(tp.Const(x2), tp.Const(c4), nil, nil, nil, true, 0.1, 1e-5)
		}},
		{"bn beta", "beta", func(tp *Tape) *Var {
			return tp.BatchNorm(tp.Const(x2), nil, tp.Const(c4), nil, nil, true, 0.1, 1e-5)
		}},
		{"bn running", "running mean", func(tp *Tape) *Var { return tp.BatchNorm(tp.Const(x2), nil, nil, c4, c3, true, 0.1, 1e-5) }},
		{"bn eval", "evaluation", func(tp *Tape) *Var { return tp.BatchNorm(tp.Const(x2), nil, nil, nil, nil, false, 0.1, 1e-5) }},
		{"bn one", "more than one", func(tp *Tape) *Var {
			return tp.BatchNorm(tp.Const(tensor.New(1, 3)), nil, nil, nil, nil, true, 0.1, 1e-5)
		}},
		{"ln gamma", "gamma", func(tp *Tape) *Var { return tp.LayerNorm(tp.Const(x2), tp.Const(c4), nil, 1e-5) }},
		{"ln beta", "beta", func(tp *Tape) *Var { return tp.LayerNorm(tp.Const(x2), nil, tp.Const(c4), 1e-5) }},
		{"ln rank", "layernorm", func(tp *Tape) *Var { return tp.LayerNorm(tp.Const(&tensor.Tensor{Data: []float32{1}}), nil, nil, 1e-5) }},
		{"addln shapes", "addlayernorm", func(tp *Tape) *Var { return tp.AddLayerNorm(tp.Const(x2), tp.Const(tensor.New(3, 4)), nil, nil, 1e-5) }},
		{"addln gamma", "addlayernorm", func(tp *Tape) *Var { return tp.AddLayerNorm(tp.Const(x2), tp.Const(x2), tp.Const(c4), nil, 1e-5) }},
	} {
		tp := NewTape()
		c.f(tp)
		if err := tp.Err(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}

// assertNoAllocsNorm runs step once to warm the tape, then checks that further
// steps (each starting with Reset) allocate nothing.
func assertNoAllocsNorm(t *testing.T, name string, tp *Tape, step func()) {
	t.Helper()
	step()
	if err := tp.Err(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if a := testing.AllocsPerRun(5, step); a != 0 {
		t.Errorf("%s: %v allocations per forward+backward, want 0", name, a)
	}
}

func TestNormNoAllocs(t *testing.T) {
	rng := tensor.NewRNG(16)
	for _, shape := range [][]int{{7, 5}, {131, 257}, {3, 67, 13, 13}} {
		C := shape[1]
		x := NewParam(randTensor(rng, -1, 1, shape...))
		gamma, beta := NewParam(randTensor(rng, 0.5, 2, C)), NewParam(randTensor(rng, -1, 1, C))
		rm, rv := tensor.New(C), tensor.New(C)
		rv.Fill(1)
		seed := randTensor(rng, -1, 1, shape...)
		tp := NewTape()
		for _, training := range []bool{true, false} {
			assertNoAllocsNorm(t, fmt.Sprintf("batchnorm %v train=%v", shape, training), tp, func() {
				tp.Reset()
				y := tp.BatchNorm(x, gamma, beta, rm, rv, training, 0.1, 1e-5)
				_ = tp.BackwardWith(y, seed)
			})
		}
		D := shape[len(shape)-1]
		lg, lb := NewParam(randTensor(rng, 0.5, 2, D)), NewParam(randTensor(rng, -1, 1, D))
		assertNoAllocsNorm(t, fmt.Sprintf("layernorm %v", shape), tp, func() {
			tp.Reset()
			y := tp.LayerNorm(x, lg, lb, 1e-5)
			_ = tp.BackwardWith(y, seed)
		})
		assertNoAllocsNorm(t, fmt.Sprintf("addlayernorm %v", shape), tp, func() {
			tp.Reset()
			y := tp.AddLayerNorm(x, x, lg, lb, 1e-5)
			_ = tp.BackwardWith(y, seed)
		})
	}
}

func normF64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// benchNormOp times forward+backward of op on a [3136, 2048] input.
func benchNormOp(b *testing.B, op func(tp *Tape, x, g, bt *Var) *Var) {
	const R, C = 3136, 2048
	rng := tensor.NewRNG(1)
	x := NewParam(randTensor(rng, -1, 1, R, C))
	g, bt := NewParam(randTensor(rng, 0.5, 2, C)), NewParam(randTensor(rng, -1, 1, C))
	seed := randTensor(rng, -1, 1, R, C)
	tp := NewTape()
	step := func() {
		tp.Reset()
		y := op(tp, x, g, bt)
		if err := tp.BackwardWith(y, seed); err != nil {
			b.Fatal(err)
		}
	}
	step()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/op")
}

func BenchmarkBatchNormNC(b *testing.B) {
	rm, rv := tensor.New(2048), tensor.New(2048)
	benchNormOp(b, func(tp *Tape, x, g, bt *Var) *Var {
		return tp.BatchNorm(x, g, bt, rm, rv, true, 0.1, 1e-5)
	})
}

func BenchmarkLayerNorm(b *testing.B) {
	benchNormOp(b, func(tp *Tape, x, g, bt *Var) *Var { return tp.LayerNorm(x, g, bt, 1e-5) })
}

// TestBatchNormReLU checks BatchNormReLU against BatchNorm followed by
// ReLU, values and every gradient bit for bit, on [N,C] and [N,C,H,W]
// inputs, in training and evaluation mode, affine or not; and its gradient
// against finite differences.
func TestBatchNormReLU(t *testing.T) {
	rng := tensor.NewRNG(16)
	for _, shape := range [][]int{{9, 5}, {4, 3, 5, 7}} {
		C := shape[1]
		for _, affine := range []bool{false, true} {
			for _, training := range []bool{true, false} {
				x := randTensor(rng, -2, 2, shape...)
				gamma, beta := randTensor(rng, 0.5, 2, C), randTensor(rng, -1, 1, C)
				rm, rv := randTensor(rng, -1, 1, C), randTensor(rng, 0.5, 2, C)
				seed := randTensor(rng, -1, 1, shape...)
				run := func(fused bool) (out []float32, grads [][]float32) {
					tp := NewTape()
					xv := NewParam(x.Clone())
					var g, b *Var
					if affine {
						g, b = NewParam(gamma.Clone()), NewParam(beta.Clone())
					}
					// An intermediate input, so that both gradient paths
					// (fresh and accumulated) of BatchNorm are taken.
					two := tensor.New(shape...)
					two.Fill(2)
					h := tp.Sub(tp.Mul(xv, xv), tp.Const(two))
					var y *Var
					if fused {
						y = tp.BatchNormReLU(h, g, b, rm.Clone(), rv.Clone(), training, 0.1, 1e-5)
					} else {
						y = tp.ReLU(tp.BatchNorm(h, g, b, rm.Clone(), rv.Clone(), training, 0.1, 1e-5))
					}
					if err := tp.BackwardWith(y, seed); err != nil {
						t.Fatal(err)
					}
					grads = [][]float32{xv.Grad.Data}
					if affine {
						grads = append(grads, g.Grad.Data, b.Grad.Data)
					}
					return y.Value.Data, grads
				}
				got, gg := run(true)
				want, wg := run(false)
				name := fmt.Sprintf("%v affine=%v train=%v", shape, affine, training)
				zeros := 0
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%s: value %d = %v, want %v", name, i, got[i], want[i])
					}
					if want[i] == 0 {
						zeros++
					}
				}
				if zeros == 0 || zeros == len(want) {
					t.Fatalf("%s: %d of %d outputs clipped: the ReLU is not tested", name, zeros, len(want))
				}
				for k := range wg {
					for i := range wg[k] {
						if gg[k][i] != wg[k][i] {
							t.Fatalf("%s: gradient %d[%d] = %v, want %v", name, k, i, gg[k][i], wg[k][i])
						}
					}
				}
			}
		}
	}
	checkGrad(t, gradCase{
		name:   "batchnormrelu",
		inputs: []*tensor.Tensor{randTensor(rng, -2, 2, 6, 4, 3), randTensor(rng, 0.5, 2, 4), randTensor(rng, -1, 1, 4)},
		build: func(tp *Tape, in []*Var) *Var {
			return tp.BatchNormReLU(in[0], in[1], in[2], nil, nil, true, 0.1, 1e-5)
		},
	})
}
