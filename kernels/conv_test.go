package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
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

// convCase is a convolution of kernels' tests: a batch of n images of c
// channels, h x w, a kh x kw window moved by stride with pad, cout filters,
// and (for the forward pass) a bias or none.
type convCase struct {
	n, c, h, w, kh, kw, stride, pad, cout int
	bias                                  bool
}

func (tc convCase) String() string {
	return fmt.Sprintf("%dx%dx%dx%d/k%dx%d/s%d/p%d/out%d", tc.n, tc.c, tc.h, tc.w, tc.kh, tc.kw, tc.stride, tc.pad, tc.cout)
}

func (tc convCase) geom() ConvGeom {
	return NewConvGeom(tc.n, tc.c, tc.h, tc.w, tc.kh, tc.kw, tc.stride, tc.pad)
}

// convCases cover one group of images and many, a last group shorter than
// the others, single images, 1x1 windows, strides beyond the window, one
// input channel, odd channel counts and no bias.
var convCases = []convCase{
	{1, 1, 5, 5, 3, 3, 1, 1, 1, true},
	{3, 5, 7, 9, 3, 3, 1, 1, 7, true},
	{3, 5, 7, 9, 5, 5, 2, 2, 13, false},
	{2, 3, 9, 7, 4, 4, 2, 1, 17, true},
	{3, 5, 7, 9, 1, 1, 1, 0, 31, true},
	{1, 3, 7, 9, 3, 5, 3, 0, 5, true},
	{1, 1, 4, 3, 3, 3, 5, 2, 3, false},
	{37, 64, 14, 14, 5, 5, 2, 2, 129, true}, // many groups of 3, the last of 1: parallel
	{23, 1, 28, 28, 5, 5, 2, 2, 64, true},   // one channel: filter gradient image by image
	{5, 3, 32, 32, 5, 5, 2, 2, 29, true},    // three channels, 75 taps: image by image, 3 strips
	{6, 3, 32, 32, 4, 4, 2, 1, 64, false},   // basic32x32's first convolution
	{9, 128, 8, 8, 4, 4, 2, 1, 256, true},   // basic32x32's third convolution
	{7, 64, 14, 14, 5, 5, 2, 2, 128, true},  // basic28x28's second: groups of 3 by positions
}

// TestConv2d checks Conv2d against the float64 definition, and against
// Im2col + Sgemm + CNHWToNCHW (the whole-batch path it replaces), which
// sums in the same order and must agree bit for bit, on convCases.
func TestConv2d(t *testing.T) {
	for _, tc := range convCases {
		t.Run(tc.String(), func(t *testing.T) {
			g := tc.geom()
			r := rand.New(rand.NewPCG(uint64(tc.n*1000+tc.c), 3))
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

// benchConv is one of the encoders' convolutions timed by the benchmarks:
// a batch of square c-channel h x h images, a kh x kh window, cout filters.
type benchConv struct {
	name                               string
	c, h, kh, stride, pad, cout, batch int
}

func (bc benchConv) geom() ConvGeom {
	return NewConvGeom(bc.batch, bc.c, bc.h, bc.h, bc.kh, bc.kh, bc.stride, bc.pad)
}

// operands returns the geometry and random input, filters and bias of the
// convolution, and an output buffer.
func (bc benchConv) operands() (g ConvGeom, x, w, bias, out []float32) {
	g = bc.geom()
	r := rand.New(rand.NewPCG(1, 2))
	x, w, bias = randWin(r, g.N*g.C*g.H*g.W), randWin(r, bc.cout*g.ColRows()), randWin(r, bc.cout)
	return g, x, w, bias, make([]float32, g.N*bc.cout*g.OH*g.OW)
}

// BenchmarkConv2d compares Conv2d with the whole-batch path (Im2col, one
// Sgemm, CNHWToNCHW) and, where it applies, Conv2dWinograd (its GFLOP/s
// count the direct convolution's multiply-adds) on the encoders'
// convolutions, at the training batch (64) and dim embed's (500).
func BenchmarkConv2d(b *testing.B) {
	for _, bc := range []benchConv{
		{"basic28x28-conv1", 1, 28, 5, 2, 2, 64, 500},
		{"basic28x28-conv2", 64, 14, 5, 2, 2, 128, 64},
		{"basic28x28-conv2", 64, 14, 5, 2, 2, 128, 500},
		{"basic32x32-conv1", 3, 32, 4, 2, 1, 64, 500},
		{"basic32x32-conv2", 64, 16, 4, 2, 1, 128, 64},
		{"basic32x32-conv2", 64, 16, 4, 2, 1, 128, 500},
		{"basic32x32-conv3", 128, 8, 4, 2, 1, 256, 64},
		{"basic32x32-conv3", 128, 8, 4, 2, 1, 256, 500},
	} {
		g, x, w, bias, out := bc.operands()
		k, p := g.ColRows(), g.OH*g.OW
		flops := 2 * float64(g.N*bc.cout*p*k)
		name := fmt.Sprintf("%s/batch=%d", bc.name, bc.batch)
		b.Run(name+"/blocked", func(b *testing.B) {
			for b.Loop() {
				Conv2d(g, bc.cout, w, bias, x, out, nil)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		if CanWinograd(g, bc.cout) {
			b.Run(name+"/winograd", func(b *testing.B) {
				for b.Loop() {
					Conv2dWinograd(g, bc.cout, w, bias, x, out, nil)
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
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

// convBackwardRef is the definition of Conv2d's gradients in float64 for
// the output gradient gout: gw[co,c,i,j] = sum over n, oy, ox of
// gout[n,co,oy,ox] * x[n,c,iy,ix], gb[co] = sum of gout[n,co,.,.], and
// gx[n,c,iy,ix] = sum of gout[n,co,oy,ox] * w[co,c,i,j] over the windows
// that read it.
func convBackwardRef(g ConvGeom, cout int, w, x, gout []float32) (gw, gb, gx []float64) {
	gw, gb, gx = make([]float64, cout*g.ColRows()), make([]float64, cout), make([]float64, g.N*g.C*g.H*g.W)
	for n := range g.N {
		for co := range cout {
			for oy := range g.OH {
				for ox := range g.OW {
					d := float64(gout[((n*cout+co)*g.OH+oy)*g.OW+ox])
					gb[co] += d
					for c := range g.C {
						for i := range g.KH {
							for j := range g.KW {
								iy, ix := oy*g.Stride-g.Pad+i, ox*g.Stride-g.Pad+j
								if iy < 0 || iy >= g.H || ix < 0 || ix >= g.W {
									continue
								}
								wi, xi := ((co*g.C+c)*g.KH+i)*g.KW+j, ((n*g.C+c)*g.H+iy)*g.W+ix
								gw[wi] += d * float64(x[xi])
								gx[xi] += d * float64(w[wi])
							}
						}
					}
				}
			}
		}
	}
	return gw, gb, gx
}

// TestConv2dBackward checks every gradient of Conv2dBackward (each alone
// and all together, added into non-zero buffers) against the float64
// definition, on convCases (the filter gradient split over one input
// channel, or over a few).
func TestConv2dBackward(t *testing.T) {
	for _, tc := range convCases {
		t.Run(tc.String(), func(t *testing.T) {
			g := tc.geom()
			r := rand.New(rand.NewPCG(uint64(tc.n*100+tc.cout), 4))
			k, p := g.ColRows(), g.OH*g.OW
			x, w, gout := randWin(r, g.N*g.C*g.H*g.W), randWin(r, tc.cout*k), randWin(r, g.N*tc.cout*p)
			rw, rb, rx := convBackwardRef(g, tc.cout, w, x, gout)
			gw0, gb0, gx0 := randWin(r, len(rw)), randWin(r, len(rb)), randWin(r, len(rx))
			check := func(what string, got []float32, init []float32, want []float64, terms int) {
				t.Helper()
				for i, v := range want {
					v += float64(init[i])
					if d := math.Abs(float64(got[i]) - v); !(d <= 1e-5*float64(terms+1)) {
						t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], v)
					}
				}
			}
			for _, which := range []string{"all", "w", "b", "x"} {
				gw, gb, gx := append([]float32(nil), gw0...), append([]float32(nil), gb0...), append([]float32(nil), gx0...)
				aw, ab, ax := gw, gb, gx
				switch which {
				case "w":
					ab, ax = nil, nil
				case "b":
					aw, ax = nil, nil
				case "x":
					aw, ab = nil, nil
				}
				Conv2dBackward(g, tc.cout, w, x, gout, aw, ab, ax, false)
				if aw != nil {
					check(which+": gw", gw, gw0, rw, g.N*p)
				} else if !slices.Equal(gw, gw0) {
					t.Fatalf("%s: gw changed", which)
				}
				if ab != nil {
					check(which+": gb", gb, gb0, rb, g.N*p)
				} else if !slices.Equal(gb, gb0) {
					t.Fatalf("%s: gb changed", which)
				}
				if ax != nil {
					check(which+": gx", gx, gx0, rx, tc.cout*k)
				} else if !slices.Equal(gx, gx0) {
					t.Fatalf("%s: gx changed", which)
				}
			}
			// overwriteX: the input gradient replaces what was there.
			gx := append([]float32(nil), gx0...)
			Conv2dBackward(g, tc.cout, w, x, gout, nil, nil, gx, true)
			check("overwrite: gx", gx, make([]float32, len(gx)), rx, tc.cout*k)
		})
	}
}

func TestConv2dBackwardNoAlloc(t *testing.T) {
	g := NewConvGeom(16, 64, 14, 14, 5, 5, 2, 2)
	r := rand.New(rand.NewPCG(1, 2))
	k, p := g.ColRows(), g.OH*g.OW
	x, w, gout := randWin(r, g.N*g.C*g.H*g.W), randWin(r, 128*k), randWin(r, g.N*128*p)
	gw, gb, gx := make([]float32, 128*k), make([]float32, 128), make([]float32, len(x))
	Conv2dBackward(g, 128, w, x, gout, gw, gb, gx, false)
	if a := testing.AllocsPerRun(5, func() { Conv2dBackward(g, 128, w, x, gout, gw, gb, gx, false) }); a != 0 {
		t.Errorf("Conv2dBackward allocates %v times per call", a)
	}
}

// BenchmarkConv2dBackward compares Conv2dBackward with the whole-batch
// path (NCHWToCNHW of the gradient, Im2col, two Sgemm calls, Col2im) on
// basic28x28's and basic32x32's second convolution at the training batch.
func BenchmarkConv2dBackward(b *testing.B) {
	for _, bc := range []benchConv{
		{"basic28x28-conv1", 1, 28, 5, 2, 2, 64, 64},
		{"basic32x32-conv1", 3, 32, 4, 2, 1, 64, 64},
		{"basic28x28-conv2", 64, 14, 5, 2, 2, 128, 64},
		{"basic32x32-conv2", 64, 16, 4, 2, 1, 128, 64},
	} {
		g := bc.geom()
		r := rand.New(rand.NewPCG(1, 2))
		k, p := g.ColRows(), g.OH*g.OW
		x, w, gout := randWin(r, g.N*g.C*g.H*g.W), randWin(r, bc.cout*k), randWin(r, g.N*bc.cout*p)
		gw, gb, gx := make([]float32, bc.cout*k), make([]float32, bc.cout), make([]float32, len(x))
		flops := 4 * float64(g.N*bc.cout*p*k)
		name := fmt.Sprintf("%s/batch=%d", bc.name, bc.batch)
		if g.C < 4 {
			// A first convolution, as in training: no input gradient.
			b.Run(name+"/first", func(b *testing.B) {
				for b.Loop() {
					Conv2dBackward(g, bc.cout, w, x, gout, gw, gb, nil, false)
				}
				b.ReportMetric(flops/2*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
			continue
		}
		b.Run(name+"/blocked", func(b *testing.B) {
			for b.Loop() {
				Conv2dBackward(g, bc.cout, w, x, gout, gw, gb, gx, false)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(name+"/whole-batch", func(b *testing.B) {
			np := g.N * p
			cols, dout := make([]float32, k*np), make([]float32, bc.cout*np)
			for b.Loop() {
				NCHWToCNHW(dout, gout, g.N, bc.cout, p)
				Im2col(g, x, cols)
				Sgemm(false, true, bc.cout, k, np, 1, dout, np, cols, np, 1, gw, k)
				Sgemm(true, false, k, np, bc.cout, 1, w, k, dout, np, 0, cols, np)
				Col2im(g, cols, gx)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// TestConv2dBackwardSplitBits checks that the filter and bias gradients do
// not depend on how Conv2dBackward shares them out among cores (by input
// channels, and by filters when there are fewer channels than cores): they
// must be bit for bit the one-goroutine sums, group by group in order, of
// the whole filter gradient.
func TestConv2dBackwardSplitBits(t *testing.T) {
	for _, tc := range convCases {
		t.Run(tc.String(), func(t *testing.T) {
			g := tc.geom()
			r := rand.New(rand.NewPCG(uint64(tc.n*100+tc.cout), 9))
			k, p := g.ColRows(), g.OH*g.OW
			x, w, gout := randWin(r, g.N*g.C*g.H*g.W), randWin(r, tc.cout*k), randWin(r, g.N*tc.cout*p)
			gw0, gb0 := randWin(r, tc.cout*k), randWin(r, tc.cout)
			wantW, wantB := append([]float32(nil), gw0...), append([]float32(nil), gb0...)
			// The sums one goroutine makes: each group's columns, all
			// filters at once, added in turn (or convPerImage's parts).
			group := max(1, min(convColsTarget/(k*p), g.N))
			chw := g.C * g.H * g.W
			ctx := getGemmCtx()
			defer putGemmCtx(ctx)
			if convPerImage(g) {
				// Each part's images summed from zero, the parts added in
				// order, their sum into gw.
				parts := min(convImageParts, g.N)
				sums := make([][]float32, parts)
				for q := range parts {
					sums[q] = make([]float32, tc.cout*k)
					for n := q * g.N / parts; n < (q+1)*g.N/parts; n++ {
						sub := g
						sub.N = 1
						cols := make([]float32, k*p)
						for c := range g.C {
							im2colChannel(&sub, c, 0, 1, x[n*chw:(n+1)*chw], cols)
						}
						sgemmSerial(ctx, false, true, tc.cout, k, p, gout[n*tc.cout*p:], p, cols, p, 1, sums[q], k)
					}
				}
				for i := range wantW {
					s := sums[0][i]
					for q := 1; q < parts; q++ {
						s += sums[q][i]
					}
					wantW[i] += s
				}
			}
			for n0 := 0; n0 < g.N && !convPerImage(g); n0 += group {
				gn := min(group, g.N-n0)
				np := gn * p
				sub := g
				sub.N = gn
				cols := make([]float32, k*np)
				for c := range g.C {
					im2colChannel(&sub, c, 0, gn, x[n0*chw:(n0+gn)*chw], cols)
				}
				dout := make([]float32, tc.cout*np)
				for co := range tc.cout {
					for i := range gn {
						copy(dout[co*np+i*p:co*np+(i+1)*p], gout[((n0+i)*tc.cout+co)*p:((n0+i)*tc.cout+co+1)*p])
					}
				}
				sgemmSerial(ctx, false, true, tc.cout, k, np, dout, np, cols, np, 1, wantW, k)
			}
			for co := range tc.cout {
				var l [32]float64
				for n := range g.N {
					sumLanes64Go(&l, gout[(n*tc.cout+co)*p:(n*tc.cout+co+1)*p])
				}
				wantB[co] += float32(reduceLanes64(&l))
			}
			gw, gb := append([]float32(nil), gw0...), append([]float32(nil), gb0...)
			Conv2dBackward(g, tc.cout, w, x, gout, gw, gb, nil, false)
			for i := range gw {
				if math.Float32bits(gw[i]) != math.Float32bits(wantW[i]) {
					t.Fatalf("gw[%d] = %v, want %v", i, gw[i], wantW[i])
				}
			}
			for i := range gb {
				if math.Float32bits(gb[i]) != math.Float32bits(wantB[i]) {
					t.Fatalf("gb[%d] = %v, want %v", i, gb[i], wantB[i])
				}
			}
		})
	}
}
