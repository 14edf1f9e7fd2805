package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Adversarial tests of the session's BatchNorm kernels (third review
// round): NormStats4, the ReLU variants of the backward kernels (the mask
// on every kind of y: signed zeros, NaNs, infinities, subnormals, in every
// lane of a block and of the masked tail), NormShiftedSums and
// NormGradSumsPlane (the documented lane order, infinite and NaN means
// with a masked tail), with outputs in guarded arrays on both paths.

var (
	b3NaN    = math.Float32frombits(0x7fc00001)
	b3NegNaN = math.Float32frombits(0xffc01234)
	b3Inf    = float32(math.Inf(1))
	b3NegZ   = float32(math.Copysign(0, -1))
)

// TestBreak3NormStats4Guarded: NormStats4 on both paths at every length
// around the 16-lane blocks, specials included (no two NaNs meeting): the
// bits of the Go loop, added into non-zero sums, nothing written past n
// in p1 or p2 (arrays longer than x0), nothing read past n of the inputs
// (NaN guards after them).
func TestBreak3NormStats4Guarded(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, avx := range n2AVXModes() {
		for _, n := range n2Sizes {
			for _, frac := range []float64{0, 0.1} {
				in := func() []float32 { return elemInput(r, n, frac, false) }
				sh, x0, x1, x2, x3 := in(), in(), in(), in(), in()
				p10, p20 := in(), in()
				oneNaN(r, sh, x0, x1, x2, x3, p10, p20)
				calmBesideNaN(r, sh, x0, x1, x2, x3, p10, p20)
				_, gsh := n2Guarded(sh, 1)
				_, g0 := n2Guarded(x0, 2)
				_, g1 := n2Guarded(x1, 3)
				_, g2 := n2Guarded(x2, 4)
				_, g3 := n2Guarded(x3, 5)
				big1, p1 := n2Guarded(p10, 3)
				big2, p2 := n2Guarded(p20, 1)
				// p1 and p2 reach into their guards: only n values are sums.
				p1, p2 = big1[3:3+n+9], big2[1:1+n+9]
				withAVX(avx, func() { NormStats4(p1, p2, gsh, g0, g1, g2, g3) })
				w1, w2 := slices.Clone(p10), slices.Clone(p20)
				normStats4Go(w1, w2, sh, x0, x1, x2, x3)
				what := fmt.Sprintf("avx=%v n=%d frac=%v", avx, n, frac)
				sameBits(t, what+" p1", p1[:n], w1)
				sameBits(t, what+" p2", p2[:n], w2)
				n2GuardsIntact(t, what+" p1", big1, 3, n)
				n2GuardsIntact(t, what+" p2", big2, 1, n)
			}
		}
	}
}

// b3ReLUY are ReLU outputs of every kind, with whether each passes the
// gradient (y > 0): subnormal and infinite positives pass; zeros of both
// signs, negatives, -Inf and NaNs of both signs do not.
var b3ReLUY = []struct {
	y    float32
	pass bool
}{
	{1, true}, {1e-45, true}, {b3Inf, true}, {3e38, true},
	{0, false}, {b3NegZ, false}, {-1e-45, false}, {-2, false}, {-b3Inf, false},
	{b3NaN, false}, {b3NegNaN, false}, {math.Float32frombits(0x7f800001), false},
}

// TestBreak3NormReLUMask puts each kind of y (b3ReLUY) in every position
// of a 37-value vector (whole blocks and the tail), with gradients that
// would show through (NaN, infinities, -0, large): where y does not pass,
// every ReLU kernel must give the bits of its plain kernel with g = +0
// there, where it passes those of the plain kernel with g. The other
// operands make a -0 visible: a masked gradient that came out as -0 (or a
// NaN g let through) changes a bit of dx.
func TestBreak3NormReLUMask(t *testing.T) {
	const n = 37
	gs := []float32{b3NaN, -b3Inf, b3Inf, -5, b3NegZ, 1e30}
	for _, avx := range n2AVXModes() {
		withAVX(avx, func() {
			for _, yc := range b3ReLUY {
				for _, gv := range gs {
					for _, pos := range []int{0, 7, 15, 16, 31, 32, 36} {
						what := fmt.Sprintf("avx=%v y=%#08x g=%v pos=%d", avx, math.Float32bits(yc.y), gv, pos)
						// Elsewhere: y > 0 and ordinary g.
						y, g := make([]float32, n), make([]float32, n)
						for i := range n {
							y[i], g[i] = 0.5+float32(i), 0.25*float32(i%5)-0.5
						}
						y[pos], g[pos] = yc.y, gv
						ge := slices.Clone(g) // the effective gradient
						if !yc.pass {
							ge[pos] = 0
						}
						// x - m = -1 and b = 0 make b*(x-m) = -0; d = -0:
						// dx = a*g' + -0 + -0 keeps the sign of a*g'.
						x, m := make([]float32, n), make([]float32, n)
						a, b, d := make([]float32, n), make([]float32, n), make([]float32, n)
						for i := range n {
							x[i], m[i], a[i], b[i], d[i] = 0, 1, 1, 0, b3NegZ
						}
						for _, add := range []bool{false, true} {
							dx0 := make([]float32, n)
							if add {
								for i := range dx0 {
									dx0[i] = b3NegZ
								}
							}
							got, want := slices.Clone(dx0), slices.Clone(dx0)
							NormGradReLU(got, x, g, y, m, a, b, d, add)
							NormGrad(want, x, ge, m, a, b, d, add)
							sameBits(t, what+fmt.Sprintf(" NormGradReLU add=%v", add), got, want)
							got, want = slices.Clone(dx0), slices.Clone(dx0)
							NormGradConstReLU(got, x, g, y, 1, 1, 0, b3NegZ, add)
							NormGradConst(want, x, ge, 1, 1, 0, b3NegZ, add)
							sameBits(t, what+fmt.Sprintf(" NormGradConstReLU add=%v", add), got, want)
						}
						if !yc.pass && math.Float32bits(func() float32 {
							o := make([]float32, n)
							NormGradConstReLU(o, x, g, y, 1, 1, 0, b3NegZ, false)
							return o[pos]
						}()) != 0 {
							t.Fatalf("%s: a masked gradient's dx is not +0", what)
						}
						// The two-row sums: the special in row 0, then row 1.
						for row := range 2 {
							ys, gg := [2][]float32{slices.Clone(y), slices.Clone(y)}, [2][]float32{slices.Clone(g), slices.Clone(g)}
							ges := [2][]float32{slices.Clone(g), slices.Clone(g)}
							ys[1-row][pos], gg[1-row][pos], ges[1-row][pos] = 1, 2, 2
							ges[row][pos] = ge[pos]
							p1, p2 := make([]float32, n), make([]float32, n)
							w1, w2 := make([]float32, n), make([]float32, n)
							NormGradStats2ReLU(p1, p2, m, x, x, gg[0], gg[1], ys[0], ys[1])
							NormGradStats2(w1, w2, m, x, x, ges[0], ges[1])
							sameBits(t, what+fmt.Sprintf(" NormGradStats2ReLU row %d p1", row), p1, w1)
							sameBits(t, what+fmt.Sprintf(" NormGradStats2ReLU row %d p2", row), p2, w2)
						}
						// The plane sums and the gathered channel sums.
						sa, sb := NormGradSumsPlane(x, g, y, 1)
						wa, wb := NormGradSumsPlane(x, ge, nil, 1)
						sameBits(t, what+" NormGradSumsPlane", []float32{sa, sb}, []float32{wa, wb})
						for _, s := range []int{1, 2, 3, 5, 37} {
							nch := min(8, n/s)
							var ca, cb, ra, rb [16]float32
							NormGradSumsChansReLU(&ca, &cb, x, g, y, s, m[:nch])
							NormGradSumsChans(&ra, &rb, x, ge, s, m[:nch])
							sameBits(t, what+fmt.Sprintf(" NormGradSumsChansReLU s=%d a", s), ca[:], ra[:])
							sameBits(t, what+fmt.Sprintf(" NormGradSumsChansReLU s=%d b", s), cb[:], rb[:])
						}
					}
				}
			}
		})
	}
}

// TestBreak3NormReLUGuarded: the ReLU kernels at every length around the
// blocks, at odd offsets, with random specials in every operand (at most
// one NaN per position): the Go loop's bits on both paths, and nothing
// written past n (outputs longer than x, their extra values guards).
func TestBreak3NormReLUGuarded(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, avx := range n2AVXModes() {
		for _, n := range n2Sizes {
			in := func() []float32 { return elemInput(r, n, 0.15, false) }
			x0, x1, g0, g1, y0, y1, m, a, b, d, o1, o2 := in(), in(), in(), in(), in(), in(), in(), in(), in(), in(), in(), in()
			oneNaN(r, x0, x1, g0, g1, m, a, b, d, o1, o2)
			calmBesideNaN(r, x0, x1, g0, g1, m, a, b, d, o1, o2)
			what := fmt.Sprintf("avx=%v n=%d", avx, n)
			big1, _ := n2Guarded(o1, 5)
			big2, _ := n2Guarded(o2, 2)
			p1, p2 := big1[5:5+n+7], big2[2:2+n+7]
			withAVX(avx, func() { NormGradStats2ReLU(p1, p2, m, x0, x1, g0, g1, y0, y1) })
			w1, w2 := slices.Clone(o1), slices.Clone(o2)
			normGradStats2Go(w1, w2, m, x0, x1, g0, g1, y0, y1)
			sameBitsAnyNaN(t, what+" NormGradStats2ReLU p1", p1[:n], w1)
			sameBitsAnyNaN(t, what+" NormGradStats2ReLU p2", p2[:n], w2)
			n2GuardsIntact(t, what+" NormGradStats2ReLU p1", big1, 5, n)
			n2GuardsIntact(t, what+" NormGradStats2ReLU p2", big2, 2, n)
			for _, add := range []bool{false, true} {
				bigD, _ := n2Guarded(o1, 3)
				dx := bigD[3 : 3+n+11]
				withAVX(avx, func() { NormGradReLU(dx, x0, g0, y0, m, a, b, d, add) })
				want := slices.Clone(o1)
				normGradGo(want, x0, g0, y0, m, a, b, d, add)
				sameBitsAnyNaN(t, what+fmt.Sprintf(" NormGradReLU add=%v", add), dx[:n], want)
				n2GuardsIntact(t, what+" NormGradReLU", bigD, 3, n)

				bigD, _ = n2Guarded(o2, 1)
				dx = bigD[1 : 1+n+11]
				withAVX(avx, func() { NormGradConstReLU(dx, x1, g1, y1, -0.5, 2, 0.25, -1, add) })
				want = slices.Clone(o2)
				normGradConstGo(want, x1, g1, y1, -0.5, 2, 0.25, -1, add)
				sameBitsAnyNaN(t, what+fmt.Sprintf(" NormGradConstReLU add=%v", add), dx[:n], want)
				n2GuardsIntact(t, what+" NormGradConstReLU", bigD, 1, n)
			}
		}
	}
}

// b3PlaneRef sums as NormShiftedSums's documentation says, written
// independently of normPlaneSumsGo: element i into lane i%16 in order, then
// lanes l and l+8 (l < 8), l and l+4, l and l+2, l and l+1.
func b3PlaneRef(v []float32) float32 {
	var l [16]float32
	for i, x := range v {
		l[i%16] += x
	}
	var h [8]float32
	for i := range h {
		h[i] = l[i] + l[i+8]
	}
	q := [4]float32{h[0] + h[4], h[1] + h[5], h[2] + h[6], h[3] + h[7]}
	return (q[0] + q[2]) + (q[1] + q[3])
}

// TestBreak3NormPlaneLaneOrder: values of very different magnitudes per
// lane (so that every other order of the additions rounds differently)
// summed by NormShiftedSums and NormGradSumsPlane on both paths must give
// the documented order's bits.
func TestBreak3NormPlaneLaneOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	for _, n := range []int{1, 15, 16, 17, 31, 32, 33, 48, 49, 100, 196, 1000} {
		x, g := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * math.Pow(2, float64((i*7)%16)*3-20))
			g[i] = float32(r.NormFloat64() * math.Pow(2, float64((i*5)%16)*3-20))
		}
		const k = 0.375
		d, dd, gd := make([]float32, n), make([]float32, n), make([]float32, n)
		for i, v := range x {
			d[i] = v - k
			dd[i] = d[i] * d[i]
			gd[i] = g[i] * d[i]
		}
		for _, avx := range n2AVXModes() {
			withAVX(avx, func() {
				what := fmt.Sprintf("avx=%v n=%d", avx, n)
				s1, s2 := NormShiftedSums(x, k)
				sameBits(t, what+" NormShiftedSums", []float32{s1, s2}, []float32{b3PlaneRef(d), b3PlaneRef(dd)})
				a, b := NormGradSumsPlane(x, g, nil, k)
				sameBits(t, what+" NormGradSumsPlane", []float32{a, b}, []float32{b3PlaneRef(g), b3PlaneRef(gd)})
			})
		}
	}
}

// TestBreak3NormPlaneInfiniteMean: with an infinite or NaN mean the
// masked-off lanes of the last block (0 - m = -Inf, times a zero gradient:
// NaN) must stay out of the sums: with every gradient positive and no
// ReLU, sum g is finite and sum g*(x-m) is -Inf for m = +Inf, +Inf for
// m = -Inf, whatever n's tail; both paths agree bit for bit; nothing past
// x or g is read (NaN guards after them).
func TestBreak3NormPlaneInfiniteMean(t *testing.T) {
	r := rand.New(rand.NewPCG(53, 54))
	for n := 1; n <= 70; n++ {
		x, g, y := randSlice(r, n), make([]float32, n), make([]float32, n)
		var sg float64
		for i := range g {
			g[i] = 0.5 + r.Float32()
			y[i] = 1 + r.Float32()
			sg += float64(g[i])
		}
		_, gx := n2Guarded(x, 1)
		_, gg := n2Guarded(g, 2)
		_, gy := n2Guarded(y, 3)
		for _, m := range []float32{b3Inf, -b3Inf, b3NaN} {
			var res [2][4]float32
			for j, avx := range n2AVXModes() {
				withAVX(avx, func() {
					res[j][0], res[j][1] = NormGradSumsPlane(gx, gg, nil, m)
					res[j][2], res[j][3] = NormGradSumsPlane(gx, gg, gy, m)
				})
				what := fmt.Sprintf("avx=%v n=%d m=%v", avx, n, m)
				for _, o := range []int{0, 2} {
					a, b := res[j][o], res[j][o+1]
					if math.Abs(float64(a)-sg) > 1e-5*sg {
						t.Fatalf("%s: sum of g = %v, want %v", what, a, sg)
					}
					switch {
					case m == b3Inf && b != -b3Inf, m == -b3Inf && b != b3Inf, m != m && b == b:
						t.Fatalf("%s: sum of g*(x-m) = %v", what, b)
					}
				}
				s1, s2 := 0*m, 0*m
				withAVX(avx, func() { s1, s2 = NormShiftedSums(gx, m) })
				if m == m && (s1 != -m || s2 != b3Inf) || m != m && (s1 == s1 || s2 == s2) {
					t.Fatalf("%s: NormShiftedSums = %v, %v", what, s1, s2)
				}
			}
			if len(n2AVXModes()) == 2 {
				sameBitsAnyNaN(t, fmt.Sprintf("n=%d m=%v paths", n, m), res[0][:], res[1][:])
			}
		}
	}
}

// TestBreak3NormReLUPanics: the ReLU kernels and the plane sums panic on a
// short mask or gradient (one value short), and not on exact lengths, a
// nil mask of the plane sums, or empty inputs.
func TestBreak3NormReLUPanics(t *testing.T) {
	s := func(n int) []float32 { return make([]float32, n) }
	var a, b [16]float32
	for _, c := range []struct {
		name      string
		f         func()
		wantPanic bool
	}{
		{"NormGradSumsChansReLU exact", func() { NormGradSumsChansReLU(&a, &b, s(12), s(12), s(12), 3, s(4)) }, false},
		{"NormGradSumsChansReLU short y", func() { NormGradSumsChansReLU(&a, &b, s(12), s(12), s(11), 3, s(4)) }, true},
		{"NormGradSumsChansReLU nil y", func() { NormGradSumsChansReLU(&a, &b, s(12), s(12), nil, 3, s(4)) }, true},
		{"NormGradSumsChansReLU nine channels", func() { NormGradSumsChansReLU(&a, &b, s(9), s(9), s(9), 1, s(9)) }, true},
		{"NormGradSumsChansReLU s 0", func() { NormGradSumsChansReLU(&a, &b, s(9), s(9), s(9), 0, s(2)) }, true},
		{"NormGradSumsChansReLU no channel", func() { NormGradSumsChansReLU(&a, &b, nil, nil, nil, 3, nil) }, false},
		{"NormGradSumsPlane exact", func() { NormGradSumsPlane(s(33), s(33), s(33), 0) }, false},
		{"NormGradSumsPlane nil y", func() { NormGradSumsPlane(s(33), s(33), nil, 0) }, false},
		{"NormGradSumsPlane short y", func() { NormGradSumsPlane(s(33), s(33), s(32), 0) }, true},
		{"NormGradSumsPlane empty y", func() { NormGradSumsPlane(s(33), s(33), []float32{}, 0) }, true},
		{"NormGradSumsPlane short g", func() { NormGradSumsPlane(s(33), s(32), nil, 0) }, true},
		{"NormGradSumsPlane empty", func() { NormGradSumsPlane(nil, nil, []float32{}, 0) }, false},
		{"NormShiftedSums empty", func() { NormShiftedSums(nil, 1) }, false},
		{"NormStats4 short sh", func() { NormStats4(s(5), s(5), s(4), s(5), s(5), s(5), s(5)) }, true},
		{"NormStats4 empty", func() { NormStats4(nil, nil, nil, nil, nil, nil, nil) }, false},
		{"NormGradStats2ReLU short y0", func() { NormGradStats2ReLU(s(5), s(5), s(5), s(5), s(5), s(5), s(5), s(4), s(5)) }, true},
		{"NormGradStats2ReLU nil y1", func() { NormGradStats2ReLU(s(5), s(5), s(5), s(5), s(5), s(5), s(5), s(5), nil) }, true},
		{"NormGradReLU nil y", func() { NormGradReLU(s(5), s(5), s(5), nil, s(5), s(5), s(5), s(5), false) }, true},
		{"NormGradConstReLU nil y", func() { NormGradConstReLU(s(5), s(5), s(5), nil, 0, 0, 0, 0, true) }, true},
	} {
		for _, avx := range n2AVXModes() {
			panicked := func() (p bool) {
				defer func() { p = recover() != nil }()
				withAVX(avx, c.f)
				return false
			}()
			if panicked != c.wantPanic {
				t.Errorf("%s (avx=%v): panicked %v, want %v", c.name, avx, panicked, c.wantPanic)
			}
		}
	}
}

// TestBreak3NewKernelsNoAlloc: the session's exported kernels allocate
// nothing (on both paths).
func TestBreak3NewKernelsNoAlloc(t *testing.T) {
	n := 100
	s := func() []float32 { return randSlice(rand.New(rand.NewPCG(1, uint64(n))), n) }
	x, g, y, m, p1, p2, dst := s(), s(), s(), s(), s(), s(), s()
	var a, b [16]float32
	for _, avx := range n2AVXModes() {
		for name, f := range map[string]func(){
			"NormShiftedSums":       func() { NormShiftedSums(x, 0.5) },
			"NormGradSumsPlane":     func() { NormGradSumsPlane(x, g, y, 0.5) },
			"NormStats4":            func() { NormStats4(p1, p2, m, x, g, y, x) },
			"NormGradStats2ReLU":    func() { NormGradStats2ReLU(p1, p2, m, x, g, g, y, y, x) },
			"NormGradReLU":          func() { NormGradReLU(dst, x, g, y, m, m, g, x, true) },
			"NormGradConstReLU":     func() { NormGradConstReLU(dst, x, g, y, 0.5, 1, 2, 3, false) },
			"NormGradSumsChansReLU": func() { NormGradSumsChansReLU(&a, &b, x, g, y, 12, m[:8]) },
			"Transpose":             func() { Transpose(dst, 10, x, 10, 10, 10) },
		} {
			withAVX(avx, func() {
				if allocs := testing.AllocsPerRun(5, f); allocs != 0 {
					t.Errorf("%s (avx=%v): %v allocations", name, avx, allocs)
				}
			})
		}
	}
}
