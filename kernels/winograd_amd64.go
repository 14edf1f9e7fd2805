//go:build amd64 && !purego

package kernels

// winoIn5AVX512 is winoIn's transform of 16 columns in AVX-512 for alpha
// = 5 (F(4, 2)): 5 gathers a row of the patches, B^T (bt, rows of 6)
// applied to the rows into tmp, then to the columns into dst.
//
//go:noescape
func winoIn5AVX512(dst *float32, dstStride int, src *float32, off, rowStep, tapStep int, idx *int32, masks *uint16, bt *float32, tmp *float32)

// winoIn6AVX512 is winoIn5AVX512 for alpha = 6 (F(4, 3)), its transform
// written out.
//
//go:noescape
func winoIn6AVX512(dst *float32, dstStride int, src *float32, off, rowStep, tapStep int, idx *int32, masks *uint16, tmp *float32)

// winoOut6AVX512 is winoOut5AVX512 for alpha = 6 (F(4, 3)), its transform
// written out.
//
//go:noescape
func winoOut6AVX512(dst *float32, idx *int32, masks *uint16, src *float32, srcStride int, ow int, ep *float32, relu int, tmp *float32)

// winoOut5AVX512 is winoOut's transform of 16 columns in AVX-512 for
// alpha = 5 (F(4, 2)): A^T (at, rows of 6) applied to the rows of the
// transformed tiles into tmp, then to the columns, the epilogue, and a
// masked scatter of each output.
//
//go:noescape
func winoOut5AVX512(dst *float32, idx *int32, masks *uint16, src *float32, srcStride int, at *float32, ow int, ep *float32, relu int, tmp *float32)

// winoIn writes B^T d B for the 16 columns whose patches d start at
// x[base+off+idx[l]] (base an index of x; rows rowStep apart, taps tapStep apart: one phase of
// an input read with that stride) to dst[xi*dstStride + l], xi = i*alpha + j over the
// transformed tile. Tap (a, b) of column l is read when bit l of
// rowMask[a] & colMask[b] is set, and is zero otherwise: every tap read
// must lie in x. colMask must follow rowMask[:6] in memory.
func winoIn(dst []float32, dstStride int, x []float32, base, off, rowStep, tapStep int, idx []int32, rowMask, colMask []uint16, mat *winoMat, tmp *[36 * 16]float32) {
	if !elemAVX512 {
		winoInGo(dst, dstStride, x, base, off, rowStep, tapStep, idx, rowMask, colMask, mat, tmp)
		return
	}
	_ = dst[(mat.alpha*mat.alpha-1)*dstStride+15]
	_, _, _ = idx[15], rowMask[5], colMask[5]
	if &colMask[0] != &rowMask[:7][6] {
		panic("kernels: winoIn: colMask must follow rowMask[:6]")
	}
	if mat.alpha == 6 {
		winoIn6AVX512(&dst[0], dstStride, &x[base], off, rowStep, tapStep, &idx[0], &rowMask[0], &tmp[0])
		return
	}
	winoIn5AVX512(&dst[0], dstStride, &x[base], off, rowStep, tapStep, &idx[0], &rowMask[0], &mat.bt[0], &tmp[0])
}

// winoOut writes the 4 x 4 outputs A^T m A of the 16 columns whose
// transformed tiles are src[xi*srcStride + l], with bias ep[0] and the
// epilogue ((v+ep[0])-ep[1])*ep[2]+ep[3] (then max(v, 0) when relu), to
// dst[idx[l] + i*ow + j] for the outputs whose bit l is set in masks[i*4+j].
func winoOut(dst []float32, idx []int32, masks []uint16, src []float32, srcStride int, mat *winoMat, ow int, ep *[4]float32, relu bool, tmp *[36 * 16]float32) {
	if !elemAVX512 {
		winoOutGo(dst, idx, masks, src, srcStride, mat, ow, ep, relu, tmp)
		return
	}
	_ = src[(mat.alpha*mat.alpha-1)*srcStride+15]
	_, _ = idx[15], masks[15]
	r := 0
	if relu {
		r = 1
	}
	if mat.alpha == 6 {
		winoOut6AVX512(&dst[0], &idx[0], &masks[0], &src[0], srcStride, ow, &ep[0], r, &tmp[0])
		return
	}
	winoOut5AVX512(&dst[0], &idx[0], &masks[0], &src[0], srcStride, &mat.at[0], ow, &ep[0], r, &tmp[0])
}
