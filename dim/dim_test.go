package dim

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

// tinyArch is a small encoder with the structure of basic28x28, so that
// finite differences over the whole model stay cheap.
var tinyArch = encoder.Arch{
	Name: "tiny", Channels: 1, Size: 9,
	Convs: []encoder.ConvSpec{{Out: 3, Kernel: 3, Stride: 2, Pad: 1}, {Out: 5, Kernel: 3, Stride: 2, Pad: 1}},
	FCs:   []int{7}, Out: 4, LocalLayer: 1, FeatureLayer: 1,
}

func init() {
	if err := encoder.RegisterArch(tinyArch, "a test encoder"); err != nil {
		panic(err)
	}
}

var tinySpec = encoder.Spec{Name: "tiny"}

func tinyConfig(m mi.Measure, alpha, beta float32) Config {
	c := DefaultConfig()
	c.MIUnits, c.Measure, c.Batch = 6, m, 3
	c.Weights = map[string]float32{"alpha": alpha, "beta": beta}
	return c
}

// newModel returns New(cfg, spec), failing the test on an error.
func newModel(tb testing.TB, cfg Config, spec encoder.Spec) *Model {
	tb.Helper()
	m, err := New(cfg, spec)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func randBatch(seed uint64, n int, a encoder.Arch) *tensor.Tensor {
	x := tensor.New(n, a.Channels, a.Size, a.Size)
	tensor.NewRNG(seed).Uniform(x, -1, 1)
	return x
}

// objective returns the model's total loss on x, on tp.
func objective(tb testing.TB, m *Model, tp *autograd.Tape, x *tensor.Tensor) *autograd.Var {
	tb.Helper()
	total, err := m.Objective(tp, &train.Batch{X: x})
	if err != nil {
		tb.Fatal(err)
	}
	return total
}

// TestGradFullDIM checks the gradient of the whole DIM objective (encoder,
// MI networks, estimator) with respect to every parameter tensor against
// central finite differences of the loss.
func TestGradFullDIM(t *testing.T) {
	for _, c := range []struct {
		name               string
		m                  mi.Measure
		alpha, beta, gamma float32
		edit               func(*Config)
	}{
		{"local-jsd", mi.JSD, 0, 1, 0, nil},
		{"local-nce", mi.NCE, 0, 1, 0, nil},
		{"local-dv", mi.DV, 0, 1, 0, nil},
		{"local+global-jsd", mi.JSD, 0.5, 0.1, 0, nil},
		{"local+prior-jsd", mi.JSD, 0, 1, 2, nil}, // a large gamma: the prior term must show
		{"local+coord-abs", mi.JSD, 0, 0.1, 0, func(c *Config) { c.SetWeight("coord", 2) }},
		{"local+coord-rel", mi.JSD, 0, 0.1, 0, func(c *Config) { c.SetWeight("coord", 2); c.Coordinates = CoordRel }},
		{"occluded-local+global-nce", mi.NCE, 0.5, 1, 0, func(c *Config) { c.Occlude = &Occlusion{Size: 3, Blocks: 2} }},
		{"concat-local+global-jsd", mi.JSD, 0.5, 1, 0, func(c *Config) { c.Score = ScoreConcat }},
		{"sampled-local-dv", mi.DV, 0, 1, 0, func(c *Config) { c.LocalSamples = 4 }},
		{"multi-global-nce", mi.NCE, 0, 1, 0, func(c *Config) { c.Globals = "conv"; c.GlobalSamples = 5 }},
		{"multi-global-concat-jsd", mi.JSD, 0, 1, 0, func(c *Config) { c.Globals = "conv"; c.Score = ScoreConcat; c.LocalSamples = 3 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := tinyConfig(c.m, c.alpha, c.beta)
			cfg.SetWeight("gamma", c.gamma)
			if c.edit != nil {
				c.edit(&cfg)
			}
			m := newModel(t, cfg, tinySpec)
			x := randBatch(1, 3, tinyArch)
			loss := func() float64 {
				tp := autograd.NewTape()
				tp.SetNoGrad(true)
				return float64(objective(t, m, tp, x).Item())
			}
			st := nn.StateOf(m, "")
			autograd.ZeroGrad(st.Vars()...)
			tp := autograd.NewTape()
			if err := tp.Backward(objective(t, m, tp, x)); err != nil {
				t.Fatal(err)
			}
			// A small step: with a batch of 3, BatchNorm puts many ReLU inputs
			// near 0, and larger steps cross those kinks (measured: the
			// numeric derivative converges to the analytic one as h -> 0).
			const h = 3e-4
			for _, p := range st.Params {
				v := p.Var.Value.Data
				for _, j := range []int{0, len(v) / 2, len(v) - 1} {
					orig := v[j]
					v[j] = orig + h
					lp := loss()
					v[j] = orig - h
					lm := loss()
					v[j] = orig
					num := (lp - lm) / (2 * h)
					ana := float64(p.Var.Grad.Data[j])
					if math.Abs(num-ana) > 2e-3+3e-2*math.Max(math.Abs(num), math.Abs(ana)) {
						t.Errorf("%s[%d]: analytic %.6g, numeric %.6g", p.Name, j, ana, num)
					}
				}
			}
		})
	}
}

// TestResumeMatches checks that saving after k steps and continuing from
// the checkpoint gives the same losses as an uninterrupted run, with and
// without prior matching (whose discriminator and prior samples must
// resume too).
func TestResumeMatches(t *testing.T) {
	for _, gamma := range []float32{0, 0.1} {
		t.Run(fmt.Sprintf("gamma=%g", gamma), func(t *testing.T) { testResume(t, gamma) })
	}
}

func testResume(t *testing.T, gamma float32) {
	cfg := tinyConfig(mi.JSD, 0, 1)
	cfg.SetWeight("gamma", gamma)
	batches := []*tensor.Tensor{randBatch(3, 3, tinyArch), randBatch(4, 3, tinyArch), randBatch(5, 3, tinyArch), randBatch(6, 3, tinyArch)}
	m := newModel(t, cfg, tinySpec)
	var want [][]train.Loss
	for _, x := range batches {
		r, err := m.StepImages(x)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, slices.Clone(r))
	}
	m1 := newModel(t, cfg, tinySpec)
	for _, x := range batches[:2] {
		if _, err := m1.StepImages(x); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	if err := train.Save(dir, m1, train.Progress{Step: 2}); err != nil {
		t.Fatal(err)
	}
	loaded, p, err := train.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m2 := loaded.(*Model)
	js1, _ := json.Marshal(m2.DIMConfig())
	js2, _ := json.Marshal(cfg)
	if p.Step != 2 || string(js1) != string(js2) {
		t.Fatalf("progress %+v, config %+v after loading, want %+v", p, m2.DIMConfig(), cfg)
	}
	for i, x := range batches[2:] {
		r, err := m2.StepImages(x)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(r, want[2+i]) {
			t.Errorf("step %d after resume: losses %+v, uninterrupted %+v", 2+i, r, want[2+i])
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
	}{
		{"measure", func(c *Config) { c.Measure = "bogus" }},
		{"units", func(c *Config) { c.MIUnits = 0 }},
		{"weights", func(c *Config) { c.Weights = map[string]float32{"alpha": 0, "beta": 0, "gamma": 1} }},
		{"gamma", func(c *Config) { c.SetWeight("gamma", -1) }},
		{"unknown term", func(c *Config) { c.SetWeight("zeta", 1) }},
		{"prior", func(c *Config) { c.Prior = "cauchy" }},
		{"penalty", func(c *Config) { c.GradPenalty = -1 }},
		{"lr", func(c *Config) { c.LR = 0 }},
		{"batch", func(c *Config) { c.Batch = 1 }},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Error(err)
	}
}

func TestStepNoAlloc(t *testing.T) {
	cfg := tinyConfig(mi.JSD, 0.5, 1)
	cfg.SetWeight("gamma", 0.1)
	cfg.SetWeight("coord", 1)
	cfg.Coordinates = CoordRel
	cfg.Occlude = &Occlusion{}
	m := newModel(t, cfg, tinySpec)
	x := randBatch(7, 3, tinyArch)
	step := func() {
		if _, err := m.StepImages(x); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if a := testing.AllocsPerRun(5, step); a != 0 {
		t.Errorf("a warm training step allocates %v times", a)
	}
}

// TestStepNoAllocBasic checks the real encoders, whose large parameters
// take the multi-core paths (GEMM, Adam).
func TestStepNoAllocBasic(t *testing.T) {
	for _, arch := range []string{"basic28x28", "basic32x32"} {
		t.Run(arch, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MIUnits, cfg.Batch = 32, 8
			m := newModel(t, cfg, encoder.Spec{Name: arch})
			s := m.Encoder().Spec()
			x := tensor.New(8, s.Channels, s.Size, s.Size)
			tensor.NewRNG(1).Uniform(x, -1, 1)
			step := func() {
				if _, err := m.StepImages(x); err != nil {
					t.Fatal(err)
				}
			}
			step()
			if a := testing.AllocsPerRun(5, step); a != 0 {
				t.Errorf("a warm %s step allocates %v times", arch, a)
			}
		})
	}
}
