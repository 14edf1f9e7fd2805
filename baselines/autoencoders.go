package baselines

import (
	"fmt"

	"github.com/deepinfomax/deepinfomax/adversarial"
	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/decoder"
	"github.com/deepinfomax/deepinfomax/dim"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

var (
	aeSpec = Spec{
		Name: "ae", Doc: "autoencoder: Y decoded by the reference's decoder, squared error to the image",
		New: func(o Options, enc encoder.Spec) (train.Method, error) { return newAutoencoder("ae", o, enc) },
	}
	vaeSpec = Spec{
		Name: "vae", Doc: "variational autoencoder: Y the posterior mean, a linear head on fc its log-variance, KL weight 1",
		New: func(o Options, enc encoder.Spec) (train.Method, error) {
			o.KLWeight = 1
			return newAutoencoder("vae", o, enc)
		},
	}
	betaVAESpec = Spec{
		Name: "beta-vae", Doc: "beta-VAE: the VAE with the KL term weighted by --kl-weight (default 4)",
		New: func(o Options, enc encoder.Spec) (train.Method, error) {
			if o.KLWeight == 0 {
				o.KLWeight = 4
			}
			return newAutoencoder("beta-vae", o, enc)
		},
	}
	aaeSpec = Spec{
		Name: "aae", Doc: "adversarial autoencoder: the autoencoder with Y matched to a prior by a critic (the priors of prior matching)",
		New: func(o Options, enc encoder.Spec) (train.Method, error) { return newAutoencoder("aae", o, enc) },
	}
)

// Autoencoder is the family of the paper's generative baselines on the
// same encoder: the reference's decoder (package decoder) reconstructs the
// image from Y, with the loss per image the sum of squared errors over its
// pixels (a Gaussian likelihood), averaged over the batch.
//   - ae: that loss alone.
//   - vae, beta-vae: Y is the mean of the posterior and a linear layer on
//     the fc features its log-variance; the decoder sees
//     z = Y + exp(logvar/2) eps (eps ~ N(0, 1) from seed and step) and the
//     loss adds KLWeight times KL(q(z|x) || N(0, I)) =
//     -1/2 sum(1 + logvar - Y^2 - exp(logvar)) per image (Kingma and
//     Welling 2014; beta-VAE: Higgins et al. 2017).
//   - aae: a critic (adversarial.Adversary, the reference's 1000-200-1
//     discriminator with a gradient penalty) tells samples of Options.Prior
//     from Y mapped as prior matching maps it, and the encoder adds
//     PriorWeight times the non-saturating loss (Makhzani et al. 2016).
//
// Metrics: "recon" (the reconstruction loss), "kl", "prior" and
// "discriminator" where they apply.
type Autoencoder struct {
	base
	Decoder *decoder.Decoder
	LogVar  *nn.Linear             // vae, beta-vae
	Prior   *adversarial.Adversary // aae

	kind     dim.Prior
	rng      *tensor.RNG
	eps, smp *tensor.Tensor
	fakeIn   *autograd.Var
}

func newAutoencoder(name string, o Options, enc encoder.Spec) (train.Method, error) {
	rng := tensor.NewRNG(o.Seed)
	e, err := encoder.New(enc, rng)
	if err != nil {
		return nil, err
	}
	s := e.Spec()
	dec, err := decoder.New(s.Out, s.Channels, s.Size, 0, rng)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	m := &Autoencoder{base: base{Enc: e}, Decoder: dec, rng: tensor.NewRNG(0), eps: &tensor.Tensor{}, smp: &tensor.Tensor{}}
	metrics := []string{"recon"}
	switch name {
	case "vae", "beta-vae":
		fc, err := e.TapShape(encoder.TapFC)
		if err != nil {
			return nil, err
		}
		m.LogVar = nn.NewLinear(fc[0], s.Out, true, rng)
		metrics = append(metrics, "kl")
	case "aae":
		if m.kind, err = dim.ParsePrior(string(o.Prior)); err != nil {
			return nil, err
		}
		if o.PriorWeight == 0 {
			o.PriorWeight = 1
		}
		if m.Prior, err = adversarial.New(s.Out, o.LR, o.GradPenalty, rng); err != nil {
			return nil, err
		}
		metrics = append(metrics, "prior", "discriminator")
	}
	return m, m.init(m, name, o, metrics...)
}

// Optimizers implements train.Method: the encoder's and decoder's Adam,
// and the AAE critic's ("optim_prior.").
func (m *Autoencoder) Optimizers() []train.Optimizer {
	out := m.base.Optimizers()
	if m.Prior != nil {
		out = append(out, train.Optimizer{Prefix: "optim_prior.", Opt: m.Prior.Optimizer()})
	}
	return out
}

// Step implements train.Method.
func (m *Autoencoder) Step(b *train.Batch) ([]train.Loss, error) {
	losses, err := m.step(func(tp *autograd.Tape) (*autograd.Var, error) { return m.objective(tp, b, true) })
	if err != nil || m.Prior == nil {
		return losses, err
	}
	return losses, m.Prior.Update()
}

// Evaluate implements train.Evaluator: the losses Step would report for b
// before its update, the AAE critic's as 0 (see base.evaluate).
func (m *Autoencoder) Evaluate(b *train.Batch) ([]train.Loss, error) {
	return m.evaluate(func(tp *autograd.Tape) (*autograd.Var, error) { return m.objective(tp, b, false) })
}

// objective is the encoder's and decoder's loss on b; with critic, it
// also computes the AAE critic's loss on the step's codes (for Update).
func (m *Autoencoder) objective(tp *autograd.Tape, b *train.Batch, critic bool) (*autograd.Var, error) {
	if err := checkImages(m.Enc, b); err != nil {
		return nil, err
	}
	x := tp.Const(b.X)
	f := m.Enc.Encode(tp, x)
	n := float32(b.X.Shape[0])
	z := f.Y
	var kl *autograd.Var
	if m.LogVar != nil {
		logvar := m.LogVar.Forward(tp, f.FC)
		m.eps.Resize(f.Y.Value.Shape...)
		m.rng.Seed(m.cfg.Seed*0x2545f4914f6cdd1d ^ uint64(b.Step+1)*0x9e3779b97f4a7c15)
		m.rng.Normal(m.eps, 0, 1)
		z = tp.Add(f.Y, tp.Mul(tp.Exp(tp.Scale(logvar, 0.5)), tp.Const(m.eps)))
		kl = klStandardNormal(tp, f.Y, logvar)
		m.losses[2].Value = kl.Item()
	}
	recon := tp.Scale(tp.Sum(tp.Square(tp.Sub(m.Decoder.Forward(tp, z), x))), 1/n)
	m.losses[1].Value = recon.Item()
	loss := recon
	if kl != nil {
		loss = tp.Add(loss, tp.Scale(kl, m.cfg.KLWeight))
	}
	if m.Prior != nil {
		m.fakeIn = f.Y
		if m.kind == dim.PriorUniform {
			m.fakeIn = tp.Sigmoid(f.Y)
		}
		g, err := m.Prior.GeneratorLoss(tp, m.fakeIn)
		if err != nil {
			return nil, err
		}
		m.losses[2].Value = g.Item()
		loss = tp.Add(loss, tp.Scale(g, m.cfg.PriorWeight))
		if critic {
			// The critic sees this step's codes before the encoder moves.
			q := m.fakeIn.Value
			m.smp.Resize(q.Shape...)
			m.rng.Seed(m.cfg.Seed*0x9e3779b97f4a7c15 ^ uint64(b.Step+1)*0xbf58476d1ce4e5b9)
			m.kind.Sample(m.rng, m.smp)
			if m.losses[3].Value, err = m.Prior.CriticLoss(m.smp, q); err != nil {
				return nil, err
			}
		}
	}
	return loss, nil
}

// klStandardNormal is KL(N(mu, exp(logvar)) || N(0, I)) summed over units,
// averaged over rows: -1/2 mean_rows sum(1 + logvar - mu^2 - exp(logvar)).
func klStandardNormal(tp *autograd.Tape, mu, logvar *autograd.Var) *autograd.Var {
	n := float32(mu.Value.Shape[0])
	inner := tp.Sub(tp.Sub(tp.AddScalar(logvar, 1), tp.Square(mu)), tp.Exp(logvar))
	return tp.Scale(tp.Sum(inner), -0.5/n)
}
