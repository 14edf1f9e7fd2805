package encoder

import (
	"math"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/internal/testutil"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// TestNilArgumentsAreErrors: the embedding functions return an error
// naming the nil argument instead of panicking.
func TestNilArgumentsAreErrors(t *testing.T) {
	enc, err := NewConvNet(testArch, Spec{}, tensor.NewRNG(0))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := data.NewMemory(2, 9, 9, make([]uint8, 3*2*9*9), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	each := func(*Chunk) error { return nil }
	for _, c := range []struct {
		name, want string
		f          func() error
	}{
		{"Embed(nil encoder)", "nil encoder", func() error { _, err := Embed(nil, ds, EmbedOptions{}); return err }},
		{"Embed(nil data)", "nil data set", func() error { _, err := Embed(enc, nil, EmbedOptions{}); return err }},
		{"EmbedEach(nil encoder)", "nil encoder", func() error { return EmbedEach(nil, ds, EmbedOptions{}, each) }},
		{"EmbedEach(nil data)", "nil data set", func() error { return EmbedEach(enc, nil, EmbedOptions{}, each) }},
		{"EmbedEach(nil each)", "nil chunk function", func() error { return EmbedEach(enc, ds, EmbedOptions{}, nil) }},
		{"InferenceBatch(nil)", "nil encoder", func() error { _, err := InferenceBatch(nil); return err }},
		{"TapWidths(nil)", "nil encoder", func() error { _, err := TapWidths(nil, Layers); return err }},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.NoPanic(t, c.name, func() {
				if err := c.f(); err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
				}
			})
		})
	}
	// The valid call still works.
	if _, err := Embed(enc, ds, EmbedOptions{}); err != nil {
		t.Errorf("Embed of valid arguments: %v", err)
	}
}

// TestNilRNGIsSeedZero: a nil rng initialises every builder as
// tensor.NewRNG(0) does, bit for bit.
func TestNilRNGIsSeedZero(t *testing.T) {
	builds := []struct {
		name  string
		build func(rng *tensor.RNG) (any, error)
	}{
		{"New", func(rng *tensor.RNG) (any, error) { return New(Spec{Name: "basic28x28"}, rng) }},
		{"NewConvNet", func(rng *tensor.RNG) (any, error) { return NewConvNet(testArch, Spec{}, rng) }},
		{"NewLayerNet", func(rng *tensor.RNG) (any, error) { return NewLayerNet(tinyFolded, Spec{}, rng) }},
		{"ConvNet.Tail", func(rng *tensor.RNG) (any, error) {
			e, err := NewConvNet(testArch, Spec{}, tensor.NewRNG(3))
			if err != nil {
				return nil, err
			}
			return e.Tail(4, rng), nil
		}},
		{"LayerNet.Tail", func(rng *tensor.RNG) (any, error) {
			e, err := NewLayerNet(tinyFolded, Spec{}, tensor.NewRNG(3))
			if err != nil {
				return nil, err
			}
			return e.Tail(4, rng), nil
		}},
	}
	for _, b := range builds {
		t.Run(b.name, func(t *testing.T) {
			var got, want any
			var err error
			testutil.NoPanic(t, b.name+" with a nil rng", func() { got, err = b.build(nil) })
			if err != nil || got == nil {
				t.Fatalf("nil rng: %v", err)
			}
			if want, err = b.build(tensor.NewRNG(0)); err != nil {
				t.Fatal(err)
			}
			g, w := nn.StateOf(got, "").Tensors(), nn.StateOf(want, "").Tensors()
			if len(g) != len(w) || len(g) == 0 {
				t.Fatalf("%d tensors, want %d", len(g), len(w))
			}
			for name, wt := range w {
				gt := g[name]
				if gt == nil || len(gt.Data) != len(wt.Data) {
					t.Fatalf("%s: missing or resized", name)
				}
				for i := range wt.Data {
					if math.Float32bits(gt.Data[i]) != math.Float32bits(wt.Data[i]) {
						t.Fatalf("%s[%d] = %v with a nil rng, %v with seed 0", name, i, gt.Data[i], wt.Data[i])
					}
				}
			}
		})
	}
}

// TestSizeCaps: Out (Y's units) and the widths of an architecture's
// layers are capped at MaxOut with an error naming the limit, before any
// allocation (1<<30 units would exhaust memory); MaxOut itself is
// accepted.
func TestSizeCaps(t *testing.T) {
	big := func(f func(a *Arch)) Arch {
		a := testArch
		a.Convs = append([]ConvSpec(nil), a.Convs...)
		a.FCs = append([]int(nil), a.FCs...)
		f(&a)
		return a
	}
	for _, c := range []struct {
		name string
		f    func() error
	}{
		{"New Out 1<<30", func() error { _, err := New(Spec{Name: "basic28x28", Out: 1 << 30}, nil); return err }},
		{"New Out MaxOut+1", func() error { _, err := New(Spec{Name: "basic28x28", Out: MaxOut + 1}, nil); return err }},
		{"NewConvNet Out", func() error { _, err := NewConvNet(testArch, Spec{Out: MaxOut + 1}, nil); return err }},
		{"NewLayerNet Out", func() error { _, err := NewLayerNet(tinyFolded, Spec{Out: MaxOut + 1}, nil); return err }},
		{"Arch Out", func() error { _, err := NewConvNet(big(func(a *Arch) { a.Out = MaxOut + 1 }), Spec{}, nil); return err }},
		{"Arch conv width", func() error {
			_, err := NewConvNet(big(func(a *Arch) { a.Convs[1].Out = MaxOut + 1 }), Spec{}, nil)
			return err
		}},
		{"Arch fc width", func() error { _, err := NewConvNet(big(func(a *Arch) { a.FCs[0] = 1 << 30 }), Spec{}, nil); return err }},
		{"LayerArch units", func() error {
			a := tinyFolded
			a.Layers = append([]LayerSpec(nil), a.Layers...)
			a.Layers[7].Units = 1 << 30
			_, err := NewLayerNet(a, Spec{}, nil)
			return err
		}},
		{"LayerArch conv width", func() error {
			a := tinyFolded
			a.Layers = append([]LayerSpec(nil), a.Layers...)
			a.Layers[1].Conv.Out = 1 << 30
			_, err := NewLayerNet(a, Spec{}, nil)
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.NoPanic(t, c.name, func() {
				if err := c.f(); err == nil || !strings.Contains(err.Error(), "65536") {
					t.Errorf("%v, want an error naming the limit 65536", err)
				}
			})
		})
	}
	e, err := NewConvNet(testArch, Spec{Out: MaxOut}, nil)
	if err != nil {
		t.Fatalf("Out = MaxOut: %v", err)
	}
	if s, _ := e.TapShape(TapY); s[0] != MaxOut {
		t.Errorf("Out = MaxOut: Y has %v units", s)
	}
}

// TestInvalidArchIsAnError: every impossible conv or fc layer of an Arch
// is an error naming the layer, not a panic (a negative width panicked in
// makeslice, a zero stride divided by zero).
func TestInvalidArchIsAnError(t *testing.T) {
	for _, c := range []struct {
		name, want string
		edit       func(a *Arch)
	}{
		{"negative width", "conv layer 1", func(a *Arch) { a.Convs[0].Out = -4 }},
		{"zero width", "conv layer 2", func(a *Arch) { a.Convs[1].Out = 0 }},
		{"zero kernel", "conv layer 1", func(a *Arch) { a.Convs[0].Kernel = 0 }},
		{"zero stride", "conv layer 2", func(a *Arch) { a.Convs[1].Stride = 0 }},
		{"negative pad", "conv layer 1", func(a *Arch) { a.Convs[0].Pad = -1 }},
		{"pool without stride", "conv layer 2", func(a *Arch) { a.Convs[1].PoolStride = 0 }},
		{"negative pool", "conv layer 1", func(a *Arch) { a.Convs[0].PoolKernel = -2 }},
		{"kernel larger than the input", "conv layer 1", func(a *Arch) { a.Convs[0].Kernel, a.Convs[0].Pad = 12, 0 }},
		{"pool larger than the map", "conv layer 2", func(a *Arch) { a.Convs[1].PoolKernel = 9 }},
		{"zero fc units", "fc layer 1", func(a *Arch) { a.FCs[0] = 0 }},
		{"negative fc units", "fc layer 1", func(a *Arch) { a.FCs[0] = -3 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := testArch
			a.Convs = append([]ConvSpec(nil), a.Convs...)
			a.FCs = append([]int(nil), a.FCs...)
			c.edit(&a)
			testutil.NoPanic(t, c.name, func() {
				if _, err := NewConvNet(a, Spec{}, tensor.NewRNG(0)); err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("NewConvNet: %v, want an error naming %q", err, c.want)
				}
				a.Name = "apifix-invalid-" + c.name // a new name: only validation can refuse it
				if err := RegisterArch(a, ""); err == nil {
					t.Errorf("RegisterArch accepted %+v", a)
				}
			})
		})
	}
}

// TestSpecTransformMustBeFinite: non-finite normalisation is refused by
// New, naming the field.
func TestSpecTransformMustBeFinite(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	for _, c := range []struct {
		name      string
		mean, std []float32
		want      string
	}{
		{"NaN mean", []float32{nan}, []float32{0.5}, "means must be finite"},
		{"Inf mean", []float32{-inf}, []float32{0.5}, "means must be finite"},
		{"Inf std", []float32{0.5}, []float32{inf}, "standard deviations must be positive and finite"},
		{"NaN std", []float32{0.5}, []float32{nan}, "standard deviations must be positive and finite"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(Spec{Name: "basic28x28", Transform: data.Transform{Mean: c.mean, Std: c.std}}, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%v, want an error containing %q", err, c.want)
			}
		})
	}
}
