package train_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/train"
)

// exploder is the test's supervised method whose update at its at-th step
// (counted from 1 in this process) multiplies its weights by scale (NaN:
// sets them to NaN). The loss of exploded weights (the next step's, as a
// step's loss is that of the weights before its update) is reported as
// loss; with refuse, a non-finite one is an error, as DIM makes it.
type exploder struct {
	*supervised `nn:",inline"`
	at, n       int     `nn:"-"`
	scale, loss float32 `nn:"-"`
	refuse      bool    `nn:"-"`
	exploded    bool    `nn:"-"`
}

func (e *exploder) Step(b *train.Batch) ([]train.Loss, error) {
	l, err := e.supervised.Step(b)
	if err != nil {
		return l, err
	}
	if e.exploded {
		l[0].Value = e.loss
		if v := float64(e.loss); e.refuse && (math.IsNaN(v) || math.IsInf(v, 0)) {
			return l, errors.New("loss is not finite")
		}
	}
	if e.n++; e.n == e.at {
		for _, p := range nn.StateOf(e.supervised, "").Params {
			for i := range p.Var.Value.Data {
				if math.IsNaN(float64(e.scale)) {
					p.Var.Value.Data[i] = e.scale
				} else {
					p.Var.Value.Data[i] *= e.scale
				}
			}
		}
		e.exploded = true
	}
	return l, nil
}

// finiteRun loads dir's checkpoint and fails unless it is of step want
// with finite weights (want 0: no checkpoint).
func finiteRun(t *testing.T, dir string, want int) {
	t.Helper()
	if want == 0 {
		if train.HasRun(dir) {
			t.Error("a checkpoint remains, want none")
		}
		return
	}
	m, p, err := train.Load(dir)
	if err != nil || p.Step != want {
		t.Fatalf("checkpoint: %v, step %d; want step %d", err, p.Step, want)
	}
	for name, ts := range nn.StateOf(m, "").Tensors() {
		for _, v := range ts.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || math.Abs(float64(v)) > 1e6 {
				t.Fatalf("checkpoint of step %d: %s holds %v", want, name, v)
			}
		}
	}
}

// TestDivergedCheckpoint: when weights explode in an update, the run stops
// and leaves as its checkpoint one whose weights gave a checked loss: the
// checkpoint holding the exploded weights is set aside (the previous one
// becoming the latest), and weights that are not finite are never saved.
func TestDivergedCheckpoint(t *testing.T) {
	ds := tinyData(t, 40, 9)
	cfg := supervisedConfig{Common: train.Common{LR: 1e-2, Batch: 4, Seed: 1}, Classes: 3}
	nan := float32(math.NaN())
	for _, c := range []struct {
		name         string
		steps, every int
		at           int // the update that explodes
		scale, loss  float32
		refuse       bool
		err          string // in the error
		ckpt         int    // the run's checkpoint afterwards (0: none)
		setAside     int    // the step of the checkpoint set aside (0: none)
	}{
		{"huge weights, checkpoint every step", 8, 1, 4, 1e30, 1e20, false, "step 5: loss loss = 1e+20", 3, 4},
		{"huge weights, NaN loss", 8, 1, 4, 1e30, nan, false, "step 5: loss loss = NaN", 3, 4},
		{"huge weights, loss refused by the method", 8, 1, 4, 1e30, nan, true, "step 4: loss is not finite", 3, 4},
		{"huge weights, every 2: back to the previous", 8, 2, 4, 1e30, 1e20, false, "the run's checkpoint is of step 2", 2, 4},
		{"huge weights, every 3: the latest was checked", 8, 3, 4, 1e30, 1e20, false, "the run's checkpoint is of step 3", 3, 0},
		{"huge weights, only the first checkpoint", 8, 1, 1, 1e30, 1e20, false, "no checkpoint remains", 0, 1},
		{"NaN weights are not saved", 8, 1, 4, nan, nan, false, "step 4: tensor", 3, 0},
		{"NaN weights, every 2", 8, 2, 4, nan, nan, false, "the run's checkpoint is of step 2", 2, 0},
		{"NaN weights at the end", 4, 1, 4, nan, nan, false, "not finite", 3, 0},
		{"NaN weights in a 1-step run", 1, 0, 1, nan, nan, false, "not finite", 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := newSupervised(cfg, tinySpec)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			m := &exploder{supervised: s, at: c.at, scale: c.scale, loss: c.loss, refuse: c.refuse}
			_, err = train.Run(context.Background(), m, train.Progress{}, train.Options{Dir: dir, Train: ds, Steps: c.steps, CheckpointEvery: c.every})
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err = %v, want one containing %q", err, c.err)
			}
			finiteRun(t, dir, c.ckpt)
			_, serr := os.Stat(filepath.Join(dir, train.DivergedWeightsFile))
			if (serr == nil) != (c.setAside > 0) {
				t.Errorf("%s: %v, want set aside: %v", train.DivergedWeightsFile, serr, c.setAside > 0)
			}
		})
	}
}

// TestDivergedResume: a run of a method that is not a train.Evaluator,
// whose last checkpoint holds weights that exploded in its last update
// (which no loss checked), diverges as soon as it is resumed and goes
// back to the checkpoint before; resumed again, it continues from there.
func TestDivergedResume(t *testing.T) {
	ds := tinyData(t, 40, 9)
	cfg := supervisedConfig{Common: train.Common{LR: 1e-2, Batch: 4, Seed: 1}, Classes: 3}
	s, err := newSupervised(cfg, tinySpec)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	o := train.Options{Dir: dir, Train: ds, Steps: 3, CheckpointEvery: 1}
	if _, err := train.Run(context.Background(), &exploder{supervised: s, at: 3, scale: 1e30}, train.Progress{}, o); err != nil {
		t.Fatal(err) // finite weights, and exploder is no train.Evaluator: not judged at the end
	}
	m, p, err := train.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	o.Steps, o.Resume = 6, true
	_, err = train.Run(context.Background(), &exploder{supervised: m.(*supervised), exploded: true, loss: float32(math.NaN())}, p, o)
	if err == nil || !strings.Contains(err.Error(), "step 4:") || !strings.Contains(err.Error(), "the run's checkpoint is of step 2") {
		t.Fatalf("resumed: err = %v", err)
	}
	finiteRun(t, dir, 2)
	if _, p, err = train.Train(context.Background(), nil, o); err != nil || p.Step != 6 {
		t.Fatalf("resumed from the previous checkpoint: %v at step %d", err, p.Step)
	}
}
