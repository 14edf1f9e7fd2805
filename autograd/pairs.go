package autograd

import "github.com/deepinfomax/deepinfomax/kernels"

// PairFunc is an estimator's term at one score u of a score matrix: its
// value f and derivative df, for a positive pair (the joint distribution)
// when positive is true and a negative pair (the product of marginals)
// otherwise. It must be safe for concurrent use.
type PairFunc func(u float32, positive bool) (f, df float32)

// PairMeans returns, for scores u [N, N*L] whose positives are the columns
// i*L .. i*L+L-1 of row i (the layout of mi's score matrices), the scalar
//
//	mean over negatives of f(u, false) - mean over positives of f(u, true)
//
// the form of the Jensen-Shannon and f-divergence losses of Deep InfoMax
// (E_neg[f*(u)] - E_pos[T(u)], the reference's get_positive_expectation /
// get_negative_expectation). It evaluates f once per score, where the
// reference's formulation applies both terms to the whole matrix and masks
// them, and splits the rows across the worker pool; the row sums are
// accumulated in float64 and added in row order, so the result does not
// depend on the number of workers. N must be at least 2.
func (tp *Tape) PairMeans(u *Var, f PairFunc) *Var {
	return tp.pairMeans(u, f, nil)
}

// PairSliceFunc is an estimator's term on a run of scores u that are all
// positive pairs or all negative pairs: it sets f[i] and df[i] (as long as
// u) as PairFunc does for u[i]. It must be safe for concurrent use.
type PairSliceFunc func(u, f, df []float32, positive bool)

// PairMeansSlices is PairMeans with the term evaluated on runs of scores
// (each row's negatives before its positives, its positives, the negatives
// after), for terms with a vectorised form (mi's JSD and GAN use
// kernels.SoftplusNeg). The sums are the same, in the same order, as
// PairMeans's with the element-wise term.
func (tp *Tape) PairMeansSlices(u *Var, f PairSliceFunc) *Var {
	return tp.pairMeans(u, nil, f)
}

// pairMeans is PairMeans with f, or PairMeansSlices with fs.
func (tp *Tape) pairMeans(u *Var, f PairFunc, fs PairSliceFunc) *Var {
	if tp.failed() || tp.bad("pairmeans", "u", u) {
		return tp.newVar(1)
	}
	if f == nil && fs == nil {
		return tp.fail("pairmeans: nil function")
	}
	s := u.Value.Shape
	if len(s) != 2 || s[0] < 2 || s[1] < s[0] || s[1]%s[0] != 0 {
		return tp.fail("pairmeans: scores of shape %v: want [N, N*L] with N >= 2, L >= 1", s)
	}
	n, l := s[0], s[1]/s[0]
	out := tp.newVar(1)
	df := tp.Buffer(n, n*l)
	j := getPairJob()
	j.n, j.l, j.f, j.fs, j.u, j.df = n, l, f, fs, u.Value.Data, df.Data
	if fs != nil {
		j.fv = tp.Buffer(n, n*l).Data // the terms, summed after each row
	}
	if cap(j.rowPos) < n {
		j.rowPos, j.rowNeg = make([]float64, n), make([]float64, n)
	}
	j.rowPos, j.rowNeg = j.rowPos[:n], j.rowNeg[:n]
	if n*n*l >= pairParallelMin {
		kernels.ParallelFor(n, j.fn)
	} else {
		j.rows(0, n)
	}
	var pos, neg float64
	for i := range n {
		pos += j.rowPos[i]
		neg += j.rowNeg[i]
	}
	j.put()
	out.Value.Data[0] = float32(neg/float64(n*(n-1)*l) - pos/float64(n*l))
	if nd := tp.record(pairMeansBackward, out, u); nd != nil {
		nd.aux[0] = df
		nd.ints[0] = l
	}
	return out
}

// pairParallelMin is the number of scores from which PairMeans splits its
// rows across the worker pool.
const pairParallelMin = 1 << 14

// pairMeansBackward adds g * (+1/(N(N-1)L) for negatives, -1/(NL) for
// positives) * f'(u) into the scores' gradient.
func pairMeansBackward(tp *Tape, nd *node) {
	u := nd.in[0]
	n, l := u.Value.Shape[0], nd.ints[0]
	g := float64(nd.out.Grad.Data[0])
	gt, fresh := tp.gradOut(u)
	j := getPairJob()
	j.n, j.l, j.df, j.gu, j.fresh = n, l, nd.aux[0].Data, gt.Data, fresh
	j.cPos = float32(-g / float64(n*l))
	j.cNeg = float32(g / float64(n*(n-1)*l))
	if n*n*l < pairParallelMin {
		j.backRows(0, n)
	} else {
		kernels.ParallelFor(n, j.bfn)
	}
	j.put()
}

// backRows writes (or adds) the gradient of rows [lo, hi) of the scores:
// each score's derivative scaled by its mean's weight (the rows split
// across cores change no value).
func (j *pairJob) backRows(lo, hi int) {
	w := j.n * j.l
	for i := lo; i < hi; i++ {
		// Row i: negatives, its L positives, negatives.
		for _, seg := range [3][3]int{{0, i * j.l, 0}, {i * j.l, (i + 1) * j.l, 1}, {(i + 1) * j.l, w, 0}} {
			scale := j.cNeg
			if seg[2] == 1 {
				scale = j.cPos
			}
			d, o := j.df[i*w+seg[0]:i*w+seg[1]], j.gu[i*w+seg[0]:i*w+seg[1]]
			if j.fresh {
				for k, v := range d {
					o[k] = scale * v
				}
			} else {
				for k, v := range d {
					o[k] += scale * v
				}
			}
		}
	}
}

// pairJob carries one PairMeans call to the worker pool.
type pairJob struct {
	n, l           int
	f              PairFunc
	fs             PairSliceFunc
	u, df, fv      []float32
	rowPos, rowNeg []float64
	fn             func(lo, hi int) // j.rows, bound once

	// The backward pass's: the scores' gradient, whether it is fresh, and
	// the positive and negative means' weights.
	gu         []float32
	fresh      bool
	cPos, cNeg float32
	bfn        func(lo, hi int) // j.backRows, bound once
}

var pairJobs = freeList[pairJob]{init: func(j *pairJob) { j.fn, j.bfn = j.rows, j.backRows }}

func getPairJob() *pairJob { return pairJobs.get() }

func (j *pairJob) put() {
	j.f, j.fs, j.u, j.df, j.fv, j.gu = nil, nil, nil, nil, nil, nil
	pairJobs.put(j)
}

// rows evaluates rows [lo, hi): each row's positive and negative sums and
// every score's derivative.
func (j *pairJob) rows(lo, hi int) {
	w := j.n * j.l
	for i := lo; i < hi; i++ {
		u, df := j.u[i*w:(i+1)*w], j.df[i*w:(i+1)*w]
		var pos, neg float64
		p0, p1 := i*j.l, (i+1)*j.l
		if j.fs != nil {
			fv := j.fv[i*w : (i+1)*w]
			j.fs(u[:p0], fv[:p0], df[:p0], false)
			j.fs(u[p0:p1], fv[p0:p1], df[p0:p1], true)
			j.fs(u[p1:], fv[p1:], df[p1:], false)
			for _, v := range fv[:p0] {
				neg += float64(v)
			}
			for _, v := range fv[p0:p1] {
				pos += float64(v)
			}
			for _, v := range fv[p1:] {
				neg += float64(v)
			}
			j.rowPos[i], j.rowNeg[i] = pos, neg
			continue
		}
		for c, v := range u {
			positive := c >= p0 && c < p1
			f, d := j.f(v, positive)
			df[c] = d
			if positive {
				pos += float64(f)
			} else {
				neg += float64(f)
			}
		}
		j.rowPos[i], j.rowNeg[i] = pos, neg
	}
}
