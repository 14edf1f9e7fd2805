package dim

import (
	"math"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// smallDiscriminator is a discriminator with odd, small layer widths (the
// structure of the reference's, d -> 1000 -> 200 -> 1, at test size).
func smallDiscriminator(d int, rng *tensor.RNG) *Discriminator {
	return &Discriminator{L1: nn.NewLinear(d, 9, true, rng), L2: nn.NewLinear(9, 7, true, rng), L3: nn.NewLinear(7, 1, true, rng)}
}

// scoreSum64 evaluates sum_i D(x_i) with the network's float32 weights in
// float64 arithmetic.
func scoreSum64(d *Discriminator, x []float64, n, dim int) float64 {
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

// TestDiscriminatorPenaltyIsInputGradient checks that the penalty is the
// mean squared norm of dD/dx, with dD/dx from central differences.
func TestDiscriminatorPenaltyIsInputGradient(t *testing.T) {
	rng := tensor.NewRNG(3)
	const n, dim = 5, 3
	d := smallDiscriminator(dim, rng)
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

// TestDiscriminatorLossGradient checks the gradient of the full
// discriminator loss (GAN terms plus gradient penalty) with respect to
// every weight, against central differences of the float32 loss.
func TestDiscriminatorLossGradient(t *testing.T) {
	rng := tensor.NewRNG(4)
	const n, dim = 7, 3
	p := &PriorMatching{D: smallDiscriminator(dim, rng), Prior: PriorUniform, Penalty: 1, rng: tensor.NewRNG(0), samples: &tensor.Tensor{}}
	q := tensor.New(n, dim)
	rng.Uniform(q, 0, 1)
	loss := func() (float64, *autograd.Tape, *autograd.Var) {
		tp := autograd.NewTape()
		l, err := p.DiscriminatorLoss(tp, tp.Const(q), 42)
		if err != nil {
			t.Fatal(err)
		}
		return float64(l.Item()), tp, l
	}
	s := &nn.State{}
	p.D.Collect("", s)
	params := s.Vars()
	_, tp, l := loss()
	if err := tp.Backward(l); err != nil {
		t.Fatal(err)
	}
	// A small step: the penalty jumps where a ReLU changes state.
	const h = 1e-3
	for pi, v := range params {
		for i := range v.Value.Data {
			orig := v.Value.Data[i]
			v.Value.Data[i] = orig + h
			lp, _, _ := loss()
			v.Value.Data[i] = orig - h
			lm, _, _ := loss()
			v.Value.Data[i] = orig
			num := (lp - lm) / (2 * h)
			if got := float64(v.Grad.Data[i]); math.Abs(got-num) > 2e-3+2e-2*math.Abs(num) {
				t.Errorf("param %d [%d]: grad %v, numeric %v", pi, i, got, num)
			}
		}
	}
}

func TestPriorSample(t *testing.T) {
	const n, d = 4000, 5
	for _, p := range Priors {
		x := tensor.New(n, d)
		p.Sample(tensor.NewRNG(1), x)
		var sum, sq float64
		for r := 0; r < n; r++ {
			var norm float64
			for _, v := range x.Data[r*d : (r+1)*d] {
				sum += float64(v)
				sq += float64(v) * float64(v)
				norm += float64(v) * float64(v)
				if p == PriorUniform && (v < 0 || v >= 1) {
					t.Fatalf("%s: value %v outside [0,1)", p, v)
				}
			}
			norm = math.Sqrt(norm)
			if p == PriorSphere && math.Abs(norm-1) > 1e-5 {
				t.Fatalf("%s: norm %v", p, norm)
			}
			if p == PriorBall && norm > 1+1e-6 {
				t.Fatalf("%s: norm %v", p, norm)
			}
		}
		mean, meanSq := sum/(n*d), sq/(n*d)
		// E[x], E[x^2] per coordinate: uniform 1/2, 1/3; gaussian 0, 1;
		// sphere 0, 1/d; ball 0, 1/(d+2).
		want := map[Prior][2]float64{PriorUniform: {0.5, 1.0 / 3}, PriorGaussian: {0, 1}, PriorSphere: {0, 1.0 / d}, PriorBall: {0, 1.0 / (d + 2)}}[p]
		if math.Abs(mean-want[0]) > 0.02 || math.Abs(meanSq-want[1]) > 0.05*want[1]+0.005 {
			t.Errorf("%s: E[x] %.4f E[x^2] %.4f, want %.4f %.4f", p, mean, meanSq, want[0], want[1])
		}
	}
	if _, err := ParsePrior("cauchy"); err == nil {
		t.Error("no error for an unknown prior")
	}
}

// TestPriorMatchingMovesTowardsPrior trains free vectors Y with only the
// prior-matching game: sigmoid(Y) starts far from uniform (all near 0.05)
// and must spread towards U[0,1] (mean 1/2, standard deviation 0.29).
func TestPriorMatchingMovesTowardsPrior(t *testing.T) {
	const n, d = 64, 2
	rng := tensor.NewRNG(5)
	pm := NewPriorMatching(d, PriorUniform, 1, rng)
	y := tensor.New(n, d)
	rng.Normal(y, -3, 0.1)
	yv := autograd.NewParam(y)
	yOpt, err := optim.NewAdam([]*autograd.Var{yv}, optim.AdamConfig{LR: 3e-2})
	if err != nil {
		t.Fatal(err)
	}
	s := &nn.State{}
	pm.D.Collect("", s)
	dOpt, err := optim.NewAdam(s.Vars(), optim.AdamConfig{LR: 1e-3})
	if err != nil {
		t.Fatal(err)
	}
	tp, dt := autograd.NewTape(), autograd.NewTape()
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
		q := pm.Input(tp, yv)
		gl, err := pm.EncoderLoss(tp, q)
		if err != nil {
			t.Fatal(err)
		}
		dt.Reset()
		dl, err := pm.DiscriminatorLoss(dt, dt.Const(q.Value), uint64(step))
		if err != nil {
			t.Fatal(err)
		}
		yOpt.ZeroGrad()
		if err := tp.Backward(gl); err != nil {
			t.Fatal(err)
		}
		yOpt.Step()
		dOpt.ZeroGrad()
		if err := dt.Backward(dl); err != nil {
			t.Fatal(err)
		}
		dOpt.Step()
	}
	m1, s1 := stats()
	t.Logf("sigmoid(Y): mean %.3f std %.3f before, %.3f %.3f after", m0, s0, m1, s1)
	if math.Abs(m1-0.5) > 0.15 || s1 < 0.15 {
		t.Errorf("sigmoid(Y): mean %.3f std %.3f before, %.3f %.3f after; want near 0.5 and 0.29", m0, s0, m1, s1)
	}
}
