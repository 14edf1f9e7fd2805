package dim

import (
	"fmt"
	"math"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/nn"
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

// Discriminator is the prior-matching critic of the reference code: linear
// layers d -> 1000 -> 200 -> 1 with ReLU between them, one score per row.
type Discriminator struct {
	L1, L2, L3 *nn.Linear
}

// NewDiscriminator returns a discriminator for d-dimensional inputs,
// initialised as PyTorch's Linear.
func NewDiscriminator(d int, rng *tensor.RNG) *Discriminator {
	return &Discriminator{
		L1: nn.NewLinear(d, 1000, true, rng),
		L2: nn.NewLinear(1000, 200, true, rng),
		L3: nn.NewLinear(200, 1, true, rng),
	}
}

// Forward implements nn.Module: scores [N,1] for inputs [N,d].
func (d *Discriminator) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return d.L3.Forward(tp, tp.ReLU(d.L2.Forward(tp, tp.ReLU(d.L1.Forward(tp, x)))))
}

// ForwardPenalty returns the scores of x [N,d] and the reference's gradient
// penalty: the mean over rows of |dD(x_i)/dx_i|^2, as a function of the
// discriminator's weights so that it can be minimised. The input gradient
// of this ReLU network is W1^T (m1 * W2^T (m2 * w3)) with the ReLU masks m
// of the forward pass (their derivative is zero almost everywhere, as in
// PyTorch's double backward), so it is built from first-order ops.
func (d *Discriminator) ForwardPenalty(tp *autograd.Tape, x *autograd.Var) (score, penalty *autograd.Var) {
	h1 := tp.ReLU(d.L1.Forward(tp, x))
	h2 := tp.ReLU(d.L2.Forward(tp, h1))
	score = d.L3.Forward(tp, h2)
	if tp.Err() != nil {
		return score, score
	}
	m1, m2 := reluMask(tp, h1.Value), reluMask(tp, h2.Value)
	v2 := tp.Mul(tp.Const(m2), d.L3.W)                              // [N,200]: w3 masked
	v1 := tp.Mul(tp.Const(m1), tp.MatMul(v2, d.L2.W, false, false)) // [N,1000]
	g := tp.MatMul(v1, d.L1.W, false, false)                        // [N,d] = dD/dx
	n := x.Value.Shape[0]
	penalty = tp.Scale(tp.Sum(tp.Square(g)), 1/float32(n))
	return score, penalty
}

// reluMask returns a tape buffer holding 1 where h > 0 and 0 elsewhere.
func reluMask(tp *autograd.Tape, h *tensor.Tensor) *tensor.Tensor {
	m := tp.Buffer(h.Shape...)
	for i, v := range h.Data {
		if v > 0 {
			m.Data[i] = 1
		} else {
			m.Data[i] = 0
		}
	}
	return m
}

// Collect implements nn.Module with PyTorch Sequential names (0, 2, 4).
func (d *Discriminator) Collect(prefix string, s *nn.State) {
	d.L1.Collect(prefix+"0.", s)
	d.L2.Collect(prefix+"2.", s)
	d.L3.Collect(prefix+"4.", s)
}

// SetTraining implements nn.Module (the discriminator has no mode).
func (d *Discriminator) SetTraining(bool) {}

// PriorMatching is the adversarial term of DIM: a discriminator learns to
// tell samples of the prior from the encoder's outputs (sigmoid(Y) for the
// uniform prior), and the encoder is trained to fool it with the
// non-saturating GAN loss, weighted by Config.Gamma.
type PriorMatching struct {
	D     *Discriminator
	Prior Prior
	// Penalty weighs the discriminator's gradient penalty (reference: 1).
	Penalty float32

	rng     *tensor.RNG
	samples *tensor.Tensor
}

// NewPriorMatching returns prior matching for d-dimensional Y.
func NewPriorMatching(d int, prior Prior, penalty float32, rng *tensor.RNG) *PriorMatching {
	return &PriorMatching{D: NewDiscriminator(d, rng), Prior: prior, Penalty: penalty, rng: tensor.NewRNG(0), samples: &tensor.Tensor{}}
}

// Input maps Y to the space of the prior: sigmoid(Y) for the uniform prior,
// Y otherwise.
func (p *PriorMatching) Input(tp *autograd.Tape, y *autograd.Var) *autograd.Var {
	if p.Prior == PriorUniform {
		return tp.Sigmoid(y)
	}
	return y
}

// EncoderLoss is the encoder's non-saturating loss on the prior-space
// outputs q: E[softplus(-D(q))].
func (p *PriorMatching) EncoderLoss(tp *autograd.Tape, q *autograd.Var) (*autograd.Var, error) {
	return mi.GeneratorLoss(tp, mi.GAN, p.D.Forward(tp, q))
}

// DiscriminatorLoss is the critic's loss for the encoder outputs q [N,d]
// (constants) against as many prior samples drawn from seed: the GAN loss
// E_Q[softplus(-D(q)) + D(q)] + E_P[softplus(-D(p))] plus Penalty times the
// mean of the gradient penalties on both sets. The same seed gives the
// same prior samples, which makes resumed runs exact.
func (p *PriorMatching) DiscriminatorLoss(tp *autograd.Tape, q *autograd.Var, seed uint64) (*autograd.Var, error) {
	p.samples.Resize(q.Value.Shape...)
	p.rng.Seed(seed)
	p.Prior.Sample(p.rng, p.samples)
	sp, gpP := p.D.ForwardPenalty(tp, tp.Const(p.samples))
	sq, gpQ := p.D.ForwardPenalty(tp, q)
	loss, err := mi.DiscriminatorLoss(tp, mi.GAN, sp, sq)
	if err != nil {
		return nil, err
	}
	if p.Penalty != 0 {
		loss = tp.Add(loss, tp.Scale(tp.Add(gpP, gpQ), 0.5*p.Penalty))
	}
	return loss, tp.Err()
}
