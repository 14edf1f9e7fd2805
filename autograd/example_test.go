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

// A residual connection followed by LayerNorm, as one op: the same values
// and gradients as LayerNorm(Add(x, r)), with fewer passes over memory.
func ExampleTape_AddLayerNorm() {
	x := autograd.NewParam(&tensor.Tensor{Shape: []int{2, 3}, Data: []float32{1, 2, 3, 0, 0, 1}})
	r := autograd.NewParam(&tensor.Tensor{Shape: []int{2, 3}, Data: []float32{0, 0, 1, 2, 4, 6}})
	tp := autograd.NewTape()
	y := tp.AddLayerNorm(x, r, nil, nil, 1e-5)
	// A loss that weighs the normalised values unequally.
	loss := tp.Sum(tp.Mul(y, tp.Const(&tensor.Tensor{Shape: []int{2, 3}, Data: []float32{1, 0, 0, 0, 0, 1}})))
	if err := tp.Backward(loss); err != nil {
		panic(err)
	}
	fmt.Printf("y %.3f\nx grad %.3f\nr grad %.3f\n", y.Value.Data, x.Grad.Data, r.Grad.Data)
	// Output:
	// y [-1.069 -0.267 1.336 -1.136 -0.162 1.298]
	// x grad [0.229 -0.344 0.115 0.077 -0.128 0.051]
	// r grad [0.229 -0.344 0.115 0.077 -0.128 0.051]
}

// A block and its linear shortcut summed: x1 w1^T + b + x2 w2^T, the same
// values and gradients as adding two Linear ops.
func ExampleTape_LinearSum() {
	x1 := autograd.NewParam(&tensor.Tensor{Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}})
	w1 := autograd.NewParam(&tensor.Tensor{Shape: []int{1, 2}, Data: []float32{1, -1}})
	b := autograd.NewParam(&tensor.Tensor{Shape: []int{1}, Data: []float32{0.5}})
	x2 := autograd.NewParam(&tensor.Tensor{Shape: []int{2, 1}, Data: []float32{10, 20}})
	w2 := autograd.NewParam(&tensor.Tensor{Shape: []int{1, 1}, Data: []float32{0.1}})
	tp := autograd.NewTape()
	y := tp.LinearSum(x1, w1, b, x2, w2)
	if err := tp.Backward(tp.Sum(y)); err != nil {
		panic(err)
	}
	fmt.Println(y.Value.Data, w1.Grad.Data, x2.Grad.Data, b.Grad.Data)
	// Output:
	// [0.5 1.5] [4 6] [0.1 0.1] [2]
}

// Where a step's time goes, operation by operation (dim bench --ops): the
// timer counts each operation's forward and backward pass by its output's
// shape.
func ExampleOpTimer() {
	x := autograd.NewConst(&tensor.Tensor{Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}})
	w := autograd.NewParam(&tensor.Tensor{Shape: []int{4, 3}, Data: make([]float32, 12)})
	tp := autograd.NewTape()
	timer := autograd.NewOpTimer()
	tp.SetOpTimer(timer)
	for range 3 { // three steps
		tp.Reset()
		timer.Mark()
		if err := tp.Backward(tp.Mean(tp.Linear(x, w, nil))); err != nil {
			panic(err)
		}
	}
	for _, o := range timer.Times() {
		if o.Op == "linear" {
			fmt.Println(o.Pass, o.Op, o.Shape, o.Calls, o.Total > 0)
		}
	}
	// Unordered output:
	// forward linear [2 4] 3 true
	// backward linear [2 4] 3 true
}
