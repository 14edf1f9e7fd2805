//go:build !amd64 || purego

package kernels

// winoIn writes B^T d B for the 16 columns whose patches d start at
// x[base+off+idx[l]] to dst[xi*dstStride + l] (see the amd64 version).
func winoIn(dst []float32, dstStride int, x []float32, base, off, rowStep, tapStep int, idx []int32, rowMask, colMask []uint16, mat *winoMat, tmp *[36 * 16]float32) {
	winoInGo(dst, dstStride, x, base, off, rowStep, tapStep, idx, rowMask, colMask, mat, tmp)
}

// winoOut writes the 4 x 4 outputs of the 16 columns of src to dst (see
// the amd64 version).
func winoOut(dst []float32, idx []int32, masks []uint16, src []float32, srcStride int, mat *winoMat, ow int, ep *[4]float32, relu bool, tmp *[36 * 16]float32) {
	winoOutGo(dst, idx, masks, src, srcStride, mat, ow, ep, relu, tmp)
}
