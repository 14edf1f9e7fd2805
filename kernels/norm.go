package kernels

import "fmt"

// Row kernels of BatchNorm and LayerNorm (autograd.BatchNorm,
// autograd.BatchNormReLU, autograd.LayerNorm): the element-wise passes over
// one row of C channels (or one [S] block of one channel) that apply the
// normalisation and its gradient. On amd64 CPUs with AVX-512F they run in
// assembly (norm_amd64.s), 16 lanes at a time with a masked last block;
// elsewhere, and with the purego build tag, they run the Go loops of this
// file. Both give bit-identical results: each lane does the separately
// rounded operations of the Go expression in its order (no fused
// multiply-add: the Go build is GOAMD64=v1, which never fuses; a v3 build
// would). Which NaN comes out when two meet (two NaN inputs, or a NaN input
// and one the arithmetic produces) follows the operand order the compiler
// chose for the loops, which the assembly copies but which another build of
// them (-race) may change. The reductions that would have to change their
// order to vectorise (LayerNorm's row sums) are not here.

// normCheck panics, naming the kernel, if any of the slices in s is shorter
// than n.
func normCheck(name string, n int, s ...[]float32) {
	for _, v := range s {
		if len(v) < n {
			panic(fmt.Sprintf("kernels: %s: a slice of %d values for %d elements", name, len(v), n))
		}
	}
}

// NormApply sets y[i] = (x[i]-m[i])*a[i] + b[i] for i < len(x), or Go's
// max(that, 0) (see ReLU) when relu is set: BatchNorm's forward pass over
// one row of an [N,C] input, with m the channel means, a = gamma/std and
// b = beta. It runs on the calling goroutine and allocates nothing. It
// panics if y, m, a or b is shorter than x.
func NormApply(y, x, m, a, b []float32, relu bool) {
	n := len(x)
	normCheck("NormApply", n, y, m, a, b)
	if n > 0 {
		normApply(y[:n], x, m[:n], a[:n], b[:n], relu)
	}
}

// NormApplyConst is NormApply with one channel's m, a and b for every
// element: BatchNorm's forward pass over one channel's [S] block of an
// [N,C,S] input. It panics if y is shorter than x.
func NormApplyConst(y, x []float32, m, a, b float32, relu bool) {
	n := len(x)
	normCheck("NormApplyConst", n, y)
	if n > 0 {
		flags := affineNorm
		if relu {
			flags |= affineReLU
		}
		affineConst(y[:n], x, 0, m, a, b, flags)
	}
}

// NormStats4 adds, for i < len(x0), the deviations d_r = x_r[i]-sh[i] of
// four rows and their squares into p1[i] and p2[i]: four rows' share of
// BatchNorm's per-channel sums over an [N,C] input (shifted by its first
// row, which keeps the variance accurate), in the order
// p1 + ((d0+d1) + (d2+d3)) and p2 + ((d0*d0 + d1*d1) + (d2*d2 + d3*d3)),
// each product rounded on its own. It is bit-identical to that Go loop
// (autograd's, before it moved here) but for NaN payloads where two NaNs
// meet. It runs on the calling goroutine and allocates nothing. It panics
// if a slice is shorter than x0.
func NormStats4(p1, p2, sh, x0, x1, x2, x3 []float32) {
	n := len(x0)
	normCheck("NormStats4", n, p1, p2, sh, x1, x2, x3)
	if n > 0 {
		normStats4(p1[:n], p2[:n], sh[:n], x0, x1[:n], x2[:n], x3[:n])
	}
}

// NormGradStats2 adds, for i < len(x0), g0[i]+g1[i] into p1[i] and
// g0[i]*(x0[i]-m[i]) + g1[i]*(x1[i]-m[i]) into p2[i]: two rows' share of
// BatchNorm's per-channel gradient sums (of g and of g*(x-mean)), in the
// order p1 + (g0 + g1), p2 + (g0*(x0-m) + g1*(x1-m)). It runs on the calling
// goroutine and allocates nothing. It panics if a slice is shorter than x0.
func NormGradStats2(p1, p2, m, x0, x1, g0, g1 []float32) {
	n := len(x0)
	normCheck("NormGradStats2", n, p1, p2, m, x1, g0, g1)
	if n > 0 {
		normGradStats2(p1[:n], p2[:n], m[:n], x0, x1[:n], g0[:n], g1[:n], nil, nil)
	}
}

// NormGradStats2ReLU is NormGradStats2 behind a ReLU whose outputs are y0
// and y1 (BatchNorm followed by ReLU): g_r[i] counts as +0 where y_r[i] is
// not > 0, NaN included. It is bit for bit ReLUBackward into a buffer
// followed by NormGradStats2, without the pass that writes that buffer.
// It panics if a slice is shorter than x0.
func NormGradStats2ReLU(p1, p2, m, x0, x1, g0, g1, y0, y1 []float32) {
	n := len(x0)
	normCheck("NormGradStats2ReLU", n, p1, p2, m, x1, g0, g1, y0, y1)
	if n > 0 {
		normGradStats2(p1[:n], p2[:n], m[:n], x0, x1[:n], g0[:n], g1[:n], y0[:n], y1[:n])
	}
}

// NormGrad sets dx[i] = a[i]*g[i] + b[i]*(x[i]-m[i]) + d[i] for i < len(x)
// (summed left to right), or adds that into dx[i] (dx[i] + e) when add is
// set: BatchNorm's input gradient over one row of an [N,C] input, given
// the per-channel coefficients a, b and d of the backward pass. It runs on
// the calling goroutine and allocates nothing. It panics if a slice is
// shorter than x.
func NormGrad(dx, x, g, m, a, b, d []float32, add bool) {
	n := len(x)
	normCheck("NormGrad", n, dx, g, m, a, b, d)
	if n > 0 {
		normGrad(dx[:n], x, g[:n], nil, m[:n], a[:n], b[:n], d[:n], add)
	}
}

// NormGradReLU is NormGrad behind a ReLU whose output is y: g[i] counts as
// +0 where y[i] is not > 0, NaN included, bit for bit ReLUBackward
// followed by NormGrad. It panics if a slice is shorter than x.
func NormGradReLU(dx, x, g, y, m, a, b, d []float32, add bool) {
	n := len(x)
	normCheck("NormGradReLU", n, dx, g, y, m, a, b, d)
	if n > 0 {
		normGrad(dx[:n], x, g[:n], y[:n], m[:n], a[:n], b[:n], d[:n], add)
	}
}

// NormGradConst is NormGrad with one channel's m, a, b and d for every
// element: the input gradient of one channel's [S] block of an [N,C,S]
// input. It panics if dx or g is shorter than x.
func NormGradConst(dx, x, g []float32, m, a, b, d float32, add bool) {
	n := len(x)
	normCheck("NormGradConst", n, dx, g)
	if n > 0 {
		normGradConst(dx[:n], x, g[:n], nil, m, a, b, d, add)
	}
}

// NormGradConstReLU is NormGradConst behind a ReLU whose output is y, as
// NormGradReLU. It panics if dx, g or y is shorter than x.
func NormGradConstReLU(dx, x, g, y []float32, m, a, b, d float32, add bool) {
	n := len(x)
	normCheck("NormGradConstReLU", n, dx, g, y)
	if n > 0 {
		normGradConst(dx[:n], x, g[:n], y[:n], m, a, b, d, add)
	}
}

// LayerNormApply sets y[i] = ((x[i]-m)*s)*gamma[i] + beta[i] for
// i < len(x): LayerNorm's forward pass over one row, m being the row's mean
// and s its 1/std. It runs on the calling goroutine and allocates nothing.
// It panics if y, gamma or beta is shorter than x.
func LayerNormApply(y, x []float32, m, s float32, gamma, beta []float32) {
	n := len(x)
	normCheck("LayerNormApply", n, y, gamma, beta)
	if n > 0 {
		layerNormApply(y[:n], x, m, s, gamma[:n], beta[:n])
	}
}

// LayerNormGrad sets dx[i] = s*(g[i]*gamma[i]) + c1 + c2*(x[i]-m) for
// i < len(x) (summed left to right), or adds that into dx[i] when add is
// set: LayerNorm's input gradient over one row, m and s being the row's
// mean and 1/std and c1, c2 the row's constants of the backward pass
// (autograd.LayerNorm). It runs on the calling goroutine and allocates
// nothing. It panics if dx, g or gamma is shorter than x.
func LayerNormGrad(dx, x, g, gamma []float32, m, s, c1, c2 float32, add bool) {
	n := len(x)
	normCheck("LayerNormGrad", n, dx, g, gamma)
	if n > 0 {
		layerNormGrad(dx[:n], x, g[:n], gamma[:n], m, s, c1, c2, add)
	}
}

// LayerNormGradSums2 adds, for i < len(x0), g0[i]*((x0[i]-m0)*s0) +
// g1[i]*((x1[i]-m1)*s1) into p1[i] and g0[i]+g1[i] into p2[i] (two rows'
// share of LayerNorm's gamma and beta gradients, in that order, as
// separately rounded operations) and returns the rows' constants of the
// backward pass: a0 = sum of g0[i]*gamma[i] and b0 = sum of
// (g0[i]*gamma[i])*(x0[i]-m0), a1 and b1 likewise for row 1. The sums are
// float32 in 16 partial sums (element i in partial i%16, in order), then
// partials l and l+8 added, l and l+4, l and l+2, l and l+1: the same
// bits with AVX-512 (16 lanes) as without, but for which NaN a result
// carries where two NaNs meet (the assembly does not follow the operand
// order the compiler chose for the Go loop, as the other row kernels do).
// It runs on the calling goroutine and allocates nothing. It panics if a
// slice is shorter than x0.
func LayerNormGradSums2(p1, p2, gamma, x0, x1, g0, g1 []float32, m0, s0, m1, s1 float32) (a0, b0, a1, b1 float32) {
	n := len(x0)
	normCheck("LayerNormGradSums2", n, p1, p2, gamma, x1, g0, g1)
	if n == 0 {
		return 0, 0, 0, 0
	}
	ms, sums := [4]float32{m0, s0, m1, s1}, [4]float32{}
	layerNormGradSums2(p1[:n], p2[:n], gamma[:n], x0, x1[:n], g0[:n], g1[:n], &ms, &sums)
	return sums[0], sums[1], sums[2], sums[3]
}

// layerNormGradSums2Go is LayerNormGradSums2's loop in Go, partial for
// partial what the AVX-512 loop computes in its lanes; all slices have the
// same, non-zero length.
func layerNormGradSums2Go(p1, p2, gamma, x0, x1, g0, g1 []float32, ms *[4]float32, sums *[4]float32) {
	m0, s0, m1, s1 := ms[0], ms[1], ms[2], ms[3]
	var a0, b0, a1, b1 [16]float32
	for i, v := range x0 {
		ga, gb := g0[i], g1[i]
		d0, d1 := v-m0, x1[i]-m1
		// The conversions round each product (no fused multiply-add).
		p1[i] += float32(ga*float32(d0*s0)) + float32(gb*float32(d1*s1))
		p2[i] += ga + gb
		e0, e1 := float32(ga*gamma[i]), float32(gb*gamma[i])
		l := i % 16
		a0[l] += e0
		b0[l] += float32(e0 * d0)
		a1[l] += e1
		b1[l] += float32(e1 * d1)
	}
	for k, s := range []*[16]float32{&a0, &b0, &a1, &b1} {
		sums[k] = laneSum16(s)
	}
}

// laneSum16 returns the sum of the 16 lanes of s as the assembly's LANE_SUM
// reduces them: lanes l and l+8, then l and l+4, l and l+2, l and l+1. It
// overwrites s.
func laneSum16(s *[16]float32) float32 {
	for w := 8; w >= 1; w /= 2 {
		for l := range w {
			s[l] += s[l+w]
		}
	}
	return s[0]
}

// SumShifted64 returns the sums of x[i]-k and of (x[i]-k)^2 over x,
// computed in float64: four partial sums, of the elements at i%4 == 0, 1, 2
// and 3 in order, then (p0+p1)+(p2+p3). Shifting by a value k near the mean
// (LayerNorm takes the row's first) keeps the variance derived from the
// sums accurate. It allocates nothing.
func SumShifted64(x []float32, k float32) (s1, s2 float64) {
	if len(x) < 4 {
		return sumShifted64Go(x, k)
	}
	return sumShifted64(x, k)
}

//go:noinline
func normApplyGo(y, x, m, a, b []float32, relu bool) {
	n := len(x)
	y, m, a, b = y[:n], m[:n], a[:n], b[:n]
	if relu {
		for c, v := range x {
			y[c] = max(float32((v-m[c])*a[c])+b[c], 0)
		}
		return
	}
	for c, v := range x {
		y[c] = float32((v-m[c])*a[c]) + b[c]
	}
}

// Steps of affineConst, in this order (flags).
const (
	affineBias = 1 << iota // v = s + bias
	affineNorm             // v = (v-sub)*mul + add
	affineReLU             // v = max(v, 0)
)

// affineConst sets d[i] to s[i] put through the steps of flags with the
// same constants for every element: NormApplyConst, and the convolution's
// bias and epilogue (convJob.finish). d is as long as s, not empty.
//
//go:noinline
func affineConstGo(d, s []float32, bias, sub, mul, add float32, flags int) {
	d = d[:len(s)]
	switch flags {
	case affineBias:
		for i, v := range s {
			d[i] = v + bias
		}
	case affineNorm:
		for i, v := range s {
			d[i] = float32((v-sub)*mul) + add
		}
	case affineNorm | affineReLU:
		for i, v := range s {
			d[i] = max(float32((v-sub)*mul)+add, 0)
		}
	case affineBias | affineNorm:
		for i, v := range s {
			v += bias
			d[i] = float32((v-sub)*mul) + add
		}
	case affineBias | affineNorm | affineReLU:
		for i, v := range s {
			v += bias
			d[i] = max(float32((v-sub)*mul)+add, 0)
		}
	default:
		panic(fmt.Sprintf("kernels: affineConst: flags %#x", flags))
	}
}

//go:noinline
func normStats4Go(p1, p2, sh, x0, x1, x2, x3 []float32) {
	n := len(x0)
	p1, p2, sh, x1, x2, x3 = p1[:n], p2[:n], sh[:n], x1[:n], x2[:n], x3[:n]
	for c, v := range x0 {
		kc := sh[c]
		d0, d1, d2, d3 := v-kc, x1[c]-kc, x2[c]-kc, x3[c]-kc
		p1[c] += (d0 + d1) + (d2 + d3)
		p2[c] += (float32(d0*d0) + float32(d1*d1)) + (float32(d2*d2) + float32(d3*d3))
	}
}

//go:noinline
func normGradStats2Go(p1, p2, m, x0, x1, g0, g1, y0, y1 []float32) {
	n := len(x0)
	p1, p2, m, x1, g0, g1 = p1[:n], p2[:n], m[:n], x1[:n], g0[:n], g1[:n]
	for c, v := range x0 {
		mc, a, b := m[c], reluGate(g0, y0, c), reluGate(g1, y1, c)
		p1[c] += a + b
		p2[c] += float32(a*(v-mc)) + float32(b*(x1[c]-mc))
	}
}

//go:noinline
func normGradGo(dx, x, g, y, m, a, b, d []float32, add bool) {
	n := len(x)
	dx, g, m, a, b, d = dx[:n], g[:n], m[:n], a[:n], b[:n], d[:n]
	if add {
		for c, v := range x {
			dx[c] += float32(a[c]*reluGate(g, y, c)) + float32(b[c]*(v-m[c])) + d[c]
		}
		return
	}
	for c, v := range x {
		dx[c] = float32(a[c]*reluGate(g, y, c)) + float32(b[c]*(v-m[c])) + d[c]
	}
}

//go:noinline
func normGradConstGo(dx, x, g, y []float32, m, a, b, d float32, add bool) {
	n := len(x)
	dx, g = dx[:n], g[:n]
	if add {
		for i, v := range x {
			dx[i] += float32(a*reluGate(g, y, i)) + float32(b*(v-m)) + d
		}
		return
	}
	for i, v := range x {
		dx[i] = float32(a*reluGate(g, y, i)) + float32(b*(v-m)) + d
	}
}

//go:noinline
func layerNormApplyGo(y, x []float32, m, s float32, gamma, beta []float32) {
	n := len(x)
	y, gamma, beta = y[:n], gamma[:n], beta[:n]
	for i, v := range x {
		y[i] = float32(float32((v-m)*s)*gamma[i]) + beta[i]
	}
}

//go:noinline
func layerNormGradGo(dx, x, g, gamma []float32, m, s, c1, c2 float32, add bool) {
	n := len(x)
	dx, g, gamma = dx[:n], g[:n], gamma[:n]
	if add {
		for i, v := range x {
			dx[i] += float32(s*float32(g[i]*gamma[i])) + c1 + float32(c2*(v-m))
		}
		return
	}
	for i, v := range x {
		dx[i] = float32(s*float32(g[i]*gamma[i])) + c1 + float32(c2*(v-m))
	}
}

func sumShifted64Go(x []float32, k float32) (s1, s2 float64) {
	kk := float64(k)
	n := len(x)
	var a0, a1, a2, a3, b0, b1, b2, b3 float64
	i := 0
	for ; i < n-3; i += 4 {
		d0, d1 := float64(x[i])-kk, float64(x[i+1])-kk
		d2, d3 := float64(x[i+2])-kk, float64(x[i+3])-kk
		a0 += d0
		a1 += d1
		a2 += d2
		a3 += d3
		b0 += float64(d0 * d0) // rounded: no fused multiply-add
		b1 += float64(d1 * d1)
		b2 += float64(d2 * d2)
		b3 += float64(d3 * d3)
	}
	for ; i < n; i++ {
		d := float64(x[i]) - kk
		a0 += d
		b0 += float64(d * d)
	}
	return (a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3)
}

// NormShiftedSums returns the sums of d = x[i]-k and of d*d over x,
// accumulated in 16 float32 lanes (element i in lane i%16) and reduced
// lanes l and l+8, then l+4, l+2, l+1: BatchNorm's statistics over one
// channel's [S] block of an [N,C,S] input, shifted by a value near the
// mean. The assembly (AVX-512) and the Go loop give the same bits. It
// allocates nothing.
func NormShiftedSums(x []float32, k float32) (s1, s2 float32) {
	return normPlaneSums(x, nil, nil, k, false)
}

// NormGradSumsPlane returns the sums of g[i] and of g[i]*(x[i]-m) over x,
// in 16 float32 lanes reduced as NormShiftedSums's: BatchNorm's gradient
// sums over one channel's [S] block. With y (the outputs of a ReLU after
// the BatchNorm, laid out as x) not nil, g[i] counts as +0 where y[i] is
// not > 0, NaN included (ReLUBackward's gradient). The assembly and the
// Go loop give the same bits but for NaN payloads where two NaNs meet. It
// panics if g, or y when not nil, is shorter than x.
func NormGradSumsPlane(x, g, y []float32, m float32) (sg, sgd float32) {
	n := len(x)
	if len(g) < n || y != nil && len(y) < n {
		panic(fmt.Sprintf("kernels: NormGradSumsPlane: %d gradients and %d outputs for %d values", len(g), len(y), n))
	}
	if y != nil {
		y = y[:n]
	}
	return normPlaneSums(x, g[:n], y, m, true)
}

// normPlaneSumsGo is NormShiftedSums (grad false) and NormGradSumsPlane
// (grad true) as a Go loop: the lanes, then their reduction.
func normPlaneSumsGo(x, g, y []float32, m float32, grad bool) (s0, s1 float32) {
	var a, b [16]float32
	for i, v := range x {
		d := v - m
		l := i % 16
		if grad {
			gg := reluGate(g, y, i)
			a[l] += gg
			b[l] += float32(d * gg) // rounded: no fused multiply-add
		} else {
			a[l] += d
			b[l] += float32(d * d)
		}
	}
	return laneSum16(&a), laneSum16(&b)
}

// NormGradSumsChans sums, for each of up to 8 consecutive channels of one
// image of an [N,C,S] tensor, g and g*(x-m) over the channel's S values,
// as BatchNorm's backward pass does (autograd): channel ch's values are
// x[ch*s : ch*s+s] and g[ch*s : ch*s+s], and its sums go to a[2ch],
// a[2ch+1] (of g) and b[2ch], b[2ch+1] (of g*(x-mean[ch])), two float32
// lanes each, the elements at even offsets into the first and odd ones
// into the second, in order:
//
//	a[2ch] += g[i]; a[2ch+1] += g[i+1]
//	b[2ch] += g[i]*(x[i]-m); b[2ch+1] += g[i+1]*(x[i+1]-m)
//
// for each pair, and an odd last value into the first lanes; mean has one
// value per channel. a and b are overwritten (0 past the channels). With
// AVX-512 the channels run side by side, each in its own lanes,
// bit-identical to the scalar loop. It panics for more than 8 channels, s
// below 1, or x or g shorter than len(mean)*s.
func NormGradSumsChans(a, b *[16]float32, x, g []float32, s int, mean []float32) {
	sumsChans("NormGradSumsChans", a, b, x, g, nil, s, mean)
}

// NormGradSumsChansReLU is NormGradSumsChans behind a ReLU whose output is
// y (laid out as x): g[i] counts as +0 where y[i] is not > 0, NaN
// included, bit for bit ReLUBackward followed by NormGradSumsChans. It
// panics as NormGradSumsChans does, or if y is shorter than
// len(mean)*s.
func NormGradSumsChansReLU(a, b *[16]float32, x, g, y []float32, s int, mean []float32) {
	if y == nil {
		y = []float32{} // checked, unlike NormGradSumsChans's absent mask
	}
	sumsChans("NormGradSumsChansReLU", a, b, x, g, y, s, mean)
}

// sumsChans checks the arguments of NormGradSumsChans (y nil) or its ReLU
// variant and runs it.
func sumsChans(name string, a, b *[16]float32, x, g, y []float32, s int, mean []float32) {
	nch := len(mean)
	if nch > 8 || s < 1 || len(x) < nch*s || len(g) < nch*s || y != nil && len(y) < nch*s {
		panic(fmt.Sprintf("kernels: %s: %d channels of %d values, %d, %d and %d given", name, nch, s, len(x), len(g), len(y)))
	}
	*a, *b = [16]float32{}, [16]float32{}
	if nch == 0 {
		return
	}
	normGradSumsChans(a, b, x, g, y, s, mean)
}

// normGradSumsChansGo is NormGradSumsChans's scalar loop.
func normGradSumsChansGo(a, b *[16]float32, x, g, y []float32, s int, mean []float32) {
	for ch, m := range mean {
		xb, gb := x[ch*s:ch*s+s], g[ch*s:ch*s+s]
		var yb []float32
		if y != nil {
			yb = y[ch*s : ch*s+s]
		}
		var a0, a1, b0, b1 float32
		i := 0
		for ; i+2 <= len(xb); i += 2 {
			g0, g1 := reluGate(gb, yb, i), reluGate(gb, yb, i+1)
			a0 += g0
			a1 += g1
			b0 += float32(g0 * (xb[i] - m))
			b1 += float32(g1 * (xb[i+1] - m))
		}
		if i < len(xb) {
			gi := reluGate(gb, yb, i)
			a0 += gi
			b0 += float32(gi * (xb[i] - m))
		}
		a[2*ch], a[2*ch+1], b[2*ch], b[2*ch+1] = a0, a1, b0, b1
	}
}

// reluGate returns g[i], or +0 where y (a ReLU's output, when not nil) is
// not > 0 at i, NaN included: ReLUBackward's gradient, element by element.
func reluGate(g, y []float32, i int) float32 {
	if y != nil && !(y[i] > 0) {
		return 0
	}
	return g[i]
}

// sumLanes64Go adds float64(x[i]) into l[i%32] for each i in order: 32
// independent partial sums, which the assembly keeps in four vectors.
func sumLanes64Go(l *[32]float64, x []float32) {
	for i, v := range x {
		l[i%32] += float64(v)
	}
}

// reduceLanes64 returns the sum of the 32 partials of l in a fixed order:
// the four blocks of eight added lane by lane ((0+1)+(2+3)), then the
// eight lanes pairwise ((0+4)+(2+6))+((1+5)+(3+7)).
func reduceLanes64(l *[32]float64) float64 {
	var t [8]float64
	for j := range t {
		t[j] = (l[j] + l[8+j]) + (l[16+j] + l[24+j])
	}
	return ((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) + (t[3] + t[7]))
}
