package encoder

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/internal/testutil"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// referenceArchs are the reference convnets every build must register.
var referenceArchs = []string{"alex64x64", "basic28x28", "basic32x32", "basic64x64"}

// testArch is a small convnet for tests that need no reference encoder.
var testArch = Arch{
	Name: "test-small", Channels: 2, Size: 9,
	Convs: []ConvSpec{{Out: 3, Kernel: 3, Stride: 2, Pad: 1}, {Out: 4, Kernel: 3, Stride: 1, Pad: 1, PoolKernel: 2, PoolStride: 2}},
	FCs:   []int{6}, Out: 5, LocalLayer: 0, FeatureLayer: 1,
}

// encodeBatch runs enc on a random batch of n images without gradients
// (in enc's current mode).
func encodeBatch(t *testing.T, enc Encoder, n int, seed uint64) Features {
	t.Helper()
	s := enc.Spec()
	x := tensor.New(n, s.Channels, s.Size, s.Size)
	tensor.NewRNG(seed).Uniform(x, -1, 1)
	tp := autograd.NewTape()
	tp.SetNoGrad(true)
	f := enc.Encode(tp, tp.Const(x))
	if err := tp.Err(); err != nil {
		t.Fatalf("encode: %v", err)
	}
	return f
}

func TestRegistryNames(t *testing.T) {
	names := Names()
	if !slices.IsSorted(names) {
		t.Errorf("Names() = %v, not sorted", names)
	}
	for _, n := range referenceArchs {
		if !slices.Contains(names, n) {
			t.Errorf("Names() = %v lacks reference encoder %s", names, n)
		}
		if Doc(n) == "" {
			t.Errorf("Doc(%q) is empty", n)
		}
	}
	if Doc("no-such-encoder") != "" {
		t.Errorf("Doc of an unknown encoder = %q, want empty", Doc("no-such-encoder"))
	}
}

func TestRegistryUnknownNameListsNames(t *testing.T) {
	_, err := New(Spec{Name: "no-such-encoder"}, tensor.NewRNG(0))
	if err == nil {
		t.Fatal("New of an unknown encoder: no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, `"no-such-encoder"`) {
		t.Errorf("error %q does not name the unknown encoder", msg)
	}
	for _, n := range Names() {
		if !strings.Contains(msg, n) {
			t.Errorf("error %q does not list registered encoder %s", msg, n)
		}
	}
}

func TestRegisterDuplicate(t *testing.T) {
	const name = "test-register-duplicate"
	calls := 0
	b := func(s Spec, rng *tensor.RNG) (Encoder, error) { calls++; return NewConvNet(testArch, s, rng) }
	if err := Register(name, "first", b); err != nil {
		t.Fatalf("first Register: %v", err)
	}
	err := Register(name, "second", func(Spec, *tensor.RNG) (Encoder, error) {
		t.Error("the second builder was used")
		return nil, nil
	})
	if err == nil || !strings.Contains(err.Error(), name) {
		t.Fatalf("second Register: err = %v, want an error naming %s", err, name)
	}
	if Doc(name) != "first" {
		t.Errorf("Doc = %q after a rejected duplicate, want the first registration's", Doc(name))
	}
	if !slices.Contains(Names(), name) || !slices.IsSorted(Names()) {
		t.Errorf("Names() = %v after Register", Names())
	}
	if _, err := New(Spec{Name: name}, tensor.NewRNG(0)); err != nil || calls != 1 {
		t.Fatalf("New of the registered encoder: %v, %d builder calls", err, calls)
	}
}

func TestNewValidatesTransform(t *testing.T) {
	for _, c := range []struct {
		name string
		tr   data.Transform
		want string // a part of the error; "" for none
	}{
		{"default", data.Transform{}, ""},
		{"one mean and std", data.Transform{Mean: []float32{0.1}, Std: []float32{0.3}}, ""},
		{"crop", data.Transform{CenterCrop: 28}, ""},
		{"mean without std", data.Transform{Mean: []float32{0.1}}, "1 means but 0 standard deviations"},
		{"more stds", data.Transform{Mean: []float32{0.1}, Std: []float32{0.3, 0.3}}, "1 means but 2"},
		{"zero std", data.Transform{Mean: []float32{0.1}, Std: []float32{0}}, "positive"},
		{"negative std", data.Transform{Mean: []float32{0.1}, Std: []float32{-0.3}}, "positive"},
		{"NaN std", data.Transform{Mean: []float32{0.1}, Std: []float32{float32NaN()}}, "positive"},
		{"negative crop", data.Transform{CenterCrop: -1}, "negative centre crop"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := New(Spec{Name: "basic28x28", Transform: c.tr}, tensor.NewRNG(0))
			if c.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if got := e.Spec().Transform; !reflect.DeepEqual(got, c.tr) {
					t.Errorf("Spec().Transform = %+v, want %+v", got, c.tr)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New: err = %v, want one containing %q", err, c.want)
			}
			if !strings.Contains(err.Error(), "basic28x28") {
				t.Errorf("error %q does not name the encoder", err)
			}
		})
	}
}

func float32NaN() float32 {
	z := float32(0)
	return z / z
}

func TestNewConvNetChecksSpec(t *testing.T) {
	for _, c := range []struct {
		name string
		spec Spec
		ok   bool
	}{
		{"zero", Spec{}, true},
		{"matching", Spec{Channels: 2, Size: 9}, true},
		{"channels", Spec{Channels: 3}, false},
		{"size", Spec{Size: 10}, false},
		{"both", Spec{Channels: 1, Size: 28}, false},
		{"null options", Spec{Options: json.RawMessage("null")}, true},
		{"empty options", Spec{Options: json.RawMessage("{}")}, true},
		{"unknown option", Spec{Options: json.RawMessage(`{"width":2}`)}, false},
		{"bad options", Spec{Options: json.RawMessage(`[1]`)}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := NewConvNet(testArch, c.spec, tensor.NewRNG(0))
			if !c.ok {
				if err == nil {
					t.Fatalf("NewConvNet(%+v): no error", c.spec)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewConvNet(%+v): %v", c.spec, err)
			}
			s := e.Spec()
			if s.Channels != testArch.Channels || s.Size != testArch.Size || s.Out != testArch.Out {
				t.Errorf("Spec() = %+v, want the architecture's %dx%d, out %d", s, testArch.Channels, testArch.Size, testArch.Out)
			}
		})
	}
	// Out overrides the architecture's.
	e, err := NewConvNet(testArch, Spec{Out: 3}, tensor.NewRNG(0))
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := e.TapShape(TapY); e.Spec().Out != 3 || !slices.Equal(s, []int{3}) {
		t.Errorf("Out 3: Spec().Out = %d, TapShape(y) = %v", e.Spec().Out, s)
	}
	f := encodeBatch(t, e, 2, 1)
	if !slices.Equal(f.Y.Value.Shape, []int{2, 3}) {
		t.Errorf("Out 3: Y shape %v, want [2 3]", f.Y.Value.Shape)
	}
}

// TestTapShapes: for each reference encoder, TapShape is the per-sample
// shape of the taps Encode produces, and the spec is filled in.
func TestTapShapes(t *testing.T) {
	want := map[string]struct {
		c, size int
		local   []int
		conv    []int
		fc      int
	}{
		"basic28x28": {1, 28, []int{128, 7, 7}, []int{128, 7, 7}, 1024},
		"basic32x32": {3, 32, []int{128, 8, 8}, []int{256, 4, 4}, 1024},
		"basic64x64": {3, 64, []int{256, 8, 8}, []int{512, 4, 4}, 1024},
		"alex64x64":  {3, 64, []int{384, 15, 15}, []int{192, 7, 7}, 4096},
	}
	for _, name := range referenceArchs {
		t.Run(name, func(t *testing.T) {
			if testing.Short() && (name == "alex64x64" || name == "basic64x64") {
				t.Skip("large encoder in -short mode")
			}
			w := want[name]
			e, err := New(Spec{Name: name}, tensor.NewRNG(1))
			if err != nil {
				t.Fatal(err)
			}
			s := e.Spec()
			if s.Name != name || s.Channels != w.c || s.Size != w.size || s.Out != 64 {
				t.Errorf("Spec() = %+v, want %s %dx%d out 64", s, name, w.c, w.size)
			}
			if !slices.Equal(e.Taps(), []string{TapLocal, TapConv, TapFC, TapY}) {
				t.Errorf("Taps() = %v", e.Taps())
			}
			f := encodeBatch(t, e, 2, 2)
			wantShapes := map[string][]int{TapLocal: w.local, TapConv: w.conv, TapFC: {w.fc}, TapY: {64}}
			for _, tap := range e.Taps() {
				shape, err := e.TapShape(tap)
				if err != nil {
					t.Fatalf("TapShape(%s): %v", tap, err)
				}
				v, err := f.Tap(tap)
				if err != nil {
					t.Fatalf("Tap(%s): %v", tap, err)
				}
				if v == nil {
					t.Fatalf("tap %s is nil", tap)
				}
				got := v.Value.Shape
				if got[0] != 2 || !slices.Equal(got[1:], shape) {
					t.Errorf("tap %s: Encode gives %v, TapShape %v", tap, got, shape)
				}
				if !slices.Equal(shape, wantShapes[tap]) {
					t.Errorf("TapShape(%s) = %v, want %v", tap, shape, wantShapes[tap])
				}
			}
			if _, err := e.TapShape("nope"); err == nil {
				t.Error("TapShape of an unknown tap: no error")
			}
		})
	}
}

func TestFeaturesTap(t *testing.T) {
	e, err := NewConvNet(testArch, Spec{}, tensor.NewRNG(0))
	if err != nil {
		t.Fatal(err)
	}
	f := encodeBatch(t, e, 2, 3)
	for name, want := range map[string]*autograd.Var{TapLocal: f.Local, TapConv: f.Conv, TapFC: f.FC, TapY: f.Y} {
		if v, err := f.Tap(name); err != nil || v != want {
			t.Errorf("Tap(%s) = %p, %v; want the field %p", name, v, err, want)
		}
	}
	// Local (layer 0) and conv (layer 1) are different layers here.
	if f.Local == f.Conv {
		t.Error("local and conv taps are the same Var")
	}
	extra := &autograd.Var{}
	f.Extra = []Tap{{Name: "pooled", Var: extra}}
	if v, err := f.Tap("pooled"); err != nil || v != extra {
		t.Errorf("Tap(pooled) = %p, %v; want the extra tap", v, err)
	}
	_, err = f.Tap("nope")
	if err == nil {
		t.Fatal("Tap of an unknown name: no error")
	}
	for _, n := range []string{`"nope"`, TapLocal, TapConv, TapFC, TapY, "pooled"} {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not mention %s", err, n)
		}
	}
}

// TestParamNames: the parameters and buffers of basic28x28 are named as
// the PyTorch reference's (and the checkpoints written before the
// refactor).
func TestParamNames(t *testing.T) {
	e, err := New(Spec{Name: "basic28x28"}, tensor.NewRNG(0))
	if err != nil {
		t.Fatal(err)
	}
	st := nn.StateOf(e, "encoder")
	var params, buffers []string
	for _, p := range st.Params {
		params = append(params, p.Name)
	}
	for _, b := range st.Buffers {
		buffers = append(buffers, b.Name)
	}
	wantParams := []string{
		"encoder.conv1.weight", "encoder.conv1.bias", "encoder.bn1.weight", "encoder.bn1.bias",
		"encoder.conv2.weight", "encoder.conv2.bias", "encoder.bn2.weight", "encoder.bn2.bias",
		"encoder.fc1.weight", "encoder.fc1.bias", "encoder.bnfc1.weight", "encoder.bnfc1.bias",
		"encoder.y.weight", "encoder.y.bias",
	}
	wantBuffers := []string{
		"encoder.bn1.running_mean", "encoder.bn1.running_var",
		"encoder.bn2.running_mean", "encoder.bn2.running_var",
		"encoder.bnfc1.running_mean", "encoder.bnfc1.running_var",
	}
	if !slices.Equal(params, wantParams) {
		t.Errorf("parameters\n got %v\nwant %v", params, wantParams)
	}
	if !slices.Equal(buffers, wantBuffers) {
		t.Errorf("buffers\n got %v\nwant %v", buffers, wantBuffers)
	}
	shapes := map[string][]int{
		"encoder.conv1.weight": {64, 1, 5, 5}, "encoder.conv2.weight": {128, 64, 5, 5},
		"encoder.fc1.weight": {1024, 6272}, "encoder.y.weight": {64, 1024},
		"encoder.bnfc1.running_var": {1024},
	}
	ts := st.Tensors()
	for n, s := range shapes {
		if got := ts[n]; got == nil {
			t.Errorf("no tensor %s", n)
		} else if !slices.Equal(got.Shape, s) {
			t.Errorf("%s: shape %v, want %v", n, got.Shape, s)
		}
	}
	if n := st.NumParams(); n != 64*25+64+2*64+128*64*25+128+2*128+1024*6272+1024+2*1024+64*1024+64 {
		t.Errorf("NumParams = %d", n)
	}
}

// TestTrainingModes: every BatchNorm of a ConvNet is switched by
// nn.SetTraining, and eval mode uses the running statistics (a sample's
// features do not depend on the rest of the batch, as they do in
// training mode).
func TestTrainingModes(t *testing.T) {
	e, err := NewConvNet(testArch, Spec{}, tensor.NewRNG(0))
	if err != nil {
		t.Fatal(err)
	}
	modes := nn.ModesOf(e)
	if len(modes) != len(testArch.Convs)+len(testArch.FCs) {
		t.Fatalf("%d mode-dependent layers, want %d", len(modes), len(testArch.Convs)+len(testArch.FCs))
	}
	x := tensor.New(3, 2, 9, 9)
	tensor.NewRNG(5).Uniform(x, -1, 1)
	first := &tensor.Tensor{Shape: []int{2, 2, 9, 9}, Data: x.Data[:2*2*9*9]} // a batch of 1 cannot train BatchNorm
	y := func(in *tensor.Tensor) []float32 {
		tp := autograd.NewTape()
		tp.SetNoGrad(true)
		v := e.Encode(tp, tp.Const(in)).Y
		if err := tp.Err(); err != nil {
			t.Fatal(err)
		}
		return v.Value.Data[:testArch.Out]
	}
	batch, alone := y(x), y(first)
	if maxDiff(batch, alone) < 1e-3 {
		t.Errorf("training mode: Y of image 0 is the same in batches of 3 and 2 (batch statistics unused?)")
	}
	nn.SetTraining(e, false)
	for _, m := range modes {
		if m.(*nn.BatchNorm).Training {
			t.Fatal("a BatchNorm still in training mode after SetTraining(false)")
		}
	}
	batch, alone = y(x), y(first)
	if d := maxDiff(batch, alone); d > 1e-5 {
		t.Errorf("eval mode: Y of image 0 differs by %g between batches of 3 and 2", d)
	}
}

func maxDiff(a, b []float32) float64 {
	var m float64
	for i := range a {
		d := float64(a[i] - b[i])
		if d < 0 {
			d = -d
		}
		m = max(m, d)
	}
	return m
}

// TestTail: the tail maps the local map to [N, units], with its own
// parameters.
func TestTail(t *testing.T) {
	for _, c := range []struct {
		name string
		arch Arch
	}{{"basic28x28", Archs["basic28x28"]}, {"basic32x32", Archs["basic32x32"]}, {"test", testArch}} {
		t.Run(c.name, func(t *testing.T) {
			e, err := NewConvNet(c.arch, Spec{}, tensor.NewRNG(0))
			if err != nil {
				t.Fatal(err)
			}
			f := encodeBatch(t, e, 2, 4)
			tail := e.Tail(7, tensor.NewRNG(1))
			tp := autograd.NewTape()
			tp.SetNoGrad(true)
			out := tail.Forward(tp, tp.Const(f.Local.Value))
			if err := tp.Err(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(out.Value.Shape, []int{2, 7}) {
				t.Errorf("tail output %v, want [2 7]", out.Value.Shape)
			}
			own := nn.StateOf(e, "").Vars()
			for _, p := range nn.StateOf(tail, "").Params {
				if slices.Contains(own, p.Var) {
					t.Errorf("tail parameter %s is the encoder's", p.Name)
				}
			}
		})
	}
}

func TestSpecJSONRoundTrip(t *testing.T) {
	spec := Spec{Name: "basic28x28", Transform: data.Transform{CenterCrop: 28, Mean: []float32{0.1}, Std: []float32{0.3}}}
	e, err := New(spec, tensor.NewRNG(0))
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(e.Spec())
	if err != nil {
		t.Fatal(err)
	}
	var back Spec
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, e.Spec()) {
		t.Errorf("JSON round trip: %+v, want %+v", back, e.Spec())
	}
	e2, err := New(back, tensor.NewRNG(0))
	if err != nil {
		t.Fatalf("New from the saved spec: %v", err)
	}
	if !reflect.DeepEqual(e2.Spec(), e.Spec()) {
		t.Errorf("rebuilt spec %+v, want %+v", e2.Spec(), e.Spec())
	}
	if !strings.Contains(string(js), `"center_crop":28`) || !strings.Contains(string(js), `"name":"basic28x28"`) {
		t.Errorf("spec JSON %s", js)
	}
}

func TestCheckInput(t *testing.T) {
	s := Spec{Name: "x", Channels: 3, Size: 8}
	if err := s.CheckInput(3, 8, 8); err != nil {
		t.Errorf("matching input: %v", err)
	}
	for _, in := range [][3]int{{1, 8, 8}, {3, 9, 8}, {3, 8, 9}} {
		if err := s.CheckInput(in[0], in[1], in[2]); err == nil {
			t.Errorf("CheckInput%v: no error", in)
		}
	}
	s.Transform.CenterCrop = 8
	if err := s.CheckInput(3, 10, 12); err != nil {
		t.Errorf("cropped input: %v", err)
	}
	if err := s.CheckInput(3, 7, 12); err == nil {
		t.Error("image smaller than the crop: no error")
	}
	s.Transform.CenterCrop = 6
	if err := s.CheckInput(3, 10, 10); err == nil {
		t.Error("crop smaller than the encoder's size: no error")
	}
}

// TestNewConvNetInvalidArch: an architecture whose tap layers do not exist
// is an error of NewConvNet, not a panic later.
func TestNewConvNetInvalidArch(t *testing.T) {
	noConvs := testArch
	noConvs.Convs = nil
	local := testArch
	local.LocalLayer = len(testArch.Convs)
	feature := testArch
	feature.FeatureLayer = -1
	for name, a := range map[string]Arch{"no convs": noConvs, "local layer": local, "feature layer": feature} {
		testutil.NoPanic(t, name, func() {
			if _, err := NewConvNet(a, Spec{}, tensor.NewRNG(0)); err == nil {
				t.Errorf("%s: NewConvNet accepted %+v", name, a)
			}
		})
	}
}

// TestConvNetWithoutFC: an architecture without hidden fully connected
// layers is either refused or has an fc tap (the flattened conv output,
// which Encode returns) whose TapShape is right.
func TestConvNetWithoutFC(t *testing.T) {
	a := testArch
	a.FCs = nil
	e, err := NewConvNet(a, Spec{}, tensor.NewRNG(0))
	if err != nil {
		return // refusing such an architecture is fine
	}
	f := encodeBatch(t, e, 2, 1)
	testutil.NoPanic(t, "TapShape(fc)", func() {
		shape, err := e.TapShape(TapFC)
		if err != nil || !slices.Equal(append([]int{2}, shape...), f.FC.Value.Shape) {
			t.Errorf("TapShape(fc) = %v, %v; Encode gives %v", shape, err, f.FC.Value.Shape)
		}
	})
}
