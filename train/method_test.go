package train_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/runlog"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

// supervised is a method that is not DIM, written as a baseline would be:
// the encoder and a linear head on Y trained with cross-entropy on the
// batch's labels. Nothing in package train knows of it but the registry.
type supervised struct {
	Enc  encoder.Encoder `nn:"encoder"`
	Head *nn.Linear

	cfg    supervisedConfig `nn:"-"`
	opt    *optim.Adam      `nn:"-"`
	tape   *autograd.Tape   `nn:"-"`
	modes  nn.Modes         `nn:"-"`
	losses []train.Loss     `nn:"-"`
}

type supervisedConfig struct {
	train.Common
	Classes int `json:"classes"`
}

func newSupervised(cfg supervisedConfig, spec encoder.Spec) (*supervised, error) {
	rng := tensor.NewRNG(cfg.Seed)
	enc, err := encoder.New(spec, rng)
	if err != nil {
		return nil, err
	}
	m := &supervised{Enc: enc, Head: nn.NewLinear(enc.Spec().Out, cfg.Classes, true, rng), cfg: cfg, tape: autograd.NewTape()}
	if m.opt, err = optim.NewAdam(train.TrainableParams(m), optim.AdamConfig{LR: cfg.LR}); err != nil {
		return nil, err
	}
	m.modes = nn.ModesOf(m)
	m.losses = []train.Loss{{Name: "loss"}, {Name: "batch_acc"}}
	return m, nil
}

func init() {
	err := train.Register("test-supervised", func(raw json.RawMessage, spec encoder.Spec) (train.Method, error) {
		var c supervisedConfig
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		return newSupervised(c, spec)
	})
	if err != nil {
		panic(err)
	}
}

func (m *supervised) Name() string             { return "test-supervised" }
func (m *supervised) Config() any              { return m.cfg }
func (m *supervised) Common() train.Common     { return m.cfg.Common }
func (m *supervised) Encoder() encoder.Encoder { return m.Enc }
func (m *supervised) Optimizers() []train.Optimizer {
	return []train.Optimizer{{Prefix: "optim.", Opt: m.opt}}
}

func (m *supervised) Step(b *train.Batch) ([]train.Loss, error) {
	tp := m.tape
	tp.Reset()
	m.modes.Set(true)
	logits := m.Head.Forward(tp, m.Enc.Encode(tp, tp.Const(b.X)).Y)
	loss := tp.CrossEntropy(logits, b.Labels)
	if err := tp.Err(); err != nil {
		return m.losses, err
	}
	m.losses[0].Value, m.losses[1].Value = loss.Item(), nn.Accuracy(logits.Value, b.Labels)
	m.opt.ZeroGrad()
	if err := tp.Backward(loss); err != nil {
		return m.losses, err
	}
	m.opt.Step()
	return m.losses, m.opt.Err()
}

// TestAnyMethod runs a non-DIM method through the shared loop: labels
// reach its step, its named losses reach metrics.jsonl, it resumes exactly
// from its checkpoint through the registry, and LoadEncoder gives its
// encoder without knowing the method.
func TestAnyMethod(t *testing.T) {
	ds := tinyData(t, 12, 9)
	cfg := supervisedConfig{Common: train.Common{LR: 1e-2, Batch: 4, Seed: 1}, Classes: 3}
	build := func() (train.Method, error) { return newSupervised(cfg, tinySpec) }
	full, part := filepath.Join(t.TempDir(), "full"), filepath.Join(t.TempDir(), "part")
	if _, _, err := train.Train(context.Background(), build, train.Options{Dir: full, Train: ds, Steps: 6, LogEvery: 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := train.Train(context.Background(), build, train.Options{Dir: part, Train: ds, Steps: 4, LogEvery: 1}); err != nil {
		t.Fatal(err)
	}
	if _, p, err := train.Train(context.Background(), nil, train.Options{Dir: part, Train: ds, Steps: 6, LogEvery: 1, Resume: true}); err != nil || p.Step != 6 {
		t.Fatalf("resume: %v, progress %+v", err, p)
	}
	lines := func(dir string) map[string]string {
		recs, err := runlog.ReadMetrics(filepath.Join(dir, train.MetricsFile))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, r := range recs {
			if r.Event == "step" {
				l, _ := r.Float("loss")
				a, ok := r.Float("batch_acc")
				if !ok {
					t.Fatalf("step line without the method's batch_acc: %v", r.Fields)
				}
				s, _ := r.Int("step")
				out[fmt.Sprint(s)] = fmt.Sprint(l, a)
			}
		}
		return out
	}
	want, got := lines(full), lines(part)
	if len(want) != 6 {
		t.Fatalf("%d step lines, want 6", len(want))
	}
	for s, w := range want {
		if got[s] != w {
			t.Errorf("step %s: loss and accuracy %s after resume, %s uninterrupted", s, got[s], w)
		}
	}
	enc, info, err := train.LoadEncoder(full)
	if err != nil || info.Method != "test-supervised" || enc.Spec().Name != tinySpec.Name {
		t.Fatalf("LoadEncoder: %v, info %+v", err, info)
	}
	if _, err := encoder.Embed(enc, ds, encoder.EmbedOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestResumeKeepsAugmentation: a resumed run keeps the augmentation it was
// started with when none is given, and refuses a different one.
func TestResumeKeepsAugmentation(t *testing.T) {
	ds := tinyData(t, 12, 11)
	cfg := supervisedConfig{Common: train.Common{LR: 1e-2, Batch: 4, Seed: 1}, Classes: 3}
	spec := tinySpec
	spec.Transform.CenterCrop = 9
	build := func() (train.Method, error) { return newSupervised(cfg, spec) }
	dir := filepath.Join(t.TempDir(), "run")
	aug := train.Augment{Crop: 9, Pad: 1, Flip: true}
	if _, _, err := train.Train(context.Background(), build, train.Options{Dir: dir, Train: ds, Steps: 2, Augment: aug}); err != nil {
		t.Fatal(err)
	}
	_, p, err := train.Train(context.Background(), nil, train.Options{Dir: dir, Train: ds, Steps: 3, Resume: true})
	if err != nil || p.Augment == nil || *p.Augment != aug {
		t.Fatalf("resume without augmentation flags: %v, augmentation %v, want %v", err, p.Augment, aug)
	}
	if _, _, err := train.Train(context.Background(), nil, train.Options{Dir: dir, Train: ds, Steps: 4, Resume: true, Augment: train.Augment{Flip: true}}); err == nil {
		t.Error("resume with another augmentation: no error")
	}
	if _, _, err := train.Train(context.Background(), build, train.Options{Dir: filepath.Join(t.TempDir(), "r"), Train: ds, Steps: 1, Augment: train.Augment{Crop: 14}}); err == nil || !strings.Contains(err.Error(), "--crop 14 is larger") {
		t.Errorf("a crop larger than the images: %v", err)
	}
	if _, _, err := train.Train(context.Background(), build, train.Options{Dir: filepath.Join(t.TempDir(), "r"), Train: ds, Steps: -3}); err == nil {
		t.Error("negative steps: no error")
	}
}

// TestRunLockAndCheckpoints: a run directory held by a live process is
// refused, naming it; a stale lock and stale temporary files are cleared;
// CheckpointEvery checkpoints every that many steps; a resumed run logs
// each step once.
func TestRunLockAndCheckpoints(t *testing.T) {
	ds := tinyData(t, 24, 9)
	cfg := supervisedConfig{Common: train.Common{LR: 1e-2, Batch: 4, Seed: 1}, Classes: 3}
	build := func() (train.Method, error) { return newSupervised(cfg, tinySpec) }
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(dir, train.LockFile)
	os.WriteFile(lock, []byte(fmt.Sprintln(os.Getpid())), 0o644)
	_, _, err := train.Train(context.Background(), build, train.Options{Dir: dir, Train: ds, Steps: 1})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("process %d", os.Getpid())) {
		t.Fatalf("a run directory locked by a live process: %v", err)
	}
	os.WriteFile(lock, []byte("2147483646\n"), 0o644) // no such process
	stale := filepath.Join(dir, ".model.safetensors.tmp-123")
	os.WriteFile(stale, []byte("half a checkpoint"), 0o644)
	if _, _, err := train.Train(context.Background(), build, train.Options{Dir: dir, Train: ds, Steps: 5, LogEvery: 1, CheckpointEvery: 2}); err != nil {
		t.Fatalf("a stale lock: %v", err)
	}
	for _, f := range []string{lock, stale} {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s left behind", filepath.Base(f))
		}
	}
	recs, err := runlog.ReadMetrics(filepath.Join(dir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var ckpts []int64
	for _, r := range recs {
		if s, _ := r.Int("step"); r.Event == "checkpoint" {
			ckpts = append(ckpts, s)
		}
	}
	if !slices.Equal(ckpts, []int64{2, 4, 5}) {
		t.Errorf("checkpoints at steps %v, want 2, 4, 5", ckpts)
	}
	// A run killed after logging steps past its last checkpoint: the
	// resumed run replaces those lines instead of repeating them.
	f, _ := os.OpenFile(filepath.Join(dir, train.MetricsFile), os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintln(f, `{"time":"2025-01-01T00:00:00Z","event":"step","step":6,"loss":1}`)
	fmt.Fprintln(f, `{"time":"2025-01-01T00:00:01Z","event":"step","step":7,"loss":1}`)
	f.Close()
	if _, _, err := train.Train(context.Background(), nil, train.Options{Dir: dir, Train: ds, Steps: 8, LogEvery: 1, Resume: true}); err != nil {
		t.Fatal(err)
	}
	recs, _ = runlog.ReadMetrics(filepath.Join(dir, train.MetricsFile))
	seen := map[int64]int{}
	for _, r := range recs {
		if s, _ := r.Int("step"); r.Event == "step" {
			seen[s]++
		}
	}
	for s := int64(1); s <= 8; s++ {
		if seen[s] != 1 {
			t.Errorf("step %d logged %d times", s, seen[s])
		}
	}
}

// TestDamagedCheckpoint: a flipped byte inside a tensor is reported with
// the tensor's name, and Load falls back to the previous checkpoint.
func TestDamagedCheckpoint(t *testing.T) {
	ds := tinyData(t, 16, 9) // 4 steps per epoch: checkpoints at steps 2 and 4
	cfg := supervisedConfig{Common: train.Common{LR: 1e-2, Batch: 4, Seed: 1}, Classes: 3}
	build := func() (train.Method, error) { return newSupervised(cfg, tinySpec) }
	dir := filepath.Join(t.TempDir(), "run")
	if _, _, err := train.Train(context.Background(), build, train.Options{Dir: dir, Train: ds, Steps: 4, CheckpointEvery: 2}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, train.WeightsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-3] ^= 0x40 // inside the last tensor's data
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, p, err := train.Load(dir)
	if err != nil || p.Step != 2 {
		t.Fatalf("Load with a damaged latest checkpoint: %v, step %d; want the previous one (step 2)", err, p.Step)
	}
	os.Remove(filepath.Join(dir, train.PrevWeightsFile))
	if _, _, err := train.Load(dir); err == nil || !strings.Contains(err.Error(), "is damaged") {
		t.Errorf("Load with only a damaged checkpoint: %v", err)
	}
}
