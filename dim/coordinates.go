package dim

import (
	"fmt"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Coordinate prediction modes (Config.Coordinates).
const (
	// CoordAbs predicts each local feature's own location (i, j) from it
	// and Y (the reference's CoordinatePredictor, cortex_DIM/models/
	// coordinates.py; the paper's Table 4).
	CoordAbs = "abs"
	// CoordRel predicts where another local feature of the same image lies
	// relative to this one, (k-i, l-j), from both and Y.
	CoordRel = "rel"
)

// coordSpec registers coordinate prediction (weight "coord").
var coordSpec = TermSpec{
	Name: "coordinates", Weight: "coord", Metrics: []string{"coord_acc"},
	Usage: "weight of coordinate prediction (--coordinates sets the mode and, alone, a weight of 1)",
	New: func(enc encoder.Encoder, cfg Config, rng *tensor.RNG) (Term, error) {
		shape, err := enc.TapShape(encoder.TapLocal)
		if err != nil {
			return nil, err
		}
		c, h, w := shape[0], shape[1], shape[2]
		t := &Coordinates{Mode: cfg.Coordinates, h: h, w: w, rng: tensor.NewRNG(0), zeros: &tensor.Tensor{}}
		if t.Mode == "" {
			t.Mode = CoordAbs
		}
		in, rowsK, colsK := c+enc.Spec().Out, h, w
		if t.Mode == CoordRel {
			in, rowsK, colsK = 2*c+enc.Spec().Out, 2*h-1, 2*w-1
		}
		t.CoordNet = NewMINet(in, rowsK+colsK, rng)
		t.rowsK = rowsK
		return t, nil
	},
}

// Coordinates is coordinate prediction: every location (i, j) of the
// local map, concatenated with Y (broadcast over the map), goes through a
// 1x1 MI network (the reference's MI1x1ConvNet) whose outputs are logits
// over rows and over columns; the loss is the softmax cross-entropy of the
// row plus that of the column, averaged over locations and images. In
// CoordRel mode each location is paired with another of the same image,
// drawn uniformly (itself included) from (seed, step), and the classes are
// the offsets k-i in [-(H-1), H-1] and l-j in [-(W-1), W-1]. Its metric
// coord_acc is the mean of the row and column accuracies.
type Coordinates struct {
	CoordNet *MINet
	Mode     string

	h, w, rowsK      int
	rowLab, colLab   []int
	partner          []int
	rng              *tensor.RNG
	zeros            *tensor.Tensor
	rowsOut, colsOut *autograd.Var
	ins              []*autograd.Var
}

// Loss implements Term.
func (c *Coordinates) Loss(s *Step) (*autograd.Var, error) {
	tp := s.Tape
	sh := s.F.Local.Value.Shape
	n, hw := sh[0], sh[2]*sh[3]
	if sh[2] != c.h || sh[3] != c.w {
		return nil, fmt.Errorf("coordinates: local map %v, built for %dx%d", sh, c.h, c.w)
	}
	loc := rows(tp, s.F.Local) // [N*HW, C]
	c.labels(n, s)
	c.ins = append(c.ins[:0], loc)
	if c.Mode == CoordRel {
		c.ins = append(c.ins, tp.Gather(loc, c.partner))
	}
	c.ins = append(c.ins, broadcastRows(tp, s.F.Y, hw, c.zeros))
	logits := c.CoordNet.Forward(tp, tp.Concat(1, c.ins...)) // [N*HW, rows+cols]
	c.rowsOut = tp.Slice(logits, 1, 0, c.rowsK)
	c.colsOut = tp.Slice(logits, 1, c.rowsK, logits.Value.Shape[1])
	return tp.Add(tp.CrossEntropy(c.rowsOut, c.rowLab), tp.CrossEntropy(c.colsOut, c.colLab)), tp.Err()
}

// labels fills the row and column classes of every location of n images
// (and, in CoordRel mode, draws the partners).
func (c *Coordinates) labels(n int, s *Step) {
	hw := c.h * c.w
	c.rowLab, c.colLab = resizeInts(c.rowLab, n*hw), resizeInts(c.colLab, n*hw)
	if c.Mode != CoordRel {
		for r := range c.rowLab {
			p := r % hw
			c.rowLab[r], c.colLab[r] = p/c.w, p%c.w
		}
		return
	}
	c.partner = resizeInts(c.partner, n*hw)
	c.rng.Seed(s.Config.Seed*0xd1b54a32d192ed03 ^ uint64(s.Batch.Step+1)*0x94d049bb133111eb)
	for r := range c.partner {
		p, q := r%hw, c.rng.IntN(hw)
		c.partner[r] = r - p + q
		c.rowLab[r] = q/c.w - p/c.w + c.h - 1
		c.colLab[r] = q%c.w - p%c.w + c.w - 1
	}
}

// Metrics implements Metered: coord_acc, the mean of the row and column
// accuracies of the last Loss.
func (c *Coordinates) Metrics(out []float32) {
	out[0] = (nn.Accuracy(c.rowsOut.Value, c.rowLab) + nn.Accuracy(c.colsOut.Value, c.colLab)) / 2
}

// broadcastRows repeats each row of y [N,D] hw times: [N*hw, D], by adding
// y to a zero tensor (zeros is resized and cleared as scratch).
func broadcastRows(tp *autograd.Tape, y *autograd.Var, hw int, zeros *tensor.Tensor) *autograd.Var {
	n, d := y.Value.Shape[0], y.Value.Shape[1]
	zeros.Resize(n, hw, d)
	zeros.Zero()
	return tp.Reshape(tp.Add(tp.Const(zeros), tp.Reshape(y, n, 1, d)), n*hw, d)
}

// resizeInts returns s with length n, reusing its storage when it can.
func resizeInts(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}
