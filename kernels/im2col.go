package kernels

import (
	"fmt"
	"sync"
)

// ConvGeom is the geometry of a sliding-window operation over a batch of
// images in NCHW layout (a convolution or a pooling): N images of C
// channels, each H x W, read through a KH x KW window moved by Stride with
// Pad implicit zeros on every side, giving OH x OW output positions.
type ConvGeom struct {
	N, C, H, W  int // input batch, channels, height, width
	KH, KW      int // window height and width
	Stride, Pad int // window step and implicit padding on each side
	OH, OW      int // output height and width
}

// OutSize returns the number of positions of a window of size k moved by
// stride over in values padded by pad on both sides: (in+2*pad-k)/stride+1.
// It returns 0 or less when the window does not fit.
func OutSize(in, k, stride, pad int) int {
	if in+2*pad < k {
		return 0
	}
	return (in+2*pad-k)/stride + 1
}

// NewConvGeom returns the geometry with the output size computed by OutSize.
func NewConvGeom(n, c, h, w, kh, kw, stride, pad int) ConvGeom {
	return ConvGeom{N: n, C: c, H: h, W: w, KH: kh, KW: kw, Stride: stride, Pad: pad,
		OH: OutSize(h, kh, stride, pad), OW: OutSize(w, kw, stride, pad)}
}

// ColRows returns the number of rows of the column matrix, C*KH*KW.
func (g ConvGeom) ColRows() int { return g.C * g.KH * g.KW }

// ColCols returns the number of columns of the column matrix, N*OH*OW.
func (g ConvGeom) ColCols() int { return g.N * g.OH * g.OW }

// Im2col unfolds the batch x ([N,C,H,W]) into the column matrix cols of
// shape [C*KH*KW, N*OH*OW]: row (c*KH+i)*KW+j, column (n*OH+oy)*OW+ox holds
// x[n, c, oy*Stride-Pad+i, ox*Stride-Pad+j], or 0 where that falls in the
// padding. With it a convolution of the whole batch is one matrix product
// W[Cout, C*KH*KW] x cols. A 1x1 window with stride 1 and no padding is a
// plain copy of each channel plane.
func Im2col(g ConvGeom, x, cols []float32) {
	g.check("Im2col", x, cols)
	runWindow(opIm2col, g, x, cols, nil, false)
}

// Col2im is the adjoint of Im2col: it adds every entry of the column matrix
// cols ([C*KH*KW, N*OH*OW]) into the element of x ([N,C,H,W]) it was read
// from, dropping those that fall in the padding. x is accumulated into, not
// overwritten.
func Col2im(g ConvGeom, cols, x []float32) {
	g.check("Col2im", x, cols)
	runWindow(opCol2im, g, cols, x, nil, false)
}

// NCHWToCNHW copies src, n blocks of c planes of p values ([N,C,P]), into dst
// in channel-major order ([C,N,P]): dst[(ci*n+ni)*p+i] = src[(ni*c+ci)*p+i].
func NCHWToCNHW(dst, src []float32, n, c, p int) {
	if len(src) < n*c*p || len(dst) < n*c*p {
		panic(fmt.Sprintf("kernels: NCHWToCNHW: %d and %d values for %dx%dx%d", len(dst), len(src), n, c, p))
	}
	runWindow(opToCN, ConvGeom{N: n, C: c, H: p}, src, dst, nil, false)
}

// CNHWToNCHW is the inverse of NCHWToCNHW: it moves src ([C,N,P]) to dst
// ([N,C,P]), adding bias[ci] to every value of channel ci when bias is not
// nil. With accumulate it adds into dst instead of overwriting it.
func CNHWToNCHW(dst, src []float32, n, c, p int, bias []float32, accumulate bool) {
	if len(src) < n*c*p || len(dst) < n*c*p || bias != nil && len(bias) < c {
		panic(fmt.Sprintf("kernels: CNHWToNCHW: %d and %d values for %dx%dx%d", len(dst), len(src), n, c, p))
	}
	runWindow(opToNC, ConvGeom{N: n, C: c, H: p}, src, dst, bias, accumulate)
}

func (g ConvGeom) check(op string, x, cols []float32) {
	if g.N < 0 || g.C < 0 || g.H < 0 || g.W < 0 || g.KH < 1 || g.KW < 1 || g.Stride < 1 || g.Pad < 0 ||
		g.OH != OutSize(g.H, g.KH, g.Stride, g.Pad) || g.OW != OutSize(g.W, g.KW, g.Stride, g.Pad) {
		panic(fmt.Sprintf("kernels: %s: invalid geometry %+v", op, g))
	}
	if len(x) < g.N*g.C*g.H*g.W || cols != nil && len(cols) < g.ColRows()*g.ColCols() {
		panic(fmt.Sprintf("kernels: %s: %d image and %d column values for geometry %+v", op, len(x), len(cols), g))
	}
}

// The window kernels run over units of independent work, split across the
// worker pool: (image, channel) planes for pooling and layout changes, and
// (channel, block of images) for Im2col and Col2im, which then stream each
// row of the column matrix in order. A windowJob carries one call's
// operands; jobs are recycled so that a call allocates nothing.

const (
	opIm2col = iota
	opCol2im
	opToCN
	opToNC
	opMaxPool
	opMaxPoolBack
	opAvgPool
	opAvgPoolBack
)

// parallelMinWork is the number of values below which a window kernel runs
// on the calling goroutine alone.
const parallelMinWork = 1 << 15

type windowJob struct {
	op     int
	g      ConvGeom
	a, b   []float32 // source and destination
	c      []float32 // bias (layout ops) or argmax indices (max pooling)
	acc    bool
	units  int // units of work: planes, or channels x image blocks
	blocks int // image blocks per channel (Im2col, Col2im)
	chunks int // contiguous runs of units handed to the participants
}

var windowFree freeList[windowJob]

// runWindow runs op over g, in parallel when the work is large enough.
func runWindow(op int, g ConvGeom, a, b, c []float32, acc bool) {
	planes := g.N * g.C
	if planes <= 0 {
		return
	}
	j := windowFree.get()
	j.op, j.g, j.a, j.b, j.c, j.acc = op, g, a, b, c, acc

	work := planes * g.H * g.W
	if op == opIm2col || op == opCol2im {
		work = planes * g.KH * g.KW * g.OH * g.OW
	}
	p := 1
	if work >= parallelMinWork {
		p = Workers()
	}
	j.units, j.blocks = planes, 1
	if op == opIm2col || op == opCol2im {
		// Whole channels keep the rows of the column matrix in one piece;
		// split the batch too when there are too few channels to share.
		if g.C < 4*p {
			j.blocks = min(g.N, (4*p+g.C-1)/g.C)
		}
		j.units = g.C * j.blocks
	}
	if p <= 1 {
		j.chunks = 1
		j.runChunk(0, 0)
	} else {
		j.chunks = min(j.units, 4*p)
		parallelRun(j, j.chunks, p)
	}

	j.a, j.b, j.c = nil, nil, nil
	windowFree.put(j)
}

// runChunk processes the units of chunk number chunk.
func (j *windowJob) runChunk(_, chunk int) {
	lo, hi := chunk*j.units/j.chunks, (chunk+1)*j.units/j.chunks
	g := &j.g
	for u := lo; u < hi; u++ {
		switch j.op {
		case opIm2col, opCol2im:
			c, b := u/j.blocks, u%j.blocks
			n0, n1 := b*g.N/j.blocks, (b+1)*g.N/j.blocks
			if j.op == opIm2col {
				im2colChannel(g, c, n0, n1, j.a, j.b)
			} else {
				col2imChannel(g, c, n0, n1, j.a, j.b)
			}
		case opToCN:
			// Unit u is channel-major here: channel u/N, image u%N.
			n, c, p := g.N, g.C, g.H
			ci, ni := u/n, u%n
			copy(j.b[u*p:(u+1)*p], j.a[(ni*c+ci)*p:(ni*c+ci+1)*p])
		case opToNC:
			toNCPlane(g, u, j.a, j.b, j.c, j.acc)
		case opMaxPool:
			maxPoolPlane(g, u, j.a, j.b, j.c)
		case opMaxPoolBack:
			maxPoolBackPlane(g, u, j.a, j.b, j.c)
		case opAvgPool:
			avgPoolPlane(g, u, j.a, j.b)
		case opAvgPoolBack:
			avgPoolBackPlane(g, u, j.a, j.b)
		}
	}
}

// toNCPlane writes plane pl = (image, channel) of dst from src.
func toNCPlane(g *ConvGeom, pl int, src, dst, bias []float32, acc bool) {
	n, c, p := g.N, g.C, g.H
	ni, ci := pl/c, pl%c
	s := src[(ci*n+ni)*p : (ci*n+ni+1)*p]
	d := dst[pl*p : (pl+1)*p]
	var bv float32
	if bias != nil {
		bv = bias[ci]
	}
	switch {
	case acc:
		for i, v := range s {
			d[i] += v + bv
		}
	case bias != nil:
		for i, v := range s {
			d[i] = v + bv
		}
	default:
		copy(d, s)
	}
}

// validRange returns the output positions [lo, hi) of one axis whose input
// coordinate o*stride-pad+k lies inside [0, in).
func validRange(in, out, k, stride, pad int) (lo, hi int) {
	// o*stride >= pad-k  and  o*stride <= in-1+pad-k.
	if a := pad - k; a > 0 {
		lo = (a + stride - 1) / stride
	}
	if b := in - 1 + pad - k; b >= 0 {
		hi = b/stride + 1
	}
	hi = min(hi, out)
	lo = min(lo, hi)
	return lo, hi
}

// isCopy reports whether the window is 1x1 with stride 1 and no padding,
// where the column matrix is the batch with N and C swapped.
func (g *ConvGeom) isCopy() bool { return g.KH == 1 && g.KW == 1 && g.Stride == 1 && g.Pad == 0 }

// im2colChannel fills the rows of channel c of the column matrix, for the
// images n0..n1-1: each row is written in order.
func im2colChannel(g *ConvGeom, c, n0, n1 int, x, cols []float32) {
	hw, ohw := g.H*g.W, g.OH*g.OW
	np := g.N * ohw
	if g.isCopy() {
		for n := n0; n < n1; n++ {
			copy(cols[c*np+n*ohw:c*np+(n+1)*ohw], x[(n*g.C+c)*hw:(n*g.C+c+1)*hw])
		}
		return
	}
	s, ow, pad := g.Stride, g.OW, g.Pad
	if s > 1 {
		// Strided windows read one value in s: a table of the valid
		// (output, input) positions of each window offset replaces the
		// per-row slicing, which dominated on small planes.
		// With AVX-512 each row is VGATHERDPS loads of that table
		// (BenchmarkIm2colDIM: 5.0 -> 1.9 ms on the Xeon).
		t := windowTableFor(g)
		for kk := range g.KH * g.KW {
			row := cols[(c*g.KH*g.KW+kk)*np:]
			if elemAVX512 {
				idx := t.idx[kk]
				for n := n0; n < n1; n++ {
					gather(row[n*ohw:(n+1)*ohw], x[(n*g.C+c)*hw:(n*g.C+c+1)*hw], idx)
				}
				continue
			}
			dsts, srcs, pads := t.dst[kk], t.src[kk], t.pad[kk]
			srcs = srcs[:len(dsts)]
			for n := n0; n < n1; n++ {
				src := x[(n*g.C+c)*hw : (n*g.C+c+1)*hw]
				dst := row[n*ohw : (n+1)*ohw]
				for i, d := range dsts {
					dst[d] = src[srcs[i]]
				}
				for _, d := range pads {
					dst[d] = 0
				}
			}
		}
		return
	}
	for ki := 0; ki < g.KH; ki++ {
		oy0, oy1 := validRange(g.H, g.OH, ki, s, pad)
		for kj := 0; kj < g.KW; kj++ {
			ox0, ox1 := validRange(g.W, ow, kj, s, pad)
			row := cols[((c*g.KH+ki)*g.KW+kj)*np:]
			for n := n0; n < n1; n++ {
				src := x[(n*g.C+c)*hw : (n*g.C+c+1)*hw]
				dst := row[n*ohw : (n+1)*ohw]
				clear(dst[:oy0*ow])
				clear(dst[oy1*ow:])
				for oy := oy0; oy < oy1; oy++ {
					d := dst[oy*ow : (oy+1)*ow]
					clear(d[:ox0])
					clear(d[ox1:])
					iy := oy*s - pad + ki
					ix := ox0*s - pad + kj
					if s == 1 {
						copy(d[ox0:ox1], src[iy*g.W+ix:])
						continue
					}
					r := src[iy*g.W : (iy+1)*g.W]
					for ox := ox0; ox < ox1; ox++ {
						d[ox] = r[ix]
						ix += s
					}
				}
			}
		}
	}
}

// col2imChannel adds the rows of channel c of the column matrix into the
// images n0..n1-1: each row is read in order.
func col2imChannel(g *ConvGeom, c, n0, n1 int, cols, x []float32) {
	hw, ohw := g.H*g.W, g.OH*g.OW
	np := g.N * ohw
	if g.isCopy() {
		for n := n0; n < n1; n++ {
			d := x[(n*g.C+c)*hw : (n*g.C+c+1)*hw]
			for i, v := range cols[c*np+n*ohw : c*np+(n+1)*ohw] {
				d[i] += v
			}
		}
		return
	}
	s, ow, pad := g.Stride, g.OW, g.Pad
	if elemAVX512 && g.W <= 16 {
		// Each input row is summed in a register: for every window offset
		// in order, its outputs expanded into their lanes and added
		// (col2imRowsAVX512), the same additions in the same order as the
		// loops below.
		t := windowTableFor(g)
		for n := n0; n < n1; n++ {
			col2imRows(x[(n*g.C+c)*hw:(n*g.C+c+1)*hw], g.W, t, cols[c*g.KH*g.KW*np+n*ohw:], np)
		}
		return
	}
	if s > 1 && ow <= 4 {
		// As in im2colChannel; for wider rows the row loops below are as
		// fast or faster (BenchmarkIm2col: 4 wide 32 -> 23 ms, 7 wide
		// level, 8 wide 37 -> 41 ms).
		t := windowTableFor(g)
		for kk := range g.KH * g.KW {
			row := cols[(c*g.KH*g.KW+kk)*np:]
			dsts, srcs := t.dst[kk], t.src[kk]
			srcs = srcs[:len(dsts)]
			for n := n0; n < n1; n++ {
				src := row[n*ohw : (n+1)*ohw]
				dst := x[(n*g.C+c)*hw : (n*g.C+c+1)*hw]
				for i, d := range dsts {
					dst[srcs[i]] += src[d]
				}
			}
		}
		return
	}
	for ki := 0; ki < g.KH; ki++ {
		oy0, oy1 := validRange(g.H, g.OH, ki, s, pad)
		for kj := 0; kj < g.KW; kj++ {
			ox0, ox1 := validRange(g.W, ow, kj, s, pad)
			if ox0 >= ox1 {
				continue
			}
			row := cols[((c*g.KH+ki)*g.KW+kj)*np:]
			for n := n0; n < n1; n++ {
				src := row[n*ohw : (n+1)*ohw]
				dst := x[(n*g.C+c)*hw : (n*g.C+c+1)*hw]
				for oy := oy0; oy < oy1; oy++ {
					iy := oy*s - pad + ki
					ix := ox0*s - pad + kj
					sr := src[oy*ow+ox0 : oy*ow+ox1]
					r := dst[iy*g.W : (iy+1)*g.W]
					if s == 1 {
						d := r[ix : ix+len(sr)]
						for i, v := range sr {
							d[i] += v
						}
						continue
					}
					for _, v := range sr {
						r[ix] += v
						ix += s
					}
				}
			}
		}
	}
}

// windowTable lists, for each window offset kk = ki*KW+kj of a geometry,
// the output positions oy*OW+ox whose input lies inside the plane (dst),
// the input positions iy*W+ix they read (src), and the output positions
// that fall in the padding (pad); and, for gather, the input position of
// every output position in order, -1 in the padding (idx). It depends on
// the plane and window only, not on N or C.
type windowTable struct {
	dst, src, pad, idx [][]int32
	// rows is col2im's plan for planes at most 16 wide: input row iy
	// receives the entries rows[rowStart[iy]:rowStart[iy+1]], window
	// offsets in order (kk ascending), each a col2imEntry.
	rows     []col2imEntry
	rowStart []int32
}

// col2imEntry is one window offset's part of an input row in col2im: the
// row kk of the columns, from output position off on, adds into the lanes
// of mask (the row's ix = ox*Stride-Pad+kj for consecutive ox).
type col2imEntry struct {
	kk, off, mask int32
}

type windowKey struct{ h, w, kh, kw, stride, pad int }

var (
	windowTablesMu sync.Mutex
	windowTables   = map[windowKey]*windowTable{}
)

// windowTableFor returns the (cached) table of g's plane and window.
func windowTableFor(g *ConvGeom) *windowTable {
	k := windowKey{g.H, g.W, g.KH, g.KW, g.Stride, g.Pad}
	windowTablesMu.Lock()
	defer windowTablesMu.Unlock()
	if t, ok := windowTables[k]; ok {
		return t
	}
	kk := g.KH * g.KW
	t := &windowTable{dst: make([][]int32, kk), src: make([][]int32, kk), pad: make([][]int32, kk), idx: make([][]int32, kk)}
	for ki := range g.KH {
		for kj := range g.KW {
			o := ki*g.KW + kj
			for oy := range g.OH {
				for ox := range g.OW {
					iy, ix := oy*g.Stride-g.Pad+ki, ox*g.Stride-g.Pad+kj
					p := int32(oy*g.OW + ox)
					if iy < 0 || iy >= g.H || ix < 0 || ix >= g.W {
						t.pad[o] = append(t.pad[o], p)
						t.idx[o] = append(t.idx[o], -1)
						continue
					}
					t.idx[o] = append(t.idx[o], int32(iy*g.W+ix))
					t.dst[o] = append(t.dst[o], p)
					t.src[o] = append(t.src[o], int32(iy*g.W+ix))
				}
			}
		}
	}
	if g.W <= 16 {
		t.rowStart = make([]int32, g.H+1)
		for iy := range g.H {
			for ki := range g.KH {
				oy := iy + g.Pad - ki
				if oy < 0 || oy%g.Stride != 0 || oy/g.Stride >= g.OH {
					continue
				}
				oy /= g.Stride
				for kj := range g.KW {
					e := col2imEntry{kk: int32(ki*g.KW + kj), off: -1}
					for ox := range g.OW {
						if ix := ox*g.Stride - g.Pad + kj; ix >= 0 && ix < g.W {
							if e.off < 0 {
								e.off = int32(oy*g.OW + ox)
							}
							e.mask |= 1 << ix
						}
					}
					if e.off >= 0 {
						t.rows = append(t.rows, e)
					}
				}
			}
			t.rowStart[iy+1] = int32(len(t.rows))
		}
	}
	windowTables[k] = t
	return t
}
