package eval

import (
	"math"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// mineData returns n images [n,1,s,s] and features [n,d]: each image is a
// fixed linear map (the same for every seed) of a standard Gaussian vector
// u of d units, and y = rho u + sqrt(1-rho^2) e with independent Gaussian
// noise e. The map is injective, so I(X;Y) = I(U;Y) = -d/2 log(1-rho^2)
// nats. With s == 0 the "images" are the vectors u themselves, [n,d].
func mineData(seed uint64, n, d, s int, rho float64) (x, y *tensor.Tensor) {
	pix := max(s*s, 1)
	mix := make([]float64, pix*d)
	mrng := tensor.NewRNG(99)
	for i := range mix {
		mix[i] = mrng.NormFloat64() / math.Sqrt(float64(d))
	}
	rng := tensor.NewRNG(seed)
	if s == 0 {
		x = tensor.New(n, d)
	} else {
		x = tensor.New(n, 1, s, s)
	}
	y = tensor.New(n, d)
	c := math.Sqrt(1 - rho*rho)
	u := make([]float64, d)
	for i := range n {
		for k := range d {
			u[k] = rng.NormFloat64()
			y.Data[i*d+k] = float32(rho*u[k] + c*rng.NormFloat64())
		}
		if s == 0 {
			for k := range d {
				x.Data[i*d+k] = float32(u[k])
			}
			continue
		}
		for p := range pix {
			var v float64
			for k := range d {
				v += mix[p*d+k] * u[k]
			}
			x.Data[i*pix+p] = float32(v)
		}
	}
	return x, y
}

// TestMINE checks the estimate against the true I(X;Y) of Gaussian data,
// within 10% at about 1 nat and near 0 for independent x and y, with
// image inputs (a conv critic) and vector inputs.
func TestMINE(t *testing.T) {
	const d = 2
	for _, c := range []struct {
		name string
		size int
		rho  float64
		cfg  MINEConfig
	}{
		{"image rho 0.8", 8, 0.8, MINEConfig{Convs: []int{8}, ImageFeatures: 32, Hidden: 64, Steps: 1000, Batch: 256, LR: 1e-3, Seed: 1}},
		{"image independent", 8, 0, MINEConfig{Convs: []int{8}, ImageFeatures: 32, Hidden: 64, Steps: 200, Batch: 256, LR: 1e-3, Seed: 1}},
		{"vector rho 0.8", 0, 0.8, MINEConfig{Convs: []int{}, ImageFeatures: 32, Hidden: 64, Steps: 500, Batch: 256, LR: 1e-3, Seed: 2}},
	} {
		want := -float64(d) / 2 * math.Log(1-c.rho*c.rho)
		xtr, ytr := mineData(1, 4000, d, c.size, c.rho)
		xte, yte := mineData(2, 4000, d, c.size, c.rho)
		got, err := MINE(xtr, ytr, xte, yte, c.cfg)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		t.Logf("%s: MINE %.4f nats, true %.4f", c.name, got, want)
		tol := max(0.1*want, 0.05)
		if math.Abs(got-want) > tol {
			t.Errorf("%s: MINE %.4f nats, want %.4f +- %.3f", c.name, got, want, tol)
		}
	}
}

func TestMINEErrors(t *testing.T) {
	x, y := mineData(1, 10, 2, 8, 0.5)
	for _, c := range []struct {
		name     string
		xtr, ytr *tensor.Tensor
		xte, yte *tensor.Tensor
		cfg      MINEConfig
	}{
		{"row mismatch", x, tensor.New(9, 2), x, y, MINEConfig{}},
		{"feature mismatch", x, y, x, tensor.New(10, 3), MINEConfig{}},
		{"image mismatch", x, y, tensor.New(10, 1, 4, 4), y, MINEConfig{}},
		{"one row", tensor.New(1, 1, 8, 8), tensor.New(1, 2), x, y, MINEConfig{}},
		{"too many convs", x, y, x, y, MINEConfig{Convs: []int{4, 4, 4, 4}}},
		{"bad features", x, tensor.New(10, 2, 1), x, y, MINEConfig{}},
	} {
		c.cfg.Steps = 1
		if _, err := MINE(c.xtr, c.ytr, c.xte, c.yte, c.cfg); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

// TestLogMeanExp64 checks the stable log-mean-exp against the direct
// formula, and that it stays finite where the direct one overflows.
func TestLogMeanExp64(t *testing.T) {
	for _, v := range [][]float64{{0}, {1, 2, 3}, {-5, 0.5, 2, -1}} {
		var s float64
		for _, x := range v {
			s += math.Exp(x)
		}
		want := math.Log(s / float64(len(v)))
		if got := logMeanExp64(v); math.Abs(got-want) > 1e-12 {
			t.Errorf("logMeanExp64(%v) = %v, want %v", v, got, want)
		}
	}
	if got, want := logMeanExp64([]float64{1000, 1000 + math.Log(3)}), 1000+math.Log(2); math.Abs(got-want) > 1e-9 {
		t.Errorf("logMeanExp64 of large values = %v, want %v", got, want)
	}
}
