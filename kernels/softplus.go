package kernels

import (
	"fmt"
	"math"
)

// SoftplusNeg sets sp[i] = softplus(-u[i]) = log(1 + e^-u[i]) and
// sig[i] = sigmoid(-u[i]) = 1/(1 + e^u[i]) for i < len(u), the terms of
// the Jensen-Shannon and GAN estimators and their derivatives (mi.JSD,
// mi.GAN; the reference's get_positive_expectation). Each element is the
// float64 computation
//
//	x := -float64(u[i])
//	e := math.Exp(-math.Abs(x))               // in [0, 1], no overflow
//	sp[i] = float32(max(x, 0) + math.Log1p(e)) // x + log1p(e) for x > 0
//	sig[i] = float32(1 / (1 + e))              // for x > 0, e / (1 + e) otherwise
//
// rounded once to float32. With AVX-512 it evaluates 8 elements at a time
// with Go's own algorithms for math.Exp (the fused multiply-add variant
// that Go runs on every CPU with AVX and FMA) and math.Log1p, operation for
// operation, so the results are bit-identical to that loop (a NaN for a
// NaN); where e underflows below float64's normal range (|u| > 708) it
// uses 0, which rounds to the same float32 results. It allocates nothing
// and panics if sp or sig is shorter than u.
func SoftplusNeg(sp, sig, u []float32) {
	n := len(u)
	if len(sp) < n || len(sig) < n {
		panic(fmt.Sprintf("kernels: SoftplusNeg: %d and %d outputs for %d scores", len(sp), len(sig), n))
	}
	v := softplusNegVector(sp[:n], sig[:n], u)
	softplusNegGo(sp[v:n], sig[v:n], u[v:])
}

// softplusNegGo is SoftplusNeg's scalar loop.
func softplusNegGo(sp, sig, u []float32) {
	sp, sig = sp[:len(u)], sig[:len(u)]
	for i, v := range u {
		x := -float64(v)
		e := math.Exp(-math.Abs(x))
		if x > 0 {
			sp[i], sig[i] = float32(x+math.Log1p(e)), float32(1/(1+e))
		} else {
			sp[i], sig[i] = float32(math.Log1p(e)), float32(e/(1+e))
		}
	}
}
