package kernels

import (
	"fmt"
	"math"
)

// MaxPool2d takes the maximum of x ([N,C,H,W]) over each KH x KW window of
// g, ignoring the padding (as if padded with -Inf), into out ([N,C,OH,OW]).
// A NaN in a window is its maximum. When idx is not nil it receives, for
// each output, the position within its input plane (iy*W+ix, stored as a
// float32, exact below 2^24) of the first maximal element. Every window must
// hold at least one input element (Pad < KH and Pad < KW).
func MaxPool2d(g ConvGeom, x, out, idx []float32) {
	g.checkPool("MaxPool2d", x, out)
	if idx != nil && len(idx) < len(out) {
		panic(fmt.Sprintf("kernels: MaxPool2d: %d indices for %d outputs", len(idx), len(out)))
	}
	runWindow(opMaxPool, g, x, out, idx, false)
}

// MaxPool2dBackward adds each gradient of gout ([N,C,OH,OW]) into gx
// ([N,C,H,W]) at the element MaxPool2d chose, as recorded in idx.
func MaxPool2dBackward(g ConvGeom, gout, idx, gx []float32) {
	g.checkPool("MaxPool2dBackward", gx, gout)
	if len(idx) < len(gout) {
		panic(fmt.Sprintf("kernels: MaxPool2dBackward: %d indices for %d outputs", len(idx), len(gout)))
	}
	runWindow(opMaxPoolBack, g, gout, gx, idx, false)
}

// AvgPool2d averages x ([N,C,H,W]) over each KH x KW window of g into out
// ([N,C,OH,OW]). Padded positions count as zeros: the divisor is always
// KH*KW (PyTorch's count_include_pad=True).
func AvgPool2d(g ConvGeom, x, out []float32) {
	g.checkPool("AvgPool2d", x, out)
	runWindow(opAvgPool, g, x, out, nil, false)
}

// AvgPool2dBackward adds gout ([N,C,OH,OW]) / (KH*KW) into gx ([N,C,H,W])
// over each window.
func AvgPool2dBackward(g ConvGeom, gout, gx []float32) {
	g.checkPool("AvgPool2dBackward", gx, gout)
	runWindow(opAvgPoolBack, g, gout, gx, nil, false)
}

func (g ConvGeom) checkPool(op string, x, out []float32) {
	g.check(op, x, nil)
	if g.Pad >= g.KH || g.Pad >= g.KW {
		panic(fmt.Sprintf("kernels: %s: padding %d not below the window %dx%d", op, g.Pad, g.KH, g.KW))
	}
	if len(out) < g.N*g.C*g.OH*g.OW {
		panic(fmt.Sprintf("kernels: %s: %d output values for geometry %+v", op, len(out), g))
	}
}

// windowBounds returns the clipped input range [lo, hi) of the window at
// output position o along an axis of size in.
func windowBounds(o, in, k, stride, pad int) (lo, hi int) {
	lo = o*stride - pad
	hi = min(lo+k, in)
	return max(lo, 0), hi
}

func maxPoolPlane(g *ConvGeom, pl int, x, out, idx []float32) {
	hw, ohw := g.H*g.W, g.OH*g.OW
	src := x[pl*hw : (pl+1)*hw]
	dst := out[pl*ohw : (pl+1)*ohw]
	var ind []float32
	if idx != nil {
		ind = idx[pl*ohw : (pl+1)*ohw]
	}
	negInf := float32(math.Inf(-1))
	for oy := 0; oy < g.OH; oy++ {
		y0, y1 := windowBounds(oy, g.H, g.KH, g.Stride, g.Pad)
		for ox := 0; ox < g.OW; ox++ {
			x0, x1 := windowBounds(ox, g.W, g.KW, g.Stride, g.Pad)
			best, bi := negInf, y0*g.W+x0
		scan:
			for iy := y0; iy < y1; iy++ {
				row := src[iy*g.W : (iy+1)*g.W]
				for ix := x0; ix < x1; ix++ {
					v := row[ix]
					if v > best {
						best, bi = v, iy*g.W+ix
					} else if v != v {
						best, bi = v, iy*g.W+ix
						break scan
					}
				}
			}
			o := oy*g.OW + ox
			dst[o] = best
			if ind != nil {
				ind[o] = float32(bi)
			}
		}
	}
}

func maxPoolBackPlane(g *ConvGeom, pl int, gout, gx, idx []float32) {
	hw, ohw := g.H*g.W, g.OH*g.OW
	d := gx[pl*hw : (pl+1)*hw]
	ind := idx[pl*ohw : (pl+1)*ohw]
	for o, v := range gout[pl*ohw : (pl+1)*ohw] {
		d[int(ind[o])] += v
	}
}

func avgPoolPlane(g *ConvGeom, pl int, x, out []float32) {
	hw, ohw := g.H*g.W, g.OH*g.OW
	src := x[pl*hw : (pl+1)*hw]
	dst := out[pl*ohw : (pl+1)*ohw]
	inv := 1 / float32(g.KH*g.KW)
	for oy := 0; oy < g.OH; oy++ {
		y0, y1 := windowBounds(oy, g.H, g.KH, g.Stride, g.Pad)
		for ox := 0; ox < g.OW; ox++ {
			x0, x1 := windowBounds(ox, g.W, g.KW, g.Stride, g.Pad)
			var s float32
			for iy := y0; iy < y1; iy++ {
				for _, v := range src[iy*g.W+x0 : iy*g.W+x1] {
					s += v
				}
			}
			dst[oy*g.OW+ox] = s * inv
		}
	}
}

func avgPoolBackPlane(g *ConvGeom, pl int, gout, gx []float32) {
	hw, ohw := g.H*g.W, g.OH*g.OW
	src := gout[pl*ohw : (pl+1)*ohw]
	dst := gx[pl*hw : (pl+1)*hw]
	inv := 1 / float32(g.KH*g.KW)
	for oy := 0; oy < g.OH; oy++ {
		y0, y1 := windowBounds(oy, g.H, g.KH, g.Stride, g.Pad)
		for ox := 0; ox < g.OW; ox++ {
			x0, x1 := windowBounds(ox, g.W, g.KW, g.Stride, g.Pad)
			v := src[oy*g.OW+ox] * inv
			for iy := y0; iy < y1; iy++ {
				r := dst[iy*g.W+x0 : iy*g.W+x1]
				for i := range r {
					r[i] += v
				}
			}
		}
	}
}
