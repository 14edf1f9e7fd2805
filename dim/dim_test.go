package dim

import (
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// tinyArch is a small encoder with the structure of basic28x28, so that
// finite differences over the whole model stay cheap.
var tinyArch = Arch{
	Name: "tiny", Channels: 1, Size: 9,
	Convs: []ConvSpec{{Out: 3, Kernel: 3, Stride: 2, Pad: 1}, {Out: 5, Kernel: 3, Stride: 2, Pad: 1}},
	FCs:   []int{7}, Out: 4, LocalLayer: 1, FeatureLayer: 1,
}

func init() { Archs["tiny"] = tinyArch }

func tinyConfig(m mi.Measure, alpha, beta float32) Config {
	c := DefaultConfig()
	c.Arch, c.MIUnits, c.Measure, c.Alpha, c.Beta, c.Batch = "tiny", 6, m, alpha, beta, 3
	return c
}

func randBatch(seed uint64, n int, a Arch) *tensor.Tensor {
	x := tensor.New(n, a.Channels, a.Size, a.Size)
	tensor.NewRNG(seed).Uniform(x, -1, 1)
	return x
}

// TestGradFullDIM checks the gradient of the whole DIM objective (encoder,
// MI networks, estimator) with respect to every parameter tensor against
// central finite differences of the loss.
func TestGradFullDIM(t *testing.T) {
	for _, c := range []struct {
		name               string
		m                  mi.Measure
		alpha, beta, gamma float32
	}{
		{"local-jsd", mi.JSD, 0, 1, 0},
		{"local-nce", mi.NCE, 0, 1, 0},
		{"local-dv", mi.DV, 0, 1, 0},
		{"local+global-jsd", mi.JSD, 0.5, 0.1, 0},
		{"local+prior-jsd", mi.JSD, 0, 1, 2}, // a large gamma: the prior term must show
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := tinyConfig(c.m, c.alpha, c.beta)
			cfg.Gamma = c.gamma
			m, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			x := randBatch(1, 3, tinyArch)
			loss := func() float64 {
				tp := autograd.NewTape()
				tp.SetNoGrad(true)
				ls, err := m.Loss(tp, tp.Const(x))
				if err != nil {
					t.Fatal(err)
				}
				return float64(ls.Total.Item())
			}
			st := m.State()
			autograd.ZeroGrad(st.Vars()...)
			tp := autograd.NewTape()
			ls, err := m.Loss(tp, tp.Const(x))
			if err != nil {
				t.Fatal(err)
			}
			if err := tp.Backward(ls.Total); err != nil {
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

func TestCheckpointRoundTrip(t *testing.T) {
	cfg := tinyConfig(mi.JSD, 0.5, 1)
	cfg.Gamma = 0.1
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTrainer(t, m)
	x := randBatch(2, 3, tinyArch)
	for i := 0; i < 3; i++ {
		if _, err := tr.Step(x); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(t.TempDir(), "run")
	if err := SaveCheckpoint(dir, m, tr, Progress{Epoch: 1, Step: 3, Data: "test"}); err != nil {
		t.Fatal(err)
	}
	m2, p, opt, err := LoadCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.Step != 3 || p.Epoch != 1 || p.Data != "test" || !reflect.DeepEqual(m2.Config, m.Config) {
		t.Fatalf("progress %+v config %+v", p, m2.Config)
	}
	// Identical outputs in evaluation mode.
	embed := func(m *Model) []float32 {
		m.SetTraining(false)
		tp := autograd.NewTape()
		f := m.Encoder.Encode(tp, tp.Const(x))
		return append([]float32(nil), f.Y.Value.Data...)
	}
	a, b := embed(m), embed(m2)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("Y[%d] = %v after loading, want %v", i, b[i], a[i])
		}
	}
	if !reflect.DeepEqual(m.State().Tensors(), m2.State().Tensors()) {
		t.Error("parameters or buffers differ after loading")
	}
	tr2 := newTrainer(t, m2)
	if err := tr2.LoadOptimizerState(opt); err != nil {
		t.Fatal(err)
	}
	if tr2.Opt.Steps() != 3 || tr2.PriorOpt.Steps() != 3 {
		t.Errorf("optimiser steps %d and %d after loading, want 3", tr2.Opt.Steps(), tr2.PriorOpt.Steps())
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
	cfg.Gamma = gamma
	batches := []*tensor.Tensor{randBatch(3, 3, tinyArch), randBatch(4, 3, tinyArch), randBatch(5, 3, tinyArch), randBatch(6, 3, tinyArch)}
	m, _ := New(cfg)
	tr := newTrainer(t, m)
	var want []StepResult
	for _, x := range batches {
		r, err := tr.Step(x)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, r)
	}
	m1, _ := New(cfg)
	tr1 := newTrainer(t, m1)
	for _, x := range batches[:2] {
		if _, err := tr1.Step(x); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	if err := SaveCheckpoint(dir, m1, tr1, Progress{Step: 2}); err != nil {
		t.Fatal(err)
	}
	m2, _, opt, err := LoadCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	tr2 := newTrainer(t, m2)
	if err := tr2.LoadOptimizerState(opt); err != nil {
		t.Fatal(err)
	}
	for i, x := range batches[2:] {
		r, err := tr2.Step(x)
		if err != nil {
			t.Fatal(err)
		}
		if r != want[2+i] {
			t.Errorf("step %d after resume: losses %+v, uninterrupted %+v", 2+i, r, want[2+i])
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
	}{
		{"arch", func(c *Config) { c.Arch = "resnet1000" }},
		{"measure", func(c *Config) { c.Measure = "bogus" }},
		{"units", func(c *Config) { c.MIUnits = 0 }},
		{"weights", func(c *Config) { c.Alpha, c.Beta = 0, 0 }},
		{"gamma", func(c *Config) { c.Gamma = -1 }},
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
	cfg.Gamma = 0.1
	m, _ := New(cfg)
	tr := newTrainer(t, m)
	x := randBatch(7, 3, tinyArch)
	step := func() {
		if _, err := tr.Step(x); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if a := testing.AllocsPerRun(5, step); a != 0 {
		t.Errorf("a warm training step allocates %v times", a)
	}
}

func TestLoadCheckpointErrors(t *testing.T) {
	if _, _, _, err := LoadCheckpoint(t.TempDir()); err == nil {
		t.Error("no error for an empty directory")
	}
}

// TestStepNoAllocBasic28 checks the real encoder, whose large parameters
// take the multi-core paths (GEMM, Adam).
func TestStepNoAllocBasic28(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MIUnits, cfg.Batch = 32, 8
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTrainer(t, m)
	x := tensor.New(8, 1, 28, 28)
	tensor.NewRNG(1).Uniform(x, -1, 1)
	step := func() {
		if _, err := tr.Step(x); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if a := testing.AllocsPerRun(5, step); a != 0 {
		t.Errorf("a warm basic28x28 step allocates %v times", a)
	}
}

// newTrainer returns NewTrainer(m), failing the test on an error.
func newTrainer(tb testing.TB, m *Model) *Trainer {
	tb.Helper()
	tr, err := NewTrainer(m)
	if err != nil {
		tb.Fatal(err)
	}
	return tr
}
