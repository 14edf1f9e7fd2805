package kernels_test

import (
	"fmt"

	"github.com/deepinfomax/deepinfomax/kernels"
)

// The Jensen-Shannon estimator's terms for a few scores: softplus(-u) and
// its derivative sigmoid(-u), 8 scores at a time with AVX-512 and the rest
// one by one, bit for bit the float64 loop of math.Exp and math.Log1p.
func ExampleSoftplusNeg() {
	u := []float32{-20, -2, -0.5, 0, 0.5, 2, 20, 100, 3}
	sp, sig := make([]float32, len(u)), make([]float32, len(u))
	kernels.SoftplusNeg(sp, sig, u)
	for i := range u {
		fmt.Printf("u %6.1f  softplus(-u) %.6g  sigmoid(-u) %.6g\n", u[i], sp[i], sig[i])
	}
	// Output:
	// u  -20.0  softplus(-u) 20  sigmoid(-u) 1
	// u   -2.0  softplus(-u) 2.12693  sigmoid(-u) 0.880797
	// u   -0.5  softplus(-u) 0.974077  sigmoid(-u) 0.622459
	// u    0.0  softplus(-u) 0.693147  sigmoid(-u) 0.5
	// u    0.5  softplus(-u) 0.474077  sigmoid(-u) 0.377541
	// u    2.0  softplus(-u) 0.126928  sigmoid(-u) 0.119203
	// u   20.0  softplus(-u) 2.06115e-09  sigmoid(-u) 2.06115e-09
	// u  100.0  softplus(-u) 3.78351e-44  sigmoid(-u) 3.78351e-44
	// u    3.0  softplus(-u) 0.0485874  sigmoid(-u) 0.0474259
}
