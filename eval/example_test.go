package eval_test

import (
	"fmt"

	"github.com/deepinfomax/deepinfomax/eval"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// twoBlobs returns n points in 3 dimensions around (-1,-1,-1) (class 0)
// and (1,1,1) (class 1).
func twoBlobs(seed uint64, n int) (*tensor.Tensor, []int) {
	rng := tensor.NewRNG(seed)
	x := tensor.New(n, 3)
	rng.Normal(x, 0, 0.5)
	y := make([]int, n)
	for i := range n {
		y[i] = i % 2
		for j := range 3 {
			x.Data[i*3+j] += float32(2*y[i] - 1)
		}
	}
	return x, y
}

// A linear probe and the paper's MLP classifier on frozen features (here
// two well-separated clusters standing in for an encoder's output).
func Example() {
	xtr, ytr := twoBlobs(1, 400)
	xte, yte := twoBlobs(2, 100)
	lin, err := eval.LinearProbe(xtr, ytr, xte, yte, 2, eval.ProbeConfig{Epochs: 20, LR: 1e-2})
	if err != nil {
		panic(err)
	}
	mlp, err := eval.MLPProbe(xtr, ytr, xte, yte, 2, eval.MLPConfig{Epochs: 5, LR: 1e-2})
	if err != nil {
		panic(err)
	}
	fmt.Printf("linear %.1f, mlp %.1f\n", lin.TestAcc, mlp.TestAcc)
	// Output:
	// linear 1.0, mlp 1.0
}
