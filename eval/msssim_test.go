package eval

import (
	"math"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// smoothImage returns a c x h x w image of smooth random blobs in about
// [-1, 1] plus a little pixel noise (structure at several scales).
func smoothImage(seed uint64, c, h, w int) []float64 {
	rng := tensor.NewRNG(seed)
	x := make([]float64, c*h*w)
	for ch := range c {
		fx, fy, ph := 1+3*rng.Float64(), 1+3*rng.Float64(), 6*rng.Float64()
		for i := range h {
			for j := range w {
				v := 0.6*math.Sin(fx*float64(i)/float64(h)*math.Pi+ph)*math.Cos(fy*float64(j)/float64(w)*math.Pi) + 0.3*(2*rng.Float64()-1)
				x[ch*h*w+i*w+j] = v
			}
		}
	}
	return x
}

// refSSIM computes the SSIM and contrast-structure means of one channel
// directly: a 2-D Gaussian window built from distances, moments summed
// over each window, and SSIM as the product of the three terms of Wang et
// al. (luminance, contrast, structure with C3 = C2/2), which equals l * cs.
func refSSIM(a, b []float64, h, w int, L float64) (ssim, cs float64) {
	const n, sigma = 11, 1.5
	var win [n][n]float64
	var tot float64
	for i := range n {
		for j := range n {
			di, dj := float64(i-5), float64(j-5)
			win[i][j] = math.Exp(-(di*di + dj*dj) / (2 * sigma * sigma))
			tot += win[i][j]
		}
	}
	c1, c2 := (0.01*L)*(0.01*L), (0.03*L)*(0.03*L)
	c3 := c2 / 2
	var count float64
	for r := 0; r+n <= h; r++ {
		for s := 0; s+n <= w; s++ {
			var mx, my float64
			for i := range n {
				for j := range n {
					mx += win[i][j] / tot * a[(r+i)*w+s+j]
					my += win[i][j] / tot * b[(r+i)*w+s+j]
				}
			}
			var vx, vy, cxy float64
			for i := range n {
				for j := range n {
					p, q := a[(r+i)*w+s+j]-mx, b[(r+i)*w+s+j]-my
					vx += win[i][j] / tot * p * p
					vy += win[i][j] / tot * q * q
					cxy += win[i][j] / tot * p * q
				}
			}
			sx, sy := math.Sqrt(vx), math.Sqrt(vy)
			l := (2*mx*my + c1) / (mx*mx + my*my + c1)
			con := (2*sx*sy + c2) / (vx + vy + c2)
			str := (cxy + c3) / (sx*sy + c3)
			ssim += l * con * str
			cs += con * str
			count++
		}
	}
	return ssim / count, cs / count
}

// refMSSSIM composes refSSIM over scales, downsampling by taking the mean
// of each 2x2 block, for a one-channel image.
func refMSSSIM(a, b []float64, h, w int, L float64, scales int) float64 {
	weights := []float64{0.0448, 0.2856, 0.3001, 0.2363, 0.1333}[:scales]
	var wsum float64
	for _, v := range weights {
		wsum += v
	}
	out := 1.0
	for j := range scales {
		ssim, cs := refSSIM(a, b, h, w, L)
		if j == scales-1 {
			return out * math.Pow(ssim, weights[j]/wsum)
		}
		out *= math.Pow(cs, weights[j]/wsum)
		down := func(x []float64) []float64 {
			y := make([]float64, (h/2)*(w/2))
			for k := range y {
				i, jj := k/(w/2), k%(w/2)
				var s float64
				for _, d := range [][2]int{{0, 0}, {0, 1}, {1, 0}, {1, 1}} {
					s += x[(2*i+d[0])*w+2*jj+d[1]]
				}
				y[k] = s / 4
			}
			return y
		}
		a, b = down(a), down(b)
		h, w = h/2, w/2
	}
	return out
}

func TestMSSSIMScales(t *testing.T) {
	for _, c := range []struct{ h, w, want int }{
		{10, 10, 0}, {11, 11, 1}, {21, 30, 1}, {22, 22, 2}, {28, 28, 2}, {32, 32, 2},
		{64, 64, 3}, {96, 96, 4}, {176, 176, 5}, {512, 512, 5},
	} {
		if got := MSSSIMScales(c.h, c.w); got != c.want {
			t.Errorf("MSSSIMScales(%d, %d) = %d, want %d", c.h, c.w, got, c.want)
		}
	}
}

// TestMSSSIMIdentity: MS-SSIM(x, x) = 1 at every size and channel count.
func TestMSSSIMIdentity(t *testing.T) {
	for _, c := range []struct{ c, h, w int }{{1, 11, 11}, {1, 28, 28}, {3, 32, 32}, {1, 64, 48}} {
		x := smoothImage(1, c.c, c.h, c.w)
		got, err := MSSSIM(x, x, c.c, c.h, c.w, 2)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-1) > 1e-12 {
			t.Errorf("%dx%dx%d: MS-SSIM(x, x) = %.15f, want 1", c.c, c.h, c.w, got)
		}
	}
}

// TestMSSSIMNoise: more added noise, lower MS-SSIM.
func TestMSSSIMNoise(t *testing.T) {
	const c, h, w = 3, 32, 32
	x := smoothImage(2, c, h, w)
	rng := tensor.NewRNG(3)
	noise := make([]float64, len(x))
	for i := range noise {
		noise[i] = rng.NormFloat64()
	}
	prev := 1.0
	for _, s := range []float64{0.01, 0.05, 0.1, 0.2, 0.4, 0.8} {
		y := make([]float64, len(x))
		for i := range x {
			y[i] = x[i] + s*noise[i]
		}
		got, err := MSSSIM(x, y, c, h, w, 2)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("noise %.2f: MS-SSIM %.4f", s, got)
		if !(got < prev) || got < 0 {
			t.Errorf("noise %.2f: MS-SSIM %.4f, want in [0, %.4f)", s, got, prev)
		}
		prev = got
	}
}

// TestMSSSIMValues checks hand-computed values and an independent direct
// computation of the formula.
func TestMSSSIMValues(t *testing.T) {
	constant := func(n int, v float64) []float64 {
		x := make([]float64, n)
		for i := range x {
			x[i] = v
		}
		return x
	}
	// Constant images 0.5 and 0.25, range 1: every contrast-structure term
	// is (0 + C2)/(0 + C2) = 1 and the luminance l = (2*0.5*0.25 + 1e-4) /
	// (0.25 + 0.0625 + 1e-4) = 0.2501/0.3126; MS-SSIM = l^(w_M / sum w).
	l := 0.2501 / 0.3126
	for _, c := range []struct {
		size int
		want float64
	}{
		{11, l}, // one scale: exponent 1
		{28, math.Pow(l, 0.2856/(0.0448+0.2856))}, // two scales
		{64, math.Pow(l, 0.3001/(0.0448+0.2856+0.3001))},
	} {
		n := c.size * c.size
		got, err := MSSSIM(constant(n, 0.5), constant(n, 0.25), 1, c.size, c.size, 1)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-c.want) > 1e-12 {
			t.Errorf("constant %dx%d: MS-SSIM %.15f, want %.15f", c.size, c.size, got, c.want)
		}
	}
	if math.Abs(l-0.8000640) > 1e-6 {
		t.Fatalf("hand value of l: %.7f", l) // 0.2501/0.3126 = 0.80006398...
	}
	// Structured images against the direct computation.
	for _, c := range []struct{ h, w int }{{13, 11}, {28, 28}, {45, 64}} {
		x := smoothImage(4, 1, c.h, c.w)
		y := smoothImage(5, 1, c.h, c.w)
		for i := range y {
			y[i] = 0.5*x[i] + 0.5*y[i]
		}
		got, err := MSSSIM(x, y, 1, c.h, c.w, 2)
		if err != nil {
			t.Fatal(err)
		}
		want := refMSSSIM(x, y, c.h, c.w, 2, MSSSIMScales(c.h, c.w))
		t.Logf("%dx%d: MS-SSIM %.6f, direct %.6f", c.h, c.w, got, want)
		if math.Abs(got-want) > 1e-10 {
			t.Errorf("%dx%d: MS-SSIM %.12f, direct computation %.12f", c.h, c.w, got, want)
		}
	}
	// Anti-correlated images: the finest contrast-structure term is
	// negative and clamps to 0 (a negative number to a fractional power
	// would be NaN).
	x := smoothImage(6, 1, 28, 28)
	y := make([]float64, len(x))
	for i := range x {
		y[i] = -x[i]
	}
	if got, err := MSSSIM(x, y, 1, 28, 28, 2); err != nil || got != 0 {
		t.Errorf("MS-SSIM(x, -x) = %v, %v; want 0", got, err)
	}
}

func TestMSSSIMErrors(t *testing.T) {
	x := make([]float64, 11*11)
	for _, c := range []struct {
		name   string
		x, y   []float64
		c, h   int
		srange float64
	}{
		{"size mismatch", x, x[:100], 1, 11, 1},
		{"too small", x[:100], x[:100], 1, 10, 1},
		{"zero range", x, x, 1, 11, 0},
		{"nan range", x, x, 1, 11, math.NaN()},
		{"nan pixel", append([]float64{math.NaN()}, x[1:]...), x, 1, 11, 1},
	} {
		if _, err := MSSSIM(c.x, c.y, c.c, c.h, c.h, c.srange); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}
