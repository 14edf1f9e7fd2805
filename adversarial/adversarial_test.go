package adversarial

import (
	"math"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// smallCritic is a critic with odd, small layer widths (the structure of
// the reference's, d -> 1000 -> 200 -> 1, at test size).
func smallCritic(d int, rng *tensor.RNG) *Critic {
	return &Critic{L1: nn.NewLinear(d, 9, true, rng), L2: nn.NewLinear(9, 7, true, rng), L3: nn.NewLinear(7, 1, true, rng)}
}

// smallAdversary is an Adversary around smallCritic.
func smallAdversary(t *testing.T, d int, lr float64, rng *tensor.RNG) *Adversary {
	t.Helper()
	a, err := New(d, lr, 1, rng)
	if err != nil {
		t.Fatal(err)
	}
	a.Critic = smallCritic(d, rng)
	if a.opt, err = optim.NewAdam(nn.StateOf(a.Critic, "").Vars(), optim.AdamConfig{LR: lr}); err != nil {
		t.Fatal(err)
	}
	return a
}

// scoreSum64 evaluates sum_i D(x_i) with the network's float32 weights in
// float64 arithmetic.
func scoreSum64(d *Critic, x []float64, n, dim int) float64 {
	layer := func(l *nn.Linear, in []float64, relu bool) []float64 {
		out, inW := l.W.Value.Shape[0], l.W.Value.Shape[1]
		rows := len(in) / inW
		y := make([]float64, rows*out)
		for r := 0; r < rows; r++ {
			for o := 0; o < out; o++ {
				s := float64(l.B.Value.Data[o])
				for i := 0; i < inW; i++ {
					s += float64(l.W.Value.Data[o*inW+i]) * in[r*inW+i]
				}
				if relu && s < 0 {
					s = 0
				}
				y[r*out+o] = s
			}
		}
		return y
	}
	out := layer(d.L3, layer(d.L2, layer(d.L1, x, true), true), false)
	var s float64
	for _, v := range out {
		s += v
	}
	return s
}

// TestCriticPenaltyIsInputGradient checks that the penalty is the
// mean squared norm of dD/dx, with dD/dx from central differences.
func TestCriticPenaltyIsInputGradient(t *testing.T) {
	rng := tensor.NewRNG(3)
	const n, dim = 5, 3
	d := smallCritic(dim, rng)
	x := tensor.New(n, dim)
	rng.Uniform(x, -1, 1)
	tp := autograd.NewTape()
	_, pen := d.ForwardPenalty(tp, tp.Const(x))
	if err := tp.Err(); err != nil {
		t.Fatal(err)
	}
	x64 := make([]float64, x.Size())
	for i, v := range x.Data {
		x64[i] = float64(v)
	}
	const h = 1e-6
	var want float64
	for i := range x64 {
		orig := x64[i]
		x64[i] = orig + h
		p := scoreSum64(d, x64, n, dim)
		x64[i] = orig - h
		m := scoreSum64(d, x64, n, dim)
		x64[i] = orig
		g := (p - m) / (2 * h) // rows are independent: d sum / d x_i = dD(x_row)/dx_i
		want += g * g
	}
	want /= n
	if got := float64(pen.Item()); math.Abs(got-want) > 1e-4*math.Max(1, want) {
		t.Errorf("penalty %v, want mean |dD/dx|^2 = %v", got, want)
	}
}

// TestCriticLossGradient checks the gradient of the full critic loss (GAN
// terms plus gradient penalty) with respect to every weight, against
// central differences of the float32 loss.
func TestCriticLossGradient(t *testing.T) {
	rng := tensor.NewRNG(4)
	const n, dim = 7, 3
	a := smallAdversary(t, dim, 1e-3, rng)
	real, fake := tensor.New(n, dim), tensor.New(n, dim)
	rng.Uniform(real, 0, 1)
	rng.Uniform(fake, 0, 1)
	loss := func() float64 {
		l, err := a.CriticLoss(real, fake)
		if err != nil {
			t.Fatal(err)
		}
		return float64(l)
	}
	params := nn.StateOf(a, "").Vars()
	loss()
	autograd.ZeroGrad(params...)
	if err := a.tape.Backward(a.loss); err != nil {
		t.Fatal(err)
	}
	grads := make([][]float32, len(params))
	for i, v := range params {
		grads[i] = append([]float32(nil), v.Grad.Data...)
	}
	// A small step: the penalty jumps where a ReLU changes state.
	const h = 1e-3
	for pi, v := range params {
		for i := range v.Value.Data {
			orig := v.Value.Data[i]
			v.Value.Data[i] = orig + h
			lp := loss()
			v.Value.Data[i] = orig - h
			lm := loss()
			v.Value.Data[i] = orig
			num := (lp - lm) / (2 * h)
			if got := float64(grads[pi][i]); math.Abs(got-num) > 2e-3+2e-2*math.Abs(num) {
				t.Errorf("param %d [%d]: grad %v, numeric %v", pi, i, got, num)
			}
		}
	}
}

// TestGameMovesTowardsReal trains free vectors Y with only the adversarial
// game (DIM's prior matching without an encoder): sigmoid(Y) starts far
// from uniform (all near 0.05) and must spread towards U[0,1] (mean 1/2,
// standard deviation 0.29).
func TestGameMovesTowardsReal(t *testing.T) {
	const n, d = 64, 2
	rng := tensor.NewRNG(5)
	adv, err := New(d, 1e-3, 1, rng)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := any(adv).(interface{ Optimizer() optim.Optimizer }); !ok {
		t.Fatal("Adversary does not expose its optimiser")
	}
	real := tensor.New(n, d)
	y := tensor.New(n, d)
	rng.Normal(y, -3, 0.1)
	yv := autograd.NewParam(y)
	yOpt, err := optim.NewAdam([]*autograd.Var{yv}, optim.AdamConfig{LR: 3e-2})
	if err != nil {
		t.Fatal(err)
	}
	tp := autograd.NewTape()
	stats := func() (mean, std float64) {
		var s, sq float64
		for _, v := range y.Data {
			p := 1 / (1 + math.Exp(-float64(v)))
			s += p
			sq += p * p
		}
		mean = s / float64(y.Size())
		return mean, math.Sqrt(sq/float64(y.Size()) - mean*mean)
	}
	m0, s0 := stats()
	for step := range 300 {
		tp.Reset()
		q := tp.Sigmoid(yv)
		gl, err := adv.GeneratorLoss(tp, q)
		if err != nil {
			t.Fatal(err)
		}
		tensor.NewRNG(uint64(step)).Uniform(real, 0, 1)
		if _, err := adv.CriticLoss(real, q.Value); err != nil {
			t.Fatal(err)
		}
		yOpt.ZeroGrad()
		if err := tp.Backward(gl); err != nil {
			t.Fatal(err)
		}
		yOpt.Step()
		if err := adv.Update(); err != nil {
			t.Fatal(err)
		}
	}
	m1, s1 := stats()
	t.Logf("sigmoid(Y): mean %.3f std %.3f before, %.3f %.3f after", m0, s0, m1, s1)
	if math.Abs(m1-0.5) > 0.15 || s1 < 0.15 {
		t.Errorf("sigmoid(Y): mean %.3f std %.3f before, %.3f %.3f after; want near 0.5 and 0.29", m0, s0, m1, s1)
	}
}
