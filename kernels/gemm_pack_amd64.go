//go:build amd64 && !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// gemmPackT16AVX512 sets dst[p*stride+i] = rows[i][p] for p < kc, i < lanes.
//
//go:noescape
func gemmPackT16AVX512(dst *float32, rows *[16]*float32, kc, lanes, stride int)

// gemmPackNAVX512 copies kc rows (ld apart) of up to 48 floats under masks.
//
//go:noescape
func gemmPackNAVX512(dst, src *float32, ld, kc int, loadMasks, storeMasks uint64)

// gemmFastPack reports whether the AVX-512 packing routines can run.
var gemmFastPack = cpu.X86.HasAVX512F

// gemmZeros stands in for the rows past the edge of a transposed block.
var gemmZeros [gemmMaxKC + 16]float32

// gemmMasks3 packs three 16-lane masks selecting the first w lanes.
func gemmMasks3(w int) uint64 {
	var m uint64
	for v := 0; v < 3; v++ {
		l := min(max(w-16*v, 0), 16)
		m |= uint64(1<<l-1) << (16 * v)
	}
	return m
}

// packNFast is gemmPackN on AVX-512: see there.
func packNFast(dst, src []float32, off, ld, w, kc, width int) bool {
	if !gemmFastPack || width > 48 || kc > gemmMaxKC {
		return false
	}
	_ = dst[kc*width-1]
	_ = src[off+(kc-1)*ld+w-1]
	gemmPackNAVX512(&dst[0], &src[off], ld, kc, gemmMasks3(w), gemmMasks3(width))
	return true
}

// packTFast is gemmPackT on AVX-512: see there.
func packTFast(dst, src []float32, off, ld, w, kc, width int) bool {
	if !gemmFastPack || kc > gemmMaxKC {
		return false
	}
	_ = dst[kc*width-1]
	_ = src[off+(w-1)*ld+kc-1]
	var rows [16]*float32
	base := unsafe.Pointer(&src[off])
	for g := 0; g < width; g += 16 {
		for i := range rows {
			if r := g + i; r < w {
				rows[i] = (*float32)(unsafe.Add(base, 4*r*ld))
			} else {
				rows[i] = &gemmZeros[0]
			}
		}
		gemmPackT16AVX512(&dst[g], &rows, kc, min(16, width-g), width)
	}
	return true
}

// transposeFast is gemmTranspose on AVX-512: each 16 columns of dst (16 rows
// of src) go through gemmPackT16AVX512 with dst's row stride, in pieces of at
// most gemmMaxKC rows (the length of gemmZeros, which stands in for the
// rows of src past cols).
func transposeFast(dst []float32, ldd int, src []float32, lds, rows, cols int) bool {
	if !gemmFastPack || rows == 0 || cols == 0 {
		return false
	}
	_ = dst[(rows-1)*ldd+cols-1]
	_ = src[(cols-1)*lds+rows-1]
	var rp [16]*float32
	for j0 := 0; j0 < cols; j0 += 16 {
		lanes := min(16, cols-j0)
		for r0 := 0; r0 < rows; r0 += gemmMaxKC {
			kc := min(gemmMaxKC, rows-r0)
			for i := range rp {
				if i < lanes {
					rp[i] = &src[(j0+i)*lds+r0]
				} else {
					rp[i] = &gemmZeros[0]
				}
			}
			gemmPackT16AVX512(&dst[r0*ldd+j0], &rp, kc, lanes, ldd)
		}
	}
	return true
}
