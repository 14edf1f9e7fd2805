package dim

import (
	"fmt"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// globalSpec registers global DIM (paper section 3.1, weight alpha).
var globalSpec = TermSpec{
	Name: "global", Weight: "alpha", MI: true,
	Usage: "weight of global DIM (Y against the whole image)",
	New: func(enc encoder.Encoder, cfg Config, rng *tensor.RNG) (Term, error) {
		t, ok := enc.(encoder.Tailer)
		if !ok {
			return nil, fmt.Errorf("global DIM: encoder %s cannot copy its layers after the local map", enc.Spec().Name)
		}
		return &Global{GlobalMap: t.Tail(cfg.MIUnits, rng), GlobalY: NewMINet(enc.Spec().Out, cfg.MIUnits, rng)}, nil
	},
}

// Global is global DIM: the local map encoded by a copy of the rest of the
// encoder (ending in mi_units outputs) is scored against Y's MI-network
// encoding.
type Global struct {
	GlobalMap nn.Module
	GlobalY   *MINet
	cache     mi.Cache
}

// Loss implements Term: the MI estimator's loss on the [N, N] scores.
func (g *Global) Loss(s *Step) (*autograd.Var, error) {
	tp := s.Tape
	gx := g.GlobalMap.Forward(tp, s.F.Local) // [N, units]
	gy := g.GlobalY.Forward(tp, s.F.Y)       // [N, units]
	u := tp.MatMul(gy, gx, false, true)      // [N, N]
	return g.cache.Loss(tp, s.Config.Measure, u)
}
