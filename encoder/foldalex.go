package encoder

import "github.com/deepinfomax/deepinfomax/tensor"

// The folded AlexNet of the reference for STL-10 (64x64 images, resized),
// with multiple globals (cortex_DIM/configs/convnets.py,
// _foldmultialex64x64; the README's STL-10 command): the image is cut into
// 49 overlapping 16x16 crops (stride 8), each goes through five AlexNet
// convolutions (96, 192 with 3x3/2 max pools, 384, 384, 192 with a pool) to
// 1x1x192; the crops are folded into a 7x7x192 map, then a 3x3 convolution
// (no padding) and a 1x1 convolution of 192 make a 5x5x192 map: 25 global
// features. Layers and taps (local_task_idx = (6, 8), classifier_idx conv 6,
// glob 8):
//
//	0 unfold, 1-5 conv, 6 fold, 7 conv 192 3x3, 8 conv 192 1x1, 9 Y
//	local = conv = layer 6, 192x7x7; globals (extra tap) = layer 8, 192x5x5;
//	fc = layer 8 flattened (4800), y = layer 9 (64)
//
// Choices: the reference has no hidden linear layer here, so the fc tap is
// the globals map flattened (the input of Y). Y is the Linear of Out units
// the reference's controller appends by default (output_units = 64; the
// README's STL-10 run sets it to 0 and scores the globals map instead).
var foldMultiAlex = LayerArch{
	Name: "foldmultialex64x64", Channels: 3, Size: 64, Crop: 16, Out: 64,
	Layers: []LayerSpec{
		{Kind: LayerUnfold},
		{Kind: LayerConv, Conv: ConvSpec{Out: 96, Kernel: 3, Stride: 1, Pad: 1, PoolKernel: 3, PoolStride: 2}},
		{Kind: LayerConv, Conv: ConvSpec{Out: 192, Kernel: 3, Stride: 1, Pad: 1, PoolKernel: 3, PoolStride: 2}},
		{Kind: LayerConv, Conv: ConvSpec{Out: 384, Kernel: 3, Stride: 1, Pad: 1}},
		{Kind: LayerConv, Conv: ConvSpec{Out: 384, Kernel: 3, Stride: 1, Pad: 1}},
		{Kind: LayerConv, Conv: ConvSpec{Out: 192, Kernel: 3, Stride: 1, Pad: 1, PoolKernel: 3, PoolStride: 2}},
		{Kind: LayerFold},
		{Kind: LayerConv, Conv: ConvSpec{Out: 192, Kernel: 3, Stride: 1, Pad: 0}},
		{Kind: LayerConv, Conv: ConvSpec{Out: 192, Kernel: 1, Stride: 1, Pad: 0}},
	},
	Local: 6, Conv: 6, FC: 8, Globals: 8,
}

func init() {
	a := foldMultiAlex
	doc := "STL-10 folded AlexNet with multiple globals: 49 16x16 crops through 5 convs, folded to a 7x7x192 local map, 2 convs to a 5x5x192 globals map, Y 64"
	if err := Register(a.Name, doc, func(s Spec, rng *tensor.RNG) (Encoder, error) { return NewLayerNet(a, s, rng) }); err != nil {
		panic(err) // a duplicate name in this package: a programming error caught by any test
	}
}
