package eval

import (
	"math"
	"slices"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// gaussianPairs returns n rows of d/2 pairs of unit Gaussians with
// correlation rho within each pair (independent across pairs).
func gaussianPairs(seed uint64, n, d int, rho float64) *tensor.Tensor {
	rng := tensor.NewRNG(seed)
	x := tensor.New(n, d)
	c := math.Sqrt(1 - rho*rho)
	for i := range n {
		for j := 0; j < d; j += 2 {
			a, b := rng.NormFloat64(), rng.NormFloat64()
			x.Data[i*d+j] = float32(a)
			x.Data[i*d+j+1] = float32(rho*a + c*b)
		}
	}
	return x
}

// TestNDM checks the estimate against the true KL between the joint and
// the product of marginals of correlated Gaussians, -d/2 * 0.5 log(1-rho^2),
// and that independent units give about 0.
func TestNDM(t *testing.T) {
	cfg := NDMConfig{Hidden1: 64, Hidden2: 32, Steps: 600, Batch: 256, LR: 1e-3}
	for _, c := range []struct {
		rho, tol float64
	}{{0, 0.05}, {0.9, 0.25}} {
		const d = 2
		want := -float64(d/2) * 0.5 * math.Log(1-c.rho*c.rho)
		got, err := NDM(gaussianPairs(1, 4000, d, c.rho), gaussianPairs(2, 2048, d, c.rho), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("rho %.1f: NDM %.3f, true KL %.3f", c.rho, got, want)
		if math.Abs(got-want) > c.tol {
			t.Errorf("rho %.1f: NDM %.3f, want %.3f +- %.2f", c.rho, got, want, c.tol)
		}
	}
	if _, err := NDM(tensor.New(10, 3), tensor.New(10, 4), cfg); err == nil {
		t.Error("no error for mismatched widths")
	}
}

// TestNDMProgress checks the progress hook: once per step, counting up to
// Steps.
func TestNDMProgress(t *testing.T) {
	var got []int
	cfg := NDMConfig{Steps: 5, Batch: 64, Progress: func(done int) { got = append(got, done) }}
	if _, err := NDM(gaussianPairs(1, 256, 4, 0.5), gaussianPairs(2, 128, 4, 0.5), cfg); err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2, 3, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("progress calls %v, want %v", got, want)
	}
}
