package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestSgemmPackedA checks products with A packed beforehand (the path of
// Conv2d) against SgemmRef, for every micro-kernel of gemmImpls' kinds
// (tiny blocks included: many A blocks and k blocks) and both layouts of A,
// on every size of gemmCases.
func TestSgemmPackedA(t *testing.T) {
	kerns := []*microKernel{&goKernel}
	tinyGo := goKernel
	tinyGo.mc, tinyGo.kc, tinyGo.nc = 6, 40, 12
	kerns = append(kerns, &tinyGo)
	for _, kn := range asmKernels() {
		tiny := *kn
		tiny.mc, tiny.kc, tiny.nc = 2*kn.mr, 40, 3*kn.nr
		kerns = append(kerns, kn, &tiny)
	}
	for _, kn := range kerns {
		for _, transA := range []bool{false, true} {
			f := func(transA, _ bool, m, n, k int, _ float32, a []float32, lda int, b []float32, ldb int, _ float32, c []float32, ldc int) {
				var pa packedA
				pa.pack(kn, transA, m, k, a, lda)
				sgemmPackedA(new(gemmCtx), &pa, n, b, ldb, c, ldc)
			}
			for i, tc := range gemmCases {
				if tc.k == 0 {
					continue
				}
				tc.alpha, tc.beta = 1, 0 // what sgemmPackedA computes
				p := newGemmProblem(tc, transA, false, uint64(i))
				if err := p.check(f); err != nil {
					t.Errorf("%s transA=%v %dx%dx%d: %v", kn.name, transA, tc.m, tc.n, tc.k, err)
				}
			}
		}
	}
}

// convRef is the definition of a convolution in float64: out[n,co,oy,ox] =
// bias[co] + sum over c, i, j of w[co,c,i,j] * x[n,c,oy*s-pad+i,ox*s-pad+j].
func convRef(g ConvGeom, cout int, w, bias, x []float32) []float64 {
	out := make([]float64, g.N*cout*g.OH*g.OW)
	for n := range g.N {
		for co := range cout {
			for oy := range g.OH {
				for ox := range g.OW {
					var s float64
					if bias != nil {
						s = float64(bias[co])
					}
					for c := range g.C {
						for i := range g.KH {
							for j := range g.KW {
								iy, ix := oy*g.Stride-g.Pad+i, ox*g.Stride-g.Pad+j
								if iy < 0 || iy >= g.H || ix < 0 || ix >= g.W {
									continue
								}
								s += float64(w[((co*g.C+c)*g.KH+i)*g.KW+j]) * float64(x[((n*g.C+c)*g.H+iy)*g.W+ix])
							}
						}
					}
					out[((n*cout+co)*g.OH+oy)*g.OW+ox] = s
				}
			}
		}
	}
	return out
}

// TestConv2d checks Conv2d against the float64 definition, and against
// Im2col + Sgemm + CNHWToNCHW (the whole-batch path it replaces), which
// sums in the same order and must agree bit for bit. The cases cover one
// group and many, a last group shorter than the others, single images,
// 1x1 windows, strides beyond the window and no bias.
func TestConv2d(t *testing.T) {
	cases := []struct {
		n, c, h, w, kh, kw, stride, pad, cout int
		bias                                  bool
	}{
		{1, 1, 5, 5, 3, 3, 1, 1, 1, true},
		{3, 5, 7, 9, 3, 3, 1, 1, 7, true},
		{3, 5, 7, 9, 5, 5, 2, 2, 13, false},
		{2, 3, 9, 7, 4, 4, 2, 1, 17, true},
		{3, 5, 7, 9, 1, 1, 1, 0, 31, true},
		{1, 3, 7, 9, 3, 5, 3, 0, 5, true},
		{1, 1, 4, 3, 3, 3, 5, 2, 3, false},
		{37, 64, 14, 14, 5, 5, 2, 2, 129, true}, // many groups of 3, the last of 1: parallel
		{23, 1, 28, 28, 5, 5, 2, 2, 64, true},   // one channel
		{9, 128, 8, 8, 4, 4, 2, 1, 256, true},   // basic32x32's third convolution
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%dx%dx%dx%d/k%dx%d/s%d/p%d/out%d", tc.n, tc.c, tc.h, tc.w, tc.kh, tc.kw, tc.stride, tc.pad, tc.cout)
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.n*1000+tc.c), 3))
			g := NewConvGeom(tc.n, tc.c, tc.h, tc.w, tc.kh, tc.kw, tc.stride, tc.pad)
			k, p := g.ColRows(), g.OH*g.OW
			x := randWin(r, g.N*g.C*g.H*g.W)
			w := randWin(r, tc.cout*k)
			var bias []float32
			if tc.bias {
				bias = randWin(r, tc.cout)
			}
			out := make([]float32, g.N*tc.cout*p+5)
			for i := range out {
				out[i] = float32(math.NaN())
			}
			Conv2d(g, tc.cout, w, bias, x, out[:g.N*tc.cout*p], nil)
			for i := g.N * tc.cout * p; i < len(out); i++ {
				if !math.IsNaN(float64(out[i])) {
					t.Fatalf("wrote past the output, at %d", i)
				}
			}
			want := convRef(g, tc.cout, w, bias, x)
			for i, v := range want {
				if d := math.Abs(float64(out[i]) - v); !(d <= 1e-5*float64(k)) {
					t.Fatalf("out[%d] = %v, want %v", i, out[i], v)
				}
			}
			cols := make([]float32, k*g.N*p)
			prod := make([]float32, tc.cout*g.N*p)
			batch := make([]float32, g.N*tc.cout*p)
			Im2col(g, x, cols)
			Sgemm(false, false, tc.cout, g.N*p, k, 1, w, k, cols, g.N*p, 0, prod, g.N*p)
			CNHWToNCHW(batch, prod, g.N, tc.cout, p, bias, false)
			for i, v := range batch {
				if out[i] != v {
					t.Fatalf("out[%d] = %v, the whole-batch product gives %v", i, out[i], v)
				}
			}
		})
	}
}

// TestConv2dEpilogue checks the epilogue (with and without ReLU, with and
// without bias, one image a group and several) against the plain
// convolution followed by the epilogue's formula, bit for bit.
func TestConv2dEpilogue(t *testing.T) {
	for _, tc := range []struct {
		n, c, h, cout int
		bias, relu    bool
	}{
		{1, 3, 9, 5, true, true},
		{7, 4, 11, 6, false, true},
		{9, 64, 14, 17, true, false},
		{2, 2, 5, 3, false, false},
	} {
		r := rand.New(rand.NewPCG(uint64(tc.n), 9))
		g := NewConvGeom(tc.n, tc.c, tc.h, tc.h, 3, 3, 2, 1)
		k, p := g.ColRows(), g.OH*g.OW
		x, w := randWin(r, g.N*g.C*g.H*g.W), randWin(r, tc.cout*k)
		var bias []float32
		if tc.bias {
			bias = randWin(r, tc.cout)
		}
		epi := &ConvEpilogue{Sub: randWin(r, tc.cout), Mul: randWin(r, tc.cout), Add: randWin(r, tc.cout), ReLU: tc.relu}
		plain := make([]float32, g.N*tc.cout*p)
		got := make([]float32, len(plain))
		Conv2d(g, tc.cout, w, bias, x, plain, nil)
		Conv2d(g, tc.cout, w, bias, x, got, epi)
		relus := 0
		for i, v := range plain {
			co := i / p % tc.cout
			want := (v-epi.Sub[co])*epi.Mul[co] + epi.Add[co]
			if tc.relu {
				if want <= 0 {
					relus++
				}
				want = max(want, 0)
			}
			if got[i] != want {
				t.Fatalf("%+v: out[%d] = %v, want %v", tc, i, got[i], want)
			}
		}
		if tc.relu && (relus == 0 || relus == len(plain)) {
			t.Fatalf("%+v: %d of %d outputs clipped: the case does not test the ReLU", tc, relus, len(plain))
		}
	}
}

func TestConv2dNoAlloc(t *testing.T) {
	g := NewConvGeom(16, 64, 14, 14, 5, 5, 2, 2)
	r := rand.New(rand.NewPCG(1, 2))
	x, w, bias := randWin(r, g.N*g.C*g.H*g.W), randWin(r, 128*g.ColRows()), randWin(r, 128)
	out := make([]float32, g.N*128*g.OH*g.OW)
	Conv2d(g, 128, w, bias, x, out, nil)
	if a := testing.AllocsPerRun(5, func() { Conv2d(g, 128, w, bias, x, out, nil) }); a != 0 {
		t.Errorf("Conv2d allocates %v times per call", a)
	}
}

// BenchmarkConv2d compares Conv2d with the whole-batch path (Im2col, one
// Sgemm, CNHWToNCHW) on the encoders' convolutions, at the training batch
// (64) and dim embed's (500).
func BenchmarkConv2d(b *testing.B) {
	for _, bc := range []struct {
		name                               string
		c, h, kh, stride, pad, cout, batch int
	}{
		{"basic28x28-conv2", 64, 14, 5, 2, 2, 128, 64},
		{"basic28x28-conv2", 64, 14, 5, 2, 2, 128, 500},
		{"basic32x32-conv2", 64, 16, 4, 2, 1, 128, 500},
		{"basic32x32-conv3", 128, 8, 4, 2, 1, 256, 500},
	} {
		g := NewConvGeom(bc.batch, bc.c, bc.h, bc.h, bc.kh, bc.kh, bc.stride, bc.pad)
		r := rand.New(rand.NewPCG(1, 2))
		k, p := g.ColRows(), g.OH*g.OW
		x, w, bias := randWin(r, g.N*g.C*g.H*g.W), randWin(r, bc.cout*k), randWin(r, bc.cout)
		out := make([]float32, g.N*bc.cout*p)
		flops := 2 * float64(g.N*bc.cout*p*k)
		name := fmt.Sprintf("%s/batch=%d", bc.name, bc.batch)
		b.Run(name+"/blocked", func(b *testing.B) {
			for b.Loop() {
				Conv2d(g, bc.cout, w, bias, x, out, nil)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(name+"/whole-batch", func(b *testing.B) {
			cols := make([]float32, k*g.N*p)
			prod := make([]float32, bc.cout*g.N*p)
			for b.Loop() {
				Im2col(g, x, cols)
				Sgemm(false, false, bc.cout, g.N*p, k, 1, w, k, cols, g.N*p, 0, prod, g.N*p)
				CNHWToNCHW(out, prod, g.N, bc.cout, p, bias, false)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
