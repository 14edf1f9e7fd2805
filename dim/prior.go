package dim

import (
	"fmt"
	"math"

	"github.com/deepinfomax/deepinfomax/adversarial"
	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Prior names the distribution that prior matching pushes Y towards.
type Prior string

// The priors of the paper. Uniform (the default) is matched by sigmoid(Y);
// the others by Y itself.
const (
	PriorUniform  Prior = "uniform"  // uniform on [0,1]^d
	PriorGaussian Prior = "gaussian" // standard normal
	PriorSphere   Prior = "sphere"   // uniform on the unit sphere
	PriorBall     Prior = "ball"     // uniform in the unit ball
)

// Priors lists the supported priors.
var Priors = []Prior{PriorUniform, PriorGaussian, PriorSphere, PriorBall}

// ParsePrior returns the prior named s; "" is the uniform prior.
func ParsePrior(s string) (Prior, error) {
	if s == "" {
		return PriorUniform, nil
	}
	for _, p := range Priors {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown prior %q (want uniform, gaussian, sphere or ball)", s)
}

// Sample fills x [N,d] with independent draws of the prior.
func (p Prior) Sample(rng *tensor.RNG, x *tensor.Tensor) {
	d := x.Shape[len(x.Shape)-1]
	switch p {
	case PriorGaussian:
		rng.Normal(x, 0, 1)
	case PriorSphere, PriorBall:
		rng.Normal(x, 0, 1)
		for r := 0; r < x.Size()/d; r++ {
			row := x.Data[r*d : (r+1)*d]
			var s float64
			for _, v := range row {
				s += float64(v) * float64(v)
			}
			scale := 1 / math.Sqrt(max(s, 1e-30))
			if p == PriorBall { // radius U^(1/d) makes the volume uniform
				scale *= math.Pow(rng.Float64(), 1/float64(d))
			}
			for i := range row {
				row[i] = float32(float64(row[i]) * scale)
			}
		}
	default:
		rng.Uniform(x, 0, 1)
	}
}

// priorSpec registers prior matching (paper section 3.3, weight gamma).
var priorSpec = TermSpec{
	Name: "prior", Weight: "gamma", Critic: "discriminator",
	Usage: "weight of prior matching (paper's DIM(L): 0.1, DIM(G): 1)",
	New: func(enc encoder.Encoder, cfg Config, rng *tensor.RNG) (Term, error) {
		kind, err := ParsePrior(string(cfg.Prior))
		if err != nil {
			return nil, err
		}
		adv, err := adversarial.New(enc.Spec().Out, cfg.LR, cfg.GradPenalty, rng)
		if err != nil {
			return nil, fmt.Errorf("prior matching: %w", err)
		}
		return &PriorMatching{Prior: adv, Kind: kind, rng: tensor.NewRNG(0), samples: &tensor.Tensor{}}, nil
	},
}

// PriorMatching is the adversarial term of DIM: a critic learns to tell
// samples of the prior from the encoder's outputs (sigmoid(Y) for the
// uniform prior), and the encoder is trained to fool it with the
// non-saturating GAN loss. The critic (the reference's 1000-200-1
// discriminator with a gradient penalty) has its own Adam at the
// encoder's learning rate; its parameters are saved as "prior.*".
type PriorMatching struct {
	Prior *adversarial.Adversary
	Kind  Prior

	rng     *tensor.RNG
	samples *tensor.Tensor
	input   *autograd.Var
}

// Input maps Y to the space of the prior: sigmoid(Y) for the uniform prior,
// Y otherwise.
func (p *PriorMatching) Input(tp *autograd.Tape, y *autograd.Var) *autograd.Var {
	if p.Kind == PriorUniform {
		return tp.Sigmoid(y)
	}
	return y
}

// Loss implements Term: the encoder's non-saturating loss
// E[softplus(-D(q))] on q = Input(Y).
func (p *PriorMatching) Loss(s *Step) (*autograd.Var, error) {
	p.input = p.Input(s.Tape, s.F.Y)
	return p.Prior.GeneratorLoss(s.Tape, p.input)
}

// CriticLoss implements Adversarial: the critic's loss on this step's
// Input(Y) against as many prior samples, drawn from (seed, step) so that
// a resumed run draws the same ones.
func (p *PriorMatching) CriticLoss(s *Step) (float32, error) {
	q := p.input.Value
	p.samples.Resize(q.Shape...)
	p.rng.Seed(s.Config.Seed*0x9e3779b97f4a7c15 ^ uint64(s.Batch.Step+1)*0xbf58476d1ce4e5b9)
	p.Kind.Sample(p.rng, p.samples)
	return p.Prior.CriticLoss(p.samples, q)
}

// Update implements Adversarial.
func (p *PriorMatching) Update() error { return p.Prior.Update() }

// CriticOptimizer implements Adversarial.
func (p *PriorMatching) CriticOptimizer() optim.Optimizer { return p.Prior.Optimizer() }
