package dim

import (
	"fmt"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Config is everything that defines a Deep InfoMax model and its training.
// It is saved as JSON next to the weights.
type Config struct {
	Arch    string     `json:"arch"`     // encoder name, e.g. "basic28x28"
	MIUnits int        `json:"mi_units"` // width of the MI networks (paper: 2048)
	Alpha   float32    `json:"alpha"`    // weight of global DIM
	Beta    float32    `json:"beta"`     // weight of local DIM
	Gamma   float32    `json:"gamma"`    // weight of prior matching
	Measure mi.Measure `json:"measure"`  // MI estimator
	LR      float64    `json:"lr"`       // Adam learning rate
	Batch   int        `json:"batch"`    // batch size
	Seed    uint64     `json:"seed"`     // initialisation and data order
	// Prior is the distribution prior matching pushes Y towards (used
	// when Gamma > 0; empty means uniform), and GradPenalty the weight of
	// its discriminator's gradient penalty (reference: 1).
	Prior       Prior   `json:"prior,omitempty"`
	GradPenalty float32 `json:"grad_penalty,omitempty"`
	// Mean and Std normalise input channels, (x/255 - Mean)/Std; empty
	// means the reference's scaling to [-1, 1].
	Mean []float32 `json:"mean,omitempty"`
	Std  []float32 `json:"std,omitempty"`
}

// DefaultConfig returns the reference defaults for local DIM on 28x28
// images: basic28x28, 2048 MI units, alpha 0, beta 1, no prior matching
// (gamma 0; the paper's DIM(L) adds gamma 0.1 with the uniform prior and a
// gradient penalty of 1), JSD, Adam 1e-4, batch 64.
func DefaultConfig() Config {
	return Config{Arch: "basic28x28", MIUnits: 2048, Alpha: 0, Beta: 1, Measure: mi.JSD, LR: 1e-4, Batch: 64, Seed: 0, Prior: PriorUniform, GradPenalty: 1}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if _, err := LookupArch(c.Arch); err != nil {
		return err
	}
	if _, err := mi.ParseMeasure(string(c.Measure)); err != nil {
		return err
	}
	if _, err := ParsePrior(string(c.Prior)); err != nil {
		return err
	}
	switch {
	case c.MIUnits < 1:
		return fmt.Errorf("mi-units must be positive, got %d", c.MIUnits)
	case c.Alpha < 0 || c.Beta < 0 || c.Gamma < 0:
		return fmt.Errorf("alpha, beta and gamma must be non-negative, got %g, %g and %g", c.Alpha, c.Beta, c.Gamma)
	case c.Alpha == 0 && c.Beta == 0:
		return fmt.Errorf("alpha and beta are both 0: no mutual information to maximise")
	case c.GradPenalty < 0:
		return fmt.Errorf("gradient penalty must be non-negative, got %g", c.GradPenalty)
	case c.LR <= 0:
		return fmt.Errorf("learning rate must be positive, got %g", c.LR)
	case c.Batch < 2:
		return fmt.Errorf("batch must be at least 2 (negatives come from other samples), got %d", c.Batch)
	case len(c.Mean) != len(c.Std):
		return fmt.Errorf("%d means but %d standard deviations", len(c.Mean), len(c.Std))
	}
	for _, s := range c.Std {
		if !(s > 0) {
			return fmt.Errorf("standard deviations must be positive, got %v", c.Std)
		}
	}
	return nil
}

// Model is an encoder with the MI networks that train it.
type Model struct {
	Config  Config
	Encoder *Encoder
	// Local DIM: MI networks for the local map and for Y.
	LocalMap, LocalY *MINet
	// Global DIM: the rest of the encoder applied to the local map, and an
	// MI network for Y.
	GlobalMap *nn.Sequential
	GlobalY   *MINet
	// Prior matching (nil when gamma is 0). Its discriminator is trained by
	// its own optimiser (see Trainer), not by the encoder's loss.
	Prior *PriorMatching

	localCache, globalCache mi.Cache
}

// New builds a model from a validated config, initialised from cfg.Seed.
func New(cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	arch, _ := LookupArch(cfg.Arch)
	rng := tensor.NewRNG(cfg.Seed)
	m := &Model{Config: cfg, Encoder: NewEncoder(arch, rng)}
	m.Encoder.Mean, m.Encoder.Std = cfg.Mean, cfg.Std
	local := arch.LocalShape()
	if cfg.Beta > 0 {
		m.LocalMap = NewMINet(local[0], cfg.MIUnits, rng)
		m.LocalY = NewMINet(arch.Out, cfg.MIUnits, rng)
	}
	if cfg.Alpha > 0 {
		m.GlobalMap = m.Encoder.tail(cfg.MIUnits, rng)
		m.GlobalY = NewMINet(arch.Out, cfg.MIUnits, rng)
	}
	if cfg.Gamma > 0 {
		prior, _ := ParsePrior(string(cfg.Prior))
		m.Prior = NewPriorMatching(arch.Out, prior, cfg.GradPenalty, rng)
	}
	return m, nil
}

// Collect implements nn.Module's naming: encoder.*, local_map.*, local_y.*,
// global_map.*, global_y.*, prior.*.
func (m *Model) Collect(prefix string, s *nn.State) {
	m.collectMI(prefix, s)
	if m.Prior != nil {
		m.Prior.D.Collect(prefix+"prior.", s)
	}
}

// EncoderState returns the parameters the DIM objective trains: the
// encoder and the MI networks, without the prior discriminator.
func (m *Model) EncoderState() *nn.State {
	s := &nn.State{}
	m.collectMI("", s)
	return s
}

// collectMI collects the encoder and the MI networks.
func (m *Model) collectMI(prefix string, s *nn.State) {
	m.Encoder.Collect(prefix+"encoder.", s)
	if m.LocalMap != nil {
		m.LocalMap.Collect(prefix+"local_map.", s)
		m.LocalY.Collect(prefix+"local_y.", s)
	}
	if m.GlobalMap != nil {
		m.GlobalMap.Collect(prefix+"global_map.", s)
		m.GlobalY.Collect(prefix+"global_y.", s)
	}
}

// Forward implements nn.Module: the representation Y of x.
func (m *Model) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return m.Encoder.Forward(tp, x)
}

// SetTraining implements nn.Module.
func (m *Model) SetTraining(on bool) {
	m.Encoder.SetTraining(on)
	if m.LocalMap != nil {
		m.LocalMap.SetTraining(on)
		m.LocalY.SetTraining(on)
	}
	if m.GlobalMap != nil {
		m.GlobalMap.SetTraining(on)
		m.GlobalY.SetTraining(on)
	}
}

// State returns the model's named parameters and buffers.
func (m *Model) State() *nn.State {
	s := &nn.State{}
	m.Collect("", s)
	return s
}

// Losses are the terms of one evaluation of the objective.
type Losses struct {
	Total  *autograd.Var
	Local  float32 // local DIM loss (0 when beta is 0)
	Global float32 // global DIM loss (0 when alpha is 0)
	Prior  float32 // the encoder's prior-matching loss (0 when gamma is 0)
	// PriorInput is Y mapped to the prior's space (sigmoid(Y) for the
	// uniform prior), for the discriminator's step; nil when gamma is 0.
	PriorInput *autograd.Var
}

// Loss computes alpha*global + beta*local + gamma*prior for the batch x
// [N,C,H,W].
func (m *Model) Loss(tp *autograd.Tape, x *autograd.Var) (Losses, error) {
	f := m.Encoder.Encode(tp, x)
	var out Losses
	var terms []*autograd.Var
	if m.LocalMap != nil {
		l, err := m.LocalLoss(tp, f)
		if err != nil {
			return out, err
		}
		out.Local = l.Item()
		terms = append(terms, tp.Scale(l, m.Config.Beta))
	}
	if m.GlobalMap != nil {
		g, err := m.GlobalLoss(tp, f)
		if err != nil {
			return out, err
		}
		out.Global = g.Item()
		terms = append(terms, tp.Scale(g, m.Config.Alpha))
	}
	if m.Prior != nil {
		out.PriorInput = m.Prior.Input(tp, f.Y)
		p, err := m.Prior.EncoderLoss(tp, out.PriorInput)
		if err != nil {
			return out, err
		}
		out.Prior = p.Item()
		terms = append(terms, tp.Scale(p, m.Config.Gamma))
	}
	out.Total = terms[0]
	for _, t := range terms[1:] {
		out.Total = tp.Add(out.Total, t)
	}
	return out, tp.Err()
}

// LocalLoss is local DIM: every location of the local map of sample j is
// scored against Y of sample i by the dot product of their MI-network
// encodings; pairs with i == j are positives.
func (m *Model) LocalLoss(tp *autograd.Tape, f Features) (*autograd.Var, error) {
	lm := m.LocalMap.Forward(tp, rows(tp, f.Local)) // [N*H*W, units]
	gy := m.LocalY.Forward(tp, f.Y)                 // [N, units]
	u := tp.MatMul(gy, lm, false, true)             // [N, N*H*W]
	return m.localCache.Loss(tp, m.Config.Measure, u)
}

// GlobalLoss is global DIM: the local map encoded by the rest of the
// encoder, scored against Y.
func (m *Model) GlobalLoss(tp *autograd.Tape, f Features) (*autograd.Var, error) {
	gx := m.GlobalMap.Forward(tp, f.Local) // [N, units]
	gy := m.GlobalY.Forward(tp, f.Y)       // [N, units]
	u := tp.MatMul(gy, gx, false, true)    // [N, N]
	return m.globalCache.Loss(tp, m.Config.Measure, u)
}
