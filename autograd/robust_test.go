package autograd

import (
	"reflect"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// nilInputOps calls every Tape operation with one required input unusable
// (bad: nil, or a Var without a value) and the others valid; want is the
// operation's name in the error the tape must record.
var nilInputOps = []struct {
	method, want string
	f            func(tp *Tape, bad *Var) *Var
}{
	{"Add", "add: input a", func(tp *Tape, b *Var) *Var { return tp.Add(b, okVar(tp, 2)) }},
	{"Sub", "sub: input b", func(tp *Tape, b *Var) *Var { return tp.Sub(okVar(tp, 2), b) }},
	{"Mul", "mul: input a", func(tp *Tape, b *Var) *Var { return tp.Mul(b, okVar(tp, 2)) }},
	{"Div", "div: input b", func(tp *Tape, b *Var) *Var { return tp.Div(okVar(tp, 2), b) }},
	{"Conv2d", "conv2d: input x", func(tp *Tape, b *Var) *Var { return tp.Conv2d(b, okVar(tp, 1, 1, 1, 1), nil, 1, 0) }},
	{"Conv2dBNReLU", "conv2dbnrelu: input w", func(tp *Tape, b *Var) *Var {
		return tp.Conv2dBNReLU(okVar(tp, 1, 1, 2, 2), b, nil, nil, nil, tensor.New(1), tensor.New(1), 1e-5, 1, 0)
	}},
	{"ConvTranspose2d", "convtranspose2d: input x", func(tp *Tape, b *Var) *Var { return tp.ConvTranspose2d(b, okVar(tp, 1, 1, 1, 1), nil, 1, 0, 0) }},
	{"StridedCrops", "strided crops: input x", func(tp *Tape, b *Var) *Var { return tp.StridedCrops(b, 2, 2) }},
	{"Dropout", "dropout: input x", func(tp *Tape, b *Var) *Var { return tp.Dropout(b, 0.5, true, tensor.NewRNG(1)) }},
	{"MatMul", "matmul: input b", func(tp *Tape, b *Var) *Var { return tp.MatMul(okVar(tp, 2, 2), b, false, false) }},
	{"BatchedMatMul", "matmul: input a", func(tp *Tape, b *Var) *Var { return tp.BatchedMatMul(b, okVar(tp, 1, 2, 2), false, false) }},
	{"Linear", "linear: input w", func(tp *Tape, b *Var) *Var { return tp.Linear(okVar(tp, 2, 2), b, nil) }},
	{"LinearSum", "linearsum: input x2", func(tp *Tape, b *Var) *Var {
		return tp.LinearSum(okVar(tp, 2, 2), okVar(tp, 2, 2), nil, b, okVar(tp, 2, 2))
	}},
	{"BatchNorm", "batchnorm: input x", func(tp *Tape, b *Var) *Var { return tp.BatchNorm(b, nil, nil, nil, nil, true, 0.1, 1e-5) }},
	{"BatchNormReLU", "batchnorm: input x", func(tp *Tape, b *Var) *Var { return tp.BatchNormReLU(b, nil, nil, nil, nil, true, 0.1, 1e-5) }},
	{"LayerNorm", "layernorm: input x", func(tp *Tape, b *Var) *Var { return tp.LayerNorm(b, nil, nil, 1e-5) }},
	{"AddLayerNorm", "addlayernorm: input r", func(tp *Tape, b *Var) *Var { return tp.AddLayerNorm(okVar(tp, 2, 2), b, nil, nil, 1e-5) }},
	{"PairMeans", "pairmeans: input u", func(tp *Tape, b *Var) *Var {
		return tp.PairMeans(b, func(u float32, _ bool) (float32, float32) { return u, 1 })
	}},
	{"PairMeansSlices", "pairmeans: input u", func(tp *Tape, b *Var) *Var {
		return tp.PairMeansSlices(b, func(u, f, df []float32, _ bool) {})
	}},
	{"MaxPool2d", "maxpool2d: input x", func(tp *Tape, b *Var) *Var { return tp.MaxPool2d(b, 2, 2, 0) }},
	{"AvgPool2d", "avgpool2d: input x", func(tp *Tape, b *Var) *Var { return tp.AvgPool2d(b, 2, 2, 0) }},
	{"Sum", "sum: input x", (*Tape).Sum},
	{"Mean", "mean: input x", (*Tape).Mean},
	{"SumAxes", "sum: input x", func(tp *Tape, b *Var) *Var { return tp.SumAxes(b, []int{0}, false) }},
	{"MeanAxes", "mean: input x", func(tp *Tape, b *Var) *Var { return tp.MeanAxes(b, []int{0}, false) }},
	{"MaxAxes", "max: input x", func(tp *Tape, b *Var) *Var { return tp.MaxAxes(b, []int{0}, false) }},
	{"Reshape", "reshape: input x", func(tp *Tape, b *Var) *Var { return tp.Reshape(b, -1) }},
	{"Flatten", "flatten: input x", (*Tape).Flatten},
	{"Permute", "permute: input x", func(tp *Tape, b *Var) *Var { return tp.Permute(b, 1, 0) }},
	{"Slice", "slice: input x", func(tp *Tape, b *Var) *Var { return tp.Slice(b, 0, 0, 1) }},
	{"Concat", "concat: input 1", func(tp *Tape, b *Var) *Var { return tp.Concat(0, okVar(tp, 2), b) }},
	{"Gather", "gather: input x", func(tp *Tape, b *Var) *Var { return tp.Gather(b, []int{0}) }},
	{"LogSoftmax", "logsoftmax: input x", func(tp *Tape, b *Var) *Var { return tp.LogSoftmax(b, -1) }},
	{"Softmax", "softmax: input x", func(tp *Tape, b *Var) *Var { return tp.Softmax(b, -1) }},
	{"LogSumExp", "logsumexp: input x", func(tp *Tape, b *Var) *Var { return tp.LogSumExp(b, -1, false) }},
	{"CrossEntropy", "crossentropy: input logits", func(tp *Tape, b *Var) *Var { return tp.CrossEntropy(b, []int{0}) }},
	{"Exp", "exp: input x", (*Tape).Exp},
	{"Log", "log: input x", (*Tape).Log},
	{"ReLU", "relu: input x", (*Tape).ReLU},
	{"LeakyReLU", "leakyrelu: input x", func(tp *Tape, b *Var) *Var { return tp.LeakyReLU(b, 0.2) }},
	{"Sigmoid", "sigmoid: input x", (*Tape).Sigmoid},
	{"Tanh", "tanh: input x", (*Tape).Tanh},
	{"Softplus", "softplus: input x", (*Tape).Softplus},
	{"Neg", "affine: input x", (*Tape).Neg},
	{"Scale", "affine: input x", func(tp *Tape, b *Var) *Var { return tp.Scale(b, 2) }},
	{"AddScalar", "affine: input x", func(tp *Tape, b *Var) *Var { return tp.AddScalar(b, 2) }},
	{"Affine", "affine: input x", func(tp *Tape, b *Var) *Var { return tp.Affine(b, 2, 1) }},
	{"Square", "square: input x", (*Tape).Square},
	{"Sqrt", "sqrt: input x", (*Tape).Sqrt},
	{"Abs", "abs: input x", (*Tape).Abs},
}

// okVar returns a trainable tape Var of the shape, filled with ones.
func okVar(tp *Tape, shape ...int) *Var {
	x := tensor.New(shape...)
	x.Fill(1)
	return tp.Leaf(x)
}

func TestOpsRecordUnusableInputs(t *testing.T) {
	for _, op := range nilInputOps {
		for _, bad := range []struct {
			name, what string
			v          *Var
		}{{"nil", "is a nil Var", nil}, {"no value", "is a Var without a value", &Var{}}} {
			t.Run(op.method+"/"+bad.name, func(t *testing.T) {
				tp := NewTape()
				var out *Var
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Fatalf("panic: %v", r)
						}
					}()
					out = op.f(tp, bad.v)
				}()
				err := tp.Err()
				if err == nil || !strings.Contains(err.Error(), "autograd: "+op.want+" "+bad.what) {
					t.Fatalf("Err() = %v, want one with %q", err, op.want+" "+bad.what)
				}
				if out == nil || out.Value == nil {
					t.Fatalf("returned %v, want a placeholder Var", out)
				}
				if berr := tp.Backward(tp.Sum(out)); berr != err {
					t.Errorf("Backward = %v, want the tape's error", berr)
				}
			})
		}
	}
}

// TestEveryOpCoveredForUnusableInputs fails when an exported Tape method
// taking Vars is missing from nilInputOps, so a new op gets its check.
func TestEveryOpCoveredForUnusableInputs(t *testing.T) {
	covered := map[string]bool{}
	for _, op := range nilInputOps {
		covered[op.method] = true
	}
	varType := reflect.TypeOf(&Var{})
	tt := reflect.TypeOf(&Tape{})
	for i := range tt.NumMethod() {
		m := tt.Method(i)
		takesVar := false
		for j := 1; j < m.Type.NumIn(); j++ {
			in := m.Type.In(j)
			if in == varType || in.Kind() == reflect.Slice && in.Elem() == varType {
				takesVar = true
			}
		}
		if takesVar && !covered[m.Name] && m.Name != "Backward" && m.Name != "BackwardWith" {
			t.Errorf("Tape.%s takes Vars but is not in nilInputOps", m.Name)
		}
	}
}

func TestTapeEntryPointsRejectNil(t *testing.T) {
	tp := NewTape()
	if err := tp.Backward(nil); err == nil || !strings.Contains(err.Error(), "backward from a nil Var") {
		t.Errorf("Backward(nil) = %v", err)
	}
	if err := tp.BackwardWith(&Var{}, nil); err == nil || !strings.Contains(err.Error(), "without a value") {
		t.Errorf("BackwardWith(Var without value) = %v", err)
	}
	for _, f := range []struct {
		name string
		f    func(*Tape) *Var
	}{{"const", func(tp *Tape) *Var { return tp.Const(nil) }}, {"leaf", func(tp *Tape) *Var { return tp.Leaf(nil) }}} {
		tp := NewTape()
		v := f.f(tp)
		if err := tp.Err(); err == nil || !strings.Contains(err.Error(), f.name+": nil tensor") || v == nil || v.Value == nil {
			t.Errorf("%s(nil) = %v, Err %v", f.name, v, err)
		}
	}
	tp = NewTape()
	tp.PairMeans(okVar(tp, 2, 2), nil)
	if err := tp.Err(); err == nil || !strings.Contains(err.Error(), "pairmeans: nil function") {
		t.Errorf("PairMeans(u, nil): Err %v", err)
	}
	defer func() {
		if msg, ok := recover().(string); !ok || !strings.Contains(msg, "NewParam: nil tensor") {
			t.Errorf("NewParam(nil) panic %q, want one naming NewParam", msg)
		}
	}()
	NewParam(nil)
}
