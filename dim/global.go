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
		g := &Global{GlobalMap: t.Tail(cfg.MIUnits, rng)}
		if cfg.Score == ScoreConcat {
			g.GlobalScore = NewConcatScore(cfg.MIUnits, enc.Spec().Out, cfg.MIUnits, rng)
		} else {
			g.GlobalY = NewMINet(enc.Spec().Out, cfg.MIUnits, rng)
		}
		return g, nil
	},
}

// Global is global DIM: the local map encoded by a copy of the rest of the
// encoder (ending in mi_units outputs) is scored against Y: by the dot
// product with Y's MI-network encoding (GlobalY), or by a
// concat-and-convolve network (GlobalScore), per Config.Score.
type Global struct {
	GlobalMap   nn.Module
	GlobalY     *MINet
	GlobalScore *ConcatScore
	cache       mi.Cache
}

// Loss implements Term: the MI estimator's loss on the [N, N] scores.
func (g *Global) Loss(s *Step) (*autograd.Var, error) {
	tp := s.Tape
	gx := g.GlobalMap.Forward(tp, s.F.Local) // [N, units]
	var u *autograd.Var                      // [N, N]
	if g.GlobalScore != nil {
		u = g.GlobalScore.Scores(tp, s.F.Y, gx)
	} else {
		gy := g.GlobalY.Forward(tp, s.F.Y) // [N, units]
		u = tp.MatMul(gy, gx, false, true)
	}
	return g.cache.Loss(tp, s.Config.Measure, u)
}
