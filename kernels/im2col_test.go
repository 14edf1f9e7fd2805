package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

var im2colCases = []struct {
	n, c, h, w, kh, kw, stride, pad int
}{
	{3, 5, 7, 9, 3, 3, 1, 1},
	{3, 5, 7, 9, 5, 5, 2, 2},
	{2, 3, 9, 7, 4, 4, 2, 1},
	{3, 5, 7, 9, 1, 1, 1, 0},
	{3, 5, 7, 9, 1, 1, 2, 0},
	{1, 3, 7, 9, 3, 5, 3, 0},
	{2, 3, 5, 7, 2, 3, 2, 1},
	{3, 2, 3, 3, 5, 5, 1, 2}, // window larger than the image
	{1, 1, 4, 3, 3, 3, 5, 2}, // stride beyond the window
	{5, 7, 13, 11, 5, 5, 2, 2},
	{16, 64, 14, 14, 5, 5, 2, 2}, // large enough to run in parallel
}

func randWin(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// im2colRef is the definition of Im2col, element by element.
func im2colRef(g ConvGeom, x []float32) []float32 {
	np := g.N * g.OH * g.OW
	cols := make([]float32, g.ColRows()*np)
	for c := 0; c < g.C; c++ {
		for i := 0; i < g.KH; i++ {
			for j := 0; j < g.KW; j++ {
				row := (c*g.KH+i)*g.KW + j
				for n := 0; n < g.N; n++ {
					for oy := 0; oy < g.OH; oy++ {
						for ox := 0; ox < g.OW; ox++ {
							iy, ix := oy*g.Stride-g.Pad+i, ox*g.Stride-g.Pad+j
							var v float32
							if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
								v = x[((n*g.C+c)*g.H+iy)*g.W+ix]
							}
							cols[row*np+(n*g.OH+oy)*g.OW+ox] = v
						}
					}
				}
			}
		}
	}
	return cols
}

// col2imRef scatters cols back, accumulating in float64.
func col2imRef(g ConvGeom, cols, x0 []float32) []float32 {
	np := g.N * g.OH * g.OW
	acc := make([]float64, len(x0))
	for i, v := range x0 {
		acc[i] = float64(v)
	}
	for c := 0; c < g.C; c++ {
		for i := 0; i < g.KH; i++ {
			for j := 0; j < g.KW; j++ {
				row := (c*g.KH+i)*g.KW + j
				for n := 0; n < g.N; n++ {
					for oy := 0; oy < g.OH; oy++ {
						for ox := 0; ox < g.OW; ox++ {
							iy, ix := oy*g.Stride-g.Pad+i, ox*g.Stride-g.Pad+j
							if iy >= 0 && iy < g.H && ix >= 0 && ix < g.W {
								acc[((n*g.C+c)*g.H+iy)*g.W+ix] += float64(cols[row*np+(n*g.OH+oy)*g.OW+ox])
							}
						}
					}
				}
			}
		}
	}
	out := make([]float32, len(acc))
	for i, v := range acc {
		out[i] = float32(v)
	}
	return out
}

func TestIm2colCol2im(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range im2colCases {
		g := NewConvGeom(tc.n, tc.c, tc.h, tc.w, tc.kh, tc.kw, tc.stride, tc.pad)
		name := fmt.Sprintf("%+v", g)
		x := randWin(r, g.N*g.C*g.H*g.W)
		want := im2colRef(g, x)
		got := randWin(r, len(want)) // garbage that must be overwritten
		Im2col(g, x, got)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("Im2col %s: element %d = %v, want %v", name, i, got[i], want[i])
			}
		}

		cols := randWin(r, len(want))
		x0 := randWin(r, len(x))
		wantX := col2imRef(g, cols, x0)
		gotX := append([]float32(nil), x0...)
		Col2im(g, cols, gotX)
		for i := range wantX {
			if d := gotX[i] - wantX[i]; d > 1e-5 || d < -1e-5 {
				t.Fatalf("Col2im %s: element %d = %v, want %v", name, i, gotX[i], wantX[i])
			}
		}
	}
}

func TestLayoutTransforms(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range [][3]int{{3, 5, 63}, {1, 7, 9}, {5, 1, 11}, {64, 128, 49}} {
		n, c, p := s[0], s[1], s[2]
		src := randWin(r, n*c*p)
		cn := make([]float32, len(src))
		NCHWToCNHW(cn, src, n, c, p)
		for ni := 0; ni < n; ni++ {
			for ci := 0; ci < c; ci++ {
				for i := 0; i < p; i++ {
					if cn[(ci*n+ni)*p+i] != src[(ni*c+ci)*p+i] {
						t.Fatalf("NCHWToCNHW %v: mismatch at n=%d c=%d i=%d", s, ni, ci, i)
					}
				}
			}
		}
		bias := randWin(r, c)
		back := make([]float32, len(src))
		CNHWToNCHW(back, cn, n, c, p, nil, false)
		acc := randWin(r, len(src))
		acc0 := append([]float32(nil), acc...)
		CNHWToNCHW(acc, cn, n, c, p, nil, true)
		withBias := make([]float32, len(src))
		CNHWToNCHW(withBias, cn, n, c, p, bias, false)
		for i := range src {
			ci := i / p % c
			if back[i] != src[i] || acc[i] != acc0[i]+src[i] || withBias[i] != src[i]+bias[ci] {
				t.Fatalf("CNHWToNCHW %v: mismatch at %d", s, i)
			}
		}
	}
}

func TestOutSize(t *testing.T) {
	for _, c := range [][5]int{{28, 5, 2, 2, 14}, {14, 5, 2, 2, 7}, {32, 4, 2, 1, 16}, {7, 3, 1, 1, 7}, {2, 5, 1, 1, 0}, {9, 1, 2, 0, 5}} {
		if got := OutSize(c[0], c[1], c[2], c[3]); got != c[4] {
			t.Errorf("OutSize%v = %d, want %d", c[:4], got, c[4])
		}
	}
}

func TestIm2colNoAlloc(t *testing.T) {
	g := NewConvGeom(16, 64, 14, 14, 5, 5, 2, 2)
	x := make([]float32, g.N*g.C*g.H*g.W)
	cols := make([]float32, g.ColRows()*g.ColCols())
	Im2col(g, x, cols)
	if a := testing.AllocsPerRun(10, func() {
		Im2col(g, x, cols)
		Col2im(g, cols, x)
	}); a != 0 {
		t.Errorf("Im2col+Col2im: %v allocations per run, want 0", a)
	}
}

// BenchmarkIm2col times the strided convolutions of the DIM encoders:
// basic28x28's second (batch 64) and basic32x32's second and third at
// dim embed's batch of 500.
func BenchmarkIm2col(b *testing.B) {
	for _, c := range []struct {
		name string
		g    ConvGeom
	}{
		{"basic28x28-conv2-b64", NewConvGeom(64, 64, 14, 14, 5, 5, 2, 2)},
		{"basic32x32-conv2-b500", NewConvGeom(500, 64, 16, 16, 4, 4, 2, 1)},
		{"basic32x32-conv3-b500", NewConvGeom(500, 128, 8, 8, 4, 4, 2, 1)},
	} {
		x := make([]float32, c.g.N*c.g.C*c.g.H*c.g.W)
		cols := make([]float32, c.g.ColRows()*c.g.ColCols())
		b.Run(c.name+"/im2col", func(b *testing.B) {
			for b.Loop() {
				Im2col(c.g, x, cols)
			}
		})
		b.Run(c.name+"/col2im", func(b *testing.B) {
			for b.Loop() {
				Col2im(c.g, cols, x)
			}
		})
	}
}

func BenchmarkIm2colDIM(b *testing.B) {
	g := NewConvGeom(64, 64, 14, 14, 5, 5, 2, 2)
	x := make([]float32, g.N*g.C*g.H*g.W)
	cols := make([]float32, g.ColRows()*g.ColCols())
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		Im2col(g, x, cols)
	}
	b.ReportMetric(float64(processCPU()-cpu)/1e6/float64(b.N), "cpu-ms/op")
}

func BenchmarkCol2imDIM(b *testing.B) {
	g := NewConvGeom(64, 64, 14, 14, 5, 5, 2, 2)
	x := make([]float32, g.N*g.C*g.H*g.W)
	cols := make([]float32, g.ColRows()*g.ColCols())
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		Col2im(g, cols, x)
	}
	b.ReportMetric(float64(processCPU()-cpu)/1e6/float64(b.N), "cpu-ms/op")
}

// processCPU returns the user+system CPU time of the process: on a shared
// machine it measures the work done, not the time waited for a core.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestCol2imRows checks col2im's AVX-512 row path (planes at most 16 wide)
// bit for bit against the scalar loops on random geometries, with -0 and
// non-zero values in the columns and already in the output.
func TestCol2imRows(t *testing.T) {
	if !elemAVX512 {
		t.Skip("no AVX-512")
	}
	r := rand.New(rand.NewPCG(41, 42))
	defer func(on bool) { elemAVX512 = on }(elemAVX512)
	for i := range 300 {
		h, w := 1+r.IntN(16), 1+r.IntN(16)
		kh, kw := 1+r.IntN(min(5, h+2)), 1+r.IntN(min(5, w+2))
		stride, pad := 1+r.IntN(3), r.IntN(3)
		if OutSize(h, kh, stride, pad) < 1 || OutSize(w, kw, stride, pad) < 1 {
			continue
		}
		g := NewConvGeom(1+r.IntN(3), 1+r.IntN(3), h, w, kh, kw, stride, pad)
		switch i { // the encoders' convolutions on planes of at most 16
		case 0:
			g = NewConvGeom(3, 2, 14, 14, 5, 5, 2, 2) // basic28x28's conv2
		case 1:
			g = NewConvGeom(2, 3, 16, 16, 4, 4, 2, 1) // basic32x32's conv2
		case 2:
			g = NewConvGeom(2, 3, 8, 8, 4, 4, 2, 1) // basic32x32's conv3
		}
		cols := make([]float32, g.ColRows()*g.ColCols())
		x0 := make([]float32, g.N*g.C*g.H*g.W)
		for j := range cols {
			cols[j] = float32(r.NormFloat64())
			if r.IntN(5) == 0 {
				cols[j] = float32(math.Copysign(0, -1))
			}
		}
		for j := range x0 {
			if r.IntN(2) == 0 {
				x0[j] = float32(r.NormFloat64())
			} else if r.IntN(2) == 0 {
				x0[j] = float32(math.Copysign(0, -1))
			}
		}
		want, got := append([]float32(nil), x0...), append([]float32(nil), x0...)
		elemAVX512 = false
		for c := range g.C {
			col2imChannel(&g, c, 0, g.N, cols, want)
		}
		elemAVX512 = true
		for c := range g.C {
			col2imChannel(&g, c, 0, g.N, cols, got)
		}
		for j := range want {
			if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
				t.Fatalf("%+v: x[%d] = %v, want %v", g, j, got[j], want[j])
			}
		}
	}
}
