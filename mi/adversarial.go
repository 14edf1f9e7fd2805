package mi

import (
	"fmt"
	"math"

	"github.com/deepinfomax/deepinfomax/autograd"
)

// DiscriminatorLoss is the loss of a critic that tells samples of P (scores
// p, any shape) from samples of Q (scores q): E_Q[f*(q)] - E_P[T(p)], the
// negative of the measure's lower bound on the divergence between P and Q.
// For DV the Q term is log E_Q[e^q] (computed stably). It is what the prior
// matching discriminator minimises, and what MINE and NDM maximise the
// negative of. infoNCE needs paired scores and is not accepted. A nil tape
// or score Var is an error.
func DiscriminatorLoss(tp *autograd.Tape, m Measure, p, q *autograd.Var) (*autograd.Var, error) {
	switch {
	case tp == nil:
		return nil, argError("discriminator", m, "nil tape")
	case noValue(p):
		return nil, argError("discriminator", m, "scores p is a nil Var or has no value")
	case noValue(q):
		return nil, argError("discriminator", m, "scores q is a nil Var or has no value")
	}
	if p.Value.Size() == 0 || q.Value.Size() == 0 {
		return nil, fmt.Errorf("mi: discriminator loss of %v and %v scores: need samples of both", p.Value.Shape, q.Value.Shape)
	}
	if m == DV {
		return tp.Sub(logMeanExp(tp, q), tp.Mean(p)), tp.Err()
	}
	pos := positiveExpectation(tp, m, p)
	neg := negativeExpectation(tp, m, q)
	if pos == nil || neg == nil {
		return nil, fmt.Errorf("mi: measure %q has no discriminator loss", m)
	}
	return tp.Sub(tp.Mean(neg), tp.Mean(pos)), tp.Err()
}

// GeneratorLoss is the non-saturating loss of the samples q that a critic
// scores as coming from Q: -E_Q[T(q)], the positive term applied to them.
// Minimising it moves Q towards P (with the GAN measure it is
// E[softplus(-q)], as the reference's prior matching). A nil tape or score
// Var is an error.
func GeneratorLoss(tp *autograd.Tape, m Measure, q *autograd.Var) (*autograd.Var, error) {
	switch {
	case tp == nil:
		return nil, argError("generator", m, "nil tape")
	case noValue(q):
		return nil, argError("generator", m, "scores q is a nil Var or has no value")
	}
	if q.Value.Size() == 0 {
		return nil, fmt.Errorf("mi: generator loss of %v scores: need samples", q.Value.Shape)
	}
	var pos *autograd.Var
	if m == DV {
		pos = q
	} else {
		pos = positiveExpectation(tp, m, q)
	}
	if pos == nil {
		return nil, fmt.Errorf("mi: measure %q has no generator loss", m)
	}
	return tp.Neg(tp.Mean(pos)), tp.Err()
}

// logMeanExp returns log(mean(e^x)) over all values of x, shifted by their
// maximum (a constant) for stability.
func logMeanExp(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	n := x.Value.Size()
	flat := tp.Reshape(x, 1, n)
	return tp.AddScalar(tp.Reshape(tp.LogSumExp(flat, 1, false), 1), -float32(math.Log(float64(n))))
}

// noValue reports whether v is nil or holds no value.
func noValue(v *autograd.Var) bool { return v == nil || v.Value == nil }

// argError describes an invalid argument of the named loss.
func argError(loss string, m Measure, what string) error {
	return fmt.Errorf("mi: %s loss (%s): %s", loss, m, what)
}
