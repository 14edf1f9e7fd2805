//go:build amd64 && !purego

package kernels

// The assembly loops of the row kernels of norm.go (norm_amd64.s). Each
// takes n > 0 elements; slices are checked by the callers.

//go:noescape
func normApplyAVX512(y, x, m, a, b *float32, n int, relu bool)

// affineConstAVX512 is affineConst's loop over n > 0 elements.
//
//go:noescape
func affineConstAVX512(d, s *float32, n int, bias, sub, mul, add float32, flags int)

//go:noescape
func normGradStats2AVX512(p1, p2, m, x0, x1, g0, g1, y0, y1 *float32, n int)

//go:noescape
func normStats4AVX512(p1, p2, sh, x0, x1, x2, x3 *float32, n int)

//go:noescape
func normGradAVX512(gx, x, gr, m, a, b, d, y *float32, n int, add bool)

//go:noescape
func normGradConstAVX512(gx, x, gr, y *float32, n int, m, a, b, d float32, add bool)

//go:noescape
func layerNormApplyAVX512(y, x, gamma, beta *float32, n int, m, s float32)

//go:noescape
func layerNormGradAVX512(gx, x, gr, gamma *float32, n int, m, s, c1, c2 float32, add bool)

// sumShifted4AVX512 stores in lanes the four float64 partial sums of x-k
// (lanes[0:4]) and of (x-k)^2 (lanes[4:8]) over the first n elements of x,
// n a positive multiple of 4, element i going to partial i%4.
//
//go:noescape
func sumShifted4AVX512(x *float32, n int, k float32, lanes *[8]float64)

func normApply(y, x, m, a, b []float32, relu bool) {
	if !elemAVX512 {
		normApplyGo(y, x, m, a, b, relu)
		return
	}
	normApplyAVX512(&y[0], &x[0], &m[0], &a[0], &b[0], len(x), relu)
}

func affineConst(d, s []float32, bias, sub, mul, add float32, flags int) {
	if !elemAVX512 {
		affineConstGo(d, s, bias, sub, mul, add, flags)
		return
	}
	affineConstAVX512(&d[0], &s[0], len(s), bias, sub, mul, add, flags)
}

//go:noescape
func layerNormGradSums2AVX512(p1, p2, gamma, x0, x1, g0, g1 *float32, n int, ms *[4]float32, sums *[4]float32)

func layerNormGradSums2(p1, p2, gamma, x0, x1, g0, g1 []float32, ms *[4]float32, sums *[4]float32) {
	if !elemAVX512 {
		layerNormGradSums2Go(p1, p2, gamma, x0, x1, g0, g1, ms, sums)
		return
	}
	layerNormGradSums2AVX512(&p1[0], &p2[0], &gamma[0], &x0[0], &x1[0], &g0[0], &g1[0], len(x0), ms, sums)
}

func normStats4(p1, p2, sh, x0, x1, x2, x3 []float32) {
	if !elemAVX512 {
		normStats4Go(p1, p2, sh, x0, x1, x2, x3)
		return
	}
	normStats4AVX512(&p1[0], &p2[0], &sh[0], &x0[0], &x1[0], &x2[0], &x3[0], len(x0))
}

// first returns &s[0], or nil for an empty s (no ReLU mask).
func first(s []float32) *float32 {
	if len(s) == 0 {
		return nil
	}
	return &s[0]
}

func normGradStats2(p1, p2, m, x0, x1, g0, g1, y0, y1 []float32) {
	if !elemAVX512 {
		normGradStats2Go(p1, p2, m, x0, x1, g0, g1, y0, y1)
		return
	}
	normGradStats2AVX512(&p1[0], &p2[0], &m[0], &x0[0], &x1[0], &g0[0], &g1[0], first(y0), first(y1), len(x0))
}

func normGrad(dx, x, g, y, m, a, b, d []float32, add bool) {
	if !elemAVX512 {
		normGradGo(dx, x, g, y, m, a, b, d, add)
		return
	}
	normGradAVX512(&dx[0], &x[0], &g[0], &m[0], &a[0], &b[0], &d[0], first(y), len(x), add)
}

func normGradConst(dx, x, g, y []float32, m, a, b, d float32, add bool) {
	if !elemAVX512 {
		normGradConstGo(dx, x, g, y, m, a, b, d, add)
		return
	}
	normGradConstAVX512(&dx[0], &x[0], &g[0], first(y), len(x), m, a, b, d, add)
}

func layerNormApply(y, x []float32, m, s float32, gamma, beta []float32) {
	if !elemAVX512 {
		layerNormApplyGo(y, x, m, s, gamma, beta)
		return
	}
	layerNormApplyAVX512(&y[0], &x[0], &gamma[0], &beta[0], len(x), m, s)
}

func layerNormGrad(dx, x, g, gamma []float32, m, s, c1, c2 float32, add bool) {
	if !elemAVX512 {
		layerNormGradGo(dx, x, g, gamma, m, s, c1, c2, add)
		return
	}
	layerNormGradAVX512(&dx[0], &x[0], &g[0], &gamma[0], len(x), m, s, c1, c2, add)
}

// sumShifted64 is SumShifted64 for len(x) >= 4: the partial sums of the
// whole groups of four in assembly, the last one to three elements added
// to partial 0 as the Go loop does.
func sumShifted64(x []float32, k float32) (s1, s2 float64) {
	if !elemAVX512 {
		return sumShifted64Go(x, k)
	}
	n4 := len(x) &^ 3
	var l [8]float64
	sumShifted4AVX512(&x[0], n4, k, &l)
	kk := float64(k)
	for _, v := range x[n4:] {
		d := float64(v) - kk
		l[0] += d
		l[4] += float64(d * d)
	}
	return (l[0] + l[1]) + (l[2] + l[3]), (l[4] + l[5]) + (l[6] + l[7])
}

// normGradSumsChansAVX512 is NormGradSumsChans's loop: idx holds each
// lane's offset (2ch+j: ch*s+j), m each lane's mean, mask the lanes of the
// channels present; pairs of values, then an odd last one.
//
//go:noescape
func normGradSumsChansAVX512(a, b, x, gr, y *float32, idx *[16]int32, m *[16]float32, s int, mask uint16)

func normGradSumsChans(a, b *[16]float32, x, g, y []float32, s int, mean []float32) {
	if !elemAVX512 {
		normGradSumsChansGo(a, b, x, g, y, s, mean)
		return
	}
	var idx [16]int32
	var m [16]float32
	for ch, v := range mean {
		idx[2*ch], idx[2*ch+1] = int32(ch*s), int32(ch*s+1)
		m[2*ch], m[2*ch+1] = v, v
	}
	normGradSumsChansAVX512(&a[0], &b[0], &x[0], &g[0], first(y), &idx, &m, s, uint16(1<<(2*len(mean))-1))
}

// sumLanes64AVX512 adds float64(x[i]) into l[i%32] for i < n.
//
//go:noescape
func sumLanes64AVX512(l *[32]float64, x *float32, n int)

// sumLanes64 adds x's values into the 32 float64 partial sums of l, value
// i into l[i%32], in order: sumLanes64Go's additions, in assembly.
func sumLanes64(l *[32]float64, x []float32) {
	if !elemAVX512 || len(x) == 0 {
		sumLanes64Go(l, x)
		return
	}
	sumLanes64AVX512(l, &x[0], len(x))
}

// normPlaneSumsAVX512 is normPlaneSumsGo's loop over n > 0 elements.
//
//go:noescape
func normPlaneSumsAVX512(x, gr, y *float32, n int, m float32, grad bool, sums *[2]float32)

func normPlaneSums(x, g, y []float32, m float32, grad bool) (s0, s1 float32) {
	if !elemAVX512 || len(x) == 0 {
		return normPlaneSumsGo(x, g, y, m, grad)
	}
	var sums [2]float32
	var gp *float32
	if grad {
		gp = &g[0]
	}
	normPlaneSumsAVX512(&x[0], gp, first(y), len(x), m, grad, &sums)
	return sums[0], sums[1]
}
