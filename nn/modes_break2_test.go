package nn

import (
	"slices"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// Adversarial tests of Modes.Save and Restore, written in review (second
// round).

// TestBreak2ModesMixedTree: in a tree of BatchNorms and Dropouts nested in
// Sequentials, every pattern of modes over four layers survives Set(true)
// and Set(false) followed by Restore; Save's slice is a copy, not a view.
func TestBreak2ModesMixedTree(t *testing.T) {
	rng := tensor.NewRNG(3)
	bn1, bn2 := NewBatchNorm(3, true), NewBatchNorm(2, false)
	d1, d2 := NewDropout(0.1, rng), NewDropout(0.5, rng)
	root := NewSequential(bn1, NewSequential(d1, bn2), d2)
	m := ModesOf(root)
	if len(m) != 4 {
		t.Fatalf("ModesOf found %d layers, want 4", len(m))
	}
	set := func(p []bool) { bn1.Training, d1.Training, bn2.Training, d2.Training = p[0], p[1], p[2], p[3] }
	get := func() []bool { return []bool{bn1.Training, d1.Training, bn2.Training, d2.Training} }
	for pat := range 16 {
		p := []bool{pat&1 != 0, pat&2 != 0, pat&4 != 0, pat&8 != 0}
		set(p)
		saved := m.Save()
		if !slices.Equal(saved, p) {
			t.Fatalf("pattern %04b: Save = %v, want %v", pat, saved, p)
		}
		for _, on := range []bool{true, false} {
			m.Set(on)
			saved2 := m.Save() // must not alias saved
			m.Restore(saved)
			if !slices.Equal(get(), p) {
				t.Fatalf("pattern %04b after Set(%v): Restore left %v", pat, on, get())
			}
			if !slices.Equal(saved, p) {
				t.Fatalf("pattern %04b: the saved modes changed to %v", pat, saved)
			}
			for _, v := range saved2 {
				if v != on {
					t.Fatalf("pattern %04b: Save after Set(%v) = %v", pat, on, saved2)
				}
			}
		}
	}
}

// TestBreak2ModesEmpty: Modes of a tree without mode-dependent layers save
// and restore nothing; Restore refuses a longer slice too.
func TestBreak2ModesEmpty(t *testing.T) {
	var m Modes
	if s := m.Save(); len(s) != 0 {
		t.Fatalf("Save of no layers = %v", s)
	}
	m.Restore(nil)
	m.Restore([]bool{})
	m2 := Modes{NewBatchNorm(1, false)}
	defer func() {
		if recover() == nil {
			t.Error("Restore of 2 modes for 1 layer: no panic")
		}
	}()
	m2.Restore([]bool{true, false})
}
