//go:build amd64 && !purego

#include "textflag.h"

// The row kernels of norm.go for CPUs with AVX-512F: 16 float32 lanes a
// block, every load and store under the mask K1 of the block's elements
// (all 16 but in the last block; a masked-off lane of a memory operand is
// never read). Each lane does the separately rounded operations of the Go
// loop in its order (no FMA), with the operand order the compiler chose for
// it, so the results are bit-identical to it (see elementwise_amd64.s for
// two NaNs). A kernel's variants (ReLU, or adding into the output) are a
// flag tested in the loop, where the branch always goes the same way.
//
// Every loop has the same frame: AX the element index, R9 the count n.

// BLOCK_MASK sets K1 to the lanes of the next block (the R9 - AX elements
// left, at most 16) and jumps to DONE when none is left. Clobbers BX, CX.
#define BLOCK_MASK(DONE) \
	MOVQ R9, CX; \
	SUBQ AX, CX; \
	JLE DONE; \
	MOVL $0xffff, BX; \
	CMPQ CX, $16; \
	JGE 4(PC); \
	MOVL $1, BX; \
	SHLL CX, BX; \
	DECL BX; \
	KMOVW BX, K1

// RELU_GRAD_MASK(yptr, zreg) sets the lanes of zreg (a gradient block
// loaded under K1) to +0 where the ReLU output at yptr (same offset AX)
// is not > 0, NaN included: ReLUBackward's gradient. Needs Z30 = 0;
// clobbers Z29 and K2.
#define RELU_GRAD_MASK(yptr, zreg) \
	VMOVUPS.Z (yptr)(AX*4), K1, Z29; \
	VCMPPS $0x1e, Z30, Z29, K2; \
	VMOVAPS.Z zreg, K2, zreg

// ReLU of Z0 under K1 (Go's max(v, 0), as reluAVX512): Z0 where !(Z0 <= 0)
// with the sign bit cleared, +0 elsewhere. Needs RELU_CONSTS.
#define RELU_Z0 \
	VCMPPS $0x16, Z30, Z0, K1, K2; \
	VPANDD.Z Z31, Z0, K2, Z0

#define RELU_CONSTS \
	MOVL $0x7fffffff, BX; \
	VPBROADCASTD BX, Z31; \
	VPXORD Z30, Z30, Z30

// func normApplyAVX512(y, x, m, a, b *float32, n int, relu bool)
//
// y = (x-m)*a + b, then ReLU when relu: DI y, SI x, R8 m, R10 a, R11 b.
TEXT ·normApplyAVX512(SB), NOSPLIT, $0-49
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ m+16(FP), R8
	MOVQ a+24(FP), R10
	MOVQ b+32(FP), R11
	MOVQ n+40(FP), R9
	MOVBLZX relu+48(FP), DX
	RELU_CONSTS
	XORQ AX, AX
naLoop:
	BLOCK_MASK(naDone)
	VMOVUPS.Z (SI)(AX*4), K1, Z0
	VSUBPS.Z (R8)(AX*4), Z0, K1, Z0
	VMULPS.Z (R10)(AX*4), Z0, K1, Z0
	VADDPS.Z (R11)(AX*4), Z0, K1, Z0
	TESTQ DX, DX
	JZ naStore
	RELU_Z0
naStore:
	VMOVUPS Z0, K1, (DI)(AX*4)
	ADDQ $16, AX
	JMP naLoop
naDone:
	VZEROUPPER
	RET

// func affineConstAVX512(d, s *float32, n int, bias, sub, mul, add float32, flags int)
//
// d = s [+ bias (flags&1)] [then (v-sub)*mul + add (flags&2)] [then ReLU
// (flags&4)].
TEXT ·affineConstAVX512(SB), NOSPLIT, $0-48
	MOVQ d+0(FP), DI
	MOVQ s+8(FP), SI
	MOVQ n+16(FP), R9
	VBROADCASTSS bias+24(FP), Z2
	VBROADCASTSS sub+28(FP), Z3
	VBROADCASTSS mul+32(FP), Z4
	VBROADCASTSS add+36(FP), Z5
	MOVQ flags+40(FP), DX
	RELU_CONSTS
	XORQ AX, AX
acLoop:
	BLOCK_MASK(acDone)
	VMOVUPS.Z (SI)(AX*4), K1, Z0
	TESTQ $1, DX
	JZ acAffine
	VADDPS Z2, Z0, Z0
acAffine:
	TESTQ $2, DX
	JZ acRelu
	VSUBPS Z3, Z0, Z0
	VMULPS Z4, Z0, Z0
	VADDPS Z5, Z0, Z0
acRelu:
	TESTQ $4, DX
	JZ acStore
	RELU_Z0
acStore:
	VMOVUPS Z0, K1, (DI)(AX*4)
	ADDQ $16, AX
	JMP acLoop
acDone:
	VZEROUPPER
	RET

// func normGradStats2AVX512(p1, p2, m, x0, x1, g0, g1 *float32, n int)
//
// p1 = (g0+g1) + p1, p2 = (g0*(x0-m) + g1*(x1-m)) + p2:
// DI p1, SI p2, R8 m, R10 x0, R11 x1, R12 g0, R13 g1.
TEXT ·normGradStats2AVX512(SB), NOSPLIT, $0-80
	MOVQ p1+0(FP), DI
	MOVQ p2+8(FP), SI
	MOVQ m+16(FP), R8
	MOVQ x0+24(FP), R10
	MOVQ x1+32(FP), R11
	MOVQ g0+40(FP), R12
	MOVQ g1+48(FP), R13
	MOVQ y0+56(FP), DX
	MOVQ y1+64(FP), R14
	MOVQ n+72(FP), R9
	VPXORD Z30, Z30, Z30
	XORQ AX, AX
ngsLoop:
	BLOCK_MASK(ngsDone)
	VMOVUPS.Z (R12)(AX*4), K1, Z0
	VMOVUPS.Z (R13)(AX*4), K1, Z1
	TESTQ DX, DX
	JZ ngsPlain
	RELU_GRAD_MASK(DX, Z0)
	RELU_GRAD_MASK(R14, Z1)
ngsPlain:
	VMOVUPS.Z (R8)(AX*4), K1, Z2
	VADDPS Z1, Z0, Z3
	VMOVUPS.Z (DI)(AX*4), K1, Z4
	VADDPS Z4, Z3, Z4
	VMOVUPS Z4, K1, (DI)(AX*4)
	VMOVUPS.Z (R10)(AX*4), K1, Z5
	VSUBPS Z2, Z5, Z5
	VMULPS Z5, Z0, Z5
	VMOVUPS.Z (R11)(AX*4), K1, Z6
	VSUBPS Z2, Z6, Z6
	VMULPS Z6, Z1, Z6
	VADDPS Z6, Z5, Z5
	VMOVUPS.Z (SI)(AX*4), K1, Z7
	VADDPS Z7, Z5, Z7
	VMOVUPS Z7, K1, (SI)(AX*4)
	ADDQ $16, AX
	JMP ngsLoop
ngsDone:
	VZEROUPPER
	RET

// func normGradAVX512(gx, x, gr, m, a, b, d *float32, n int, add bool)
//
// e = (b*(x-m) + a*g) + d; gx = e, or e + gx when add:
// DI gx, SI x, R8 g, R10 m, R11 a, R12 b, R13 d.
TEXT ·normGradAVX512(SB), NOSPLIT, $0-73
	MOVQ gx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ gr+16(FP), R8
	MOVQ m+24(FP), R10
	MOVQ a+32(FP), R11
	MOVQ b+40(FP), R12
	MOVQ d+48(FP), R13
	MOVQ y+56(FP), R14
	MOVQ n+64(FP), R9
	MOVBLZX add+72(FP), DX
	VPXORD Z30, Z30, Z30
	XORQ AX, AX
ngLoop:
	BLOCK_MASK(ngDone)
	VMOVUPS.Z (R8)(AX*4), K1, Z0
	TESTQ R14, R14
	JZ ngPlain
	RELU_GRAD_MASK(R14, Z0)
ngPlain:
	VMULPS.Z (R11)(AX*4), Z0, K1, Z0
	VMOVUPS.Z (SI)(AX*4), K1, Z1
	VSUBPS.Z (R10)(AX*4), Z1, K1, Z1
	VMULPS.Z (R12)(AX*4), Z1, K1, Z1
	VADDPS Z0, Z1, Z0
	VADDPS.Z (R13)(AX*4), Z0, K1, Z0
	TESTQ DX, DX
	JZ ngStore
	VADDPS.Z (DI)(AX*4), Z0, K1, Z0
ngStore:
	VMOVUPS Z0, K1, (DI)(AX*4)
	ADDQ $16, AX
	JMP ngLoop
ngDone:
	VZEROUPPER
	RET

// func normGradConstAVX512(gx, x, gr *float32, n int, m, a, b, d float32, add bool)
//
// e = (g*a + (x-m)*b) + d with Z2 = m, Z3 = a, Z4 = b, Z5 = d; gx = e, or
// e + gx when add: DI gx, SI x, R8 g.
TEXT ·normGradConstAVX512(SB), NOSPLIT, $0-57
	MOVQ gx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ gr+16(FP), R8
	MOVQ y+24(FP), R10
	MOVQ n+32(FP), R9
	VBROADCASTSS m+40(FP), Z2
	VBROADCASTSS a+44(FP), Z3
	VBROADCASTSS b+48(FP), Z4
	VBROADCASTSS d+52(FP), Z5
	MOVBLZX add+56(FP), DX
	VPXORD Z30, Z30, Z30
	XORQ AX, AX
ngcLoop:
	BLOCK_MASK(ngcDone)
	VMOVUPS.Z (R8)(AX*4), K1, Z0
	TESTQ R10, R10
	JZ ngcPlain
	RELU_GRAD_MASK(R10, Z0)
ngcPlain:
	VMULPS Z3, Z0, Z0
	VMOVUPS.Z (SI)(AX*4), K1, Z1
	VSUBPS Z2, Z1, Z1
	VMULPS Z4, Z1, Z1
	VADDPS Z1, Z0, Z0
	VADDPS Z5, Z0, Z0
	TESTQ DX, DX
	JZ ngcStore
	VADDPS.Z (DI)(AX*4), Z0, K1, Z0
ngcStore:
	VMOVUPS Z0, K1, (DI)(AX*4)
	ADDQ $16, AX
	JMP ngcLoop
ngcDone:
	VZEROUPPER
	RET

// func layerNormApplyAVX512(y, x, gamma, beta *float32, n int, m, s float32)
//
// y = ((x-m)*s)*gamma + beta with Z2 = m, Z3 = s: DI y, SI x, R8 gamma,
// R10 beta.
TEXT ·layerNormApplyAVX512(SB), NOSPLIT, $0-48
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ gamma+16(FP), R8
	MOVQ beta+24(FP), R10
	MOVQ n+32(FP), R9
	VBROADCASTSS m+40(FP), Z2
	VBROADCASTSS s+44(FP), Z3
	XORQ AX, AX
lnaLoop:
	BLOCK_MASK(lnaDone)
	VMOVUPS.Z (SI)(AX*4), K1, Z0
	VSUBPS Z2, Z0, Z0
	VMULPS Z3, Z0, Z0
	VMULPS.Z (R8)(AX*4), Z0, K1, Z0
	VADDPS.Z (R10)(AX*4), Z0, K1, Z0
	VMOVUPS Z0, K1, (DI)(AX*4)
	ADDQ $16, AX
	JMP lnaLoop
lnaDone:
	VZEROUPPER
	RET

// func layerNormGradAVX512(gx, x, gr, gamma *float32, n int, m, s, c1, c2 float32, add bool)
//
// e = (x-m)*c2 + ((g*gamma)*s + c1) with Z2 = m, Z3 = s, Z4 = c1, Z5 = c2;
// gx = e, or e + gx when add: DI gx, SI x, R8 g, R10 gamma.
TEXT ·layerNormGradAVX512(SB), NOSPLIT, $0-57
	MOVQ gx+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ gr+16(FP), R8
	MOVQ gamma+24(FP), R10
	MOVQ n+32(FP), R9
	VBROADCASTSS m+40(FP), Z2
	VBROADCASTSS s+44(FP), Z3
	VBROADCASTSS c1+48(FP), Z4
	VBROADCASTSS c2+52(FP), Z5
	MOVBLZX add+56(FP), DX
	XORQ AX, AX
lngLoop:
	BLOCK_MASK(lngDone)
	VMOVUPS.Z (R8)(AX*4), K1, Z0
	VMULPS.Z (R10)(AX*4), Z0, K1, Z0
	VMULPS Z3, Z0, Z0
	VADDPS Z4, Z0, Z0
	VMOVUPS.Z (SI)(AX*4), K1, Z1
	VSUBPS Z2, Z1, Z1
	VMULPS Z5, Z1, Z1
	VADDPS Z0, Z1, Z0
	TESTQ DX, DX
	JZ lngStore
	VADDPS.Z (DI)(AX*4), Z0, K1, Z0
lngStore:
	VMOVUPS Z0, K1, (DI)(AX*4)
	ADDQ $16, AX
	JMP lngLoop
lngDone:
	VZEROUPPER
	RET

// func sumShifted4AVX512(x *float32, n int, k float32, lanes *[8]float64)
//
// Four float64 lanes, one per i%4: Y4 the sums of d = float64(x)-k, Y5 of
// d*d (rounded product, then sum, as the Go loop).
TEXT ·sumShifted4AVX512(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVQ lanes+24(FP), DI
	VCVTSS2SD k+16(FP), X2, X2
	VBROADCASTSD X2, Y2
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	XORQ AX, AX
ssLoop:
	VCVTPS2PD (SI)(AX*4), Y0
	VSUBPD Y2, Y0, Y0
	VADDPD Y0, Y4, Y4
	VMULPD Y0, Y0, Y1
	VADDPD Y1, Y5, Y5
	ADDQ $4, AX
	CMPQ AX, CX
	JLT ssLoop
	VMOVUPD Y4, (DI)
	VMOVUPD Y5, 32(DI)
	VZEROUPPER
	RET

// func normGradSumsChansAVX512(a, b, x, gr *float32, idx *[16]int32, m *[16]float32, s int, mask uint16)
//
// Lane 2ch+j sums channel ch's values at offsets j, j+2, ... (gathered
// through idx, under the mask of the channels present): Z4 += g and
// Z5 += g*(x-m), the scalar loop's operations per lane; an odd last value
// goes to the j = 0 lanes only.
TEXT ·normGradSumsChansAVX512(SB), NOSPLIT, $0-66
	MOVQ x+16(FP), SI
	MOVQ gr+24(FP), DI
	MOVQ y+32(FP), R10
	MOVQ idx+40(FP), R8
	MOVQ m+48(FP), R9
	MOVQ s+56(FP), CX
	MOVWQZX mask+64(FP), DX
	VMOVDQU32 (R8), Z1
	VMOVUPS (R9), Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z30, Z30, Z30
	MOVQ CX, BX
	SHRQ $1, BX
	JZ gsTail
gsLoop:
	KMOVW DX, K1
	VGATHERDPS (SI)(Z1*4), K1, Z6
	KMOVW DX, K2
	VGATHERDPS (DI)(Z1*4), K2, Z7
	TESTQ R10, R10
	JZ gsPlain
	KMOVW DX, K3
	VGATHERDPS (R10)(Z1*4), K3, Z29
	VCMPPS $0x1e, Z30, Z29, K3
	VMOVAPS.Z Z7, K3, Z7
	ADDQ $8, R10
gsPlain:
	VSUBPS Z3, Z6, Z6 // x - m
	VMULPS Z6, Z7, Z6 // g * (x - m)
	VADDPS Z7, Z4, Z4
	VADDPS Z6, Z5, Z5
	ADDQ $8, SI
	ADDQ $8, DI
	DECQ BX
	JNZ gsLoop
gsTail:
	TESTQ $1, CX
	JZ gsStore
	ANDL $0x5555, DX
	KMOVW DX, K1
	VGATHERDPS (SI)(Z1*4), K1, Z6
	KMOVW DX, K2
	VGATHERDPS (DI)(Z1*4), K2, Z7
	TESTQ R10, R10
	JZ gsTailPlain
	KMOVW DX, K3
	VGATHERDPS (R10)(Z1*4), K3, Z29
	VCMPPS $0x1e, Z30, Z29, K3
	VMOVAPS.Z Z7, K3, Z7
gsTailPlain:
	KMOVW DX, K3
	VSUBPS Z3, Z6, Z6
	VMULPS Z6, Z7, Z6
	VADDPS Z7, Z4, K3, Z4
	VADDPS Z6, Z5, K3, Z5
gsStore:
	MOVQ a+0(FP), AX
	VMOVUPS Z4, (AX)
	MOVQ b+8(FP), AX
	VMOVUPS Z5, (AX)
	VZEROUPPER
	RET

// LANE_SUM(Z) leaves in X0's lane 0 the sum of Z's 16 lanes, as
// layerNormGradSums2Go reduces them: lanes l and l+8, then l and l+4, l
// and l+2, l and l+1. Clobbers Z0 and Z1.
#define LANE_SUM(Z) \
	VMOVAPS Z, Z0; \
	VEXTRACTF64X4 $1, Z0, Y1; \
	VADDPS Y1, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS X1, X0, X0; \
	VMOVHLPS X0, X1, X1; \
	VADDPS X1, X0, X0; \
	VMOVSHDUP X0, X1; \
	VADDSS X1, X0, X0

// func layerNormGradSums2AVX512(p1, p2, gamma, x0, x1, g0, g1 *float32, n int, ms *[4]float32, sums *[4]float32)
//
// p1 = p1 + (g0*((x0-m0)*s0) + g1*((x1-m1)*s1)), p2 = p2 + (g0+g1); per
// lane l (element i at lane i%16) a0 += g0*gamma, b0 += (g0*gamma)*(x0-m0)
// (the product rounded), a1, b1 likewise; sums = the four lane sums.
// DI p1, SI p2, R8 gamma, R10 x0, R11 x1, R12 g0, R13 g1; ms = m0, s0, m1,
// s1 broadcast in Z20-Z23; a0, b0, a1, b1 in Z24-Z27.
TEXT ·layerNormGradSums2AVX512(SB), NOSPLIT, $0-80
	MOVQ p1+0(FP), DI
	MOVQ p2+8(FP), SI
	MOVQ gamma+16(FP), R8
	MOVQ x0+24(FP), R10
	MOVQ x1+32(FP), R11
	MOVQ g0+40(FP), R12
	MOVQ g1+48(FP), R13
	MOVQ n+56(FP), R9
	MOVQ ms+64(FP), DX
	VBROADCASTSS 0(DX), Z20
	VBROADCASTSS 4(DX), Z21
	VBROADCASTSS 8(DX), Z22
	VBROADCASTSS 12(DX), Z23
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	VPXORD Z26, Z26, Z26
	VPXORD Z27, Z27, Z27
	XORQ AX, AX
lgsLoop:
	BLOCK_MASK(lgsDone)
	VMOVUPS.Z (R12)(AX*4), K1, Z0
	VMOVUPS.Z (R13)(AX*4), K1, Z1
	VMOVUPS.Z (R10)(AX*4), K1, Z2
	VSUBPS Z20, Z2, Z2
	VMOVUPS.Z (R11)(AX*4), K1, Z3
	VSUBPS Z22, Z3, Z3
	VMULPS Z21, Z2, Z4
	VMULPS Z4, Z0, Z4
	VMULPS Z23, Z3, Z5
	VMULPS Z5, Z1, Z5
	VADDPS Z5, Z4, Z4
	VMOVUPS.Z (DI)(AX*4), K1, Z6
	VADDPS Z4, Z6, Z6
	VMOVUPS Z6, K1, (DI)(AX*4)
	VADDPS Z1, Z0, Z7
	VMOVUPS.Z (SI)(AX*4), K1, Z6
	VADDPS Z7, Z6, Z6
	VMOVUPS Z6, K1, (SI)(AX*4)
	VMOVUPS.Z (R8)(AX*4), K1, Z8
	VMULPS Z8, Z0, Z0
	VMULPS Z8, Z1, Z1
	VADDPS Z0, Z24, K1, Z24
	VMULPS Z2, Z0, Z0
	VADDPS Z0, Z25, K1, Z25
	VADDPS Z1, Z26, K1, Z26
	VMULPS Z3, Z1, Z1
	VADDPS Z1, Z27, K1, Z27
	ADDQ $16, AX
	JMP lgsLoop
lgsDone:
	MOVQ sums+72(FP), DX
	LANE_SUM(Z24)
	VMOVSS X0, 0(DX)
	LANE_SUM(Z25)
	VMOVSS X0, 4(DX)
	LANE_SUM(Z26)
	VMOVSS X0, 8(DX)
	LANE_SUM(Z27)
	VMOVSS X0, 12(DX)
	VZEROUPPER
	RET

// func sumLanes64AVX512(l *[32]float64, x *float32, n int)
//
// l[i%32] += float64(x[i]) for i < n: four accumulators of eight float64
// lanes over whole blocks of 32 values, then the last 1 to 31 under masks
// (the masked-off lanes add +0, which leaves every partial as it is).
TEXT ·sumLanes64AVX512(SB), NOSPLIT, $0-24
	MOVQ l+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VMOVUPD (DI), Z0
	VMOVUPD 64(DI), Z1
	VMOVUPD 128(DI), Z2
	VMOVUPD 192(DI), Z3
	CMPQ CX, $32
	JLT slTail
slLoop:
	VCVTPS2PD (SI), Z4
	VCVTPS2PD 32(SI), Z5
	VCVTPS2PD 64(SI), Z6
	VCVTPS2PD 96(SI), Z7
	VADDPD Z4, Z0, Z0
	VADDPD Z5, Z1, Z1
	VADDPD Z6, Z2, Z2
	VADDPD Z7, Z3, Z3
	ADDQ $128, SI
	SUBQ $32, CX
	CMPQ CX, $32
	JGE slLoop
slTail:
	TESTQ CX, CX
	JZ slDone
	// Masks of the first CX lanes, eight per accumulator (an 8-lane
	// operation reads a mask's low 8 bits).
	MOVQ $1, AX
	SHLQ CX, AX
	DECQ AX
	KMOVW AX, K1
	SHRQ $8, AX
	KMOVW AX, K2
	SHRQ $8, AX
	KMOVW AX, K3
	SHRQ $8, AX
	KMOVW AX, K4
	VMOVUPS (SI), K1, Y4
	VMOVUPS 32(SI), K2, Y5
	VMOVUPS 64(SI), K3, Y6
	VMOVUPS 96(SI), K4, Y7
	VCVTPS2PD Y4, K1, Z4
	VCVTPS2PD Y5, K2, Z5
	VCVTPS2PD Y6, K3, Z6
	VCVTPS2PD Y7, K4, Z7
	VADDPD Z4, Z0, K1, Z0
	VADDPD Z5, Z1, K2, Z1
	VADDPD Z6, Z2, K3, Z2
	VADDPD Z7, Z3, K4, Z3
slDone:
	VMOVUPD Z0, (DI)
	VMOVUPD Z1, 64(DI)
	VMOVUPD Z2, 128(DI)
	VMOVUPD Z3, 192(DI)
	VZEROUPPER
	RET

// func normStats4AVX512(p1, p2, sh, x0, x1, x2, x3 *float32, n int)
//
// d_r = x_r - sh; p1 += (d0+d1)+(d2+d3); p2 += (d0*d0+d1*d1)+(d2*d2+d3*d3),
// each product rounded (no fused multiply-add), as normStats4Go:
// DI p1, SI p2, R8 sh, R10-R13 x0-x3.
TEXT ·normStats4AVX512(SB), NOSPLIT, $0-64
	MOVQ p1+0(FP), DI
	MOVQ p2+8(FP), SI
	MOVQ sh+16(FP), R8
	MOVQ x0+24(FP), R10
	MOVQ x1+32(FP), R11
	MOVQ x2+40(FP), R12
	MOVQ x3+48(FP), R13
	MOVQ n+56(FP), R9
	XORQ AX, AX
ns4Loop:
	BLOCK_MASK(ns4Done)
	VMOVUPS.Z (R8)(AX*4), K1, Z0
	VMOVUPS.Z (R10)(AX*4), K1, Z1
	VSUBPS Z0, Z1, Z1
	VMOVUPS.Z (R11)(AX*4), K1, Z2
	VSUBPS Z0, Z2, Z2
	VMOVUPS.Z (R12)(AX*4), K1, Z3
	VSUBPS Z0, Z3, Z3
	VMOVUPS.Z (R13)(AX*4), K1, Z4
	VSUBPS Z0, Z4, Z4
	VADDPS Z2, Z1, Z5
	VADDPS Z4, Z3, Z6
	VADDPS Z6, Z5, Z5
	VMOVUPS.Z (DI)(AX*4), K1, Z6
	VADDPS Z5, Z6, Z6
	VMOVUPS Z6, K1, (DI)(AX*4)
	VMULPS Z1, Z1, Z1
	VMULPS Z2, Z2, Z2
	VMULPS Z3, Z3, Z3
	VMULPS Z4, Z4, Z4
	VADDPS Z2, Z1, Z1
	VADDPS Z4, Z3, Z3
	VADDPS Z3, Z1, Z1
	VMOVUPS.Z (SI)(AX*4), K1, Z7
	VADDPS Z1, Z7, Z7
	VMOVUPS Z7, K1, (SI)(AX*4)
	ADDQ $16, AX
	JMP ns4Loop
ns4Done:
	VZEROUPPER
	RET

// func normPlaneSumsAVX512(x, gr, y *float32, n int, m float32, grad bool, sums *[2]float32)
//
// Sixteen float32 lanes over x (element i in lane i%16), reduced as
// LANE_SUM: with grad, d = x - m and gg = g (+0 where y, when not nil, is
// not > 0), lanes of gg into sums[0] and of gg*d into sums[1]; without,
// d = x - m into sums[0] and d*d into sums[1]. Masked-off lanes of the
// last block are left as they are. DI x, SI g, R8 y.
TEXT ·normPlaneSumsAVX512(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), DI
	MOVQ gr+8(FP), SI
	MOVQ y+16(FP), R8
	MOVQ n+24(FP), R9
	VBROADCASTSS m+32(FP), Z2
	MOVBLZX grad+36(FP), DX
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z30, Z30, Z30
	XORQ AX, AX
npsLoop:
	BLOCK_MASK(npsDone)
	VMOVUPS.Z (DI)(AX*4), K1, Z6
	VSUBPS Z2, Z6, Z6
	TESTQ DX, DX
	JNZ npsGrad
	VMULPS Z6, Z6, Z7
	VADDPS Z6, Z4, K1, Z4
	VADDPS Z7, Z5, K1, Z5
	ADDQ $16, AX
	JMP npsLoop
npsGrad:
	VMOVUPS.Z (SI)(AX*4), K1, Z7
	TESTQ R8, R8
	JZ npsPlain
	RELU_GRAD_MASK(R8, Z7)
npsPlain:
	VMULPS Z6, Z7, Z6
	VADDPS Z7, Z4, K1, Z4
	VADDPS Z6, Z5, K1, Z5
	ADDQ $16, AX
	JMP npsLoop
npsDone:
	MOVQ sums+40(FP), AX
	LANE_SUM(Z4)
	VMOVSS X0, (AX)
	LANE_SUM(Z5)
	VMOVSS X0, 4(AX)
	VZEROUPPER
	RET
