// Package optim holds the optimisers that update autograd parameters from
// their accumulated gradients, learning-rate schedules, and gradient
// clipping.
//
// Adam (optionally AdamW) and SGD follow torch.optim exactly, computing in
// float32 with float64 bias-correction scalars. A constructor allocates
// every buffer it will need, so Step allocates nothing; State and LoadState
// export and restore the optimiser's buffers (moments, step count) as named
// tensors for checkpoints, so a resumed run continues bit for bit.
//
// Nothing here panics on bad input. Constructors (NewAdam, NewSGD) and the
// schedules that take a period (StepLR, CosineAnnealing) return an error
// for an invalid configuration or parameter list (an empty one included),
// and ClipGradNorm for a negative or NaN max norm or a nil parameter. Step
// has no error result, since it runs every training step: a parameter
// whose value or gradient changed size since construction is left
// untouched, and the first such problem is kept for the optimiser's Err
// method.
//
// A typical training loop:
//
//	opt, err := optim.NewAdam(params, optim.AdamConfig{LR: 1e-4})
//	if err != nil {
//		return err
//	}
//	sched := optim.MultiStepLR(1e-4, []int{30, 60}, 0.1)
//	for epoch := 0; epoch < epochs; epoch++ {
//		sched.Apply(opt, epoch)
//		for _, batch := range batches {
//			opt.ZeroGrad()
//			// forward, tape.Backward(loss) ...
//			opt.Step()
//		}
//		if err := opt.Err(); err != nil {
//			return err
//		}
//	}
package optim
