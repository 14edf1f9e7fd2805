package dim

import (
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/internal/testutil"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

// TestStepRefusesBadBatch: a nil or malformed batch is an error (not a
// panic) with nil losses, after a good step as before one, and leaves
// the parameters unchanged.
func TestStepRefusesBadBatch(t *testing.T) {
	cfg := tinyConfig(mi.JSD, 0.5, 1)
	cfg.SetWeight("gamma", 0.1)
	m := newModel(t, cfg, tinySpec)
	good := randBatch(1, 3, tinyArch)
	if _, err := m.StepImages(good); err != nil {
		t.Fatal(err)
	}
	short := good.Clone()
	short.Data = short.Data[:len(short.Data)-1]
	for _, c := range []struct {
		name, want string
		step       func() ([]train.Loss, error)
	}{
		{"Step(nil)", "nil batch", func() ([]train.Loss, error) { return m.Step(nil) }},
		{"Step(no images)", "X is nil", func() ([]train.Loss, error) { return m.Step(&train.Batch{}) }},
		{"Step(wrong shape)", "takes [N,1,9,9]", func() ([]train.Loss, error) {
			return m.Step(&train.Batch{X: randBatch(1, 3, encoder.Arch{Channels: 1, Size: 8})})
		}},
		{"Step(one image)", "N >= 2", func() ([]train.Loss, error) { return m.Step(&train.Batch{X: randBatch(1, 1, tinyArch)}) }},
		{"Step(short data)", "hold 242 values, want 243", func() ([]train.Loss, error) { return m.Step(&train.Batch{X: short}) }},
		{"StepImages(nil)", "nil images", func() ([]train.Loss, error) { return m.StepImages(nil) }},
		{"StepImages(wrong shape)", "takes [N,1,9,9]", func() ([]train.Loss, error) { return m.StepImages(tensor.New(3, 1, 20, 20)) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := nn.StateOf(m, "").Tensors()
			for k, v := range before {
				before[k] = v.Clone()
			}
			testutil.NoPanic(t, c.name, func() {
				losses, err := c.step()
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%v, want an error containing %q", err, c.want)
				}
				if losses != nil {
					t.Errorf("losses %v with the error, want nil (not the last step's)", losses)
				}
			})
			for k, v := range nn.StateOf(m, "").Tensors() {
				if !testutil.SameBits(v.Data, before[k].Data) {
					t.Errorf("%s changed", k)
				}
			}
		})
	}
	testutil.NoPanic(t, "Objective(nil tape)", func() {
		if _, err := m.Objective(nil, &train.Batch{X: good}); err == nil || !strings.Contains(err.Error(), "nil tape") {
			t.Errorf("Objective(nil tape): %v", err)
		}
	})
	testutil.NoPanic(t, "Objective(nil batch)", func() {
		if _, err := m.Objective(autograd.NewTape(), nil); err == nil || !strings.Contains(err.Error(), "nil batch") {
			t.Errorf("Objective(nil batch): %v", err)
		}
	})
	// The model still steps, and returns its losses.
	if l, err := m.StepImages(good); err != nil || len(l) == 0 {
		t.Errorf("good step after the errors: %v, %v", l, err)
	}
}

// TestSamplesWithinMap: more local or global samples per image than the
// map has locations is an error of New naming the map's size (drawn with
// replacement, they would only repeat locations); as many is fine.
func TestSamplesWithinMap(t *testing.T) {
	// tiny: local map 5x3x3 (9 locations), conv tap the same layer.
	for _, c := range []struct {
		name string
		edit func(c *Config)
		want string // "": accepted
	}{
		{"local 9 of 9", func(c *Config) { c.LocalSamples = 9 }, ""},
		{"local 10 of 9", func(c *Config) { c.LocalSamples = 10 }, "10 local samples per image (--local-samples): encoder tiny's local map has only 3x3 = 9 locations"},
		{"local 1000", func(c *Config) { c.LocalSamples = 1000 }, "use at most 9, or 0 for all"},
		{"global 9 of 9", func(c *Config) { c.Globals, c.GlobalSamples = "conv", 9 }, ""},
		{"global 10 of 9", func(c *Config) { c.Globals, c.GlobalSamples = "conv", 10 }, "10 global samples per image (--global-samples): encoder tiny's conv map has only 3x3 = 9 locations"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := tinyConfig(mi.JSD, 0, 1)
			c.edit(&cfg)
			_, err := New(cfg, tinySpec)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("New: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("New: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// TestNewCapsOut: a Y of 1<<30 units is an error naming the limit, not a
// fatal out-of-memory.
func TestNewCapsOut(t *testing.T) {
	cfg := tinyConfig(mi.JSD, 0, 1)
	for _, name := range []string{"basic28x28", "tiny"} {
		_, err := New(cfg, encoder.Spec{Name: name, Out: 1 << 30})
		if err == nil || !strings.Contains(err.Error(), "at most 65536") {
			t.Errorf("%s with Out 1<<30: %v", name, err)
		}
	}
}
