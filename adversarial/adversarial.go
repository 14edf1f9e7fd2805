// Package adversarial is the one adversarial game of the project: a
// discriminator (critic) with its own optimiser and the reference code's
// gradient penalty, learning to tell "real" samples from a network's
// outputs, while that network is trained to fool it. DIM's prior matching
// uses it (samples of the prior vs the encoder's Y, paper section 3.3); so
// will the AAE and BiGAN baselines.
package adversarial

import (
	"fmt"
	"math"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Critic is the reference code's discriminator: linear layers d -> 1000 ->
// 200 -> 1 with ReLU between them, one score per row. Its parameters are
// named as a PyTorch Sequential's (0, 2, 4).
type Critic struct {
	L1 *nn.Linear `nn:"0"`
	L2 *nn.Linear `nn:"2"`
	L3 *nn.Linear `nn:"4"`
}

// NewCritic returns a critic of d-dimensional inputs, initialised as
// PyTorch's Linear.
func NewCritic(d int, rng *tensor.RNG) *Critic {
	return &Critic{
		L1: nn.NewLinear(d, 1000, true, rng),
		L2: nn.NewLinear(1000, 200, true, rng),
		L3: nn.NewLinear(200, 1, true, rng),
	}
}

// Forward implements nn.Module: scores [N,1] for inputs [N,d].
func (d *Critic) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return d.L3.Forward(tp, tp.ReLU(d.L2.Forward(tp, tp.ReLU(d.L1.Forward(tp, x)))))
}

// ForwardPenalty returns the scores of x [N,d] and the reference's gradient
// penalty: the mean over rows of |dD(x_i)/dx_i|^2, as a function of the
// critic's weights so that it can be minimised. The input gradient of this
// ReLU network is W1^T (m1 * W2^T (m2 * w3)) with the ReLU masks m of the
// forward pass (their derivative is zero almost everywhere, as in
// PyTorch's double backward), so it is built from first-order ops.
func (d *Critic) ForwardPenalty(tp *autograd.Tape, x *autograd.Var) (score, penalty *autograd.Var) {
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

// Adversary is a critic with its own optimiser (Adam) and tape. Each
// training step of its owner goes: GeneratorLoss on the owner's tape (part
// of the owner's objective), CriticLoss on the step's outputs before the
// owner updates (as the reference), the owner's update, then Update.
// In a module tree its critic's parameters appear directly under the
// Adversary's name (e.g. "prior.0.weight").
type Adversary struct {
	Critic *Critic `nn:",inline"`
	// Penalty weighs the gradient penalty (reference: 1).
	Penalty float32

	opt  *optim.Adam
	tape *autograd.Tape
	loss *autograd.Var
}

// New returns an adversary for d-dimensional samples whose critic is
// trained by Adam at lr.
func New(d int, lr float64, penalty float32, rng *tensor.RNG) (*Adversary, error) {
	c := NewCritic(d, rng)
	opt, err := optim.NewAdam(nn.StateOf(c, "").Vars(), optim.AdamConfig{LR: lr})
	if err != nil {
		return nil, fmt.Errorf("adversary: %w", err)
	}
	return &Adversary{Critic: c, Penalty: penalty, opt: opt, tape: autograd.NewTape()}, nil
}

// Optimizer returns the critic's optimiser (its state belongs in
// checkpoints). It makes the adversary train.SelfOptimizing: its owner's
// optimiser leaves the critic alone.
func (a *Adversary) Optimizer() optim.Optimizer { return a.opt }

// GeneratorLoss is the non-saturating loss of the network that produced
// fake [N,d] on tp: E[softplus(-D(fake))].
func (a *Adversary) GeneratorLoss(tp *autograd.Tape, fake *autograd.Var) (*autograd.Var, error) {
	return mi.GeneratorLoss(tp, mi.GAN, a.Critic.Forward(tp, fake))
}

// CriticLoss computes, on the adversary's own tape, the critic's loss for
// real and fake samples [N,d] (constants): the GAN loss
// E_fake[softplus(-D) + D] + E_real[softplus(-D)] plus Penalty times the
// mean of the gradient penalties on both sets. A non-finite loss is an
// error. Update then trains the critic on it.
func (a *Adversary) CriticLoss(real, fake *tensor.Tensor) (float32, error) {
	tp := a.tape
	tp.Reset()
	a.loss = nil
	sr, gpR := a.Critic.ForwardPenalty(tp, tp.Const(real))
	sf, gpF := a.Critic.ForwardPenalty(tp, tp.Const(fake))
	loss, err := mi.DiscriminatorLoss(tp, mi.GAN, sr, sf)
	if err != nil {
		return 0, fmt.Errorf("critic: %w", err)
	}
	if a.Penalty != 0 {
		loss = tp.Add(loss, tp.Scale(tp.Add(gpR, gpF), 0.5*a.Penalty))
	}
	if err := tp.Err(); err != nil {
		return 0, fmt.Errorf("critic: %w", err)
	}
	v := loss.Item()
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return v, fmt.Errorf("critic loss is %v", v)
	}
	a.loss = loss
	return v, nil
}

// Update takes one optimiser step of the critic on the last CriticLoss.
// Its gradients are cleared first: the owner's backward pass through
// GeneratorLoss reached the critic's weights too.
func (a *Adversary) Update() error {
	if a.loss == nil {
		return fmt.Errorf("critic: Update without a CriticLoss")
	}
	a.opt.ZeroGrad()
	if err := a.tape.Backward(a.loss); err != nil {
		return fmt.Errorf("critic: %w", err)
	}
	a.opt.Step()
	if err := a.opt.Err(); err != nil {
		return fmt.Errorf("critic: %w", err)
	}
	return nil
}
