package autograd

import (
	"fmt"
	"math"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/deepinfomax/deepinfomax/kernels"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// convCase is one convolution configuration; for ConvTranspose2d, cin and
// cout are the channels of its input and output.
type convCase struct {
	n, cin, h, w, cout, kh, kw, stride, pad, outPad int
	bias                                            bool
}

func (c convCase) String() string {
	return fmt.Sprintf("n%d_cin%d_%dx%d_cout%d_k%dx%d_s%d_p%d_op%d_b%v",
		c.n, c.cin, c.h, c.w, c.cout, c.kh, c.kw, c.stride, c.pad, c.outPad, c.bias)
}

var conv2dCases = []convCase{
	{n: 3, cin: 5, h: 7, w: 9, cout: 3, kh: 3, kw: 3, stride: 1, pad: 1, bias: true},
	{n: 3, cin: 5, h: 7, w: 9, cout: 3, kh: 5, kw: 5, stride: 2, pad: 2, bias: true},
	{n: 3, cin: 3, h: 9, w: 7, cout: 5, kh: 4, kw: 4, stride: 2, pad: 1, bias: false},
	{n: 3, cin: 5, h: 7, w: 9, cout: 7, kh: 1, kw: 1, stride: 1, pad: 0, bias: true},
	{n: 1, cin: 5, h: 7, w: 9, cout: 3, kh: 1, kw: 1, stride: 1, pad: 0, bias: false},
	{n: 3, cin: 5, h: 7, w: 9, cout: 3, kh: 1, kw: 1, stride: 2, pad: 0, bias: true},
	{n: 3, cin: 3, h: 7, w: 9, cout: 3, kh: 3, kw: 5, stride: 3, pad: 0, bias: true},
	{n: 3, cin: 1, h: 5, w: 7, cout: 5, kh: 2, kw: 3, stride: 2, pad: 1, bias: true},
	{n: 1, cin: 3, h: 3, w: 3, cout: 3, kh: 5, kw: 5, stride: 1, pad: 2, bias: true},
}

var convT2dCases = []convCase{
	{n: 3, cin: 5, h: 5, w: 7, cout: 3, kh: 4, kw: 4, stride: 2, pad: 1, outPad: 0, bias: true},
	{n: 3, cin: 5, h: 5, w: 7, cout: 3, kh: 3, kw: 3, stride: 2, pad: 1, outPad: 1, bias: true},
	{n: 3, cin: 3, h: 4, w: 5, cout: 5, kh: 5, kw: 5, stride: 2, pad: 2, outPad: 1, bias: false},
	{n: 3, cin: 5, h: 7, w: 9, cout: 3, kh: 1, kw: 1, stride: 1, pad: 0, bias: true},
	{n: 3, cin: 3, h: 3, w: 5, cout: 3, kh: 3, kw: 2, stride: 3, pad: 0, outPad: 2, bias: true},
	{n: 1, cin: 3, h: 5, w: 3, cout: 5, kh: 2, kw: 2, stride: 1, pad: 0, bias: false},
	{n: 3, cin: 5, h: 7, w: 9, cout: 3, kh: 3, kw: 3, stride: 1, pad: 1, bias: true},
}

// weightShape returns the weight shape of the case for Conv2d or
// ConvTranspose2d.
func (c convCase) weightShape(transposed bool) []int {
	if transposed {
		return []int{c.cin, c.cout, c.kh, c.kw}
	}
	return []int{c.cout, c.cin, c.kh, c.kw}
}

// inputs returns random x, w and (when the case has one) b.
func (c convCase) inputs(rng *tensor.RNG, transposed bool) []*tensor.Tensor {
	ts := []*tensor.Tensor{
		randTensor(rng, -1, 1, c.n, c.cin, c.h, c.w),
		randTensor(rng, -1, 1, c.weightShape(transposed)...),
	}
	if c.bias {
		ts = append(ts, randTensor(rng, -1, 1, c.cout))
	}
	return ts
}

// conv2dRef is the textbook definition of Conv2d, in float64.
func conv2dRef(c convCase, x, w, b *tensor.Tensor) ([]float64, []int) {
	oh := (c.h+2*c.pad-c.kh)/c.stride + 1
	ow := (c.w+2*c.pad-c.kw)/c.stride + 1
	out := make([]float64, c.n*c.cout*oh*ow)
	for n := 0; n < c.n; n++ {
		for co := 0; co < c.cout; co++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					var s float64
					if b != nil {
						s = float64(b.Data[co])
					}
					for ci := 0; ci < c.cin; ci++ {
						for i := 0; i < c.kh; i++ {
							for j := 0; j < c.kw; j++ {
								iy, ix := oy*c.stride-c.pad+i, ox*c.stride-c.pad+j
								if iy < 0 || iy >= c.h || ix < 0 || ix >= c.w {
									continue
								}
								s += float64(x.Data[((n*c.cin+ci)*c.h+iy)*c.w+ix]) *
									float64(w.Data[((co*c.cin+ci)*c.kh+i)*c.kw+j])
							}
						}
					}
					out[((n*c.cout+co)*oh+oy)*ow+ox] = s
				}
			}
		}
	}
	return out, []int{c.n, c.cout, oh, ow}
}

// convT2dRef is PyTorch's definition of ConvTranspose2d: every input value
// scatters its weighted kernel into the output.
func convT2dRef(c convCase, x, w, b *tensor.Tensor) ([]float64, []int) {
	oh := (c.h-1)*c.stride - 2*c.pad + c.kh + c.outPad
	ow := (c.w-1)*c.stride - 2*c.pad + c.kw + c.outPad
	out := make([]float64, c.n*c.cout*oh*ow)
	for n := 0; n < c.n; n++ {
		for co := 0; co < c.cout; co++ {
			for i := 0; i < oh*ow; i++ {
				if b != nil {
					out[(n*c.cout+co)*oh*ow+i] = float64(b.Data[co])
				}
			}
		}
		for ci := 0; ci < c.cin; ci++ {
			for iy := 0; iy < c.h; iy++ {
				for ix := 0; ix < c.w; ix++ {
					xv := float64(x.Data[((n*c.cin+ci)*c.h+iy)*c.w+ix])
					for co := 0; co < c.cout; co++ {
						for i := 0; i < c.kh; i++ {
							for j := 0; j < c.kw; j++ {
								y, z := iy*c.stride-c.pad+i, ix*c.stride-c.pad+j
								if y < 0 || y >= oh || z < 0 || z >= ow {
									continue
								}
								out[((n*c.cout+co)*oh+y)*ow+z] += xv * float64(w.Data[((ci*c.cout+co)*c.kh+i)*c.kw+j])
							}
						}
					}
				}
			}
		}
	}
	return out, []int{c.n, c.cout, oh, ow}
}

// compareValues fails the test when got differs from want beyond float32
// rounding of sums of a few hundred terms.
func compareValues(t *testing.T, name string, got *tensor.Tensor, want []float64, wantShape []int) {
	t.Helper()
	if !tensor.EqualShape(got.Shape, wantShape) {
		t.Fatalf("%s: shape %v, want %v", name, got.Shape, wantShape)
	}
	for i, w := range want {
		if d := math.Abs(float64(got.Data[i]) - w); d > 1e-5+1e-5*math.Abs(w) {
			t.Fatalf("%s: element %d = %.7g, want %.7g", name, i, got.Data[i], w)
		}
	}
}

func TestConv2dValues(t *testing.T) {
	rng := tensor.NewRNG(11)
	for _, c := range conv2dCases {
		in := c.inputs(rng, false)
		var b *tensor.Tensor
		tp := NewTape()
		var bv *Var
		if c.bias {
			b, bv = in[2], tp.Const(in[2])
		}
		got := tp.Conv2d(tp.Const(in[0]), tp.Const(in[1]), bv, c.stride, c.pad)
		if err := tp.Err(); err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		want, shape := conv2dRef(c, in[0], in[1], b)
		compareValues(t, c.String(), got.Value, want, shape)
	}
}

func TestConvTranspose2dValues(t *testing.T) {
	rng := tensor.NewRNG(12)
	for _, c := range convT2dCases {
		in := c.inputs(rng, true)
		var b *tensor.Tensor
		tp := NewTape()
		var bv *Var
		if c.bias {
			b, bv = in[2], tp.Const(in[2])
		}
		got := tp.ConvTranspose2d(tp.Const(in[0]), tp.Const(in[1]), bv, c.stride, c.pad, c.outPad)
		if err := tp.Err(); err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		want, shape := convT2dRef(c, in[0], in[1], b)
		compareValues(t, c.String(), got.Value, want, shape)
	}
}

// convBuild returns a gradCase build function for the case.
func convBuild(c convCase, transposed bool) func(tp *Tape, in []*Var) *Var {
	return func(tp *Tape, in []*Var) *Var {
		var b *Var
		if c.bias {
			b = in[2]
		}
		if transposed {
			return tp.ConvTranspose2d(in[0], in[1], b, c.stride, c.pad, c.outPad)
		}
		return tp.Conv2d(in[0], in[1], b, c.stride, c.pad)
	}
}

func TestGradConv2d(t *testing.T) {
	rng := tensor.NewRNG(13)
	for _, c := range conv2dCases {
		checkGrad(t, gradCase{name: "conv2d " + c.String(), inputs: c.inputs(rng, false), build: convBuild(c, false)})
	}
	// The first layer of an encoder: the image needs no gradient.
	c := conv2dCases[1]
	checkGrad(t, gradCase{name: "conv2d const input", inputs: c.inputs(rng, false), build: convBuild(c, false),
		noGrad: map[int]bool{0: true}})
	// An intermediate input: its gradient buffer is fresh and written, not
	// added into; and shared with a later op, whose gradient comes first.
	for _, shared := range []bool{false, true} {
		in := c.inputs(rng, false)
		shared := shared
		checkGrad(t, gradCase{name: fmt.Sprintf("conv2d of an intermediate, shared=%v", shared), inputs: in[:2],
			build: func(tp *Tape, v []*Var) *Var {
				h := tp.Mul(v[0], v[0])
				y := tp.Conv2d(h, v[1], nil, c.stride, c.pad)
				if shared {
					return tp.Add(tp.Sum(tp.Mul(y, y)), tp.Sum(tp.Mul(h, h)))
				}
				return tp.Sum(tp.Mul(y, y))
			}})
	}
}

func TestGradConvTranspose2d(t *testing.T) {
	rng := tensor.NewRNG(14)
	for _, c := range convT2dCases {
		checkGrad(t, gradCase{name: "convtranspose2d " + c.String(), inputs: c.inputs(rng, true), build: convBuild(c, true)})
	}
	c := convT2dCases[0]
	checkGrad(t, gradCase{name: "convtranspose2d const weight", inputs: c.inputs(rng, true), build: convBuild(c, true),
		noGrad: map[int]bool{1: true}})
}

// TestConvTransposeIsConvInputGrad checks that ConvTranspose2d(y, w) is the
// gradient of <Conv2d(x, w), y> with respect to x.
func TestConvTransposeIsConvInputGrad(t *testing.T) {
	rng := tensor.NewRNG(15)
	for _, c := range conv2dCases {
		x := randTensor(rng, -1, 1, c.n, c.cin, c.h, c.w)
		w := randTensor(rng, -1, 1, c.cout, c.cin, c.kh, c.kw)
		tp := NewTape()
		xv := tp.Leaf(x)
		out := tp.Conv2d(xv, tp.Const(w), nil, c.stride, c.pad)
		y := randTensor(rng, -1, 1, out.Value.Shape...)
		if err := tp.BackwardWith(out, y); err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		// The output padding that recovers x's size.
		op := (c.h + 2*c.pad - c.kh) % c.stride
		opw := (c.w + 2*c.pad - c.kw) % c.stride
		if op != opw {
			continue
		}
		tr := tp.ConvTranspose2d(tp.Const(y), tp.Const(w), nil, c.stride, c.pad, op)
		if err := tp.Err(); err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		want := make([]float64, x.Size())
		for i, v := range xv.Grad.Data {
			want[i] = float64(v)
		}
		compareValues(t, c.String(), tr.Value, want, x.Shape)
	}
}

// TestConvBackwardTwice checks that a second backward pass through the same
// convolution (which reuses its saved operands as scratch) adds the same
// gradients again.
func TestConvBackwardTwice(t *testing.T) {
	rng := tensor.NewRNG(17)
	for _, transposed := range []bool{false, true} {
		c := conv2dCases[1]
		if transposed {
			c = convT2dCases[1]
		}
		in := c.inputs(rng, transposed)
		vars := []*Var{NewParam(in[0]), NewParam(in[1]), NewParam(in[2])}
		tp := NewTape()
		out := convBuild(c, transposed)(tp, vars)
		seed := randTensor(rng, -1, 1, out.Value.Shape...)
		var once [][]float32
		for pass := 1; pass <= 2; pass++ {
			if err := tp.BackwardWith(out, seed); err != nil {
				t.Fatal(err)
			}
			for i, v := range vars {
				if pass == 1 {
					once = append(once, append([]float32(nil), v.Grad.Data...))
					continue
				}
				for j, g := range v.Grad.Data {
					if d := g - 2*once[i][j]; d > 1e-4 || d < -1e-4 {
						t.Fatalf("transposed %v: input %d element %d: %v after two passes, %v after one", transposed, i, j, g, once[i][j])
					}
				}
			}
		}
	}
}

func TestConvErrors(t *testing.T) {
	x := tensor.New(2, 3, 5, 5)
	cases := []struct {
		name string
		f    func(tp *Tape) *Var
	}{
		{"channels", func(tp *Tape) *Var { return tp.Conv2d(tp.Const(x), tp.Const(tensor.New(4, 2, 3, 3)), nil, 1, 0) }},
		{"rank", func(tp *Tape) *Var {
			return tp.Conv2d(tp.Const(tensor.New(3, 5, 5)), tp.Const(tensor.New(4, 3, 3, 3)), nil, 1, 0)
		}},
		{"bias", func(tp *Tape) *Var {
			return tp.Conv2d(tp.Const(x), tp.Const(tensor.New(4, 3, 3, 3)), tp.Const(tensor.New(3)), 1, 0)
		}},
		{"stride", func(tp *Tape) *Var { return tp.Conv2d(tp.Const(x), tp.Const(tensor.New(4, 3, 3, 3)), nil, 0, 0) }},
		{"kernel too large", func(tp *Tape) *Var { return tp.Conv2d(tp.Const(x), tp.Const(tensor.New(4, 3, 7, 7)), nil, 1, 0) }},
		{"transposed channels", func(tp *Tape) *Var {
			return tp.ConvTranspose2d(tp.Const(x), tp.Const(tensor.New(4, 3, 3, 3)), nil, 2, 1, 1)
		}},
		{"output padding", func(tp *Tape) *Var {
			return tp.ConvTranspose2d(tp.Const(x), tp.Const(tensor.New(3, 4, 3, 3)), nil, 2, 1, 2)
		}},
		{"empty output", func(tp *Tape) *Var {
			return tp.ConvTranspose2d(tp.Const(x), tp.Const(tensor.New(3, 4, 1, 1)), nil, 1, 3, 0)
		}},
	}
	for _, c := range cases {
		tp := NewTape()
		c.f(tp)
		if tp.Err() == nil {
			t.Errorf("%s: no error", c.name)
		}
		// Later ops return placeholders without panicking.
		c.f(tp)
	}
}

// convChain builds a small network of every op of this file and pool.go.
func convChain(tp *Tape, x *tensor.Tensor, p []*Var) *Var {
	h := tp.Conv2d(tp.Const(x), p[0], p[1], 2, 2)
	h = tp.ReLU(h)
	h = tp.MaxPool2d(h, 3, 1, 1)
	h = tp.Conv2d(h, p[2], nil, 1, 0)
	h = tp.AvgPool2d(h, 2, 2, 1)
	return tp.ConvTranspose2d(h, p[3], p[4], 2, 1, 1)
}

func TestConvNoAllocAfterReset(t *testing.T) {
	rng := tensor.NewRNG(16)
	x := randTensor(rng, -1, 1, 8, 3, 17, 15)
	p := []*Var{
		NewParam(randTensor(rng, -1, 1, 16, 3, 5, 5)),
		NewParam(randTensor(rng, -1, 1, 16)),
		NewParam(randTensor(rng, -1, 1, 32, 16, 1, 1)),
		NewParam(randTensor(rng, -1, 1, 32, 5, 3, 3)),
		NewParam(randTensor(rng, -1, 1, 5)),
	}
	tp := NewTape()
	out := convChain(tp, x, p)
	seed := randTensor(rng, -1, 1, out.Value.Shape...)
	step := func() {
		tp.Reset()
		out := convChain(tp, x, p)
		if err := tp.BackwardWith(out, seed); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if a := testing.AllocsPerRun(5, step); a != 0 {
		t.Errorf("forward+backward after Reset: %v allocations, want 0", a)
	}
}

// BenchmarkConv2dDIM runs forward and backward through the two
// convolutions of the Deep InfoMax MNIST encoder at batch 64:
// 1->64 5x5/2 pad 2 on 28x28, then 64->128 5x5/2 pad 2 on 14x14.
func BenchmarkConv2dDIM(b *testing.B) {
	benchConvs(b, 64, 1, 28, []int{64, 128}, 5, 2, 2)
}

// BenchmarkConv2dCIFAR is the same for the CIFAR-10 encoder's first three
// 4x4/2 pad 1 convolutions, 3->64->128->256 on 32x32, batch 64.
func BenchmarkConv2dCIFAR(b *testing.B) {
	benchConvs(b, 64, 3, 32, []int{64, 128, 256}, 4, 2, 1)
}

func benchConvs(b *testing.B, batch, cin, size int, chans []int, k, stride, pad int) {
	rng := tensor.NewRNG(1)
	x := randTensor(rng, -1, 1, batch, cin, size, size)
	var ws, bs []*Var
	for _, c := range chans {
		ws = append(ws, NewParam(randTensor(rng, -0.1, 0.1, c, cin, k, k)))
		bs = append(bs, NewParam(randTensor(rng, -0.1, 0.1, c)))
		cin = c
	}
	tp := NewTape()
	var seed *tensor.Tensor
	step := func() {
		tp.Reset()
		h := tp.Const(x)
		for i := range ws {
			h = tp.Conv2d(h, ws[i], bs[i], stride, pad)
		}
		if seed == nil {
			seed = randTensor(rng, -1, 1, h.Value.Shape...)
		}
		if err := tp.BackwardWith(h, seed); err != nil {
			b.Fatal(err)
		}
	}
	step()
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		step()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/op")
	b.ReportMetric(float64(processCPU()-cpu)/1e6/float64(b.N), "cpu-ms/op")
}

// processCPU returns the user+system CPU time of the process: on a shared
// machine it measures the work done rather than the time spent waiting for
// a core.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestConv2dBNReLU checks the fused inference block against Conv2d,
// BatchNorm (evaluation mode) and ReLU run one after the other, bit for
// bit, with and without bias, gamma and beta; and that with a parameter
// needing its gradient it records those three ops (same values, and a
// gradient arrives).
func TestConv2dBNReLU(t *testing.T) {
	rng := tensor.NewRNG(21)
	for _, c := range []struct{ bias, gamma, beta bool }{
		{true, true, true}, {false, true, true}, {true, false, false}, {false, false, true},
	} {
		x := randTensor(rng, -1, 1, 5, 3, 9, 9)
		w := randTensor(rng, -0.5, 0.5, 6, 3, 3, 3)
		mean, vr := randTensor(rng, -0.2, 0.2, 6), randTensor(rng, 0.1, 2, 6)
		opt := func(on bool, lo, hi float32) *tensor.Tensor {
			if !on {
				return nil
			}
			return randTensor(rng, lo, hi, 6)
		}
		b, gamma, beta := opt(c.bias, -0.3, 0.3), opt(c.gamma, 0.5, 1.5), opt(c.beta, -0.3, 0.3)
		vars := func(tp *Tape, param bool) (xv, wv, bv, gv, betav *Var) {
			mk := func(t *tensor.Tensor) *Var {
				if t == nil {
					return nil
				}
				if param {
					return NewParam(t)
				}
				return tp.Const(t)
			}
			return tp.Const(x), mk(w), mk(b), mk(gamma), mk(beta)
		}
		tp := NewTape()
		tp.SetNoGrad(true)
		xv, wv, bv, gv, betav := vars(tp, false)
		fused := tp.Conv2dBNReLU(xv, wv, bv, gv, betav, mean, vr, 1e-5, 2, 1)
		want := tp.ReLU(tp.BatchNorm(tp.Conv2d(xv, wv, bv, 2, 1), gv, betav, mean, vr, false, 0.1, 1e-5))
		if err := tp.Err(); err != nil {
			t.Fatal(err)
		}
		zeros := 0
		for i, v := range want.Value.Data {
			if fused.Value.Data[i] != v {
				t.Fatalf("%+v: element %d = %v, the three ops give %v", c, i, fused.Value.Data[i], v)
			}
			if v == 0 {
				zeros++
			}
		}
		if zeros == 0 || zeros == len(want.Value.Data) {
			t.Fatalf("%+v: %d zeros of %d: the ReLU is not tested", c, zeros, len(want.Value.Data))
		}

		tp2 := NewTape()
		xv, wv, bv, gv, betav = vars(tp2, true)
		rec := tp2.Conv2dBNReLU(xv, wv, bv, gv, betav, mean, vr, 1e-5, 2, 1)
		if err := tp2.Backward(tp2.Sum(rec)); err != nil {
			t.Fatal(err)
		}
		for i, v := range want.Value.Data {
			if rec.Value.Data[i] != v {
				t.Fatalf("%+v recorded: element %d = %v, want %v", c, i, rec.Value.Data[i], v)
			}
		}
		if wv.Grad == nil || wv.Grad.Data[0] == 0 && wv.Grad.Data[1] == 0 {
			t.Fatalf("%+v recorded: no weight gradient", c)
		}
	}
}

func TestConv2dBNReLUErrors(t *testing.T) {
	x, w := tensor.New(2, 3, 5, 5), tensor.New(4, 3, 3, 3)
	four, three := tensor.New(4), tensor.New(3)
	for name, f := range map[string]func(tp *Tape) *Var{
		"running stats": func(tp *Tape) *Var {
			return tp.Conv2dBNReLU(tp.Const(x), tp.Const(w), nil, nil, nil, three, four, 1e-5, 1, 1)
		},
		"no running stats": func(tp *Tape) *Var {
			return tp.Conv2dBNReLU(tp.Const(x), tp.Const(w), nil, nil, nil, nil, four, 1e-5, 1, 1)
		},
		"gamma": func(tp *Tape) *Var {
			return tp.Conv2dBNReLU(tp.Const(x), tp.Const(w), nil, tp.Const(three), nil, four, four, 1e-5, 1, 1)
		},
		"eps": func(tp *Tape) *Var {
			return tp.Conv2dBNReLU(tp.Const(x), tp.Const(w), nil, nil, nil, four, four, float32(math.NaN()), 1, 1)
		},
		"channels": func(tp *Tape) *Var {
			return tp.Conv2dBNReLU(tp.Const(x), tp.Const(tensor.New(4, 2, 3, 3)), nil, nil, nil, four, four, 1e-5, 1, 1)
		},
	} {
		tp := NewTape()
		tp.SetNoGrad(true)
		f(tp)
		if tp.Err() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestFreshGradientsOnReusedTape runs graphs whose ops write fresh
// gradient buffers (BatchNorm's, LayerNorm's and Conv2d's input gradients
// of an intermediate value) on a tape reused after Reset, where those buffers
// hold the previous pass's numbers, and checks the gradients against a new
// tape's bit for bit: a fresh buffer must be overwritten, not added into.
func TestFreshGradientsOnReusedTape(t *testing.T) {
	rng := tensor.NewRNG(31)
	builds := map[string]func(tp *Tape, x, w *Var) *Var{
		"batchnorm": func(tp *Tape, x, w *Var) *Var {
			h := tp.Mul(x, x)
			y := tp.BatchNorm(tp.Reshape(h, 6, 3*5*5), nil, nil, nil, nil, true, 0.1, 1e-5)
			return tp.Sum(tp.Mul(y, y))
		},
		"batchnorm2d": func(tp *Tape, x, w *Var) *Var {
			y := tp.BatchNorm(tp.Mul(x, x), nil, nil, nil, nil, true, 0.1, 1e-5)
			return tp.Sum(tp.Mul(y, y))
		},
		"layernorm": func(tp *Tape, x, w *Var) *Var {
			y := tp.LayerNorm(tp.Mul(x, x), nil, nil, 1e-5)
			return tp.Sum(tp.Mul(y, y))
		},
		"conv2d": func(tp *Tape, x, w *Var) *Var {
			y := tp.Conv2d(tp.Mul(x, x), w, nil, 2, 1)
			return tp.Sum(tp.Mul(y, y))
		},
	}
	for name, build := range builds {
		grads := func(tp *Tape, x, w *tensor.Tensor) []float32 {
			xv, wv := NewParam(x), NewParam(w)
			if err := tp.Backward(build(tp, xv, wv)); err != nil {
				t.Fatal(err)
			}
			return append(slices.Clone(xv.Grad.Data), wv.Grad.Data...)
		}
		x1, w1 := randTensor(rng, -2, 2, 6, 3, 5, 5), randTensor(rng, -1, 1, 4, 3, 3, 3)
		x2, w2 := randTensor(rng, -2, 2, 6, 3, 5, 5), randTensor(rng, -1, 1, 4, 3, 3, 3)
		tp := NewTape()
		grads(tp, x1, w1)
		tp.Reset()
		got := grads(tp, x2, w2)
		want := grads(NewTape(), x2, w2)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: gradient %d = %v on a reused tape, %v on a new one", name, i, got[i], want[i])
			}
		}
	}
}

// TestConv2dWinogradTraining: a recorded Conv2d whose geometry
// kernels.WinogradPays accepts computes its output by Winograd's algorithm
// (some bit differs from the direct convolution's, every value agrees to
// float rounding), and its gradients are the direct convolution's, bit for
// bit (decision #52); below the threshold it is the direct convolution.
func TestConv2dWinogradTraining(t *testing.T) {
	for _, c := range []struct {
		n      int
		winoOK bool
	}{{32, true}, {3, false}} {
		g := kernels.NewConvGeom(c.n, 16, 14, 14, 5, 5, 2, 2)
		const cout = 20
		if kernels.WinogradPays(g, cout) != c.winoOK {
			if !kernels.CanWinograd(g, cout) {
				t.Skip("no AVX-512: Conv2d runs the direct convolution, tested by TestConv2dGrad")
			}
			t.Fatalf("batch %d: WinogradPays = %v, want %v", c.n, !c.winoOK, c.winoOK)
		}
		rng := tensor.NewRNG(uint64(40 + c.n))
		x := randTensor(rng, -1, 1, c.n, 16, 14, 14)
		w := randTensor(rng, -0.3, 0.3, cout, 16, 5, 5)
		b := randTensor(rng, -0.3, 0.3, cout)
		r := randTensor(rng, -1, 1, c.n, cout, 7, 7)
		tp := NewTape()
		xv, wv, bv := tp.Leaf(x), tp.Leaf(w), tp.Leaf(b)
		out := tp.Conv2d(xv, wv, bv, 2, 2)
		if err := tp.Backward(tp.Sum(tp.Mul(out, tp.Const(r)))); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, len(out.Value.Data))
		kernels.Conv2d(g, cout, w.Data, b.Data, x.Data, want, nil)
		var rms float64
		for _, v := range want {
			rms += float64(v) * float64(v)
		}
		rms = math.Sqrt(rms / float64(len(want)))
		differ := 0
		for i, v := range want {
			got := out.Value.Data[i]
			if d := math.Abs(float64(got - v)); !(d <= 1e-5*(math.Abs(float64(v))+rms)) {
				t.Fatalf("batch %d: output %d = %v, the direct convolution gives %v", c.n, i, got, v)
			}
			if got != v {
				differ++
			}
		}
		if c.winoOK && differ == 0 {
			t.Errorf("batch %d: every output equals the direct convolution's bit for bit: Winograd's path did not run", c.n)
		}
		if !c.winoOK && differ != 0 {
			t.Errorf("batch %d: %d outputs differ from the direct convolution's below the threshold", c.n, differ)
		}
		gw, gb, gx := make([]float32, len(w.Data)), make([]float32, cout), make([]float32, len(x.Data))
		kernels.Conv2dBackward(g, cout, w.Data, x.Data, r.Data, gw, gb, gx, false)
		for _, p := range []struct {
			name      string
			got, want []float32
		}{{"w", wv.Grad.Data, gw}, {"b", bv.Grad.Data, gb}, {"x", xv.Grad.Data, gx}} {
			for i := range p.want {
				if math.Float32bits(p.got[i]) != math.Float32bits(p.want[i]) {
					t.Fatalf("batch %d: gradient of %s[%d] = %v, the direct convolution's is %v", c.n, p.name, i, p.got[i], p.want[i])
				}
			}
		}
	}
}

// TestConv2dBNReLUWinograd: on a geometry kernels.CanWinograd accepts, the
// one-pass block runs Winograd's algorithm (decision #51) and agrees with
// the three ops to float rounding, ReLU's zeros included.
func TestConv2dBNReLUWinograd(t *testing.T) {
	rng := tensor.NewRNG(22)
	x := randTensor(rng, -1, 1, 3, 16, 10, 10)
	w := randTensor(rng, -0.5, 0.5, 20, 16, 4, 4)
	b, gamma, beta := randTensor(rng, -0.3, 0.3, 20), randTensor(rng, 0.5, 1.5, 20), randTensor(rng, -0.3, 0.3, 20)
	mean, vr := randTensor(rng, -0.2, 0.2, 20), randTensor(rng, 0.1, 2, 20)
	if !kernels.CanWinograd(kernels.NewConvGeom(3, 16, 10, 10, 4, 4, 2, 1), 20) {
		t.Skip("no AVX-512: Conv2dBNReLU runs the direct convolution, tested bit for bit by TestConv2dBNReLU")
	}
	tp := NewTape()
	tp.SetNoGrad(true)
	xv, wv, bv, gv, betav := tp.Const(x), tp.Const(w), tp.Const(b), tp.Const(gamma), tp.Const(beta)
	fused := tp.Conv2dBNReLU(xv, wv, bv, gv, betav, mean, vr, 1e-5, 2, 1)
	want := tp.ReLU(tp.BatchNorm(tp.Conv2d(xv, wv, bv, 2, 1), gv, betav, mean, vr, false, 0.1, 1e-5))
	if err := tp.Err(); err != nil {
		t.Fatal(err)
	}
	differ := 0
	for i, v := range want.Value.Data {
		got := fused.Value.Data[i]
		if d := math.Abs(float64(got - v)); d > 1e-4 || (v == 0) != (got == 0) && d > 1e-5 {
			t.Fatalf("element %d = %v, the three ops give %v", i, got, v)
		}
		if got != v {
			differ++
		}
	}
	if differ == 0 {
		t.Fatalf("all %d values equal the direct convolution's bit for bit: Winograd's path did not run", len(want.Value.Data))
	}
}
