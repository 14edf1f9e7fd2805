package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestWinoMatrices checks F(4, r)'s matrices on the identity they exist
// for: A^T [(G g) . (B^T d)] is the correlation y_i = sum_k g_k d_{i+k},
// in float64, for random g and d.
func TestWinoMatrices(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, rr := range []int{2, 3} {
		m := winoMats[rr]
		al := m.alpha
		for range 20 {
			g := make([]float64, rr)
			d := make([]float64, al)
			for i := range g {
				g[i] = r.Float64()*2 - 1
			}
			for i := range d {
				d[i] = r.Float64()*2 - 1
			}
			prod := make([]float64, al)
			for j := range al {
				var gg, dd float64
				for k := range rr {
					gg += m.g[j*rr+k] * g[k]
				}
				for k := range al {
					dd += float64(m.bt[j*6+k]) * d[k]
				}
				prod[j] = gg * dd
			}
			for i := range winoM {
				var y, want float64
				for j := range al {
					y += float64(m.at[i*6+j]) * prod[j]
				}
				for k := range rr {
					want += g[k] * d[i+k]
				}
				if math.Abs(y-want) > 1e-12 {
					t.Fatalf("F(4,%d): output %d = %v, want %v", rr, i, y, want)
				}
			}
		}
		for i := range 6 {
			for j := al; j < 6; j++ {
				if m.bt[i*6+j] != 0 || (i < winoM && m.at[i*6+j] != 0) || (i >= al && m.bt[i*6+j%6] != 0) {
					t.Fatalf("F(4,%d): padding not zero", rr)
				}
			}
		}
	}
}

// convRef64 is the definition of Conv2d with the bias and the epilogue, in
// float64; it also returns, per output, the sum of |w x| of its terms
// (the scale of its rounding error).
func convRef64(g ConvGeom, cout int, w, bias, x []float32, epi *ConvEpilogue) (out, scale []float64) {
	out = make([]float64, g.N*cout*g.OH*g.OW)
	scale = make([]float64, len(out))
	for n := range g.N {
		for co := range cout {
			for oy := range g.OH {
				for ox := range g.OW {
					var s, a float64
					for c := range g.C {
						for i := range g.KH {
							for j := range g.KW {
								y, xx := oy*g.Stride-g.Pad+i, ox*g.Stride-g.Pad+j
								if y < 0 || y >= g.H || xx < 0 || xx >= g.W {
									continue
								}
								p := float64(w[((co*g.C+c)*g.KH+i)*g.KW+j]) * float64(x[((n*g.C+c)*g.H+y)*g.W+xx])
								s += p
								a += math.Abs(p)
							}
						}
					}
					if bias != nil {
						s += float64(bias[co])
					}
					if epi != nil {
						s = (s-float64(epi.Sub[co]))*float64(epi.Mul[co]) + float64(epi.Add[co])
						a *= math.Abs(float64(epi.Mul[co]))
						if epi.ReLU {
							s = max(s, 0)
						}
					}
					o := ((n*cout+co)*g.OH+oy)*g.OW + ox
					out[o], scale[o] = s, a+1e-3
				}
			}
		}
	}
	return out, scale
}

// randConv returns random operands of a convolution of geometry g with
// cout filters: input, filters, a bias when withBias, an epilogue (with
// ReLU when relu) when withEpi.
func randConv(r *rand.Rand, g ConvGeom, cout int, withBias, withEpi, relu bool) (x, w, bias []float32, epi *ConvEpilogue) {
	x, w = randWin(r, g.N*g.C*g.H*g.W), randWin(r, cout*g.ColRows())
	if withBias {
		bias = randWin(r, cout)
	}
	if withEpi {
		epi = &ConvEpilogue{Sub: randWin(r, cout), Mul: randWin(r, cout), Add: randWin(r, cout), ReLU: relu}
	}
	return x, w, bias, epi
}

// forEachTransformPath runs f with the AVX-512 transforms (where the CPU
// has them) and with the Go ones, as subtests asm=true and asm=false.
func forEachTransformPath(t *testing.T, f func(t *testing.T)) {
	saved := elemAVX512
	defer func() { elemAVX512 = saved }()
	for _, asm := range []bool{true, false} {
		if asm && !saved {
			continue
		}
		elemAVX512 = asm
		t.Run(fmt.Sprintf("asm=%v", asm), f)
	}
}

// TestConv2dWinograd compares Conv2dWinograd (the assembly transforms
// where the CPU has AVX-512, and the Go ones) with the float64 definition
// on odd geometries: windows of 3 to 6 with stride 2 and of 2 and 3 with
// stride 1, odd and unequal sides (down to 1 x 1), batches
// that leave a partial last group, with and without bias and epilogue. The
// error allowed, 2e-5 of the sum of the terms' magnitudes, is about 30
// times float32's rounding unit; an off-by-one tap or a wrong transform
// entry is off by the size of a term.
func TestConv2dWinograd(t *testing.T) {
	cases := []struct {
		n, c, h, w, k, pad, cout int
		bias, epi, relu          bool
		stride                   int // 2 when 0
	}{
		{3, 64, 14, 14, 5, 2, 128, false, true, true, 0},  // basic28x28's second convolution
		{5, 64, 16, 16, 4, 1, 128, true, true, true, 0},   // basic32x32's second
		{33, 128, 8, 8, 4, 1, 256, false, true, false, 0}, // basic32x32's third, two groups
		{7, 19, 13, 11, 3, 1, 17, true, false, false, 0},
		{2, 16, 21, 9, 6, 2, 33, true, true, true, 0},
		{11, 17, 10, 15, 5, 0, 16, false, false, false, 0},
		{1, 16, 5, 5, 4, 3, 16, true, true, true, 0},
		{3, 96, 15, 15, 3, 1, 40, true, true, true, 1}, // alex64x64-like, stride 1
		{9, 17, 7, 10, 3, 0, 16, false, false, false, 1},
		{2, 16, 9, 6, 2, 1, 19, true, true, false, 1},
		{1, 16, 1, 1, 3, 2, 16, false, true, true, 1},
	}
	forEachTransformPath(t, func(t *testing.T) {
		for _, tc := range cases {
			stride := tc.stride
			if stride == 0 {
				stride = 2
			}
			name := fmt.Sprintf("n%d_c%d_%dx%d_k%d_s%d_p%d_co%d", tc.n, tc.c, tc.h, tc.w, tc.k, stride, tc.pad, tc.cout)
			t.Run(name, func(t *testing.T) {
				g := NewConvGeom(tc.n, tc.c, tc.h, tc.w, tc.k, tc.k, stride, tc.pad)
				if !winoShapeOK(g, tc.cout) {
					t.Fatalf("geometry %+v refused", g)
				}
				x, w, bias, epi := randConv(rand.New(rand.NewPCG(uint64(tc.c), uint64(tc.h))), g, tc.cout, tc.bias, tc.epi, tc.relu)
				want, scale := convRef64(g, tc.cout, w, bias, x, epi)
				out := make([]float32, len(want)+5)
				for i := range out {
					out[i] = float32(math.NaN())
				}
				Conv2dWinograd(g, tc.cout, w, bias, x, out[:len(want)], epi)
				worst := 0.0
				for i, v := range want {
					d := math.Abs(float64(out[i]) - v)
					if !(d <= 2e-5*scale[i]) {
						t.Fatalf("output %d = %v, want %v (error %.3g of scale %.3g)", i, out[i], v, d/scale[i], scale[i])
					}
					worst = max(worst, d/scale[i])
				}
				t.Logf("largest error: %.3g of the terms' magnitudes", worst)
				for i := len(want); i < len(out); i++ {
					if !math.IsNaN(float64(out[i])) {
						t.Fatalf("wrote past the output, at %d", i)
					}
				}
			})
		}
	})
}

// TestConv2dWinogradNaN: a NaN input reaches the outputs it feeds, with and
// without ReLU (max(NaN, 0) is NaN in Go, and in the assembly epilogue).
func TestConv2dWinogradNaN(t *testing.T) {
	g := NewConvGeom(2, 16, 8, 8, 4, 4, 2, 1)
	r := rand.New(rand.NewPCG(5, 6))
	x, w := randWin(r, g.N*g.C*g.H*g.W), randWin(r, 16*g.ColRows())
	x[3*8+3] = float32(math.NaN()) // image 0, channel 0
	for _, relu := range []bool{false, true} {
		epi := &ConvEpilogue{Sub: make([]float32, 16), Mul: make([]float32, 16), Add: make([]float32, 16), ReLU: relu}
		for i := range epi.Mul {
			epi.Mul[i] = 1
		}
		out := make([]float32, g.N*16*g.OH*g.OW)
		Conv2dWinograd(g, 16, w, nil, x, out, epi)
		if !math.IsNaN(float64(out[1*g.OW+1])) {
			t.Errorf("relu=%v: the output over the NaN input is %v", relu, out[1*g.OW+1])
		}
		if v := out[16*g.OH*g.OW]; math.IsNaN(float64(v)) {
			t.Errorf("relu=%v: the second image's first output is NaN", relu)
		}
	}
}

// TestConv2dWinogradRefuses: geometries it does not handle panic with the
// geometry in the message, and CanWinograd says no to them.
func TestConv2dWinogradRefuses(t *testing.T) {
	for _, g := range []ConvGeom{
		NewConvGeom(1, 16, 8, 8, 5, 5, 1, 2), // stride 1, window 5
		NewConvGeom(1, 16, 9, 9, 3, 3, 3, 1), // stride 3
		NewConvGeom(1, 8, 8, 8, 4, 4, 2, 1),  // too few channels
		NewConvGeom(1, 16, 8, 8, 7, 7, 2, 3), // window 7
		NewConvGeom(1, 16, 8, 8, 3, 4, 2, 1), // not square
	} {
		if CanWinograd(g, 32) {
			t.Errorf("CanWinograd(%+v) = true", g)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Conv2dWinograd(%+v) did not panic", g)
				}
			}()
			Conv2dWinograd(g, 32, make([]float32, 32*g.ColRows()), nil, make([]float32, g.N*g.C*g.H*g.W), make([]float32, g.N*32*g.OH*g.OW), nil)
		}()
	}
}

// TestConv2dWinogradFilterCache: transformed filters are reused only for
// the same bits. Filters changed in place (one value by 0.5, another by one
// mantissa bit, 2^-13 of it), and a second bank alternating with the
// first, give the outputs that a transform from scratch gives.
func TestConv2dWinogradFilterCache(t *testing.T) {
	g := NewConvGeom(2, 16, 8, 8, 4, 4, 2, 1)
	r := rand.New(rand.NewPCG(7, 8))
	x := randWin(r, g.N*g.C*g.H*g.W)
	w1, w2 := randWin(r, 24*g.ColRows()), randWin(r, 24*g.ColRows())
	n := g.N * 24 * g.OH * g.OW
	run := func(w []float32) []float32 {
		out := make([]float32, n)
		Conv2dWinograd(g, 24, w, nil, x, out, nil)
		return out
	}
	// The references first, each from a new slice (never a cache hit).
	w1b, w1c := append([]float32(nil), w1...), append([]float32(nil), w1...)
	w1b[5] += 0.5
	w1c[5] += 0.5
	w1c[17] = math.Float32frombits(math.Float32bits(w1c[17]) ^ 1<<10)
	want1 := run(append([]float32(nil), w1...))
	want2 := run(append([]float32(nil), w2...))
	want1b, want1c := run(w1b), run(w1c)
	if equalBits(want1b, want1c) {
		t.Fatal("a changed mantissa bit does not change the outputs: the test cannot see a stale cache")
	}
	check := func(what string, got, want []float32) {
		t.Helper()
		if !equalBits(got, want) {
			t.Fatalf("%s: the outputs differ from a fresh transform's", what)
		}
	}
	check("first call", run(w1), want1)
	check("second bank", run(w2), want2)
	check("first bank again", run(w1), want1)
	w1[5] += 0.5
	check("changed in place", run(w1), want1b)
	w1[17] = math.Float32frombits(math.Float32bits(w1[17]) ^ 1<<10)
	check("one bit changed", run(w1), want1c)
}

// TestConv2dWinogradStrideKey: the same filters used with stride 2 and
// then stride 1 (different transforms of the same bits) give each stride's
// own outputs.
func TestConv2dWinogradStrideKey(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	g2, g1 := NewConvGeom(2, 16, 9, 9, 3, 3, 2, 1), NewConvGeom(2, 16, 9, 9, 3, 3, 1, 1)
	x, w := randWin(r, g1.N*g1.C*g1.H*g1.W), randWin(r, 16*g1.ColRows())
	for _, g := range []ConvGeom{g2, g1, g2} {
		want, scale := convRef64(g, 16, w, nil, x, nil)
		out := make([]float32, len(want))
		Conv2dWinograd(g, 16, w, nil, x, out, nil)
		for i, v := range want {
			if d := math.Abs(float64(out[i]) - v); !(d <= 2e-5*scale[i]) {
				t.Fatalf("stride %d: output %d = %v, want %v", g.Stride, i, out[i], v)
			}
		}
	}
}

// TestWinoPackedOffset checks that winoPackedOffset finds every element
// where packedA.pack puts it, for each micro-kernel, with partial panels,
// partial blocks and several blocks of k.
func TestWinoPackedOffset(t *testing.T) {
	kerns := append([]*microKernel{&goKernel}, asmKernels()...)
	for _, kern := range kerns {
		for _, sz := range []struct{ m, k int }{{16, 16}, {37, 19}, {128, 256}, {131, 1100}, {250, 513}} {
			a := make([]float32, sz.m*sz.k)
			for i := range a {
				a[i] = float32(i + 1)
			}
			var pa packedA
			pa.pack(kern, false, sz.m, sz.k, a, sz.k)
			seen := make(map[int]bool)
			for i := range sz.m {
				for p := range sz.k {
					off := winoPackedOffset(kern, sz.m, sz.k, pa.mcEff, i, p)
					if off < 0 || off >= len(pa.data) || pa.data[off] != a[i*sz.k+p] {
						t.Fatalf("%s %dx%d: element (%d, %d) at %d: want %v", kern.name, sz.m, sz.k, i, p, off, a[i*sz.k+p])
					}
					if seen[off] {
						t.Fatalf("%s %dx%d: offset %d twice", kern.name, sz.m, sz.k, off)
					}
					seen[off] = true
				}
			}
		}
	}
}

// BenchmarkWinogradTraining times the training step's stride-2 convolutions
// (batch 64) with filters that change at every call, as a step changes
// them: the direct convolution, Winograd's with the filters transformed
// at every call, and Winograd's with them cached (inference). It decides
// winoFreshTiles.
func BenchmarkWinogradTraining(b *testing.B) {
	for _, bc := range []benchConv{
		{"basic28x28-conv2", 64, 14, 5, 2, 2, 128, 64},
		{"basic32x32-conv2", 64, 16, 4, 2, 1, 128, 64},
		{"basic32x32-conv3", 128, 8, 4, 2, 1, 256, 64},
		{"basic64x64-conv2", 64, 32, 4, 2, 1, 128, 64},
		{"basic64x64-conv3", 128, 16, 4, 2, 1, 256, 64},
		{"basic64x64-conv4", 256, 8, 4, 2, 1, 512, 64},
		{"alex64x64-conv2", 96, 31, 3, 1, 1, 192, 64},
		{"alex64x64-conv4", 384, 15, 3, 1, 1, 384, 64},
	} {
		g, x, w, bias, out := bc.operands()
		b.Run(bc.name+"/direct", func(b *testing.B) {
			for b.Loop() {
				w[0] += 1e-7
				Conv2d(g, bc.cout, w, bias, x, out, nil)
			}
		})
		b.Run(bc.name+"/winograd-fresh", func(b *testing.B) {
			for b.Loop() {
				w[0] += 1e-7
				Conv2dWinograd(g, bc.cout, w, bias, x, out, nil)
			}
		})
		b.Run(bc.name+"/winograd-cached", func(b *testing.B) {
			for b.Loop() {
				Conv2dWinograd(g, bc.cout, w, bias, x, out, nil)
			}
		})
	}
}
