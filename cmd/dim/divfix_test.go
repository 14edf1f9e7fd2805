package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/train"
)

// TestTrainDivergeFactor: --diverge-factor reaches the divergence guard,
// on a new run and on a resumed one (it is a run flag): a tiny factor stops
// the run at its second checked step with an error naming the flag (and
// sets aside the checkpoint of step 1, whose weights gave that loss), and
// -1 lets the same run go on.
func TestTrainDivergeFactor(t *testing.T) {
	if !runFlags["diverge-factor"] {
		t.Error("--diverge-factor is not a run flag: --resume would ignore it")
	}
	data := "idx:" + idxDir(t, 64, 16)
	common := []string{"train", "--data", data, "--batch", "8", "--mi-units", "8"}
	dirs := map[bool]string{false: "", true: filepath.Join(t.TempDir(), "resumed")}
	for _, c := range []struct {
		name   string
		args   []string
		err    string // "": none
		step   int    // the run's checkpoint afterwards (0: none)
		resume bool   // the run continued over the cases
	}{
		{"strict", []string{"--steps", "3", "--checkpoint-every", "1", "--diverge-factor", "1e-9"}, "step 2: loss", 0, false},
		{"off", []string{"--steps", "3", "--diverge-factor", "-1"}, "", 3, true},
		{"strict on resume", []string{"--steps", "6", "--diverge-factor", "1e-9", "--resume"}, "--diverge-factor", 3, true},
		{"off on resume", []string{"--steps", "6", "--diverge-factor", "-1", "--resume"}, "", 6, true},
	} {
		dir := dirs[c.resume]
		if !c.resume {
			dir = filepath.Join(t.TempDir(), "run")
		}
		err := run(t, append(append(common, "--out", dir), c.args...)...)
		if (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Fatalf("%s: err = %v, want one containing %q", c.name, err, c.err)
		}
		if c.step == 0 {
			if train.HasRun(dir) {
				t.Errorf("%s: a checkpoint remains", c.name)
			}
			continue
		}
		if info, err := train.ReadInfo(dir); err != nil || info.Progress.Step != c.step {
			t.Errorf("%s: checkpoint %v at step %d, want step %d", c.name, err, info.Progress.Step, c.step)
		}
	}
}
