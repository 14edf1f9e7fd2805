package mi

import (
	"math"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/tensor"
)

func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// refLoss computes each estimator in float64 straight from the reference
// code's formulas (torch_dim.py and the reference repository), looping over
// u[i][j*l+k].
func refLoss(m Measure, u []float64, n, l int) float64 {
	at := func(i, j, k int) float64 { return u[i*n*l+j*l+k] }
	switch m {
	case NCE:
		var total float64
		for i := 0; i < n; i++ {
			// negatives of row i, self-pairs replaced by -10
			mx := math.Inf(-1)
			var negs []float64
			for j := 0; j < n; j++ {
				for k := 0; k < l; k++ {
					v := at(i, j, k)
					if j == i {
						v = -10
					}
					negs = append(negs, v)
					mx = math.Max(mx, v)
				}
			}
			for k := 0; k < l; k++ {
				p := at(i, i, k)
				m2 := math.Max(mx, p)
				s := math.Exp(p - m2)
				for _, v := range negs {
					s += math.Exp(v - m2)
				}
				total += -(p - (m2 + math.Log(s)))
			}
		}
		return total / float64(n*l)
	case DV:
		// Exactly log mean_neg e^u - mean_pos u, with the reference's
		// normalisation of the negatives by N(N-1) (not N(N-1)L): no
		// shift, no epsilon (float64 holds e^u for |u| < 700).
		var ePos, s float64
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				for k := 0; k < l; k++ {
					if i == j {
						ePos += at(i, j, k)
					} else {
						s += math.Exp(at(i, j, k))
					}
				}
			}
		}
		return math.Log(s/float64(n*(n-1))) - ePos/float64(n*l)
	}
	pos, neg := refTerms(m)
	// The reference averages over locations, then over masked pairs.
	var ePos, eNeg float64
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			var p, q float64
			for k := 0; k < l; k++ {
				p += pos(at(i, j, k))
				q += neg(at(i, j, k))
			}
			if i == j {
				ePos += p / float64(l)
			} else {
				eNeg += q / float64(l)
			}
		}
	}
	return eNeg/float64(n*(n-1)) - ePos/float64(n)
}

func TestLossMatchesReference(t *testing.T) {
	rng := tensor.NewRNG(11)
	for _, size := range []struct{ n, l int }{{2, 1}, {3, 5}, {7, 3}, {5, 1}} {
		for _, m := range Measures {
			u := tensor.New(size.n, size.n*size.l)
			rng.Uniform(u, -3, 3)
			ref := make([]float64, u.Size())
			for i, v := range u.Data {
				ref[i] = float64(v)
			}
			var c Cache
			tp := autograd.NewTape()
			loss, err := c.Loss(tp, m, tp.Const(u))
			if err != nil {
				t.Fatalf("%s: %v", m, err)
			}
			want := refLoss(m, ref, size.n, size.l)
			if got := float64(loss.Item()); math.Abs(got-want) > 1e-4*math.Max(1, math.Abs(want)) {
				t.Errorf("%s n=%d l=%d: loss %v, want %v", m, size.n, size.l, got, want)
			}
		}
	}
}

// TestLossGradient checks d loss / d u against central differences of the
// float64 reference formula.
func TestLossGradient(t *testing.T) {
	rng := tensor.NewRNG(12)
	n, l := 3, 5
	for _, m := range Measures {
		u := tensor.New(n, n*l)
		rng.Uniform(u, -2, 2)
		for i, v := range u.Data { // keep away from |u| kinks (X2)
			if math.Abs(float64(v)) < 0.05 {
				u.Data[i] = 0.1
			}
		}
		var c Cache
		tp := autograd.NewTape()
		uv := autograd.NewParam(u.Clone())
		loss, err := c.Loss(tp, m, uv)
		if err != nil {
			t.Fatal(err)
		}
		if err := tp.Backward(loss); err != nil {
			t.Fatal(err)
		}
		ref := make([]float64, u.Size())
		for i, v := range u.Data {
			ref[i] = float64(v)
		}
		const h = 1e-5
		for i := range ref {
			orig := ref[i]
			ref[i] = orig + h
			lp := refLoss(m, ref, n, l)
			ref[i] = orig - h
			lm := refLoss(m, ref, n, l)
			ref[i] = orig
			num := (lp - lm) / (2 * h)
			got := float64(uv.Grad.Data[i])
			if math.Abs(got-num) > 1e-4+1e-3*math.Abs(num) {
				t.Errorf("%s: d/du[%d] = %v, numeric %v", m, i, got, num)
			}
		}
	}
}

// largeScores returns an n x n*l score matrix with entries uniform in
// [-1, 1] plus 3 on the positives, times scale: the positives exceed the
// negatives by about 3*scale, as in a well-trained critic.
func largeScores(rng *tensor.RNG, n, l int, scale float32) *tensor.Tensor {
	u := tensor.New(n, n*l)
	rng.Uniform(u, -1, 1)
	for i := range n {
		for j := range n * l {
			if j/l == i {
				u.Data[i*n*l+j] += 3
			}
			if v := u.Data[i*n*l+j]; math.Abs(float64(v)) < 0.05 { // away from |u| kinks (X2)
				u.Data[i*n*l+j] = 0.1
			}
			u.Data[i*n*l+j] *= scale
		}
	}
	return u
}

// TestLossLargeScores checks every measure's value and gradient against
// the float64 formulas when the positives lie far above the negatives
// (scores up to 4*scale). The exponential measures (KL, H2) have e^u in
// their value, so their negatives must stay below float32's e^88: at scale
// 50 they reach 50.
func TestLossLargeScores(t *testing.T) {
	n, l := 8, 4 // an 8x32 score matrix, as in the DV bug report
	for _, scale := range []float32{1, 10, 25, 50} {
		rng := tensor.NewRNG(uint64(scale))
		u := largeScores(rng, n, l, scale)
		ref := make([]float64, u.Size())
		for i, v := range u.Data {
			ref[i] = float64(v)
		}
		for _, m := range Measures {
			var c Cache
			tp := autograd.NewTape()
			uv := autograd.NewParam(u.Clone())
			loss, err := c.Loss(tp, m, uv)
			if err != nil {
				t.Fatal(err)
			}
			want := refLoss(m, ref, n, l)
			if got := float64(loss.Item()); math.Abs(got-want) > 1e-4*math.Max(1, math.Abs(want)) {
				t.Errorf("%s scale %v: loss %v, want %v", m, scale, got, want)
			}
			if err := tp.Backward(loss); err != nil {
				t.Fatal(err)
			}
			grad := make([]float64, len(ref))
			gmax := 0.0
			for i := range ref {
				h := 1e-6 * math.Max(1, math.Abs(ref[i]))
				orig := ref[i]
				ref[i] = orig + h
				lp := refLoss(m, ref, n, l)
				ref[i] = orig - h
				lm := refLoss(m, ref, n, l)
				ref[i] = orig
				grad[i] = (lp - lm) / (2 * h)
				gmax = math.Max(gmax, math.Abs(grad[i]))
			}
			bad := 0
			for i, num := range grad {
				if got := float64(uv.Grad.Data[i]); math.Abs(got-num) > 1e-3*math.Abs(num)+1e-4*gmax+1e-7 {
					if bad++; bad <= 3 {
						t.Errorf("%s scale %v: d/du[%d] = %v, float64 %v", m, scale, i, got, num)
					}
				}
			}
		}
	}
}

func TestLossErrors(t *testing.T) {
	var c Cache
	tp := autograd.NewTape()
	if _, err := c.Loss(tp, JSD, tp.Const(tensor.New(3, 7))); err == nil {
		t.Error("no error for a 3x7 score matrix")
	}
	if _, err := c.Loss(tp, JSD, tp.Const(tensor.New(1, 4))); err == nil {
		t.Error("no error for a single sample")
	}
	if _, err := ParseMeasure("bogus"); err == nil {
		t.Error("no error for an unknown measure")
	}
	if m, err := ParseMeasure("InfoNCE"); err != nil || m != NCE {
		t.Errorf("ParseMeasure(InfoNCE) = %v, %v", m, err)
	}
	if m, err := ParseMeasure("JSD"); err != nil || m != JSD {
		t.Errorf("ParseMeasure(JSD) = %v, %v", m, err)
	}
}

// refTerms returns the positive and negative terms of an f-divergence
// measure in float64, as the reference code writes them.
func refTerms(m Measure) (pos, neg func(float64) float64) {
	pos = map[Measure]func(float64) float64{
		GAN: func(x float64) float64 { return -softplus(-x) },
		JSD: func(x float64) float64 { return math.Ln2 - softplus(-x) },
		X2:  func(x float64) float64 { return x * x },
		KL:  func(x float64) float64 { return x + 1 },
		RKL: func(x float64) float64 { return -math.Exp(-x) },
		H2:  func(x float64) float64 { return 1 - math.Exp(-x) },
		W1:  func(x float64) float64 { return x },
	}[m]
	neg = map[Measure]func(float64) float64{
		GAN: func(x float64) float64 { return softplus(-x) + x },
		JSD: func(x float64) float64 { return softplus(-x) + x - math.Ln2 },
		X2:  func(x float64) float64 { return -0.5 * math.Pow(math.Sqrt(x*x)+1, 2) },
		KL:  func(x float64) float64 { return math.Exp(x) },
		RKL: func(x float64) float64 { return x - 1 },
		H2:  func(x float64) float64 { return math.Exp(x) - 1 },
		W1:  func(x float64) float64 { return x },
	}[m]
	return pos, neg
}
