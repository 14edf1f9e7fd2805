package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Adversarial tests of Add and LayerNormGradSums2 (AVX-512 loops and Go
// fallbacks), written in review (second round): odd lengths and offsets
// inside NaN-guarded arrays, aliasing, special values, AVX-512 against Go
// bit for bit.

// n2Sizes covers the 64-wide loop, the 16-wide loop and the masked tail of
// each, alone and together.
var n2Sizes = []int{1, 2, 3, 7, 15, 16, 17, 31, 33, 47, 48, 63, 64, 65, 79, 80, 81, 127, 128, 129, 143, 191, 1000, 1023, 4099}

// n2Guarded copies v into a guarded array at offset off, with tail guards.
func n2Guarded(v []float32, off int) (big, s []float32) {
	big = make([]float32, off+len(v)+21)
	for i := range big {
		big[i] = g2Guard
	}
	s = big[off : off+len(v)]
	copy(s, v)
	return big, s
}

func n2GuardsIntact(t *testing.T, what string, big []float32, off, n int) {
	t.Helper()
	for i, v := range big {
		if (i < off || i >= off+n) && math.Float32bits(v) != g2GuardBits {
			t.Fatalf("%s: guard %d (offset %d, %d values) overwritten: %#08x", what, i, off, n, math.Float32bits(v))
		}
	}
}

// withAVX runs f with elemAVX512 as on (only where the CPU has it).
func withAVX(on bool, f func()) {
	defer func(v bool) { elemAVX512 = v }(elemAVX512)
	elemAVX512 = on
	f()
}

func n2AVXModes() []bool {
	if elemAVX512 {
		return []bool{true, false}
	}
	return []bool{false}
}

// TestBreak2AddGuarded: Add at odd offsets with operands longer than dst
// (their extra values guards), every length around the loops' widths,
// specials without two NaNs meeting: the bits of one float32 addition per
// element, nothing written outside dst, on both paths.
func TestBreak2AddGuarded(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, avx := range n2AVXModes() {
		for _, n := range n2Sizes {
			for _, off := range []int{1, 3, 13} {
				a, b := elemInput(r, n, 0.2, false), elemInput(r, n, 0.2, false)
				oneNaN(r, a, b)
				want := make([]float32, n)
				for i := range want {
					want[i] = float32(float64(a[i]) + float64(b[i]))
					if isNaN32(a[i]) {
						want[i] = quiet(a[i])
					} else if isNaN32(b[i]) {
						want[i] = quiet(b[i])
					}
				}
				bigA, sa := n2Guarded(append(a, g2Guard, g2Guard), off)
				bigB, sb := n2Guarded(b, off+2)
				bigD, sd := n2Guarded(make([]float32, n), off+5)
				what := fmt.Sprintf("avx=%v n=%d off=%d", avx, n, off)
				withAVX(avx, func() { Add(sd, sa, sb) })
				sameBits(t, what, sd, want)
				n2GuardsIntact(t, what+": dst", bigD, off+5, n)
				n2GuardsIntact(t, what+": a", bigA, off, n+2)
				n2GuardsIntact(t, what+": b", bigB, off+2, n)
				sameBits(t, what+": a changed", sa[:n], a)
				sameBits(t, what+": b changed", sb, b)
			}
		}
	}
}

// TestBreak2AddAliasing: dst = a, dst = b, a = b and all three one slice,
// on both paths, with the bits of the scalar loop; NaNs may meet here
// (a + a), so the result is compared with addGo on the same operands.
func TestBreak2AddAliasing(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, n := range n2Sizes {
		a0, b0 := elemInput(r, n, 0.1, false), elemInput(r, n, 0.1, false)
		for _, alias := range []string{"dst=a", "dst=b", "a=b", "dst=a=b"} {
			var results [][]float32
			for _, avx := range n2AVXModes() {
				a, b := slices.Clone(a0), slices.Clone(b0)
				dst := make([]float32, n)
				withAVX(avx, func() {
					switch alias {
					case "dst=a":
						Add(a, a, b)
						dst = a
					case "dst=b":
						Add(b, a, b)
						dst = b
					case "a=b":
						Add(dst, a, a)
					case "dst=a=b":
						Add(a, a, a)
						dst = a
					}
				})
				results = append(results, dst)
			}
			want := make([]float32, n)
			switch alias {
			case "dst=a", "dst=b":
				addGo(want, a0, b0)
			default:
				addGo(want, a0, a0)
			}
			for k, got := range results {
				// NaN + NaN of the same operand: any NaN will do, the
				// others bit for bit.
				for i := range got {
					if isNaN32(want[i]) && isNaN32(got[i]) && alias != "dst=a" && alias != "dst=b" {
						got[i] = want[i]
					}
				}
				sameBits(t, fmt.Sprintf("n=%d %s path %d", n, alias, k), got, want)
			}
		}
	}
}

// TestBreak2AddTwoNaNs: where two NaNs meet, Add returns a's (with
// AVX-512 as in the Go loop, whose addition takes its first operand's).
func TestBreak2AddTwoNaNs(t *testing.T) {
	n := 100
	a, b := make([]float32, n), make([]float32, n)
	for i := range a {
		a[i] = math.Float32frombits(0x7fc00000 | uint32(i+1))
		b[i] = math.Float32frombits(0xffc00000 | uint32(1000+i))
	}
	var res [][]float32
	for _, avx := range n2AVXModes() {
		d := make([]float32, n)
		withAVX(avx, func() { Add(d, a, b) })
		res = append(res, d)
	}
	for k := 1; k < len(res); k++ {
		sameBits(t, "two NaNs: AVX-512 against Go", res[0], res[k])
	}
}

// TestBreak2AddEmpty: zero-length dst with nil or short operands.
func TestBreak2AddEmpty(t *testing.T) {
	Add(nil, nil, nil)
	Add([]float32{}, []float32{1}, nil)
	d := []float32{7, 8}
	Add(d[:0], d, d)
	if d[0] != 7 || d[1] != 8 {
		t.Fatal("Add of zero values wrote")
	}
}

// n2LNInputs returns the operands of LayerNormGradSums2 for n values with
// a fraction frac of specials among x0, x1, g0, g1 and gamma.
func n2LNInputs(r *rand.Rand, n int, frac float64) (gam, x0, x1, g0, g1, p1, p2 []float32) {
	return elemInput(r, n, frac, false), elemInput(r, n, frac, false), elemInput(r, n, frac, false), elemInput(r, n, frac, false), elemInput(r, n, frac, false), elemInput(r, n, frac/2, false), elemInput(r, n, frac/2, false)
}

// n2LNRun runs LayerNormGradSums2 on guarded copies at odd offsets and
// returns p1, p2 and the four sums, failing on a write outside p1[:n] or
// p2[:n] or into an input.
func n2LNRun(t *testing.T, what string, avx bool, n int, gam, x0, x1, g0, g1, p1, p2 []float32, m0, s0, m1, s1 float32) ([]float32, []float32, [4]float32) {
	t.Helper()
	in := [][]float32{gam, x0, x1, g0, g1}
	var bigs, ss [][]float32
	for k, v := range in {
		big, s := n2Guarded(v, 1+2*k)
		bigs, ss = append(bigs, big), append(ss, s)
	}
	bigP1, sp1 := n2Guarded(p1, 3)
	bigP2, sp2 := n2Guarded(p2, 7)
	// p1 and p2 longer than n: their extra values are guards.
	sp1, sp2 = bigP1[3:3+n+4], bigP2[7:7+n+4]
	var sums [4]float32
	withAVX(avx, func() {
		sums[0], sums[1], sums[2], sums[3] = LayerNormGradSums2(sp1, sp2, ss[0], ss[1], ss[2], ss[3], ss[4], m0, s0, m1, s1)
	})
	n2GuardsIntact(t, what+": p1", bigP1, 3, n)
	n2GuardsIntact(t, what+": p2", bigP2, 7, n)
	for k, big := range bigs {
		n2GuardsIntact(t, fmt.Sprintf("%s: input %d", what, k), big, 1+2*k, n)
		sameBits(t, fmt.Sprintf("%s: input %d changed", what, k), ss[k], in[k])
	}
	return slices.Clone(sp1[:n]), slices.Clone(sp2[:n]), sums
}

// n2SumsBits compares the four sums bit for bit, any NaN matching any NaN
// when anyNaN.
func n2SumsBits(t *testing.T, what string, got, want [4]float32, anyNaN bool) {
	t.Helper()
	for k := range got {
		g, w := got[k], want[k]
		if anyNaN && isNaN32(g) && isNaN32(w) {
			continue
		}
		if math.Float32bits(g) != math.Float32bits(w) {
			t.Fatalf("%s: sum %d = %v (%#08x), want %v (%#08x)", what, k, g, math.Float32bits(g), w, math.Float32bits(w))
		}
	}
}

// TestBreak2LNGradSums2Finite: finite inputs over many magnitudes (sums
// that cancel, subnormals, huge values that overflow to Inf in the
// partial sums), odd lengths and offsets: AVX-512 and Go give the same
// bits, p1 and p2 and the four sums, and the sums follow the documented
// order (16 partials, then pairwise) exactly.
func TestBreak2LNGradSums2Finite(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	for _, n := range n2Sizes {
		for _, ms := range [][4]float32{{0.1, 1.3, -0.2, 0.7}, {0, 1, 0, 1}, {1e30, 1e-30, -1e30, 3e8}, {-0.0, 0, 1e-40, -2}} {
			gam, x0, x1, g0, g1, p1, p2 := n2LNInputs(r, n, 0)
			for i := range n { // a few finite specials
				if r.IntN(9) == 0 {
					x0[i] = []float32{1e-45, -1e-45, 3e38, -3e38, 0, float32(math.Copysign(0, -1))}[r.IntN(6)]
				}
			}
			what := fmt.Sprintf("n=%d ms=%v", n, ms)
			// The documented computation, in order.
			w1, w2 := slices.Clone(p1), slices.Clone(p2)
			var part [4][16]float32
			for i := range n {
				// Every product converted: rounded on its own, never fused.
				d0, d1 := x0[i]-ms[0], x1[i]-ms[2]
				t0, t1 := float32(d0*ms[1]), float32(d1*ms[3])
				u0, u1 := float32(g0[i]*t0), float32(g1[i]*t1)
				w1[i] += u0 + u1
				w2[i] += g0[i] + g1[i]
				e0, e1 := float32(g0[i]*gam[i]), float32(g1[i]*gam[i])
				f0, f1 := float32(e0*d0), float32(e1*d1)
				part[0][i%16] += e0
				part[1][i%16] += f0
				part[2][i%16] += e1
				part[3][i%16] += f1
			}
			var want [4]float32
			for k := range part {
				for w := 8; w >= 1; w /= 2 {
					for l := range w {
						part[k][l] += part[k][l+w]
					}
				}
				want[k] = part[k][0]
			}
			for _, avx := range n2AVXModes() {
				got1, got2, sums := n2LNRun(t, fmt.Sprintf("%s avx=%v", what, avx), avx, n, gam, x0, x1, g0, g1, p1, p2, ms[0], ms[1], ms[2], ms[3])
				sameBits(t, what+" p1", got1, w1)
				sameBits(t, what+" p2", got2, w2)
				n2SumsBits(t, fmt.Sprintf("%s avx=%v", what, avx), sums, want, false)
			}
		}
	}
}

// TestBreak2LNGradSums2Specials: Inf and NaN among the inputs (one NaN
// per element at most, so that no two NaNs meet in an operation): AVX-512
// and Go give the same bits.
func TestBreak2LNGradSums2Specials(t *testing.T) {
	if !elemAVX512 {
		t.Skip("no AVX-512 to compare the Go loop with")
	}
	r := rand.New(rand.NewPCG(27, 28))
	for _, n := range n2Sizes {
		gam, x0, x1, g0, g1, p1, p2 := n2LNInputs(r, n, 0.05)
		oneNaN(r, gam, x0, x1, g0, g1, p1, p2)
		what := fmt.Sprintf("n=%d", n)
		a1, a2, as := n2LNRun(t, what+" avx", true, n, gam, x0, x1, g0, g1, p1, p2, 0.25, 2, -0.5, 0.5)
		b1, b2, bs := n2LNRun(t, what+" go", false, n, gam, x0, x1, g0, g1, p1, p2, 0.25, 2, -0.5, 0.5)
		sameBits(t, what+": p1 AVX-512 against Go", a1, b1)
		sameBits(t, what+": p2 AVX-512 against Go", a2, b2)
		n2SumsBits(t, what+": sums AVX-512 against Go", as, bs, false)
	}
}

// n2NaNOperands returns operands of LayerNormGradSums2 that are all
// NaNs, with a distinct sign and payload per operand and element.
func n2NaNOperands(n int) (gam, x0, x1, g0, g1, p1, p2 []float32) {
	mk := func(sign, base uint32) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = math.Float32frombits(sign | 0x7fc00000 | (base + uint32(i)))
		}
		return s
	}
	return mk(0, 0x100), mk(1<<31, 0x200), mk(0, 0x300), mk(1<<31, 0x400), mk(0, 0x500), mk(0, 0x600), mk(1<<31, 0x700)
}

// TestBreak2LNGradSums2NaNsMeet: NaNs in several operands of one element
// give NaN on both paths wherever they reach (p1, p2, the four sums).
func TestBreak2LNGradSums2NaNsMeet(t *testing.T) {
	if !elemAVX512 {
		t.Skip("no AVX-512 to compare the Go loop with")
	}
	const n = 37
	gam, x0, x1, g0, g1, p1, p2 := n2NaNOperands(n)
	a1, a2, as := n2LNRun(t, "avx", true, n, gam, x0, x1, g0, g1, p1, p2, 0.25, 2, -0.5, 0.5)
	b1, b2, bs := n2LNRun(t, "go", false, n, gam, x0, x1, g0, g1, p1, p2, 0.25, 2, -0.5, 0.5)
	for i := range n {
		if !isNaN32(a1[i]) || !isNaN32(b1[i]) || !isNaN32(a2[i]) || !isNaN32(b2[i]) {
			t.Fatalf("element %d: p1 %v / %v, p2 %v / %v (AVX-512 / Go): want NaN", i, a1[i], b1[i], a2[i], b2[i])
		}
	}
	n2SumsBits(t, "sums AVX-512 against Go", as, bs, true)
}

// TestBreak2LNGradSums2Aliasing: p1 and p2 the same slice (each element
// gets both additions, p1's first) on both paths, same bits.
func TestBreak2LNGradSums2Aliasing(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 30))
	for _, n := range []int{1, 17, 100} {
		gam, x0, x1, g0, g1, p, _ := n2LNInputs(r, n, 0)
		var res [][]float32
		for _, avx := range n2AVXModes() {
			q := slices.Clone(p)
			withAVX(avx, func() { LayerNormGradSums2(q, q, gam, x0, x1, g0, g1, 0.1, 1.1, 0.2, 0.9) })
			res = append(res, q)
		}
		want := slices.Clone(p)
		for i := range want {
			t0, t1 := float32((x0[i]-0.1)*1.1), float32((x1[i]-0.2)*0.9)
			u0, u1 := float32(g0[i]*t0), float32(g1[i]*t1)
			want[i] += u0 + u1
			want[i] += g0[i] + g1[i]
		}
		for k, got := range res {
			sameBits(t, fmt.Sprintf("n=%d path %d: p1 = p2", n, k), got, want)
		}
	}
}
