package optim_test

import (
	"fmt"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Minimise (w - 3)^2 with Adam, halving the learning rate every 100 steps,
// and checkpoint the optimiser state.
func Example() {
	w := autograd.NewParam(tensor.New(1))
	opt, err := optim.NewAdam([]*autograd.Var{w}, optim.AdamConfig{LR: 0.1})
	if err != nil {
		fmt.Println(err)
		return
	}
	sched, err := optim.StepLR(0.1, 100, 0.5)
	if err != nil {
		fmt.Println(err)
		return
	}
	for step := 0; step < 500; step++ {
		sched.Apply(opt, step)
		opt.ZeroGrad()
		w.EnsureGrad().Data[0] = 2 * (w.Value.Data[0] - 3) // d/dw (w-3)^2
		opt.Step()
	}
	if err := opt.Err(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("w = %.3f, lr = %g\n", w.Value.Data[0], opt.LR())

	state := opt.State() // e.g. for checkpoint.Save alongside the weights
	resumed, err := optim.NewAdam([]*autograd.Var{w}, optim.AdamConfig{LR: 0.1})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := resumed.LoadState(state); err != nil {
		fmt.Println(err)
	}
	fmt.Println("steps:", resumed.Steps(), "entries:", len(state))
	// Output:
	// w = 3.000, lr = 0.00625
	// steps: 500 entries: 3
}

// An invalid configuration is an error, not a panic.
func ExampleNewAdam_invalid() {
	w := autograd.NewParam(tensor.New(1))
	_, err := optim.NewAdam([]*autograd.Var{w}, optim.AdamConfig{Beta1: 1.5})
	fmt.Println(err)
	// Output:
	// optim: adam: invalid beta1 1.5 (want [0,1))
}
