package autograd

import "github.com/deepinfomax/deepinfomax/kernels"

type binOp int

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
)

var binNames = [...]string{"add", "sub", "mul", "div"}

// Add returns a + b with NumPy broadcasting.
func (tp *Tape) Add(a, b *Var) *Var { return tp.binary(opAdd, a, b) }

// Sub returns a - b with NumPy broadcasting.
func (tp *Tape) Sub(a, b *Var) *Var { return tp.binary(opSub, a, b) }

// Mul returns a * b element-wise with NumPy broadcasting.
func (tp *Tape) Mul(a, b *Var) *Var { return tp.binary(opMul, a, b) }

// Div returns a / b element-wise with NumPy broadcasting.
func (tp *Tape) Div(a, b *Var) *Var { return tp.binary(opDiv, a, b) }

func (tp *Tape) binary(op binOp, a, b *Var) *Var {
	if tp.failed() || tp.bad(binNames[op], "a", a) || tp.bad(binNames[op], "b", b) {
		return tp.newVar(1)
	}
	var shp [maxRank]int
	rank, ok := broadcastShape(a.Value.Shape, b.Value.Shape, &shp)
	if !ok {
		return tp.fail("%s: shapes %v and %v do not broadcast", binNames[op], a.Value.Shape, b.Value.Shape)
	}
	out := tp.newVar(shp[:rank]...)
	ad, bd, od := a.Value.Data, b.Value.Data, out.Value.Data
	if len(ad) == len(od) && len(bd) == len(od) && a.Value.SameShape(b.Value) {
		binRow(op, ad, bd, od, 1, 1)
	} else {
		var sta, stb [maxRank]int
		bcastStrides(a.Value.Shape, shp[:rank], &sta)
		bcastStrides(b.Value.Shape, shp[:rank], &stb)
		bcastIter(shp[:rank], &sta, &stb, func(ia, ib, io, n, sa, sb int) {
			binRow(op, ad[ia:], bd[ib:], od[io:io+n], sa, sb)
		})
	}
	if n := tp.record(binaryBackward, out, a, b); n != nil {
		n.ints[0] = int(op)
	}
	return out
}

// addRow sets dst[i] = a[i] + b[i] (binRow's opAdd, with AVX-512 where the
// CPU has it) and returns dst.
func addRow(dst, a, b []float32) []float32 {
	kernels.Add(dst, a, b)
	return dst
}

// binRow computes one row o[i] = a[i*sa] op b[i*sb].
func binRow(op binOp, a, b, o []float32, sa, sb int) {
	switch {
	case sa == 1 && sb == 1:
		a, b = a[:len(o)], b[:len(o)]
		switch op {
		case opAdd:
			for i := range o {
				o[i] = a[i] + b[i]
			}
		case opSub:
			for i := range o {
				o[i] = a[i] - b[i]
			}
		case opMul:
			for i := range o {
				o[i] = a[i] * b[i]
			}
		case opDiv:
			for i := range o {
				o[i] = a[i] / b[i]
			}
		}
	default:
		for i := range o {
			x, y := a[i*sa], b[i*sb]
			switch op {
			case opAdd:
				o[i] = x + y
			case opSub:
				o[i] = x - y
			case opMul:
				o[i] = x * y
			case opDiv:
				o[i] = x / y
			}
		}
	}
}

func binaryBackward(tp *Tape, n *node) {
	op := binOp(n.ints[0])
	a, b, out := n.in[0], n.in[1], n.out
	if op == opAdd && a.Value.SameShape(out.Value) && b.Value.SameShape(out.Value) {
		// The residual connection's case: both gradients are the output's.
		for _, v := range n.in {
			if !v.requiresGrad {
				continue
			}
			if gv, fresh := tp.gradOut(v); fresh {
				copy(gv.Data, out.Grad.Data)
			} else {
				addTo(gv.Data, out.Grad.Data)
			}
		}
		return
	}
	g, ad, bd := out.Grad.Data, a.Value.Data, b.Value.Data
	var ga, gb []float32
	if a.requiresGrad {
		ga = tp.grad(a).Data
	}
	if b.requiresGrad {
		gb = tp.grad(b).Data
	}
	var sta, stb [maxRank]int
	shp := out.Value.Shape
	bcastStrides(a.Value.Shape, shp, &sta)
	bcastStrides(b.Value.Shape, shp, &stb)
	bcastIter(shp, &sta, &stb, func(ia, ib, io, m, sa, sb int) {
		for i := 0; i < m; i++ {
			gi := g[io+i]
			xa, xb := ia+i*sa, ib+i*sb
			switch op {
			case opAdd:
				if ga != nil {
					ga[xa] += gi
				}
				if gb != nil {
					gb[xb] += gi
				}
			case opSub:
				if ga != nil {
					ga[xa] += gi
				}
				if gb != nil {
					gb[xb] -= gi
				}
			case opMul:
				if ga != nil {
					ga[xa] += gi * bd[xb]
				}
				if gb != nil {
					gb[xb] += gi * ad[xa]
				}
			case opDiv:
				y := bd[xb]
				if ga != nil {
					ga[xa] += gi / y
				}
				if gb != nil {
					gb[xb] -= gi * ad[xa] / (y * y)
				}
			}
		}
	})
}

// addTo adds src into dst element-wise (with AVX-512 where the CPU has
// it), split across cores from rowParMin values (rowPass); src must be at
// least as long.
func addTo(dst, src []float32) {
	if len(dst) < rowParMin {
		kernels.Add(dst, dst, src)
		return
	}
	rowPass(rowAdd, dst, src, nil, 1, len(dst))
}

// Scalar returns a tape-owned one-element constant.
func (tp *Tape) Scalar(v float32) *Var {
	t := tp.Buffer()
	t.Data[0] = v
	return tp.wrap(t)
}
