package autograd

import (
	"strconv"

	"github.com/deepinfomax/deepinfomax/kernels"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Reshape returns x viewed with a new shape (sharing its values); one axis
// may be -1 and is inferred. In the backward pass an input made by the tape
// takes the output's gradient memory instead of a copy, so after Backward
// the output's Grad holds the input's whole gradient (read the gradients of
// parameters and leaves, as PyTorch keeps no others).
func (tp *Tape) Reshape(x *Var, shape ...int) *Var {
	if tp.failed() || tp.bad("reshape", "x", x) {
		return tp.newVar(1)
	}
	var s [maxRank]int
	if len(shape) > maxRank {
		return tp.fail("reshape: rank %d above %d", len(shape), maxRank)
	}
	infer, known := -1, 1
	for i, d := range shape {
		s[i] = d
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			return tp.fail("reshape: invalid shape %v", cloneInts(shape))
		default:
			known *= d
		}
	}
	size := x.Value.Size()
	if infer >= 0 && known > 0 && size%known == 0 {
		s[infer] = size / known
		known = size
	}
	if known != size {
		return tp.fail("reshape: %v (%d elements) to %v", x.Value.Shape, size, cloneInts(shape))
	}
	out := tp.wrap(tp.view(x.Value.Data, s[:len(shape)]))
	tp.record(reshapeBackward, out, x)
	return out
}

// reshapeBackward passes the output's gradient to the input. An input the
// tape made, without a gradient yet, takes the output gradient's memory
// (reshaped) instead of a copy: nothing reads the output's gradient after
// this, so later additions into the input's gradient are safe.
func reshapeBackward(tp *Tape, n *node) {
	x, g := n.in[0], n.out.Grad
	if x.taped && x.Grad == nil && x.spare == nil {
		x.Grad = tp.view(g.Data, x.Value.Shape)
		return
	}
	addTo(tp.grad(x).Data, g.Data)
}

// Flatten reshapes x [N, ...] to [N, rest].
func (tp *Tape) Flatten(x *Var) *Var {
	if tp.failed() || tp.bad("flatten", "x", x) {
		return tp.newVar(1)
	}
	if x.Value.Rank() < 1 {
		return tp.fail("flatten: scalar input")
	}
	return tp.Reshape(x, x.Value.Shape[0], -1)
}

// Permute reorders the axes of x: output axis i is input axis perm[i].
func (tp *Tape) Permute(x *Var, perm ...int) *Var {
	if tp.failed() || tp.bad("permute", "x", x) {
		return tp.newVar(1)
	}
	xs := x.Value.Shape
	rank := len(xs)
	if len(perm) != rank || rank > maxRank {
		return tp.fail("permute: %v for shape %v", cloneInts(perm), xs)
	}
	var seen uint
	var os [maxRank]int
	for i, p := range perm {
		if p < 0 || p >= rank || seen&(1<<p) != 0 {
			return tp.fail("permute: %v is not a permutation of %d axes", cloneInts(perm), rank)
		}
		seen |= 1 << p
		os[i] = xs[p]
	}
	out := tp.newVar(os[:rank]...)
	permuteCopy(out.Value.Data, x.Value.Data, xs, perm, permuteForward)
	if n := tp.record(permuteBackward, out, x); n != nil {
		copy(n.ints[:], perm)
	}
	return out
}

func permuteBackward(tp *Tape, n *node) {
	x := n.in[0]
	gx, fresh := tp.gradOut(x)
	mode := permuteAddBack
	if fresh {
		mode = permuteSetBack
	}
	permuteCopy(n.out.Grad.Data, gx.Data, x.Value.Shape, n.ints[:len(x.Value.Shape)], mode)
}

// Directions of permuteCopy.
const (
	permuteForward = iota // dst[out] = src[in]
	permuteSetBack        // src[in] = dst[out]: a fresh gradient written
	permuteAddBack        // src[in] += dst[out]: a gradient accumulated
)

// permuteParallelMin is the number of elements from which permuteCopy
// splits the output's first axis across the worker pool.
const permuteParallelMin = 1 << 16

// permuteCopy moves data between src (shape xs) and its permutation dst, in
// the direction mode. Large copies split the output's first axis across
// the worker pool; every element is moved once either way.
func permuteCopy(dst, src []float32, xs []int, perm []int, mode int) {
	rank := len(xs)
	var inStride [maxRank]int
	s := 1
	for i := rank - 1; i >= 0; i-- {
		inStride[i] = s
		s *= xs[i]
	}
	if s == 0 {
		return // an axis of length 0: nothing to move
	}
	j := permuteJob{dst: dst, src: src, rank: rank, mode: mode}
	for i, p := range perm {
		j.os[i] = xs[p]
		j.st[i] = inStride[p]
	}
	j.transpose = mode != permuteAddBack && channelsLast(perm)
	if rank >= 2 && s >= permuteParallelMin && j.os[0] >= 2 {
		pj := getPermuteJob()
		fn := pj.fn
		*pj = j
		pj.fn = fn
		kernels.ParallelFor(j.os[0], pj.fn)
		pj.put()
		return
	}
	if rank < 2 { // a scalar or one row
		j.block(j.os[:rank], &j.st, 0, 0)
		return
	}
	j.rows(0, j.os[0])
}

// channelsLast reports whether perm moves axis 1 to the end and keeps the
// others in order ([N,C,H,W] to [N,H,W,C], as the MI networks' rows of a
// feature map): each item of the first axis is then a [C, H*W] matrix
// transposed.
func channelsLast(perm []int) bool {
	r := len(perm)
	if r < 3 || perm[0] != 0 || perm[r-1] != 1 {
		return false
	}
	for i := 1; i < r-1; i++ {
		if perm[i] != i+1 {
			return false
		}
	}
	return true
}

// permuteJob is one permuteCopy: the output's shape os and the input
// strides st of its axes.
type permuteJob struct {
	dst, src  []float32
	os, st    [maxRank]int
	rank      int
	mode      int
	transpose bool             // channelsLast, written (not added): kernels.Transpose per item
	fn        func(lo, hi int) // j.rows, bound once
}

var permuteJobs = freeList[permuteJob]{init: func(j *permuteJob) { j.fn = j.rows }}

func getPermuteJob() *permuteJob { return permuteJobs.get() }

func (j *permuteJob) put() {
	j.dst, j.src = nil, nil
	permuteJobs.put(j)
}

// rows moves the elements of indices [lo, hi) of the output's first axis
// (rank 2 or more).
func (j *permuteJob) rows(lo, hi int) {
	if j.transpose {
		// Items [P, C] of dst and [C, P] of src (C = os[rank-1]): the
		// AVX-512 transposer. basic28x28's local map ([64,128,7,7])
		// there and back took 0.59 ms with the strided loop, 0.32 with
		// it (decision #53).
		c := j.os[j.rank-1]
		p := j.st[0] / c
		for i := lo; i < hi; i++ {
			d, s := j.dst[i*p*c:(i+1)*p*c], j.src[i*p*c:(i+1)*p*c]
			if j.mode == permuteForward {
				kernels.Transpose(d, c, s, p, p, c)
			} else {
				kernels.Transpose(s, p, d, c, c, p)
			}
		}
		return
	}
	var st [maxRank]int
	copy(st[:], j.st[1:j.rank])
	inner := 1
	for _, d := range j.os[1:j.rank] {
		inner *= d
	}
	for i := lo; i < hi; i++ {
		j.block(j.os[1:j.rank], &st, i*j.st[0], i*inner)
	}
}

// block moves the part of the copy of shape os (input strides st) whose
// first elements are src[ia0] and dst[io0].
func (j *permuteJob) block(os []int, st *[maxRank]int, ia0, io0 int) {
	var zero [maxRank]int
	dst, src := j.dst, j.src
	mode := j.mode
	bcastIter(os, st, &zero, func(ia, _, io, m, sa, _ int) {
		ia += ia0
		io += io0
		switch mode {
		case permuteAddBack:
			for i := 0; i < m; i++ {
				src[ia+i*sa] += dst[io+i]
			}
		case permuteSetBack:
			for i := 0; i < m; i++ {
				src[ia+i*sa] = dst[io+i]
			}
		default:
			for i := 0; i < m; i++ {
				dst[io+i] = src[ia+i*sa]
			}
		}
	})
}

// Slice returns x restricted to [start, end) along axis.
func (tp *Tape) Slice(x *Var, axis, start, end int) *Var {
	if tp.failed() || tp.bad("slice", "x", x) {
		return tp.newVar(1)
	}
	xs := x.Value.Shape
	if axis < 0 {
		axis += len(xs)
	}
	if axis < 0 || axis >= len(xs) || start < 0 || end > xs[axis] || start > end || len(xs) > maxRank {
		return tp.fail("slice: [%d:%d] of axis %d of shape %v", start, end, axis, xs)
	}
	var os [maxRank]int
	copy(os[:], xs)
	os[axis] = end - start
	out := tp.newVar(os[:len(xs)]...)
	outer, inner := sliceDims(xs, axis)
	sliceCopy(out.Value.Data, x.Value.Data, outer, inner, xs[axis], start, end-start, false)
	if n := tp.record(func(tp *Tape, n *node) {
		x := n.in[0]
		outer, inner := sliceDims(x.Value.Shape, n.ints[0])
		sliceCopy(n.out.Grad.Data, tp.grad(x).Data, outer, inner, x.Value.Shape[n.ints[0]], n.ints[1], n.ints[2], true)
	}, out, x); n != nil {
		n.ints[0], n.ints[1], n.ints[2] = axis, start, end-start
	}
	return out
}

func sliceDims(shape []int, axis int) (outer, inner int) {
	return tensor.SizeOf(shape[:axis]), tensor.SizeOf(shape[axis+1:])
}

// sliceCopy copies part [start, start+length) of an axis of extent full
// between big (the whole tensor) and part; back accumulates part into big.
func sliceCopy(part, big []float32, outer, inner, full, start, length int, back bool) {
	for o := 0; o < outer; o++ {
		p := part[o*length*inner : (o+1)*length*inner]
		b := big[(o*full+start)*inner : (o*full+start+length)*inner]
		if back {
			addTo(b, p)
		} else {
			copy(p, b)
		}
	}
}

// Concat joins Vars of equal shape except along axis.
func (tp *Tape) Concat(axis int, xs ...*Var) *Var {
	if tp.failed() {
		return tp.newVar(1)
	}
	if len(xs) == 0 {
		return tp.fail("concat: no inputs")
	}
	for i, x := range xs {
		if x == nil || x.Value == nil {
			tp.badInput("concat", strconv.Itoa(i), x)
			return tp.newVar(1)
		}
	}
	s0 := xs[0].Value.Shape
	if axis < 0 {
		axis += len(s0)
	}
	if axis < 0 || axis >= len(s0) || len(s0) > maxRank {
		return tp.fail("concat: axis %d for shape %v", axis, s0)
	}
	var os [maxRank]int
	copy(os[:], s0)
	os[axis] = 0
	for _, x := range xs {
		s := x.Value.Shape
		if len(s) != len(s0) {
			return tp.fail("concat: shapes %v and %v differ in rank", s0, s)
		}
		for i := range s {
			if i != axis && s[i] != s0[i] {
				return tp.fail("concat: shapes %v and %v differ off axis %d", s0, s, axis)
			}
		}
		os[axis] += s[axis]
	}
	out := tp.newVar(os[:len(s0)]...)
	outer, inner := sliceDims(os[:len(s0)], axis)
	off := 0
	for _, x := range xs {
		l := x.Value.Shape[axis]
		xd, od := x.Value.Data, out.Value.Data
		for o := 0; o < outer; o++ {
			copy(od[(o*os[axis]+off)*inner:(o*os[axis]+off+l)*inner], xd[o*l*inner:(o+1)*l*inner])
		}
		off += l
	}
	if n := tp.record(concatBackward, out, xs...); n != nil {
		n.ints[0] = axis
	}
	return out
}

func concatBackward(tp *Tape, n *node) {
	axis := n.ints[0]
	os := n.out.Value.Shape
	outer, inner := sliceDims(os, axis)
	off := 0
	g := n.out.Grad.Data
	for _, x := range n.in {
		l := x.Value.Shape[axis]
		if x.requiresGrad {
			gx := tp.grad(x).Data
			// Copy the part of g that belongs to x into gx (accumulating).
			for o := 0; o < outer; o++ {
				addTo(gx[o*l*inner:(o+1)*l*inner], g[(o*os[axis]+off)*inner:])
			}
		}
		off += l
	}
}

// cloneInts copies s, so that formatting it in an error message does not
// make the caller's (often stack-allocated, variadic) slice escape.
func cloneInts(s []int) []int { return append([]int(nil), s...) }

// Gather returns the rows idx of x: x is [R, D] (higher ranks are taken as
// [shape[0], rest]), the result [len(idx), D] with row k = x[idx[k]].
// Rows may repeat; the backward pass adds each row's gradient into the row
// it came from. An index outside [0, R) is a tape error. The indices are
// copied (into a tape buffer) during the call.
func (tp *Tape) Gather(x *Var, idx []int) *Var {
	if tp.failed() || tp.bad("gather", "x", x) {
		return tp.newVar(1)
	}
	xs := x.Value.Shape
	if len(xs) == 0 || len(idx) == 0 {
		return tp.fail("gather: rows %v of shape %v", idx, xs)
	}
	r := xs[0]
	d := x.Value.Size() / max(r, 1)
	out := tp.newVar(len(idx), d)
	ib := tp.Buffer(len(idx))
	for k, i := range idx {
		if i < 0 || i >= r {
			return tp.fail("gather: row %d (index %d) outside [0,%d) of shape %v", i, k, r, xs)
		}
		ib.Data[k] = float32(i)
		copy(out.Value.Data[k*d:(k+1)*d], x.Value.Data[i*d:(i+1)*d])
	}
	if n := tp.record(gatherBackward, out, x); n != nil {
		n.ints[0] = d
		n.aux[0] = ib
	}
	return out
}

func gatherBackward(tp *Tape, n *node) {
	d := n.ints[0]
	g := tp.grad(n.in[0]).Data
	og := n.out.Grad.Data
	for k, f := range n.aux[0].Data {
		i := int(f)
		addTo(g[i*d:(i+1)*d], og[k*d:(k+1)*d])
	}
}
