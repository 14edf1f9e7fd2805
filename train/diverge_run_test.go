package train_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/train"
)

// blowUp is the test's supervised method with its loss replaced by loss
// at step at.
type blowUp struct {
	*supervised `nn:",inline"`
	at, n       int     `nn:"-"`
	loss        float32 `nn:"-"`
}

func (b *blowUp) Step(batch *train.Batch) ([]train.Loss, error) {
	l, err := b.supervised.Step(batch)
	if b.n++; b.n == b.at {
		l[0].Value = b.loss
	}
	return l, err
}

// TestRunStopsDiverging: a loss that explodes at the second step, or is
// NaN at the first, ends the run there with an error naming the step and
// the loss. The checkpoint of the step before holds the weights that gave
// the loss: it is set aside and the one before it is the run's.
func TestRunStopsDiverging(t *testing.T) {
	ds := tinyData(t, 40, 9)
	cfg := supervisedConfig{Common: train.Common{LR: 1e-2, Batch: 4, Seed: 1}, Classes: 3}
	for _, c := range []struct {
		name string
		at   int
		loss float32
		err  string // "": the run completes
	}{
		{"steady", 0, 0, ""},
		{"explodes at step 3", 3, 2e14, "step 3: loss loss = 2e+14"},
		{"NaN at step 1", 1, float32(math.NaN()), "step 1: loss loss = NaN"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := newSupervised(cfg, tinySpec)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			p, err := train.Run(context.Background(), &blowUp{supervised: s, at: c.at, loss: c.loss}, train.Progress{}, train.Options{Dir: dir, Train: ds, Steps: 5, CheckpointEvery: 1})
			if c.err == "" {
				if err != nil || p.Step != 5 {
					t.Fatalf("%v at step %d", err, p.Step)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err = %v, want one containing %q", err, c.err)
			}
			if c.at > 1 {
				if _, lp, err := train.Load(dir); err != nil || lp.Step != c.at-2 {
					t.Errorf("checkpoint: %v, step %d; want step %d", err, lp.Step, c.at-2)
				}
			} else if train.HasRun(dir) {
				t.Error("a checkpoint of the diverged step")
			}
		})
	}
}
