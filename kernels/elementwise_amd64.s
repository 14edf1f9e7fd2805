//go:build amd64 && !purego

#include "textflag.h"

// Element-wise kernels for CPUs with AVX-512F: 16 float32 lanes a
// register, a masked last block for the n % 16 trailing elements.
//
// Results must be bit-identical to the scalar Go loops of elementwise.go
// (and of optim.Adam), so every operation is a separately rounded
// VADDPS/VSUBPS/VMULPS/VDIVPS/VSQRTPS (no FMA: the Go build is GOAMD64=v1
// and never fuses), in the order of the Go expression. When both operands
// of an SSE/AVX operation are NaNs the result is the first source operand's
// (quietened), so the operand order here also copies the one the Go
// compiler (1.26) chose for each scalar instruction (Go syntax: OP src2,
// src1, dst computes dst = src1 OP src2); it only matters for two NaNs with
// different payloads.

// Adam's per-step constants, broadcast once (offsets in AdamScalars):
// Z16 StepSize, Z17 InvBC2, Z18 B2, Z19 OB1, Z20 OB2, Z21 Eps, Z22 L2,
// Z23 Decay.

// ADAM_MV updates the moments M and V from the gradient G:
//	M = (G - M)*OB1 + M
//	V = (OB2*G)*G + V*B2
// the operand order of the compiled `md[j] + ob1*(g-md[j])` and
// `b2*vd[j] + ob2*g*g` of the default and decoupled-decay loops.
#define ADAM_MV(G, M, V, T) \
	VSUBPS M, G, T; \
	VMULPS Z19, T, T; \
	VADDPS M, T, M; \
	VMULPS Z18, V, V; \
	VMULPS G, Z20, T; \
	VMULPS G, T, T; \
	VADDPS V, T, V

// ADAM_MV_L2 is ADAM_MV for the L2 loop, after G = L2*P + G:
//	M = (G - M)*OB1 + M
//	V = G*(G*OB2) + V*B2
// (there the compiler multiplied the other way round).
#define ADAM_MV_L2(G, M, V, T) \
	VSUBPS M, G, T; \
	VMULPS Z19, T, T; \
	VADDPS M, T, M; \
	VMULPS Z18, V, V; \
	VMULPS Z20, G, T; \
	VMULPS T, G, T; \
	VADDPS V, T, V

// ADAM_P updates the parameters P from the new moments M and V, leaving
// them intact:
//	P = P - (M*StepSize) / (sqrt(V)*InvBC2 + Eps)
#define ADAM_P(P, M, V, T, U) \
	VMULPS Z16, M, T; \
	VSQRTPS V, U; \
	VMULPS Z17, U, U; \
	VADDPS Z21, U, U; \
	VDIVPS U, T, T; \
	VSUBPS T, P, P

// ADAM_LOAD loads 16 elements at index AX: Z0 = g, Z1 = m, Z2 = v, Z3 = p.
#define ADAM_LOAD \
	VMOVUPS (SI)(AX*4), Z0; \
	VMOVUPS (DX)(AX*4), Z1; \
	VMOVUPS (R8)(AX*4), Z2; \
	VMOVUPS (DI)(AX*4), Z3

// ADAM_LOAD_MASKED loads the lanes of K1 at index AX, zeroing the others.
#define ADAM_LOAD_MASKED \
	VMOVUPS.Z (SI)(AX*4), K1, Z0; \
	VMOVUPS.Z (DX)(AX*4), K1, Z1; \
	VMOVUPS.Z (R8)(AX*4), K1, Z2; \
	VMOVUPS.Z (DI)(AX*4), K1, Z3

// ADAM_STORE stores m = Z1, v = Z2, p = Z3 at index AX.
#define ADAM_STORE \
	VMOVUPS Z1, (DX)(AX*4); \
	VMOVUPS Z2, (R8)(AX*4); \
	VMOVUPS Z3, (DI)(AX*4)

// ADAM_STORE_MASKED stores the lanes of K1 of m, v and p at index AX.
#define ADAM_STORE_MASKED \
	VMOVUPS Z1, K1, (DX)(AX*4); \
	VMOVUPS Z2, K1, (R8)(AX*4); \
	VMOVUPS Z3, K1, (DI)(AX*4)

// TAIL_MASK sets K1 to the lanes of the CX - AX (1 to 15) elements left.
// Clobbers CX and BX.
#define TAIL_MASK \
	SUBQ AX, CX; \
	MOVL $1, BX; \
	SHLL CX, BX; \
	DECL BX; \
	KMOVW BX, K1

// func adamAVX512(p, gr, m, v *float32, n int, s *AdamScalars, variant int)
TEXT ·adamAVX512(SB), NOSPLIT, $0-56
	MOVQ p+0(FP), DI
	MOVQ gr+8(FP), SI
	MOVQ m+16(FP), DX
	MOVQ v+24(FP), R8
	MOVQ n+32(FP), CX
	MOVQ s+40(FP), BX
	VBROADCASTSS 0(BX), Z16
	VBROADCASTSS 4(BX), Z17
	VBROADCASTSS 8(BX), Z18
	VBROADCASTSS 12(BX), Z19
	VBROADCASTSS 16(BX), Z20
	VBROADCASTSS 20(BX), Z21
	VBROADCASTSS 24(BX), Z22
	VBROADCASTSS 28(BX), Z23
	XORQ AX, AX
	MOVQ CX, R9
	ANDQ $-16, R9
	MOVQ variant+48(FP), BX
	CMPQ BX, $1
	JEQ decay
	JGT l2

	// Default: no weight decay.
	CMPQ AX, R9
	JGE defTail
defLoop:
	ADAM_LOAD
	ADAM_MV(Z0, Z1, Z2, Z4)
	ADAM_P(Z3, Z1, Z2, Z4, Z5)
	ADAM_STORE
	ADDQ $16, AX
	CMPQ AX, R9
	JLT defLoop
defTail:
	CMPQ AX, CX
	JGE done
	TAIL_MASK
	ADAM_LOAD_MASKED
	ADAM_MV(Z0, Z1, Z2, Z4)
	ADAM_P(Z3, Z1, Z2, Z4, Z5)
	ADAM_STORE_MASKED
	JMP done

	// Decoupled decay: p *= Decay first.
decay:
	CMPQ AX, R9
	JGE decayTail
decayLoop:
	ADAM_LOAD
	VMULPS Z23, Z3, Z3
	ADAM_MV(Z0, Z1, Z2, Z4)
	ADAM_P(Z3, Z1, Z2, Z4, Z5)
	ADAM_STORE
	ADDQ $16, AX
	CMPQ AX, R9
	JLT decayLoop
decayTail:
	CMPQ AX, CX
	JGE done
	TAIL_MASK
	ADAM_LOAD_MASKED
	VMULPS Z23, Z3, Z3
	ADAM_MV(Z0, Z1, Z2, Z4)
	ADAM_P(Z3, Z1, Z2, Z4, Z5)
	ADAM_STORE_MASKED
	JMP done

	// L2 penalty: g' = L2*p + g.
l2:
	CMPQ AX, R9
	JGE l2Tail
l2Loop:
	ADAM_LOAD
	VMULPS Z3, Z22, Z4
	VADDPS Z0, Z4, Z0
	ADAM_MV_L2(Z0, Z1, Z2, Z4)
	ADAM_P(Z3, Z1, Z2, Z4, Z5)
	ADAM_STORE
	ADDQ $16, AX
	CMPQ AX, R9
	JLT l2Loop
l2Tail:
	CMPQ AX, CX
	JGE done
	TAIL_MASK
	ADAM_LOAD_MASKED
	VMULPS Z3, Z22, Z4
	VADDPS Z0, Z4, Z0
	ADAM_MV_L2(Z0, Z1, Z2, Z4)
	ADAM_P(Z3, Z1, Z2, Z4, Z5)
	ADAM_STORE_MASKED

done:
	VZEROUPPER
	RET

// func reluAVX512(dst, x *float32, n int)
//
// dst = x where !(x <= 0) (x > 0 or NaN), with the sign bit cleared (only
// a NaN can have it there), and +0 elsewhere: Go's max(x, 0), whose amd64
// lowering returns a NaN input with its sign cleared, payload intact.
// Predicate 0x16 is NLE_UQ (true when unordered, no exception on QNaN).
TEXT ·reluAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	MOVL $0x7fffffff, AX
	VPBROADCASTD AX, Z31
	VPXORD Z30, Z30, Z30
	XORQ AX, AX
	MOVQ CX, R9
	ANDQ $-64, R9
	JZ relu16
relu64:
	VMOVUPS (SI)(AX*4), Z0
	VMOVUPS 64(SI)(AX*4), Z1
	VMOVUPS 128(SI)(AX*4), Z2
	VMOVUPS 192(SI)(AX*4), Z3
	VCMPPS $0x16, Z30, Z0, K1
	VCMPPS $0x16, Z30, Z1, K2
	VCMPPS $0x16, Z30, Z2, K3
	VCMPPS $0x16, Z30, Z3, K4
	VPANDD.Z Z31, Z0, K1, Z0
	VPANDD.Z Z31, Z1, K2, Z1
	VPANDD.Z Z31, Z2, K3, Z2
	VPANDD.Z Z31, Z3, K4, Z3
	VMOVUPS Z0, (DI)(AX*4)
	VMOVUPS Z1, 64(DI)(AX*4)
	VMOVUPS Z2, 128(DI)(AX*4)
	VMOVUPS Z3, 192(DI)(AX*4)
	ADDQ $64, AX
	CMPQ AX, R9
	JLT relu64
relu16:
	MOVQ CX, R9
	ANDQ $-16, R9
	CMPQ AX, R9
	JGE reluTail
relu16Loop:
	VMOVUPS (SI)(AX*4), Z0
	VCMPPS $0x16, Z30, Z0, K1
	VPANDD.Z Z31, Z0, K1, Z0
	VMOVUPS Z0, (DI)(AX*4)
	ADDQ $16, AX
	CMPQ AX, R9
	JLT relu16Loop
reluTail:
	CMPQ AX, CX
	JGE reluDone
	TAIL_MASK
	VMOVUPS.Z (SI)(AX*4), K1, Z0
	VCMPPS $0x16, Z30, Z0, K1, K2
	VPANDD.Z Z31, Z0, K2, Z0
	VMOVUPS Z0, K1, (DI)(AX*4)
reluDone:
	VZEROUPPER
	RET

// func reluBackwardAVX512(gx, gr, y *float32, n int)
//
// gx = g where y > 0 (predicate 0x1e, GT_OQ: false for NaN), +0 elsewhere;
// g is only moved, so its bits are kept.
TEXT ·reluBackwardAVX512(SB), NOSPLIT, $0-32
	MOVQ gx+0(FP), DI
	MOVQ gr+8(FP), SI
	MOVQ y+16(FP), R8
	MOVQ n+24(FP), CX
	VPXORD Z30, Z30, Z30
	XORQ AX, AX
	MOVQ CX, R9
	ANDQ $-64, R9
	JZ rb16
rb64:
	VMOVUPS (R8)(AX*4), Z0
	VMOVUPS 64(R8)(AX*4), Z1
	VMOVUPS 128(R8)(AX*4), Z2
	VMOVUPS 192(R8)(AX*4), Z3
	VCMPPS $0x1e, Z30, Z0, K1
	VCMPPS $0x1e, Z30, Z1, K2
	VCMPPS $0x1e, Z30, Z2, K3
	VCMPPS $0x1e, Z30, Z3, K4
	VMOVUPS.Z (SI)(AX*4), K1, Z4
	VMOVUPS.Z 64(SI)(AX*4), K2, Z5
	VMOVUPS.Z 128(SI)(AX*4), K3, Z6
	VMOVUPS.Z 192(SI)(AX*4), K4, Z7
	VMOVUPS Z4, (DI)(AX*4)
	VMOVUPS Z5, 64(DI)(AX*4)
	VMOVUPS Z6, 128(DI)(AX*4)
	VMOVUPS Z7, 192(DI)(AX*4)
	ADDQ $64, AX
	CMPQ AX, R9
	JLT rb64
rb16:
	MOVQ CX, R9
	ANDQ $-16, R9
	CMPQ AX, R9
	JGE rbTail
rb16Loop:
	VMOVUPS (R8)(AX*4), Z0
	VCMPPS $0x1e, Z30, Z0, K1
	VMOVUPS.Z (SI)(AX*4), K1, Z4
	VMOVUPS Z4, (DI)(AX*4)
	ADDQ $16, AX
	CMPQ AX, R9
	JLT rb16Loop
rbTail:
	CMPQ AX, CX
	JGE rbDone
	TAIL_MASK
	VMOVUPS.Z (R8)(AX*4), K1, Z0
	VCMPPS $0x1e, Z30, Z0, K1, K2
	VMOVUPS.Z (SI)(AX*4), K2, Z4
	VMOVUPS Z4, K1, (DI)(AX*4)
rbDone:
	VZEROUPPER
	RET

// func reluBackwardAddAVX512(gx, gr, y *float32, n int)
//
// gx = g + gx where y > 0 (GT_OQ), gx unchanged elsewhere: the compiled
// `gx[i] += v` adds with g as the first source operand.
TEXT ·reluBackwardAddAVX512(SB), NOSPLIT, $0-32
	MOVQ gx+0(FP), DI
	MOVQ gr+8(FP), SI
	MOVQ y+16(FP), R8
	MOVQ n+24(FP), CX
	VPXORD Z30, Z30, Z30
	XORQ AX, AX
	MOVQ CX, R9
	ANDQ $-64, R9
	JZ ra16
ra64:
	VMOVUPS (R8)(AX*4), Z0
	VMOVUPS 64(R8)(AX*4), Z1
	VMOVUPS 128(R8)(AX*4), Z2
	VMOVUPS 192(R8)(AX*4), Z3
	VCMPPS $0x1e, Z30, Z0, K1
	VCMPPS $0x1e, Z30, Z1, K2
	VCMPPS $0x1e, Z30, Z2, K3
	VCMPPS $0x1e, Z30, Z3, K4
	VMOVUPS (SI)(AX*4), Z4
	VMOVUPS 64(SI)(AX*4), Z5
	VMOVUPS 128(SI)(AX*4), Z6
	VMOVUPS 192(SI)(AX*4), Z7
	VMOVUPS (DI)(AX*4), Z8
	VMOVUPS 64(DI)(AX*4), Z9
	VMOVUPS 128(DI)(AX*4), Z10
	VMOVUPS 192(DI)(AX*4), Z11
	VADDPS Z8, Z4, K1, Z8
	VADDPS Z9, Z5, K2, Z9
	VADDPS Z10, Z6, K3, Z10
	VADDPS Z11, Z7, K4, Z11
	VMOVUPS Z8, (DI)(AX*4)
	VMOVUPS Z9, 64(DI)(AX*4)
	VMOVUPS Z10, 128(DI)(AX*4)
	VMOVUPS Z11, 192(DI)(AX*4)
	ADDQ $64, AX
	CMPQ AX, R9
	JLT ra64
ra16:
	MOVQ CX, R9
	ANDQ $-16, R9
	CMPQ AX, R9
	JGE raTail
ra16Loop:
	VMOVUPS (R8)(AX*4), Z0
	VCMPPS $0x1e, Z30, Z0, K1
	VMOVUPS (SI)(AX*4), Z4
	VMOVUPS (DI)(AX*4), Z8
	VADDPS Z8, Z4, K1, Z8
	VMOVUPS Z8, (DI)(AX*4)
	ADDQ $16, AX
	CMPQ AX, R9
	JLT ra16Loop
raTail:
	CMPQ AX, CX
	JGE raDone
	TAIL_MASK
	VMOVUPS.Z (R8)(AX*4), K1, Z0
	VCMPPS $0x1e, Z30, Z0, K1, K2
	VMOVUPS.Z (SI)(AX*4), K1, Z4
	VMOVUPS.Z (DI)(AX*4), K1, Z8
	VADDPS Z8, Z4, K2, Z8
	VMOVUPS Z8, K1, (DI)(AX*4)
raDone:
	VZEROUPPER
	RET

// func gatherAVX512(dst, src *float32, idx *int32, n int)
//
// dst[i] = src[idx[i]] for i < n, and +0 where idx[i] < 0: 16 lanes a
// VGATHERDPS, masked to the non-negative indices (the other lanes keep the
// zero the register was cleared to), a masked last block.
TEXT ·gatherAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ idx+16(FP), DX
	MOVQ n+24(FP), CX
	VPXORD Z30, Z30, Z30
	XORQ AX, AX
	MOVQ CX, R9
	ANDQ $-16, R9
	JZ gatherTail
gather16:
	VMOVDQU32 (DX)(AX*4), Z0
	VPCMPD $5, Z30, Z0, K1
	VPXORD Z1, Z1, Z1
	VGATHERDPS (SI)(Z0*4), K1, Z1
	VMOVUPS Z1, (DI)(AX*4)
	ADDQ $16, AX
	CMPQ AX, R9
	JLT gather16
gatherTail:
	CMPQ AX, CX
	JGE gatherDone
	TAIL_MASK
	VMOVDQU32.Z (DX)(AX*4), K1, Z0
	VPCMPD $5, Z30, Z0, K1, K2
	VPXORD Z1, Z1, Z1
	VGATHERDPS (SI)(Z0*4), K2, Z1
	VMOVUPS Z1, K1, (DI)(AX*4)
gatherDone:
	VZEROUPPER
	RET

// func allFiniteAVX512(x *float32, n int) bool
//
// Reports whether no element of x[:n] has an all-ones exponent (Inf or
// NaN): 16 lanes a compare of the exponent bits, the first hit ends the
// scan; a masked (zeroing) last block.
TEXT ·allFiniteAVX512(SB), NOSPLIT, $0-17
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVL $0x7f800000, AX
	VPBROADCASTD AX, Z31
	XORQ AX, AX
	MOVQ CX, R9
	ANDQ $-16, R9
finite16:
	CMPQ AX, R9
	JGE finiteTail
	VPANDD (SI)(AX*4), Z31, Z0
	VPCMPEQD Z31, Z0, K1
	KORTESTW K1, K1
	JNZ finiteNo
	ADDQ $16, AX
	JMP finite16
finiteTail:
	CMPQ AX, CX
	JGE finiteYes
	TAIL_MASK
	VMOVDQU32.Z (SI)(AX*4), K1, Z0
	VPANDD Z31, Z0, Z0
	VPCMPEQD Z31, Z0, K2
	KORTESTW K2, K2
	JNZ finiteNo
finiteYes:
	MOVB $1, ret+16(FP)
	VZEROUPPER
	RET
finiteNo:
	MOVB $0, ret+16(FP)
	VZEROUPPER
	RET

// func col2imRowsAVX512(dst *float32, w, h int, rows *col2imEntry, rowStart *int32, src *float32, np int)
//
// For each of the h rows of dst (w <= 16 floats): the row in Z0, then for
// each of its plan's entries (kk, off, mask) in order, the popcount(mask)
// floats at src[kk*np+off] expanded into the lanes of mask and added to
// those lanes only; the row stored back.
TEXT ·col2imRowsAVX512(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), CX
	MOVQ h+16(FP), R9
	MOVQ rows+24(FP), R10
	MOVQ rowStart+32(FP), R11
	MOVQ src+40(FP), SI
	MOVQ np+48(FP), R12
	MOVL $1, BX
	SHLL CX, BX
	DECL BX
	KMOVW BX, K1 // the row's w lanes
	SHLQ $2, CX  // the row's bytes
	XORQ R13, R13 // iy
c2irow:
	CMPQ R13, R9
	JGE c2idone
	VMOVUPS.Z (DI), K1, Z0
	MOVLQSX (R11)(R13*4), AX  // first entry
	MOVLQSX 4(R11)(R13*4), R8 // end
c2ient:
	CMPQ AX, R8
	JGE c2istore
	LEAQ (AX)(AX*2), DX
	MOVLQSX (R10)(DX*4), BX   // kk
	IMULQ R12, BX
	MOVLQSX 4(R10)(DX*4), R14 // off
	ADDQ R14, BX
	MOVL 8(R10)(DX*4), R14    // mask
	KMOVW R14, K2
	VEXPANDPS.Z (SI)(BX*4), K2, Z1
	VADDPS Z1, Z0, K2, Z0
	INCQ AX
	JMP c2ient
c2istore:
	VMOVUPS Z0, K1, (DI)
	ADDQ CX, DI
	INCQ R13
	JMP c2irow
c2idone:
	VZEROUPPER
	RET

// func addAVX512(dst, a, b *float32, n int)
// dst[i] = a[i] + b[i] for i < n (dst may be a or b).
TEXT ·addAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), R8
	MOVQ n+24(FP), CX
	XORQ AX, AX
	MOVQ CX, R9
	ANDQ $-64, R9
	JZ add16
add64:
	VMOVUPS (SI)(AX*4), Z0
	VMOVUPS 64(SI)(AX*4), Z1
	VMOVUPS 128(SI)(AX*4), Z2
	VMOVUPS 192(SI)(AX*4), Z3
	VADDPS (R8)(AX*4), Z0, Z0
	VADDPS 64(R8)(AX*4), Z1, Z1
	VADDPS 128(R8)(AX*4), Z2, Z2
	VADDPS 192(R8)(AX*4), Z3, Z3
	VMOVUPS Z0, (DI)(AX*4)
	VMOVUPS Z1, 64(DI)(AX*4)
	VMOVUPS Z2, 128(DI)(AX*4)
	VMOVUPS Z3, 192(DI)(AX*4)
	ADDQ $64, AX
	CMPQ AX, R9
	JLT add64
add16:
	MOVQ CX, R9
	ANDQ $-16, R9
	CMPQ AX, R9
	JGE addTail
add16Loop:
	VMOVUPS (SI)(AX*4), Z0
	VADDPS (R8)(AX*4), Z0, Z0
	VMOVUPS Z0, (DI)(AX*4)
	ADDQ $16, AX
	CMPQ AX, R9
	JLT add16Loop
addTail:
	CMPQ AX, CX
	JGE addDone
	TAIL_MASK
	VMOVUPS.Z (SI)(AX*4), K1, Z0
	VMOVUPS.Z (R8)(AX*4), K1, Z1
	VADDPS Z1, Z0, Z0
	VMOVUPS Z0, K1, (DI)(AX*4)
addDone:
	VZEROUPPER
	RET
