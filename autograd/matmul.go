package autograd

import "github.com/deepinfomax/deepinfomax/kernels"

// MatMul returns op(a) x op(b) for matrices, where op transposes when the
// flag is set: a is [m,k] (or [k,m] with transA), b is [k,n] (or [n,k]).
func (tp *Tape) MatMul(a, b *Var, transA, transB bool) *Var {
	return tp.BatchedMatMul(a, b, transA, transB)
}

// BatchedMatMul multiplies matching matrices of two stacks: a is [B,m,k]
// and b is [B,k,n] (each optionally transposed in its last two axes), giving
// [B,m,n]. Rank-2 operands are a single product.
func (tp *Tape) BatchedMatMul(a, b *Var, transA, transB bool) *Var {
	if tp.failed() || tp.bad("matmul", "a", a) || tp.bad("matmul", "b", b) {
		return tp.newVar(1)
	}
	as, bs := a.Value.Shape, b.Value.Shape
	if len(as) != len(bs) || len(as) < 2 || len(as) > 3 || len(as) == 3 && as[0] != bs[0] {
		return tp.fail("matmul: shapes %v and %v: want two matrices or two stacks of equal length", as, bs)
	}
	r := len(as)
	m, k := as[r-2], as[r-1]
	if transA {
		m, k = k, m
	}
	kb, n := bs[r-2], bs[r-1]
	if transB {
		kb, n = n, kb
	}
	if k != kb {
		return tp.fail("matmul: inner sizes differ: %v (trans %v) x %v (trans %v)", as, transA, bs, transB)
	}
	batch := 1
	var out *Var
	if r == 3 {
		batch = as[0]
		out = tp.newVar(batch, m, n)
	} else {
		out = tp.newVar(m, n)
	}
	lda, ldb := ld(m, k, transA), ld(k, n, transB)
	ad, bd, od := a.Value.Data, b.Value.Data, out.Value.Data
	for i := 0; i < batch; i++ {
		kernels.Sgemm(transA, transB, m, n, k, 1, ad[i*m*k:], lda, bd[i*k*n:], ldb, 0, od[i*m*n:], n)
	}
	if nd := tp.record(matmulBackward, out, a, b); nd != nil {
		nd.ints[0], nd.ints[1], nd.ints[2], nd.ints[3] = batch, m, n, k
		nd.flag = transA
		nd.ints[4] = boolInt(transB)
	}
	return out
}

// ld returns the leading dimension of an operand that is rows x cols after
// the optional transpose.
func ld(rows, cols int, trans bool) int {
	if trans {
		return rows
	}
	return cols
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func matmulBackward(tp *Tape, nd *node) {
	batch, m, n, k := nd.ints[0], nd.ints[1], nd.ints[2], nd.ints[3]
	tA, tB := nd.flag, nd.ints[4] == 1
	a, b := nd.in[0], nd.in[1]
	ad, bd, g := a.Value.Data, b.Value.Data, nd.out.Grad.Data
	lda, ldb := ld(m, k, tA), ld(k, n, tB)
	if a.requiresGrad {
		gat, fresh := tp.gradOut(a)
		ga, beta := gat.Data, betaFor(fresh)
		for i := 0; i < batch; i++ {
			gi, bi, gai := g[i*m*n:], bd[i*k*n:], ga[i*m*k:]
			if !tA { // dA[m,k] = dC[m,n] * op(B)^T
				kernels.Sgemm(false, !tB, m, k, n, 1, gi, n, bi, ldb, beta, gai, k)
			} else { // dA[k,m] = op(B) * dC^T
				kernels.Sgemm(tB, true, k, m, n, 1, bi, ldb, gi, n, beta, gai, m)
			}
		}
	}
	if b.requiresGrad {
		gbt, fresh := tp.gradOut(b)
		gb, beta := gbt.Data, betaFor(fresh)
		for i := 0; i < batch; i++ {
			gi, ai, gbi := g[i*m*n:], ad[i*m*k:], gb[i*k*n:]
			if !tB { // dB[k,n] = op(A)^T * dC
				kernels.Sgemm(!tA, false, k, n, m, 1, ai, lda, gi, n, beta, gbi, n)
			} else { // dB[n,k] = dC^T * op(A)
				kernels.Sgemm(true, tA, n, k, m, 1, gi, n, ai, lda, beta, gbi, k)
			}
		}
	}
}

// Linear returns x * w^T + b for x [N,in], w [out,in] (PyTorch's layout)
// and b [out] (or nil).
func (tp *Tape) Linear(x, w, b *Var) *Var {
	if tp.failed() || tp.bad("linear", "x", x) || tp.bad("linear", "w", w) {
		return tp.newVar(1)
	}
	xs, ws := x.Value.Shape, w.Value.Shape
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[1] {
		return tp.fail("linear: input %v and weight %v: want [N,in] and [out,in]", xs, ws)
	}
	nb, in, no := xs[0], xs[1], ws[0]
	if b != nil && (b.Value.Size() != no) {
		return tp.fail("linear: bias %v for %d outputs", b.Value.Shape, no)
	}
	out := tp.newVar(nb, no)
	linearForward(x, w, b, out.Value.Data, nb, in, no)
	tp.record(linearBackward, out, x, w, b) // a nil bias is skipped
	return out
}

// linearForward writes x w^T + b (b may be nil) into od: x [nb, in], w
// [no, in], od [nb, no].
func linearForward(x, w, b *Var, od []float32, nb, in, no int) {
	if b != nil {
		kernels.SgemmBias(false, true, nb, no, in, x.Value.Data, in, w.Value.Data, in, b.Value.Data, od, no)
		return
	}
	kernels.Sgemm(false, true, nb, no, in, 1, x.Value.Data, in, w.Value.Data, in, 0, od, no)
}

func linearBackward(tp *Tape, nd *node) {
	x, w := nd.in[0], nd.in[1]
	nb, in := x.Value.Shape[0], x.Value.Shape[1]
	no := w.Value.Shape[0]
	g := nd.out.Grad.Data
	if x.requiresGrad { // dx[N,in] = g[N,out] * w[out,in]
		gx, fresh := tp.gradOut(x)
		kernels.Sgemm(false, false, nb, in, no, 1, g, no, w.Value.Data, in, betaFor(fresh), gx.Data, in)
	}
	if w.requiresGrad { // dw[out,in] = g^T * x
		gw, fresh := tp.gradOut(w)
		kernels.Sgemm(true, false, no, in, nb, 1, g, no, x.Value.Data, in, betaFor(fresh), gw.Data, in)
	}
	if len(nd.in) > 2 && nd.in[2].requiresGrad {
		rowPass(rowBiasGrad, tp.grad(nd.in[2]).Data, g, nil, nb, no)
	}
}

// LinearSum returns x1 * w1^T + b + x2 * w2^T for x1 [N,in1], w1
// [out,in1], b [out] (or nil), x2 [N,in2] and w2 [out,in2]: two Linear
// layers' outputs summed, as a block and its linear shortcut are in the MI
// networks (dim.MINet). It gives the same values and gradients, bit for
// bit, as tp.Add(tp.Linear(x1, w1, b), tp.Linear(x2, w2, nil)), with less
// memory traffic: the second product adds into the first's output instead
// of writing one of its own, and the backward pass reads the output
// gradient once for both input gradients and once for both weight
// gradients (kernels.Sgemm2, which packs it once; decision #55).
func (tp *Tape) LinearSum(x1, w1, b, x2, w2 *Var) *Var {
	if tp.failed() || tp.bad("linearsum", "x1", x1) || tp.bad("linearsum", "w1", w1) ||
		tp.bad("linearsum", "x2", x2) || tp.bad("linearsum", "w2", w2) {
		return tp.newVar(1)
	}
	x1s, w1s, x2s, w2s := x1.Value.Shape, w1.Value.Shape, x2.Value.Shape, w2.Value.Shape
	if len(x1s) != 2 || len(w1s) != 2 || x1s[1] != w1s[1] || len(x2s) != 2 || len(w2s) != 2 ||
		x2s[1] != w2s[1] || x2s[0] != x1s[0] || w2s[0] != w1s[0] {
		return tp.fail("linearsum: inputs %v, %v and weights %v, %v: want [N,in1], [N,in2], [out,in1] and [out,in2]", x1s, x2s, w1s, w2s)
	}
	nb, in1, in2, no := x1s[0], x1s[1], x2s[1], w1s[0]
	if b != nil && (b.Value.Size() != no) {
		return tp.fail("linearsum: bias %v for %d outputs", b.Value.Shape, no)
	}
	out := tp.newVar(nb, no)
	od := out.Value.Data
	linearForward(x1, w1, b, od, nb, in1, no)
	if in2 <= kernels.SgemmDepth() {
		// One block of k: its sum is added into od with one rounding.
		kernels.Sgemm(false, true, nb, no, in2, 1, x2.Value.Data, in2, w2.Value.Data, in2, 1, od, no)
	} else {
		s := tp.Buffer(nb, no)
		linearForward(x2, w2, nil, s.Data, nb, in2, no)
		addTo(od, s.Data)
	}
	tp.record(linearSumBackward, out, x1, w1, x2, w2, b) // a nil bias is skipped
	return out
}

func linearSumBackward(tp *Tape, nd *node) {
	x1, w1, x2, w2 := nd.in[0], nd.in[1], nd.in[2], nd.in[3]
	nb, in1, in2, no := x1.Value.Shape[0], x1.Value.Shape[1], x2.Value.Shape[1], w1.Value.Shape[0]
	g := nd.out.Grad.Data
	// dx1 [N,in1] = g w1, dx2 [N,in2] = g w2; dw1 [out,in1] = g^T x1, dw2 =
	// g^T x2: each pair one product when both are wanted.
	pair := func(transA bool, m, k int, v1, v2, o1, o2 *Var) {
		switch {
		case o1 == o2 && o1.requiresGrad:
			// One Var in both layers (x1 == x2, or w1 == w2): the second
			// layer's gradient first, then the first's added into it, as
			// the Add of two Linear ops runs their backward passes.
			g2, f2 := tp.gradOut(o2)
			kernels.Sgemm(transA, false, m, in2, k, 1, g, no, v2.Value.Data, in2, betaFor(f2), g2.Data, in2)
			g1, f1 := tp.gradOut(o1)
			kernels.Sgemm(transA, false, m, in1, k, 1, g, no, v1.Value.Data, in1, betaFor(f1), g1.Data, in1)
		case o1.requiresGrad && o2.requiresGrad:
			g1, f1 := tp.gradOut(o1)
			g2, f2 := tp.gradOut(o2)
			kernels.Sgemm2(transA, false, m, in1, in2, k, g, no, v1.Value.Data, in1, betaFor(f1), g1.Data, in1,
				v2.Value.Data, in2, betaFor(f2), g2.Data, in2)
		case o1.requiresGrad:
			g1, f1 := tp.gradOut(o1)
			kernels.Sgemm(transA, false, m, in1, k, 1, g, no, v1.Value.Data, in1, betaFor(f1), g1.Data, in1)
		case o2.requiresGrad:
			g2, f2 := tp.gradOut(o2)
			kernels.Sgemm(transA, false, m, in2, k, 1, g, no, v2.Value.Data, in2, betaFor(f2), g2.Data, in2)
		}
	}
	pair(false, nb, no, w1, w2, x1, x2)
	pair(true, no, nb, x1, x2, w1, w2)
	if len(nd.in) > 4 && nd.in[4].requiresGrad {
		rowPass(rowBiasGrad, tp.grad(nd.in[4]).Data, g, nil, nb, no)
	}
}

// betaFor is the GEMM beta that writes a fresh gradient buffer (0: its
// contents are ignored) or accumulates into an existing one (1).
func betaFor(fresh bool) float32 {
	if fresh {
		return 0
	}
	return 1
}
