package dim

import (
	"fmt"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Score functions (Config.Score): how a pair (Y_i, feature_j) is scored.
const (
	// ScoreDot is "encode-and-dot": both sides through 1x1 MI networks
	// (MINet) of MIUnits outputs, the score their dot product (the
	// reference's default; paper section 3.1).
	ScoreDot = "dot"
	// ScoreConcat is "concat-and-convolve": the feature and Y
	// concatenated, then 1x1 convolutions MIUnits-MIUnits-1 with ReLU
	// (the paper used 512-512-1).
	ScoreConcat = "concat"
)

// ConcatScore is the concat-and-convolve score network. Its first layer on
// the concatenation [f; y] is computed as Wf f + Wy y + b, each side once,
// the pairs formed by broadcasting their sum ([N, R, units] for N vectors
// y and R features f): the features are never copied per pair. The other
// layers see every pair, so the cost grows with N*R (sub-sample locations
// for large maps).
type ConcatScore struct {
	F  *nn.Linear // features -> units, no bias
	Y  *nn.Linear // y -> units, with the first layer's bias
	L2 *nn.Linear // units -> units
	L3 *nn.Linear // units -> 1
}

// NewConcatScore returns a concat-and-convolve score of features of
// width inF and vectors of width inY, with hidden width units.
func NewConcatScore(inF, inY, units int, rng *tensor.RNG) *ConcatScore {
	return &ConcatScore{
		F:  nn.NewLinear(inF, units, false, rng),
		Y:  nn.NewLinear(inY, units, true, rng),
		L2: nn.NewLinear(units, units, true, rng),
		L3: nn.NewLinear(units, 1, true, rng),
	}
}

// Scores returns u [N, R] with u[i, r] the score of (y_i, f_r), for y
// [N, inY] and f [R, inF].
func (c *ConcatScore) Scores(tp *autograd.Tape, y, f *autograd.Var) *autograd.Var {
	n, r := y.Value.Shape[0], f.Value.Shape[0]
	a := c.F.Forward(tp, f) // [R, units]
	b := c.Y.Forward(tp, y) // [N, units]
	units := a.Value.Shape[1]
	h := tp.Add(tp.Reshape(a, 1, r, units), tp.Reshape(b, n, 1, units)) // [N, R, units]
	h = tp.ReLU(tp.Reshape(h, n*r, units))
	h = tp.ReLU(c.L2.Forward(tp, h))
	return tp.Reshape(c.L3.Forward(tp, h), n, r)
}

// sampleRows gathers k of every block of l rows of x [N*l, C] (one block
// per image), drawn uniformly with replacement from rng as the reference's
// sample_locations: [N*k, C]. idx is reused scratch.
func sampleRows(tp *autograd.Tape, x *autograd.Var, n, l, k int, rng *tensor.RNG, idx *[]int) *autograd.Var {
	*idx = resizeInts(*idx, n*k)
	for i := range n {
		for j := range k {
			(*idx)[i*k+j] = i*l + rng.IntN(l)
		}
	}
	return tp.Gather(x, *idx)
}

// validateScore reports an unknown score function or bad sample counts.
func (c Config) validateScore() error {
	switch {
	case c.Score != "" && c.Score != ScoreDot && c.Score != ScoreConcat:
		return fmt.Errorf("score %q: want dot or concat", c.Score)
	case c.LocalSamples < 0 || c.GlobalSamples < 0 || c.LocalSamples > MaxSamples || c.GlobalSamples > MaxSamples:
		return fmt.Errorf("local and global samples must be 0 to %d, got %d and %d", MaxSamples, c.LocalSamples, c.GlobalSamples)
	}
	return nil
}
