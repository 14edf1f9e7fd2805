package dim

import (
	"math"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

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
