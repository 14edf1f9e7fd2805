package baselines

import (
	"fmt"

	"github.com/deepinfomax/deepinfomax/adversarial"
	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/decoder"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

var biganSpec = Spec{
	Name: "bigan",
	Doc:  "BiGAN: a generator from N(0, I) codes and the encoder, judged by a critic of (image, code) pairs",
	New: func(o Options, enc encoder.Spec) (train.Method, error) {
		rng := tensor.NewRNG(o.Seed)
		e, err := encoder.New(enc, rng)
		if err != nil {
			return nil, err
		}
		s := e.Spec()
		g, err := decoder.New(s.Out, s.Channels, s.Size, 0, rng)
		if err != nil {
			return nil, fmt.Errorf("bigan: %w", err)
		}
		d, err := adversarial.New(s.Channels*s.Size*s.Size+s.Out, o.LR, o.GradPenalty, rng)
		if err != nil {
			return nil, fmt.Errorf("bigan: %w", err)
		}
		m := &BiGAN{base: base{Enc: e}, Generator: g, Critic: d, rng: tensor.NewRNG(0), z: &tensor.Tensor{}}
		return m, m.init(m, "bigan", o, "generator", "encoder", "discriminator")
	},
}

// BiGAN is the bidirectional GAN (Donahue, Krähenbühl and Darrell 2017;
// Dumoulin et al.'s ALI): a generator G (the reference's decoder) maps
// codes z ~ N(0, I) of Y's width to images, the encoder maps images to Y,
// and a critic (adversarial.Adversary: the reference's 1000-200-1
// discriminator with its gradient penalty, here on the flattened image
// concatenated with the code) tells (x, E(x)) from (G(z), z). G minimises
// the non-saturating E[softplus(-D(G(z), z))], the encoder
// E[softplus(D(x, E(x)))]; "loss" is their sum. The critic is an MLP on
// pixels rather than the BiGAN paper's convolutional one: it reuses the
// project's one adversarial helper (a choice, see docs/decisions.md).
type BiGAN struct {
	base
	Generator *decoder.Decoder
	Critic    *adversarial.Adversary

	rng *tensor.RNG
	z   *tensor.Tensor
}

// Optimizers implements train.Method: the encoder's and generator's Adam,
// and the critic's ("optim_critic.").
func (m *BiGAN) Optimizers() []train.Optimizer {
	return append(m.base.Optimizers(), train.Optimizer{Prefix: "optim_critic.", Opt: m.Critic.Optimizer()})
}

// Step implements train.Method: the encoder and generator on their loss,
// then the critic.
func (m *BiGAN) Step(b *train.Batch) ([]train.Loss, error) {
	losses, err := m.step(func(tp *autograd.Tape) (*autograd.Var, error) { return m.objective(tp, b, true) })
	if err != nil {
		return losses, err
	}
	return losses, m.Critic.Update()
}

// Evaluate implements train.Evaluator: the losses Step would report for b
// before its update, the critic's as 0 (see base.evaluate).
func (m *BiGAN) Evaluate(b *train.Batch) ([]train.Loss, error) {
	return m.evaluate(func(tp *autograd.Tape) (*autograd.Var, error) { return m.objective(tp, b, false) })
}

// objective is the encoder's and generator's loss on b; with critic, it
// also computes the critic's loss on the same pairs (for Update).
func (m *BiGAN) objective(tp *autograd.Tape, b *train.Batch, critic bool) (*autograd.Var, error) {
	if err := checkImages(m.Enc, b); err != nil {
		return nil, err
	}
	x := tp.Const(b.X)
	y := m.Enc.Encode(tp, x).Y
	m.z.Resize(y.Value.Shape...)
	m.rng.Seed(m.cfg.Seed*0xd6e8feb86659fd93 ^ uint64(b.Step+1)*0x9e3779b97f4a7c15)
	m.rng.Normal(m.z, 0, 1)
	z := tp.Const(m.z)
	real := tp.Concat(1, tp.Flatten(x), y)                          // (x, E(x))
	fake := tp.Concat(1, tp.Flatten(m.Generator.Forward(tp, z)), z) // (G(z), z)
	gLoss, err := m.Critic.GeneratorLoss(tp, fake)
	if err != nil {
		return nil, err
	}
	n := float32(y.Value.Shape[0])
	eLoss := tp.Scale(tp.Sum(tp.Softplus(m.Critic.Critic.Forward(tp, real))), 1/n)
	m.losses[1].Value, m.losses[2].Value = gLoss.Item(), eLoss.Item()
	// The critic sees this step's pairs before the encoder and the
	// generator move.
	if critic {
		if m.losses[3].Value, err = m.Critic.CriticLoss(real.Value, fake.Value); err != nil {
			return nil, err
		}
	}
	return tp.Add(gLoss, eLoss), nil
}
