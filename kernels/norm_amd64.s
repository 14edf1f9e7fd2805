//go:build amd64 && !purego

#include "textflag.h"

// The row kernels of norm.go for CPUs with AVX-512F: 16 float32 lanes a
// block, every load and store under the mask K1 (all lanes in the loop,
// the n % 16 trailing elements in the last block; a masked-off lane of a
// memory operand is never read). Each lane does the separately rounded
// operations of the Go loop in its order (no FMA), so the results are
// bit-identical to it (see elementwise_amd64.s for two NaNs).
//
// Every kernel has the same frame: AX the element index, CX the count n,
// R13 the last index of a whole block (n &^ 15). LOOP runs BODY over the
// whole blocks, then once more under the tail mask.

// TAILMASK sets K1 to the lanes of the CX - AX (1 to 15) elements left.
// Clobbers CX and BX.
#define TAILMASK \
	SUBQ AX, CX; \
	MOVL $1, BX; \
	SHLL CX, BX; \
	DECL BX; \
	KMOVW BX, K1

// ReLU of Z0 under K1 (Go's max(v, 0), as reluAVX512): Z0 where !(Z0 <= 0)
// with the sign bit cleared, +0 elsewhere. Needs Z30 = 0, Z31 = 0x7fffffff.
#define RELU_Z0 \
	VCMPPS $0x16, Z30, Z0, K1, K2; \
	VPANDD.Z Z31, Z0, K2, Z0

#define RELU_CONSTS \
	MOVL $0x7fffffff, BX; \
	VPBROADCASTD BX, Z31; \
	VPXORD Z30, Z30, Z30

#define LOOP_START \
	KXNORW K1, K1, K1; \
	XORQ AX, AX; \
	MOVQ CX, R13; \
	ANDQ $-16, R13

// y = (x-m)*a + b: DI y, SI x, R8 m, R9 a, R10 b.
#define NA_BODY \
	VMOVUPS.Z (SI)(AX*4), K1, Z0; \
	VSUBPS.Z (R8)(AX*4), Z0, K1, Z0; \
	VMULPS.Z (R9)(AX*4), Z0, K1, Z0; \
	VADDPS.Z (R10)(AX*4), Z0, K1, Z0

#define NA_ARGS \
	MOVQ y+0(FP), DI; \
	MOVQ x+8(FP), SI; \
	MOVQ m+16(FP), R8; \
	MOVQ a+24(FP), R9; \
	MOVQ b+32(FP), R10; \
	MOVQ n+40(FP), CX

// p1 = p1 + (g0+g1), p2 = p2 + (g0*(x0-m) + g1*(x1-m)):
// DI p1, SI p2, R8 m, R9 x0, R10 x1, R11 g0, R12 g1.
#define NGS_BODY \
	VMOVUPS.Z (R11)(AX*4), K1, Z0; \
	VMOVUPS.Z (R12)(AX*4), K1, Z1; \
	VMOVUPS.Z (R8)(AX*4), K1, Z2; \
	VADDPS Z1, Z0, Z3; \
	VMOVUPS.Z (DI)(AX*4), K1, Z4; \
	VADDPS Z4, Z3, Z4; \
	VMOVUPS Z4, K1, (DI)(AX*4); \
	VMOVUPS.Z (R9)(AX*4), K1, Z5; \
	VSUBPS Z2, Z5, Z5; \
	VMULPS Z5, Z0, Z5; \
	VMOVUPS.Z (R10)(AX*4), K1, Z6; \
	VSUBPS Z2, Z6, Z6; \
	VMULPS Z6, Z1, Z6; \
	VADDPS Z6, Z5, Z5; \
	VMOVUPS.Z (SI)(AX*4), K1, Z7; \
	VADDPS Z7, Z5, Z7; \
	VMOVUPS Z7, K1, (SI)(AX*4)

// e = (a*g + b*(x-m)) + d: DI dx, SI x, R8 g, R9 m, R10 a, R11 b, R12 d.
#define NG_BODY \
	VMOVUPS.Z (R8)(AX*4), K1, Z0; \
	VMULPS.Z (R10)(AX*4), Z0, K1, Z0; \
	VMOVUPS.Z (SI)(AX*4), K1, Z1; \
	VSUBPS.Z (R9)(AX*4), Z1, K1, Z1; \
	VMULPS.Z (R11)(AX*4), Z1, K1, Z1; \
	VADDPS Z0, Z1, Z0; \
	VADDPS.Z (R12)(AX*4), Z0, K1, Z0

#define NG_ARGS \
	MOVQ gx+0(FP), DI; \
	MOVQ x+8(FP), SI; \
	MOVQ gr+16(FP), R8; \
	MOVQ m+24(FP), R9; \
	MOVQ a+32(FP), R10; \
	MOVQ b+40(FP), R11; \
	MOVQ d+48(FP), R12; \
	MOVQ n+56(FP), CX

// e = (a*g + b*(x-m)) + d with Z2 = m, Z3 = a, Z4 = b, Z5 = d: DI dx, SI x,
// R8 g.
#define NGC_BODY \
	VMOVUPS.Z (R8)(AX*4), K1, Z0; \
	VMULPS Z3, Z0, Z0; \
	VMOVUPS.Z (SI)(AX*4), K1, Z1; \
	VSUBPS Z2, Z1, Z1; \
	VMULPS Z4, Z1, Z1; \
	VADDPS Z1, Z0, Z0; \
	VADDPS Z5, Z0, Z0

#define NGC_ARGS \
	MOVQ gx+0(FP), DI; \
	MOVQ x+8(FP), SI; \
	MOVQ gr+16(FP), R8; \
	MOVQ n+24(FP), CX; \
	VBROADCASTSS m+32(FP), Z2; \
	VBROADCASTSS a+36(FP), Z3; \
	VBROADCASTSS b+40(FP), Z4; \
	VBROADCASTSS d+44(FP), Z5

// func layerNormApplyAVX512(y, x, gamma, beta *float32, n int, m, s float32)
//
// y = ((x-m)*s)*gamma + beta with Z2 = m, Z3 = s: DI y, SI x, R8 gamma,
// R9 beta.
#define LNA_BODY \
	VMOVUPS.Z (SI)(AX*4), K1, Z0; \
	VSUBPS Z2, Z0, Z0; \
	VMULPS Z3, Z0, Z0; \
	VMULPS.Z (R8)(AX*4), Z0, K1, Z0; \
	VADDPS.Z (R9)(AX*4), Z0, K1, Z0

// e = (s*(g*gamma) + c1) + c2*(x-m) with Z2 = m, Z3 = s, Z4 = c1, Z5 = c2:
// DI dx, SI x, R8 g, R9 gamma.
#define LNG_BODY \
	VMOVUPS.Z (R8)(AX*4), K1, Z0; \
	VMULPS.Z (R9)(AX*4), Z0, K1, Z0; \
	VMULPS Z3, Z0, Z0; \
	VADDPS Z4, Z0, Z0; \
	VMOVUPS.Z (SI)(AX*4), K1, Z1; \
	VSUBPS Z2, Z1, Z1; \
	VMULPS Z5, Z1, Z1; \
	VADDPS Z0, Z1, Z0

#define LNG_ARGS \
	MOVQ gx+0(FP), DI; \
	MOVQ x+8(FP), SI; \
	MOVQ gr+16(FP), R8; \
	MOVQ gamma+24(FP), R9; \
	MOVQ n+32(FP), CX; \
	VBROADCASTSS m+40(FP), Z2; \
	VBROADCASTSS s+44(FP), Z3; \
	VBROADCASTSS c1+48(FP), Z4; \
	VBROADCASTSS c2+52(FP), Z5

// func normApplyAVX512(y, x, m, a, b *float32, n int)
TEXT ·normApplyAVX512(SB), NOSPLIT, $0-48
	NA_ARGS
	LOOP_START
	JZ naTail
naLoop:
	NA_BODY
	VMOVUPS Z0, K1, (DI)(AX*4)
	ADDQ $16, AX
	CMPQ AX, R13
	JLT naLoop
naTail:
	CMPQ AX, CX
	JGE naDone
	TAILMASK
	NA_BODY
	VMOVUPS Z0, K1, (DI)(AX*4)
naDone:
	VZEROUPPER
	RET

// func normApplyReLUAVX512(y, x, m, a, b *float32, n int)
TEXT ·normApplyReLUAVX512(SB), NOSPLIT, $0-48
	NA_ARGS
	RELU_CONSTS
	LOOP_START
	JZ narTail
narLoop:
	NA_BODY
	RELU_Z0
	VMOVUPS Z0, K1, (DI)(AX*4)
	ADDQ $16, AX
	CMPQ AX, R13
	JLT narLoop
narTail:
	CMPQ AX, CX
	JGE narDone
	TAILMASK
	NA_BODY
	RELU_Z0
	VMOVUPS Z0, K1, (DI)(AX*4)
narDone:
	VZEROUPPER
	RET

// func normGradStats2AVX512(p1, p2, m, x0, x1, g0, g1 *float32, n int)
TEXT ·normGradStats2AVX512(SB), NOSPLIT, $0-64
	MOVQ p1+0(FP), DI
	MOVQ p2+8(FP), SI
	MOVQ m+16(FP), R8
	MOVQ x0+24(FP), R9
	MOVQ x1+32(FP), R10
	MOVQ g0+40(FP), R11
	MOVQ g1+48(FP), R12
	MOVQ n+56(FP), CX
	LOOP_START
	JZ ngsTail
ngsLoop:
	NGS_BODY
	ADDQ $16, AX
	CMPQ AX, R13
	JLT ngsLoop
ngsTail:
	CMPQ AX, CX
	JGE ngsDone
	TAILMASK
	NGS_BODY
ngsDone:
	VZEROUPPER
	RET

// func normGradSetAVX512(gx, x, gr, m, a, b, d *float32, n int)
TEXT ·normGradSetAVX512(SB), NOSPLIT, $0-64
	NG_ARGS
	LOOP_START
	JZ ngTail
ngLoop:
	NG_BODY
	VMOVUPS Z0, K1, (DI)(AX*4)
	ADDQ $16, AX
	CMPQ AX, R13
	JLT ngLoop
ngTail:
	CMPQ AX, CX
	JGE ngDone
	TAILMASK
	NG_BODY
	VMOVUPS Z0, K1, (DI)(AX*4)
ngDone:
	VZEROUPPER
	RET

// func normGradAddAVX512(gx, x, gr, m, a, b, d *float32, n int)
TEXT ·normGradAddAVX512(SB), NOSPLIT, $0-64
	NG_ARGS
	LOOP_START
	JZ ngaTail
ngaLoop:
	NG_BODY
	VMOVUPS (DI)(AX*4), Z5
	VADDPS Z5, Z0, Z0
	VMOVUPS Z0, K1, (DI)(AX*4)
	ADDQ $16, AX
	CMPQ AX, R13
	JLT ngaLoop
ngaTail:
	CMPQ AX, CX
	JGE ngaDone
	TAILMASK
	NG_BODY
	VMOVUPS.Z (DI)(AX*4), K1, Z5
	VADDPS Z5, Z0, Z0
	VMOVUPS Z0, K1, (DI)(AX*4)
ngaDone:
	VZEROUPPER
	RET

// func normGradConstSetAVX512(gx, x, gr *float32, n int, m, a, b, d float32)
TEXT ·normGradConstSetAVX512(SB), NOSPLIT, $0-48
	NGC_ARGS
	LOOP_START
	JZ ngcTail
ngcLoop:
	NGC_BODY
	VMOVUPS Z0, K1, (DI)(AX*4)
	ADDQ $16, AX
	CMPQ AX, R13
	JLT ngcLoop
ngcTail:
	CMPQ AX, CX
	JGE ngcDone
	TAILMASK
	NGC_BODY
	VMOVUPS Z0, K1, (DI)(AX*4)
ngcDone:
	VZEROUPPER
	RET

// func normGradConstAddAVX512(gx, x, gr *float32, n int, m, a, b, d float32)
TEXT ·normGradConstAddAVX512(SB), NOSPLIT, $0-48
	NGC_ARGS
	LOOP_START
	JZ ngcaTail
ngcaLoop:
	NGC_BODY
	VMOVUPS (DI)(AX*4), Z6
	VADDPS Z6, Z0, Z0
	VMOVUPS Z0, K1, (DI)(AX*4)
	ADDQ $16, AX
	CMPQ AX, R13
	JLT ngcaLoop
ngcaTail:
	CMPQ AX, CX
	JGE ngcaDone
	TAILMASK
	NGC_BODY
	VMOVUPS.Z (DI)(AX*4), K1, Z6
	VADDPS Z6, Z0, Z0
	VMOVUPS Z0, K1, (DI)(AX*4)
ngcaDone:
	VZEROUPPER
	RET

TEXT ·layerNormApplyAVX512(SB), NOSPLIT, $0-48
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ gamma+16(FP), R8
	MOVQ beta+24(FP), R9
	MOVQ n+32(FP), CX
	VBROADCASTSS m+40(FP), Z2
	VBROADCASTSS s+44(FP), Z3
	LOOP_START
	JZ lnaTail
lnaLoop:
	LNA_BODY
	VMOVUPS Z0, K1, (DI)(AX*4)
	ADDQ $16, AX
	CMPQ AX, R13
	JLT lnaLoop
lnaTail:
	CMPQ AX, CX
	JGE lnaDone
	TAILMASK
	LNA_BODY
	VMOVUPS Z0, K1, (DI)(AX*4)
lnaDone:
	VZEROUPPER
	RET

// func layerNormGradSetAVX512(gx, x, gr, gamma *float32, n int, m, s, c1, c2 float32)
TEXT ·layerNormGradSetAVX512(SB), NOSPLIT, $0-56
	LNG_ARGS
	LOOP_START
	JZ lngTail
lngLoop:
	LNG_BODY
	VMOVUPS Z0, K1, (DI)(AX*4)
	ADDQ $16, AX
	CMPQ AX, R13
	JLT lngLoop
lngTail:
	CMPQ AX, CX
	JGE lngDone
	TAILMASK
	LNG_BODY
	VMOVUPS Z0, K1, (DI)(AX*4)
lngDone:
	VZEROUPPER
	RET

// func layerNormGradAddAVX512(gx, x, gr, gamma *float32, n int, m, s, c1, c2 float32)
TEXT ·layerNormGradAddAVX512(SB), NOSPLIT, $0-56
	LNG_ARGS
	LOOP_START
	JZ lngaTail
lngaLoop:
	LNG_BODY
	VMOVUPS (DI)(AX*4), Z6
	VADDPS Z6, Z0, Z0
	VMOVUPS Z0, K1, (DI)(AX*4)
	ADDQ $16, AX
	CMPQ AX, R13
	JLT lngaLoop
lngaTail:
	CMPQ AX, CX
	JGE lngaDone
	TAILMASK
	LNG_BODY
	VMOVUPS.Z (DI)(AX*4), K1, Z6
	VADDPS Z6, Z0, Z0
	VMOVUPS Z0, K1, (DI)(AX*4)
lngaDone:
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

// func affineConstAVX512(d, s *float32, n int, bias, sub, mul, add float32, flags int)
//
// d = s [+ bias (flags&1)] [then (v-sub)*mul + add (flags&2)] [then ReLU
// (flags&4)], each block of 16 under the mask of the elements left.
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
	MOVQ R9, CX
	SUBQ AX, CX
	JLE acDone
	MOVL $0xffff, BX
	CMPQ CX, $16
	JGE acMask
	MOVL $1, BX
	SHLL CX, BX
	DECL BX
acMask:
	KMOVW BX, K1
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
