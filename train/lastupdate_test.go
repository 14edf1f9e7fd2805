package train_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/checkpoint"
	"github.com/deepinfomax/deepinfomax/dim"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/train"
)

// judged is an exploder that is a train.Evaluator: Evaluate gives the
// loss of its current weights on the batch without an update (the
// cross-entropy of a forward pass in evaluation mode, which leaves the
// running statistics alone, or loss once the weights exploded, as
// exploder's Step reports it), or fails with fail.
type judged struct {
	*exploder `nn:",inline"`
	fail      error `nn:"-"`
	evaluated int   `nn:"-"`
}

func (j *judged) Evaluate(b *train.Batch) ([]train.Loss, error) {
	j.evaluated++
	if j.fail != nil {
		return nil, j.fail
	}
	l := []train.Loss{{Name: "loss", Value: j.loss}, {Name: "batch_acc"}}
	if j.exploded {
		if v := float64(j.loss); j.refuse && (math.IsNaN(v) || math.IsInf(v, 0)) {
			return l, errors.New("loss is not finite")
		}
		return l, nil
	}
	s := j.supervised
	tp := autograd.NewTape()
	tp.SetNoGrad(true)
	s.modes.Set(false)
	loss := tp.CrossEntropy(s.Head.Forward(tp, s.Enc.Encode(tp, tp.Const(b.X)).Y), b.Labels)
	s.modes.Set(true)
	if err := tp.Err(); err != nil {
		return nil, err
	}
	l[0].Value = loss.Item()
	return l, nil
}

// dimExploder is DIM whose update at its at-th step (counted from 1)
// multiplies every parameter by scale: huge weights that stay finite, and
// whose loss DIM's own Evaluate computes.
type dimExploder struct {
	*dim.Model `nn:",inline"`
	at, n      int     `nn:"-"`
	scale      float32 `nn:"-"`
}

func (e *dimExploder) Step(b *train.Batch) ([]train.Loss, error) {
	l, err := e.Model.Step(b)
	if e.n++; err == nil && e.n == e.at {
		for _, p := range nn.StateOf(e.Model, "").Params {
			for i := range p.Var.Value.Data {
				p.Var.Value.Data[i] *= e.scale
			}
		}
	}
	return l, err
}

// TestLastUpdateJudged: the update of a run's last step, whose loss no step
// computes, is judged before it is checkpointed as the run's model: an
// Evaluator's losses of the final weights on the last batch get the
// divergence test every step's loss gets. When they fail it, the final
// weights go to model.diverged.safetensors, the run keeps the checkpoint
// before, and the error says so; a method that is not an Evaluator is not
// judged; Evaluate runs once per run.
func TestLastUpdateJudged(t *testing.T) {
	ds := tinyData(t, 40, 9) // 10 batches of 4: no epoch ends in these runs
	cfg := supervisedConfig{Common: train.Common{LR: 1e-2, Batch: 4, Seed: 1}, Classes: 3}
	nan := float32(math.NaN())
	build := func(t *testing.T, evaluator bool, at int, scale, loss float32, refuse bool, fail error) train.Method {
		s, err := newSupervised(cfg, tinySpec)
		if err != nil {
			t.Fatal(err)
		}
		e := &exploder{supervised: s, at: at, scale: scale, loss: loss, refuse: refuse}
		if !evaluator {
			return e
		}
		return &judged{exploder: e, fail: fail}
	}
	for _, c := range []struct {
		name         string
		method       func(t *testing.T) train.Method
		steps, every int
		factor       float64
		err          []string // in the error (none: the run completes)
		ckpt         int      // the run's checkpoint afterwards (0: none)
		diverged     int      // the step of the weights in model.diverged.safetensors (0: none)
	}{
		{"steady run: judged, saved", func(t *testing.T) train.Method { return build(t, true, 0, 1, 0, false, nil) },
			4, 1, 0, nil, 4, 0},
		{"huge but finite last update, checkpoint every step", func(t *testing.T) train.Method { return build(t, true, 4, 1e30, 1e20, false, nil) },
			4, 1, 0, []string{"step 4 (the last)", "loss loss = 1e+20", "written to " + train.DivergedWeightsFile, "the run's checkpoint is of step 3"}, 3, 4},
		{"huge last update, NaN loss", func(t *testing.T) train.Method { return build(t, true, 4, 1e30, nan, false, nil) },
			4, 1, 0, []string{"step 4 (the last)", "loss loss = NaN", "the run's checkpoint is of step 3"}, 3, 4},
		{"huge last update, loss refused by the method", func(t *testing.T) train.Method { return build(t, true, 4, 1e30, nan, true, nil) },
			4, 1, 0, []string{"step 4 (the last)", "loss is not finite", "the run's checkpoint is of step 3"}, 3, 4},
		{"huge last update, checkpoints every 3", func(t *testing.T) train.Method { return build(t, true, 5, 1e30, 1e20, false, nil) },
			5, 3, 0, []string{"step 5 (the last)", "the run's checkpoint is of step 3"}, 3, 5},
		{"huge last update, no checkpoint before the end", func(t *testing.T) train.Method { return build(t, true, 4, 1e30, 1e20, false, nil) },
			4, 0, 0, []string{"step 4 (the last)", "no checkpoint remains"}, 0, 4},
		{"huge update in a 1-step run", func(t *testing.T) train.Method { return build(t, true, 1, 1e30, 1e20, false, nil) },
			1, 0, 0, []string{"step 1 (the last)", "loss loss = 1e+20", "no checkpoint remains"}, 0, 1},
		{"huge last update, magnitude test off (--diverge-factor -1)", func(t *testing.T) train.Method { return build(t, true, 4, 1e30, 1e20, false, nil) },
			4, 1, -1, nil, 4, 0},
		{"NaN weights in the last update: neither saved nor kept", func(t *testing.T) train.Method { return build(t, true, 4, nan, nan, false, nil) },
			4, 1, 0, []string{"step 4 (the last)", "loss loss = NaN", "not checkpointed (nor kept in " + train.DivergedWeightsFile, "the run's checkpoint is of step 3"}, 3, 0},
		{"Evaluate fails", func(t *testing.T) train.Method { return build(t, true, 0, 1, 0, false, errors.New("no forward pass")) },
			4, 1, 0, []string{"step 4 (the last): evaluating the weights after it: no forward pass", "the run's checkpoint is of step 3"}, 3, 0},
		{"DIM, steady", func(t *testing.T) train.Method { return &dimExploder{Model: newTiny(t)} },
			4, 1, 0, nil, 4, 0},
		{"DIM, every parameter x1000 in the last update", func(t *testing.T) train.Method { return &dimExploder{Model: newTiny(t), at: 4, scale: 1e3} },
			4, 1, 0, []string{"step 4 (the last)", "loss loss = ", "times its reference magnitude", "the run's checkpoint is of step 3"}, 3, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			m := c.method(t)
			_, err := train.Run(context.Background(), m, train.Progress{}, train.Options{Dir: dir, Train: ds, Steps: c.steps, CheckpointEvery: c.every, DivergeFactor: c.factor})
			if len(c.err) == 0 && err != nil {
				t.Fatalf("err = %v, want none", err)
			}
			for _, w := range c.err {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want one containing %q", err, w)
				}
			}
			if j, ok := m.(*judged); ok && j.evaluated != 1 {
				t.Errorf("Evaluate called %d times, want once", j.evaluated)
			}
			if c.factor < 0 { // huge weights, as asked
				if _, p, err := train.Load(dir); err != nil || p.Step != c.ckpt {
					t.Errorf("checkpoint: %v, step %d; want step %d", err, p.Step, c.ckpt)
				}
			} else {
				finiteRun(t, dir, c.ckpt)
			}
			h, herr := checkpoint.LoadHeader(filepath.Join(dir, train.DivergedWeightsFile))
			if c.diverged == 0 {
				if !errors.Is(herr, os.ErrNotExist) {
					t.Errorf("%s: %v, want none", train.DivergedWeightsFile, herr)
				}
				return
			}
			if herr != nil {
				t.Fatalf("%s: %v", train.DivergedWeightsFile, herr)
			}
			if !strings.Contains(h.Metadata["deepinfomax"], `"step":`+strconv.Itoa(c.diverged)+`,`) {
				t.Errorf("%s holds %s, want the weights after step %d", train.DivergedWeightsFile, h.Metadata["deepinfomax"], c.diverged)
			}
		})
	}
}

// interrupter is a dimExploder that cancels the run's context after its
// stop-th step (counted from 1), as Ctrl-C would.
type interrupter struct {
	*dimExploder `nn:",inline"`
	stop         int                `nn:"-"`
	cancel       context.CancelFunc `nn:"-"`
}

func (i *interrupter) Step(b *train.Batch) ([]train.Loss, error) {
	l, err := i.dimExploder.Step(b)
	if i.n == i.stop {
		i.cancel()
	}
	return l, err
}

// TestInterruptedExplosionJudgedOnResume: a run interrupted right after an
// update that made its weights huge but finite checkpoints them (no step
// computed their loss); the first step of --resume computes it and must
// judge it against the run's own references, as the step after it would
// have in the uninterrupted run: it stops there, the interruption's
// checkpoint is set aside and the one before becomes the run's. (Without
// the references a resumed run has none: its first loss set them, and it
// went on from the huge weights.)
func TestInterruptedExplosionJudgedOnResume(t *testing.T) {
	// Every 1: step 3 was checkpointed just before the interruption, which
	// must not write it again over the previous checkpoint (step 2's).
	for _, every := range []int{2, 1} {
		t.Run(fmt.Sprintf("checkpoint every %d", every), func(t *testing.T) {
			ds := tinyData(t, 40, 9)
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			m := &interrupter{dimExploder: &dimExploder{Model: newTiny(t), at: 3, scale: 1e3}, stop: 3, cancel: cancel}
			o := train.Options{Dir: dir, Train: ds, Steps: 6, CheckpointEvery: every}
			if _, err := train.Run(ctx, m, train.Progress{}, o); !errors.Is(err, train.ErrInterrupted) {
				t.Fatalf("err = %v, want ErrInterrupted", err)
			}
			o.Resume = true
			_, p, err := train.Train(context.Background(), nil, o)
			for _, w := range []string{"step 4:", "training diverged", "the checkpoint of step 3", "the run's checkpoint is of step 2"} {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("resumed: step %d, err = %v; want one containing %q", p.Step, err, w)
				}
			}
			if _, lp, err := train.Load(dir); err != nil || lp.Step != 2 {
				t.Errorf("checkpoint: %v, step %d; want step 2", err, lp.Step)
			}
		})
	}
}
