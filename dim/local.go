package dim

import (
	"fmt"

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
		if err := checkSamples("local", cfg.LocalSamples, encoder.TapLocal, shape, enc); err != nil {
			return nil, err
		}
		gDim := enc.Spec().Out
		if cfg.Globals != "" {
			gs, err := enc.TapShape(cfg.Globals)
			if err != nil {
				return nil, fmt.Errorf("--globals: %w", err)
			}
			if len(gs) != 3 {
				return nil, fmt.Errorf("--globals %s: tap of shape %v is not a feature map", cfg.Globals, gs)
			}
			if err := checkSamples("global", cfg.GlobalSamples, cfg.Globals, gs, enc); err != nil {
				return nil, err
			}
			gDim = gs[0]
		}
		l := &Local{rng: tensor.NewRNG(0)}
		if cfg.Score == ScoreConcat {
			l.LocalScore = NewConcatScore(shape[0], gDim, cfg.MIUnits, rng)
		} else {
			l.LocalMap = NewMINet(shape[0], cfg.MIUnits, rng)
			l.LocalY = NewMINet(gDim, cfg.MIUnits, rng)
		}
		return l, nil
	},
}

// checkSamples reports a number of samples per image (Config.LocalSamples
// or GlobalSamples, named by what) larger than the locations of the map
// of shape [C,H,W] the encoder's tap holds: drawn with replacement, more
// draws than locations would only repeat them at a higher cost.
func checkSamples(what string, k int, tap string, shape []int, enc encoder.Encoder) error {
	if locs := shape[1] * shape[2]; k > locs {
		return fmt.Errorf("%d %s samples per image (--%s-samples): encoder %s's %s map has only %dx%d = %d locations; use at most %d, or 0 for all",
			k, what, what, enc.Spec().Name, tap, shape[1], shape[2], locs, locs)
	}
	return nil
}

// Local is local DIM: every location of the local map of sample j is
// scored against Y of sample i; pairs with i == j are positives. The score
// is encode-and-dot (LocalMap, LocalY) or concat-and-convolve (LocalScore),
// per Config.Score. With Config.LocalSamples k, k locations per image are
// drawn (from seed and step) instead of all. With Config.Globals, the
// rows of that feature-map tap (every location a global vector; the
// reference's multiple globals) take Y's place, optionally sub-sampled to
// Config.GlobalSamples per image; their scores against a location all
// count as that image's pairs.
type Local struct {
	LocalMap, LocalY *MINet
	LocalScore       *ConcatScore
	cache            mi.Cache
	rng              *tensor.RNG
	lidx, gidx       []int
}

// Loss implements Term: the MI estimator's loss on the [N, N*L*M] scores
// (M globals per image, 1 without Config.Globals).
func (l *Local) Loss(s *Step) (*autograd.Var, error) {
	tp, cfg := s.Tape, s.Config
	sh := s.F.Local.Value.Shape
	n, locs := sh[0], sh[2]*sh[3]
	c := rows(tp, s.F.Local) // [N*L, C]
	if cfg.LocalSamples > 0 || cfg.GlobalSamples > 0 {
		l.rng.Seed(cfg.Seed*0x8ebc6af09c88c6e3 ^ uint64(s.Batch.Step+1)*0x589965cc75374cc3)
	}
	if k := cfg.LocalSamples; k > 0 {
		c, locs = sampleRows(tp, c, n, locs, k, l.rng, &l.lidx), k
	}
	g, m := s.F.Y, 1 // [N*M, D] global vectors
	if cfg.Globals != "" {
		gm, err := s.F.Tap(cfg.Globals)
		if err != nil {
			return nil, err
		}
		g, m = rows(tp, gm), gm.Value.Shape[2]*gm.Value.Shape[3]
		if k := cfg.GlobalSamples; k > 0 {
			g, m = sampleRows(tp, g, n, m, k, l.rng, &l.gidx), k
		}
	}
	var u *autograd.Var // [N*M, N*L]
	if l.LocalScore != nil {
		u = l.LocalScore.Scores(tp, g, c)
	} else {
		lm := l.LocalMap.Forward(tp, c) // [N*L, units]
		gy := l.LocalY.Forward(tp, g)   // [N*M, units]
		u = tp.MatMul(gy, lm, false, true)
	}
	if m > 1 {
		// [N, M, N, L] -> [N, N, L, M]: image i's row holds every pair of
		// its globals with every location of every image.
		u = tp.Reshape(tp.Permute(tp.Reshape(u, n, m, n, locs), 0, 2, 3, 1), n, n*locs*m)
	}
	return l.cache.Loss(tp, cfg.Measure, u)
}
