//go:build amd64 && !purego

#include "textflag.h"

// Winograd F(4, r) transforms for Conv2dWinograd (winograd.go), 16 columns
// (tiles) a register. F(4, 2)'s (alpha = 5) take their matrix: rows of 6
// coefficients, the sixth zero against a zero sixth input register, so
// every row is six multiply-adds; F(4, 3)'s (alpha = 6) are written out
// below. These are not bit-identical to the Go versions (they fuse).

// WINO_DOT6(R) sets Z20 to sum_k R[k] * Zk over k = 0..5, R the float32
// coefficients of one matrix row.
#define WINO_DOT6(R) \
	VBROADCASTSS 0(R), Z21; \
	VMULPS Z21, Z0, Z20; \
	VBROADCASTSS 4(R), Z22; \
	VFMADD231PS Z22, Z1, Z20; \
	VBROADCASTSS 8(R), Z23; \
	VFMADD231PS Z23, Z2, Z20; \
	VBROADCASTSS 12(R), Z24; \
	VFMADD231PS Z24, Z3, Z20; \
	VBROADCASTSS 16(R), Z25; \
	VFMADD231PS Z25, Z4, Z20; \
	VBROADCASTSS 20(R), Z21; \
	VFMADD231PS Z21, Z5, Z20

// WINO_IN_ARGS loads the arguments the input transforms share (dst,
// dstStride, src, off, rowStep, idx, masks at the same offsets): DI dst,
// DX and R8 the strides in bytes, SI src, Z31 the lanes' offsets from src
// (idx + off), AX masks.
#define WINO_IN_ARGS \
	MOVQ         dst+0(FP), DI; \
	MOVQ         dstStride+8(FP), DX; \
	SHLQ         $2, DX; \
	MOVQ         src+16(FP), SI; \
	MOVQ         rowStep+32(FP), R8; \
	SHLQ         $2, R8; \
	MOVQ         idx+48(FP), AX; \
	VMOVDQU32    (AX), Z31; \
	MOVQ         off+24(FP), AX; \
	VPBROADCASTD AX, Z30; \
	VPADDD       Z30, Z31, Z31; \
	MOVQ         masks+56(FP), AX

// WINO_OUT_ARGS loads the arguments the output transforms share (dst, idx,
// masks, src, srcStride at the same offsets): DI dst, Z31 idx, DX masks,
// SI src, R8 the stride in bytes.
#define WINO_OUT_ARGS \
	MOVQ      dst+0(FP), DI; \
	MOVQ      idx+8(FP), AX; \
	VMOVDQU32 (AX), Z31; \
	MOVQ      masks+16(FP), DX; \
	MOVQ      src+24(FP), SI; \
	MOVQ      srcStride+32(FP), R8; \
	SHLQ      $2, R8

// WINO_EPI_SETUP broadcasts the epilogue's bias, sub, mul and add (at AX)
// into Z27..Z30, and into Z26 the floor of its max: 0 when BX (relu) is
// not 0, else -Inf (max(v, -Inf) is v). Clobbers AX and R9.
#define WINO_EPI_SETUP \
	VBROADCASTSS 0(AX), Z27; \
	VBROADCASTSS 4(AX), Z28; \
	VBROADCASTSS 8(AX), Z29; \
	VBROADCASTSS 12(AX), Z30; \
	MOVL         $0xff800000, AX; \
	XORL         R9, R9; \
	TESTQ        BX, BX; \
	CMOVLNE      R9, AX; \
	VPBROADCASTD AX, Z26

// WINO_GATHER(b, Z) sets Z to tap b of the patches' current row, at R9
// (then moved on by the tap step, R14): zero, then a gather masked to the
// columns whose row (K2) and tap column (colMask[b], at 12+2b(AX)) lie in
// the image.
#define WINO_GATHER(b, Z) \
	KMOVW (12+2*b)(AX), K1; \
	KANDW K2, K1, K1; \
	VPXORD Z, Z, Z; \
	VGATHERDPS (R9)(Z31*4), K1, Z; \
	ADDQ R14, R9

// func winoIn5AVX512(dst *float32, dstStride int, src *float32, off, rowStep, tapStep int, idx *int32, masks *uint16, bt *float32, tmp *float32)
TEXT ·winoIn5AVX512(SB), NOSPLIT, $0-80
	WINO_IN_ARGS
	MOVQ bt+64(FP), R10
	MOVQ $5, CX // alpha
	MOVQ tmp+72(FP), R11
	VPXORD Z5, Z5, Z5

	// Rows: tmp[a*6+i] = sum_b bt[i][b] d[a][b], a, i < alpha.
	XORQ R12, R12
	MOVQ R11, R13

winoInRow:
	KMOVW (AX)(R12*2), K2
	MOVQ  SI, R9
	MOVQ  tapStep+40(FP), R14
	SHLQ  $2, R14
	WINO_GATHER(0, Z0)
	WINO_GATHER(1, Z1)
	WINO_GATHER(2, Z2)
	WINO_GATHER(3, Z3)
	WINO_GATHER(4, Z4)
	MOVQ R10, R9
	MOVQ R13, BX
	MOVQ CX, R14

winoInRowT:
	WINO_DOT6(R9)
	VMOVUPS Z20, (BX)
	ADDQ    $24, R9
	ADDQ    $64, BX
	DECQ    R14
	JNZ     winoInRowT
	ADDQ    R8, SI
	ADDQ    $384, R13
	INCQ    R12
	CMPQ    R12, CX
	JLT     winoInRow

	// Columns: dst[(j*alpha+i)*stride] = sum_a bt[j][a] tmp[a*6+i].
	MOVQ  CX, R14
	IMULQ DX, R14
	XORQ  R12, R12
	MOVQ  R11, R13

winoInCol:
	VMOVUPS 0(R13), Z0
	VMOVUPS 384(R13), Z1
	VMOVUPS 768(R13), Z2
	VMOVUPS 1152(R13), Z3
	VMOVUPS 1536(R13), Z4
	VPXORD  Z5, Z5, Z5
	MOVQ    R10, R9
	MOVQ DI, BX
	MOVQ CX, AX

winoInColT:
	WINO_DOT6(R9)
	VMOVUPS Z20, (BX)
	ADDQ    $24, R9
	ADDQ    R14, BX
	DECQ    AX
	JNZ     winoInColT
	ADDQ    DX, DI
	ADDQ    $64, R13
	INCQ    R12
	CMPQ    R12, CX
	JLT     winoInCol
	VZEROUPPER
	RET

// func winoOut5AVX512(dst *float32, idx *int32, masks *uint16, src *float32, srcStride int, at *float32, ow int, ep *float32, relu int, tmp *float32)
TEXT ·winoOut5AVX512(SB), NOSPLIT, $0-80
	WINO_OUT_ARGS
	MOVQ      at+40(FP), R10
	MOVQ      $5, CX // alpha
	MOVQ      ow+48(FP), R12
	SHLQ      $2, R12
	MOVQ      ep+56(FP), AX
	MOVQ      relu+64(FP), BX
	WINO_EPI_SETUP
	MOVQ      tmp+72(FP), R11

	// Rows: tmp[a*4+j] = sum_b at[j][b] m[a*alpha+b], a < alpha, j < 4.
	XORQ R13, R13
	MOVQ SI, BX
	MOVQ R11, R14

winoOutRow:
	VMOVUPS (BX), Z0
	ADDQ    R8, BX
	VMOVUPS (BX), Z1
	ADDQ    R8, BX
	VMOVUPS (BX), Z2
	ADDQ    R8, BX
	VMOVUPS (BX), Z3
	ADDQ    R8, BX
	VMOVUPS (BX), Z4
	ADDQ    R8, BX
	VPXORD  Z5, Z5, Z5
	MOVQ    R10, R9
	MOVQ $4, AX

winoOutRowJ:
	WINO_DOT6(R9)
	VMOVUPS Z20, (R14)
	ADDQ    $24, R9
	ADDQ    $64, R14
	DECQ    AX
	JNZ     winoOutRowJ
	INCQ    R13
	CMPQ    R13, CX
	JLT     winoOutRow

	// Columns: out[i][j] = sum_a at[i][a] tmp[a*4+j], the epilogue, a
	// masked scatter to dst + (i*ow + j) + idx.
	XORQ R13, R13
	MOVQ R11, BX

winoOutCol:
	VMOVUPS 0(BX), Z0
	VMOVUPS 256(BX), Z1
	VMOVUPS 512(BX), Z2
	VMOVUPS 768(BX), Z3
	VMOVUPS 1024(BX), Z4
	VPXORD  Z5, Z5, Z5
	MOVQ    R10, R9
	LEAQ (DI)(R13*4), R14
	LEAQ (DX)(R13*2), AX
	MOVQ $4, SI

winoOutColI:
	WINO_DOT6(R9)
	VADDPS Z27, Z20, Z20
	VSUBPS Z28, Z20, Z20
	VMULPS Z29, Z20, Z20
	VADDPS Z30, Z20, Z20
	VMAXPS Z20, Z26, Z20
	KMOVW  (AX), K1
	VSCATTERDPS Z20, K1, (R14)(Z31*4)
	ADDQ   $24, R9
	ADDQ   R12, R14
	ADDQ   $8, AX
	DECQ   SI
	JNZ    winoOutColI
	ADDQ   $64, BX
	INCQ   R13
	CMPQ   R13, $4
	JLT    winoOutCol
	VZEROUPPER
	RET

// F(4, 3)'s transforms written out (alpha = 6, Lavin and Gray's points 0,
// +-1, +-2): B^T in 12 operations instead of 36 multiply-adds, A^T in 10
// instead of 24. The constants: Z16 4, Z17 -5, Z18 -4, Z19 2 (input);
// Z16 4, Z17 8, Z19 2 (output).

// WINO_BT6 sets Z6..Z11 to B^T (Z0..Z5); clobbers Z12..Z15.
#define WINO_BT6 \
	VMOVAPS     Z4, Z6; \
	VFMADD231PS Z17, Z2, Z6; \
	VFMADD231PS Z16, Z0, Z6; \
	VMOVAPS     Z4, Z12; \
	VFMADD231PS Z18, Z2, Z12; \
	VMOVAPS     Z3, Z13; \
	VFMADD231PS Z18, Z1, Z13; \
	VADDPS      Z12, Z13, Z7; \
	VSUBPS      Z13, Z12, Z8; \
	VSUBPS      Z2, Z4, Z14; \
	VSUBPS      Z1, Z3, Z15; \
	VMOVAPS     Z14, Z9; \
	VFMADD231PS Z19, Z15, Z9; \
	VMOVAPS     Z14, Z10; \
	VFNMADD231PS Z19, Z15, Z10; \
	VMOVAPS     Z5, Z11; \
	VFMADD231PS Z17, Z3, Z11; \
	VFMADD231PS Z16, Z1, Z11

// WINO_AT6 sets Z6..Z9 to A^T (Z0..Z5); clobbers Z12..Z15.
#define WINO_AT6 \
	VADDPS      Z2, Z1, Z12; \
	VSUBPS      Z2, Z1, Z13; \
	VADDPS      Z4, Z3, Z14; \
	VSUBPS      Z4, Z3, Z15; \
	VADDPS      Z12, Z0, Z6; \
	VADDPS      Z14, Z6, Z6; \
	VMOVAPS     Z13, Z7; \
	VFMADD231PS Z19, Z15, Z7; \
	VMOVAPS     Z12, Z8; \
	VFMADD231PS Z16, Z14, Z8; \
	VADDPS      Z5, Z13, Z9; \
	VFMADD231PS Z17, Z15, Z9

// WINO_BCAST(c, Z) broadcasts the float32 constant with bits c into Z.
#define WINO_BCAST(c, Z) \
	MOVL         c, BX; \
	VPBROADCASTD BX, Z

// func winoIn6AVX512(dst *float32, dstStride int, src *float32, off, rowStep, tapStep int, idx *int32, masks *uint16, tmp *float32)
TEXT ·winoIn6AVX512(SB), NOSPLIT, $0-72
	WINO_IN_ARGS
	MOVQ      tmp+64(FP), R11
	WINO_BCAST($0x40800000, Z16) // 4
	WINO_BCAST($0xc0a00000, Z17) // -5
	WINO_BCAST($0xc0800000, Z18) // -4
	WINO_BCAST($0x40000000, Z19) // 2

	// Rows: tmp[a*6+i] = (B^T d[a])[i].
	XORQ R12, R12
	MOVQ R11, R13

winoIn6Row:
	KMOVW (AX)(R12*2), K2
	MOVQ  SI, R9
	MOVQ  tapStep+40(FP), R14
	SHLQ  $2, R14
	WINO_GATHER(0, Z0)
	WINO_GATHER(1, Z1)
	WINO_GATHER(2, Z2)
	WINO_GATHER(3, Z3)
	WINO_GATHER(4, Z4)
	WINO_GATHER(5, Z5)
	WINO_BT6
	VMOVUPS Z6, 0(R13)
	VMOVUPS Z7, 64(R13)
	VMOVUPS Z8, 128(R13)
	VMOVUPS Z9, 192(R13)
	VMOVUPS Z10, 256(R13)
	VMOVUPS Z11, 320(R13)
	ADDQ    R8, SI
	ADDQ    $384, R13
	INCQ    R12
	CMPQ    R12, $6
	JLT     winoIn6Row

	// Columns: dst[(j*6+i)*stride] = (B^T tmp[.][i])[j].
	MOVQ  DX, R14
	IMULQ $6, R14
	XORQ  R12, R12
	MOVQ  R11, R13

winoIn6Col:
	VMOVUPS 0(R13), Z0
	VMOVUPS 384(R13), Z1
	VMOVUPS 768(R13), Z2
	VMOVUPS 1152(R13), Z3
	VMOVUPS 1536(R13), Z4
	VMOVUPS 1920(R13), Z5
	WINO_BT6
	MOVQ    DI, BX
	VMOVUPS Z6, (BX)
	ADDQ    R14, BX
	VMOVUPS Z7, (BX)
	ADDQ    R14, BX
	VMOVUPS Z8, (BX)
	ADDQ    R14, BX
	VMOVUPS Z9, (BX)
	ADDQ    R14, BX
	VMOVUPS Z10, (BX)
	ADDQ    R14, BX
	VMOVUPS Z11, (BX)
	ADDQ    DX, DI
	ADDQ    $64, R13
	INCQ    R12
	CMPQ    R12, $6
	JLT     winoIn6Col
	VZEROUPPER
	RET

// WINO_EPI_SCATTER(Z, i) applies the epilogue to Z (output row i of the
// column pass) and scatters it to R14 + i*ow, masked by masks[i*4+j] at
// AX + 8i.
#define WINO_EPI_SCATTER(Z, i) \
	VADDPS      Z27, Z, Z; \
	VSUBPS      Z28, Z, Z; \
	VMULPS      Z29, Z, Z; \
	VADDPS      Z30, Z, Z; \
	VMAXPS      Z, Z26, Z; \
	KMOVW       (8*i)(AX), K1; \
	VSCATTERDPS Z, K1, (R14)(Z31*4); \
	ADDQ        R12, R14

// func winoOut6AVX512(dst *float32, idx *int32, masks *uint16, src *float32, srcStride int, ow int, ep *float32, relu int, tmp *float32)
TEXT ·winoOut6AVX512(SB), NOSPLIT, $0-72
	WINO_OUT_ARGS
	MOVQ      ow+40(FP), R12
	SHLQ      $2, R12
	MOVQ      ep+48(FP), AX
	MOVQ      relu+56(FP), BX
	WINO_EPI_SETUP
	MOVQ      tmp+64(FP), R11
	WINO_BCAST($0x40800000, Z16) // 4
	WINO_BCAST($0x41000000, Z17) // 8
	WINO_BCAST($0x40000000, Z19) // 2

	// Rows: tmp[a*4+j] = (A^T m[a])[j].
	XORQ R13, R13
	MOVQ SI, BX
	MOVQ R11, R14

winoOut6Row:
	VMOVUPS (BX), Z0
	ADDQ    R8, BX
	VMOVUPS (BX), Z1
	ADDQ    R8, BX
	VMOVUPS (BX), Z2
	ADDQ    R8, BX
	VMOVUPS (BX), Z3
	ADDQ    R8, BX
	VMOVUPS (BX), Z4
	ADDQ    R8, BX
	VMOVUPS (BX), Z5
	ADDQ    R8, BX
	WINO_AT6
	VMOVUPS Z6, 0(R14)
	VMOVUPS Z7, 64(R14)
	VMOVUPS Z8, 128(R14)
	VMOVUPS Z9, 192(R14)
	ADDQ    $256, R14
	INCQ    R13
	CMPQ    R13, $6
	JLT     winoOut6Row

	// Columns: out[i][j] = (A^T tmp[.][j])[i], the epilogue, a masked
	// scatter.
	XORQ R13, R13
	MOVQ R11, BX

winoOut6Col:
	VMOVUPS 0(BX), Z0
	VMOVUPS 256(BX), Z1
	VMOVUPS 512(BX), Z2
	VMOVUPS 768(BX), Z3
	VMOVUPS 1024(BX), Z4
	VMOVUPS 1280(BX), Z5
	WINO_AT6
	LEAQ    (DI)(R13*4), R14
	LEAQ    (DX)(R13*2), AX
	WINO_EPI_SCATTER(Z6, 0)
	WINO_EPI_SCATTER(Z7, 1)
	WINO_EPI_SCATTER(Z8, 2)
	WINO_EPI_SCATTER(Z9, 3)
	ADDQ    $64, BX
	INCQ    R13
	CMPQ    R13, $4
	JLT     winoOut6Col
	VZEROUPPER
	RET
