package autograd_test

import (
	"fmt"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// The gradient of mean((w*x)^2) with respect to w.
func Example() {
	x, _ := tensor.FromSlice([]float32{1, 2, 3}, 3)
	w := autograd.NewParam(&tensor.Tensor{Shape: []int{3}, Data: []float32{0.5, -1, 2}})
	tp := autograd.NewTape()
	loss := tp.Mean(tp.Square(tp.Mul(w, tp.Const(x))))
	if err := tp.Backward(loss); err != nil {
		panic(err)
	}
	fmt.Printf("loss %.4f\ngrad %v\n", loss.Item(), w.Grad.Data)
	// Output:
	// loss 13.4167
	// grad [0.33333334 -2.6666667 12]
}
