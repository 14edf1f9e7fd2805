package autograd

import "github.com/deepinfomax/deepinfomax/tensor"

// Reshape returns x viewed with a new shape (sharing its values); one axis
// may be -1 and is inferred.
func (tp *Tape) Reshape(x *Var, shape ...int) *Var {
	if tp.failed() {
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
	tp.record(func(tp *Tape, n *node) {
		addTo(tp.grad(n.in[0]).Data, n.out.Grad.Data)
	}, out, x)
	return out
}

// Flatten reshapes x [N, ...] to [N, rest].
func (tp *Tape) Flatten(x *Var) *Var {
	if tp.failed() {
		return tp.newVar(1)
	}
	if x.Value.Rank() < 1 {
		return tp.fail("flatten: scalar input")
	}
	return tp.Reshape(x, x.Value.Shape[0], -1)
}

// Permute reorders the axes of x: output axis i is input axis perm[i].
func (tp *Tape) Permute(x *Var, perm ...int) *Var {
	if tp.failed() {
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
	permuteCopy(out.Value.Data, x.Value.Data, xs, perm, false)
	if n := tp.record(permuteBackward, out, x); n != nil {
		copy(n.ints[:], perm)
	}
	return out
}

func permuteBackward(tp *Tape, n *node) {
	x := n.in[0]
	permuteCopy(n.out.Grad.Data, tp.grad(x).Data, x.Value.Shape, n.ints[:len(x.Value.Shape)], true)
}

// permuteCopy moves data between src (shape xs) and its permutation dst.
// Forward (back=false) writes dst[out] = src[in]; back=true accumulates
// src[in] += dst[out], the transposed map.
func permuteCopy(dst, src []float32, xs []int, perm []int, back bool) {
	rank := len(xs)
	var inStride [maxRank]int
	s := 1
	for i := rank - 1; i >= 0; i-- {
		inStride[i] = s
		s *= xs[i]
	}
	var os, st, zero [maxRank]int
	for i, p := range perm {
		os[i] = xs[p]
		st[i] = inStride[p]
	}
	bcastIter(os[:rank], &st, &zero, func(ia, _, io, m, sa, _ int) {
		if back {
			for i := 0; i < m; i++ {
				src[ia+i*sa] += dst[io+i]
			}
			return
		}
		for i := 0; i < m; i++ {
			dst[io+i] = src[ia+i*sa]
		}
	})
}

// Slice returns x restricted to [start, end) along axis.
func (tp *Tape) Slice(x *Var, axis, start, end int) *Var {
	if tp.failed() {
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
	if tp.failed() {
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
