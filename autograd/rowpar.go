package autograd

import "github.com/deepinfomax/deepinfomax/kernels"

// Element-wise passes over large activations that ran on one core while the
// other waited: a Linear op's bias gradient, ReLU's backward pass and the
// addition of a gradient into a buffer that already holds one (the bias
// broadcast is now kernels.SgemmBias's, block by block in cache).
// Each element gets the same operations in the same order as the one-core
// loops, so the results are bit for bit the same; only the
// split of the work across cores changes.

// rowJob kinds.
const (
	rowBiasGrad    = iota // gb[c] += sum over rows i of g[i, c] (columns split)
	rowReLUBack           // gx = g where y > 0, else 0
	rowReLUBackAdd        // gx += g where y > 0
	rowAdd                // dst += a (a gradient added into another's buffer)
)

// rowParMin is the number of elements from which a pass is split across
// cores (normParMin's threshold: below it the hand-off costs more).
const rowParMin = normParMin

// rowJob is one such pass; fn is run bound once so that it allocates
// nothing.
type rowJob struct {
	kind       int
	dst, a, b  []float32
	rows, cols int
	fn         func(lo, hi int)
}

var rowJobs = freeList[rowJob]{init: func(j *rowJob) { j.fn = j.run }}

// rowPass runs a pass of the given kind over rows x cols elements (for the
// ReLU and add kinds, rows is 1 and cols the length), split across cores
// when it is large enough.
func rowPass(kind int, dst, a, b []float32, rows, cols int) {
	items := cols // columns of the bias gradient, values of ReLU's
	if rows*cols < rowParMin || items < 2 {
		runRowPass(kind, dst, a, b, rows, cols, 0, items)
		return
	}
	j := rowJobs.get()
	j.kind, j.dst, j.a, j.b, j.rows, j.cols = kind, dst, a, b, rows, cols
	kernels.ParallelFor(items, j.fn)
	j.dst, j.a, j.b = nil, nil, nil
	rowJobs.put(j)
}

func (j *rowJob) run(lo, hi int) { runRowPass(j.kind, j.dst, j.a, j.b, j.rows, j.cols, lo, hi) }

// runRowPass runs items [lo, hi) of a pass: columns for rowBiasGrad,
// elements for the ReLU kinds.
func runRowPass(kind int, dst, a, b []float32, rows, cols, lo, hi int) {
	switch kind {
	case rowBiasGrad: // dst = gb [cols], a = g [rows, cols]
		for i := 0; i < rows; i++ {
			kernels.Add(dst[lo:hi], dst[lo:hi], a[i*cols+lo:i*cols+hi])
		}
	case rowReLUBack: // dst = gx, a = g, b = y
		kernels.ReLUBackward(dst[lo:hi], a[lo:hi], b[lo:hi])
	case rowReLUBackAdd:
		kernels.ReLUBackwardAdd(dst[lo:hi], a[lo:hi], b[lo:hi])
	case rowAdd:
		kernels.Add(dst[lo:hi], dst[lo:hi], a[lo:hi])
	}
}
