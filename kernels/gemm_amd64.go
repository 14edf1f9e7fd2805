//go:build amd64 && !purego

package kernels

//go:generate go run gemm_gen.go

import "golang.org/x/sys/cpu"

var (
	// avx512Kernel: 14 x 32 tiles, 28 Z accumulators + 2 for B + 2 for the
	// broadcasts of A. 12x32, 6x64 and 8x48 tiles measured the same on Zen 5
	// (about 195-200 GFLOP/s a core in L1, 175-185 in a 1024^3 product);
	// 14 rows keep the most accumulators busy. The blocks were swept over
	// kc 128..1024 and mc 56..448: all within noise but for a small edge of
	// large kc / small mc; kc=512 halves the passes over C compared with 256,
	// and a 112 x 512 block of A (224 KiB) sits in the 1 MiB L2.
	avx512Kernel = microKernel{
		name: "avx512-14x32", mr: 14, nr: 32, mc: 112, kc: 512, nc: 2048,
		fn:  sgemmKernelAVX512x14x32,
		pfb: sgemmKernelPFBAVX512x14x32,
		rowFns: []kernelFunc{nil,
			sgemmKernelAVX512x1x32, sgemmKernelAVX512x2x32, sgemmKernelAVX512x3x32, sgemmKernelAVX512x4x32,
			sgemmKernelAVX512x5x32, sgemmKernelAVX512x6x32, sgemmKernelAVX512x7x32, sgemmKernelAVX512x8x32,
			sgemmKernelAVX512x9x32, sgemmKernelAVX512x10x32, sgemmKernelAVX512x11x32, sgemmKernelAVX512x12x32,
			sgemmKernelAVX512x13x32},
		directFns: []directKernelFunc{nil,
			sgemmKernelDirectAVX512x1x32, sgemmKernelDirectAVX512x2x32, sgemmKernelDirectAVX512x3x32, sgemmKernelDirectAVX512x4x32,
			sgemmKernelDirectAVX512x5x32, sgemmKernelDirectAVX512x6x32, sgemmKernelDirectAVX512x7x32, sgemmKernelDirectAVX512x8x32,
			sgemmKernelDirectAVX512x9x32, sgemmKernelDirectAVX512x10x32, sgemmKernelDirectAVX512x11x32, sgemmKernelDirectAVX512x12x32,
			sgemmKernelDirectAVX512x13x32, sgemmKernelDirectAVX512x14x32},
	}

	// avx2Kernel: 6 x 16 tiles, 12 Y accumulators + 2 for B + 2 for A.
	avx2Kernel = microKernel{
		name: "avx2-6x16", mr: 6, nr: 16, mc: 120, kc: 256, nc: 2048,
		fn: sgemmKernelAVX2x6x16,
		rowFns: []kernelFunc{nil,
			sgemmKernelAVX2x1x16, sgemmKernelAVX2x2x16, sgemmKernelAVX2x3x16, sgemmKernelAVX2x4x16,
			sgemmKernelAVX2x5x16},
	}
)

// defaultKernel is the micro-kernel Sgemm runs on, chosen for the CPU.
var defaultKernel = selectKernel()

func selectKernel() *microKernel {
	if k := asmKernels(); len(k) > 0 {
		return k[0]
	}
	return &goKernel
}

// asmKernels lists the assembly micro-kernels this CPU can run, best first.
func asmKernels() []*microKernel {
	var ks []*microKernel
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, &avx512Kernel)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, &avx2Kernel)
	}
	return ks
}
