package optim

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// Schedule gives the learning rate for an epoch (counted from 0), in closed
// form like PyTorch's schedulers' _get_closed_form_lr: it keeps no state, so
// a resumed run needs only its epoch number. Negative epochs count as 0.
//
// Call Apply (or opt.SetLR(s(epoch))) at the start of each epoch; a
// schedule may equally be indexed by step rather than epoch.
type Schedule func(epoch int) float64

// Apply sets opt's learning rate to s(epoch).
func (s Schedule) Apply(opt Optimizer, epoch int) { opt.SetLR(s(epoch)) }

// Constant returns a schedule that is always lr.
func Constant(lr float64) Schedule {
	return func(int) float64 { return lr }
}

// StepLR returns torch.optim.lr_scheduler.StepLR's schedule:
// base * gamma^floor(epoch/stepSize). It returns an error if stepSize < 1.
func StepLR(base float64, stepSize int, gamma float64) (Schedule, error) {
	if stepSize < 1 {
		return nil, fmt.Errorf("optim: StepLR: invalid step size %d (want >= 1)", stepSize)
	}
	return func(epoch int) float64 {
		return base * math.Pow(gamma, float64(max(epoch, 0)/stepSize))
	}, nil
}

// MultiStepLR returns torch.optim.lr_scheduler.MultiStepLR's schedule:
// base * gamma^k, where k counts the milestones <= epoch (a milestone listed
// twice counts twice). The milestones need not be sorted; they are copied.
func MultiStepLR(base float64, milestones []int, gamma float64) Schedule {
	ms := slices.Clone(milestones)
	slices.Sort(ms)
	return func(epoch int) float64 {
		epoch = max(epoch, 0)
		k := sort.Search(len(ms), func(i int) bool { return ms[i] > epoch })
		return base * math.Pow(gamma, float64(k))
	}
}

// CosineAnnealing returns torch.optim.lr_scheduler.CosineAnnealingLR's
// closed form: minLR + (base-minLR)*(1+cos(pi*epoch/tMax))/2 for epochs up
// to tMax, then minLR. It returns an error if tMax < 1.
func CosineAnnealing(base, minLR float64, tMax int) (Schedule, error) {
	if tMax < 1 {
		return nil, fmt.Errorf("optim: CosineAnnealing: invalid tMax %d (want >= 1)", tMax)
	}
	return func(epoch int) float64 {
		e := min(max(epoch, 0), tMax)
		return minLR + (base-minLR)*(1+math.Cos(math.Pi*float64(e)/float64(tMax)))/2
	}, nil
}
