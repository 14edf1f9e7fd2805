//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// elemAVX512 reports whether the element-wise kernels run in AVX-512
// assembly.
var elemAVX512 = cpu.X86.HasAVX512F

// adamAVX512 is AdamUpdate's loop over n elements for one variant
// (adamDefault, adamDecay or adamL2).
//
//go:noescape
func adamAVX512(p, gr, m, v *float32, n int, s *AdamScalars, variant int)

// reluAVX512 is ReLU's loop over n elements.
//
//go:noescape
func reluAVX512(dst, x *float32, n int)

// addAVX512 is Add's loop over n elements.
//
//go:noescape
func addAVX512(dst, a, b *float32, n int)

// add runs Add's loop on slices of equal, non-zero length.
func add(dst, a, b []float32) {
	if !elemAVX512 {
		addGo(dst, a, b)
		return
	}
	n := len(dst)
	_, _ = a[n-1], b[n-1]
	addAVX512(&dst[0], &a[0], &b[0], n)
}

// reluBackwardAVX512 is ReLUBackward's loop over n elements.
//
//go:noescape
func reluBackwardAVX512(gx, gr, y *float32, n int)

// reluBackwardAddAVX512 is ReLUBackwardAdd's loop over n elements.
//
//go:noescape
func reluBackwardAddAVX512(gx, gr, y *float32, n int)

// gatherAVX512 is gather's loop over n elements.
//
//go:noescape
func gatherAVX512(dst, src *float32, idx *int32, n int)

// gather sets dst[i] = src[idx[i]], or 0 where idx[i] < 0, for every i of
// idx (dst as long as idx, not empty; every index below len(src)).
func gather(dst, src []float32, idx []int32) {
	if !elemAVX512 {
		gatherGo(dst, src, idx)
		return
	}
	n := len(idx)
	_ = dst[n-1]
	gatherAVX512(&dst[0], &src[0], &idx[0], n)
}

// allFiniteAVX512 is AllFinite's loop over n elements.
//
//go:noescape
func allFiniteAVX512(x *float32, n int) bool

// allFinite runs AllFinite's scan on a non-empty slice.
func allFinite(x []float32) bool {
	if !elemAVX512 {
		return allFiniteGo(x)
	}
	return allFiniteAVX512(&x[0], len(x))
}

// adamUpdate runs AdamUpdate's loop on slices of equal, non-zero length.
func adamUpdate(p, g, m, v []float32, s *AdamScalars, variant int) {
	if !elemAVX512 {
		adamUpdateGo(p, g, m, v, s, variant)
		return
	}
	n := len(p)
	_, _, _ = g[n-1], m[n-1], v[n-1]
	adamAVX512(&p[0], &g[0], &m[0], &v[0], n, s, variant)
}

// relu runs ReLU's loop on slices of equal, non-zero length.
func relu(dst, x []float32) {
	if !elemAVX512 {
		reluGo(dst, x)
		return
	}
	n := len(x)
	_ = dst[n-1]
	reluAVX512(&dst[0], &x[0], n)
}

// reluBackward runs ReLUBackward's loop on slices of equal, non-zero length.
func reluBackward(gx, g, y []float32) {
	if !elemAVX512 {
		reluBackwardGo(gx, g, y)
		return
	}
	n := len(g)
	_, _ = gx[n-1], y[n-1]
	reluBackwardAVX512(&gx[0], &g[0], &y[0], n)
}

// reluBackwardAdd runs ReLUBackwardAdd's loop on slices of equal, non-zero
// length.
func reluBackwardAdd(gx, g, y []float32) {
	if !elemAVX512 {
		reluBackwardAddGo(gx, g, y)
		return
	}
	n := len(g)
	_, _ = gx[n-1], y[n-1]
	reluBackwardAddAVX512(&gx[0], &g[0], &y[0], n)
}

// col2imRowsAVX512 adds the entries of the rows plan (see windowTable)
// into the h rows of w floats at dst: entry e of row iy adds the
// popcount(mask) floats at src[kk*np+off:] into the lanes of mask.
//
//go:noescape
func col2imRowsAVX512(dst *float32, w, h int, rows *col2imEntry, rowStart *int32, src *float32, np int)

// col2imRows runs col2imRowsAVX512 on one plane dst (h*w floats) from the
// columns src of its channel and image (row kk at src[kk*np:]).
func col2imRows(dst []float32, w int, t *windowTable, src []float32, np int) {
	if len(t.rows) == 0 {
		return
	}
	col2imRowsAVX512(&dst[0], w, len(t.rowStart)-1, &t.rows[0], &t.rowStart[0], &src[0], np)
}
