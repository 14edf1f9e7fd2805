package autograd

import "math"

// Sum returns the sum of all elements as a one-element Var.
func (tp *Tape) Sum(x *Var) *Var { return tp.reduceAll(reduceSum, x) }

// Mean returns the mean of all elements as a one-element Var.
func (tp *Tape) Mean(x *Var) *Var { return tp.reduceAll(reduceMean, x) }

// reduceAll is Sum (kind reduceSum) or Mean (reduceMean).
func (tp *Tape) reduceAll(kind reduceKind, x *Var) *Var {
	if tp.failed() || tp.bad(reduceNames[kind], "x", x) {
		return tp.newVar(1)
	}
	scale := float32(1)
	if kind == reduceMean {
		scale = 1 / float32(x.Value.Size())
	}
	out := tp.newVar()
	var s float64
	for _, v := range x.Value.Data {
		s += float64(v)
	}
	out.Value.Data[0] = float32(s) * scale
	if n := tp.record(func(tp *Tape, n *node) {
		g := n.out.Grad.Data[0] * n.f[0]
		gx := tp.grad(n.in[0]).Data
		for i := range gx {
			gx[i] += g
		}
	}, out, x); n != nil {
		n.f[0] = scale
	}
	return out
}

type reduceKind int

const (
	reduceSum reduceKind = iota
	reduceMean
	reduceMax
)

// SumAxes sums x over the given axes (negative axes count from the end);
// keepDim keeps them as axes of size 1.
func (tp *Tape) SumAxes(x *Var, axes []int, keepDim bool) *Var {
	return tp.reduceAxes(reduceSum, x, axes, keepDim)
}

// MeanAxes averages x over the given axes.
func (tp *Tape) MeanAxes(x *Var, axes []int, keepDim bool) *Var {
	return tp.reduceAxes(reduceMean, x, axes, keepDim)
}

// MaxAxes takes the maximum of x over the given axes. The gradient flows to
// the first maximal element of each reduced group.
func (tp *Tape) MaxAxes(x *Var, axes []int, keepDim bool) *Var {
	return tp.reduceAxes(reduceMax, x, axes, keepDim)
}

var reduceNames = [...]string{"sum", "mean", "max"}

// reduceShape computes the keep-dim shape of reducing shape over mask.
func reduceShape(shape []int, mask uint, kept *[maxRank]int) {
	for i, d := range shape {
		if mask&(1<<i) != 0 {
			kept[i] = 1
		} else {
			kept[i] = d
		}
	}
}

func (tp *Tape) reduceAxes(kind reduceKind, x *Var, axes []int, keepDim bool) *Var {
	if tp.failed() || tp.bad(reduceNames[kind], "x", x) {
		return tp.newVar(1)
	}
	shape := x.Value.Shape
	rank := len(shape)
	if rank > maxRank {
		return tp.fail("%s: rank %d above %d", reduceNames[kind], rank, maxRank)
	}
	var mask uint
	for _, a := range axes {
		if a < 0 {
			a += rank
		}
		if a < 0 || a >= rank {
			return tp.fail("%s: axis out of range for shape %v", reduceNames[kind], shape)
		}
		mask |= 1 << a
	}
	var kept, outShape [maxRank]int
	reduceShape(shape, mask, &kept)
	count := 1
	no := 0
	for i, d := range shape {
		if mask&(1<<i) != 0 {
			count *= d
			if keepDim {
				outShape[no] = 1
				no++
			}
		} else {
			outShape[no] = d
			no++
		}
	}
	if count == 0 {
		return tp.fail("%s: reducing an empty axis of shape %v", reduceNames[kind], shape)
	}
	out := tp.newVar(outShape[:no]...)
	od, xd := out.Value.Data, x.Value.Data
	var stx, sto [maxRank]int
	bcastStrides(shape, shape, &stx)
	bcastStrides(kept[:rank], shape, &sto)
	if kind == reduceMax {
		for i := range od {
			od[i] = float32(math.Inf(-1))
		}
		bcastIter(shape, &stx, &sto, func(ix, io, _, m, sx, so int) {
			for i := 0; i < m; i++ {
				if v := xd[ix+i*sx]; v > od[io+i*so] {
					od[io+i*so] = v
				}
			}
		})
	} else {
		clear(od)
		bcastIter(shape, &stx, &sto, func(ix, io, _, m, sx, so int) {
			for i := 0; i < m; i++ {
				od[io+i*so] += xd[ix+i*sx]
			}
		})
		if kind == reduceMean {
			inv := 1 / float32(count)
			for i := range od {
				od[i] *= inv
			}
		}
	}
	if n := tp.record(reduceBackward, out, x); n != nil {
		n.ints[0], n.ints[1], n.ints[2] = int(kind), int(mask), count
	}
	return out
}

func reduceBackward(tp *Tape, n *node) {
	kind, mask, count := reduceKind(n.ints[0]), uint(n.ints[1]), n.ints[2]
	x := n.in[0]
	shape := x.Value.Shape
	var kept [maxRank]int
	reduceShape(shape, mask, &kept)
	var stx, sto [maxRank]int
	bcastStrides(shape, shape, &stx)
	bcastStrides(kept[:len(shape)], shape, &sto)
	gx, g := tp.grad(x).Data, n.out.Grad.Data
	switch kind {
	case reduceSum, reduceMean:
		scale := float32(1)
		if kind == reduceMean {
			scale = 1 / float32(count)
		}
		bcastIter(shape, &stx, &sto, func(ix, io, _, m, sx, so int) {
			for i := 0; i < m; i++ {
				gx[ix+i*sx] += scale * g[io+i*so]
			}
		})
	case reduceMax:
		xd, od := x.Value.Data, n.out.Value.Data
		done := tp.zeroBuffer(len(od)).Data
		bcastIter(shape, &stx, &sto, func(ix, io, _, m, sx, so int) {
			for i := 0; i < m; i++ {
				j := io + i*so
				if done[j] == 0 && xd[ix+i*sx] == od[j] {
					gx[ix+i*sx] += g[j]
					done[j] = 1
				}
			}
		})
	}
}
