package dim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

// MethodName is DIM's name in the method registry and in checkpoints.
const MethodName = "dim"

func init() {
	if err := train.Register(MethodName, load); err != nil {
		panic(err) // two registrations in this package: caught by any test
	}
}

// load rebuilds a Model from a checkpoint's config (train.Loader).
func load(raw json.RawMessage, spec encoder.Spec) (train.Method, error) {
	var cfg Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("dim config: %w", err)
	}
	return New(cfg, spec)
}

// Model is Deep InfoMax as a train.Method: the encoder, the networks of
// the objective's terms, and their optimisers. In a checkpoint the
// encoder's parameters are "encoder.*" and each term's are named by its
// fields (local_map.*, local_y.*, global_map.*, global_y.*, prior.*).
type Model struct {
	Enc   encoder.Encoder `nn:"encoder"`
	Terms []Term          `nn:",inline"`

	cfg     Config            `nn:"-"`
	specs   []TermSpec        `nn:"-"` // of Terms
	opt     *optim.Adam       `nn:"-"`
	tape    *autograd.Tape    `nn:"-"`
	timer   *autograd.OpTimer `nn:"-"` // SetOpTimer's, or nil
	modes   nn.Modes          `nn:"-"`
	losses  []train.Loss      `nn:"-"`
	index   map[string]int    `nn:"-"` // position of each loss name in losses
	step    Step              `nn:"-"`
	batch   train.Batch       `nn:"-"` // StepImages's
	scratch []float32         `nn:"-"` // a Metered term's values
	// occluded holds the images with blocks hidden (Config.Occlude).
	occluded *tensor.Tensor `nn:"-"`
	occRNG   *tensor.RNG    `nn:"-"`
}

// New builds a model from a valid config and the spec of its encoder,
// initialised from cfg.Seed: the encoder first, then each term with a
// positive weight in registry order.
func New(cfg Config, spec encoder.Spec) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rng := tensor.NewRNG(cfg.Seed)
	enc, err := encoder.New(spec, rng)
	if err != nil {
		return nil, err
	}
	if o := cfg.Occlude; o != nil {
		if err := o.validate(enc.Spec().Size); err != nil {
			return nil, err
		}
	}
	m := &Model{Enc: enc, cfg: cfg, tape: autograd.NewTape(), index: map[string]int{}, occluded: &tensor.Tensor{}, occRNG: tensor.NewRNG(0)}
	m.losses = append(m.losses, train.Loss{Name: "loss"})
	m.index["loss"] = 0
	for _, s := range Terms() {
		m.index[s.Name] = len(m.losses)
		m.losses = append(m.losses, train.Loss{Name: s.Name})
		for _, name := range append([]string{s.Critic}, s.Metrics...) {
			if name != "" {
				m.index[name] = len(m.losses)
				m.losses = append(m.losses, train.Loss{Name: name})
			}
		}
		if cfg.Weight(s.Weight) <= 0 {
			continue
		}
		t, err := s.New(enc, cfg, rng)
		if err != nil {
			return nil, fmt.Errorf("dim: %s term: %w", s.Name, err)
		}
		if _, ok := t.(Adversarial); ok != (s.Critic != "") {
			return nil, fmt.Errorf("dim: %s term: a critic name needs an Adversarial term and vice versa", s.Name)
		}
		if _, ok := t.(Metered); ok != (len(s.Metrics) > 0) {
			return nil, fmt.Errorf("dim: %s term: metric names need a Metered term and vice versa", s.Name)
		}
		m.scratch = make([]float32, max(len(m.scratch), len(s.Metrics)))
		m.Terms = append(m.Terms, t)
		m.specs = append(m.specs, s)
	}
	if m.opt, err = optim.NewAdam(train.TrainableParams(m), optim.AdamConfig{LR: cfg.LR}); err != nil {
		return nil, fmt.Errorf("dim: %w", err)
	}
	m.modes = nn.ModesOf(m)
	return m, nil
}

// Name implements train.Method.
func (m *Model) Name() string { return MethodName }

// Config implements train.Method.
func (m *Model) Config() any { return m.cfg }

// DIMConfig returns the model's config.
func (m *Model) DIMConfig() Config { return m.cfg }

// Common implements train.Method.
func (m *Model) Common() train.Common { return m.cfg.Common }

// Encoder implements train.Method.
func (m *Model) Encoder() encoder.Encoder { return m.Enc }

// Optimizers implements train.Method: the encoder's and MI networks' Adam
// ("optim."), and each adversarial term's critic's ("optim_<term>.").
func (m *Model) Optimizers() []train.Optimizer {
	out := []train.Optimizer{{Prefix: "optim.", Opt: m.opt}}
	for i, t := range m.Terms {
		if a, ok := t.(Adversarial); ok {
			out = append(out, train.Optimizer{Prefix: "optim_" + m.specs[i].Name + ".", Opt: a.CriticOptimizer()})
		}
	}
	return out
}

// Losses returns the losses of the last Objective or Step: the total
// ("loss"), each registered term's unweighted loss (0 when the term is
// off) and each critic's loss. The slice is reused.
func (m *Model) Losses() []train.Loss { return m.losses }

// Loss returns the last value of the named loss, and whether it exists.
func (m *Model) Loss(name string) (float32, bool) {
	i, ok := m.index[name]
	if !ok {
		return 0, false
	}
	return m.losses[i].Value, true
}

// Objective computes the weighted sum of the active terms' losses for the
// batch on tp (whose training mode the caller sets), records each term's
// loss in Losses, and returns the total. A nil tp, a nil batch, and a
// batch whose X is nil, holds fewer than 2 images, is not of the
// encoder's shape or has fewer or more values than its shape says are
// errors.
func (m *Model) Objective(tp *autograd.Tape, b *train.Batch) (*autograd.Var, error) {
	if tp == nil {
		return nil, errors.New("dim: nil tape")
	}
	if err := m.checkBatch(b); err != nil {
		return nil, err
	}
	s := &m.step
	s.Tape, s.Batch, s.Config = tp, b, m.cfg
	s.X = tp.Const(b.X)
	s.F = m.Enc.Encode(tp, s.X)
	if o := m.cfg.Occlude; o != nil {
		m.occRNG.Seed(m.cfg.Seed*0xa0761d6478bd642f ^ uint64(b.Step+1)*0xe7037ed1a0b428db)
		o.apply(m.occluded, b.X, m.occRNG)
		s.F.Y = m.Enc.Encode(tp, tp.Const(m.occluded)).Y
	}
	var total *autograd.Var
	for i, t := range m.Terms {
		spec := m.specs[i]
		l, err := t.Loss(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", spec.Name, err)
		}
		if err := tp.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", spec.Name, err)
		}
		m.losses[m.index[spec.Name]].Value = l.Item()
		if mt, ok := t.(Metered); ok {
			vals := m.scratch[:len(spec.Metrics)]
			mt.Metrics(vals)
			for k, name := range spec.Metrics {
				m.losses[m.index[name]].Value = vals[k]
			}
		}
		w := tp.Scale(l, m.cfg.Weight(spec.Weight))
		if total == nil {
			total = w
		} else {
			total = tp.Add(total, w)
		}
	}
	if err := tp.Err(); err != nil {
		return nil, err
	}
	m.losses[0].Value = total.Item()
	return total, nil
}

// checkBatch reports a batch Objective cannot take.
func (m *Model) checkBatch(b *train.Batch) error {
	switch {
	case b == nil:
		return errors.New("dim: nil batch")
	case b.X == nil:
		return errors.New("dim: batch without images (X is nil)")
	}
	if err := m.Enc.Spec().CheckBatch(b.X.Shape, 2); err != nil {
		return fmt.Errorf("%w (negatives come from other images)", err)
	}
	if n := tensor.SizeOf(b.X.Shape); len(b.X.Data) != n {
		return fmt.Errorf("dim: images of shape %v hold %d values, want %d", b.X.Shape, len(b.X.Data), n)
	}
	return nil
}

// Step implements train.Method: one step of the encoder and the terms'
// networks on the objective, then of each adversarial term's critic on
// the same batch's outputs. A non-finite loss is an error and leaves the
// parameters unchanged. The batch's errors are Objective's; on them, and
// on Objective's other errors, the losses returned are nil; on a later
// error (a non-finite loss, a critic's, the update's) they are this
// step's.
func (m *Model) Step(b *train.Batch) ([]train.Loss, error) {
	tp := m.tape
	tp.Reset()
	if m.timer != nil {
		m.timer.Mark()
	}
	m.modes.Set(true)
	total, err := m.Objective(tp, b)
	if err != nil {
		return nil, err
	}
	if v := m.losses[0].Value; !finite(v) {
		return m.losses, fmt.Errorf("loss is %v", v)
	}
	// Critics see this step's outputs before the encoder moves, as the
	// reference does.
	for i, t := range m.Terms {
		if a, ok := t.(Adversarial); ok {
			name := m.specs[i].Critic
			v, err := a.CriticLoss(&m.step)
			m.losses[m.index[name]].Value = v
			if err != nil {
				return m.losses, fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	m.opt.ZeroGrad()
	if err := tp.Backward(total); err != nil {
		return m.losses, err
	}
	if m.timer != nil {
		t0 := time.Now()
		m.opt.Step()
		m.timer.Add("step", "optimizer", time.Since(t0))
	} else {
		m.opt.Step()
	}
	if err := m.opt.Err(); err != nil {
		return m.losses, err
	}
	for i, t := range m.Terms {
		if a, ok := t.(Adversarial); ok {
			if err := a.Update(); err != nil {
				return m.losses, fmt.Errorf("%s: %w", m.specs[i].Critic, err)
			}
		}
	}
	return m.losses, nil
}

// Evaluate implements train.Evaluator: the losses Step would report for b
// before its update, computed as Step computes them (training mode, so
// BatchNorm normalises with the batch's statistics, and the same sampled
// locations and occlusion for b.Step) on a tape that records nothing,
// with no backward pass and no update. The critics' losses, which only
// their training computes, are 0. BatchNorm's running statistics, which
// a training-mode pass moves, are put back, and so are its layers' modes
// (training or evaluation), so the model is left as it was, bit for bit. A
// non-finite loss is returned without an error; the batch's errors are
// Objective's, with nil losses. The slice is Losses'.
func (m *Model) Evaluate(b *train.Batch) ([]train.Loss, error) {
	saved := nn.TakeSnapshot(m, m.modes)
	tp := m.tape
	tp.Reset()
	tp.SetNoGrad(true)
	m.modes.Set(true)
	_, err := m.Objective(tp, b)
	tp.SetNoGrad(false)
	tp.Reset()
	saved.Restore()
	if err != nil {
		return nil, err
	}
	for _, s := range m.specs {
		if s.Critic != "" {
			m.losses[m.index[s.Critic]].Value = 0
		}
	}
	return m.losses, nil
}

// StepImages is Step on images x [N,C,H,W] without labels, as the
// optimiser's next step (for benchmarks and examples). A nil x, or one
// the encoder does not take (shape, fewer than 2 images), is an error
// with nil losses.
// SetOpTimer makes the training step count the time of each of its
// operations, and of the optimizer's update ("step", "optimizer"), in t
// (nil stops it): dim bench --ops. See autograd.OpTimer.
func (m *Model) SetOpTimer(t *autograd.OpTimer) {
	m.timer = t
	m.tape.SetOpTimer(t)
}

func (m *Model) StepImages(x *tensor.Tensor) ([]train.Loss, error) {
	if x == nil {
		return nil, errors.New("dim: nil images")
	}
	m.batch = train.Batch{X: x, Step: int(m.opt.Steps())}
	return m.Step(&m.batch)
}

func finite(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

var (
	_ train.Method    = (*Model)(nil)
	_ train.Evaluator = (*Model)(nil)
)
