package autograd

import (
	"math"
)

// Softmax-family ops: Softmax, LogSoftmax, LogSumExp and CrossEntropy. All
// subtract the maximum along the reduced axis before exponentiating, so they
// neither overflow nor underflow to a wrong answer for large logits.
//
// The reduced axis splits the input into [outer, K, inner]. When the axis is
// the last one (inner == 1) every row is contiguous and rows are processed in
// parallel; otherwise each [K, inner] block is processed with per-position
// scratch vectors.

// Variants of a softmax pass (normJob.mode and node.ints[3]).
const (
	smLog = iota
	smSoft
	smLSE
	smCE
)

var smNames = [...]string{"logsoftmax", "softmax", "logsumexp", "crossentropy"}

// smWork is a rough cost, in element passes, of one softmax element (an
// exponential costs a few plain passes), used to decide on parallelism.
const smWork = 8

// LogSoftmax returns x - log(sum(exp(x))) along axis (negative counts from
// the end).
func (tp *Tape) LogSoftmax(x *Var, axis int) *Var { return tp.softmaxOp(x, axis, smLog, false) }

// Softmax returns exp(x) / sum(exp(x)) along axis (negative counts from the
// end).
func (tp *Tape) Softmax(x *Var, axis int) *Var { return tp.softmaxOp(x, axis, smSoft, false) }

// LogSumExp returns log(sum(exp(x))) reducing axis (negative counts from the
// end); keepDim keeps the reduced axis with size 1, otherwise it is removed.
func (tp *Tape) LogSumExp(x *Var, axis int, keepDim bool) *Var {
	return tp.softmaxOp(x, axis, smLSE, keepDim)
}

// softmaxAxis splits shape around axis into outer, k and inner extents.
func softmaxAxis(shape []int, axis int) (a, outer, k, inner int, ok bool) {
	a = axis
	if a < 0 {
		a += len(shape)
	}
	if a < 0 || a >= len(shape) {
		return 0, 0, 0, 0, false
	}
	outer, inner = 1, 1
	for _, d := range shape[:a] {
		outer *= d
	}
	for _, d := range shape[a+1:] {
		inner *= d
	}
	return a, outer, shape[a], inner, true
}

func (tp *Tape) softmaxOp(x *Var, axis, mode int, keepDim bool) *Var {
	if tp.failed() || tp.bad(smNames[mode], "x", x) {
		return tp.newVar(1)
	}
	xs := x.Value.Shape
	a, outer, K, inner, ok := softmaxAxis(xs, axis)
	if !ok {
		return tp.fail("%s: axis %d out of range for input %v", smNames[mode], axis, xs)
	}
	if K == 0 {
		return tp.fail("%s: input %v is empty along axis %d", smNames[mode], xs, axis)
	}
	var out *Var
	if mode == smLSE {
		var shp [16]int
		if len(xs) > len(shp) {
			return tp.fail("%s: input %v has more than %d axes", smNames[mode], xs, len(shp))
		}
		r := copy(shp[:], xs[:a])
		if keepDim {
			shp[r] = 1
			r++
		}
		r += copy(shp[r:], xs[a+1:])
		out = tp.newVar(shp[:r]...)
	} else {
		out = tp.newVar(xs...)
	}
	xd, yd := x.Value.Data, out.Value.Data
	if inner == 1 {
		j := getNormJob(jobSoftmaxForward)
		j.n, j.c, j.mode, j.x, j.y = outer, K, mode, xd, yd
		j.parallel(outer, smWork*len(xd))
	} else {
		m, s := tp.Buffer(inner).Data, tp.Buffer(inner).Data
		for o := 0; o < outer; o++ {
			softmaxForwardBlock(mode, xd[o*K*inner:(o+1)*K*inner], yd, o, K, inner, m, s)
		}
	}
	if n := tp.record(softmaxBackward, out, x); n != nil {
		n.ints[0], n.ints[1], n.ints[2], n.ints[3] = outer, K, inner, mode
	}
	return out
}

func softmaxBackward(tp *Tape, n *node) {
	outer, K, inner, mode := n.ints[0], n.ints[1], n.ints[2], n.ints[3]
	x := n.in[0]
	if !x.requiresGrad {
		return
	}
	xd, yd, gd, dx := x.Value.Data, n.out.Value.Data, n.out.Grad.Data, tp.grad(x).Data
	if inner == 1 {
		j := getNormJob(jobSoftmaxBackward)
		j.n, j.c, j.mode, j.x, j.y, j.g, j.d = outer, K, mode, xd, yd, gd, dx
		j.parallel(outer, smWork*len(xd))
		return
	}
	s := tp.Buffer(inner).Data
	for o := 0; o < outer; o++ {
		lo, hi := o*K*inner, (o+1)*K*inner
		softmaxBackwardBlock(mode, xd[lo:hi], yd, gd, dx[lo:hi], o, K, inner, s)
	}
}

// smRowMax returns the maximum of x, or 0 when it is -Inf (a row of -Inf then
// yields exp = 0 rather than NaN from -Inf - -Inf).
func smRowMax(x []float32) float32 {
	m := x[0]
	for _, v := range x[1:] {
		if v > m {
			m = v
		}
	}
	if math.IsInf(float64(m), -1) {
		return 0
	}
	return m
}

// smSumExp returns sum(exp(x-m)) in float64.
func smSumExp(x []float32, m float32) float64 {
	var s0, s1 float64
	i := 0
	for ; i+2 <= len(x); i += 2 {
		s0 += math.Exp(float64(x[i] - m))
		s1 += math.Exp(float64(x[i+1] - m))
	}
	if i < len(x) {
		s0 += math.Exp(float64(x[i] - m))
	}
	return s0 + s1
}

// softmaxForwardRows computes the forward pass of j.mode for rows [lo, hi)
// of an [n, K] input.
func softmaxForwardRows(j *normJob, lo, hi int) {
	K := j.c
	for r := lo; r < hi; r++ {
		xr := j.x[r*K : r*K+K]
		m := smRowMax(xr)
		switch j.mode {
		case smSoft:
			yr := j.y[r*K : r*K+K]
			yr = yr[:len(xr)]
			var s float64
			for i, v := range xr {
				e := exp32(v - m)
				yr[i] = e
				s += float64(e)
			}
			inv := float32(1 / s)
			for i := range yr {
				yr[i] *= inv
			}
		case smLog:
			l := float32(math.Log(smSumExp(xr, m)))
			yr := j.y[r*K : r*K+K]
			yr = yr[:len(xr)]
			for i, v := range xr {
				yr[i] = (v - m) - l
			}
		case smLSE:
			j.y[r] = float32(float64(m) + math.Log(smSumExp(xr, m)))
		case smCE:
			lse := float64(m) + math.Log(smSumExp(xr, m))
			j.mean[r] = float32(lse)
			j.p1[r] = float32(lse - float64(xr[int(j.a[r])]))
		}
	}
}

// softmaxBackwardRows adds the input gradient of j.mode into j.d for rows
// [lo, hi) of an [n, K] input.
func softmaxBackwardRows(j *normJob, lo, hi int) {
	K := j.c
	for r := lo; r < hi; r++ {
		xr := j.x[r*K : r*K+K]
		dr := j.d[r*K : r*K+K]
		dr = dr[:len(xr)]
		switch j.mode {
		case smLog: // dx = g - softmax * sum(g)
			yr := j.y[r*K : r*K+K]
			gr := j.g[r*K : r*K+K]
			yr, gr = yr[:len(xr)], gr[:len(xr)]
			sg := float32(normSum4(gr))
			for i, y := range yr {
				dr[i] += gr[i] - exp32(y)*sg
			}
		case smSoft: // dx = y * (g - sum(g*y))
			yr := j.y[r*K : r*K+K]
			gr := j.g[r*K : r*K+K]
			yr, gr = yr[:len(xr)], gr[:len(xr)]
			var s0, s1 float32
			i := 0
			for ; i+2 <= len(yr); i += 2 {
				s0 += gr[i] * yr[i]
				s1 += gr[i+1] * yr[i+1]
			}
			if i < len(yr) {
				s0 += gr[i] * yr[i]
			}
			sgy := float32(float64(s0) + float64(s1))
			for i, y := range yr {
				dr[i] += y * (gr[i] - sgy)
			}
		case smLSE: // dx = g * exp(x - lse)
			g, l := j.g[r], j.y[r]
			for i, v := range xr {
				dr[i] += g * exp32(v-l)
			}
		case smCE: // dx = scale * (softmax - onehot(label))
			sc, l := j.f, j.mean[r]
			for i, v := range xr {
				dr[i] += sc * exp32(v-l)
			}
			dr[int(j.a[r])] -= sc
		}
	}
}

// softmaxForwardBlock computes the forward pass of mode for block o, a
// [K, inner] slice x of the input, writing into y (the whole output: the
// block's part, or its [inner] results for LogSumExp); m and s are [inner]
// scratch vectors.
func softmaxForwardBlock(mode int, x, y []float32, o, K, inner int, m, s []float32) {
	copy(m, x[:inner])
	for k := 1; k < K; k++ {
		row := x[k*inner : k*inner+inner]
		for i, v := range row {
			if v > m[i] {
				m[i] = v
			}
		}
	}
	for i, v := range m {
		if math.IsInf(float64(v), -1) {
			m[i] = 0
		}
	}
	base := o * K * inner
	if mode == smSoft {
		clear(s)
		for k := 0; k < K; k++ {
			row := x[k*inner : k*inner+inner]
			yr := y[base+k*inner : base+k*inner+inner]
			for i, v := range row {
				e := exp32(v - m[i])
				yr[i] = e
				s[i] += e
			}
		}
		for i := range s {
			s[i] = 1 / s[i]
		}
		for k := 0; k < K; k++ {
			yr := y[base+k*inner : base+k*inner+inner]
			for i := range yr {
				yr[i] *= s[i]
			}
		}
		return
	}
	clear(s)
	for k := 0; k < K; k++ {
		row := x[k*inner : k*inner+inner]
		for i, v := range row {
			s[i] += exp32(v - m[i])
		}
	}
	for i := range s {
		s[i] = float32(math.Log(float64(s[i])))
	}
	if mode == smLSE {
		yr := y[o*inner : o*inner+inner]
		for i := range yr {
			yr[i] = m[i] + s[i]
		}
		return
	}
	for k := 0; k < K; k++ {
		row := x[k*inner : k*inner+inner]
		yr := y[base+k*inner : base+k*inner+inner]
		for i, v := range row {
			yr[i] = (v - m[i]) - s[i]
		}
	}
}

// softmaxBackwardBlock adds the input gradient of mode for block o into dx
// (the block's [K, inner] part); x is the block's input, y and g the whole
// output and its gradient; s is an [inner] scratch vector.
func softmaxBackwardBlock(mode int, x, y, g, dx []float32, o, K, inner int, s []float32) {
	base := o * K * inner
	switch mode {
	case smLSE:
		l := y[o*inner : o*inner+inner]
		gl := g[o*inner : o*inner+inner]
		for k := 0; k < K; k++ {
			row := x[k*inner : k*inner+inner]
			dr := dx[k*inner : k*inner+inner]
			for i, v := range row {
				dr[i] += gl[i] * exp32(v-l[i])
			}
		}
	case smLog:
		clear(s)
		for k := 0; k < K; k++ {
			gr := g[base+k*inner : base+k*inner+inner]
			for i, v := range gr {
				s[i] += v
			}
		}
		for k := 0; k < K; k++ {
			yr := y[base+k*inner : base+k*inner+inner]
			gr := g[base+k*inner : base+k*inner+inner]
			dr := dx[k*inner : k*inner+inner]
			for i, v := range yr {
				dr[i] += gr[i] - exp32(v)*s[i]
			}
		}
	case smSoft:
		clear(s)
		for k := 0; k < K; k++ {
			yr := y[base+k*inner : base+k*inner+inner]
			gr := g[base+k*inner : base+k*inner+inner]
			for i, v := range yr {
				s[i] += v * gr[i]
			}
		}
		for k := 0; k < K; k++ {
			yr := y[base+k*inner : base+k*inner+inner]
			gr := g[base+k*inner : base+k*inner+inner]
			dr := dx[k*inner : k*inner+inner]
			for i, v := range yr {
				dr[i] += v * (gr[i] - s[i])
			}
		}
	}
}

// CrossEntropy returns the mean over the batch of -log softmax(logits)[i,
// labels[i]] for logits of shape [N,K] and labels in [0,K); an out-of-range
// label or a label count other than N is a tape error. The labels are copied
// (into a tape buffer) during the call.
func (tp *Tape) CrossEntropy(logits *Var, labels []int) *Var {
	if tp.failed() || tp.bad("crossentropy", "logits", logits) {
		return tp.newVar()
	}
	xs := logits.Value.Shape
	if len(xs) != 2 || xs[0] == 0 || xs[1] == 0 {
		return tp.fail("crossentropy: logits %v: want a non-empty [N,K]", xs)
	}
	N, K := xs[0], xs[1]
	if len(labels) != N {
		return tp.fail("crossentropy: logits %v and %d labels: want one label per row", xs, len(labels))
	}
	lab := tp.Buffer(N)
	for i, l := range labels {
		if l < 0 || l >= K {
			return tp.fail("crossentropy: logits %v: label %d of row %d out of range [0,%d)", xs, l, i, K)
		}
		lab.Data[i] = float32(l)
	}
	out := tp.newVar()
	lse, loss := tp.Buffer(N), tp.Buffer(N)
	j := getNormJob(jobSoftmaxForward)
	j.n, j.c, j.mode, j.x, j.a, j.mean, j.p1 = N, K, smCE, logits.Value.Data, lab.Data, lse.Data, loss.Data
	j.parallel(N, smWork*N*K)
	var s float64
	for _, v := range loss.Data {
		s += float64(v)
	}
	out.Value.Data[0] = float32(s / float64(N))
	if n := tp.record(crossEntropyBackward, out, logits); n != nil {
		n.ints[0], n.ints[1] = N, K
		n.aux[0], n.aux[1] = lse, lab
	}
	return out
}

func crossEntropyBackward(tp *Tape, n *node) {
	x := n.in[0]
	N, K := n.ints[0], n.ints[1]
	j := getNormJob(jobSoftmaxBackward)
	j.n, j.c, j.mode, j.x, j.d = N, K, smCE, x.Value.Data, tp.grad(x).Data
	j.mean, j.a, j.f = n.aux[0].Data, n.aux[1].Data, n.out.Grad.Data[0]/float32(N)
	j.parallel(N, smWork*N*K)
}
