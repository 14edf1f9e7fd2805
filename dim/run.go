package dim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/runlog"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// ErrInterrupted is returned by Train when its context was cancelled; the
// run was checkpointed and can be resumed.
var ErrInterrupted = errors.New("training interrupted; checkpoint saved (continue with --resume)")

// RunOptions say where and how long a training run goes.
type RunOptions struct {
	Dir      string       // run directory: checkpoint, config, metrics
	Train    data.Dataset // training images
	DataSpec string       // recorded in the checkpoint
	// Epochs or Steps set the target (total, counted from the start of the
	// run, so a resumed run stops at the same point); Steps wins if both.
	Epochs, Steps int
	// Resume continues the checkpoint in Dir; without it Dir must not hold
	// one already.
	Resume bool
	// Log receives progress (a bar on a terminal, lines otherwise); nil
	// discards it.
	Log io.Writer
	// LogEvery is the number of steps between metrics lines (default 10).
	LogEvery int
	// Crop and Flip augment the training images (see data.LoaderOptions).
	Crop, Pad int
	Flip      bool
}

// Train trains a model with cfg (or the checkpoint's config when resuming)
// until the target, checkpointing after every epoch and at the end. When
// ctx is cancelled it finishes the current step, checkpoints, and returns
// ErrInterrupted.
func Train(ctx context.Context, cfg Config, o RunOptions) (*Model, Progress, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.LogEvery <= 0 {
		o.LogEvery = 10
	}
	var (
		m    *Model
		p    Progress
		tr   *Trainer
		opts = o
	)
	ckpt := filepath.Join(o.Dir, WeightsFile)
	_, statErr := os.Stat(ckpt)
	switch {
	case o.Resume:
		var st map[string]*tensor.Tensor
		var err error
		m, p, st, err = LoadCheckpoint(o.Dir)
		if err != nil {
			return nil, p, err
		}
		if tr, err = NewTrainer(m); err != nil {
			return nil, p, err
		}
		if err := tr.LoadOptimizerState(st); err != nil {
			return nil, p, fmt.Errorf("%s: optimiser state: %w", ckpt, err)
		}
		if p.Data != "" && o.DataSpec != "" && p.Data != o.DataSpec {
			return nil, p, fmt.Errorf("%s was trained on %q, not %q", o.Dir, p.Data, o.DataSpec)
		}
	case statErr == nil:
		return nil, p, fmt.Errorf("%s already holds a run: pass --resume to continue it or choose another --out", o.Dir)
	default:
		var err error
		if m, err = New(cfg); err != nil {
			return nil, p, err
		}
		if tr, err = NewTrainer(m); err != nil {
			return nil, p, err
		}
		p.Data = o.DataSpec
	}
	cfg = m.Config
	a, _ := LookupArch(cfg.Arch)
	if c, h, w := o.Train.Shape(); (o.Crop == 0 && (c != a.Channels || h != a.Size || w != a.Size)) || (o.Crop != 0 && (c != a.Channels || o.Crop != a.Size)) {
		return nil, p, fmt.Errorf("images are %dx%dx%d (crop %d) but encoder %s takes %dx%dx%d", c, h, w, o.Crop, a.Name, a.Channels, a.Size, a.Size)
	}
	loader, err := data.NewLoader(o.Train, data.LoaderOptions{
		BatchSize: cfg.Batch, Seed: cfg.Seed, Shuffle: true, DropLast: true,
		Crop: o.Crop, Pad: o.Pad, Flip: o.Flip, Mean: cfg.Mean, Std: cfg.Std,
		Start: data.Position{Epoch: p.Epoch, Sample: p.Sample},
	})
	if err != nil {
		return nil, p, err
	}
	defer loader.Close()
	perEpoch := loader.BatchesPerEpoch()
	target := opts.Steps
	if target <= 0 {
		target = max(opts.Epochs, 1) * perEpoch
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, p, fmt.Errorf("create run directory: %w", err)
	}
	metrics, err := runlog.Open(filepath.Join(o.Dir, MetricsFile), true)
	if err != nil {
		return nil, p, err
	}
	defer metrics.Close()
	if p.Step == 0 {
		st := m.State()
		metrics.Log("start", map[string]any{"config": cfg, "data": p.Data, "params": st.NumParams(), "steps": target, "steps_per_epoch": perEpoch})
	} else {
		metrics.Log("resume", map[string]any{"step": p.Step, "epoch": p.Epoch})
	}
	bar := runlog.NewProgress(o.Log, target, "train")
	bar.Add(min(p.Step, target), "")
	save := func() error {
		if err := SaveCheckpoint(o.Dir, m, tr, p); err != nil {
			return err
		}
		return metrics.Log("checkpoint", map[string]any{"step": p.Step, "epoch": p.Epoch})
	}
	x := &tensor.Tensor{}
	var sumLoss float64
	var sumN int
	t0 := time.Now()
	for p.Step < target {
		if ctx.Err() != nil {
			bar.Finish()
			if err := save(); err != nil {
				return m, p, err
			}
			return m, p, ErrInterrupted
		}
		b, err := loader.Next()
		if err != nil {
			return m, p, fmt.Errorf("read training data: %w", err)
		}
		x.Shape = append(x.Shape[:0], b.N, b.C, b.H, b.W)
		x.Data = b.X
		r, err := tr.Step(x)
		if err != nil {
			metrics.Log("error", map[string]any{"step": p.Step, "error": err.Error()})
			return m, p, fmt.Errorf("step %d: %w", p.Step, err)
		}
		p.Step++
		p.Epoch, p.Sample = b.Next.Epoch, b.Next.Sample
		sumLoss += float64(r.Loss)
		sumN++
		bar.Add(1, fmt.Sprintf("loss=%.4f", r.Loss))
		if p.Step%o.LogEvery == 0 || p.Step == target {
			el := time.Since(t0)
			metrics.Log("step", map[string]any{
				"step": p.Step, "epoch": float64(p.Step) / float64(perEpoch),
				"loss": sumLoss / float64(sumN), "local": r.Local, "global": r.Global,
				"prior": r.Prior, "discriminator": r.Discriminator,
				"ms_per_step": float64(el.Milliseconds()) / float64(sumN),
			})
			sumLoss, sumN, t0 = 0, 0, time.Now()
		}
		if b.Last || p.Step == target {
			if err := save(); err != nil {
				return m, p, err
			}
		}
	}
	bar.Finish()
	return m, p, nil
}
