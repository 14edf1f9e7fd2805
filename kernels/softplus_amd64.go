//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// softplusAVX512 reports whether SoftplusNeg runs in AVX-512 assembly (with
// a few AVX2 integer instructions). It also needs FMA: math.Exp takes its
// fused multiply-add path where the CPU has AVX and FMA, and the assembly
// follows that path.
var softplusAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX2 && cpu.X86.HasAVX && cpu.X86.HasFMA

// softplusNegAVX512 is SoftplusNeg's loop over n elements, a multiple of 8.
//
//go:noescape
func softplusNegAVX512(sp, sig, u *float32, n int)

// softplusNegVector evaluates the elements of u in whole blocks of 8 with
// AVX-512 and returns how many it did (0 without AVX-512).
func softplusNegVector(sp, sig, u []float32) int {
	n := len(u) &^ 7
	if !softplusAVX512 || n == 0 {
		return 0
	}
	softplusNegAVX512(&sp[0], &sig[0], &u[0], n)
	return n
}
