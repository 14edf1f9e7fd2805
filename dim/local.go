package dim

import (
	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// localSpec registers local DIM (paper section 3.2, weight beta).
var localSpec = TermSpec{
	Name: "local", Weight: "beta", MI: true,
	Usage: "weight of local DIM (Y against every location of the local map)",
	New: func(enc encoder.Encoder, cfg Config, rng *tensor.RNG) (Term, error) {
		shape, err := enc.TapShape(encoder.TapLocal)
		if err != nil {
			return nil, err
		}
		return &Local{
			LocalMap: NewMINet(shape[0], cfg.MIUnits, rng),
			LocalY:   NewMINet(enc.Spec().Out, cfg.MIUnits, rng),
		}, nil
	},
}

// Local is local DIM: every location of the local map of sample j is
// scored against Y of sample i by the dot product of their MI-network
// encodings ("encode-and-dot"); pairs with i == j are positives.
type Local struct {
	LocalMap, LocalY *MINet
	cache            mi.Cache
}

// Loss implements Term: the MI estimator's loss on the [N, N*H*W] scores.
func (l *Local) Loss(s *Step) (*autograd.Var, error) {
	tp := s.Tape
	lm := l.LocalMap.Forward(tp, rows(tp, s.F.Local)) // [N*H*W, units]
	gy := l.LocalY.Forward(tp, s.F.Y)                 // [N, units]
	u := tp.MatMul(gy, lm, false, true)               // [N, N*H*W]
	return l.cache.Loss(tp, s.Config.Measure, u)
}
