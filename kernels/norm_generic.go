//go:build !amd64 || purego

package kernels

func normApply(y, x, m, a, b []float32, relu bool) { normApplyGo(y, x, m, a, b, relu) }

func affineConst(d, s []float32, bias, sub, mul, add float32, flags int) {
	affineConstGo(d, s, bias, sub, mul, add, flags)
}

func normStats4(p1, p2, sh, x0, x1, x2, x3 []float32) { normStats4Go(p1, p2, sh, x0, x1, x2, x3) }

func normGradStats2(p1, p2, m, x0, x1, g0, g1, y0, y1 []float32) {
	normGradStats2Go(p1, p2, m, x0, x1, g0, g1, y0, y1)
}

func layerNormGradSums2(p1, p2, gamma, x0, x1, g0, g1 []float32, ms *[4]float32, sums *[4]float32) {
	layerNormGradSums2Go(p1, p2, gamma, x0, x1, g0, g1, ms, sums)
}

func normGrad(dx, x, g, y, m, a, b, d []float32, add bool) { normGradGo(dx, x, g, y, m, a, b, d, add) }

func normGradConst(dx, x, g, y []float32, m, a, b, d float32, add bool) {
	normGradConstGo(dx, x, g, y, m, a, b, d, add)
}

func layerNormApply(y, x []float32, m, s float32, gamma, beta []float32) {
	layerNormApplyGo(y, x, m, s, gamma, beta)
}

func layerNormGrad(dx, x, g, gamma []float32, m, s, c1, c2 float32, add bool) {
	layerNormGradGo(dx, x, g, gamma, m, s, c1, c2, add)
}

func sumShifted64(x []float32, k float32) (s1, s2 float64) { return sumShifted64Go(x, k) }

func normGradSumsChans(a, b *[16]float32, x, g, y []float32, s int, mean []float32) {
	normGradSumsChansGo(a, b, x, g, y, s, mean)
}

func sumLanes64(l *[32]float64, x []float32) { sumLanes64Go(l, x) }

func normPlaneSums(x, g, y []float32, m float32, grad bool) (s0, s1 float32) {
	return normPlaneSumsGo(x, g, y, m, grad)
}
