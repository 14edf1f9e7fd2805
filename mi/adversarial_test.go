package mi

import (
	"math"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// refDiscriminator is DiscriminatorLoss in float64.
func refDiscriminator(m Measure, p, q []float64) float64 {
	if m == DV {
		mx := math.Inf(-1)
		for _, v := range q {
			mx = math.Max(mx, v)
		}
		var s, ep float64
		for _, v := range q {
			s += math.Exp(v - mx)
		}
		for _, v := range p {
			ep += v
		}
		return math.Log(s/float64(len(q))) + mx - ep/float64(len(p))
	}
	pos, neg := refTerms(m)
	var ep, eq float64
	for _, v := range p {
		ep += pos(v)
	}
	for _, v := range q {
		eq += neg(v)
	}
	return eq/float64(len(q)) - ep/float64(len(p))
}

// refGenerator is GeneratorLoss in float64.
func refGenerator(m Measure, q []float64) float64 {
	pos, _ := refTerms(m)
	if m == DV {
		pos = func(x float64) float64 { return x }
	}
	var s float64
	for _, v := range q {
		s += pos(v)
	}
	return -s / float64(len(q))
}

func float64s(t *tensor.Tensor) []float64 {
	out := make([]float64, t.Size())
	for i, v := range t.Data {
		out[i] = float64(v)
	}
	return out
}

// TestAdversarialLosses checks both losses and their gradients against the
// float64 formulas (central differences) for every measure but infoNCE, on
// odd sample counts.
func TestAdversarialLosses(t *testing.T) {
	rng := tensor.NewRNG(21)
	for _, m := range Measures {
		if m == NCE {
			continue
		}
		p, q := tensor.New(7, 1), tensor.New(5, 1)
		rng.Uniform(p, -2, 2)
		rng.Uniform(q, -2, 2)
		for _, x := range [][]float32{p.Data, q.Data} { // away from the |x| kink (X2)
			for i, v := range x {
				if math.Abs(float64(v)) < 0.05 {
					x[i] = 0.1
				}
			}
		}
		tp := autograd.NewTape()
		pv, qv := autograd.NewParam(p.Clone()), autograd.NewParam(q.Clone())
		d, err := DiscriminatorLoss(tp, m, pv, qv)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		g, err := GeneratorLoss(tp, m, qv)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		pr, qr := float64s(p), float64s(q)
		if got, want := float64(d.Item()), refDiscriminator(m, pr, qr); math.Abs(got-want) > 1e-5*math.Max(1, math.Abs(want)) {
			t.Errorf("%s: discriminator loss %v, want %v", m, got, want)
		}
		if got, want := float64(g.Item()), refGenerator(m, qr); math.Abs(got-want) > 1e-5*math.Max(1, math.Abs(want)) {
			t.Errorf("%s: generator loss %v, want %v", m, got, want)
		}
		// Gradients of the discriminator loss with respect to both score sets.
		if err := tp.Backward(d); err != nil {
			t.Fatal(err)
		}
		const h = 1e-5
		for _, c := range []struct {
			name string
			ref  []float64
			grad []float32
		}{{"p", pr, pv.Grad.Data}, {"q", qr, qv.Grad.Data}} {
			for i := range c.ref {
				orig := c.ref[i]
				c.ref[i] = orig + h
				lp := refDiscriminator(m, pr, qr)
				c.ref[i] = orig - h
				lm := refDiscriminator(m, pr, qr)
				c.ref[i] = orig
				num := (lp - lm) / (2 * h)
				if got := float64(c.grad[i]); math.Abs(got-num) > 1e-5+1e-3*math.Abs(num) {
					t.Errorf("%s: d/d%s[%d] = %v, numeric %v", m, c.name, i, got, num)
				}
			}
		}
	}
}

func TestAdversarialLossErrors(t *testing.T) {
	tp := autograd.NewTape()
	x := tp.Const(tensor.New(3, 1))
	if _, err := DiscriminatorLoss(tp, NCE, x, x); err == nil {
		t.Error("no error for infoNCE")
	}
	if _, err := GeneratorLoss(tp, NCE, x); err == nil {
		t.Error("no error for infoNCE")
	}
	if _, err := DiscriminatorLoss(tp, GAN, x, tp.Const(tensor.New(0, 1))); err == nil {
		t.Error("no error without Q samples")
	}
}
