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
// A typical training step:
//
//	opt := optim.NewAdam(params, optim.AdamConfig{LR: 1e-4})
//	sched := optim.MultiStepLR(1e-4, []int{30, 60}, 0.1)
//	for epoch := 0; epoch < epochs; epoch++ {
//		sched.Apply(opt, epoch)
//		for _, batch := range batches {
//			opt.ZeroGrad()
//			// forward, tape.Backward(loss) ...
//			opt.Step()
//		}
//	}
package optim
