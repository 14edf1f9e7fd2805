package autograd

import (
	"math"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

func TestGradBinaryBroadcast(t *testing.T) {
	rng := tensor.NewRNG(2)
	shapes := []struct{ a, b []int }{
		{[]int{3, 5}, []int{3, 5}},
		{[]int{3, 5}, []int{5}},
		{[]int{3, 1, 7}, []int{5, 1}},
		{[]int{1}, []int{3, 5}},
		{[]int{3, 5, 7, 1}, []int{1, 5, 1, 3}},
		{[]int{}, []int{3}},
	}
	ops := []struct {
		name string
		f    func(tp *Tape, a, b *Var) *Var
	}{
		{"add", (*Tape).Add}, {"sub", (*Tape).Sub}, {"mul", (*Tape).Mul}, {"div", (*Tape).Div},
	}
	for _, s := range shapes {
		for _, op := range ops {
			a := randTensor(rng, -2, 2, s.a...)
			b := randTensor(rng, 0.5, 2, s.b...)
			f := op.f
			checkGrad(t, gradCase{name: op.name + fmtShape(s.a) + fmtShape(s.b), inputs: []*tensor.Tensor{a, b},
				build: func(tp *Tape, in []*Var) *Var { return f(tp, in[0], in[1]) }})
		}
	}
}

func TestBinaryBroadcastValues(t *testing.T) {
	tp := NewTape()
	a := tp.Const(&tensor.Tensor{Shape: []int{2, 1}, Data: []float32{1, 2}})
	b := tp.Const(&tensor.Tensor{Shape: []int{3}, Data: []float32{10, 20, 30}})
	got := tp.Add(a, b)
	want := []float32{11, 21, 31, 12, 22, 32}
	if !tensor.EqualShape(got.Value.Shape, []int{2, 3}) {
		t.Fatalf("shape %v", got.Value.Shape)
	}
	for i, w := range want {
		if got.Value.Data[i] != w {
			t.Fatalf("add = %v, want %v", got.Value.Data, want)
		}
	}
	tp.Add(a, tp.Const(tensor.New(3, 4)))
	if tp.Err() == nil {
		t.Fatal("no error for shapes [2 1] and [3 4]")
	}
}

func TestGradReduce(t *testing.T) {
	rng := tensor.NewRNG(3)
	cases := []struct {
		shape []int
		axes  []int
		keep  bool
	}{
		{[]int{3, 5, 7}, []int{1}, false},
		{[]int{3, 5, 7}, []int{0, 2}, true},
		{[]int{3, 5, 7}, []int{-1}, false},
		{[]int{5, 3}, []int{0, 1}, false},
		{[]int{7}, []int{0}, true},
	}
	for _, c := range cases {
		c := c
		for _, kind := range []string{"sum", "mean", "max"} {
			x := randTensor(rng, -2, 2, c.shape...)
			// Spread values apart so that max has a clear winner under ±h.
			for i := range x.Data {
				x.Data[i] = float32(i%11)*0.3 + float32(i)*0.001 - 1.5
			}
			perm := rng.Perm(len(x.Data))
			y := x.Clone()
			for i, p := range perm {
				x.Data[i] = y.Data[p]
			}
			k := kind
			checkGrad(t, gradCase{name: kind + fmtShape(c.shape) + fmtShape(c.axes), inputs: []*tensor.Tensor{x},
				build: func(tp *Tape, in []*Var) *Var {
					switch k {
					case "sum":
						return tp.SumAxes(in[0], c.axes, c.keep)
					case "mean":
						return tp.MeanAxes(in[0], c.axes, c.keep)
					}
					return tp.MaxAxes(in[0], c.axes, c.keep)
				}, h: 1e-3, atol: 5e-3})
		}
	}
	x := randTensor(rng, -1, 1, 5, 3)
	checkGrad(t, gradCase{name: "sum-all", inputs: []*tensor.Tensor{x}, build: func(tp *Tape, in []*Var) *Var { return tp.Sum(in[0]) }})
	checkGrad(t, gradCase{name: "mean-all", inputs: []*tensor.Tensor{x}, build: func(tp *Tape, in []*Var) *Var { return tp.Mean(in[0]) }})
}

func TestReduceValues(t *testing.T) {
	rng := tensor.NewRNG(4)
	x := randTensor(rng, -1, 1, 3, 5, 7)
	tp := NewTape()
	xv := tp.Const(x)
	s := tp.SumAxes(xv, []int{0, 2}, false)
	m := tp.MaxAxes(xv, []int{1}, true)
	if !tensor.EqualShape(s.Value.Shape, []int{5}) || !tensor.EqualShape(m.Value.Shape, []int{3, 1, 7}) {
		t.Fatalf("shapes %v %v", s.Value.Shape, m.Value.Shape)
	}
	for j := 0; j < 5; j++ {
		var want float64
		for i := 0; i < 3; i++ {
			for k := 0; k < 7; k++ {
				want += float64(x.Data[(i*5+j)*7+k])
			}
		}
		if math.Abs(float64(s.Value.Data[j])-want) > 1e-5 {
			t.Errorf("sum[%d] = %v, want %v", j, s.Value.Data[j], want)
		}
	}
	for i := 0; i < 3; i++ {
		for k := 0; k < 7; k++ {
			want := float32(math.Inf(-1))
			for j := 0; j < 5; j++ {
				want = max(want, x.Data[(i*5+j)*7+k])
			}
			if got := m.Value.Data[i*7+k]; got != want {
				t.Errorf("max[%d,%d] = %v, want %v", i, k, got, want)
			}
		}
	}
}

func TestGradMatMul(t *testing.T) {
	rng := tensor.NewRNG(5)
	for _, c := range []struct {
		batch, m, n, k int
		ta, tb         bool
	}{
		{0, 3, 5, 7, false, false}, {0, 3, 5, 7, true, false}, {0, 3, 5, 7, false, true}, {0, 3, 5, 7, true, true},
		{3, 5, 1, 7, false, false}, {3, 5, 7, 3, true, true}, {2, 1, 1, 1, false, true},
	} {
		sa, sb := []int{c.m, c.k}, []int{c.k, c.n}
		if c.ta {
			sa = []int{c.k, c.m}
		}
		if c.tb {
			sb = []int{c.n, c.k}
		}
		if c.batch > 0 {
			sa = append([]int{c.batch}, sa...)
			sb = append([]int{c.batch}, sb...)
		}
		a, b := randTensor(rng, -1, 1, sa...), randTensor(rng, -1, 1, sb...)
		c := c
		checkGrad(t, gradCase{name: "matmul" + fmtShape(sa) + fmtShape(sb), inputs: []*tensor.Tensor{a, b},
			build: func(tp *Tape, in []*Var) *Var { return tp.BatchedMatMul(in[0], in[1], c.ta, c.tb) }})
		// Values against a naive product.
		tp := NewTape()
		out := tp.BatchedMatMul(tp.Const(a), tp.Const(b), c.ta, c.tb)
		nb := max(c.batch, 1)
		for bi := 0; bi < nb; bi++ {
			for i := 0; i < c.m; i++ {
				for j := 0; j < c.n; j++ {
					var want float64
					for l := 0; l < c.k; l++ {
						av := a.Data[bi*c.m*c.k+i*c.k+l]
						if c.ta {
							av = a.Data[bi*c.m*c.k+l*c.m+i]
						}
						bv := b.Data[bi*c.k*c.n+l*c.n+j]
						if c.tb {
							bv = b.Data[bi*c.k*c.n+j*c.k+l]
						}
						want += float64(av) * float64(bv)
					}
					if got := out.Value.Data[bi*c.m*c.n+i*c.n+j]; math.Abs(float64(got)-want) > 1e-5 {
						t.Fatalf("%+v: [%d,%d,%d] = %v, want %v", c, bi, i, j, got, want)
					}
				}
			}
		}
	}
}

func TestGradLinear(t *testing.T) {
	rng := tensor.NewRNG(6)
	x, w, b := randTensor(rng, -1, 1, 5, 7), randTensor(rng, -1, 1, 3, 7), randTensor(rng, -1, 1, 3)
	checkGrad(t, gradCase{name: "linear", inputs: []*tensor.Tensor{x, w, b},
		build: func(tp *Tape, in []*Var) *Var { return tp.Linear(in[0], in[1], in[2]) }})
	checkGrad(t, gradCase{name: "linear-nobias", inputs: []*tensor.Tensor{x, w},
		build: func(tp *Tape, in []*Var) *Var { return tp.Linear(in[0], in[1], nil) }})
}

func TestGradShapeOps(t *testing.T) {
	rng := tensor.NewRNG(8)
	x := randTensor(rng, -1, 1, 3, 5, 7)
	y := randTensor(rng, -1, 1, 3, 2, 7)
	big := randTensor(rng, -1, 1, 5, 64, 7, 31) // above permuteParallelMin
	for _, c := range []gradCase{
		{name: "reshape", inputs: []*tensor.Tensor{x}, build: func(tp *Tape, in []*Var) *Var { return tp.Reshape(in[0], 7, -1) }},
		{name: "flatten", inputs: []*tensor.Tensor{x}, build: func(tp *Tape, in []*Var) *Var { return tp.Flatten(in[0]) }},
		// An op's output reshaped twice and used before and after: the last
		// reshape's input takes its output's gradient memory, into which
		// the other uses then add.
		{name: "reshape shared", inputs: []*tensor.Tensor{x}, build: func(tp *Tape, in []*Var) *Var {
			h := tp.Mul(in[0], in[0])
			a := tp.Mul(h, h)
			r := tp.Reshape(tp.Reshape(h, 5, -1), 7, -1)
			return tp.Add(tp.Add(tp.Reshape(a, 7, -1), tp.Mul(r, r)), tp.Reshape(h, 7, -1))
		}},
		{name: "permute", inputs: []*tensor.Tensor{x}, build: func(tp *Tape, in []*Var) *Var { return tp.Permute(in[0], 2, 0, 1) }},
		{name: "permute channels last", inputs: []*tensor.Tensor{x}, build: func(tp *Tape, in []*Var) *Var { return tp.Permute(in[0], 0, 2, 1) }},
		{name: "permute rank 1", inputs: []*tensor.Tensor{randTensor(rng, -1, 1, 11)}, build: func(tp *Tape, in []*Var) *Var { return tp.Permute(in[0], 0) }},
		// Large enough to split across the worker pool; the second permute's
		// gradient is written fresh, the first's added into it.
		{name: "permute parallel", inputs: []*tensor.Tensor{big}, build: func(tp *Tape, in []*Var) *Var {
			h := tp.Mul(in[0], in[0])
			return tp.Add(tp.Permute(h, 0, 2, 3, 1), tp.Permute(h, 0, 2, 3, 1))
		}},
		{name: "slice", inputs: []*tensor.Tensor{x}, build: func(tp *Tape, in []*Var) *Var { return tp.Slice(in[0], 1, 1, 4) }},
		{name: "concat", inputs: []*tensor.Tensor{x, y}, build: func(tp *Tape, in []*Var) *Var { return tp.Concat(1, in[0], in[1], in[0]) }},
		// Repeated and skipped rows: the gradient of a repeated row sums.
		{name: "gather", inputs: []*tensor.Tensor{x}, build: func(tp *Tape, in []*Var) *Var { return tp.Gather(in[0], []int{2, 0, 2, 2}) }},
	} {
		checkGrad(t, c)
	}
}

// TestPermuteEmpty checks permutes of tensors with an axis of length 0,
// forward and backward.
func TestPermuteEmpty(t *testing.T) {
	for _, c := range []struct {
		shape, perm []int
	}{{[]int{0, 5}, []int{0, 1}}, {[]int{5, 0}, []int{1, 0}}, {[]int{0, 3, 4}, []int{0, 2, 1}}, {[]int{3, 0, 4}, []int{1, 0, 2}}} {
		tp := NewTape()
		x := tp.Leaf(tensor.New(c.shape...))
		y := tp.Permute(x, c.perm...)
		if err := tp.Err(); err != nil {
			t.Fatalf("%v by %v: %v", c.shape, c.perm, err)
		}
		if y.Value.Size() != 0 {
			t.Errorf("%v by %v: %d elements, want 0", c.shape, c.perm, y.Value.Size())
		}
		if err := tp.BackwardWith(tp.Add(y, y), tensor.New(y.Value.Shape...)); err != nil {
			t.Errorf("%v by %v: backward: %v", c.shape, c.perm, err)
		}
	}
}

// TestPermuteParallelValues checks a permute split across the worker pool
// (NCHW to NHWC, as dim's local maps) element by element.
func TestPermuteParallelValues(t *testing.T) {
	const N, C, H, W = 5, 64, 7, 31
	x := randTensor(tensor.NewRNG(9), -1, 1, N, C, H, W)
	tp := NewTape()
	y := tp.Permute(tp.Const(x), 0, 2, 3, 1).Value
	for n := range N {
		for c := range C {
			for h := range H {
				for w := range W {
					if got, want := y.Data[((n*H+h)*W+w)*C+c], x.Data[((n*C+c)*H+h)*W+w]; got != want {
						t.Fatalf("out[%d,%d,%d,%d] = %v, want x[%d,%d,%d,%d] = %v", n, h, w, c, got, n, c, h, w, want)
					}
				}
			}
		}
	}
	// The backward pass, twice on one tape: the second writes its fresh
	// gradient into buffers that hold the first's values.
	p := NewParam(x)
	seed := randTensor(tensor.NewRNG(10), -1, 1, N, H, W, C)
	for run := range 2 {
		tp.Reset()
		p.DropGrad()
		h := tp.Mul(p, tp.Scalar(2))
		if err := tp.BackwardWith(tp.Permute(h, 0, 2, 3, 1), seed); err != nil {
			t.Fatal(err)
		}
		for i, v := range p.Grad.Data {
			n, c, hw := i/(C*H*W), i/(H*W)%C, i%(H*W)
			if want := 2 * seed.Data[(n*H*W+hw)*C+c]; v != want {
				t.Fatalf("run %d: gradient %d = %v, want %v", run, i, v, want)
			}
		}
	}
}

func TestShapeOpValues(t *testing.T) {
	tp := NewTape()
	x := tp.Const(&tensor.Tensor{Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}})
	check := func(name string, v *Var, shape []int, want []float32) {
		t.Helper()
		if !tensor.EqualShape(v.Value.Shape, shape) {
			t.Fatalf("%s: shape %v, want %v", name, v.Value.Shape, shape)
		}
		for i := range want {
			if v.Value.Data[i] != want[i] {
				t.Fatalf("%s = %v, want %v", name, v.Value.Data, want)
			}
		}
	}
	check("permute", tp.Permute(x, 1, 0), []int{3, 2}, []float32{1, 4, 2, 5, 3, 6})
	check("slice", tp.Slice(x, 1, 1, 3), []int{2, 2}, []float32{2, 3, 5, 6})
	check("concat0", tp.Concat(0, x, x), []int{4, 3}, []float32{1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6})
	check("concat1", tp.Concat(1, x, tp.Slice(x, 1, 0, 1)), []int{2, 4}, []float32{1, 2, 3, 1, 4, 5, 6, 4})
	check("gather", tp.Gather(x, []int{1, 1, 0}), []int{3, 3}, []float32{4, 5, 6, 4, 5, 6, 1, 2, 3})
	if err := tp.Err(); err != nil {
		t.Fatal(err)
	}
	tp.Reshape(x, 4, -1)
	if tp.Err() == nil {
		t.Fatal("reshape of 6 elements to [4 -1] did not fail")
	}
	tp2 := NewTape()
	if tp2.Gather(tp2.Const(x.Value), []int{0, 2}); tp2.Err() == nil {
		t.Fatal("gather of row 2 of 2 rows did not fail")
	}
}

func TestBackwardErrors(t *testing.T) {
	tp := NewTape()
	p := NewParam(tensor.New(3))
	if err := tp.Backward(tp.Exp(p)); err == nil {
		t.Error("backward from a non-scalar did not fail")
	}
	tp.Reset()
	if err := tp.Backward(tp.Sum(tp.Const(tensor.New(3)))); err == nil {
		t.Error("backward from a constant did not fail")
	}
}

func TestNoAllocSteadyState(t *testing.T) {
	rng := tensor.NewRNG(9)
	w := NewParam(randTensor(rng, -1, 1, 4, 6))
	b := NewParam(randTensor(rng, -1, 1, 4))
	x := randTensor(rng, -1, 1, 5, 6)
	tp := NewTape()
	step := func() {
		tp.Reset()
		h := tp.Linear(tp.Const(x), w, b)
		h = tp.Mul(tp.Sigmoid(h), tp.Permute(tp.Permute(h, 1, 0), 1, 0))
		h = tp.Add(h, tp.SumAxes(h, []int{0}, true))
		h = tp.Concat(1, h, tp.Slice(h, 1, 0, 2))
		loss := tp.Mean(tp.MaxAxes(tp.Reshape(h, -1, 3), []int{1}, false))
		if err := tp.Backward(loss); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if a := testing.AllocsPerRun(10, step); a != 0 {
		t.Errorf("steady-state step allocates %v times", a)
	}
}
