package train_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deepinfomax/deepinfomax/dim"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/internal/testutil"
	"github.com/deepinfomax/deepinfomax/train"
)

// noEncoder is a DIM model that reports no encoder.
type noEncoder struct {
	*dim.Model `nn:",inline"`
}

func (noEncoder) Encoder() encoder.Encoder { return nil }

// noLosses is a DIM model whose steps report no losses.
type noLosses struct {
	*dim.Model `nn:",inline"`
}

func (m noLosses) Step(b *train.Batch) ([]train.Loss, error) {
	_, err := m.Model.Step(b)
	return nil, err
}

// TestTrainRefusesInvalidArguments: nil or invalid arguments of Train are
// errors naming them, returned before the method is built or anything is
// written.
func TestTrainRefusesInvalidArguments(t *testing.T) {
	ds := tinyData(t, 6, 9)
	bg := context.Background()
	for _, c := range []struct {
		name  string
		ctx   context.Context
		build func() (train.Method, error) // nil: none
		edit  func(o *train.Options)
		want  string
		built bool // the method is built before the error
	}{
		{"nil context", nil, nil, nil, "nil context", false},
		{"nil newMethod", bg, nil, nil, "nil newMethod", false},
		{"newMethod returns nothing", bg, func() (train.Method, error) { return nil, nil }, nil, "returned no method and no error", true},
		{"nil Train", bg, nil, func(o *train.Options) { o.Train = nil }, "Options.Train is nil", false},
		{"empty Dir", bg, nil, func(o *train.Options) { o.Dir = "" }, "Options.Dir is empty", false},
		{"negative LogEvery", bg, nil, func(o *train.Options) { o.LogEvery = -1 }, "Options.LogEvery is -1", false},
		{"negative CheckpointEvery", bg, nil, func(o *train.Options) { o.CheckpointEvery = -2 }, "Options.CheckpointEvery is -2", false},
		{"negative CheckpointInterval", bg, nil, func(o *train.Options) { o.CheckpointInterval = -time.Second }, "Options.CheckpointInterval is -1s", false},
		{"negative crop", bg, nil, func(o *train.Options) { o.Augment.Crop = -1 }, "negative crop", false},
		{"negative steps", bg, nil, func(o *train.Options) { o.Steps = -1 }, "must not be negative", false},
		{"batch larger than the data", bg, nil, func(o *train.Options) { o.Train = tinyData(t, 2, 9) }, "batch size 3 is larger than the 2 training images", true},
		{"method without encoder", bg, func() (train.Method, error) { return noEncoder{newTiny(t)}, nil }, nil, "has no encoder", true},
		{"method without losses", bg, func() (train.Method, error) { return noLosses{newTiny(t)}, nil }, nil, "returned no losses", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			o := train.Options{Dir: dir, Train: ds, Steps: 1}
			if c.edit != nil {
				c.edit(&o)
			}
			built := false
			var newMethod func() (train.Method, error)
			if c.name != "nil newMethod" {
				newMethod = func() (train.Method, error) {
					built = true
					if c.build != nil {
						return c.build()
					}
					return newTiny(t), nil
				}
			}
			testutil.NoPanic(t, c.name, func() {
				_, _, err := train.Train(c.ctx, newMethod, o)
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("Train: %v, want an error containing %q", err, c.want)
				}
			})
			if built != c.built {
				t.Errorf("method built: %v, want %v", built, c.built)
			}
			if _, err := os.Stat(filepath.Join(dir, train.WeightsFile)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a checkpoint was written (%v)", err)
			}
		})
	}
}

// TestRunAndSaveRefuseNil: Run and Save return errors for a nil context,
// method or encoder and an empty directory, and write nothing.
func TestRunAndSaveRefuseNil(t *testing.T) {
	ds := tinyData(t, 6, 9)
	dir := filepath.Join(t.TempDir(), "run")
	o := train.Options{Dir: dir, Train: ds, Steps: 1}
	m := newTiny(t)
	for _, c := range []struct {
		name, want string
		f          func() error
	}{
		{"Run nil context", "nil context", func() error { _, err := train.Run(nil, m, train.Progress{}, o); return err }},
		{"Run nil method", "nil method", func() error { _, err := train.Run(context.Background(), nil, train.Progress{}, o); return err }},
		{"Run no encoder", "has no encoder", func() error {
			_, err := train.Run(context.Background(), noEncoder{m}, train.Progress{}, o)
			return err
		}},
		{"Run empty Dir", "Options.Dir is empty", func() error {
			_, err := train.Run(context.Background(), m, train.Progress{}, train.Options{Train: ds, Steps: 1})
			return err
		}},
		{"Save nil method", "nil method", func() error { return train.Save(dir, nil, train.Progress{}) }},
		{"Save no encoder", "has no encoder", func() error { return train.Save(dir, noEncoder{m}, train.Progress{}) }},
		{"Save empty dir", "empty dir", func() error { return train.Save("", m, train.Progress{}) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.NoPanic(t, c.name, func() {
				if err := c.f(); err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%v, want an error containing %q", err, c.want)
				}
			})
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("run directory made (%v)", err)
			}
		})
	}
}

// TestZeroOptionsDefaults: LogEvery 0 still means 10 and
// CheckpointEvery/CheckpointInterval 0 mean off (only the negative values
// became errors).
func TestZeroOptionsDefaults(t *testing.T) {
	ds := tinyData(t, 6, 9)
	dir := t.TempDir()
	if _, p, err := train.Train(context.Background(), func() (train.Method, error) { return newTiny(t), nil },
		train.Options{Dir: dir, Train: ds, Steps: 1}); err != nil || p.Step != 1 {
		t.Fatalf("Train with zero options: %v, progress %+v", err, p)
	}
}
