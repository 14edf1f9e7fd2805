package eval

import (
	"fmt"
	"math"
)

// MSSSIMWeights are the exponents of the five scales of MS-SSIM, finest
// first (Wang, Simoncelli and Bovik 2003, "Multi-scale structural
// similarity for image quality assessment", Table/section 3.2).
var MSSSIMWeights = []float64{0.0448, 0.2856, 0.3001, 0.2363, 0.1333}

// SSIM constants of Wang et al.: an 11x11 Gaussian window of standard
// deviation 1.5 and the stabilisers C1 = (K1 L)^2, C2 = (K2 L)^2 for data
// range L.
const (
	SSIMWindow = 11
	SSIMSigma  = 1.5
	SSIMK1     = 0.01
	SSIMK2     = 0.03
)

// MSSSIMScales is the number of scales MSSSIM uses for h x w images: one
// per halving while the smaller side is at least SSIMWindow (the window is
// never truncated), at most len(MSSSIMWeights). It is 0 for images smaller
// than the window. For the paper's sizes: 28x28 and 32x32 give 2 scales,
// 64x64 gives 3, 96x96 gives 4, and 176x176 or more the full 5.
func MSSSIMScales(h, w int) int {
	n := 0
	for s := min(h, w); s >= SSIMWindow && n < len(MSSSIMWeights); s /= 2 {
		n++
	}
	return n
}

// MSSSIM returns the multi-scale structural similarity of the images x and
// y, each [c,h,w] flattened in row-major order, with data range dataRange
// (max - min of the pixel scale, e.g. 2 for [-1, 1]). It is 1 for x == y
// and smaller the less alike they are.
//
// Following Wang et al. (2003): at scale j the contrast-structure term
// cs_j = mean of (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2) over
// the positions where the 11x11 Gaussian window fits ("valid"), and at the
// coarsest scale M the whole SSIM map l * cs; between scales the images are
// averaged over 2x2 blocks and subsampled by 2 (odd sides drop their last
// row or column). MS-SSIM = SSIM_M^w_M * prod_{j<M} cs_j^w_j. Each term is
// the mean over channels. Small images use the MSSSIMScales(h, w) finest
// scales, with the weights of those scales renormalised to sum to 1 (so
// that, for instance, a constant luminance ratio gives the same value at
// any size). Negative terms (anti-correlated images) are clamped to 0
// before the power, as fractional powers of negatives are undefined.
//
// Errors: a size mismatch, a non-positive or non-finite data range, images
// smaller than the window, or a non-finite pixel.
func MSSSIM(x, y []float64, c, h, w int, dataRange float64) (float64, error) {
	if c < 1 || h < 1 || w < 1 || len(x) != c*h*w || len(y) != c*h*w {
		return 0, fmt.Errorf("ms-ssim: images of %d and %d values for shape [%d,%d,%d]", len(x), len(y), c, h, w)
	}
	if !(dataRange > 0) || math.IsInf(dataRange, 0) {
		return 0, fmt.Errorf("ms-ssim: data range %v: want a positive number", dataRange)
	}
	m := MSSSIMScales(h, w)
	if m == 0 {
		return 0, fmt.Errorf("ms-ssim: images %dx%d are smaller than the %dx%d window", h, w, SSIMWindow, SSIMWindow)
	}
	for i := range x {
		if !finite(x[i]) || !finite(y[i]) {
			return 0, fmt.Errorf("ms-ssim: non-finite pixel %d (%v, %v)", i, x[i], y[i])
		}
	}
	var wsum float64
	for _, v := range MSSSIMWeights[:m] {
		wsum += v
	}
	g := gaussianWindow(SSIMWindow, SSIMSigma)
	c1, c2 := math.Pow(SSIMK1*dataRange, 2), math.Pow(SSIMK2*dataRange, 2)
	terms := make([]float64, m)
	for ch := range c {
		a := x[ch*h*w : (ch+1)*h*w]
		b := y[ch*h*w : (ch+1)*h*w]
		hh, ww := h, w
		for j := range m {
			ssim, cs := ssimMeans(a, b, hh, ww, g, c1, c2)
			if j == m-1 {
				terms[j] += ssim / float64(c)
				break
			}
			terms[j] += cs / float64(c)
			a, _, _ = halve(a, hh, ww)
			b, hh, ww = halve(b, hh, ww)
		}
	}
	out := 1.0
	for j, t := range terms {
		out *= math.Pow(max(t, 0), MSSSIMWeights[j]/wsum)
	}
	return out, nil
}

// gaussianWindow returns the normalised 1-D Gaussian of n taps (n odd) and
// standard deviation sigma; the 2-D window is its outer product.
func gaussianWindow(n int, sigma float64) []float64 {
	g := make([]float64, n)
	var s float64
	for i := range g {
		d := float64(i - n/2)
		g[i] = math.Exp(-d * d / (2 * sigma * sigma))
		s += g[i]
	}
	for i := range g {
		g[i] /= s
	}
	return g
}

// ssimMeans returns the means over the valid positions of the SSIM map and
// of the contrast-structure map of the h x w images a and b, with the
// separable window g.
func ssimMeans(a, b []float64, h, w int, g []float64, c1, c2 float64) (ssim, cs float64) {
	n := len(g)
	oh, ow := h-n+1, w-n+1
	// Horizontal pass of the five moments, then vertical.
	rows := make([][5]float64, h*ow)
	for i := range h {
		for j := range ow {
			var m [5]float64
			for k, gk := range g {
				p, q := a[i*w+j+k], b[i*w+j+k]
				m[0] += gk * p
				m[1] += gk * q
				m[2] += gk * p * p
				m[3] += gk * q * q
				m[4] += gk * p * q
			}
			rows[i*ow+j] = m
		}
	}
	for i := range oh {
		for j := range ow {
			var m [5]float64
			for k, gk := range g {
				r := rows[(i+k)*ow+j]
				for t := range m {
					m[t] += gk * r[t]
				}
			}
			mx, my := m[0], m[1]
			vx, vy, cxy := m[2]-mx*mx, m[3]-my*my, m[4]-mx*my
			l := (2*mx*my + c1) / (mx*mx + my*my + c1)
			s := (2*cxy + c2) / (vx + vy + c2)
			ssim += l * s
			cs += s
		}
	}
	k := float64(oh * ow)
	return ssim / k, cs / k
}

// halve averages the h x w image a over 2x2 blocks (dropping an odd last
// row or column) and returns it with its new size.
func halve(a []float64, h, w int) ([]float64, int, int) {
	oh, ow := h/2, w/2
	out := make([]float64, oh*ow)
	for i := range oh {
		for j := range ow {
			out[i*ow+j] = (a[2*i*w+2*j] + a[2*i*w+2*j+1] + a[(2*i+1)*w+2*j] + a[(2*i+1)*w+2*j+1]) / 4
		}
	}
	return out, oh, ow
}
