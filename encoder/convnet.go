package encoder

import (
	"encoding/json"
	"fmt"
	"iter"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// ConvSpec is one convolutional layer of a ConvNet: a convolution followed
// by BatchNorm and ReLU, then optional max pooling.
type ConvSpec struct {
	Out, Kernel, Stride, Pad int
	// PoolKernel and PoolStride add a max pool after the ReLU when non-zero.
	PoolKernel, PoolStride int
}

// Arch describes a convolutional encoder of the reference code:
// convolutions, fully connected hidden layers (each Linear, BatchNorm,
// ReLU) and a linear output Y.
type Arch struct {
	Name         string
	Channels     int // input channels
	Size         int // input height and width
	Convs        []ConvSpec
	FCs          []int
	Out          int
	LocalLayer   int // index into Convs of the local feature map
	FeatureLayer int // index into Convs of the "conv" classifier features
}

// Archs are the reference code's convnets (cortex_DIM/configs/convnets.py),
// by name; each is registered as an encoder.
var Archs = map[string]Arch{
	"basic28x28": {
		Name: "basic28x28", Channels: 1, Size: 28,
		Convs: []ConvSpec{{Out: 64, Kernel: 5, Stride: 2, Pad: 2}, {Out: 128, Kernel: 5, Stride: 2, Pad: 2}},
		FCs:   []int{1024}, Out: 64, LocalLayer: 1, FeatureLayer: 1,
	},
	"basic32x32": {
		Name: "basic32x32", Channels: 3, Size: 32,
		Convs: []ConvSpec{{Out: 64, Kernel: 4, Stride: 2, Pad: 1}, {Out: 128, Kernel: 4, Stride: 2, Pad: 1}, {Out: 256, Kernel: 4, Stride: 2, Pad: 1}},
		FCs:   []int{1024}, Out: 64, LocalLayer: 1, FeatureLayer: 2,
	},
	"basic64x64": {
		Name: "basic64x64", Channels: 3, Size: 64,
		Convs: []ConvSpec{{Out: 64, Kernel: 4, Stride: 2, Pad: 1}, {Out: 128, Kernel: 4, Stride: 2, Pad: 1}, {Out: 256, Kernel: 4, Stride: 2, Pad: 1}, {Out: 512, Kernel: 4, Stride: 2, Pad: 1}},
		FCs:   []int{1024}, Out: 64, LocalLayer: 2, FeatureLayer: 3,
	},
	"alex64x64": {
		Name: "alex64x64", Channels: 3, Size: 64,
		Convs: []ConvSpec{
			{Out: 96, Kernel: 3, Stride: 1, Pad: 1, PoolKernel: 3, PoolStride: 2},
			{Out: 192, Kernel: 3, Stride: 1, Pad: 1, PoolKernel: 3, PoolStride: 2},
			{Out: 384, Kernel: 3, Stride: 1, Pad: 1},
			{Out: 384, Kernel: 3, Stride: 1, Pad: 1},
			{Out: 192, Kernel: 3, Stride: 1, Pad: 1, PoolKernel: 3, PoolStride: 2},
		},
		FCs: []int{4096, 4096}, Out: 64, LocalLayer: 2, FeatureLayer: 4,
	},
}

func init() {
	docs := map[string]string{
		"basic28x28": "MNIST-size: conv 64, 128 (5x5/2), fc 1024, Y 64; local map 7x7x128",
		"basic32x32": "CIFAR: conv 64, 128, 256 (4x4/2), fc 1024, Y 64; local map 8x8x128",
		"basic64x64": "64x64: conv 64, 128, 256, 512 (4x4/2), fc 1024, Y 64; local map 8x8x256",
		"alex64x64":  "AlexNet-like for STL-10 and Tiny ImageNet: conv 96, 192, 384, 384, 192 with pools, fc 4096, 4096, Y 64",
	}
	for _, a := range Archs {
		if err := RegisterArch(a, docs[a.Name]); err != nil {
			panic(err) // a duplicate name in this file: a programming error caught by any test
		}
	}
}

// RegisterArch registers the convnet a as an encoder under a.Name (a
// custom architecture in the reference's style, or a small one for
// tests).
func RegisterArch(a Arch, doc string) error {
	if err := a.validate(); err != nil {
		return err
	}
	return Register(a.Name, doc, func(s Spec, rng *tensor.RNG) (Encoder, error) { return NewConvNet(a, s, rng) })
}

// validate reports an architecture whose layers or taps cannot exist.
func (a Arch) validate() error {
	switch {
	case a.Channels < 1 || a.Size < 1:
		return fmt.Errorf("architecture %q: input %dx%dx%d", a.Name, a.Channels, a.Size, a.Size)
	case len(a.Convs) == 0 || len(a.FCs) == 0:
		return fmt.Errorf("architecture %q needs at least one conv and one fc layer (has %d and %d)", a.Name, len(a.Convs), len(a.FCs))
	case a.LocalLayer < 0 || a.LocalLayer >= len(a.Convs) || a.FeatureLayer < 0 || a.FeatureLayer >= len(a.Convs):
		return fmt.Errorf("architecture %q: local layer %d or feature layer %d is not one of its %d conv layers", a.Name, a.LocalLayer, a.FeatureLayer, len(a.Convs))
	case a.Out < 1 || a.Out > MaxOut:
		return fmt.Errorf("architecture %q: %d output units, want 1 to %d", a.Name, a.Out, MaxOut)
	case a.Channels > MaxOut || a.Size > MaxOut:
		return fmt.Errorf("architecture %q: input %dx%dx%d, want at most %d channels and pixels a side", a.Name, a.Channels, a.Size, a.Size, MaxOut)
	}
	// Each layer's sizes before its output shape (which divides by the
	// strides): a negative width would otherwise panic in the allocation.
	h := a.Size
	for i, c := range a.Convs {
		if c.Out > MaxOut {
			return fmt.Errorf("architecture %q: conv layer %d: %d channels, at most %d", a.Name, i+1, c.Out, MaxOut)
		}
		if err := checkConv(h, c); err != nil {
			return fmt.Errorf("architecture %q: conv layer %d: %w", a.Name, i+1, err)
		}
		h = convOut(h, c)
	}
	for i, u := range a.FCs {
		if u < 1 || u > MaxOut {
			return fmt.Errorf("architecture %q: fc layer %d: %d units, want 1 to %d", a.Name, i+1, u, MaxOut)
		}
	}
	return nil
}

// convShapes returns the [C,H,W] output of every conv layer (after pooling).
func (a Arch) convShapes() [][3]int {
	c, h := a.Channels, a.Size
	out := make([][3]int, len(a.Convs))
	for i, s := range a.Convs {
		h = (h+2*s.Pad-s.Kernel)/s.Stride + 1
		if s.PoolKernel > 0 {
			h = (h-s.PoolKernel)/s.PoolStride + 1
		}
		c = s.Out
		out[i] = [3]int{c, h, h}
	}
	return out
}

// LocalShape returns the [C,H,W] shape of the local feature map.
func (a Arch) LocalShape() [3]int { return a.convShapes()[a.LocalLayer] }

// FeatureShape returns the [C,H,W] shape of the conv classifier features.
func (a Arch) FeatureShape() [3]int { return a.convShapes()[a.FeatureLayer] }

// convBlock is Conv2d, BatchNorm2d, ReLU and an optional max pool.
type convBlock struct {
	conv *nn.Conv2d
	bn   *nn.BatchNorm
	pool *nn.MaxPool2d
}

func (b *convBlock) forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	if b.bn.Training {
		x = b.bn.ForwardReLU(tp, b.conv.Forward(tp, x))
	} else {
		// Evaluation mode: one pass when no gradient is recorded (dim
		// embed, the probes' features), the values of the three ops (to
		// float rounding where it runs Winograd's algorithm, decision #51).
		x = tp.Conv2dBNReLU(x, b.conv.W, b.conv.B, b.bn.Gamma, b.bn.Beta, b.bn.RunMean, b.bn.RunVar, b.bn.Eps, b.conv.Stride, b.conv.Pad)
	}
	if b.pool != nil {
		x = b.pool.Forward(tp, x)
	}
	return x
}

// fcBlock is Linear, BatchNorm1d, ReLU.
type fcBlock struct {
	fc *nn.Linear
	bn *nn.BatchNorm
}

func (b *fcBlock) forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return b.bn.ForwardReLU(tp, b.fc.Forward(tp, x))
}

// ConvNet is a reference convnet (Arch) as an Encoder. Its parameters are
// named conv1, bn1, ..., fc1, bnfc1, ..., y, as the reference's
// (e.g. "encoder.conv1.weight" in a checkpoint).
type ConvNet struct {
	arch  Arch
	spec  Spec
	convs []*convBlock
	fcs   []*fcBlock
	out   *nn.Linear
}

// NewConvNet builds the convnet a for spec (whose Channels and Size, when
// set, must agree with a; a non-zero Out, at most MaxOut, replaces a's),
// initialised from rng as PyTorch initialises its layers (a nil rng is
// tensor.NewRNG(0)). An architecture whose layers cannot exist (sizes
// that are not positive, layers that leave no pixels, widths above
// MaxOut) is an error naming the layer.
func NewConvNet(a Arch, spec Spec, rng *tensor.RNG) (*ConvNet, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	if (spec.Channels != 0 && spec.Channels != a.Channels) || (spec.Size != 0 && spec.Size != a.Size) {
		return nil, fmt.Errorf("takes %dx%dx%d images, not %dx%dx%d", a.Channels, a.Size, a.Size, spec.Channels, spec.Size, spec.Size)
	}
	if spec.Out < 0 {
		return nil, fmt.Errorf("%d output units (Spec.Out)", spec.Out)
	}
	if err := checkOut(spec.Out); err != nil {
		return nil, err
	}
	if rng == nil {
		rng = tensor.NewRNG(0)
	}
	if spec.Out != 0 {
		a.Out = spec.Out
	}
	if len(spec.Options) > 0 && string(spec.Options) != "null" {
		var o map[string]any
		if err := json.Unmarshal(spec.Options, &o); err != nil || len(o) > 0 {
			return nil, fmt.Errorf("takes no options, got %s", spec.Options)
		}
	}
	spec.Channels, spec.Size, spec.Out = a.Channels, a.Size, a.Out
	e := &ConvNet{arch: a, spec: spec}
	c := a.Channels
	for _, s := range a.Convs {
		b := &convBlock{conv: nn.NewConv2d(c, s.Out, s.Kernel, s.Stride, s.Pad, true, rng), bn: nn.NewBatchNorm(s.Out, true)}
		if s.PoolKernel > 0 {
			b.pool = &nn.MaxPool2d{Kernel: s.PoolKernel, Stride: s.PoolStride}
		}
		e.convs = append(e.convs, b)
		c = s.Out
	}
	last := a.convShapes()[len(a.Convs)-1]
	in := last[0] * last[1] * last[2]
	for _, u := range a.FCs {
		e.fcs = append(e.fcs, &fcBlock{fc: nn.NewLinear(in, u, true, rng), bn: nn.NewBatchNorm(u, true)})
		in = u
	}
	e.out = nn.NewLinear(in, a.Out, true, rng)
	return e, nil
}

// Arch returns the architecture.
func (e *ConvNet) Arch() Arch { return e.arch }

// Spec implements Encoder.
func (e *ConvNet) Spec() Spec { return e.spec }

// Taps implements Encoder.
func (e *ConvNet) Taps() []string { return []string{TapLocal, TapConv, TapFC, TapY} }

// TapShape implements Encoder.
func (e *ConvNet) TapShape(name string) ([]int, error) {
	a := e.arch
	switch name {
	case TapLocal:
		s := a.LocalShape()
		return s[:], nil
	case TapConv:
		s := a.FeatureShape()
		return s[:], nil
	case TapFC:
		return []int{a.FCs[len(a.FCs)-1]}, nil
	case TapY:
		return []int{a.Out}, nil
	}
	return nil, fmt.Errorf("encoder %s: no tap %q (have local, conv, fc, y)", a.Name, name)
}

// Encode implements Encoder.
func (e *ConvNet) Encode(tp *autograd.Tape, x *autograd.Var) Features {
	var f Features
	for i, b := range e.convs {
		x = b.forward(tp, x)
		if i == e.arch.LocalLayer {
			f.Local = x
		}
		if i == e.arch.FeatureLayer {
			f.Conv = x
		}
	}
	x = tp.Flatten(x)
	for _, b := range e.fcs {
		x = b.forward(tp, x)
	}
	f.FC = x
	f.Y = e.out.Forward(tp, x)
	return f
}

// Forward implements nn.Module: it returns Y.
func (e *ConvNet) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return e.Encode(tp, x).Y
}

// Children implements nn.Container with the reference's layer names.
func (e *ConvNet) Children() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		for i, b := range e.convs {
			if !yield(fmt.Sprintf("conv%d", i+1), b.conv) || !yield(fmt.Sprintf("bn%d", i+1), b.bn) {
				return
			}
		}
		for i, b := range e.fcs {
			if !yield(fmt.Sprintf("fc%d", i+1), b.fc) || !yield(fmt.Sprintf("bnfc%d", i+1), b.bn) {
				return
			}
		}
		yield("y", e.out)
	}
}

// Tail implements Tailer: the layers after the local map, ending in a
// linear layer of units outputs (the reference's copy for global DIM),
// initialised from rng (nil: tensor.NewRNG(0)). units must be positive.
func (e *ConvNet) Tail(units int, rng *tensor.RNG) nn.Module {
	if units < 1 {
		panic(fmt.Sprintf("encoder: Tail of %d units (want at least 1)", units))
	}
	if rng == nil {
		rng = tensor.NewRNG(0)
	}
	a := e.arch
	s := &nn.Sequential{}
	shapes := a.convShapes()
	c := shapes[a.LocalLayer][0]
	for i := a.LocalLayer + 1; i < len(a.Convs); i++ {
		sp := a.Convs[i]
		s.Add(fmt.Sprintf("conv%d", i+1), nn.NewConv2d(c, sp.Out, sp.Kernel, sp.Stride, sp.Pad, true, rng))
		s.Add(fmt.Sprintf("bn%d", i+1), nn.NewBatchNorm(sp.Out, true))
		s.Add(fmt.Sprintf("relu%d", i+1), nn.ReLU)
		if sp.PoolKernel > 0 {
			s.Add(fmt.Sprintf("pool%d", i+1), &nn.MaxPool2d{Kernel: sp.PoolKernel, Stride: sp.PoolStride})
		}
		c = sp.Out
	}
	last := shapes[len(shapes)-1]
	in := last[0] * last[1] * last[2]
	s.Add("flatten", nn.Flatten)
	for i, u := range a.FCs {
		s.Add(fmt.Sprintf("fc%d", i+1), nn.NewLinear(in, u, true, rng))
		s.Add(fmt.Sprintf("bnfc%d", i+1), nn.NewBatchNorm(u, true))
		s.Add(fmt.Sprintf("relufc%d", i+1), nn.ReLU)
		in = u
	}
	s.Add("out", nn.NewLinear(in, units, true, rng))
	return s
}

var (
	_ Encoder      = (*ConvNet)(nil)
	_ Tailer       = (*ConvNet)(nil)
	_ nn.Container = (*ConvNet)(nil)
)
