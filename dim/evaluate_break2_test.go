package dim

import (
	"maps"
	"runtime"
	"slices"
	"testing"

	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/internal/testutil"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

// Adversarial tests of Evaluate's mode handling and of the training
// step's allocations with Winograd's forward pass, written in review
// (second round).

// TestBreak2EvaluateMixedModes: whatever mix of modes the layers are in
// (each pattern over the model's mode-dependent layers), Evaluate reports
// the same losses, bit for bit (it runs in training mode), puts every
// layer's mode back and leaves the model's state as it was; a refused
// batch puts the modes back too.
func TestBreak2EvaluateMixedModes(t *testing.T) {
	m := newModel(t, tinyConfig(mi.JSD, 0.5, 1), tinySpec)
	if _, err := m.StepImages(randBatch(30, 4, tinyArch)); err != nil {
		t.Fatal(err)
	}
	modes := nn.ModesOf(m)
	if len(modes) < 2 {
		t.Skipf("%d mode-dependent layers: no mix to test", len(modes))
	}
	b := &train.Batch{X: randBatch(31, 4, tinyArch), Step: 1}
	var ref []train.Loss
	for pat := range 1 << min(len(modes), 6) {
		want := make([]bool, len(modes))
		for i := range want {
			want[i] = pat>>(i%6)&1 != 0
			modes[i].SetTraining(want[i])
		}
		before := modelState(m)
		got, err := m.Evaluate(b)
		if err != nil {
			t.Fatal(err)
		}
		if saved := modes.Save(); !slices.Equal(saved, want) {
			t.Fatalf("pattern %b: modes after Evaluate %v, want %v", pat, saved, want)
		}
		after := modelState(m)
		for _, name := range slices.Sorted(maps.Keys(before)) {
			if !testutil.SameBits(before[name], after[name]) {
				t.Fatalf("pattern %b: Evaluate changed %s", pat, name)
			}
		}
		if ref == nil {
			ref = slices.Clone(got)
			continue
		}
		for i := range ref {
			if got[i].Name != ref[i].Name || !testutil.SameBits([]float32{got[i].Value}, []float32{ref[i].Value}) {
				t.Fatalf("pattern %b: loss %s = %v, with the first pattern %v", pat, got[i].Name, got[i].Value, ref[i].Value)
			}
		}
		if _, err := m.Evaluate(&train.Batch{X: randBatch(1, 1, tinyArch)}); err == nil {
			t.Fatal("a batch of one image accepted")
		}
		if saved := modes.Save(); !slices.Equal(saved, want) {
			t.Fatalf("pattern %b: modes after a refused Evaluate %v, want %v", pat, saved, want)
		}
	}
}

// TestBreak2StepNoAllocWinograd: a warm training step allocates nothing
// also where the encoder's second convolution runs Winograd's forward pass
// (basic28x28 at batch 32: 128 output tiles, WinogradPays), whose filters
// change at every step. Each of the steps after the first is counted.
func TestBreak2StepNoAllocWinograd(t *testing.T) {
	if testing.Short() {
		t.Skip("basic28x28 at batch 32")
	}
	cfg := DefaultConfig()
	cfg.MIUnits, cfg.Batch = 32, 32
	m := newModel(t, cfg, encoder.Spec{Name: "basic28x28"})
	s := m.Encoder().Spec()
	x := tensor.New(32, s.Channels, s.Size, s.Size)
	tensor.NewRNG(1).Uniform(x, -1, 1)
	var ms runtime.MemStats
	var counts []uint64
	for i := range 7 {
		runtime.ReadMemStats(&ms)
		before := ms.Mallocs
		if _, err := m.StepImages(x); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&ms)
		if i > 0 {
			counts = append(counts, ms.Mallocs-before)
		}
	}
	for _, c := range counts {
		if c != 0 {
			t.Errorf("allocations in steps 2 to 7 after one warm step: %v", counts)
			break
		}
	}
}
