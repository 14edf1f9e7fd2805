package autograd

import (
	"fmt"
	"math"
	"sync"

	"github.com/deepinfomax/deepinfomax/kernels"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Normalisation ops: BatchNorm and LayerNorm.
//
// Both run on large activations every step, so they are written as a few
// streaming passes whose rows (or channels) are split across cores, with
// small out-of-line row kernels that the compiler keeps in registers.
// Per-channel statistics of a
// [N,C] input are accumulated row by row (contiguous inner loops over C) into
// float32 partial sums, one row of partials per chunk of normChunkRows rows,
// which are then reduced in float64. The chunking does not depend on the
// number of cores, so results are bit-for-bit reproducible on any machine.
// Forward statistics are computed on values shifted by the first row, which
// keeps the one-pass variance accurate when the mean is far from zero.

const (
	// normChunkRows is the number of rows summed in float32 before the
	// partial sums are reduced in float64.
	normChunkRows = 64
	// normParMin is the number of elements below which a pass runs on the
	// calling goroutine only.
	normParMin = 1 << 15
	// normRedBlock is the channel block of the float64 reduction of partials.
	normRedBlock = 256
)

// Kinds of parallel passes run by a normJob.
const (
	jobBNStatsRows = iota
	jobBNStatsChans
	jobBNApplyRows
	jobBNApplyChans
	jobBNGradStatsRows
	jobBNGradStatsChans
	jobBNGradApplyRows
	jobBNGradApplyChans
	jobLNForward
	jobLNBackward
	jobSoftmaxForward
	jobSoftmaxBackward
)

// normJob carries the arguments of one parallel pass to kernels.ParallelFor.
// Jobs are recycled through a free list and their fn (bound to run once, at
// creation) is reused, so a pass allocates nothing in steady state.
type normJob struct {
	kind    int
	n, c, s int // rows (or batch), channels (or row length), spatial size
	chunk   int // rows per partial-sum chunk
	x, g, y []float32
	yr      []float32 // BatchNorm backward: the ReLU's output (BatchNormReLU), which masks g
	mean    []float32
	istd    []float32
	a, b, d []float32
	p1, p2  []float32
	sums    []float64 // bnStatsChans: each channel's two sums (2C)
	needX   bool
	needAff bool
	assign  bool      // BatchNorm backward: write dx (a fresh buffer) instead of adding
	r, sum  []float32 // AddLayerNorm: the residual and x+r (forward); r's gradient (backward)
	assign2 bool      // AddLayerNorm backward: write r's gradient instead of adding
	relu    bool      // BatchNorm forward: max(y, 0) (BatchNormReLU)
	mode    int       // variant of a softmax pass
	f       float32   // eps of LayerNorm, gradient scale of CrossEntropy
	fn      func(lo, hi int)
}

var normJobs struct {
	sync.Mutex
	free []*normJob
}

// getNormJob returns a cleared job of the given kind.
func getNormJob(kind int) *normJob {
	normJobs.Lock()
	var j *normJob
	if k := len(normJobs.free); k > 0 {
		j = normJobs.free[k-1]
		normJobs.free = normJobs.free[:k-1]
	}
	normJobs.Unlock()
	if j == nil {
		j = &normJob{}
		j.fn = j.run
	}
	j.kind, j.assign, j.assign2, j.relu = kind, false, false, false
	return j
}

// put clears the job's references and returns it to the free list.
func (j *normJob) put() {
	fn, sums := j.fn, j.sums[:0] // the scratch stays with the job
	*j = normJob{fn: fn, sums: sums}
	normJobs.Lock()
	normJobs.free = append(normJobs.free, j)
	normJobs.Unlock()
}

// growSums sizes j.sums for two sums of each of C channels (the job keeps
// it when recycled, so a warm step allocates nothing).
func (j *normJob) growSums(C int) {
	if cap(j.sums) < 2*C {
		j.sums = make([]float64, 2*C)
	}
	j.sums = j.sums[:2*C]
}

// parallel runs the job over [0, n), across cores when work (a count of
// elements touched) is large enough to pay for it, and recycles the job.
func (j *normJob) parallel(n, work int) {
	if n > 1 && work >= normParMin {
		kernels.ParallelFor(n, j.fn)
	} else {
		j.run(0, n)
	}
	j.put()
}

// run executes the job's pass on items [lo, hi) (rows, chunks, channels or
// blocks, depending on the kind).
func (j *normJob) run(lo, hi int) {
	switch j.kind {
	case jobBNStatsRows:
		bnStatsRows(j, lo, hi)
	case jobBNStatsChans:
		bnStatsChans(j, lo, hi)
	case jobBNApplyRows:
		bnApplyRows(j, lo, hi)
	case jobBNApplyChans:
		bnApplyChans(j, lo, hi)
	case jobBNGradStatsRows:
		bnGradStatsRows(j, lo, hi)
	case jobBNGradStatsChans:
		bnGradStatsChans(j, lo, hi)
	case jobBNGradApplyRows:
		bnGradApplyRows(j, lo, hi)
	case jobBNGradApplyChans:
		bnGradApplyChans(j, lo, hi)
	case jobLNForward:
		lnForwardRows(j, lo, hi)
	case jobLNBackward:
		lnBackwardChunks(j, lo, hi)
	case jobSoftmaxForward:
		softmaxForwardRows(j, lo, hi)
	case jobSoftmaxBackward:
		softmaxBackwardRows(j, lo, hi)
	}
}

// normIsVector reports whether t holds a vector of n elements (shape [n]).
func normIsVector(t *tensor.Tensor, n int) bool {
	return len(t.Shape) == 1 && t.Shape[0] == n && len(t.Data) == n
}

// normCeilDiv returns ceil(a/b) for positive b.
func normCeilDiv(a, b int) int { return (a + b - 1) / b }

// normReducePartials adds the column sums of the [chunks, c] partials p1 and p2
// (row stride c), restricted to the first len(o1) columns, to o1 and o2 in
// float64.
func normReducePartials(p1, p2 []float32, chunks, c int, o1, o2 []float64) {
	w := len(o1)
	o2 = o2[:w]
	for k := 0; k < chunks; k++ {
		r1 := p1[k*c : k*c+w]
		r2 := p2[k*c : k*c+w]
		for i, v := range r1 {
			o1[i] += float64(v)
			o2[i] += float64(r2[i])
		}
	}
}

// BatchNorm normalises x per channel (axis 1) over all other axes: x is [N,C]
// or [N,C,L] or [N,C,H,W]. gamma, beta: [C] or nil (no affine). training: use
// batch statistics (biased variance to normalise) and update runMean/runVar
// ([C], may be nil) as PyTorch: run = (1-momentum)*run + momentum*batchStat,
// with the UNBIASED batch variance for runVar; !training: normalise with
// runMean/runVar (gradient then flows through the fixed affine map). eps
// default in callers 1e-5, momentum 0.1.
func (tp *Tape) BatchNorm(x, gamma, beta *Var, runMean, runVar *tensor.Tensor, training bool, momentum, eps float32) *Var {
	return tp.batchNorm(x, gamma, beta, runMean, runVar, training, momentum, eps, false)
}

// BatchNormReLU returns ReLU(BatchNorm(x, ...)), the arguments as
// BatchNorm's, with the values of the two ops bit for bit. The ReLU is
// applied in BatchNorm's own pass over its output (the pass of a separate
// ReLU, single-threaded, is gone), and its backward pass masks the
// gradient before BatchNorm's.
func (tp *Tape) BatchNormReLU(x, gamma, beta *Var, runMean, runVar *tensor.Tensor, training bool, momentum, eps float32) *Var {
	return tp.batchNorm(x, gamma, beta, runMean, runVar, training, momentum, eps, true)
}

// batchNorm is BatchNorm, followed by a ReLU in the same pass when relu.
func (tp *Tape) batchNorm(x, gamma, beta *Var, runMean, runVar *tensor.Tensor, training bool, momentum, eps float32, relu bool) *Var {
	if tp.failed() || tp.bad("batchnorm", "x", x) {
		return tp.newVar(1)
	}
	xs := x.Value.Shape
	if len(xs) < 2 || len(xs) > 4 {
		return tp.fail("batchnorm: input %v: want [N,C], [N,C,L] or [N,C,H,W]", xs)
	}
	N, C := xs[0], xs[1]
	S := 1
	for _, d := range xs[2:] {
		S *= d
	}
	if msg := bnArgs(C, gamma, beta, runMean, runVar, training, eps); msg != "" {
		return tp.fail("batchnorm: input %v%s", xs, msg)
	}
	cnt := N * S
	if training && cnt < 2 {
		return tp.fail("batchnorm: input %v: training needs more than one value per channel", xs)
	}
	out := tp.newVar(xs...)
	xd, yd := x.Value.Data, out.Value.Data
	mean := tp.Buffer(C)
	istd := tp.Buffer(C)
	var gam []float32
	var gamT *tensor.Tensor
	if gamma != nil {
		gamT = gamma.Value
	} else {
		gamT = tp.Buffer(C)
		gamT.Fill(1)
	}
	gam = gamT.Data
	if training {
		varb := tp.Buffer(C).Data
		if S == 1 {
			chunks := normCeilDiv(N, normChunkRows)
			p1, p2 := tp.Buffer(chunks, C).Data, tp.Buffer(chunks, C).Data
			j := getNormJob(jobBNStatsRows)
			j.n, j.c, j.chunk, j.x, j.p1, j.p2 = N, C, normChunkRows, xd, p1, p2
			j.parallel(chunks, len(xd))
			inv := 1 / float64(cnt)
			var a1, a2 [normRedBlock]float64
			for c0 := 0; c0 < C; c0 += normRedBlock {
				w := min(normRedBlock, C-c0)
				clear(a1[:w])
				clear(a2[:w])
				normReducePartials(p1[c0:], p2[c0:], chunks, C, a1[:w], a2[:w])
				for i := 0; i < w; i++ {
					m := a1[i] * inv
					mean.Data[c0+i] = float32(float64(xd[c0+i]) + m)
					varb[c0+i] = float32(max(a2[i]*inv-m*m, 0))
				}
			}
		} else {
			j := getNormJob(jobBNStatsChans)
			j.n, j.c, j.s, j.x, j.p1, j.p2 = N, C, S, xd, mean.Data, varb
			j.growSums(C)
			j.parallel(C, len(xd))
		}
		unbias := float64(cnt) / float64(cnt-1)
		mo := float64(momentum)
		for c := 0; c < C; c++ {
			v := float64(varb[c])
			istd.Data[c] = float32(1 / math.Sqrt(v+float64(eps)))
			if runMean != nil {
				runMean.Data[c] = float32((1-mo)*float64(runMean.Data[c]) + mo*float64(mean.Data[c]))
			}
			if runVar != nil {
				runVar.Data[c] = float32((1-mo)*float64(runVar.Data[c]) + mo*v*unbias)
			}
		}
	} else {
		copy(mean.Data, runMean.Data)
		bnRunningIstd(istd.Data, runVar.Data, eps)
	}
	// y = (x - mean) * (gamma*istd) + beta
	scale, shift := tp.Buffer(C).Data, tp.Buffer(C).Data
	bnScaleShift(scale, shift, gam, istd.Data, beta)
	kind, items := jobBNApplyRows, N
	if S > 1 {
		kind, items = jobBNApplyChans, N*C
	}
	j := getNormJob(kind)
	j.n, j.c, j.s, j.x, j.y, j.mean, j.a, j.b = N, C, S, xd, yd, mean.Data, scale, shift
	j.relu = relu
	j.parallel(items, len(xd))

	n := tp.record(batchNormBackward, out, x, gamma, beta) // absent gamma or beta are skipped
	if n != nil {
		n.ints[0], n.ints[1], n.ints[2] = N, C, S
		n.ints[3], n.ints[4] = 0, 0
		if gamma != nil {
			n.ints[3] = 1
		}
		if beta != nil {
			n.ints[4] = 1 + n.ints[3]
		}
		n.aux[0], n.aux[1], n.aux[2] = mean, istd, gamT
		n.flag = training
		n.ints[5] = 0
		if relu {
			n.ints[5] = 1
		}
	}
	return out
}

// bnArgs checks BatchNorm's parameters for C channels and returns what is
// wrong with them (to follow "input SHAPE" directly), or "" when they
// are valid.
func bnArgs(C int, gamma, beta *Var, runMean, runVar *tensor.Tensor, training bool, eps float32) string {
	switch {
	case gamma != nil && !normIsVector(gamma.Value, C):
		return fmt.Sprintf(" and gamma %v: want gamma of shape [%d]", gamma.Value.Shape, C)
	case beta != nil && !normIsVector(beta.Value, C):
		return fmt.Sprintf(" and beta %v: want beta of shape [%d]", beta.Value.Shape, C)
	case runMean != nil && runMean.Size() != C:
		return fmt.Sprintf(" and running mean %v: want %d values", runMean.Shape, C)
	case runVar != nil && runVar.Size() != C:
		return fmt.Sprintf(" and running variance %v: want %d values", runVar.Shape, C)
	case !training && (runMean == nil || runVar == nil):
		return ": evaluation mode needs the running mean and variance"
	case !(eps >= 0):
		return fmt.Sprintf(": eps %v must be non-negative", eps)
	}
	return ""
}

// bnRunningIstd sets istd = 1/sqrt(runVar + eps), BatchNorm's inverse
// standard deviation in evaluation mode.
func bnRunningIstd(istd, runVar []float32, eps float32) {
	for c := range istd {
		istd[c] = float32(1 / math.Sqrt(float64(runVar[c])+float64(eps)))
	}
}

// bnScaleShift sets BatchNorm's per-channel affine map y = (x - mean) *
// scale + shift: scale = gam*istd, shift = beta (0 when beta is nil).
func bnScaleShift(scale, shift, gam, istd []float32, beta *Var) {
	for c := range scale {
		scale[c] = gam[c] * istd[c]
		shift[c] = 0
	}
	if beta != nil {
		copy(shift, beta.Value.Data)
	}
}

// batchNormBackward: with xh = (x-mean)*istd and y = gamma*xh + beta,
// dbeta = sum g, dgamma = sum g*xh; in training dx = gamma*istd*(g - mean(g)
// - xh*mean(g*xh)), in evaluation dx = gamma*istd*g.
func batchNormBackward(tp *Tape, n *node) {
	N, C, S := n.ints[0], n.ints[1], n.ints[2]
	gi, bi := n.ints[3], n.ints[4]
	x := n.in[0]
	training := n.flag
	needX := x.requiresGrad
	needG := gi > 0 && n.in[gi].requiresGrad
	needB := bi > 0 && n.in[bi].requiresGrad
	mean, istd, gam := n.aux[0].Data, n.aux[1].Data, n.aux[2].Data
	xd, gd := x.Value.Data, n.out.Grad.Data
	var yr []float32
	if n.ints[5] == 1 {
		// BatchNormReLU: the gradient reaching BatchNorm is the ReLU's, g
		// where the output is > 0. The passes below mask g themselves
		// (the kernels' ReLU variants), bit for bit what a ReLUBackward
		// pass into a buffer gave, without that pass (about 1.4 ms of
		// basic28x28's step, decision #53).
		yr = n.out.Value.Data
	}
	cnt := N * S

	var sg, sgd []float32 // per channel: sum g, sum g*(x-mean)
	if needG || needB || (needX && training) {
		sg, sgd = tp.Buffer(C).Data, tp.Buffer(C).Data
		if S == 1 {
			chunks := normCeilDiv(N, normChunkRows)
			p1, p2 := tp.Buffer(chunks, C).Data, tp.Buffer(chunks, C).Data
			j := getNormJob(jobBNGradStatsRows)
			j.n, j.c, j.chunk, j.x, j.g, j.mean, j.p1, j.p2 = N, C, normChunkRows, xd, gd, mean, p1, p2
			j.yr = yr
			j.parallel(chunks, 2*len(xd))
			var a1, a2 [normRedBlock]float64
			for c0 := 0; c0 < C; c0 += normRedBlock {
				w := min(normRedBlock, C-c0)
				clear(a1[:w])
				clear(a2[:w])
				normReducePartials(p1[c0:], p2[c0:], chunks, C, a1[:w], a2[:w])
				for i := 0; i < w; i++ {
					sg[c0+i], sgd[c0+i] = float32(a1[i]), float32(a2[i])
				}
			}
		} else {
			j := getNormJob(jobBNGradStatsChans)
			j.n, j.c, j.s, j.x, j.g, j.mean, j.p1, j.p2 = N, C, S, xd, gd, mean, sg, sgd
			j.yr = yr
			j.growSums(C)
			j.parallel(C, 2*len(xd))
		}
	}
	if needG {
		dg := tp.grad(n.in[gi]).Data
		for c := 0; c < C; c++ {
			dg[c] += sgd[c] * istd[c]
		}
	}
	if needB {
		db := tp.grad(n.in[bi]).Data
		for c := 0; c < C; c++ {
			db[c] += sg[c]
		}
	}
	if !needX {
		return
	}
	// dx += A*g + B*(x-mean) + D (dx = ... into a fresh buffer)
	A, B, D := tp.Buffer(C).Data, tp.Buffer(C).Data, tp.Buffer(C).Data
	inv := 1 / float64(cnt)
	for c := 0; c < C; c++ {
		a := float64(gam[c]) * float64(istd[c])
		A[c] = float32(a)
		if training {
			is := float64(istd[c])
			mgxh := is * float64(sgd[c]) * inv // mean of g*xh
			B[c] = float32(-a * is * mgxh)
			D[c] = float32(-a * float64(sg[c]) * inv)
		} else {
			B[c], D[c] = 0, 0
		}
	}
	kind, items := jobBNGradApplyRows, N
	if S > 1 {
		kind, items = jobBNGradApplyChans, N*C
	}
	gx, fresh := tp.gradOut(x)
	j := getNormJob(kind)
	j.n, j.c, j.s, j.x, j.g, j.y, j.mean, j.a, j.b, j.d = N, C, S, xd, gd, gx.Data, mean, A, B, D
	j.assign = fresh // a fresh buffer is written, not cleared and added into
	j.yr = yr
	j.parallel(items, 3*len(xd))
}

// bnStatsRows sums x - x[0,:] and its square per channel over the rows of
// chunks [lo, hi) of a [N,C] input, into the chunks' rows of p1 and p2. Rows
// are taken four at a time so each partial is loaded and stored once per
// four values.
func bnStatsRows(j *normJob, lo, hi int) {
	C := j.c
	k0 := j.x[:C]
	for k := lo; k < hi; k++ {
		r0, r1 := k*j.chunk, min((k+1)*j.chunk, j.n)
		p1 := j.p1[k*C : k*C+C]
		p2 := j.p2[k*C : k*C+C]
		clear(p1)
		clear(p2)
		r := r0
		for ; r+4 <= r1; r += 4 {
			kernels.NormStats4(p1, p2, k0, j.x[r*C:r*C+C], j.x[(r+1)*C:(r+1)*C+C], j.x[(r+2)*C:(r+2)*C+C], j.x[(r+3)*C:(r+3)*C+C])
		}
		for ; r < r1; r++ {
			bnStatsRow(p1, p2, k0, j.x[r*C:r*C+C])
		}
	}
}

// bnStatsRow adds x-sh and its square into p1 and p2.
func bnStatsRow(p1, p2, sh, x []float32) {
	n := len(x)
	p1, p2, sh = p1[:n], p2[:n], sh[:n]
	for c, v := range x {
		d := v - sh[c]
		p1[c] += d
		p2[c] += d * d
	}
}

// normSumShifted returns the sums of v-k and (v-k)^2, accumulated in four
// float32 lanes and combined in float64.
func normSumShifted(x []float32, k float32) (s1, s2 float64) {
	var a0, a1, a2, a3, b0, b1, b2, b3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		d0, d1, d2, d3 := v[0]-k, v[1]-k, v[2]-k, v[3]-k
		a0 += d0
		a1 += d1
		a2 += d2
		a3 += d3
		b0 += d0 * d0
		b1 += d1 * d1
		b2 += d2 * d2
		b3 += d3 * d3
	}
	for ; i < len(x); i++ {
		d := x[i] - k
		a0 += d
		b0 += d * d
	}
	return float64(a0) + float64(a1) + float64(a2) + float64(a3),
		float64(b0) + float64(b1) + float64(b2) + float64(b3)
}

// normPlaneMin is the [S] block size from which BatchNorm's per-channel
// sums over an [N,C,S] input run plane by plane in 16-lane vectors
// (kernels.NormShiftedSums, NormGradSumsPlane) rather than with four
// scalar lanes (forward) or eight channels' gathered lanes side by side
// (backward), which suit the folded encoders' 2x2 to 8x8 planes
// (decision #53).
const normPlaneMin = 32

// bnStatsChans computes the mean (into p1) and biased variance (into p2) of
// channels [lo, hi) of an [N,C,S] input. It walks the input in memory order
// (image by image, the range's channels within each), each channel's sums
// gathered in float64 in j.sums: the same additions in the same order as a
// walk channel by channel, while a small S (the folded encoders' 2x2 to 8x8
// planes) no longer reads each cache line once per channel.
func bnStatsChans(j *normJob, lo, hi int) {
	N, C, S := j.n, j.c, j.s
	s1, s2 := j.sums[lo:hi], j.sums[C+lo:C+hi]
	clear(s1)
	clear(s2)
	for b := 0; b < N; b++ {
		row := j.x[(b*C+lo)*S : (b*C+hi)*S]
		for i := range s1 {
			plane, k := row[i*S:i*S+S], j.x[(lo+i)*S]
			if S >= normPlaneMin {
				a1, a2 := kernels.NormShiftedSums(plane, k)
				s1[i] += float64(a1)
				s2[i] += float64(a2)
				continue
			}
			a1, a2 := normSumShifted(plane, k)
			s1[i] += a1
			s2[i] += a2
		}
	}
	inv := 1 / float64(N*S)
	for i := range s1 {
		k := j.x[(lo+i)*S]
		m := s1[i] * inv
		j.p1[lo+i] = float32(float64(k) + m)
		j.p2[lo+i] = float32(max(s2[i]*inv-m*m, 0))
	}
}

// bnApplyRows writes y = (x-mean)*a + b for rows [lo, hi) of a [N,C] input.
func bnApplyRows(j *normJob, lo, hi int) {
	C := j.c
	for r := lo; r < hi; r++ {
		kernels.NormApply(j.y[r*C:r*C+C], j.x[r*C:r*C+C], j.mean, j.a, j.b, j.relu)
	}
}

// bnApplyChans writes y = (x-mean)*a + b for the [S] blocks [lo, hi) of an
// [N,C,S] input.
func bnApplyChans(j *normJob, lo, hi int) {
	C, S := j.c, j.s
	for blk := lo; blk < hi; blk++ {
		c := blk % C
		m, a, b := j.mean[c], j.a[c], j.b[c]
		kernels.NormApplyConst(j.y[blk*S:blk*S+S], j.x[blk*S:blk*S+S], m, a, b, j.relu)
	}
}

// bnGradStatsRows sums g and g*(x-mean) per channel over the rows of chunks
// [lo, hi) of a [N,C] input, into the chunks' rows of p1 and p2, two rows at
// a time.
func bnGradStatsRows(j *normJob, lo, hi int) {
	C := j.c
	mean := j.mean[:C]
	for k := lo; k < hi; k++ {
		r0, r1 := k*j.chunk, min((k+1)*j.chunk, j.n)
		p1 := j.p1[k*C : k*C+C]
		p2 := j.p2[k*C : k*C+C]
		clear(p1)
		clear(p2)
		r := r0
		for ; r+2 <= r1; r += 2 {
			x0, x1 := j.x[r*C:r*C+C], j.x[(r+1)*C:(r+1)*C+C]
			g0, g1 := j.g[r*C:r*C+C], j.g[(r+1)*C:(r+1)*C+C]
			if j.yr != nil {
				kernels.NormGradStats2ReLU(p1, p2, mean, x0, x1, g0, g1, j.yr[r*C:r*C+C], j.yr[(r+1)*C:(r+1)*C+C])
			} else {
				kernels.NormGradStats2(p1, p2, mean, x0, x1, g0, g1)
			}
		}
		if r < r1 {
			var yr []float32
			if j.yr != nil {
				yr = j.yr[r*C : r*C+C]
			}
			bnGradStatsRow(p1, p2, mean, j.x[r*C:r*C+C], j.g[r*C:r*C+C], yr)
		}
	}
}

// bnGradStatsRow adds g into p1 and g*(x-m) into p2.
func bnGradStatsRow(p1, p2, m, x, g, yr []float32) {
	n := len(x)
	p1, p2, m, g = p1[:n], p2[:n], m[:n], g[:n]
	for c, v := range x {
		gc := g[c]
		if yr != nil && !(yr[c] > 0) { // behind a ReLU (ReLUBackward's gradient)
			gc = 0
		}
		p1[c] += gc
		p2[c] += gc * (v - m[c])
	}
}

// bnGradStatsChans sums g (into p1) and g*(x-mean) (into p2) over channels
// [lo, hi) of an [N,C,S] input.
func bnGradStatsChans(j *normJob, lo, hi int) {
	N, C, S := j.n, j.c, j.s
	var a, b [16]float32
	// Eight channels at a time (kernels.NormGradSumsChans, their lanes side
	// by side with AVX-512), each image's two-lane float32 sums combined in
	// float64 in image order, in j.sums; images outside, so that the input
	// is read in memory order.
	s1, s2 := j.sums[lo:hi], j.sums[C+lo:C+hi]
	clear(s1)
	clear(s2)
	if S >= normPlaneMin {
		// Planes large enough to fill whole vectors: one at a time,
		// in 16 lanes (kernels.NormGradSumsPlane).
		for n := 0; n < N; n++ {
			for c := lo; c < hi; c++ {
				o := (n*C + c) * S
				var y []float32
				if j.yr != nil {
					y = j.yr[o : o+S]
				}
				a, b := kernels.NormGradSumsPlane(j.x[o:o+S], j.g[o:o+S], y, j.mean[c])
				s1[c-lo] += float64(a)
				s2[c-lo] += float64(b)
			}
		}
	}
	for n := 0; n < N && S < normPlaneMin; n++ {
		for c0 := lo; c0 < hi; c0 += 8 {
			nch := min(8, hi-c0)
			o := (n*C + c0) * S
			if j.yr != nil {
				kernels.NormGradSumsChansReLU(&a, &b, j.x[o:o+nch*S], j.g[o:o+nch*S], j.yr[o:o+nch*S], S, j.mean[c0:c0+nch])
			} else {
				kernels.NormGradSumsChans(&a, &b, j.x[o:o+nch*S], j.g[o:o+nch*S], S, j.mean[c0:c0+nch])
			}
			for ch := range nch {
				s1[c0-lo+ch] += float64(a[2*ch]) + float64(a[2*ch+1])
				s2[c0-lo+ch] += float64(b[2*ch]) + float64(b[2*ch+1])
			}
		}
	}
	for i := range s1 {
		j.p1[lo+i] = float32(s1[i])
		j.p2[lo+i] = float32(s2[i])
	}
}

// bnGradApplyRows adds a*g + b*(x-mean) + d into dx (j.y) for rows [lo, hi).
func bnGradApplyRows(j *normJob, lo, hi int) {
	C := j.c
	for r := lo; r < hi; r++ {
		if j.yr != nil {
			kernels.NormGradReLU(j.y[r*C:r*C+C], j.x[r*C:r*C+C], j.g[r*C:r*C+C], j.yr[r*C:r*C+C], j.mean, j.a, j.b, j.d, !j.assign)
			continue
		}
		kernels.NormGrad(j.y[r*C:r*C+C], j.x[r*C:r*C+C], j.g[r*C:r*C+C], j.mean, j.a, j.b, j.d, !j.assign)
	}
}

// bnGradApplyChans adds a*g + b*(x-mean) + d into dx (j.y) for the [S]
// blocks [lo, hi), or writes it there (j.assign).
func bnGradApplyChans(j *normJob, lo, hi int) {
	C, S := j.c, j.s
	for blk := lo; blk < hi; blk++ {
		c := blk % C
		m, a, b, d := j.mean[c], j.a[c], j.b[c], j.d[c]
		if j.yr != nil {
			kernels.NormGradConstReLU(j.y[blk*S:blk*S+S], j.x[blk*S:blk*S+S], j.g[blk*S:blk*S+S], j.yr[blk*S:blk*S+S], m, a, b, d, !j.assign)
			continue
		}
		kernels.NormGradConst(j.y[blk*S:blk*S+S], j.x[blk*S:blk*S+S], j.g[blk*S:blk*S+S], m, a, b, d, !j.assign)
	}
}

// LayerNorm normalises over the last axis, then scales by gamma and shifts by
// beta ([D] each, or nil).
func (tp *Tape) LayerNorm(x, gamma, beta *Var, eps float32) *Var {
	return tp.layerNorm("layernorm", x, nil, gamma, beta, eps)
}

// AddLayerNorm is LayerNorm(Add(x, r), gamma, beta, eps), a residual
// connection followed by LayerNorm (the MI networks' output, dim.MINet), in
// one op: each row of x+r is summed where it is normalised, and the
// backward pass writes the input gradient into both x's and r's gradients,
// where Add and LayerNorm pass over memory three more times in all (the
// sum's write and read, and one copy of the gradient for each input). x and
// r must have the same shape. Its values and gradients are bit-identical to
// the two ops.
func (tp *Tape) AddLayerNorm(x, r, gamma, beta *Var, eps float32) *Var {
	if tp.failed() || tp.bad("addlayernorm", "x", x) || tp.bad("addlayernorm", "r", r) {
		return tp.newVar(1)
	}
	if !x.Value.SameShape(r.Value) {
		return tp.fail("addlayernorm: input %v and residual %v: want the same shape", x.Value.Shape, r.Value.Shape)
	}
	return tp.layerNorm("addlayernorm", x, r, gamma, beta, eps)
}

// layerNorm is LayerNorm of x, or of x+r when r is not nil.
func (tp *Tape) layerNorm(name string, x, r, gamma, beta *Var, eps float32) *Var {
	if tp.failed() || tp.bad(name, "x", x) {
		return tp.newVar(1)
	}
	xs := x.Value.Shape
	if len(xs) < 1 || xs[len(xs)-1] == 0 {
		return tp.fail("%s: input %v: want at least one axis of non-zero length", name, xs)
	}
	D := xs[len(xs)-1]
	R := len(x.Value.Data) / D
	if gamma != nil && !normIsVector(gamma.Value, D) {
		return tp.fail("%s: input %v and gamma %v: want gamma of shape [%d]", name, xs, gamma.Value.Shape, D)
	}
	if beta != nil && !normIsVector(beta.Value, D) {
		return tp.fail("%s: input %v and beta %v: want beta of shape [%d]", name, xs, beta.Value.Shape, D)
	}
	if !(eps >= 0) {
		return tp.fail("%s: input %v: eps %v must be non-negative", name, xs, eps)
	}
	out := tp.newVar(xs...)
	mean, istd := tp.Buffer(R), tp.Buffer(R)
	var gamT *tensor.Tensor
	if gamma != nil {
		gamT = gamma.Value
	} else {
		gamT = tp.Buffer(D)
		gamT.Fill(1)
	}
	var bet []float32
	if beta != nil {
		bet = beta.Value.Data
	} else {
		bet = tp.zeroBuffer(D).Data
	}
	var sum *tensor.Tensor // x+r, which the backward pass reads
	j := getNormJob(jobLNForward)
	j.n, j.c, j.f = R, D, eps
	j.x, j.y, j.mean, j.istd, j.a, j.b = x.Value.Data, out.Value.Data, mean.Data, istd.Data, gamT.Data, bet
	if r != nil {
		sum = tp.Buffer(xs...)
		j.r, j.sum = r.Value.Data, sum.Data
	}
	j.parallel(R, len(x.Value.Data))
	n := tp.record(layerNormBackward, out, x, r, gamma, beta) // absent r, gamma or beta are skipped
	if n != nil {
		// n.in is x, then r, gamma and beta where present: ints[2] is r's
		// index, ints[3] gamma's and ints[4] beta's (0 when absent).
		n.ints[0], n.ints[1] = R, D
		next := 1
		n.ints[2], n.ints[3], n.ints[4] = 0, 0, 0
		for i, v := range [3]*Var{r, gamma, beta} {
			if v != nil {
				n.ints[2+i] = next
				next++
			}
		}
		n.aux[0], n.aux[1], n.aux[2], n.aux[3] = mean, istd, gamT, sum
	}
	return out
}

// layerNormBackward: with xh = (x-mean)*istd per row and gg = g*gamma,
// dx = istd*(gg - mean(gg) - xh*mean(gg*xh)), dgamma = sum g*xh over rows,
// dbeta = sum g over rows.
func layerNormBackward(tp *Tape, n *node) {
	R, D := n.ints[0], n.ints[1]
	ri, gi, bi := n.ints[2], n.ints[3], n.ints[4]
	x := n.in[0]
	xv := x.Value.Data
	if ri > 0 {
		xv = n.aux[3].Data // AddLayerNorm: the sum x+r
	}
	// The input gradient goes to x, and to r too for AddLayerNorm, where
	// they need one.
	var buf [2]*Var
	dst := buf[:0]
	if x.requiresGrad {
		dst = append(dst, x)
	}
	if ri > 0 && n.in[ri].requiresGrad {
		dst = append(dst, n.in[ri])
	}
	needX := len(dst) > 0
	needG := gi > 0 && n.in[gi].requiresGrad
	needB := bi > 0 && n.in[bi].requiresGrad
	chunks := normCeilDiv(R, normChunkRows)
	j := getNormJob(jobLNBackward)
	j.n, j.c, j.chunk = R, D, normChunkRows
	j.x, j.g, j.mean, j.istd, j.a = xv, n.out.Grad.Data, n.aux[0].Data, n.aux[1].Data, n.aux[2].Data
	j.needX, j.needAff = needX, needG || needB
	var p1, p2 []float32
	if j.needAff {
		p1, p2 = tp.Buffer(chunks, D).Data, tp.Buffer(chunks, D).Data
		j.p1, j.p2 = p1, p2
	}
	if needX {
		gx, fresh := tp.gradOut(dst[0])
		j.y, j.assign = gx.Data, fresh // a fresh buffer is written, not cleared and added into
	}
	if len(dst) == 2 {
		gr, fresh := tp.gradOut(dst[1])
		j.sum, j.assign2 = gr.Data, fresh
	}
	j.parallel(chunks, 3*len(x.Value.Data))
	if p1 == nil {
		return
	}
	var dg, db []float32
	if needG {
		dg = tp.grad(n.in[gi]).Data
	}
	if needB {
		db = tp.grad(n.in[bi]).Data
	}
	var a1, a2 [normRedBlock]float64
	for c0 := 0; c0 < D; c0 += normRedBlock {
		w := min(normRedBlock, D-c0)
		clear(a1[:w])
		clear(a2[:w])
		normReducePartials(p1[c0:], p2[c0:], chunks, D, a1[:w], a2[:w])
		for i := 0; i < w; i++ {
			if dg != nil {
				dg[c0+i] += float32(a1[i])
			}
			if db != nil {
				db[c0+i] += float32(a2[i])
			}
		}
	}
}

// normSum4 returns the sum of x, accumulated in four float32 lanes and combined
// in float64.
func normSum4(x []float32) float64 {
	var a0, a1, a2, a3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		a0 += v[0]
		a1 += v[1]
		a2 += v[2]
		a3 += v[3]
	}
	for ; i < len(x); i++ {
		a0 += x[i]
	}
	return float64(a0) + float64(a1) + float64(a2) + float64(a3)
}

// lnForwardRows normalises rows [lo, hi) of an [R,D] input and records each
// row's mean and 1/std. The statistics come from one pass of float64 sums
// shifted by the row's first value.
func lnForwardRows(j *normJob, lo, hi int) {
	D := j.c
	gam, bet := j.a[:D], j.b[:D]
	inv := 1 / float64(D)
	for r := lo; r < hi; r++ {
		xr := j.x[r*D : r*D+D]
		yr := j.y[r*D : r*D+D]
		if j.r != nil { // AddLayerNorm: normalise the row of x+r
			xr = addRow(j.sum[r*D:r*D+D], xr, j.r[r*D:r*D+D])
		}
		s1, s2 := kernels.SumShifted64(xr, xr[0])
		s1 *= inv
		m := float32(float64(xr[0]) + s1)
		is := float32(1 / math.Sqrt(max(s2*inv-s1*s1, 0)+float64(j.f)))
		j.mean[r], j.istd[r] = m, is
		kernels.LayerNormApply(yr, xr, m, is, gam, bet)
	}
}

// lnBackwardChunks runs the backward pass of LayerNorm over the rows of
// chunks [lo, hi): it adds the input gradient into j.y (when j.needX) and
// writes each chunk's sums of g*xh and g into its rows of p1 and p2 (when
// j.needAff). Rows go in pairs: one pass over a pair gathers both rows' sums
// (and the pair's contribution to p1 and p2), one pass per row writes dx.
func lnBackwardChunks(j *normJob, lo, hi int) {
	D := j.c
	gam := j.a[:D]
	for k := lo; k < hi; k++ {
		r0, r1 := k*j.chunk, min((k+1)*j.chunk, j.n)
		var p1, p2 []float32
		if j.needAff {
			p1, p2 = j.p1[k*D:k*D+D], j.p2[k*D:k*D+D]
			clear(p1)
			clear(p2)
		}
		for r := r0; r < r1; r += 2 {
			x0, g0 := j.x[r*D:r*D+D], j.g[r*D:r*D+D]
			m0, is0 := j.mean[r], j.istd[r]
			// A lone last row pairs with itself with a zero gradient.
			x1, g1, m1, is1, pair := x0, g0, m0, is0, r+1 < r1
			if pair {
				x1, g1 = j.x[(r+1)*D:(r+1)*D+D], j.g[(r+1)*D:(r+1)*D+D]
				m1, is1 = j.mean[r+1], j.istd[r+1]
			}
			if !j.needX {
				if pair {
					lnAffRows2(p1, p2, x0, x1, g0, g1, m0, is0, m1, is1)
				} else {
					lnAffRows2(p1, p2, x0, x0, g0, j.g[:0:0], m0, is0, m0, is0)
				}
				continue
			}
			var s lnSums
			switch {
			case j.needAff && pair:
				s = lnAffSumRows2(p1, p2, gam, x0, x1, g0, g1, m0, is0, m1, is1)
			case j.needAff:
				s = lnAffSumRows2(p1, p2, gam, x0, x0, g0, nil, m0, is0, m0, is0)
			case pair:
				s = lnSumRows2(gam, x0, x1, g0, g1, m0, m1)
			default:
				s = lnSumRows2(gam, x0, x0, g0, g0, m0, m0)
			}
			lnGradRow(j.y[r*D:r*D+D], x0, g0, gam, m0, is0, s.a0, s.b0, j.assign)
			if pair {
				lnGradRow(j.y[(r+1)*D:(r+1)*D+D], x1, g1, gam, m1, is1, s.a1, s.b1, j.assign)
			}
			if j.sum != nil { // AddLayerNorm's second input
				lnGradRow(j.sum[r*D:r*D+D], x0, g0, gam, m0, is0, s.a0, s.b0, j.assign2)
				if pair {
					lnGradRow(j.sum[(r+1)*D:(r+1)*D+D], x1, g1, gam, m1, is1, s.a1, s.b1, j.assign2)
				}
			}
		}
	}
}

// lnSums holds, for two rows, a = sum g*gamma and b = sum g*gamma*(x-m).
type lnSums struct{ a0, b0, a1, b1 float64 }

// lnSumRows2 returns the sums of g*gamma and g*gamma*(x-m) of two rows.
// (Unrolling further makes the compiler spill accumulators, which is slower.)
//
//go:noinline
func lnSumRows2(gam, x0, x1, g0, g1 []float32, m0, m1 float32) lnSums {
	n := len(x0)
	gam, x1, g0, g1 = gam[:n], x1[:n], g0[:n], g1[:n]
	var a0, b0, a1, b1 float32
	for i, v := range x0 {
		e0, e1 := g0[i]*gam[i], g1[i]*gam[i]
		a0 += e0
		b0 += e0 * (v - m0)
		a1 += e1
		b1 += e1 * (x1[i] - m1)
	}
	return lnSums{float64(a0), float64(b0), float64(a1), float64(b1)}
}

// lnAffSumRows2 is lnSumRows2 that also adds g*xh into p1 and g into p2 for
// both rows, with kernels.LayerNormGradSums2 (its sums in 16 partial sums,
// AVX-512's lanes). A nil g1 stands for a row without gradient (a lone
// last row): only row 0 then contributes, summed in order.
//
//go:noinline
func lnAffSumRows2(p1, p2, gam, x0, x1, g0, g1 []float32, m0, is0, m1, is1 float32) lnSums {
	n := len(x0)
	if g1 == nil {
		p1, p2, gam, g0 = p1[:n], p2[:n], gam[:n], g0[:n]
		var a0, b0 float32
		for i, v := range x0 {
			g, d := g0[i], v-m0
			p1[i] += g * (d * is0)
			p2[i] += g
			e := g * gam[i]
			a0 += e
			b0 += e * d
		}
		return lnSums{a0: float64(a0), b0: float64(b0)}
	}
	a0, b0, a1, b1 := kernels.LayerNormGradSums2(p1, p2, gam, x0, x1, g0, g1, m0, is0, m1, is1)
	return lnSums{float64(a0), float64(b0), float64(a1), float64(b1)}
}

// lnAffRows2 adds g*xh into p1 and g into p2 for two rows; an empty g1
// stands for a lone row 0.
//
//go:noinline
func lnAffRows2(p1, p2, x0, x1, g0, g1 []float32, m0, is0, m1, is1 float32) {
	n := len(x0)
	if len(g1) == 0 {
		p1, p2, g0 = p1[:n], p2[:n], g0[:n]
		for i, v := range x0 {
			g := g0[i]
			p1[i] += g * ((v - m0) * is0)
			p2[i] += g
		}
		return
	}
	p1, p2, x1, g0, g1 = p1[:n], p2[:n], x1[:n], g0[:n], g1[:n]
	for i, v := range x0 {
		ga, gb := g0[i], g1[i]
		p1[i] += ga*((v-m0)*is0) + gb*((x1[i]-m1)*is1)
		p2[i] += ga + gb
	}
}

// lnGradRow adds the input gradient of one row into dx (writes it when set), given the row's
// a = sum g*gamma and b = sum g*gamma*(x-m):
// dx = is*(g*gamma - mean(g*gamma) - xh*mean(g*gamma*xh))
// = is*g*gamma + c1 + c2*(x-m).
func lnGradRow(dx, x, g, gam []float32, m, is float32, a, b float64, set bool) {
	fi, inv := float64(is), 1/float64(len(x))
	c1 := float32(-fi * a * inv)
	c2 := float32(-fi * fi * fi * b * inv)
	kernels.LayerNormGrad(dx, x, g, gam, m, is, c1, c2, !set)
}
