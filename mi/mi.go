// Package mi implements the mutual-information estimators of Deep InfoMax
// as losses over score matrices: Jensen-Shannon (JSD), infoNCE,
// Donsker-Varadhan (DV), and the f-divergences of the reference code (GAN,
// KL, reverse KL, squared Hellinger, chi-squared, Wasserstein-1).
//
// A score matrix u has one row per global vector and N*L columns: column
// j*L+l scores global vector i against location l of sample j. Pairs with
// j == i are positives (samples of the joint distribution), the others
// negatives (samples of the product of marginals). Every loss is to be
// minimised: it is the negative of a lower bound on the mutual information.
package mi

import (
	"fmt"
	"math"
	"strings"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/kernels"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Measure names an estimator.
type Measure string

// The estimators. JSD is the paper's default for DIM.
const (
	JSD Measure = "jsd"
	NCE Measure = "nce"
	DV  Measure = "dv"
	GAN Measure = "gan"
	KL  Measure = "kl"
	RKL Measure = "rkl"
	H2  Measure = "h2"
	X2  Measure = "x2"
	W1  Measure = "w1"
)

// Measures lists every supported estimator.
var Measures = []Measure{JSD, NCE, DV, GAN, KL, RKL, H2, X2, W1}

// ParseMeasure returns the Measure named s (case-insensitive).
func ParseMeasure(s string) (Measure, error) {
	m := Measure(strings.ToLower(s))
	if m == "infonce" {
		return NCE, nil
	}
	for _, k := range Measures {
		if k == m {
			return m, nil
		}
	}
	names := make([]string, len(Measures))
	for i, k := range Measures {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown MI measure %q (want one of %s)", s, strings.Join(names, ", "))
}

// Masks holds constant positive/negative masks for an N x (N*L) score
// matrix, built once and reused across steps of the same shape.
type Masks struct {
	N, L     int
	Pos, Neg *tensor.Tensor // [N, N*L]; Pos is 1 where column j == row i
	// NegLarge is Pos scaled by -10: the reference code's way to push
	// self-pairs out of the infoNCE and DV negatives.
	NegLarge *tensor.Tensor
	zeros    *tensor.Tensor // [N, L]
}

// NewMasks returns the masks for N global vectors against N*L locations.
// Like make, it panics when n or l is negative; the message names NewMasks.
func NewMasks(n, l int) *Masks {
	if n < 0 || l < 0 {
		panic(fmt.Sprintf("mi.NewMasks: n = %d, l = %d: want both >= 0", n, l))
	}
	m := &Masks{N: n, L: l, Pos: tensor.New(n, n*l), Neg: tensor.New(n, n*l), NegLarge: tensor.New(n, n*l), zeros: tensor.New(n, l)}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			v := float32(0)
			if i == j {
				v = 1
			}
			for k := 0; k < l; k++ {
				m.Pos.Data[i*n*l+j*l+k] = v
				m.Neg.Data[i*n*l+j*l+k] = 1 - v
				m.NegLarge.Data[i*n*l+j*l+k] = -10 * v
			}
		}
	}
	return m
}

// masksFor returns cached masks matching the score shape.
func (c *Cache) masksFor(n, l int) *Masks {
	if c.m == nil || c.m.N != n || c.m.L != l {
		c.m = NewMasks(n, l)
	}
	return c.m
}

// Cache keeps the masks of the last score shape; the zero value is ready.
type Cache struct{ m *Masks }

// Loss returns the estimator's loss for scores u [N, N*L] (positives where
// column block j == row i). For f-divergences and JSD it is
// E_neg[f*(u)] - E_pos[T(u)]; for infoNCE it is the mean negative log
// probability of each positive among itself and all negatives of its row;
// for DV it is log E_neg[e^u] - E_pos[u] as the reference computes it.
// A nil Cache, tape or score Var is an error.
func (c *Cache) Loss(tp *autograd.Tape, m Measure, u *autograd.Var) (*autograd.Var, error) {
	switch {
	case c == nil:
		return nil, argError("score", m, "nil Cache")
	case tp == nil:
		return nil, argError("score", m, "nil tape")
	case noValue(u):
		return nil, argError("score", m, "scores u is a nil Var or has no value")
	}
	s := u.Value.Shape
	if len(s) != 2 || s[0] == 0 || s[1]%s[0] != 0 {
		return nil, fmt.Errorf("mi: score matrix of shape %v: want [N, N*L]", s)
	}
	n, l := s[0], s[1]/s[0]
	if n < 2 {
		return nil, fmt.Errorf("mi: score matrix of shape %v: need at least 2 samples for negatives", s)
	}
	mk := c.masksFor(n, l)
	switch m {
	case NCE:
		return infoNCE(tp, mk, u), tp.Err()
	case DV:
		return donskerVaradhan(tp, mk, u), tp.Err()
	}
	// The mean over the negative entries minus that over the positive ones.
	if fs, ok := pairSliceFuncs[m]; ok {
		return tp.PairMeansSlices(u, fs), tp.Err()
	}
	f, ok := pairFuncs[m]
	if !ok {
		return nil, fmt.Errorf("mi: unknown measure %q", m)
	}
	return tp.PairMeans(u, f), tp.Err()
}

var log2 = float32(math.Ln2)

// positiveExpectation applies the measure's positive term element-wise.
func positiveExpectation(tp *autograd.Tape, m Measure, u *autograd.Var) *autograd.Var {
	switch m {
	case GAN: // -softplus(-u)
		return tp.Neg(tp.Softplus(tp.Neg(u)))
	case JSD: // log 2 - softplus(-u)
		return tp.Affine(tp.Softplus(tp.Neg(u)), -1, log2)
	case X2: // u^2
		return tp.Square(u)
	case KL: // u + 1
		return tp.AddScalar(u, 1)
	case RKL: // -e^-u
		return tp.Neg(tp.Exp(tp.Neg(u)))
	case H2: // 1 - e^-u
		return tp.Affine(tp.Exp(tp.Neg(u)), -1, 1)
	case W1:
		return u
	}
	return nil
}

// negativeExpectation applies the measure's negative term element-wise.
func negativeExpectation(tp *autograd.Tape, m Measure, u *autograd.Var) *autograd.Var {
	switch m {
	case GAN: // softplus(-u) + u
		return tp.Add(tp.Softplus(tp.Neg(u)), u)
	case JSD: // softplus(-u) + u - log 2
		return tp.AddScalar(tp.Add(tp.Softplus(tp.Neg(u)), u), -log2)
	case X2: // -0.5 (sqrt(u^2) + 1)^2
		return tp.Scale(tp.Square(tp.AddScalar(tp.Abs(u), 1)), -0.5)
	case KL: // e^u
		return tp.Exp(u)
	case RKL: // u - 1
		return tp.AddScalar(u, -1)
	case H2: // e^u - 1
		return tp.AddScalar(tp.Exp(u), -1)
	case W1:
		return u
	}
	return nil
}

// infoNCE: for every positive score u[i, i*L+l], the log-softmax over it and
// all negatives of row i (self-pairs replaced by -10, as the reference).
func infoNCE(tp *autograd.Tape, mk *Masks, u *autograd.Var) *autograd.Var {
	n, l := mk.N, mk.L
	// Negatives with self-pairs masked: u*neg - 10*pos.
	un := tp.Add(tp.Mul(u, tp.Const(mk.Neg)), tp.Const(mk.NegLarge))
	lseNeg := tp.LogSumExp(un, 1, true) // [N,1]
	// Positives: up[i,l] = u[i, i*L+l].
	up := tp.SumAxes(tp.Reshape(tp.Mul(u, tp.Const(mk.Pos)), n, n, l), []int{1}, false) // [N,L]
	negB := tp.Add(tp.Const(mk.zeros), lseNeg)                                          // [N,L]
	pair := tp.Concat(2, tp.Reshape(up, n, l, 1), tp.Reshape(negB, n, l, 1))
	lse := tp.LogSumExp(pair, 2, false) // [N,L]
	return tp.Mean(tp.Sub(lse, up))
}

// donskerVaradhan is log E_neg[e^u] - E_pos[u] with the reference's
// normalisation: E_pos[u] over positives, and
// log(sum_neg e^(u - m) + 1e-6) + m - log(N(N-1)) over negatives, where m
// is the largest negative score (a constant for the gradient, exactly).
// The reference takes m over all scores with self-pairs shifted by only
// -10, so once positives exceed the negatives by about 25 the sum
// underflows: the value is biased, beyond about 100 it has the wrong sign,
// and negatives get no gradient. With m over negatives the sum is at least
// 1 and the 1e-6 is negligible.
func donskerVaradhan(tp *autograd.Tape, mk *Masks, u *autograd.Var) *autograd.Var {
	n, l := mk.N, mk.L
	ePos := tp.Scale(tp.Sum(tp.Mul(u, tp.Const(mk.Pos))), 1/float32(n*l))
	umax := float32(math.Inf(-1))
	for i, v := range u.Value.Data {
		if mk.Neg.Data[i] != 0 {
			umax = max(umax, v)
		}
	}
	// Positives enter the exponential as m - 100 (e^-100 after the shift,
	// then masked to 0), so they can neither overflow nor get a gradient.
	away := tp.Buffer(n, n*l)
	for i, p := range mk.Pos.Data {
		away.Data[i] = p * (umax - 100)
	}
	masked := tp.Add(tp.Mul(u, tp.Const(mk.Neg)), tp.Const(away))
	sum := tp.Sum(tp.Mul(tp.Exp(tp.AddScalar(masked, -umax)), tp.Const(mk.Neg)))
	eNeg := tp.AddScalar(tp.Log(tp.AddScalar(sum, 1e-6)), umax-float32(math.Log(float64(n*(n-1)))))
	return tp.Sub(eNeg, ePos)
}

// pairFuncs are the element-wise terms of JSD and the f-divergences for
// autograd's PairMeans: T(u) on positives, f*(u) on negatives (mission.md
// section 3, the reference's get_positive_expectation and
// get_negative_expectation), with their derivatives.
var pairFuncs = map[Measure]autograd.PairFunc{
	X2: func(u float32, positive bool) (float32, float32) {
		if positive { // u^2
			return u * u, 2 * u
		}
		a := float32(math.Abs(float64(u))) + 1 // -0.5 (|u| + 1)^2
		sign := float32(0)
		if u > 0 {
			sign = 1
		} else if u < 0 {
			sign = -1
		}
		return -0.5 * a * a, -a * sign
	},
	KL: func(u float32, positive bool) (float32, float32) {
		if positive { // u + 1
			return u + 1, 1
		}
		e := float32(math.Exp(float64(u))) // e^u
		return e, e
	},
	RKL: func(u float32, positive bool) (float32, float32) {
		if positive { // -e^-u
			e := float32(math.Exp(-float64(u)))
			return -e, e
		}
		return u - 1, 1 // u - 1
	},
	H2: func(u float32, positive bool) (float32, float32) {
		if positive { // 1 - e^-u
			e := float32(math.Exp(-float64(u)))
			return 1 - e, e
		}
		e := float32(math.Exp(float64(u))) // e^u - 1
		return e - 1, e
	},
	W1: func(u float32, _ bool) (float32, float32) { return u, 1 },
}

// pairSliceFuncs are the terms of JSD and GAN on runs of scores, from
// kernels.SoftplusNeg's softplus(-u) and sigmoid(-u) (8 scores at a time
// with AVX-512), with their derivatives.
var pairSliceFuncs = map[Measure]autograd.PairSliceFunc{
	JSD: func(u, f, df []float32, positive bool) {
		kernels.SoftplusNeg(f, df, u)
		if positive { // log 2 - softplus(-u), derivative sigmoid(-u)
			for i, sp := range f[:len(u)] {
				f[i] = log2 - sp
			}
			return
		}
		for i, sp := range f[:len(u)] { // softplus(-u) + u - log 2
			f[i] = sp + u[i] - log2
			df[i] = 1 - df[i]
		}
	},
	GAN: func(u, f, df []float32, positive bool) {
		kernels.SoftplusNeg(f, df, u)
		if positive { // -softplus(-u)
			for i, sp := range f[:len(u)] {
				f[i] = -sp
			}
			return
		}
		for i, sp := range f[:len(u)] { // softplus(-u) + u
			f[i] = sp + u[i]
			df[i] = 1 - df[i]
		}
	},
}
