package kernels_test

import (
	"fmt"
	"time"

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

// A stride-2 5 x 5 convolution (basic28x28's second, on two images) by
// Winograd's algorithm where the CPU has AVX-512, and by the direct
// product otherwise: the same outputs to float rounding.
func ExampleConv2dWinograd() {
	g := kernels.NewConvGeom(2, 64, 14, 14, 5, 5, 2, 2) // N, C, H, W, KH, KW, stride, pad
	cout := 128
	x := make([]float32, g.N*g.C*g.H*g.W)
	w := make([]float32, cout*g.ColRows())
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	for i := range w {
		w[i] = float32(i%5-2) / 100
	}
	direct := make([]float32, g.N*cout*g.OH*g.OW)
	kernels.Conv2d(g, cout, w, nil, x, direct, nil)
	fast := make([]float32, len(direct))
	if kernels.CanWinograd(g, cout) {
		kernels.Conv2dWinograd(g, cout, w, nil, x, fast, nil)
	} else {
		kernels.Conv2d(g, cout, w, nil, x, fast, nil)
	}
	worst, largest := float32(0), float32(0)
	for i := range direct {
		worst = max(worst, abs32(fast[i]-direct[i]))
		largest = max(largest, abs32(direct[i]))
	}
	fmt.Printf("%d outputs of %dx%d, largest difference below 1e-4 of the largest output: %v\n",
		len(direct), g.OH, g.OW, worst < 1e-4*largest)
	// Output:
	// 12544 outputs of 7x7, largest difference below 1e-4 of the largest output: true
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

// One A against two operands: C1 = A B1 and C2 = A B2 (A is 2 x 3, B1 3 x
// 32, B2 3 x 1), as one product that packs A once.
func ExampleSgemm2() {
	a := []float32{1, 2, 3, 4, 5, 6}
	b1 := make([]float32, 3*32)
	for i := range b1 {
		b1[i] = float32(i % 32)
	}
	b2 := []float32{1, 0, -1}
	c1, c2 := make([]float32, 2*32), make([]float32, 2)
	kernels.Sgemm2(false, false, 2, 32, 1, 3, a, 3, b1, 32, 0, c1, 32, b2, 1, 0, c2, 1)
	fmt.Println(c1[:4], c1[32:36], c2)
	// Output:
	// [0 6 12 18] [0 15 30 45] [-2 -2]
}

// The machine's arithmetic peak as the GEMM micro-kernel reaches it on
// every core, against which a training step's GFLOP/s is read (dim bench
// --peak). The value moves with the host's load, so it is compared with
// timings of the same seconds; here only its sign is printed.
func ExamplePeakGFlops() {
	peak := kernels.PeakGFlops(20 * time.Millisecond) // GFLOP/s; a multiply-add counts 2
	fmt.Println(peak > 0)
	// Output:
	// true
}
