package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/deepinfomax/deepinfomax/checkpoint"
	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/runlog"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// ErrInterrupted is returned by Run when its context was cancelled; the
// run was checkpointed and can be resumed.
var ErrInterrupted = errors.New("training interrupted; checkpoint saved (continue with --resume)")

// Options say where and how long a training run goes.
type Options struct {
	Dir      string       // run directory: checkpoint, config, metrics
	Train    data.Dataset // training images
	DataSpec string       // recorded in the checkpoint
	// DataOptions are the options DataSpec was opened with, recorded
	// (data.Options.Recorded) so that evaluation finds the same split (a
	// folder's held-out images) and a resumed run the same images.
	DataOptions data.Options
	// Epochs or Steps set the target (total, counted from the start of the
	// run, so a resumed run stops at the same point); Steps wins if both.
	Epochs, Steps int
	// Resume says the method was loaded from Dir's checkpoint (Load) and
	// continues it; without it Dir must not hold a checkpoint already.
	Resume bool
	// Log receives progress (a bar on a terminal, lines otherwise); nil
	// discards it.
	Log io.Writer
	// LogEvery is the number of steps between metrics lines (0: 10;
	// negative is an error).
	LogEvery int
	// CheckpointEvery > 0 checkpoints when that many steps have passed
	// since the last checkpoint (of this process: a resumed run counts
	// from its start), and CheckpointInterval > 0 when that much time
	// has; either way also after every epoch and at the end. 0 turns
	// either off; negative is an error.
	CheckpointEvery    int
	CheckpointInterval time.Duration
	// DivergeFactor > 0 stops the run, naming the step and the loss, when
	// a loss is not finite (NaN or infinite) or, from the second step on,
	// when its magnitude exceeds DivergeFactor times its reference
	// magnitude: the larger of 1 and the smaller of its running average
	// and its median over the first 10 steps (which, unlike the average,
	// an explosion in the first steps does not pull up). 0 means 1e4;
	// negative turns the magnitude test off (for losses that legitimately
	// swing by orders of magnitude, such as the f-divergence estimators'),
	// but a loss that is not finite still stops the run.
	//
	// A step's loss is that of the weights before its update, so a loss
	// that diverges at step n condemns the weights after step n-1: if the
	// latest checkpoint is of step n-1, Run moves it to
	// DivergedWeightsFile and makes the previous checkpoint the latest
	// (or leaves none), so that the run's checkpoint is one whose
	// following loss was checked. The last step's update has no following
	// step: when the run reaches its target and the method is an
	// Evaluator, Run computes the losses of the final weights once on the
	// last batch (a forward pass, no update) and applies the same test;
	// if they diverge, the final weights are written to
	// DivergedWeightsFile instead of the checkpoint and the run ends with
	// an error, its checkpoint the latest before. (A run interrupted
	// before its target is not judged: its first step when resumed is,
	// against the references its checkpoint's Progress.Divergence
	// carries, as the uninterrupted run's next step would have been.)
	// And every checkpoint (including the one at the end and on
	// interruption) first checks that the weights and optimiser state are
	// finite: if not, the run stops with an error and that checkpoint is
	// not written.
	DivergeFactor float64
	// Augment is the training images' augmentation; normalisation comes
	// from the encoder's spec. A resumed run keeps its own: a zero Augment
	// takes it, another one is an error.
	Augment Augment
}

// Augment is the random augmentation of training images (see
// data.LoaderOptions): a Crop x Crop square cut after padding by Pad
// (Crop 0: none) and horizontal flips.
type Augment struct {
	Crop int  `json:"crop,omitempty"`
	Pad  int  `json:"pad,omitempty"`
	Flip bool `json:"flip,omitempty"`
}

// String is the augmentation as dim train's flags.
func (a Augment) String() string {
	return fmt.Sprintf("--crop %d --pad %d --flip=%v", a.Crop, a.Pad, a.Flip)
}

// Run trains m from progress p until the target, checkpointing as
// CheckpointEvery / CheckpointInterval say, after every epoch and at the
// end, holding Dir's LOCK meanwhile, and logging to Dir/metrics.jsonl: a
// "start" line
// (method, config, encoder, data, parameters, steps), a "step" line every
// LogEvery steps with each loss averaged over those steps and the time per
// step, a "checkpoint" line per checkpoint (a resumed run first drops the
// step lines past its checkpoint). When ctx is cancelled it finishes the
// current step, checkpoints (unless it has just checkpointed that step),
// and returns ErrInterrupted; a loss that
// explodes (DivergeFactor), or weights that are not finite when a
// checkpoint is due, end it with an error that says which checkpoint
// the run is left with (see DivergeFactor). At the target, an
// Evaluator's final weights are judged before they are checkpointed.
//
// Errors before training name the invalid argument: a nil ctx, a nil m
// or one without an encoder, options that fail Options.Validate, a
// resumed run whose data or augmentation differ from its own, images the
// encoder does not take, a batch larger than the training set.
func Run(ctx context.Context, m Method, p Progress, o Options) (Progress, error) {
	if ctx == nil {
		return p, errors.New("train: nil context (use context.Background())")
	}
	if m == nil {
		return p, errors.New("train: nil method")
	}
	if m.Encoder() == nil {
		return p, fmt.Errorf("train: method %s has no encoder", m.Name())
	}
	if err := o.Validate(); err != nil {
		return p, err
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.LogEvery == 0 {
		o.LogEvery = 10
	}
	if o.Resume {
		if p.Data != "" && o.DataSpec != "" && data.Canonical(p.Data) != data.Canonical(o.DataSpec) {
			return p, fmt.Errorf("%s was trained on %q, not %q", o.Dir, p.Data, o.DataSpec)
		}
		switch rec := o.DataOptions.Recorded(); {
		case p.DataOptions == nil: // a run from before the options were recorded
			p.DataOptions = &rec
		case *p.DataOptions != rec:
			return p, fmt.Errorf("%s was trained with data options %+v, not %+v: resume with the same --size, --holdout, --seed and --coarse", o.Dir, *p.DataOptions, rec)
		}
		switch {
		case p.Augment == nil: // a run from before augmentation was recorded
			p.Augment = &o.Augment
		case o.Augment == Augment{}:
			o.Augment = *p.Augment
		case o.Augment != *p.Augment:
			return p, fmt.Errorf("%s was trained with %v, not %v: resume with the same augmentation or none", o.Dir, *p.Augment, o.Augment)
		}
	} else {
		if HasRun(o.Dir) {
			return p, fmt.Errorf("%s already holds a run: pass --resume to continue it or choose another --out", o.Dir)
		}
		rec := o.DataOptions.Recorded()
		p.Data, p.DataOptions, p.Augment = o.DataSpec, &rec, &o.Augment
	}
	spec, common := m.Encoder().Spec(), m.Common()
	c, h, w := o.Train.Shape()
	if a := o.Augment; a.Crop > 0 {
		if a.Pad < 0 || a.Crop > min(h, w)+2*a.Pad {
			return p, fmt.Errorf("--crop %d is larger than the %dx%d images padded by %d", a.Crop, h, w, a.Pad)
		}
		h, w = a.Crop, a.Crop
	}
	if c != spec.Channels || h != spec.Size || w != spec.Size {
		return p, fmt.Errorf("images are %dx%dx%d (crop %d) but encoder %s takes %dx%dx%d", c, h, w, o.Augment.Crop, spec.Name, spec.Channels, spec.Size, spec.Size)
	}
	if err := spec.CheckInput(o.Train.Shape()); err != nil && !o.Resume {
		// Runs made before evaluation transforms were recorded (and trained
		// on crops) still resume; a new run must be evaluable.
		return p, fmt.Errorf("evaluation transform: %w", err)
	}
	if n := o.Train.Len(); n < common.Batch {
		return p, fmt.Errorf("batch size %d is larger than the %d training images: no full batch (lower the batch size)", common.Batch, n)
	}
	loader, err := data.NewLoader(o.Train, data.LoaderOptions{
		BatchSize: common.Batch, Seed: common.Seed, Shuffle: true, DropLast: true,
		Crop: o.Augment.Crop, Pad: o.Augment.Pad, Flip: o.Augment.Flip, Mean: spec.Transform.Mean, Std: spec.Transform.Std,
		Start: data.Position{Epoch: p.Epoch, Sample: p.Sample},
	})
	if err != nil {
		return p, err
	}
	defer loader.Close()
	perEpoch := loader.BatchesPerEpoch()
	target := o.Steps
	if target <= 0 {
		target = max(o.Epochs, 1) * perEpoch
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return p, fmt.Errorf("create run directory: %w", err)
	}
	unlock, err := lockDir(o.Dir)
	if err != nil {
		return p, err
	}
	defer unlock()
	removeStaleTemps(o.Dir)
	metricsPath := filepath.Join(o.Dir, MetricsFile)
	if o.Resume {
		// Steps logged after the checkpoint will be logged again.
		if err := dropStepsAfter(metricsPath, p.Step); err != nil {
			return p, err
		}
	}
	metrics, err := runlog.Open(metricsPath, true)
	if err != nil {
		return p, err
	}
	defer metrics.Close()
	if p.Step == 0 {
		metrics.Log("start", map[string]any{
			"method": m.Name(), "config": m.Config(), "encoder": spec, "data": p.Data,
			"params": nn.StateOf(m, "").NumParams(), "steps": target, "steps_per_epoch": perEpoch,
		})
	} else {
		metrics.Log("resume", map[string]any{"step": p.Step, "epoch": p.Epoch})
	}
	desc := "train"
	if p.Step > 0 {
		desc = fmt.Sprintf("train from step %d", p.Step)
	}
	bar := runlog.NewProgress(o.Log, max(target-p.Step, 0), desc)
	lastSave, lastSaveStep := time.Now(), p.Step
	savedStep := -1       // the step of this process's last checkpoint
	var watch *divergence // the divergence test, from the first step's losses
	save := func() error {
		if watch != nil {
			p.Divergence = watch.refs()
		}
		if err := Save(o.Dir, m, p); err != nil {
			if nf := (*nonFiniteError)(nil); errors.As(err, &nf) {
				// The latest checkpoint's following loss was checked: none
				// to set aside (-1), only to name.
				err = fmt.Errorf("step %d: %w (a smaller --lr may help); %s", p.Step, err, setAsideDiverged(o.Dir, -1))
				metrics.Log("error", map[string]any{"step": p.Step, "error": err.Error()})
			}
			return err
		}
		lastSave, lastSaveStep, savedStep = time.Now(), p.Step, p.Step
		return metrics.Log("checkpoint", map[string]any{"step": p.Step, "epoch": p.Epoch})
	}
	batch := &Batch{X: &tensor.Tensor{}}
	var (
		sums   []float64
		sumN   int
		losses []Loss
	)
	t0 := time.Now()
	// logStep writes a step line with the losses averaged since the last.
	logStep := func() {
		fields := map[string]any{
			"step": p.Step, "epoch": float64(p.Step) / float64(perEpoch),
			"ms_per_step": float64(time.Since(t0).Milliseconds()) / float64(sumN),
		}
		for i, l := range losses {
			fields[l.Name] = sums[i] / float64(sumN)
			sums[i] = 0
		}
		metrics.Log("step", fields)
		sumN, t0 = 0, time.Now()
	}
	for p.Step < target {
		if ctx.Err() != nil {
			bar.Finish()
			if sumN > 0 {
				logStep()
			}
			// A checkpoint this process just wrote of this step stays the
			// only one of it: writing it again would replace the previous
			// checkpoint (the one a divergence stop falls back to) with a copy.
			if savedStep != p.Step {
				if err := save(); err != nil {
					return p, err
				}
			}
			return p, ErrInterrupted
		}
		b, err := loader.Next()
		if err != nil {
			return p, fmt.Errorf("read training data: %w", err)
		}
		batch.X.Shape = append(batch.X.Shape[:0], b.N, b.C, b.H, b.W)
		batch.X.Data = b.X
		batch.Labels, batch.Index, batch.Step = b.Labels, b.Index, p.Step
		losses, err = m.Step(batch)
		if err == nil && len(losses) == 0 {
			err = fmt.Errorf("method %s returned no losses (the first must be the total)", m.Name())
		}
		if err != nil {
			err = fmt.Errorf("step %d: %w", p.Step, err)
			if slices.ContainsFunc(losses, nonFiniteLoss) {
				// The method refused a loss that diverged: that of the
				// weights after the steps done.
				err = fmt.Errorf("%w; %s", err, setAsideDiverged(o.Dir, p.Step))
			}
			metrics.Log("error", map[string]any{"step": p.Step, "error": err.Error()})
			return p, err
		}
		p.Step++
		p.Epoch, p.Sample = b.Next.Epoch, b.Next.Sample
		if sums == nil {
			sums = make([]float64, len(losses))
			watch = newDivergence(len(losses), o.DivergeFactor)
			watch.restore(p.Divergence) // a resumed run's references
		}
		if err := watch.check(losses); err != nil {
			// This loss is that of the weights after the previous step: a
			// checkpoint of that step holds them and is set aside.
			err = fmt.Errorf("step %d: %w; %s", p.Step, err, setAsideDiverged(o.Dir, p.Step-1))
			metrics.Log("error", map[string]any{"step": p.Step, "error": err.Error()})
			return p, err
		}
		for i, l := range losses {
			sums[i] += float64(l.Value)
		}
		sumN++
		bar.Add(1, fmt.Sprintf("loss=%.4f", losses[0].Value))
		if p.Step%o.LogEvery == 0 || p.Step == target {
			logStep()
		}
		if p.Step == target {
			// No step computes the loss of the last update's weights: judge
			// them once before they become the run's model.
			if err := judgeLast(o.Dir, m, p, batch, watch); err != nil {
				metrics.Log("error", map[string]any{"step": p.Step, "error": err.Error()})
				return p, err
			}
		}
		due := (o.CheckpointEvery > 0 && p.Step-lastSaveStep >= o.CheckpointEvery) ||
			(o.CheckpointInterval > 0 && time.Since(lastSave) >= o.CheckpointInterval)
		if b.Last || p.Step == target || due {
			if sumN > 0 && !b.Last && p.Step != target {
				logStep() // so that no logged step comes after the checkpoint's
			}
			if err := save(); err != nil {
				return p, err
			}
		}
	}
	bar.Finish()
	return p, nil
}

// judgeLast judges the weights after the last step p.Step of a run, before
// they are checkpointed as its model, when m is an Evaluator: the losses
// it computes for them on the step's batch b, without an update, must
// pass the divergence test d applied to every step's loss. If they do
// not, the weights go to DivergedWeightsFile instead of the checkpoint
// and the error says which checkpoint the run keeps; an error of Evaluate
// itself also ends the run without checkpointing them.
func judgeLast(dir string, m Method, p Progress, b *Batch, d *divergence) error {
	ev, ok := m.(Evaluator)
	if !ok {
		return nil
	}
	losses, err := ev.Evaluate(b)
	if err == nil && len(losses) == 0 {
		err = fmt.Errorf("method %s evaluated no losses (the first must be the total)", m.Name())
	}
	switch {
	case err != nil && slices.ContainsFunc(losses, nonFiniteLoss):
		// The method refused a loss that diverged.
	case err != nil:
		return fmt.Errorf("step %d (the last): evaluating the weights after it: %w; they are not checkpointed, %s", p.Step, err, setAsideDiverged(dir, -1))
	default:
		err = d.clone().check(losses) // judged, not recorded: a resumed run's references stay the uninterrupted run's
	}
	if err != nil {
		return fmt.Errorf("step %d (the last), its batch evaluated again after its update: %w; %s", p.Step, err, keepDiverged(dir, m, p))
	}
	return nil
}

// Train runs a method to o's target: the run in o.Dir loaded with Load
// when o.Resume, or else the new method that newMethod builds (not called
// when resuming; nil then). A nil ctx, invalid options, a nil newMethod
// when not resuming, or one that returns neither a method nor an error
// are errors, reported before anything is built or written; Run's and
// newMethod's errors are returned as they are.
func Train(ctx context.Context, newMethod func() (Method, error), o Options) (Method, Progress, error) {
	var (
		m   Method
		p   Progress
		err error
	)
	if ctx == nil {
		return nil, p, errors.New("train: nil context (use context.Background())")
	}
	if err := o.Validate(); err != nil {
		return nil, p, err
	}
	if o.Resume {
		if err := checkUnlocked(o.Dir); err != nil {
			return nil, p, err
		}
		m, p, err = Load(o.Dir)
	} else {
		if newMethod == nil {
			return nil, p, errors.New("train: nil newMethod: a new run needs a function that builds its method")
		}
		if m, err = newMethod(); err == nil && m == nil {
			err = errors.New("train: newMethod returned no method and no error")
		}
	}
	if err != nil {
		return nil, p, err
	}
	p, err = Run(ctx, m, p, o)
	return m, p, err
}

// Validate reports the first invalid option: an empty Dir, a nil Train,
// negative Steps, Epochs, LogEvery, CheckpointEvery or
// CheckpointInterval, or an augmentation with a negative crop or
// padding. (Whether the images suit the method is checked by Run.)
func (o Options) Validate() error {
	switch {
	case o.Dir == "":
		return errors.New("train: Options.Dir is empty: a run needs a directory")
	case o.Train == nil:
		return errors.New("train: Options.Train is nil: a run needs training images")
	case o.Steps < 0 || o.Epochs < 0:
		return fmt.Errorf("steps (%d) and epochs (%d) must not be negative", o.Steps, o.Epochs)
	case o.LogEvery < 0:
		return fmt.Errorf("train: Options.LogEvery is %d: want a positive number of steps between metrics lines (0: 10)", o.LogEvery)
	case o.CheckpointEvery < 0:
		return fmt.Errorf("train: Options.CheckpointEvery is %d: want a positive number of steps (0: off)", o.CheckpointEvery)
	case o.CheckpointInterval < 0:
		return fmt.Errorf("train: Options.CheckpointInterval is %v: want a positive duration (0: off)", o.CheckpointInterval)
	case o.Augment.Crop < 0 || o.Augment.Pad < 0:
		return fmt.Errorf("train: Options.Augment has a negative crop or padding (%v)", o.Augment)
	}
	return nil
}

// dropStepsAfter rewrites the metrics file without its "step" lines past
// step (logged after the checkpoint a resumed run continues from, so they
// will be logged again), atomically. A missing file is fine.
func dropStepsAfter(path string, step int) error {
	recs, err := runlog.ReadMetrics(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	lines := strings.SplitAfter(string(raw), "\n")
	keep, drop := make([]bool, len(lines)), false
	for i := range keep {
		keep[i] = true
	}
	for _, r := range recs {
		if s, ok := r.Int("step"); ok && r.Event == "step" && int(s) > step && r.Line-1 < len(lines) {
			keep[r.Line-1], drop = false, true
		}
	}
	if !drop {
		return nil
	}
	return checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		for i, l := range lines {
			if keep[i] {
				if _, err := io.WriteString(w, l); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// divergence watches the losses for an explosion. A step's loss v
// diverges when it is not finite, or, from the second step on, when
// |v| > factor * max(1, min(a, e)), where a is the running average of |v|
// over the steps before (the mean at first, then a moving average with
// rate 0.01) and e the (lower) median of |v| over the first earlySteps
// steps (over the steps so far until there are that many). e is what an
// explosion in the first steps cannot pull up, a follows a loss that
// shrinks, and the floor of 1 keeps losses near zero, such as those that
// cross it, from raising false alarms.
type divergence struct {
	factor float64
	avg    []float64   // running average of each loss's magnitude
	early  [][]float64 // each loss's magnitudes in the first earlySteps steps, sorted
	n      int         // steps checked
}

// earlySteps is how many first steps give the reference a blow-up cannot
// inflate.
const earlySteps = 10

// newDivergence watches the given number of losses; factor is
// Options.DivergeFactor (0: 1e4, negative: only non-finite losses stop).
func newDivergence(losses int, factor float64) *divergence {
	if factor == 0 {
		factor = 1e4
	}
	d := &divergence{factor: factor, avg: make([]float64, losses), early: make([][]float64, losses)}
	for i := range d.early {
		d.early[i] = make([]float64, 0, earlySteps)
	}
	return d
}

// DivergenceRefs are the references of a run's divergence test after its
// Steps steps, in Progress: per loss, the running average of its
// magnitude and its magnitudes over the first steps, sorted.
type DivergenceRefs struct {
	Steps int         `json:"steps"`
	Avg   []float64   `json:"avg"`
	Early [][]float64 `json:"early"`
}

// refs returns a copy of d's references.
func (d *divergence) refs() *DivergenceRefs {
	r := &DivergenceRefs{Steps: d.n, Avg: slices.Clone(d.avg), Early: make([][]float64, len(d.early))}
	for i, e := range d.early {
		r.Early[i] = slices.Clone(e)
	}
	return r
}

// restore takes r's references (a resumed run's) when they are of as many
// losses as d watches and hold each loss's first magnitudes; others (of
// a run whose magnitude test was off, which gathers none) are ignored.
func (d *divergence) restore(r *DivergenceRefs) {
	if r == nil || r.Steps < 0 || len(r.Avg) != len(d.avg) || len(r.Early) != len(d.early) {
		return
	}
	for _, e := range r.Early {
		if len(e) != min(r.Steps, earlySteps) {
			return
		}
	}
	d.n = r.Steps
	copy(d.avg, r.Avg)
	for i, e := range r.Early {
		d.early[i] = append(d.early[i][:0], e[:min(len(e), earlySteps)]...)
		slices.Sort(d.early[i])
	}
}

// clone returns a copy of d, to judge losses without recording them.
func (d *divergence) clone() *divergence {
	c := newDivergence(len(d.avg), d.factor)
	c.restore(d.refs())
	return c
}

// check updates the references with a step's losses and reports the first
// that diverged, naming it with its value (and its reference magnitude).
func (d *divergence) check(losses []Loss) error {
	d.n++
	for i, l := range losses[:min(len(losses), len(d.avg))] {
		v := math.Abs(float64(l.Value))
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("loss %s = %v: training diverged (a smaller --lr may help)", l.Name, l.Value)
		}
		if d.factor < 0 {
			continue
		}
		if d.n > 1 && len(d.early[i]) > 0 {
			ref := max(1, min(d.avg[i], lowerMedian(d.early[i])))
			if v > d.factor*ref {
				return fmt.Errorf("loss %s = %.4g, %.3g times its reference magnitude %.4g: training diverged (a smaller --lr may help; a loss that legitimately swings this much, as the f-divergence measures' can, needs a larger --diverge-factor than %g, or -1 to stop only on NaN)", l.Name, l.Value, v/ref, ref, d.factor)
			}
		}
		if e := d.early[i]; len(e) < earlySteps {
			at, _ := slices.BinarySearch(e, v)
			d.early[i] = slices.Insert(e, at, v) // kept sorted
		}
		rate := max(0.01, 1/float64(d.n))
		d.avg[i] += rate * (v - d.avg[i])
	}
	return nil
}

// nonFiniteLoss reports whether l's value is NaN or infinite.
func nonFiniteLoss(l Loss) bool {
	v := float64(l.Value)
	return math.IsNaN(v) || math.IsInf(v, 0)
}

// lowerMedian returns the lower median of sorted values (not empty).
func lowerMedian(sorted []float64) float64 {
	return sorted[(len(sorted)-1)/2]
}
