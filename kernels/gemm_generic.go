//go:build !amd64 || purego

package kernels

// defaultKernel is the micro-kernel Sgemm runs on: without assembly, the
// portable Go one.
var defaultKernel = &goKernel

// asmKernels lists the assembly micro-kernels: none in a pure-Go build.
func asmKernels() []*microKernel { return nil }

func packNFast(dst, src []float32, off, ld, w, kc, width int) bool { return false }
func packTFast(dst, src []float32, off, ld, w, kc, width int) bool { return false }
func transposeFast(dst []float32, ldd int, src []float32, lds, rows, cols int) bool {
	return false
}

// gemmFastPack reports whether assembly packing routines run: never here.
var gemmFastPack = false
