package encoder

import "github.com/deepinfomax/deepinfomax/tensor"

// ResNetArchs are the ResNets of the reference (rdevon/DIM
// cortex_DIM/configs/resnets.py, the layer-list version;
// cortex_DIM/nn_modules/resnet.py), for 32x32 images. Every one starts with a 3x3/2 convolution of 64 channels and
// continues with bottleneck blocks (1x1 of width w, 3x3 of width w and
// stride s, 1x1 of 4w, plus a shortcut) in five stages, w = 64, 128 (stride
// 2), 128, 256 (stride 2), 256; then a hidden linear layer of 1024 units
// and Y.
//
//	resnet19_32x32      stage repeats 2, 1, 1, 1, 1 (6 blocks, 19 convolutions)
//	resnet34_32x32      3, 1, 5, 1, 2 (12 blocks; the reference's _resnet37_32x32,
//	                    registered there as resnet34_32x32)
//	foldresnet19_32x32  resnet19 on the 49 overlapping 8x8 crops (stride 4) of
//	                    the image, each ending as 1x1x1024, folded into a 7x7 map
//	foldresnet34_32x32  resnet34's blocks on the crops, likewise folded
//
// Layer indices and taps (the reference's local_task_idx and
// classifier_idx; Y is the top layer its controller appends):
//
//	resnet19/34:      0 conv, 1-5 stages, 6 flatten, 7 fc, 8 Y
//	                  local = layer 2 (first 128 block) 512x8x8, conv = layer 5
//	                  (last block) 1024x4x4, fc = layer 7, y = layer 8
//	foldresnet19/34:  0 unfold, 1 conv, 2-6 stages, 7 fold, 8 flatten, 9 fc, 10 Y
//	                  local = conv = layer 7 (the folded map) 1024x7x7,
//	                  fc = layer 9, y = layer 10
//
// A choice: the reference's final foldresnet34_32x32 (_foldresnet37_32x32,
// "used in the CIFAR10 CPC comparison") has repeat 0 for the two strided
// stages, so each crop ends as a 4x4x1024 map. Its Fold then makes a
// 16384x7x7 map while the next layers are sized for 1024x7x7, and its
// flatten silently turns each image into 16 rows. That is not reproducible
// as meant; foldresnet34_32x32 here uses the blocks of resnet34 (as the
// earlier version of the reference's foldresnet34_32x32 did, commit
// 76a443c), so that each crop ends at 1x1 and the fold is the 1024x7x7 map
// the later layers expect.
var ResNetArchs = map[string]LayerArch{
	"resnet19_32x32":     resnetArch("resnet19_32x32", false, [5]int{2, 1, 1, 1, 1}),
	"resnet34_32x32":     resnetArch("resnet34_32x32", false, [5]int{3, 1, 5, 1, 2}),
	"foldresnet19_32x32": resnetArch("foldresnet19_32x32", true, [5]int{2, 1, 1, 1, 1}),
	"foldresnet34_32x32": resnetArch("foldresnet34_32x32", true, [5]int{3, 1, 5, 1, 2}),
}

// bottleneck is the convolutions of the reference's ResNet blocks: 1x1 of
// width, 3x3 of width with stride, 1x1 of 4*width.
func bottleneck(width, stride int) []ConvSpec {
	return []ConvSpec{
		{Out: width, Kernel: 1, Stride: 1},
		{Out: width, Kernel: 3, Stride: stride, Pad: 1},
		{Out: 4 * width, Kernel: 1, Stride: 1},
	}
}

// resnetArch returns a reference ResNet for 3x32x32 images with the given
// stage repeats, folded (8x8 crops) or not.
func resnetArch(name string, folded bool, repeats [5]int) LayerArch {
	a := LayerArch{Name: name, Channels: 3, Size: 32, Out: 64}
	if folded {
		a.Crop = 8
		a.Layers = append(a.Layers, LayerSpec{Kind: LayerUnfold})
	}
	a.Layers = append(a.Layers, LayerSpec{Kind: LayerConv, Conv: ConvSpec{Out: 64, Kernel: 3, Stride: 2, Pad: 1}})
	for i, st := range []struct{ width, stride int }{{64, 1}, {128, 2}, {128, 1}, {256, 2}, {256, 1}} {
		a.Layers = append(a.Layers, LayerSpec{Kind: LayerResBlock, Block: bottleneck(st.width, st.stride), Repeat: repeats[i]})
	}
	if folded {
		a.Layers = append(a.Layers, LayerSpec{Kind: LayerFold})
		a.Local, a.Conv = 7, 7
	} else {
		a.Local, a.Conv = 2, 5
	}
	a.Layers = append(a.Layers, LayerSpec{Kind: LayerFlatten}, LayerSpec{Kind: LayerLinear, Units: 1024})
	a.FC = len(a.Layers) - 1
	return a
}

func init() {
	docs := map[string]string{
		"resnet19_32x32":     "CIFAR ResNet: conv 64 3x3/2, 6 bottleneck blocks (64x2, 128/2, 128, 256/2, 256), fc 1024, Y 64; local map 8x8x512, conv 4x4x1024",
		"resnet34_32x32":     "CIFAR ResNet: conv 64 3x3/2, 12 bottleneck blocks (64x3, 128/2, 128x5, 256/2, 256x2), fc 1024, Y 64; local map 8x8x512, conv 4x4x1024",
		"foldresnet19_32x32": "resnet19_32x32 on 49 overlapping 8x8 crops (stride 4) folded into a 7x7x1024 map (local and conv), fc 1024, Y 64",
		"foldresnet34_32x32": "resnet34_32x32 on 49 overlapping 8x8 crops (stride 4) folded into a 7x7x1024 map (local and conv), fc 1024, Y 64",
	}
	for name, a := range ResNetArchs {
		a := a
		if err := Register(name, docs[name], func(s Spec, rng *tensor.RNG) (Encoder, error) { return NewLayerNet(a, s, rng) }); err != nil {
			panic(err) // a duplicate name in this package: a programming error caught by any test
		}
	}
}
