//go:build amd64 && !purego

#include "textflag.h"

// SoftplusNeg with AVX-512F: 8 float64 lanes a block. Each lane does the
// operations of Go's math.Exp (exp_amd64.s, its FMA path) and math.Log1p
// (log1p.go) in their order and rounding, so its results are bit-identical
// to the scalar loop; log1p's branches become masks, each lane taking the
// result of its case.

// Constants of math.Exp (exp_amd64.s).
DATA spconst<>+0(SB)/8, $0x8000000000000000   // sign bit
DATA spconst<>+8(SB)/8, $1.0
DATA spconst<>+16(SB)/8, $2.0
DATA spconst<>+24(SB)/8, $0.5
DATA spconst<>+32(SB)/8, $1.4426950408889634073599246810018920 // LOG2E
DATA spconst<>+40(SB)/8, $0.69314718055966295651160180568695068359375 // LN2U
DATA spconst<>+48(SB)/8, $0.28235290563031577122588448175013436025525412068e-12 // LN2L
DATA spconst<>+56(SB)/8, $0.0625
DATA spconst<>+64(SB)/8, $1.6666666666666666667e-1
DATA spconst<>+72(SB)/8, $4.1666666666666666667e-2
DATA spconst<>+80(SB)/8, $8.3333333333333333333e-3
DATA spconst<>+88(SB)/8, $1.3888888888888888889e-3
DATA spconst<>+96(SB)/8, $1.9841269841269841270e-4
DATA spconst<>+104(SB)/8, $2.4801587301587301587e-5
// Constants of math.Log1p (log1p.go).
DATA spconst<>+112(SB)/8, $0x3c90000000000000 // Tiny = 2**-54
DATA spconst<>+120(SB)/8, $0x3e20000000000000 // Small = 2**-29
DATA spconst<>+128(SB)/8, $4.142135623730950488017e-01 // Sqrt2M1
DATA spconst<>+136(SB)/8, $6.93147180369123816490e-01 // Ln2Hi
DATA spconst<>+144(SB)/8, $1.90821492927058770002e-10 // Ln2Lo
DATA spconst<>+152(SB)/8, $6.666666666666735130e-01 // Lp1
DATA spconst<>+160(SB)/8, $3.999999999940941908e-01 // Lp2
DATA spconst<>+168(SB)/8, $2.857142874366239149e-01 // Lp3
DATA spconst<>+176(SB)/8, $2.222219843214978396e-01 // Lp4
DATA spconst<>+184(SB)/8, $1.818357216161805012e-01 // Lp5
DATA spconst<>+192(SB)/8, $1.531383769920937332e-01 // Lp6
DATA spconst<>+200(SB)/8, $1.479819860511658591e-01 // Lp7
DATA spconst<>+208(SB)/8, $0.66666666666666666
DATA spconst<>+216(SB)/8, $0x000fffffffffffff // mantissa bits
DATA spconst<>+224(SB)/8, $0x0006a09e667f3bcd // mantissa of Sqrt(2)
DATA spconst<>+232(SB)/8, $0x0010000000000000 // 2**52
DATA spconst<>+240(SB)/8, $1023
DATA spconst<>+248(SB)/8, $1
DATA spconst<>+256(SB)/4, $0x3ff // exponent bias (int32)
GLOBL spconst<>(SB), RODATA, $260

#define C(off, reg) VBROADCASTSD spconst<>+off(SB), reg
#define CQ(off, reg) VPBROADCASTQ spconst<>+off(SB), reg

// func softplusNegAVX512(sp, sig, u *float32, n int)
//
// Registers: Z31 sign bit, Z30 1.0, Z29 2.0, Z28 0.5, Z27 LOG2E, Z26 zero,
// Z25 Tiny, Z24 Small, Z23 Sqrt2M1, Z22 the mantissa mask, Z21 Ln2Hi,
// Z20 Ln2Lo; Z0 u, Z1 x = -u, Z2 e = exp(-|x|), Z10 log1p(e).
TEXT ·softplusNegAVX512(SB), NOSPLIT, $0-32
	MOVQ sp+0(FP), DI
	MOVQ sig+8(FP), DX
	MOVQ u+16(FP), SI
	MOVQ n+24(FP), CX
	CQ(0, Z31)
	C(8, Z30)
	C(16, Z29)
	C(24, Z28)
	C(32, Z27)
	VPXORQ Z26, Z26, Z26
	C(112, Z25)
	C(120, Z24)
	C(128, Z23)
	CQ(216, Z22)
	C(136, Z21)
	C(144, Z20)
	XORQ AX, AX

loop:
	CMPQ AX, CX
	JGE done
	VCVTPS2PD (SI)(AX*4), Z0
	VPXORQ Z31, Z0, Z1 // x = -u
	VPORQ Z31, Z0, Z2  // -|x|

	// e = math.Exp(-|x|), exp_amd64.s's FMA path.
	VMULPD Z27, Z2, Z3 // x * LOG2E
	VCVTPD2DQ Z3, Y4   // exponent, rounded to nearest
	VCVTDQ2PD Y4, Z5
	C(40, Z6)
	VFNMADD231PD Z6, Z5, Z2 // x -= exponent * LN2U
	C(48, Z6)
	VFNMADD231PD Z6, Z5, Z2 // x -= exponent * LN2L
	C(56, Z6)
	VMULPD Z6, Z2, Z2 // reduce: x *= 0.0625
	C(104, Z6)
	C(96, Z7)
	VFMADD213PD Z7, Z2, Z6 // Taylor series, Horner's scheme
	C(88, Z7)
	VFMADD213PD Z7, Z2, Z6
	C(80, Z7)
	VFMADD213PD Z7, Z2, Z6
	C(72, Z7)
	VFMADD213PD Z7, Z2, Z6
	C(64, Z7)
	VFMADD213PD Z7, Z2, Z6
	VFMADD213PD Z28, Z2, Z6
	VFMADD213PD Z30, Z2, Z6
	VMULPD Z6, Z2, Z2
	VADDPD Z29, Z2, Z6 // square four times: x = x * (x + 2) ...
	VMULPD Z6, Z2, Z2
	VADDPD Z29, Z2, Z6
	VMULPD Z6, Z2, Z2
	VADDPD Z29, Z2, Z6
	VMULPD Z6, Z2, Z2
	VADDPD Z29, Z2, Z6
	VFMADD213PD Z30, Z6, Z2 // ... the last one + 1
	VPBROADCASTD spconst<>+256(SB), Y7
	VPADDD Y7, Y4, Y4 // biased exponent
	VPMOVSXDQ Y4, Z7
	VPCMPGTQ Z26, Z7, K1 // normal result (others underflow: 0)
	VPSLLQ $52, Z7, Z7
	VMULPD.Z Z7, Z2, K1, Z2 // e = fr * 2**exponent

	// Log1p(e), e in [0, 1]: the cases |e| < Tiny, < Small, < Sqrt2M1 (k = 0,
	// f = e) and the rest (u = 1 + e normalised), then the polynomial.
	VCMPPD $1, Z25, Z2, K3 // e < Tiny
	VCMPPD $1, Z24, Z2, K4 // e < Small
	VCMPPD $1, Z23, Z2, K5 // e < Sqrt2M1
	VADDPD Z30, Z2, Z8     // u = 1 + e
	VPSRLQ $52, Z8, Z9
	CQ(240, Z10)
	VPSUBQ Z10, Z9, Z9     // k
	VSUBPD Z2, Z8, Z10
	VSUBPD Z10, Z30, Z10   // k > 0: c = 1 - (u - e)
	VSUBPD Z30, Z8, Z11
	VSUBPD Z11, Z2, Z11    // else c = e - (u - 1)
	VPCMPGTQ Z26, Z9, K6
	VMOVAPD Z10, K6, Z11
	VDIVPD Z8, Z11, Z11    // c /= u
	VPANDQ Z22, Z8, Z12    // iu
	CQ(224, Z13)
	VPCMPGTQ Z12, Z13, K7  // iu < mantissa of Sqrt(2)
	KNOTW K7, K1
	VPORQ Z30, Z12, Z14    // u = iu | 0x3ff0...
	VPORQ Z28, Z12, Z15    // or k++, u = iu | 0x3fe0...
	VMOVAPD Z14, K7, Z15
	CQ(248, Z13)
	VPADDQ Z13, Z9, K1, Z9
	CQ(232, Z13)
	VPSUBQ Z12, Z13, Z14
	VPSRLQ $2, Z14, Z14
	VMOVDQA64 Z14, K1, Z12 // iu = (0x0010000000000000 - iu) >> 2
	VSUBPD Z30, Z15, Z16   // f = u - 1
	VMOVAPD Z2, K5, Z16    // e < Sqrt2M1: f = e, k = 0, iu = 1
	VMOVDQA64 Z26, K5, Z9
	CQ(248, Z13)
	VMOVDQA64 Z13, K5, Z12
	VMULPD Z28, Z16, Z17
	VMULPD Z16, Z17, Z17   // hfsq = 0.5 * f * f
	VPMOVQD Z9, Y18
	VCVTDQ2PD Y18, Z18     // float64(k)
	VADDPD Z29, Z16, Z19
	VDIVPD Z19, Z16, Z19   // s = f / (2 + f)
	VMULPD Z19, Z19, Z3    // z = s * s
	C(200, Z4)
	VMULPD Z4, Z3, Z4      // R = z*(Lp1+z*(Lp2+z*(Lp3+z*(Lp4+z*(Lp5+z*(Lp6+z*Lp7))))))
	C(192, Z5)
	VADDPD Z4, Z5, Z4
	VMULPD Z4, Z3, Z4
	C(184, Z5)
	VADDPD Z4, Z5, Z4
	VMULPD Z4, Z3, Z4
	C(176, Z5)
	VADDPD Z4, Z5, Z4
	VMULPD Z4, Z3, Z4
	C(168, Z5)
	VADDPD Z4, Z5, Z4
	VMULPD Z4, Z3, Z4
	C(160, Z5)
	VADDPD Z4, Z5, Z4
	VMULPD Z4, Z3, Z4
	C(152, Z5)
	VADDPD Z4, Z5, Z4
	VMULPD Z4, Z3, Z4
	VADDPD Z4, Z17, Z5     // hfsq + R
	VMULPD Z5, Z19, Z5     // s * (hfsq + R)
	VSUBPD Z5, Z17, Z6
	VSUBPD Z6, Z16, Z6     // k = 0: f - (hfsq - s*(hfsq+R))
	VMULPD Z20, Z18, Z7
	VADDPD Z11, Z7, Z7     // float64(k)*Ln2Lo + c
	VADDPD Z7, Z5, Z10
	VSUBPD Z10, Z17, Z10
	VSUBPD Z16, Z10, Z10
	VMULPD Z21, Z18, Z13   // float64(k)*Ln2Hi
	VSUBPD Z10, Z13, Z10   // k != 0: k*Ln2Hi - ((hfsq - (s*(hfsq+R) + (k*Ln2Lo + c))) - f)
	VPCMPEQQ Z26, Z9, K2   // k == 0
	VMOVAPD Z6, K2, Z10
	VPCMPEQQ Z26, Z12, K6  // iu == 0: |f| < 2**-20
	KORTESTW K6, K6
	JZ small
	VMULPD Z20, Z18, Z14
	VADDPD Z14, Z11, Z14   // c += float64(k)*Ln2Lo
	VADDPD Z14, Z13, Z14   // f == 0: k*Ln2Hi + c
	VMOVDQA64 Z26, K2, Z14 // (0 for k == 0)
	C(208, Z3)
	VMULPD Z3, Z16, Z3
	VSUBPD Z3, Z30, Z3
	VMULPD Z3, Z17, Z3     // R = hfsq * (1 - 0.66666666666666666*f)
	VSUBPD Z3, Z16, Z4     // k == 0: f - R
	VSUBPD Z7, Z3, Z5
	VSUBPD Z16, Z5, Z5
	VSUBPD Z5, Z13, Z5     // k*Ln2Hi - ((R - (k*Ln2Lo + c)) - f)
	VMOVAPD Z4, K2, Z5
	VCMPPD $0, Z26, Z16, K1 // f == 0
	VMOVAPD Z14, K1, Z5
	VMOVAPD Z5, K6, Z10

small:
	VMULPD Z2, Z2, Z3
	VMULPD Z28, Z3, Z3
	VSUBPD Z3, Z2, Z3      // e < Small: e - e*e*0.5
	VMOVAPD Z3, K4, Z10
	VMOVAPD Z2, K3, Z10    // e < Tiny: e

	// sp = x + log1p(e) for x > 0, log1p(e) otherwise; sig = 1/(1+e) for
	// x > 0, e/(1+e) otherwise; a NaN for a NaN.
	VCMPPD $0x1e, Z26, Z1, K1 // x > 0
	VADDPD Z1, Z10, K1, Z10
	VADDPD Z30, Z2, Z3
	VMOVAPD Z2, Z4
	VMOVAPD Z30, K1, Z4
	VDIVPD Z3, Z4, Z4
	VCMPPD $3, Z0, Z0, K2 // u is NaN
	VMOVAPD Z0, K2, Z10
	VMOVAPD Z0, K2, Z4
	VCVTPD2PS Z10, Y10
	VMOVUPS Y10, (DI)(AX*4)
	VCVTPD2PS Z4, Y4
	VMOVUPS Y4, (DX)(AX*4)
	ADDQ $8, AX
	JMP loop

done:
	VZEROUPPER
	RET
