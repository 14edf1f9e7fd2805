package encoder

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/internal/testutil"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// tinyFolded is a small LayerArch with every kind of layer: crops, a
// stage of two residual blocks (the first with a strided projection
// shortcut), a fold, a block with a stride-1 projection, a hidden linear
// layer, and the globals tap.
var tinyFolded = LayerArch{
	Name: "test-tiny-folded", Channels: 2, Size: 8, Crop: 4, Out: 3,
	Layers: []LayerSpec{
		{Kind: LayerUnfold}, // 0: 9 crops 2x4x4 per image (3 per side)
		{Kind: LayerConv, Conv: ConvSpec{Out: 3, Kernel: 3, Stride: 1, Pad: 1}}, // 1: 3x4x4
		{Kind: LayerResBlock, Repeat: 2, Block: bottleneckTiny(2, 1, 4)},        // 2: 4x4x4 (projection, identity)
		{Kind: LayerResBlock, Repeat: 1, Block: bottleneckTiny(2, 2, 4)},        // 3: 4x2x2 (strided projection)
		{Kind: LayerFold}, // 4: 16x3x3
		{Kind: LayerResBlock, Repeat: 1, Block: []ConvSpec{{Out: 2, Kernel: 1, Stride: 1}, {Out: 5, Kernel: 1, Stride: 1}}}, // 5: 5x3x3
		{Kind: LayerFlatten},          // 6: 45
		{Kind: LayerLinear, Units: 6}, // 7: 6
	}, // 8: Y, 3
	Local: 4, Conv: 5, FC: 7, Globals: 5,
}

func newTiny(t *testing.T, seed uint64) *LayerNet {
	t.Helper()
	e, err := NewLayerNet(tinyFolded, Spec{Name: tinyFolded.Name}, tensor.NewRNG(seed))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestLayerNetTinyTaps(t *testing.T) {
	e := newTiny(t, 1)
	want := map[string][]int{TapLocal: {16, 3, 3}, TapConv: {5, 3, 3}, TapFC: {6}, TapY: {3}, TapGlobals: {5, 3, 3}}
	f := encodeBatch(t, e, 2, 2)
	for _, tap := range e.Taps() {
		shape, err := e.TapShape(tap)
		if err != nil || !slices.Equal(shape, want[tap]) {
			t.Errorf("TapShape(%s) = %v, %v; want %v", tap, shape, err, want[tap])
		}
		v, err := f.Tap(tap)
		if err != nil || !slices.Equal(v.Value.Shape, append([]int{2}, want[tap]...)) {
			t.Errorf("tap %s: %v, %v", tap, v, err)
		}
	}
	if f.Conv != f.Extra[0].Var {
		t.Error("globals tap (layer 5) is not the conv tap (layer 5)")
	}
}

// TestLayerNetParamNames: the names follow the reference's state_dict
// (layers.layer<i>, resblock_<j>, layers.layer<k>.conv/bn, downsample.0/1,
// fc/bn, and a lone Linear's own names for Y).
func TestLayerNetParamNames(t *testing.T) {
	st := nn.StateOf(newTiny(t, 1), "encoder")
	var params, buffers []string
	for _, p := range st.Params {
		params = append(params, p.Name)
	}
	for _, b := range st.Buffers {
		buffers = append(buffers, b.Name)
	}
	var wantParams, wantBuffers []string
	bn := func(p string) {
		wantParams = append(wantParams, p+".weight", p+".bias")
		wantBuffers = append(wantBuffers, p+".running_mean", p+".running_var")
	}
	conv := func(p string) { wantParams = append(wantParams, p+".conv.weight"); bn(p + ".bn") }
	conv("encoder.layers.layer1")
	block := func(p string, convs int, projection bool) {
		for k := range convs {
			conv(fmt.Sprintf("%s.layers.layer%d", p, k))
		}
		if projection {
			wantParams = append(wantParams, p+".downsample.0.weight")
			bn(p + ".downsample.1")
		}
	}
	block("encoder.layers.layer2.resblock_0", 3, true)
	block("encoder.layers.layer2.resblock_1", 3, false)
	block("encoder.layers.layer3", 3, true)
	block("encoder.layers.layer5", 2, true)
	wantParams = append(wantParams, "encoder.layers.layer7.fc.weight")
	bn("encoder.layers.layer7.bn")
	wantParams = append(wantParams, "encoder.layers.layer8.weight", "encoder.layers.layer8.bias")
	if !slices.Equal(params, wantParams) {
		t.Errorf("parameters\n got %v\nwant %v", params, wantParams)
	}
	if !slices.Equal(buffers, wantBuffers) {
		t.Errorf("buffers\n got %v\nwant %v", buffers, wantBuffers)
	}
	ts := st.Tensors()
	for name, shape := range map[string][]int{
		"encoder.layers.layer1.conv.weight":                          {3, 2, 3, 3},
		"encoder.layers.layer2.resblock_0.downsample.0.weight":       {4, 3, 1, 1},
		"encoder.layers.layer2.resblock_1.layers.layer0.conv.weight": {2, 4, 1, 1},
		"encoder.layers.layer3.layers.layer1.conv.weight":            {2, 2, 3, 3},
		"encoder.layers.layer3.downsample.0.weight":                  {4, 4, 1, 1},
		"encoder.layers.layer5.downsample.0.weight":                  {5, 16, 1, 1},
		"encoder.layers.layer7.fc.weight":                            {6, 45},
		"encoder.layers.layer8.weight":                               {3, 6},
	} {
		if got := ts[name]; got == nil || !slices.Equal(got.Shape, shape) {
			t.Errorf("%s: %v, want shape %v", name, got, shape)
		}
	}
}

// TestLayerNetCheckpoint: the state of a trained LayerNet loaded into a
// fresh instance gives the same Y in eval mode.
func TestLayerNetCheckpoint(t *testing.T) {
	e := newTiny(t, 1)
	encodeBatch(t, e, 4, 3) // a training-mode pass: running statistics move
	nn.SetTraining(e, false)
	x := tensor.New(3, 2, 8, 8)
	tensor.NewRNG(4).Uniform(x, -1, 1)
	y1 := evalY(t, e, x)
	e2 := newTiny(t, 2)
	if err := nn.StateOf(e2, "encoder").Load(nn.StateOf(e, "encoder").Tensors()); err != nil {
		t.Fatal(err)
	}
	nn.SetTraining(e2, false)
	if d := maxDiff(y1, evalY(t, e2, x)); d != 0 {
		t.Errorf("Y of the loaded encoder differs by %g", d)
	}
	nn.SetTraining(e2, true)
	if d := maxDiff(y1, evalY(t, e2, x)); d == 0 {
		t.Error("Y in training mode equals eval mode's: the modes are not switched")
	}
}

// TestLayerNetTrainingModes: every BatchNorm is switched, and eval mode
// makes a sample's Y independent of the batch.
func TestLayerNetTrainingModes(t *testing.T) {
	e := newTiny(t, 1)
	// Batch norms: 1 (layer 1) + 3+1, 3 (layer 2) + 3+1 (layer 3) + 2+1
	// (layer 5) + 1 (layer 7).
	if n := len(nn.ModesOf(e)); n != 16 {
		t.Fatalf("%d mode-dependent layers, want 16", n)
	}
	x := tensor.New(3, 2, 8, 8)
	tensor.NewRNG(5).Uniform(x, -1, 1)
	two := &tensor.Tensor{Shape: []int{2, 2, 8, 8}, Data: x.Data[:2*2*64]}
	first := func(y []float32) []float32 { return y[:3] }
	if d := maxDiff(first(evalY(t, e, x)), first(evalY(t, e, two))); d < 1e-4 {
		t.Error("training mode: Y of image 0 does not depend on the batch")
	}
	nn.SetTraining(e, false)
	if d := maxDiff(first(evalY(t, e, x)), first(evalY(t, e, two))); d > 1e-5 {
		t.Errorf("eval mode: Y of image 0 differs by %g between batches", d)
	}
}

// TestLayerNetTail: the tail of global DIM maps the local map to
// [N, units] with parameters of its own, named as the encoder's layers.
func TestLayerNetTail(t *testing.T) {
	for _, c := range []struct {
		name  string
		enc   func(t *testing.T) Encoder
		first string // the tail's first parameter
	}{
		{"tiny", func(t *testing.T) Encoder { return newTiny(t, 1) }, "layer5.layers.layer0.conv.weight"},
		{"resnet19_32x32", func(t *testing.T) Encoder { return mustNew(t, "resnet19_32x32") }, "layer3.layers.layer0.conv.weight"},
		{"foldmultialex64x64", func(t *testing.T) Encoder { return mustNew(t, "foldmultialex64x64") }, "layer7.conv.weight"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := c.enc(t)
			shape, _ := e.TapShape(TapLocal)
			local := tensor.New(append([]int{2}, shape...)...)
			tensor.NewRNG(6).Uniform(local, 0, 1)
			tail := e.(Tailer).Tail(7, tensor.NewRNG(1))
			tp := autograd.NewTape()
			tp.SetNoGrad(true)
			out := tail.Forward(tp, tp.Const(local))
			if err := tp.Err(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(out.Value.Shape, []int{2, 7}) {
				t.Errorf("tail output %v, want [2 7]", out.Value.Shape)
			}
			own := nn.StateOf(e, "").Vars()
			st := nn.StateOf(tail, "")
			if len(st.Params) == 0 || st.Params[0].Name != c.first {
				t.Fatalf("tail parameters start with %v, want %s", st.Params[:min(1, len(st.Params))], c.first)
			}
			for _, p := range st.Params {
				if slices.Contains(own, p.Var) {
					t.Errorf("tail parameter %s is the encoder's", p.Name)
				}
			}
			last := st.Params[len(st.Params)-1]
			if !strings.HasSuffix(last.Name, ".bias") || last.Var.Value.Shape[0] != 7 {
				t.Errorf("tail's last parameter %s %v, want the bias of 7 outputs", last.Name, last.Var.Value.Shape)
			}
		})
	}
}

func mustNew(t *testing.T, name string) Encoder {
	t.Helper()
	e, err := New(Spec{Name: name}, tensor.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestLayerNetInvalid: architectures and specs that cannot be built are
// errors naming the problem, not panics.
func TestLayerNetInvalid(t *testing.T) {
	edit := func(f func(a *LayerArch)) LayerArch {
		a := tinyFolded
		a.Layers = slices.Clone(a.Layers)
		f(&a)
		return a
	}
	conv := func(c ConvSpec) LayerSpec { return LayerSpec{Kind: LayerConv, Conv: c} }
	for _, c := range []struct {
		name string
		arch LayerArch
		spec Spec
		want string
	}{
		{"no layers", edit(func(a *LayerArch) { a.Layers = nil }), Spec{}, "0 layers"},
		{"no input", edit(func(a *LayerArch) { a.Channels = 0 }), Spec{}, "input"},
		{"unknown kind", edit(func(a *LayerArch) { a.Layers[6].Kind = 0 }), Spec{}, "unknown kind"},
		{"repeat 0", edit(func(a *LayerArch) { a.Layers[2].Repeat = 0 }), Spec{}, "repeated 0 times"},
		{"pool in block", edit(func(a *LayerArch) {
			a.Layers[5].Block = []ConvSpec{{Out: 5, Kernel: 1, Stride: 1, PoolKernel: 2, PoolStride: 2}}
		}), Spec{}, "pools"},
		{"no shortcut", edit(func(a *LayerArch) {
			a.Layers[5].Block = []ConvSpec{{Out: 5, Kernel: 2, Stride: 1}} // 3x3 -> 2x2: no strided 1x1 does that
		}), Spec{}, "shortcut"},
		{"conv too large", edit(func(a *LayerArch) { a.Layers[1] = conv(ConvSpec{Out: 3, Kernel: 5, Stride: 1}) }), Spec{}, "leaves no pixels"},
		{"conv zero", edit(func(a *LayerArch) { a.Layers[1] = conv(ConvSpec{Out: 0, Kernel: 1, Stride: 1}) }), Spec{}, "positive"},
		{"two unfolds", edit(func(a *LayerArch) { a.Layers[1] = LayerSpec{Kind: LayerUnfold} }), Spec{}, "at most one unfold"},
		{"fold without unfold", edit(func(a *LayerArch) { a.Layers[0] = conv(ConvSpec{Out: 2, Kernel: 1, Stride: 1}) }), Spec{}, "fold needs crops"},
		{"linear on crops", edit(func(a *LayerArch) { a.Layers[4] = LayerSpec{Kind: LayerFlatten} }), Spec{}, "fold the crops first"},
		{"crops never folded", edit(func(a *LayerArch) { a.Layers = a.Layers[:4]; a.Local, a.Conv, a.FC, a.Globals = 1, 1, 1, 0 }), Spec{}, "never folded"},
		{"odd crop", edit(func(a *LayerArch) { a.Crop = 3 }), Spec{}, "even and divide"},
		{"crop not dividing", edit(func(a *LayerArch) { a.Crop = 6 }), Spec{}, "even and divide"},
		{"zero units", edit(func(a *LayerArch) { a.Layers[7].Units = 0 }), Spec{}, "0 units"},
		{"local on crops", edit(func(a *LayerArch) { a.Local = 1 }), Spec{}, "local tap at layer 1"},
		{"conv tap a vector", edit(func(a *LayerArch) { a.Conv = 7 }), Spec{}, "conv tap at layer 7"},
		{"fc out of range", edit(func(a *LayerArch) { a.FC = 8 }), Spec{}, "fc tap at layer 8"},
		{"globals a vector", edit(func(a *LayerArch) { a.Globals = 6 }), Spec{}, "globals tap at layer 6"},
		{"no outputs", tinyFolded, Spec{Out: -1}, "-1 output units"},
		{"channels", tinyFolded, Spec{Channels: 3}, "takes 2x8x8"},
		{"size", tinyFolded, Spec{Size: 9}, "takes 2x8x8"},
		{"options", tinyFolded, Spec{Options: json.RawMessage(`{"width":2}`)}, "no options"},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.NoPanic(t, c.name, func() {
				_, err := NewLayerNet(c.arch, c.spec, tensor.NewRNG(0))
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("NewLayerNet: %v, want an error containing %q", err, c.want)
				}
			})
		})
	}
	// Spec fields that agree, and Out, are accepted.
	e, err := NewLayerNet(tinyFolded, Spec{Channels: 2, Size: 8, Out: 4, Options: json.RawMessage("{}")}, tensor.NewRNG(0))
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := e.TapShape(TapY); !slices.Equal(s, []int{4}) || e.Spec().Out != 4 {
		t.Errorf("Out 4: TapShape(y) = %v, Spec().Out = %d", s, e.Spec().Out)
	}
}

// checkModuleGrad compares the gradients of out = f(x) with central
// differences for x and every parameter of m, with the probe loss
// L = sum r_i out_i accumulated in float64 (as the autograd package's
// gradient checks). BatchNorms stay in training mode (batch statistics).
// A probe whose one-sided differences disagree straddles a ReLU kink (the
// small batches make pre-activations move fast) and is skipped; at most a
// quarter of the probes may be.
func checkModuleGrad(t *testing.T, name string, m any, f func(tp *autograd.Tape, x *autograd.Var) *autograd.Var, x *tensor.Tensor) {
	t.Helper()
	const h, atol, rtol, probes = 1e-3, 2e-3, 2e-2, 24
	xv := autograd.NewParam(x)
	vars := []nn.Param{{Name: "input", Var: xv}}
	vars = append(vars, nn.StateOf(m, "").Params...)
	tp := autograd.NewTape()
	out := f(tp, xv)
	if err := tp.Err(); err != nil {
		t.Fatalf("%s: forward: %v", name, err)
	}
	r := tensor.New(out.Value.Shape...)
	tensor.NewRNG(9).Uniform(r, -1, 1)
	if err := tp.BackwardWith(out, r); err != nil {
		t.Fatalf("%s: backward: %v", name, err)
	}
	loss := func() float64 {
		tp := autograd.NewTape()
		tp.SetNoGrad(true)
		o := f(tp, tp.Const(x))
		var s float64
		for i, v := range o.Value.Data {
			s += float64(v) * float64(r.Data[i])
		}
		return s
	}
	close := func(a, b float64) bool { return math.Abs(a-b) <= atol+rtol*math.Max(math.Abs(a), math.Abs(b)) }
	l0 := loss()
	n, kinks := 0, 0
	for _, p := range vars {
		d := p.Var.Value.Data
		step := max(1, len(d)/probes)
		for j := 0; j < len(d); j += step {
			orig := d[j]
			d[j] = orig + h
			lp := loss()
			d[j] = orig - h
			lm := loss()
			d[j] = orig
			n++
			if !close((lp-l0)/h, (l0-lm)/h) {
				kinks++
				continue
			}
			num, ana := (lp-lm)/(2*h), float64(p.Var.Grad.Data[j])
			if !close(num, ana) {
				t.Errorf("%s: %s[%d]: analytic %.6g, numeric %.6g", name, p.Name, j, ana, num)
			}
		}
	}
	t.Logf("%s: %d probes, %d skipped at kinks", name, n, kinks)
	if kinks > n/4 {
		t.Errorf("%s: %d of %d probes straddle a kink", name, kinks, n)
	}
}

// TestGradResBlock checks the gradient of residual blocks with an identity
// shortcut, a strided projection and a channel-only projection.
func TestGradResBlock(t *testing.T) {
	for _, c := range []struct {
		name  string
		in    []int // [N,C,H,W]
		convs []ConvSpec
		proj  bool
	}{
		{"identity", []int{2, 4, 3, 3}, bottleneckTiny(2, 1, 4), false},
		{"projection stride 2", []int{2, 3, 4, 4}, bottleneckTiny(2, 2, 5), true},
		{"projection stride 1", []int{2, 3, 3, 3}, []ConvSpec{{Out: 2, Kernel: 1, Stride: 1}, {Out: 4, Kernel: 1, Stride: 1}}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newResBlock(c.in[1], c.in[2], c.convs, tensor.NewRNG(3))
			if (b.down != nil) != c.proj {
				t.Fatalf("projection shortcut: %v, want %v", b.down != nil, c.proj)
			}
			// Move the batch norms' affine parameters off 1 and 0.
			for _, p := range nn.StateOf(b, "").Params {
				if p.Var.Value.Rank() == 1 {
					tensor.NewRNG(4).Uniform(p.Var.Value, 0.5, 1.5)
				}
			}
			x := tensor.New(c.in...)
			tensor.NewRNG(5).Uniform(x, -1, 1)
			checkModuleGrad(t, c.name, b, b.Forward, x)
		})
	}
}

// bottleneckTiny is a bottleneck block of the given widths.
func bottleneckTiny(width, stride, out int) []ConvSpec {
	return []ConvSpec{{Out: width, Kernel: 1, Stride: 1}, {Out: width, Kernel: 3, Stride: stride, Pad: 1}, {Out: out, Kernel: 1, Stride: 1}}
}

// TestGradFoldUnfold checks the gradients of the crop and fold layers.
func TestGradFoldUnfold(t *testing.T) {
	x := tensor.New(2, 2, 8, 8)
	tensor.NewRNG(6).Uniform(x, -1, 1)
	u := &unfoldLayer{size: 4, stride: 2}
	checkModuleGrad(t, "unfold", u, u.Forward, x)
	y := tensor.New(18, 2, 2, 2)
	tensor.NewRNG(7).Uniform(y, -1, 1)
	f := &foldLayer{n: 3}
	checkModuleGrad(t, "fold", f, f.Forward, y)
}

// TestFoldValues: the fold puts crop i*n+j of image b at location (i, j)
// of image b, its channel c at (y, x) in channel c*h*w + y*w + x; and
// folding the crops' means is average pooling of the image with the crops'
// size and stride (the fold and unfold orders agree).
func TestFoldValues(t *testing.T) {
	const n, c, h, w = 3, 2, 2, 2
	in := tensor.New(2*n*n, c, h, w)
	tensor.NewRNG(8).Uniform(in, -1, 1)
	tp := autograd.NewTape()
	out := (&foldLayer{n: n}).Forward(tp, tp.Const(in))
	if err := tp.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Value.Shape, []int{2, c * h * w, n, n}) {
		t.Fatalf("fold shape %v", out.Value.Shape)
	}
	for b := range 2 {
		for i := range n {
			for j := range n {
				for ch := range c {
					for y := range h {
						for xx := range w {
							got := out.Value.Data[((b*c*h*w+(ch*h+y)*w+xx)*n+i)*n+j]
							want := in.Data[(((b*n*n+i*n+j)*c+ch)*h+y)*w+xx]
							if got != want {
								t.Fatalf("fold[%d,%d,%d,%d] = %v, want crop %d channel %d at (%d,%d) = %v", b, (ch*h+y)*w+xx, i, j, got, i*n+j, ch, y, xx, want)
							}
						}
					}
				}
			}
		}
	}

	// Vectors fold as 1x1 maps; a batch that is not whole images is an
	// error.
	tp = autograd.NewTape()
	vec := (&foldLayer{n: n}).Forward(tp, tp.Const(&tensor.Tensor{Shape: []int{2 * n * n, c}, Data: in.Data[:2*n*n*c]}))
	if err := tp.Err(); err != nil || !slices.Equal(vec.Value.Shape, []int{2, c, n, n}) {
		t.Errorf("fold of vectors: %v, %v; want shape [2 %d %d %d]", vec.Value.Shape, err, c, n, n)
	}
	tp = autograd.NewTape()
	(&foldLayer{n: n}).Forward(tp, tp.Const(tensor.New(2*n*n+1, c, h, w)))
	if tp.Err() == nil {
		t.Error("fold of 19 crops in 9s: no error")
	}

	img := tensor.New(2, 3, 8, 8)
	tensor.NewRNG(9).Uniform(img, -1, 1)
	tp = autograd.NewTape()
	crops := (&unfoldLayer{size: 4, stride: 2}).Forward(tp, tp.Const(img))
	folded := (&foldLayer{n: 3}).Forward(tp, tp.AvgPool2d(crops, 4, 4, 0))
	pooled := tp.AvgPool2d(tp.Const(img), 4, 2, 0)
	if err := tp.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(folded.Value.Shape, pooled.Value.Shape) {
		t.Fatalf("fold of crop means %v, pooled image %v", folded.Value.Shape, pooled.Value.Shape)
	}
	if d := maxDiff(folded.Value.Data, pooled.Value.Data); d > 1e-6 {
		t.Errorf("fold of crop means differs from average pooling by %g", d)
	}
}

// evalY returns Y of e on x without gradients.
func evalY(t *testing.T, e Encoder, x *tensor.Tensor) []float32 {
	t.Helper()
	tp := autograd.NewTape()
	tp.SetNoGrad(true)
	y := e.Encode(tp, tp.Const(x)).Y
	if err := tp.Err(); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(y.Value.Data)
}

// TestLayerNetNoAllocs: a warm training pass (forward and backward) of a
// LayerNet allocates nothing.
func TestLayerNetNoAllocs(t *testing.T) {
	e := newTiny(t, 1)
	x := tensor.New(2, 2, 8, 8)
	tensor.NewRNG(3).Uniform(x, -1, 1)
	params := nn.StateOf(e, "").Vars()
	tp := autograd.NewTape()
	step := func() {
		tp.Reset()
		autograd.ZeroGrad(params...)
		f := e.Encode(tp, tp.Const(x))
		if err := tp.Backward(tp.Sum(tp.Square(f.Y))); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if a := testing.AllocsPerRun(10, step); a != 0 {
		t.Errorf("%v allocations per warm pass, want 0", a)
	}
}
