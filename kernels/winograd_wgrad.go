package kernels

// Winograd filter gradient (decision #59).
//
// Conv2dWinograd's output tile is Y = A^T [sum over c' of U[co,c'] . V[c']] A
// with U = G g G^T the transformed phase filter and V = B^T d B the
// transformed input patch: bilinear in g and d, and equal to the
// convolution for every g and d, so its derivative in g is the
// convolution's filter gradient exactly. By the chain rule, with dY a
// tile's output gradient (zero past the output's edge),
//
//	dU[co,c'] = sum over tiles of (A dY[co] A^T) . V[c']   (alpha x alpha, pointwise)
//	dg[co,c'] = G^T dU[co,c'] G                             (r x r)
//
// that is, per transformed point xi, one product dU[xi] [cout, 4C] =
// dM[xi] [cout, tiles] x V[xi]^T [tiles, 4C] over the batch's tiles, in
// place of the direct product's [cout, tiles*16] x [tiles*16, C*K*K]. The
// output-gradient transform dM = A dY A^T is itself one product (A (x) A)
// [alpha^2, 16] x the tiles' gradients [16, cout*tiles], and so is the
// filter transform back, (G (x) G)^T [r^2, alpha^2] x dU [alpha^2, cout*4C];
// each phase filter's taps then go back to the window (those past it, zero
// in the forward pass, are dropped).

// winoWGradFloats bounds the tiles (the products' depth) transformed at a
// time: their transformed input (alpha^2 x 4C x tiles) stays at most
// winoWGradFloats (16 MiB), and the products sum the chunks in order. A
// variable, so that tests can cut small batches into chunks.
var winoWGradFloats = 4 << 20

// winoWGrad is one winoFilterGrad call's state; recycled.
type winoWGrad struct {
	pl       winoPlan // the chunk's plan: group = its images, ld = its columns
	s        winoScratch
	tmps     [][36 * 16]float32 // per participant
	ctx      []gemmCtx          // per participant
	products bool               // runChunk runs the points' products
	beta     float32            // the products' beta: 0 for the first chunk
	x, gout  []float32
	n0, gn   int // the chunk's first image and images
	vrow     int // the row stride of v: the chunk's columns, padded
	vstride  int // the point stride of v
	v, dm    []float32
	d        [][]float32 // per participant: a block's output-gradient tiles
	m, dg    []float32
	aa, kg   []float32
}

var winoWGradFree freeList[winoWGrad]

// WinogradFilterGradPays reports whether Conv2dBackward computes the filter
// gradient of geometry g (cout filters) by Winograd's algorithm
// (winoFilterGrad): a geometry WinogradPays accepts, whose direct product
// is at least winoWGradMinWork. Alone, the Winograd form is faster for
// every such layer measured; in a training step its transformed operands
// (for basic28x28's second convolution 19 MB) push the step's other data
// out of the caches, and the smaller layers gained nothing (decision #59).
func WinogradFilterGradPays(g ConvGeom, cout int) bool {
	return WinogradPays(g, cout) && 2*int64(g.N)*int64(cout)*int64(g.OH*g.OW)*int64(g.ColRows()) >= winoWGradMinWork
}

// winoWGradMinWork is the smallest direct filter-gradient product, in
// floating-point operations, that WinogradFilterGradPays accepts (2^31:
// basic64x64's second and third convolutions, 4.3 GFLOP, and alex64x64's,
// 20-38; not basic28x28's or basic32x32's second, 1.3 and 1.1).
const winoWGradMinWork = 1 << 31

// winoFilterGrad adds the filter gradient of Conv2d (geometry g, filters
// [cout, C*K*K]) for the input x and output gradient gout into gw, computed
// by Winograd's algorithm, for a geometry CanWinograd accepts; the values
// differ from the direct product's at float rounding. It reports false,
// and leaves gw alone, when a transformed input or output gradient is not
// finite (an Inf or NaN would spread over its whole tile).
func winoFilterGrad(g ConvGeom, cout int, x, gout, gw []float32) bool {
	j := getWinoWGrad()
	defer putWinoWGrad(j)
	pl := newWinoPlan(g, cout)
	cp, xi, r := pl.cp, pl.xi, pl.r
	// Chunks of images whose transformed input fits winoWGradFloats.
	nc := max(1, min(g.N, winoWGradFloats/(xi*cp*pl.tiles)))
	pl.group = nc
	pl.groups = gemmCeilDiv(g.N, nc)
	pl.ld = gemmRoundUp(nc*pl.tiles, 16)
	pl.blocks = pl.ld / 16
	j.pl, j.x, j.gout = pl, x, gout
	t := pl.ld
	// V's rows are t+16 floats apart and its points vstride floats: a
	// block's 36 x 4C rows of 16 floats would otherwise lie a multiple of
	// 4 KiB apart and share the caches' sets.
	j.vrow = t + 16
	j.vstride = cp*j.vrow + 16
	j.v = gemmGrow(j.v, xi*j.vstride)
	j.dm = gemmGrow(j.dm, xi*cout*t)
	j.m = gemmGrow(j.m, xi*cout*cp)
	j.dg = gemmGrow(j.dg, r*r*cout*cp)
	s := &j.s
	if cap(s.gidx) < t {
		s.gidx, s.oidx = make([]int32, t), make([]int32, t)
		s.masks = make([]uint16, pl.blocks*16)
		s.inMasks = make([]uint16, pl.blocks*4*12)
	}
	s.gidx, s.oidx = s.gidx[:t], s.oidx[:t]
	s.masks, s.inMasks = s.masks[:pl.blocks*16], s.inMasks[:pl.blocks*4*12]
	workers := Workers()
	for len(j.tmps) < workers {
		j.tmps = append(j.tmps, [36 * 16]float32{})
		j.ctx = append(j.ctx, gemmCtx{})
		j.d = append(j.d, nil)
	}
	for w := range workers {
		j.d[w] = gemmGrow(j.d[w], 16*16*cout)
	}
	// (A (x) A)[xi, 16] and (G (x) G)[xi, r^2], as winoOut and
	// computeFilters apply A^T and G.
	al := pl.alpha
	j.aa = gemmGrow(j.aa, xi*16)
	j.kg = gemmGrow(j.kg, xi*r*r)
	for a := range al {
		for b := range al {
			for i := range winoM {
				for jj := range winoM {
					j.aa[(a*al+b)*16+i*winoM+jj] = pl.mat.at[i*6+a] * pl.mat.at[jj*6+b]
				}
			}
			for ka := range r {
				for kb := range r {
					j.kg[(a*al+b)*r*r+ka*r+kb] = float32(pl.mat.g[a*r+ka] * pl.mat.g[b*r+kb])
				}
			}
		}
	}
	for ci := range pl.groups {
		j.n0 = ci * nc
		j.gn = min(nc, g.N-j.n0)
		pl.lanes(s, j.gn)
		parallelRun(j, pl.blocks, min(workers, pl.blocks))
		// dU[xi]^T += V[xi] x dM[xi].
		j.beta = 1
		if ci == 0 {
			j.beta = 0
		}
		j.products = true
		parallelRun(j, xi, workers)
		j.products = false
	}
	// dg = (G (x) G)^T x dU (columns c'*cout + co), then each phase filter's
	// taps into gw.
	l := cout * cp
	Sgemm(true, false, r*r, l, xi, 1, j.kg, r*r, j.m, l, 0, j.dg, l)
	// An Inf or NaN in the input or the output gradient reaches every
	// entry of dg its tiles touch (0 x Inf is NaN): the caller then takes
	// the direct product, which keeps it to the entries it feeds.
	if !AllFinite(j.dg[:r*r*l]) {
		return false
	}
	// The window's tap of each phase's (a, b), -1 past the window.
	k := g.KH
	tap := winoPhaseTaps(pl.s, r, k, false)
	for co := range cout {
		for c := range g.C {
			dst := gw[(co*g.C+c)*k*k : (co*g.C+c+1)*k*k]
			for ph := range pl.phases {
				src := j.dg[(c*pl.phases+ph)*cout+co:]
				for ab, tk := range tap[ph][:r*r] {
					if tk >= 0 {
						dst[tk] += src[ab*l]
					}
				}
			}
		}
	}
	return true
}

// runChunk transforms 16-column block number b of the chunk: the input
// patches into j.v ([xi][4C][ld], rows padded) and the output-gradient
// tiles into j.dm ([xi][ld][cout]).
//
// With j.products set, it runs instead point number b's product,
// dU[xi]^T [4C, cout] += V[xi] [4C, tiles] x dM[xi] [tiles, cout], on the
// participant's own context: neither operand is transposed, and the
// points' products are shared out whole, as Conv2dWinograd's are.
func (j *winoWGrad) runChunk(w, b int) {
	pl, s := &j.pl, &j.s
	if j.products {
		cp, cout, t := pl.cp, pl.cout, pl.ld
		sgemmSerial(&j.ctx[w], false, false, cp, cout, t, j.v[b*j.vstride:], j.vrow, j.dm[b*cout*t:], cout, j.beta, j.m[b*cout*cp:], cout)
		return
	}
	g := pl.g
	t := pl.ld
	tmp := &j.tmps[w]
	for c := range g.C {
		for ph := range pl.phases {
			base, off := (j.n0*g.C+c)*pl.planeIn, (ph/pl.s)*g.W+ph%pl.s
			m := s.inMasks[(b*4+ph)*12:]
			winoIn(j.v[(pl.phases*c+ph)*j.vrow+16*b:], j.vstride, j.x, base, off, pl.s*g.W, pl.s, s.gidx[16*b:16*b+16], m[:6], m[6:12], pl.mat, tmp)
		}
	}
	// The block's output-gradient tiles D [16 positions][16 tiles][cout],
	// then dM = (A (x) A) x D into the block's columns of dM.
	gout := j.gout[j.n0*pl.cout*pl.planeOut:]
	cout, po := pl.cout, pl.planeOut
	d := j.d[w][:16*16*cout]
	for pos := range 16 {
		oy, ox := pos/winoM, pos%winoM
		mask := s.masks[16*b+pos]
		for l := range 16 {
			dst := d[(pos*16+l)*cout : (pos*16+l+1)*cout]
			if mask&(1<<l) == 0 {
				clear(dst)
				continue
			}
			src := gout[int(s.oidx[16*b+l])+oy*g.OW+ox:]
			src = src[:(cout-1)*po+1]
			for co := range dst {
				dst[co] = src[co*po]
			}
		}
	}
	sgemmSerial(&j.ctx[w], false, false, pl.xi, 16*cout, 16, j.aa, 16, d, 16*cout, 0, j.dm[16*b*cout:], t*cout)
}

func getWinoWGrad() *winoWGrad { return winoWGradFree.get() }

func putWinoWGrad(j *winoWGrad) {
	j.x, j.gout = nil, nil
	winoWGradFree.put(j)
}
