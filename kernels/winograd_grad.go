package kernels

// Winograd input gradient (decision #58).
//
// The input gradient of a stride-s convolution with K x K windows is, phase
// by phase, a stride-1 convolution of the output gradient: input row ih is
// padded row t = ih+Pad, of phase p = t mod s and phase row u = t div s, and
//
//	gx[c, ih, iw] = sum over co, a, b of w[co, c, s*a+p, s*b+q] gout[co, u-a, v-b]
//
// (a, b < r = ceil(K/s), taps past the window zero), a correlation of gout
// with r x r windows, the filters flipped and transposed: its output channel
// (p*s+q)*C + c, at row u-u0, column v-u0, is gx at (s*u+p-Pad, s*v+q-Pad).
// winoInputGrad computes that convolution with Conv2dWinograd's machinery
// (winoJob, in grad mode: the filters gathered flipped and transposed from
// the forward filters, each group's outputs spread back into gx while in
// cache), in place of Conv2dBackward's W^T x gout product and col2im.

// winoGrad is a winoJob's state in grad mode.
type winoGrad struct {
	g         ConvGeom // the forward convolution
	u0        int      // the phase row and column of the stride-1 convolution's first output
	oh2, ow2  int      // the stride-1 convolution's output size
	gx        []float32
	overwrite bool
	// src[ph][a*r+b] is the forward filter's tap (kh*K+kw) of phase ph at
	// (a, b) of the flipped window, -1 past the window.
	src  [4][9]int
	bad  []bool // per group: the transformed output gradient was not finite
	pa   []packedA
	slab []float32
}

// winoGradGeom returns the stride-1 convolution whose output, read phase by
// phase, is the input gradient of geometry g (see winoGrad), and the phase
// row and column its first output is at; ok is false when there is none
// that Conv2dWinograd computes.
func winoGradGeom(g ConvGeom, cout int) (g2 ConvGeom, u0 int, ok bool) {
	s := g.Stride
	if g.KH != g.KW || s < 1 || s > 2 || g.OH < 1 || g.OW < 1 {
		return g2, 0, false
	}
	r := (g.KH + s - 1) / s
	u0 = g.Pad / s // the first padded row of the image is Pad
	p2 := r - 1 - u0
	if p2 < 0 {
		return g2, 0, false
	}
	g2 = NewConvGeom(g.N, cout, g.OH, g.OW, r, r, 1, p2)
	// Its outputs must reach the image's last rows and columns.
	if u0+g2.OH-1 < (g.Pad+g.H-1)/s || u0+g2.OW-1 < (g.Pad+g.W-1)/s {
		return g2, 0, false
	}
	return g2, u0, winoShapeOK(g2, s*s*g.C)
}

// WinogradInputGradPays reports whether Conv2dBackward computes the input
// gradient of geometry g (cout filters) by Winograd's algorithm: where
// CanWinograd accepts the forward convolution, its stride-1 form
// (winoGrad) has no more output tiles than the forward convolution (a
// stride-2 window whose phases start at the same row: basic28x28's 5 x 5,
// pad 2; not basic32x32's 4 x 4, pad 1, whose 8 x 8 image rows span 9
// phase rows, 9 tiles an image in place of 4), and WinogradPays accepts it.
func WinogradInputGradPays(g ConvGeom, cout int) bool {
	if !CanWinograd(g, cout) {
		return false
	}
	g2, _, ok := winoGradGeom(g, cout)
	if !ok || gemmCeilDiv(g2.OH, winoM)*gemmCeilDiv(g2.OW, winoM) > gemmCeilDiv(g.OH, winoM)*gemmCeilDiv(g.OW, winoM) {
		return false
	}
	return WinogradPays(g2, g.Stride*g.Stride*g.C)
}

// winoInputGrad computes Conv2dBackward's input gradient (added into gx,
// or written there when overwrite) by Winograd's algorithm, for a geometry
// WinogradInputGradPays accepts; the values differ from the direct
// product's at float rounding. A group of images whose transformed output
// gradient is not finite (an Inf or NaN would spread over its whole tile)
// gets the direct product's instead. It reports false, and does nothing,
// when a filter is not finite.
func winoInputGrad(g ConvGeom, cout int, w, x, gout, gx []float32, overwrite bool) bool {
	g2, u0, ok := winoGradGeom(g, cout)
	if !ok {
		panic("kernels: winoInputGrad: a geometry winoGradGeom refuses")
	}
	if !AllFinite(w[:cout*g.ColRows()]) {
		return false
	}
	s := g.Stride
	c2 := s * s * g.C
	pl := newWinoPlan(g2, c2)
	j := getWinoJob()
	gr := &j.gr
	j.pl, j.w, j.x, j.grad = pl, w, gout, gr
	gr.g, gr.u0, gr.oh2, gr.ow2, gr.gx, gr.overwrite = g, u0, g2.OH, g2.OW, gx, overwrite
	gr.src = winoPhaseTaps(s, pl.r, g.KH, true)
	for len(gr.pa) < pl.xi {
		gr.pa = append(gr.pa, packedA{})
	}
	gr.pa = gr.pa[:pl.xi]
	j.computeFilters(&gr.slab, gr.pa)
	j.pa = gr.pa
	if cap(gr.bad) < pl.groups {
		gr.bad = make([]bool, pl.groups)
	}
	gr.bad = gr.bad[:pl.groups]
	clear(gr.bad)
	workers := min(Workers(), pl.groups)
	j.reserve(workers)
	parallelRun(j, pl.groups, workers)
	for gi, bad := range gr.bad {
		if !bad {
			continue
		}
		n0 := gi * pl.group
		sub := g
		sub.N = min(pl.group, g.N-n0)
		chw, ohw := g.C*g.H*g.W, cout*g.OH*g.OW
		conv2dBackwardDirect(sub, cout, w, x[n0*chw:(n0+sub.N)*chw], gout[n0*ohw:(n0+sub.N)*ohw], nil, nil, gx[n0*chw:(n0+sub.N)*chw], overwrite)
	}
	j.release()
	return true
}

// scatter spreads the stride-1 outputs of images [n0, n0+gn) (out,
// [gn][s*s*C][oh2*ow2]) into the input gradient: each image row is phase
// p's, its columns phase 0's and phase 1's in turn (stride 2), or phase
// 0's (stride 1).
func (gr *winoGrad) scatter(out []float32, n0, gn int) {
	g := gr.g
	s, hw, plane2 := g.Stride, g.H*g.W, gr.oh2*gr.ow2
	// Phase q's first image column iw0[q] is phase column v0[q].
	var iw0, v0 [2]int
	for q := range s {
		iw0[q] = ((q-g.Pad)%s + s) % s
		v0[q] = (iw0[q]+g.Pad)/s - gr.u0
	}
	// The phase of the even columns, and the odd columns' count.
	qe := 0
	if s == 2 && iw0[0] == 1 {
		qe = 1
	}
	nOdd := g.W / 2
	for i := range gn {
		for c := range g.C {
			dst := gr.gx[((n0+i)*g.C+c)*hw : ((n0+i)*g.C+c+1)*hw]
			for ih := range g.H {
				t := ih + g.Pad
				p, u := t%s, t/s-gr.u0
				dr := dst[ih*g.W : (ih+1)*g.W]
				row := out[((i*s+p)*s*g.C+c)*plane2+u*gr.ow2:]
				if s == 1 {
					sr := row[v0[0] : v0[0]+g.W]
					if gr.overwrite {
						copy(dr, sr)
					} else {
						for iw, v := range sr {
							dr[iw] += v
						}
					}
					continue
				}
				// Phase q's plane is q*C planes after phase 0's.
				ev := row[qe*g.C*plane2+v0[qe]:]
				ev = ev[:g.W-nOdd]
				od := row[(1-qe)*g.C*plane2+v0[1-qe]:]
				od = od[:nOdd]
				if gr.overwrite {
					for v, e := range ev {
						dr[2*v] = e
					}
					for v, o := range od {
						dr[2*v+1] = o
					}
				} else {
					for v, e := range ev {
						dr[2*v] += e
					}
					for v, o := range od {
						dr[2*v+1] += o
					}
				}
			}
		}
	}
}
