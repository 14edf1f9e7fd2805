// Package baselines holds the methods the paper compares Deep InfoMax
// with (mission.md section 7, the paper's Table 1), each training the same
// encoder as DIM and each a train.Method, so that the shared loop trains,
// checkpoints and resumes it and `dim embed` / `dim eval` read its
// encoder: supervised (the upper reference), random (an untrained encoder,
// the lower reference), NAT (noise as targets), the autoencoders (AE, VAE,
// beta-VAE), the adversarial autoencoder (AAE) and BiGAN.
//
// A baseline is a file with its type and a Spec, and a line in the specs
// list below.
package baselines

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/dim"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

// Options configure a baseline: the common settings and those some
// methods need. Saved as the run's config.
type Options struct {
	train.Common
	// Classes is the number of classes (supervised).
	Classes int `json:"classes,omitempty"`
	// Samples is the size of the training set (NAT: one target each).
	Samples int `json:"samples,omitempty"`
	// KLWeight weighs the KL term of the VAEs (vae: 1; beta-vae: its
	// beta, default 4).
	KLWeight float32 `json:"kl_weight,omitempty"`
	// Prior, PriorWeight (default 1) and GradPenalty set the AAE's prior
	// matching (the priors of dim.Prior; penalty as the reference's 1).
	Prior       dim.Prior `json:"prior,omitempty"`
	PriorWeight float32   `json:"prior_weight,omitempty"`
	GradPenalty float32   `json:"grad_penalty,omitempty"`
}

// Spec describes a baseline for the registry.
type Spec struct {
	Name string // method name: dim train --method NAME
	Doc  string // one line for help texts
	// New builds the method for an encoder spec, initialised from o.Seed.
	New func(o Options, enc encoder.Spec) (train.Method, error)
}

// specs are the baselines, in the order help texts list them.
var specs = []Spec{supervisedSpec, randomSpec, natSpec, aeSpec, vaeSpec, betaVAESpec, aaeSpec, biganSpec}

func init() {
	for _, s := range specs {
		s := s
		err := train.Register(s.Name, func(raw json.RawMessage, enc encoder.Spec) (train.Method, error) {
			var o Options
			if err := json.Unmarshal(raw, &o); err != nil {
				return nil, fmt.Errorf("%s config: %w", s.Name, err)
			}
			return s.New(o, enc)
		})
		if err != nil {
			panic(err) // two baselines of one name in this package: caught by any test
		}
	}
}

// Specs returns the baselines.
func Specs() []Spec { return slices.Clone(specs) }

// New builds the named baseline.
func New(name string, o Options, enc encoder.Spec) (train.Method, error) {
	for _, s := range specs {
		if s.Name == name {
			if err := o.Common.Validate(); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return s.New(o, enc)
		}
	}
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	return nil, fmt.Errorf("unknown baseline %q (want one of %v)", name, names)
}

// base is what every baseline shares: its encoder (saved as "encoder.*"),
// config, Adam over every parameter of the method's module tree, a tape,
// its training-mode switches and its named losses. Methods embed it.
type base struct {
	Enc encoder.Encoder `nn:"encoder"`

	name   string         `nn:"-"`
	cfg    Options        `nn:"-"`
	opt    *optim.Adam    `nn:"-"`
	tape   *autograd.Tape `nn:"-"`
	modes  nn.Modes       `nn:"-"`
	losses []train.Loss   `nn:"-"`
	root   any            `nn:"-"` // the method that embeds b
}

// init sets up the optimiser over root's parameters (the method that
// embeds b) and the losses' names (the total first).
func (b *base) init(root any, name string, cfg Options, losses ...string) error {
	b.name, b.cfg, b.tape, b.root = name, cfg, autograd.NewTape(), root
	for _, l := range append([]string{"loss"}, losses...) {
		b.losses = append(b.losses, train.Loss{Name: l})
	}
	b.modes = nn.ModesOf(root)
	params := train.TrainableParams(root)
	if len(params) == 0 {
		return nil
	}
	var err error
	if b.opt, err = optim.NewAdam(params, optim.AdamConfig{LR: cfg.LR}); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Name implements train.Method.
func (b *base) Name() string { return b.name }

// Config implements train.Method.
func (b *base) Config() any { return b.cfg }

// Common implements train.Method.
func (b *base) Common() train.Common { return b.cfg.Common }

// Encoder implements train.Method.
func (b *base) Encoder() encoder.Encoder { return b.Enc }

// Optimizers implements train.Method.
func (b *base) Optimizers() []train.Optimizer {
	if b.opt == nil {
		return nil
	}
	return []train.Optimizer{{Prefix: "optim.", Opt: b.opt}}
}

// step runs one optimisation step of the loss that objective builds on
// the method's tape (training mode), recording its value as "loss". On an
// error of objective (a batch the method cannot take among them) the
// losses returned are nil; on a later one (a non-finite loss, the update)
// they are this step's.
func (b *base) step(objective func(tp *autograd.Tape) (*autograd.Var, error)) ([]train.Loss, error) {
	tp := b.tape
	tp.Reset()
	b.modes.Set(true)
	loss, err := objective(tp)
	if err == nil {
		err = tp.Err()
	}
	if err != nil {
		return nil, err
	}
	v := loss.Item()
	b.losses[0].Value = v
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return b.losses, fmt.Errorf("%s loss is %v", b.name, v)
	}
	b.opt.ZeroGrad()
	if err := tp.Backward(loss); err != nil {
		return b.losses, err
	}
	b.opt.Step()
	return b.losses, b.opt.Err()
}

// criticLoss is the name of the loss only a critic's update computes
// (AAE's and BiGAN's): Evaluate reports it as 0.
const criticLoss = "discriminator"

// evaluate implements train.Evaluator for a method whose loss objective
// builds (with no critic loss computed): the losses Step would report
// before its update, from one pass on the method's tape in training mode
// that records nothing. The buffers under the method (BatchNorm's running
// statistics, NAT's assignment) and the layers' modes are put back, and
// nothing is updated, so the method is left as it was, bit for bit. A
// non-finite loss is returned without an error; objective's errors (a
// batch the method cannot take) are returned with nil losses.
func (b *base) evaluate(objective func(tp *autograd.Tape) (*autograd.Var, error)) ([]train.Loss, error) {
	saved := nn.TakeSnapshot(b.root, b.modes)
	tp := b.tape
	tp.Reset()
	tp.SetNoGrad(true)
	b.modes.Set(true)
	loss, err := objective(tp)
	if err == nil {
		err = tp.Err()
	}
	var v float32
	if err == nil {
		v = loss.Item()
	}
	tp.SetNoGrad(false)
	tp.Reset()
	saved.Restore()
	if err != nil {
		return nil, err
	}
	b.losses[0].Value = v
	for i := range b.losses {
		if b.losses[i].Name == criticLoss {
			b.losses[i].Value = 0
		}
	}
	return b.losses, nil
}

// checkImages reports a batch the encoder cannot take: nil, without
// images, images of another shape, or fewer or more values than their
// shape says.
func checkImages(enc encoder.Encoder, b *train.Batch) error {
	switch {
	case b == nil:
		return errors.New("nil batch")
	case b.X == nil:
		return errors.New("batch without images (X is nil)")
	}
	if err := enc.Spec().CheckBatch(b.X.Shape, 1); err != nil {
		return err
	}
	if n := tensor.SizeOf(b.X.Shape); len(b.X.Data) != n {
		return fmt.Errorf("images of shape %v hold %d values, want %d", b.X.Shape, len(b.X.Data), n)
	}
	return nil
}

// checkPerImage reports a batch's per-image slice (Labels, Index; named
// by what) that does not have one entry per image.
func checkPerImage(method, what string, got []int, b *train.Batch) error {
	if n := b.X.Shape[0]; len(got) != n {
		return fmt.Errorf("%s: batch of %d images has %d %s: it needs one per image", method, n, len(got), what)
	}
	return nil
}
