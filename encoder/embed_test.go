package encoder_test

import (
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// embedArch is a tiny two-channel encoder whose local and conv taps are
// different layers.
var embedArch = encoder.Arch{
	Name: "test-embed", Channels: 2, Size: 9,
	Convs: []encoder.ConvSpec{{Out: 3, Kernel: 3, Stride: 2, Pad: 1}, {Out: 4, Kernel: 3, Stride: 2, Pad: 1}},
	FCs:   []int{6}, Out: 5, LocalLayer: 0, FeatureLayer: 1,
}

func init() {
	if err := encoder.RegisterArch(embedArch, "a test encoder for Embed"); err != nil {
		panic(err)
	}
}

// embedTransform normalises the two channels differently.
var embedTransform = data.Transform{Mean: []float32{0.2, 0.6}, Std: []float32{0.5, 0.25}}

// newEmbedEncoder builds the test encoder with tr and gives its BatchNorms
// running statistics other than the initial ones (a few training-mode
// passes), so that evaluation mode differs from a fresh encoder's.
func newEmbedEncoder(t *testing.T, tr data.Transform) encoder.Encoder {
	t.Helper()
	enc, err := encoder.New(encoder.Spec{Name: embedArch.Name, Transform: tr}, tensor.NewRNG(7))
	if err != nil {
		t.Fatal(err)
	}
	rng := tensor.NewRNG(8)
	x := tensor.New(4, 2, 9, 9)
	tp := autograd.NewTape()
	tp.SetNoGrad(true)
	for range 3 {
		rng.Uniform(x, -2, 3)
		tp.Reset()
		enc.Encode(tp, tp.Const(x))
		if err := tp.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return enc
}

// memData is n labelled random images of c x h x w.
func memData(t *testing.T, n, c, h, w int) *data.Memory {
	t.Helper()
	rng := tensor.NewRNG(uint64(n*1000 + h))
	pix := make([]uint8, n*c*h*w)
	for i := range pix {
		pix[i] = uint8(rng.IntN(256))
	}
	labels := make([]int, n)
	for i := range labels {
		labels[i] = (i * 7) % 4
	}
	ds, err := data.NewMemory(c, h, w, pix, labels, 4)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// transformByHand applies tr to every image of ds: the central k x k square
// (k = tr.CenterCrop, or the whole image), then (x/255 - mean[c]) / std[c].
func transformByHand(ds *data.Memory, tr data.Transform) *tensor.Tensor {
	c, h, w := ds.Shape()
	kh, kw := h, w
	if tr.CenterCrop > 0 {
		kh, kw = tr.CenterCrop, tr.CenterCrop
	}
	y0, x0 := (h-kh)/2, (w-kw)/2
	n := ds.Len()
	out := tensor.New(n, c, kh, kw)
	pix := ds.Pixels()
	i := 0
	for img := range n {
		for ch := range c {
			m, s := tr.Mean[ch], tr.Std[ch]
			for y := range kh {
				for x := range kw {
					v := pix[((img*c+ch)*h+y0+y)*w+x0+x]
					out.Data[i] = (float32(v)/255 - m) / s
					i++
				}
			}
		}
	}
	return out
}

// encodeEval encodes x in one batch in evaluation mode and returns every
// tap flattened per image; it leaves enc in training mode.
func encodeEval(t *testing.T, enc encoder.Encoder, x *tensor.Tensor) map[string][]float32 {
	t.Helper()
	nn.SetTraining(enc, false)
	defer nn.SetTraining(enc, true)
	tp := autograd.NewTape()
	tp.SetNoGrad(true)
	f := enc.Encode(tp, tp.Const(x))
	if err := tp.Err(); err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	for _, name := range enc.Taps() {
		v, err := f.Tap(name)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = slices.Clone(v.Value.Data)
	}
	return out
}

func closeTo(got, want []float32, tol float32) (int, bool) {
	if len(got) != len(want) {
		return -1, false
	}
	for i := range got {
		d := got[i] - want[i]
		if d > tol || d < -tol || d != d {
			return i, false
		}
	}
	return 0, true
}

// bnModes returns the training flags of enc's BatchNorms.
func bnModes(enc encoder.Encoder) []bool {
	var out []bool
	for _, m := range nn.ModesOf(enc) {
		out = append(out, m.(*nn.BatchNorm).Training)
	}
	return out
}

func allTraining(t *testing.T, enc encoder.Encoder) {
	t.Helper()
	modes := bnModes(enc)
	if len(modes) == 0 || slices.Contains(modes, false) {
		t.Errorf("BatchNorm training flags after Embed: %v, want all true", modes)
	}
}

// TestEmbedMatchesEncode: Embed's rows are the eval-mode taps of the
// images transformed by the spec, in data-set order, whatever the batch
// size; the labels are the data set's; the encoder is left in training
// mode with its running statistics untouched.
func TestEmbedMatchesEncode(t *testing.T) {
	ds := memData(t, 7, 2, 9, 9)
	enc := newEmbedEncoder(t, embedTransform)
	before := maps.Clone(nn.StateOf(enc, "").Tensors())
	for k, v := range before {
		before[k] = v.Clone()
	}
	x := transformByHand(ds, embedTransform)
	want := encodeEval(t, enc, x)
	for _, batch := range []int{3, 7, 100} {
		var progress []int
		e, err := encoder.Embed(enc, ds, encoder.EmbedOptions{Batch: batch, Progress: func(d int) { progress = append(progress, d) }})
		if err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		if got := slices.Sorted(maps.Keys(e.Taps)); !slices.Equal(got, []string{"conv", "fc", "y"}) {
			t.Errorf("batch %d: default taps %v, want conv, fc, y", batch, got)
		}
		for _, name := range encoder.Layers {
			got, err := e.Layer(name)
			if err != nil {
				t.Fatalf("Layer(%s): %v", name, err)
			}
			shape, _ := enc.TapShape(name)
			d := 1
			for _, s := range shape {
				d *= s
			}
			if !slices.Equal(got.Shape, []int{7, d}) {
				t.Errorf("batch %d: %s features %v, want [7 %d]", batch, name, got.Shape, d)
			}
			if i, ok := closeTo(got.Data, want[name], 1e-5); !ok {
				t.Errorf("batch %d: %s features differ from a direct eval-mode Encode at %d", batch, name, i)
			}
		}
		for i, l := range e.Labels {
			if l != ds.Label(i) {
				t.Errorf("batch %d: label %d = %d, want %d", batch, i, l, ds.Label(i))
			}
		}
		if e.Images != nil {
			t.Errorf("batch %d: Images kept without EmbedOptions.Images", batch)
		}
		wantProgress := []int{7}
		if batch == 3 {
			wantProgress = []int{3, 6, 7}
		}
		if !slices.Equal(progress, wantProgress) {
			t.Errorf("batch %d: progress %v, want %v", batch, progress, wantProgress)
		}
		allTraining(t, enc)
	}
	for k, v := range nn.StateOf(enc, "").Tensors() {
		if i, ok := closeTo(v.Data, before[k].Data, 0); !ok {
			t.Errorf("Embed changed %s at %d", k, i)
		}
	}
}

// TestEmbedCenterCrop: with a centre crop in the spec, Embed encodes the
// central square of larger (here non-square) images, and
// EmbedOptions.Images returns exactly what the encoder saw.
func TestEmbedCenterCrop(t *testing.T) {
	tr := embedTransform
	tr.CenterCrop = 9
	ds := memData(t, 5, 2, 13, 15) // the crop starts at row 2, column 3
	enc := newEmbedEncoder(t, tr)
	x := transformByHand(ds, tr)
	want := encodeEval(t, enc, x)
	e, err := encoder.Embed(enc, ds, encoder.EmbedOptions{Batch: 2, Images: true, Taps: []string{encoder.TapY}})
	if err != nil {
		t.Fatal(err)
	}
	if e.Images == nil || !slices.Equal(e.Images.Shape, []int{5, 2, 9, 9}) {
		t.Fatalf("Images = %v, want [5 2 9 9]", e.Images)
	}
	if i, ok := closeTo(e.Images.Data, x.Data, 0); !ok {
		t.Errorf("Images differ from the centre-cropped, normalised images at %d", i)
	}
	y, err := e.Layer(encoder.TapY)
	if err != nil {
		t.Fatal(err)
	}
	if i, ok := closeTo(y.Data, want[encoder.TapY], 1e-5); !ok {
		t.Errorf("Y differs from encoding the centre-cropped images at %d", i)
	}
	allTraining(t, enc)
}

// TestEmbedTaps: Taps selects what is kept, local map included; Layer of
// anything else is an error naming the taps kept.
func TestEmbedTaps(t *testing.T) {
	ds := memData(t, 4, 2, 9, 9)
	enc := newEmbedEncoder(t, embedTransform)
	want := encodeEval(t, enc, transformByHand(ds, embedTransform))
	e, err := encoder.Embed(enc, ds, encoder.EmbedOptions{Taps: []string{encoder.TapLocal, encoder.TapY}})
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(e.Taps)); !slices.Equal(got, []string{"local", "y"}) {
		t.Errorf("taps %v, want local, y", got)
	}
	local, err := e.Layer(encoder.TapLocal)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(local.Shape, []int{4, 3 * 5 * 5}) {
		t.Errorf("local features %v, want [4 75]", local.Shape)
	}
	if i, ok := closeTo(local.Data, want[encoder.TapLocal], 1e-5); !ok {
		t.Errorf("local features differ from a direct Encode at %d", i)
	}
	for _, name := range []string{encoder.TapConv, "nope"} {
		_, err := e.Layer(name)
		if err == nil {
			t.Errorf("Layer(%q) of a tap not kept: no error", name)
			continue
		}
		if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "local y") {
			t.Errorf("Layer(%q): error %q does not name the tap and those kept", name, err)
		}
	}
}

// countingData counts Image calls and fails from image failAt on.
type countingData struct {
	*data.Memory
	calls  int
	failAt int
}

var errImage = errors.New("unreadable image")

func (c *countingData) Image(i int, dst []uint8) error {
	c.calls++
	if c.failAt >= 0 && i >= c.failAt {
		return errImage
	}
	return c.Memory.Image(i, dst)
}

// TestEmbedErrors: a wrong image size or an unknown tap is reported before
// any image is read; a read error stops Embed; the encoder is in training
// mode afterwards in every case.
func TestEmbedErrors(t *testing.T) {
	enc := newEmbedEncoder(t, embedTransform)
	for _, c := range []struct {
		name    string
		ds      *countingData
		o       encoder.EmbedOptions
		want    string
		noReads bool
	}{
		{"channels", &countingData{Memory: memData(t, 3, 1, 9, 9), failAt: -1}, encoder.EmbedOptions{}, "1x9x9", true},
		{"size", &countingData{Memory: memData(t, 3, 2, 10, 10), failAt: -1}, encoder.EmbedOptions{}, "2x10x10", true},
		{"unknown tap", &countingData{Memory: memData(t, 3, 2, 9, 9), failAt: -1}, encoder.EmbedOptions{Taps: []string{"y", "nope"}}, `"nope"`, true},
		{"read error", &countingData{Memory: memData(t, 6, 2, 9, 9), failAt: 4}, encoder.EmbedOptions{Batch: 2}, "unreadable", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			called := false
			c.o.Progress = func(int) { called = true }
			e, err := encoder.Embed(enc, c.ds, c.o)
			if err == nil || e != nil {
				t.Fatalf("Embed = %v, %v; want an error", e, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %s", err, c.want)
			}
			if c.noReads && (c.ds.calls != 0 || called) {
				t.Errorf("%d images read, progress called %v before the error", c.ds.calls, called)
			}
			if c.name == "read error" && !errors.Is(err, errImage) {
				t.Errorf("error %v does not wrap the read error", err)
			}
			allTraining(t, enc)
		})
	}
	tr := embedTransform
	tr.CenterCrop = 9
	cropped := newEmbedEncoder(t, tr)
	small := &countingData{Memory: memData(t, 2, 2, 8, 12), failAt: -1}
	if _, err := encoder.Embed(cropped, small, encoder.EmbedOptions{}); err == nil || small.calls != 0 {
		t.Errorf("images smaller than the centre crop: err %v after %d reads", err, small.calls)
	}
}

// TestEmbedNonFinite: NaN weights give an error naming the tap, the first
// image and the column, not features full of NaN.
func TestEmbedNonFinite(t *testing.T) {
	enc := newEmbedEncoder(t, embedTransform)
	st := nn.StateOf(enc, "").Tensors()
	keys := slices.Sorted(maps.Keys(st))
	st[keys[0]].Data[0] = float32(math.NaN())
	ds := &countingData{Memory: memData(t, 5, 2, 9, 9), failAt: -1}
	e, err := encoder.Embed(enc, ds, encoder.EmbedOptions{Taps: []string{encoder.TapY}, Batch: 2})
	if err == nil || e != nil || !strings.Contains(err.Error(), "tap y of image 0, column 0 is NaN") {
		t.Errorf("NaN weight %s: Embed = %v, %v", keys[0], e, err)
	}
	if ds.calls > 2 {
		t.Errorf("%d images read after the first batch was non-finite", ds.calls)
	}
	allTraining(t, enc)
}

// TestInferenceBatch checks the default inference batch: the most for a
// small encoder, fewer for one whose activations would not fit.
func TestInferenceBatch(t *testing.T) {
	for _, c := range []struct {
		name     string
		min, max int
	}{
		{"basic28x28", encoder.MaxInferenceBatch, encoder.MaxInferenceBatch},
		{"basic32x32", encoder.MaxInferenceBatch, encoder.MaxInferenceBatch},
		{"foldresnet34_32x32", 1, 64}, // about 40 MB of activations per image
	} {
		enc, err := encoder.New(encoder.Spec{Name: c.name}, tensor.NewRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		b, err := encoder.InferenceBatch(enc)
		if err != nil {
			t.Fatal(err)
		}
		if b < c.min || b > c.max {
			t.Errorf("%s: inference batch %d, want %d to %d", c.name, b, c.min, c.max)
		}
	}
}
