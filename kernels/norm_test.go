package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// normKernel is one row kernel of norm.go: run calls it (the exported
// function, in assembly where the CPU allows) on out (its outputs, one
// value longer than n) and in (its inputs of n values; m, a, b and d the
// scalars of the Const kernels), ref runs the Go loop it must equal bit for
// bit. outs is the number of output slices.
type normKernel struct {
	name      string
	ins, outs int
	run, ref  func(out, in [][]float32, n int)
}

var normKernels = []normKernel{
	{"NormApply", 4, 1,
		func(o, i [][]float32, n int) { NormApply(o[0], i[0], i[1], i[2], i[3], false) },
		func(o, i [][]float32, n int) { normApplyGo(o[0][:n], i[0], i[1], i[2], i[3], false) }},
	{"NormApply relu", 4, 1,
		func(o, i [][]float32, n int) { NormApply(o[0], i[0], i[1], i[2], i[3], true) },
		func(o, i [][]float32, n int) { normApplyGo(o[0][:n], i[0], i[1], i[2], i[3], true) }},
	{"NormApplyConst", 1, 1,
		func(o, i [][]float32, n int) { NormApplyConst(o[0], i[0], 0.25, -1.5, 0.75, false) },
		func(o, i [][]float32, n int) { affineConstGo(o[0][:n], i[0], 0, 0.25, -1.5, 0.75, affineNorm) }},
	{"NormApplyConst relu", 1, 1,
		func(o, i [][]float32, n int) { NormApplyConst(o[0], i[0], 0.25, -1.5, 0.75, true) },
		func(o, i [][]float32, n int) {
			affineConstGo(o[0][:n], i[0], 0, 0.25, -1.5, 0.75, affineNorm|affineReLU)
		}},
	{"affineConst bias", 1, 1,
		func(o, i [][]float32, n int) {
			if n > 0 {
				affineConst(o[0][:n], i[0], -0.7, 0, 0, 0, affineBias)
			}
		},
		func(o, i [][]float32, n int) { affineConstGo(o[0][:n], i[0], -0.7, 0, 0, 0, affineBias) }},
	{"affineConst bias norm", 1, 1,
		func(o, i [][]float32, n int) {
			if n > 0 {
				affineConst(o[0][:n], i[0], -0.7, 0.25, 3, 0.5, affineBias|affineNorm)
			}
		},
		func(o, i [][]float32, n int) {
			affineConstGo(o[0][:n], i[0], -0.7, 0.25, 3, 0.5, affineBias|affineNorm)
		}},
	{"affineConst bias norm relu", 1, 1,
		func(o, i [][]float32, n int) {
			if n > 0 {
				affineConst(o[0][:n], i[0], -0.7, 0.25, 3, 0.5, affineBias|affineNorm|affineReLU)
			}
		},
		func(o, i [][]float32, n int) {
			affineConstGo(o[0][:n], i[0], -0.7, 0.25, 3, 0.5, affineBias|affineNorm|affineReLU)
		}},
	{"NormStats4", 5, 2,
		func(o, i [][]float32, n int) { NormStats4(o[0], o[1], i[0], i[1], i[2], i[3], i[4]) },
		func(o, i [][]float32, n int) { normStats4Go(o[0][:n], o[1][:n], i[0], i[1], i[2], i[3], i[4]) }},
	{"NormGradStats2", 5, 2,
		func(o, i [][]float32, n int) { NormGradStats2(o[0], o[1], i[0], i[1], i[2], i[3], i[4]) },
		func(o, i [][]float32, n int) {
			normGradStats2Go(o[0][:n], o[1][:n], i[0], i[1], i[2], i[3], i[4], nil, nil)
		}},
	{"NormGradStats2ReLU", 7, 2,
		func(o, i [][]float32, n int) {
			NormGradStats2ReLU(o[0], o[1], i[0], i[1], i[2], i[3], i[4], i[5], i[6])
		},
		func(o, i [][]float32, n int) {
			normGradStats2Go(o[0][:n], o[1][:n], i[0], i[1], i[2], i[3], i[4], i[5], i[6])
		}},
	{"NormGrad", 6, 1,
		func(o, i [][]float32, n int) { NormGrad(o[0], i[0], i[1], i[2], i[3], i[4], i[5], false) },
		func(o, i [][]float32, n int) { normGradGo(o[0][:n], i[0], i[1], nil, i[2], i[3], i[4], i[5], false) }},
	{"NormGradReLU", 7, 1,
		func(o, i [][]float32, n int) { NormGradReLU(o[0], i[0], i[1], i[6], i[2], i[3], i[4], i[5], false) },
		func(o, i [][]float32, n int) { normGradGo(o[0][:n], i[0], i[1], i[6], i[2], i[3], i[4], i[5], false) }},
	{"NormGrad add", 6, 1,
		func(o, i [][]float32, n int) { NormGrad(o[0], i[0], i[1], i[2], i[3], i[4], i[5], true) },
		func(o, i [][]float32, n int) { normGradGo(o[0][:n], i[0], i[1], nil, i[2], i[3], i[4], i[5], true) }},
	{"NormGradReLU add", 7, 1,
		func(o, i [][]float32, n int) { NormGradReLU(o[0], i[0], i[1], i[6], i[2], i[3], i[4], i[5], true) },
		func(o, i [][]float32, n int) { normGradGo(o[0][:n], i[0], i[1], i[6], i[2], i[3], i[4], i[5], true) }},
	{"NormGradConst", 2, 1,
		func(o, i [][]float32, n int) { NormGradConst(o[0], i[0], i[1], 0.5, 3, -0.125, 2.5, false) },
		func(o, i [][]float32, n int) { normGradConstGo(o[0][:n], i[0], i[1], nil, 0.5, 3, -0.125, 2.5, false) }},
	{"NormGradConstReLU", 3, 1,
		func(o, i [][]float32, n int) { NormGradConstReLU(o[0], i[0], i[1], i[2], 0.5, 3, -0.125, 2.5, false) },
		func(o, i [][]float32, n int) {
			normGradConstGo(o[0][:n], i[0], i[1], i[2], 0.5, 3, -0.125, 2.5, false)
		}},
	{"NormGradConst add", 2, 1,
		func(o, i [][]float32, n int) { NormGradConst(o[0], i[0], i[1], 0.5, 3, -0.125, 2.5, true) },
		func(o, i [][]float32, n int) { normGradConstGo(o[0][:n], i[0], i[1], nil, 0.5, 3, -0.125, 2.5, true) }},
	{"NormGradConstReLU add", 3, 1,
		func(o, i [][]float32, n int) { NormGradConstReLU(o[0], i[0], i[1], i[2], 0.5, 3, -0.125, 2.5, true) },
		func(o, i [][]float32, n int) {
			normGradConstGo(o[0][:n], i[0], i[1], i[2], 0.5, 3, -0.125, 2.5, true)
		}},
	{"LayerNormApply", 3, 1,
		func(o, i [][]float32, n int) { LayerNormApply(o[0], i[0], -0.3, 1.7, i[1], i[2]) },
		func(o, i [][]float32, n int) { layerNormApplyGo(o[0][:n], i[0], -0.3, 1.7, i[1], i[2]) }},
	{"LayerNormGrad", 3, 1,
		func(o, i [][]float32, n int) { LayerNormGrad(o[0], i[0], i[1], i[2], 0.3, 1.9, -0.01, 0.2, false) },
		func(o, i [][]float32, n int) {
			layerNormGradGo(o[0][:n], i[0], i[1], i[2], 0.3, 1.9, -0.01, 0.2, false)
		}},
	{"LayerNormGrad add", 3, 1,
		func(o, i [][]float32, n int) { LayerNormGrad(o[0], i[0], i[1], i[2], 0.3, 1.9, -0.01, 0.2, true) },
		func(o, i [][]float32, n int) { layerNormGradGo(o[0][:n], i[0], i[1], i[2], 0.3, 1.9, -0.01, 0.2, true) }},
}

// checkNormKernels runs every row kernel against its Go loop on random
// inputs of each size (with special values: ±0, ±Inf, NaNs, subnormals;
// at most one NaN per element, as two NaNs may come out either way),
// comparing bits, and checks that nothing past n is written.
func checkNormKernels(t *testing.T, sizes []int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	for _, k := range normKernels {
		for _, n := range sizes {
			for _, frac := range []float64{0, 0.2} {
				var all [][]float32
				in := make([][]float32, k.ins)
				for j := range in {
					in[j] = elemInput(rng, n, frac, false)
					all = append(all, in[j])
				}
				out0 := make([][]float32, k.outs)
				for j := range out0 {
					out0[j] = elemInput(rng, n+1, frac, false)
					all = append(all, out0[j][:n])
				}
				oneNaN(rng, all...)
				calmBesideNaN(rng, all...)
				got, want := make([][]float32, k.outs), make([][]float32, k.outs)
				for j := range out0 {
					got[j] = append([]float32(nil), out0[j]...)
					want[j] = append([]float32(nil), out0[j]...)
				}
				k.run(got, in, n)
				k.ref(want, in, n)
				for j := range got {
					sameBits(t, fmt.Sprintf("%s n=%d special=%v output %d", k.name, n, frac, j), got[j], want[j])
				}
			}
		}
	}
}

// sameBitsAnyNaN is sameBits for sums over many positions, where any two
// NaNs count as equal: a NaN of one position (an input's) can meet another
// position's (an input's, or Inf - Inf from the arithmetic) in the running
// sum, and which payload wins depends on the operand order the compiler
// chose for the Go loop's addition (it differs under -race), which
// calmBesideNaN cannot rule out across positions.
func sameBitsAnyNaN(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g != g && w != w {
			continue
		}
		if math.Float32bits(g) != math.Float32bits(w) {
			t.Fatalf("%s: [%d] = %#x (%v), want %#x (%v)", what, i, math.Float32bits(g), g, math.Float32bits(w), w)
		}
	}
}

// calmBesideNaN replaces, wherever one of the arrays holds a NaN, the
// others' values of magnitude over 1e4 by normal ones: so that no NaN comes
// out of the arithmetic (Inf - Inf after an overflow) to meet the input
// NaN, a meeting whose winner depends on the operand order the compiler
// chose (which differs under -race).
func calmBesideNaN(rng *rand.Rand, arrays ...[]float32) {
	for i := range arrays[0] {
		nan := false
		for _, a := range arrays {
			nan = nan || a[i] != a[i]
		}
		for _, a := range arrays {
			if nan && a[i] == a[i] && math.Abs(float64(a[i])) > 1e4 {
				a[i] = float32(rng.NormFloat64())
			}
		}
	}
}

func TestNormKernels(t *testing.T) {
	if !elemAVX512 {
		t.Log("no AVX-512: the Go loops are compared with themselves")
	}
	checkNormKernels(t, elemSizes, 1)
}

func TestNormKernelsWithoutAVX512(t *testing.T) {
	defer func(old bool) { elemAVX512 = old }(elemAVX512)
	elemAVX512 = false
	checkNormKernels(t, []int{1, 17, 100}, 2)
}

// TestNormPlaneSums checks NormShiftedSums and NormGradSumsPlane bit for
// bit against their Go loop (with and without AVX-512, with special values,
// at most one NaN per position), the ReLU variant against ReLUBackward
// followed by the plain sums, and the values against float64 sums.
func TestNormPlaneSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	withAVX := elemAVX512
	defer func() { elemAVX512 = withAVX }()
	for _, avx := range []bool{withAVX, false} {
		elemAVX512 = avx
		for _, n := range []int{0, 1, 15, 16, 17, 49, 196, 1000} {
			for _, frac := range []float64{0, 0.2} {
				x, g, y := elemInput(rng, n, frac, false), elemInput(rng, n, frac, false), elemInput(rng, n, frac, false)
				oneNaN(rng, x, g)
				calmBesideNaN(rng, x, g)
				what := fmt.Sprintf("avx=%v n=%d special=%v", avx, n, frac)
				s1, s2 := NormShiftedSums(x, 0.25)
				w1, w2 := normPlaneSumsGo(x, nil, nil, 0.25, false)
				sameBitsAnyNaN(t, what+" NormShiftedSums", []float32{s1, s2}, []float32{w1, w2})
				a, b := NormGradSumsPlane(x, g, nil, 0.25)
				wa, wb := normPlaneSumsGo(x, g, nil, 0.25, true)
				sameBitsAnyNaN(t, what+" NormGradSumsPlane", []float32{a, b}, []float32{wa, wb})
				a, b = NormGradSumsPlane(x, g, y, 0.25)
				wa, wb = normPlaneSumsGo(x, g, y, 0.25, true)
				sameBitsAnyNaN(t, what+" NormGradSumsPlane ReLU", []float32{a, b}, []float32{wa, wb})
				gr := make([]float32, n)
				ReLUBackward(gr, g, y)
				wa, wb = NormGradSumsPlane(x, gr, nil, 0.25)
				sameBitsAnyNaN(t, what+" NormGradSumsPlane ReLU = ReLUBackward + sums", []float32{a, b}, []float32{wa, wb})
				if frac > 0 {
					continue
				}
				var r1, r2, ra, rb float64
				for i, v := range x {
					d := float64(v) - 0.25
					r1 += d
					r2 += d * d
					ra += float64(g[i])
					rb += float64(g[i]) * d
				}
				tol := func(got float32, want, scale float64) bool {
					return math.Abs(float64(got)-want) <= 1e-5*(1+scale)
				}
				if !tol(s1, r1, math.Abs(r1)+r2) || !tol(s2, r2, r2) {
					t.Fatalf("%s: NormShiftedSums = %v, %v, want %v, %v", what, s1, s2, r1, r2)
				}
				var sa, sb float64
				for i, v := range g {
					sa += math.Abs(float64(v))
					sb += math.Abs(float64(v) * (float64(x[i]) - 0.25))
				}
				if a, b := NormGradSumsPlane(x, g, nil, 0.25); !tol(a, ra, sa) || !tol(b, rb, sb) {
					t.Fatalf("%s: NormGradSumsPlane = %v, %v, want %v, %v", what, a, b, ra, rb)
				}
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("NormGradSumsPlane with a short g: no panic")
		}
	}()
	NormGradSumsPlane(make([]float32, 3), make([]float32, 2), nil, 0)
}

// TestNormReLUComposition checks that each ReLU variant of the BatchNorm
// backward kernels is ReLUBackward into a buffer followed by the plain
// kernel, bit for bit, on inputs with special values (y's zeros, NaNs and
// negatives included).
func TestNormReLUComposition(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	for _, n := range []int{1, 15, 16, 17, 100} {
		in := func() []float32 { return elemInput(rng, n, 0.3, false) }
		x0, x1, g0, g1, y0, y1, m, a, b, d := in(), in(), in(), in(), in(), in(), in(), in(), in(), in()
		oneNaN(rng, x0, x1, g0, g1, m)
		calmBesideNaN(rng, x0, x1, g0, g1, m)
		r0, r1 := make([]float32, n), make([]float32, n)
		ReLUBackward(r0, g0, y0)
		ReLUBackward(r1, g1, y1)
		p := func() ([]float32, []float32) { return make([]float32, n), make([]float32, n) }
		p1, p2 := p()
		w1, w2 := p()
		NormGradStats2ReLU(p1, p2, m, x0, x1, g0, g1, y0, y1)
		NormGradStats2(w1, w2, m, x0, x1, r0, r1)
		sameBitsAnyNaN(t, fmt.Sprintf("n=%d NormGradStats2ReLU p1", n), p1, w1)
		sameBitsAnyNaN(t, fmt.Sprintf("n=%d NormGradStats2ReLU p2", n), p2, w2)
		for _, add := range []bool{false, true} {
			dx, want := p()
			NormGradReLU(dx, x0, g0, y0, m, a, b, d, add)
			NormGrad(want, x0, r0, m, a, b, d, add)
			sameBitsAnyNaN(t, fmt.Sprintf("n=%d NormGradReLU add=%v", n, add), dx, want)
			dx, want = p()
			NormGradConstReLU(dx, x0, g0, y0, 0.5, 3, -0.125, 2.5, add)
			NormGradConst(want, x0, r0, 0.5, 3, -0.125, 2.5, add)
			sameBitsAnyNaN(t, fmt.Sprintf("n=%d NormGradConstReLU add=%v", n, add), dx, want)
		}
	}
}

// TestNormKernelsValues checks the Go loops (which the assembly equals)
// against float64 evaluations of their formulas.
func TestNormKernelsValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 37
	r := func() []float32 { return randSlice(rng, n) }
	x, x1, g, g1, m, a, b, d := r(), r(), r(), r(), r(), r(), r(), r()
	near := func(what string, i int, got float32, want float64) {
		t.Helper()
		if math.Abs(float64(got)-want) > 1e-5*(1+math.Abs(want)) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got, want)
		}
	}
	f := func(v float32) float64 { return float64(v) }
	y := make([]float32, n)
	NormApply(y, x, m, a, b, true)
	for i := range y {
		near("NormApply relu", i, y[i], math.Max((f(x[i])-f(m[i]))*f(a[i])+f(b[i]), 0))
	}
	NormApplyConst(y, x, 0.5, -2, 0.25, false)
	for i := range y {
		near("NormApplyConst", i, y[i], (f(x[i])-0.5)*-2+0.25)
	}
	p1, p2 := r(), r()
	q1, q2 := append([]float32(nil), p1...), append([]float32(nil), p2...)
	NormStats4(p1, p2, m, x, x1, g, g1)
	for i := range p1 {
		d := []float64{f(x[i]) - f(m[i]), f(x1[i]) - f(m[i]), f(g[i]) - f(m[i]), f(g1[i]) - f(m[i])}
		near("NormStats4 p1", i, p1[i], f(q1[i])+d[0]+d[1]+d[2]+d[3])
		near("NormStats4 p2", i, p2[i], f(q2[i])+d[0]*d[0]+d[1]*d[1]+d[2]*d[2]+d[3]*d[3])
	}
	copy(p1, q1)
	copy(p2, q2)
	NormGradStats2(p1, p2, m, x, x1, g, g1)
	for i := range p1 {
		near("NormGradStats2 p1", i, p1[i], f(q1[i])+f(g[i])+f(g1[i]))
		near("NormGradStats2 p2", i, p2[i], f(q2[i])+f(g[i])*(f(x[i])-f(m[i]))+f(g1[i])*(f(x1[i])-f(m[i])))
	}
	y0 := r()
	copy(y, y0)
	NormGrad(y, x, g, m, a, b, d, true)
	for i := range y {
		near("NormGrad add", i, y[i], f(y0[i])+f(a[i])*f(g[i])+f(b[i])*(f(x[i])-f(m[i]))+f(d[i]))
	}
	NormGradConst(y, x, g, 0.5, 3, -1, 2, false)
	for i := range y {
		near("NormGradConst", i, y[i], 3*f(g[i])-(f(x[i])-0.5)+2)
	}
	LayerNormApply(y, x, 0.1, 2, a, b)
	for i := range y {
		near("LayerNormApply", i, y[i], (f(x[i])-0.1)*2*f(a[i])+f(b[i]))
	}
	copy(y, y0)
	LayerNormGrad(y, x, g, a, 0.1, 2, 0.3, -0.5, true)
	for i := range y {
		near("LayerNormGrad add", i, y[i], f(y0[i])+2*f(g[i])*f(a[i])+0.3-0.5*(f(x[i])-0.1))
	}
}

func TestSumShifted64(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 3, 4, 5, 7, 8, 9, 63, 64, 513, 4099} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(100 + rng.NormFloat64())
		}
		k := float32(100.5)
		s1, s2 := SumShifted64(x, k)
		w1, w2 := sumShifted64Go(x, k)
		if s1 != w1 || s2 != w2 {
			t.Fatalf("n=%d: SumShifted64 = %v, %v; the Go loop %v, %v", n, s1, s2, w1, w2)
		}
		var r1, r2 float64
		for _, v := range x {
			d := float64(v) - float64(k)
			r1 += d
			r2 += d * d
		}
		if math.Abs(s1-r1) > 1e-9*(1+math.Abs(r1)) || math.Abs(s2-r2) > 1e-9*(1+r2) {
			t.Fatalf("n=%d: SumShifted64 = %v, %v, want %v, %v", n, s1, s2, r1, r2)
		}
	}
}

// TestSumLanes64 checks the AVX-512 lane sums against the Go loop bit for
// bit (special values included: NaN payloads may differ only where two
// NaNs meet), calls that continue partials left by an earlier call (the
// conv bias gradient sums one plane per call), and the reduced total
// against a float64 sum in any order (ordinary values).
func TestSumLanes64(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 7, 8, 9, 17, 31, 32, 33, 49, 63, 64, 65, 196, 1025} {
		for _, frac := range []float64{0, 0.05} {
			var got, want [32]float64
			for call := range 3 {
				x := elemInput(rng, n+call, frac, false)
				sumLanes64(&got, x)
				sumLanes64Go(&want, x)
			}
			for i := range got {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) {
					t.Fatalf("n=%d frac=%v: lane %d = %v, the Go loop %v", n, frac, i, got[i], want[i])
				}
			}
			if frac > 0 {
				continue
			}
			var l [32]float64
			x := elemInput(rng, n, 0, false)
			sumLanes64(&l, x)
			var r float64
			for _, v := range x {
				r += float64(v)
			}
			if s := reduceLanes64(&l); math.Abs(s-r) > 1e-12*(1+math.Abs(r)) {
				t.Fatalf("n=%d: reduced sum %v, want %v", n, s, r)
			}
		}
	}
}

func TestNormKernelsPanics(t *testing.T) {
	s := func(n int) []float32 { return make([]float32, n) }
	for name, f := range map[string]func(){
		"NormApply":      func() { NormApply(s(3), s(3), s(2), s(3), s(3), false) },
		"NormApplyConst": func() { NormApplyConst(s(2), s(3), 0, 1, 0, true) },
		"NormGradStats2": func() { NormGradStats2(s(3), s(3), s(3), s(3), s(3), s(3), s(2)) },
		"NormStats4":     func() { NormStats4(s(3), s(3), s(3), s(3), s(3), s(3), s(2)) },
		"NormGradStats2ReLU": func() {
			NormGradStats2ReLU(s(3), s(3), s(3), s(3), s(3), s(3), s(3), s(3), s(2))
		},
		"NormGradReLU":      func() { NormGradReLU(s(3), s(3), s(3), s(2), s(3), s(3), s(3), s(3), false) },
		"NormGradConstReLU": func() { NormGradConstReLU(s(3), s(3), s(3), s(2), 0, 0, 0, 0, false) },
		"NormGrad":          func() { NormGrad(s(3), s(3), s(3), s(3), s(3), s(3), s(2), true) },
		"NormGradConst":     func() { NormGradConst(s(3), s(3), s(2), 0, 1, 0, 0, false) },
		"LayerNormApply":    func() { LayerNormApply(s(3), s(3), 0, 1, s(3), s(2)) },
		"LayerNormGrad":     func() { LayerNormGrad(s(3), s(3), s(3), s(2), 0, 1, 0, 0, true) },
		"LayerNormGradSums2": func() {
			LayerNormGradSums2(s(3), s(3), s(3), s(3), s(3), s(3), s(2), 0, 1, 0, 1)
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic on a short slice", name)
				}
			}()
			f()
		}()
	}
}

// TestLayerNormGradSums2 checks LayerNormGradSums2 on odd lengths: p1 and
// p2 bit for bit against a scalar loop of the documented operations, the
// four sums against float64 sums (to float32 rounding of n terms), and
// every output bit for bit the same with AVX-512 as with the Go loop.
func TestLayerNormGradSums2(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	hasAVX512 := elemAVX512
	defer func() { elemAVX512 = hasAVX512 }()
	for _, n := range []int{1, 15, 16, 17, 100, 512, 1027} {
		r := func() []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(rng.NormFloat64())
			}
			return v
		}
		gam, x0, x1, g0, g1, p10, p20 := r(), r(), r(), r(), r(), r(), r()
		m0, s0, m1, s1 := float32(0.1), float32(1.3), float32(-0.2), float32(0.7)
		var results [2][6][]float32
		for k, avx := range []bool{hasAVX512, false} {
			elemAVX512 = avx
			p1, p2 := slices.Clone(p10), slices.Clone(p20)
			a0, b0, a1, b1 := LayerNormGradSums2(p1, p2, gam, x0, x1, g0, g1, m0, s0, m1, s1)
			results[k] = [6][]float32{p1, p2, {a0}, {b0}, {a1}, {b1}}
			want1, want2 := slices.Clone(p10), slices.Clone(p20)
			var ra0, rb0, ra1, rb1 float64
			for i := range n {
				t0, t1 := float32((x0[i]-m0)*s0), float32((x1[i]-m1)*s1)
				want1[i] += float32(g0[i]*t0) + float32(g1[i]*t1)
				want2[i] += g0[i] + g1[i]
				e0, e1 := float64(g0[i])*float64(gam[i]), float64(g1[i])*float64(gam[i])
				ra0 += e0
				rb0 += e0 * float64(x0[i]-m0)
				ra1 += e1
				rb1 += e1 * float64(x1[i]-m1)
			}
			sameBits(t, fmt.Sprintf("n=%d avx=%v: p1", n, avx), p1, want1)
			sameBits(t, fmt.Sprintf("n=%d avx=%v: p2", n, avx), p2, want2)
			for _, c := range []struct {
				name string
				got  float32
				want float64
			}{{"a0", a0, ra0}, {"b0", b0, rb0}, {"a1", a1, ra1}, {"b1", b1, rb1}} {
				if d := math.Abs(float64(c.got) - c.want); d > 1e-5*float64(n) {
					t.Errorf("n=%d avx=%v: %s = %v, float64 sum %v", n, avx, c.name, c.got, c.want)
				}
			}
		}
		for i := range results[0] {
			sameBits(t, fmt.Sprintf("n=%d: output %d with and without AVX-512", n, i), results[0][i], results[1][i])
		}
	}
}

func TestNormKernelsNoAlloc(t *testing.T) {
	n := 1<<12 + 5
	s := func() []float32 { return make([]float32, n) }
	y, x, m, a, b, d := s(), s(), s(), s(), s(), s()
	if allocs := testing.AllocsPerRun(10, func() {
		NormApply(y, x, m, a, b, true)
		NormGradStats2(y, d, m, x, a, b, m)
		NormGrad(y, x, a, m, a, b, d, true)
		LayerNormGrad(y, x, a, b, 0, 1, 0, 0, false)
		LayerNormGradSums2(y, d, m, x, a, b, m, 0, 1, 0, 1)
		SumShifted64(x, 1)
	}); allocs != 0 {
		t.Fatalf("%v allocations, want 0", allocs)
	}
}

// TestNormGradSumsChans checks the channel sums bit for bit against the
// scalar loop: every channel count, even and odd lengths, with special
// values (at most one NaN per position, see calmBesideNaN), with AVX-512
// and without.
func TestNormGradSumsChans(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	withAVX := elemAVX512
	defer func() { elemAVX512 = withAVX }()
	for _, avx := range []bool{withAVX, false} {
		elemAVX512 = avx
		for nch := 0; nch <= 8; nch++ {
			for _, s := range []int{1, 2, 3, 7, 49, 196, 1001} {
				for _, frac := range []float64{0, 0.2} {
					x, g := elemInput(rng, nch*s, frac, false), elemInput(rng, nch*s, frac, false)
					mean := elemInput(rng, nch, 0, false)
					oneNaN(rng, x, g)
					calmBesideNaN(rng, x, g)
					var a, b, wa, wb [16]float32
					for i := range a { // overwritten, not added into
						a[i], b[i] = 7, 7
					}
					NormGradSumsChans(&a, &b, x, g, s, mean)
					normGradSumsChansGo(&wa, &wb, x, g, nil, s, mean)
					what := fmt.Sprintf("avx=%v nch=%d s=%d special=%v", avx, nch, s, frac)
					sameBitsAnyNaN(t, what+" sums of g", a[:2*nch], wa[:2*nch])
					sameBitsAnyNaN(t, what+" sums of g*(x-m)", b[:2*nch], wb[:2*nch])
					// Behind a ReLU: the Go loop with the mask, and
					// ReLUBackward followed by the plain sums.
					y := elemInput(rng, nch*s, frac, false)
					var ra, rb, ca, cb [16]float32
					NormGradSumsChansReLU(&a, &b, x, g, y, s, mean)
					normGradSumsChansGo(&ra, &rb, x, g, y, s, mean)
					gr := make([]float32, len(g))
					ReLUBackward(gr, g, y)
					normGradSumsChansGo(&ca, &cb, x, gr, nil, s, mean)
					for _, w := range [][2][16]float32{{ra, rb}, {ca, cb}} {
						sameBitsAnyNaN(t, what+" ReLU sums of g", a[:2*nch], w[0][:2*nch])
						sameBitsAnyNaN(t, what+" ReLU sums of g*(x-m)", b[:2*nch], w[1][:2*nch])
					}
					for i := 2 * nch; i < 16; i++ {
						if a[i] != 0 || b[i] != 0 {
							t.Fatalf("%s: lane %d of an absent channel = %v, %v, want 0", what, i, a[i], b[i])
						}
					}
				}
			}
		}
	}
	for _, c := range []struct{ x, g, s, m int }{{10, 10, 5, 3}, {9, 10, 5, 2}, {10, 9, 5, 2}, {90, 90, 10, 9}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%+v: no panic", c)
				}
			}()
			var a, b [16]float32
			NormGradSumsChans(&a, &b, make([]float32, c.x), make([]float32, c.g), c.s, make([]float32, c.m))
		}()
	}
}

// BenchmarkNormGradSumsChans compares the channel sums with the scalar
// loop on basic28x28's first BatchNorm (64 images x 64 channels of 14 x 14).
func BenchmarkNormGradSumsChans(b *testing.B) {
	const n, c, s = 64, 64, 196
	rng := rand.New(rand.NewPCG(53, 54))
	x, g, mean := randSlice(rng, n*c*s), randSlice(rng, n*c*s), randSlice(rng, c)
	var p, q [16]float32
	for _, k := range []struct {
		name string
		f    func(a, b *[16]float32, x, g []float32, s int, mean []float32)
	}{{"kernel", NormGradSumsChans}, {"scalar", func(a, b *[16]float32, x, g []float32, s int, mean []float32) {
		normGradSumsChansGo(a, b, x, g, nil, s, mean)
	}}} {
		b.Run(k.name, func(b *testing.B) {
			for b.Loop() {
				for i := 0; i < n; i++ {
					for c0 := 0; c0 < c; c0 += 8 {
						o := (i*c + c0) * s
						k.f(&p, &q, x[o:o+8*s], g[o:o+8*s], s, mean[c0:c0+8])
					}
				}
			}
		})
	}
}
