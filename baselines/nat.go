package baselines

import (
	"fmt"
	"math"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

var natSpec = Spec{
	Name: "nat",
	Doc:  "noise as targets (Bojanowski and Joulin 2017): unit-norm Y pulled to fixed random targets on the sphere, reassigned per batch",
	New: func(o Options, enc encoder.Spec) (train.Method, error) {
		if o.Samples < 1 {
			return nil, fmt.Errorf("nat: %d training images: one target each is needed", o.Samples)
		}
		rng := tensor.NewRNG(o.Seed)
		e, err := encoder.New(enc, rng)
		if err != nil {
			return nil, err
		}
		d := e.Spec().Out
		st := &natState{targets: tensor.New(o.Samples, d), assign: tensor.New(o.Samples)}
		unitSphere(rng, st.targets)
		for i := range o.Samples {
			st.assign.Data[i] = float32(i)
		}
		m := &NAT{base: base{Enc: e}, NAT: st}
		return m, m.init(m, "nat", o)
	},
}

// NAT is noise as targets (Bojanowski and Joulin, "Unsupervised learning
// by predicting noise", ICML 2017): every training image owns one target,
// drawn once uniformly on the unit sphere of Y's dimension; the encoder
// minimises the mean squared distance between its L2-normalised Y and the
// targets of the batch's images, and before each step the batch's targets
// are reassigned among its images by the Hungarian algorithm so that the
// total distance is least. Targets and assignment are buffers of the
// checkpoint ("nat.targets", "nat.assign"), so a resumed run continues
// exactly.
type NAT struct {
	base
	NAT *natState

	z, t      *tensor.Tensor
	cost      []float64
	tidx      []int
	hungarian hungarianScratch
}

// natState is the targets [images, d] and the target index of each image
// (as float32: exact up to 2^24 images).
type natState struct {
	targets, assign *tensor.Tensor
}

// Collect implements nn.Collector: the targets and the assignment are
// buffers.
func (s *natState) Collect(prefix string, st *nn.State) {
	st.AddBuffer(prefix+"targets", s.targets)
	st.AddBuffer(prefix+"assign", s.assign)
}

// unitSphere fills x [n,d] with independent uniform draws on the unit
// sphere (normalised Gaussians).
func unitSphere(rng *tensor.RNG, x *tensor.Tensor) {
	rng.Normal(x, 0, 1)
	d := x.Shape[1]
	for r := range x.Shape[0] {
		normalizeRow(x.Data[r*d : (r+1)*d])
	}
}

func normalizeRow(row []float32) {
	var s float64
	for _, v := range row {
		s += float64(v) * float64(v)
	}
	if s == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range row {
		row[i] *= inv
	}
}

// Step implements train.Method. The batch must have a data-set index per
// image (Index, in [0, Options.Samples)): it picks the image's target.
func (m *NAT) Step(b *train.Batch) ([]train.Loss, error) {
	return m.step(func(tp *autograd.Tape) (*autograd.Var, error) { return m.objective(tp, b) })
}

// Evaluate implements train.Evaluator: the losses Step would report for b
// before its update, the batch's targets reassigned as Step reassigns them
// and the assignment put back (see base.evaluate).
func (m *NAT) Evaluate(b *train.Batch) ([]train.Loss, error) {
	return m.evaluate(func(tp *autograd.Tape) (*autograd.Var, error) { return m.objective(tp, b) })
}

// objective reassigns b's targets among its images and returns the mean
// squared distance of their unit-norm codes to them.
func (m *NAT) objective(tp *autograd.Tape, b *train.Batch) (*autograd.Var, error) {
	if err := checkImages(m.Enc, b); err != nil {
		return nil, err
	}
	if err := checkPerImage("nat", "data-set indices (Index: each image's target)", b.Index, b); err != nil {
		return nil, err
	}
	n := len(b.Index)
	for _, i := range b.Index {
		if i < 0 || i >= m.cfg.Samples {
			return nil, fmt.Errorf("nat: image %d outside the %d images the run has targets for", i, m.cfg.Samples)
		}
	}
	y := m.Enc.Encode(tp, tp.Const(b.X)).Y
	d := y.Value.Shape[1]
	norm := tp.Sqrt(tp.AddScalar(tp.SumAxes(tp.Square(y), []int{1}, true), 1e-12))
	z := tp.Div(y, norm) // [n, d], unit rows
	if err := tp.Err(); err != nil {
		return nil, err
	}
	// The batch's current targets, and the cost of giving target l to
	// image k: |z_k - t_l|^2 = 2 - 2 <z_k, t_l> for unit vectors.
	m.tidx = resize(m.tidx, n)
	if m.t == nil {
		m.t = &tensor.Tensor{}
	}
	m.t.Resize(n, d)
	for k, i := range b.Index {
		m.tidx[k] = int(m.NAT.assign.Data[i])
		copy(m.t.Data[k*d:(k+1)*d], m.NAT.targets.Data[m.tidx[k]*d:(m.tidx[k]+1)*d])
	}
	if cap(m.cost) < n*n {
		m.cost = make([]float64, n*n)
	}
	m.cost = m.cost[:n*n]
	zv := z.Value.Data
	for k := range n {
		for l := range n {
			var dot float64
			for j := range d {
				dot += float64(zv[k*d+j]) * float64(m.t.Data[l*d+j])
			}
			m.cost[k*n+l] = -dot
		}
	}
	perm := assignment(m.cost, n, &m.hungarian)
	if m.z == nil {
		m.z = &tensor.Tensor{}
	}
	m.z.Resize(n, d) // the reassigned targets, in batch order
	for k, l := range perm {
		copy(m.z.Data[k*d:(k+1)*d], m.t.Data[l*d:(l+1)*d])
	}
	for k, l := range perm { // m.tidx is only read here: no copy needed
		m.NAT.assign.Data[b.Index[k]] = float32(m.tidx[l])
	}
	diff := tp.Sub(z, tp.Const(m.z))
	return tp.Scale(tp.Sum(tp.Square(diff)), 1/float32(n)), nil
}

func resize(s []int, n int) []int {
	if cap(s) < n {
		return make([]int, n)
	}
	return s[:n]
}
