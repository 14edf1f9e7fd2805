package dim

import (
	"maps"
	"slices"
	"testing"

	"github.com/deepinfomax/deepinfomax/internal/testutil"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/nn"
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
