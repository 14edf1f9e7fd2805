package dim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

// Train runs DIM with cfg on the spec's encoder through train.Train.
func Train(ctx context.Context, cfg Config, spec encoder.Spec, o train.Options) (train.Method, train.Progress, error) {
	return train.Train(ctx, func() (train.Method, error) { return New(cfg, spec) }, o)
}

// tinyData is a labelled in-memory data set of 9x9 grey images.
func tinyData(t *testing.T, n int) data.Dataset {
	t.Helper()
	rng := tensor.NewRNG(42)
	pix := make([]uint8, n*81)
	labels := make([]int, n)
	for i := range pix {
		pix[i] = uint8(rng.IntN(256))
	}
	for i := range labels {
		labels[i] = i % 3
	}
	ds, err := data.NewMemory(1, 9, 9, pix, labels, 3)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// stepLosses reads the per-step losses from a run's metrics.
func stepLosses(t *testing.T, dir string) map[int]float64 {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct {
			Event string  `json:"event"`
			Step  int     `json:"step"`
			Loss  float64 `json:"loss"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("metrics line %q: %v", sc.Text(), err)
		}
		if rec.Event == "step" {
			out[rec.Step] = rec.Loss
		}
	}
	return out
}

// TestTrainResume: a run stopped after 5 steps (mid-epoch) and resumed to 12
// logs the same losses for steps 6..12 as a run that goes straight to 12.
func TestTrainResume(t *testing.T) {
	ds := tinyData(t, 20) // 6 batches of 3 per epoch, so 12 steps cross epochs
	cfg := tinyConfig(mi.JSD, 0, 1)
	full := t.TempDir()
	if _, p, err := Train(context.Background(), cfg, tinySpec, train.Options{Dir: full, Train: ds, DataSpec: "tiny", Steps: 12, LogEvery: 1}); err != nil || p.Step != 12 || p.Epoch != 2 {
		t.Fatalf("full run: %v, progress %+v", err, p)
	}
	part := t.TempDir()
	if _, _, err := Train(context.Background(), cfg, tinySpec, train.Options{Dir: part, Train: ds, DataSpec: "tiny", Steps: 5, LogEvery: 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Train(context.Background(), cfg, tinySpec, train.Options{Dir: part, Train: ds, DataSpec: "tiny", Steps: 5, LogEvery: 1}); err == nil {
		t.Error("training into a run directory without --resume did not fail")
	}
	if _, p, err := Train(context.Background(), cfg, tinySpec, train.Options{Dir: part, Train: ds, DataSpec: "tiny", Steps: 12, LogEvery: 1, Resume: true}); err != nil || p.Step != 12 {
		t.Fatalf("resumed run: %v, progress %+v", err, p)
	}
	want, got := stepLosses(t, full), stepLosses(t, part)
	for s := 1; s <= 12; s++ {
		if got[s] != want[s] {
			t.Errorf("step %d: loss %v, uninterrupted run %v", s, got[s], want[s])
		}
	}
	// The progress too, the divergence test's references included (the
	// judgement of step 5's update at the end of the first part leaves
	// them as they were).
	fi, err := train.ReadInfo(full)
	if err != nil {
		t.Fatal(err)
	}
	pi, err := train.ReadInfo(part)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Progress.Divergence == nil || !reflect.DeepEqual(pi.Progress, fi.Progress) {
		t.Errorf("resumed run's progress %+v (references %+v), uninterrupted run's %+v (%+v)", pi.Progress, pi.Progress.Divergence, fi.Progress, fi.Progress.Divergence)
	}
}

// TestTrainInterrupt: a cancelled context checkpoints and returns
// train.ErrInterrupted; the run resumes from there.
func TestTrainInterrupt(t *testing.T) {
	ds := tinyData(t, 12)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, p, err := Train(ctx, tinyConfig(mi.JSD, 0, 1), tinySpec, train.Options{Dir: dir, Train: ds, Steps: 4})
	if !errors.Is(err, train.ErrInterrupted) {
		t.Fatalf("err = %v, want train.ErrInterrupted", err)
	}
	if _, err := os.Stat(filepath.Join(dir, train.WeightsFile)); err != nil {
		t.Fatalf("no checkpoint after interrupt: %v", err)
	}
	if _, p2, err := Train(context.Background(), Config{}, tinySpec, train.Options{Dir: dir, Train: ds, Steps: 4, Resume: true}); err != nil || p2.Step != 4 || p.Step != 0 {
		t.Fatalf("resume after interrupt: %v, progress %+v then %+v", err, p, p2)
	}
}

func TestTrainWrongImageSize(t *testing.T) {
	ds := tinyData(t, 6)
	cfg := tinyConfig(mi.JSD, 0, 1)
	if _, _, err := Train(context.Background(), cfg, encoder.Spec{Name: "basic28x28"}, train.Options{Dir: t.TempDir(), Train: ds, Steps: 1}); err == nil {
		t.Error("no error for 9x9 images with basic28x28")
	}
}
