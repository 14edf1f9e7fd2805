package train_test

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/checkpoint"
	"github.com/deepinfomax/deepinfomax/train"
)

// TestSaveKeepsGoodPrevious: a resumed run whose latest checkpoint is
// damaged continues from the previous one, and its next checkpoint does
// not rotate the damaged file into model.prev: the previous checkpoint
// stays the good one, loadable on its own. An undamaged latest checkpoint
// is rotated as usual.
func TestSaveKeepsGoodPrevious(t *testing.T) {
	ds := tinyData(t, 40, 9) // 10 steps per epoch: no checkpoint at an epoch's end
	cfg := supervisedConfig{Common: train.Common{LR: 1e-2, Batch: 4, Seed: 1}, Classes: 3}
	build := func() (train.Method, error) { return newSupervised(cfg, tinySpec) }
	for _, c := range []struct {
		name     string
		damage   func(b []byte) []byte // nil: leave the latest checkpoint whole
		prevStep int                   // model.prev's step after the resumed run's checkpoint
	}{
		{"whole", nil, 4},
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }, 2},
		{"flipped byte", func(b []byte) []byte { b[len(b)-3] ^= 0x40; return b }, 2},
		{"empty", func(b []byte) []byte { return nil }, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			// Checkpoints at steps 2 and 4: model.prev is step 2's.
			if _, _, err := train.Train(context.Background(), build, train.Options{Dir: dir, Train: ds, Steps: 4, CheckpointEvery: 2}); err != nil {
				t.Fatal(err)
			}
			latest, prev := filepath.Join(dir, train.WeightsFile), filepath.Join(dir, train.PrevWeightsFile)
			want := fileBytes(t, prev)
			if c.damage == nil {
				want = fileBytes(t, latest)
			} else if err := os.WriteFile(latest, c.damage(fileBytes(t, latest)), 0o644); err != nil {
				t.Fatal(err)
			}
			// One checkpoint, at the end (step 6), whether the run
			// continues from step 4 or (damaged) from step 2.
			if _, p, err := train.Train(context.Background(), nil, train.Options{Dir: dir, Train: ds, Steps: 6, Resume: true}); err != nil || p.Step != 6 {
				t.Fatalf("resume: %v, step %d", err, p.Step)
			}
			if _, p, err := train.Load(dir); err != nil || p.Step != 6 {
				t.Errorf("latest checkpoint: %v, step %d; want step 6", err, p.Step)
			}
			if !bytes.Equal(fileBytes(t, prev), want) {
				t.Errorf("model.prev is not the step %d checkpoint", c.prevStep)
			}
			// model.prev alone must load.
			if err := os.Remove(latest); err != nil {
				t.Fatal(err)
			}
			if _, p, err := train.Load(dir); err != nil || p.Step != c.prevStep {
				t.Errorf("model.prev: %v, step %d; want step %d", err, p.Step, c.prevStep)
			}
		})
	}
}

// TestLoadEncoderChecksEncoderOnly: LoadEncoder verifies only the
// encoder's tensors, so a damaged optimiser tensor does not stop embedding
// (Load, which needs it, falls back to the previous checkpoint), while a
// damaged encoder tensor does.
func TestLoadEncoderChecksEncoderOnly(t *testing.T) {
	ds := tinyData(t, 40, 9)
	cfg := supervisedConfig{Common: train.Common{LR: 1e-2, Batch: 4, Seed: 1}, Classes: 3}
	build := func() (train.Method, error) { return newSupervised(cfg, tinySpec) }
	for _, c := range []struct {
		prefix      string // the damaged tensor's name starts with it
		encoderStep int    // the step LoadEncoder's checkpoint is of
	}{
		{"optim.", 4},
		{"encoder.", 2},
	} {
		t.Run(c.prefix, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			if _, _, err := train.Train(context.Background(), build, train.Options{Dir: dir, Train: ds, Steps: 4, CheckpointEvery: 2}); err != nil {
				t.Fatal(err)
			}
			latest := filepath.Join(dir, train.WeightsFile)
			h, err := checkpoint.LoadHeader(latest)
			if err != nil {
				t.Fatal(err)
			}
			b := fileBytes(t, latest)
			damaged := ""
			for _, name := range slices.Sorted(maps.Keys(h.Tensors)) {
				if ti := h.Tensors[name]; strings.HasPrefix(name, c.prefix) && ti.End > ti.Begin {
					b[h.DataStart+ti.Begin] ^= 0x40
					damaged = name
					break
				}
			}
			if damaged == "" {
				t.Fatalf("no tensor named %s*", c.prefix)
			}
			if err := os.WriteFile(latest, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, info, err := train.LoadEncoder(dir); err != nil || info.Progress.Step != c.encoderStep {
				t.Errorf("LoadEncoder with %s damaged: %v, step %d; want step %d", damaged, err, info.Progress.Step, c.encoderStep)
			}
			if _, p, err := train.Load(dir); err != nil || p.Step != 2 {
				t.Errorf("Load with %s damaged: %v, step %d; want the previous checkpoint (step 2)", damaged, err, p.Step)
			}
		})
	}
}
