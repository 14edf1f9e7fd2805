package dim

import (
	"maps"
	"slices"
	"testing"

	"github.com/deepinfomax/deepinfomax/internal/testutil"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

// modelState copies every tensor a checkpoint of m holds: parameters,
// buffers (BatchNorm's running statistics) and optimiser state.
func modelState(m *Model) map[string][]float32 {
	out := map[string][]float32{}
	for name, t := range nn.StateOf(m, "").Tensors() {
		out[name] = slices.Clone(t.Data)
	}
	for _, o := range m.Optimizers() {
		for name, t := range o.Opt.State() {
			out[o.Prefix+name] = slices.Clone(t.Data)
		}
	}
	return out
}

// TestEvaluate: Evaluate reports the losses the next Step on the same batch
// computes before its update (critics' losses 0: only their update computes
// them), and leaves the model as it was, bit for bit (parameters, running
// statistics, optimiser state), for every kind of term.
func TestEvaluate(t *testing.T) {
	for _, c := range []struct {
		name   string
		config func(c *Config)
		critic string // the loss Evaluate reports as 0
	}{
		{"local, JSD", func(*Config) {}, ""},
		{"local and global, infoNCE", func(c *Config) { c.Measure, c.Weights["alpha"] = mi.NCE, 0.5 }, ""},
		{"prior matching (a critic)", func(c *Config) { c.Weights["gamma"] = 0.1 }, "discriminator"},
		{"coordinates (a metric)", func(c *Config) { c.Coordinates, c.Weights["coord"] = CoordAbs, 1 }, ""},
		{"occlusion, sampled locations", func(c *Config) { c.Occlude, c.LocalSamples = &Occlusion{Size: 3, Blocks: 1}, 4 }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := tinyConfig(mi.JSD, 0, 1)
			c.config(&cfg)
			m := newModel(t, cfg, tinySpec)
			for i := range 2 { // running statistics and Adam's moments away from their start
				if _, err := m.StepImages(randBatch(uint64(10+i), 4, tinyArch)); err != nil {
					t.Fatal(err)
				}
			}
			b := &train.Batch{X: randBatch(20, 4, tinyArch), Step: 2}
			before := modelState(m)
			got, err := m.Evaluate(b)
			if err != nil {
				t.Fatal(err)
			}
			got = slices.Clone(got)
			after := modelState(m)
			for _, name := range slices.Sorted(maps.Keys(before)) {
				if !testutil.SameBits(before[name], after[name]) {
					t.Errorf("Evaluate changed %s", name)
				}
			}
			want, err := m.Step(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("Evaluate: %d losses, Step %d", len(got), len(want))
			}
			for i, w := range want {
				g := got[i]
				switch {
				case g.Name != w.Name:
					t.Errorf("loss %d: Evaluate names it %s, Step %s", i, g.Name, w.Name)
				case g.Name == c.critic:
					if g.Value != 0 || w.Value == 0 {
						t.Errorf("critic loss %s: Evaluate %v (want 0), Step %v", g.Name, g.Value, w.Value)
					}
				case !testutil.SameBits([]float32{g.Value}, []float32{w.Value}):
					t.Errorf("%s: Evaluate %v, Step before its update %v", g.Name, g.Value, w.Value)
				}
			}
		})
	}
}

// TestEvaluateKeepsModes: a model in evaluation mode is still in it after
// Evaluate (which runs in training mode), layer by layer, and one in
// training mode still in that.
func TestEvaluateKeepsModes(t *testing.T) {
	m := newModel(t, tinyConfig(mi.JSD, 0, 1), tinySpec)
	modes := nn.ModesOf(m)
	if len(modes) == 0 {
		t.Fatal("the tiny model has no mode-dependent layers")
	}
	for _, on := range []bool{false, true} {
		modes.Set(on)
		if _, err := m.Evaluate(&train.Batch{X: randBatch(21, 4, tinyArch), Step: 0}); err != nil {
			t.Fatal(err)
		}
		for i, s := range modes.Save() {
			if s != on {
				t.Errorf("model in training mode %v: layer %d (%T) left in %v", on, i, modes[i], s)
			}
		}
	}
}

// TestEvaluateBadBatch: Evaluate refuses what Objective refuses, with nil
// losses, and leaves the tape recording for the next Step.
func TestEvaluateBadBatch(t *testing.T) {
	m := newModel(t, tinyConfig(mi.JSD, 0, 1), tinySpec)
	for _, c := range []struct {
		name string
		b    *train.Batch
	}{
		{"nil batch", nil},
		{"nil images", &train.Batch{}},
		{"one image", &train.Batch{X: randBatch(1, 1, tinyArch)}},
		{"wrong size", &train.Batch{X: tensor.New(3, 1, 8, 8)}},
	} {
		if l, err := m.Evaluate(c.b); err == nil || l != nil {
			t.Errorf("%s: losses %v, error %v; want nil and an error", c.name, l, err)
		}
	}
	if _, err := m.StepImages(randBatch(1, 3, tinyArch)); err != nil {
		t.Fatalf("Step after a refused Evaluate: %v", err)
	}
}
