// Package kernels holds the numeric kernels of the project: a packed,
// cache-blocked single-precision GEMM (Sgemm) with AVX-512 and AVX2/FMA
// assembly micro-kernels on amd64 and a portable Go one elsewhere (or with
// the purego build tag), the convolution and pooling helpers built on it,
// the element-wise kernels of the training step (AdamUpdate, ReLU and its
// backward passes, BatchNorm's and LayerNorm's row passes NormApply,
// NormGrad, LayerNormApply and their kin, and SoftplusNeg, the JSD and GAN
// terms; AVX-512 assembly, bit-identical to the scalar Go loops),
// and the persistent worker pool (ParallelFor) that runs them on all cores.
package kernels
