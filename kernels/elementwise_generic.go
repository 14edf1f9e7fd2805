//go:build !amd64 || purego

package kernels

// elemAVX512 reports whether the element-wise kernels run in AVX-512
// assembly: never in a pure-Go build.
var elemAVX512 = false

// gather sets dst[i] = src[idx[i]], or 0 where idx[i] < 0, for every i of
// idx.
func gather(dst, src []float32, idx []int32) { gatherGo(dst, src, idx) }

// allFinite runs AllFinite's scan on a non-empty slice.
func allFinite(x []float32) bool { return allFiniteGo(x) }

// adamUpdate runs AdamUpdate's loop on slices of equal, non-zero length.
func adamUpdate(p, g, m, v []float32, s *AdamScalars, variant int) {
	adamUpdateGo(p, g, m, v, s, variant)
}

// relu runs ReLU's loop on slices of equal, non-zero length.
func relu(dst, x []float32) { reluGo(dst, x) }

// reluBackward runs ReLUBackward's loop on slices of equal, non-zero length.
func reluBackward(gx, g, y []float32) { reluBackwardGo(gx, g, y) }

// add runs Add's loop on slices of equal, non-zero length.
func add(dst, a, b []float32) { addGo(dst, a, b) }

// reluBackwardAdd runs ReLUBackwardAdd's loop on slices of equal, non-zero
// length.
func reluBackwardAdd(gx, g, y []float32) { reluBackwardAddGo(gx, g, y) }

// col2imRows is never called without AVX-512.
func col2imRows(dst []float32, w int, t *windowTable, src []float32, np int) {
	panic("kernels: col2imRows without AVX-512")
}
