package autograd

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// refSoftmax computes, naively in float64, the log-softmax, the softmax and
// the log-sum-exp (shape with the axis removed) of x along axis.
func refSoftmax(x *tensor.Tensor, axis int) (logsm, sm, lse []float64) {
	if axis < 0 {
		axis += x.Rank()
	}
	outer, inner := 1, 1
	for _, d := range x.Shape[:axis] {
		outer *= d
	}
	for _, d := range x.Shape[axis+1:] {
		inner *= d
	}
	K := x.Shape[axis]
	logsm, sm, lse = make([]float64, x.Size()), make([]float64, x.Size()), make([]float64, outer*inner)
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			at := func(k int) int { return (o*K+k)*inner + i }
			m := math.Inf(-1)
			for k := 0; k < K; k++ {
				m = math.Max(m, float64(x.Data[at(k)]))
			}
			var s float64
			for k := 0; k < K; k++ {
				s += math.Exp(float64(x.Data[at(k)]) - m)
			}
			l := m + math.Log(s)
			lse[o*inner+i] = l
			for k := 0; k < K; k++ {
				logsm[at(k)] = float64(x.Data[at(k)]) - l
				sm[at(k)] = math.Exp(float64(x.Data[at(k)]) - l)
			}
		}
	}
	return logsm, sm, lse
}

// softmaxCases are (shape, axis) pairs: every axis of a 3-D input (block and
// row paths), a large matrix (parallel rows) and a single column.
var softmaxCases = []struct {
	shape []int
	axis  int
}{
	{[]int{3, 5, 7}, 0}, {[]int{3, 5, 7}, 1}, {[]int{3, 5, 7}, 2}, {[]int{3, 5, 7}, -1}, {[]int{3, 5, 7}, -3},
	{[]int{131, 263}, -1}, {[]int{131, 263}, 0}, {[]int{9, 1}, 1}, {[]int{11}, 0},
}

func TestSoftmaxValues(t *testing.T) {
	rng := tensor.NewRNG(21)
	for _, c := range softmaxCases {
		name := fmt.Sprintf("%v axis %d", c.shape, c.axis)
		x := randTensor(rng, -5, 5, c.shape...)
		wantLog, wantSm, wantLse := refSoftmax(x, c.axis)
		tp := NewTape()
		xv := tp.Const(x)
		for _, o := range []struct {
			op   string
			got  *Var
			want []float64
		}{
			{"logsoftmax", tp.LogSoftmax(xv, c.axis), wantLog},
			{"softmax", tp.Softmax(xv, c.axis), wantSm},
			{"logsumexp", tp.LogSumExp(xv, c.axis, false), wantLse},
			{"logsumexp keepdim", tp.LogSumExp(xv, c.axis, true), wantLse},
		} {
			if err := tp.Err(); err != nil {
				t.Fatalf("%s %s: %v", name, o.op, err)
			}
			if i := normClose(o.got.Data(), o.want, 1e-5, 1e-5); i >= 0 {
				t.Errorf("%s %s: [%d] = %v, want %v", name, o.op, i, o.got.Data()[i], o.want[i])
			}
		}
		// Shapes of the reductions.
		a := c.axis
		if a < 0 {
			a += len(c.shape)
		}
		keep := append([]int(nil), c.shape...)
		keep[a] = 1
		drop := append(append([]int(nil), c.shape[:a]...), c.shape[a+1:]...)
		if s := tp.LogSumExp(xv, c.axis, true).Shape(); !tensor.EqualShape(s, keep) {
			t.Errorf("%s: logsumexp keepdim shape %v, want %v", name, s, keep)
		}
		if s := tp.LogSumExp(xv, c.axis, false).Shape(); !tensor.EqualShape(s, drop) {
			t.Errorf("%s: logsumexp shape %v, want %v", name, s, drop)
		}
	}
}

// TestSoftmaxStable feeds logits that overflow a naive exp, and rows of -Inf.
func TestSoftmaxStable(t *testing.T) {
	inf := float32(math.Inf(-1))
	x := &tensor.Tensor{Shape: []int{3, 3}, Data: []float32{1000, 1001, 1002, -1000, -1001, -1002, inf, 0, inf}}
	for _, axis := range []int{1, 0} {
		tp := NewTape()
		xv := tp.Const(x)
		wantLog, wantSm, wantLse := refSoftmax(x, axis)
		for _, o := range []struct {
			op   string
			got  *Var
			want []float64
		}{
			{"logsoftmax", tp.LogSoftmax(xv, axis), wantLog},
			{"softmax", tp.Softmax(xv, axis), wantSm},
			{"logsumexp", tp.LogSumExp(xv, axis, false), wantLse},
		} {
			for i, w := range o.want {
				g := float64(o.got.Data()[i])
				if !(g == w || math.Abs(g-w) <= 1e-4*math.Max(1, math.Abs(w))) {
					t.Errorf("axis %d %s[%d] = %v, want %v", axis, o.op, i, g, w)
				}
			}
		}
	}
	// A whole row of -Inf: log-sum-exp is -Inf, not NaN.
	tp := NewTape()
	row := tp.Const(&tensor.Tensor{Shape: []int{1, 2}, Data: []float32{inf, inf}})
	if v := tp.LogSumExp(row, -1, false).Item(); !math.IsInf(float64(v), -1) {
		t.Errorf("logsumexp of -Inf row = %v, want -Inf", v)
	}
}

func TestGradSoftmax(t *testing.T) {
	rng := tensor.NewRNG(22)
	for _, c := range softmaxCases {
		for _, op := range []struct {
			name string
			f    func(tp *Tape, x *Var, axis int) *Var
		}{
			{"logsoftmax", (*Tape).LogSoftmax},
			{"softmax", (*Tape).Softmax},
			{"logsumexp", func(tp *Tape, x *Var, axis int) *Var { return tp.LogSumExp(x, axis, false) }},
			{"logsumexp keepdim", func(tp *Tape, x *Var, axis int) *Var { return tp.LogSumExp(x, axis, true) }},
		} {
			x := randTensor(rng, -3, 3, c.shape...)
			axis, f := c.axis, op.f
			checkGrad(t, gradCase{
				name:   fmt.Sprintf("%s %v axis %d", op.name, c.shape, c.axis),
				inputs: []*tensor.Tensor{x},
				build:  func(tp *Tape, in []*Var) *Var { return f(tp, in[0], axis) },
			})
		}
	}
}

// refCrossEntropy is the naive float64 mean of lse_i - x[i, label_i].
func refCrossEntropy(x *tensor.Tensor, labels []int) float64 {
	_, _, lse := refSoftmax(x, 1)
	K := x.Shape[1]
	var s float64
	for i, l := range labels {
		s += lse[i] - float64(x.Data[i*K+l])
	}
	return s / float64(len(labels))
}

func TestCrossEntropy(t *testing.T) {
	rng := tensor.NewRNG(23)
	for _, shape := range [][]int{{1, 1}, {7, 5}, {3, 11}, {131, 263}} {
		N, K := shape[0], shape[1]
		labels := make([]int, N)
		for i := range labels {
			labels[i] = rng.IntN(K)
		}
		x := randTensor(rng, -4, 4, shape...)
		tp := NewTape()
		got := tp.CrossEntropy(tp.Const(x), labels)
		if err := tp.Err(); err != nil {
			t.Fatalf("%v: %v", shape, err)
		}
		if len(got.Shape()) != 0 {
			t.Errorf("%v: loss shape %v, want a scalar", shape, got.Shape())
		}
		if w := refCrossEntropy(x, labels); math.Abs(float64(got.Item())-w) > 1e-5*math.Max(1, w) {
			t.Errorf("%v: loss %v, want %v", shape, got.Item(), w)
		}
		checkGrad(t, gradCase{
			name:   fmt.Sprintf("crossentropy %v", shape),
			inputs: []*tensor.Tensor{x},
			build:  func(tp *Tape, in []*Var) *Var { return tp.CrossEntropy(in[0], labels) },
		})
	}
	// Large logits stay finite.
	tp := NewTape()
	x := &tensor.Tensor{Shape: []int{2, 3}, Data: []float32{1000, 0, -1000, 500, 501, 499}}
	if got, w := tp.CrossEntropy(tp.Const(x), []int{2, 1}).Item(), refCrossEntropy(x, []int{2, 1}); math.Abs(float64(got)-w) > 1e-3 {
		t.Errorf("large logits: loss %v, want %v", got, w)
	}
}

func TestSoftmaxErrors(t *testing.T) {
	x := tensor.New(3, 4)
	for _, c := range []struct {
		name, want string
		f          func(tp *Tape) *Var
	}{
		{"softmax axis", "axis 2", func(tp *Tape) *Var { return tp.Softmax(tp.Const(x), 2) }},
		{"logsoftmax axis", "axis -3", func(tp *Tape) *Var { return tp.LogSoftmax(tp.Const(x), -3) }},
		{"logsumexp axis", "logsumexp", func(tp *Tape) *Var { return tp.LogSumExp(tp.Const(x), 5, true) }},
		{"ce label", "out of range", func(tp *Tape) *Var { return tp.CrossEntropy(tp.Const(x), []int{0, 4, 1}) }},
		{"ce negative", "out of range", func(tp *Tape) *Var { return tp.CrossEntropy(tp.Const(x), []int{0, -1, 1}) }},
		{"ce count", "labels", func(tp *Tape) *Var { return tp.CrossEntropy(tp.Const(x), []int{0, 1}) }},
		{"ce rank", "logits", func(tp *Tape) *Var { return tp.CrossEntropy(tp.Const(tensor.New(3)), []int{0, 1, 2}) }},
	} {
		tp := NewTape()
		c.f(tp)
		if err := tp.Err(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}

func TestSoftmaxNoAllocs(t *testing.T) {
	rng := tensor.NewRNG(24)
	for _, c := range softmaxCases {
		x := NewParam(randTensor(rng, -3, 3, c.shape...))
		seed := randTensor(rng, -1, 1, c.shape...)
		a := c.axis
		if a < 0 {
			a += len(c.shape)
		}
		redSeed := randTensor(rng, -1, 1, x.Value.Size()/c.shape[a])
		tp := NewTape()
		for _, op := range []struct {
			name string
			f    func() *Var
			seed *tensor.Tensor
		}{
			{"logsoftmax", func() *Var { return tp.LogSoftmax(x, c.axis) }, seed},
			{"softmax", func() *Var { return tp.Softmax(x, c.axis) }, seed},
			{"logsumexp", func() *Var { return tp.LogSumExp(x, c.axis, true) }, redSeed},
		} {
			assertNoAllocsNorm(t, fmt.Sprintf("%s %v axis %d", op.name, c.shape, c.axis), tp, func() {
				tp.Reset()
				_ = tp.BackwardWith(op.f(), op.seed)
			})
		}
	}
	for _, shape := range [][]int{{7, 5}, {131, 263}} {
		x := NewParam(randTensor(rng, -3, 3, shape...))
		labels := make([]int, shape[0])
		for i := range labels {
			labels[i] = rng.IntN(shape[1])
		}
		tp := NewTape()
		assertNoAllocsNorm(t, fmt.Sprintf("crossentropy %v", shape), tp, func() {
			tp.Reset()
			_ = tp.Backward(tp.CrossEntropy(x, labels))
		})
	}
}
