// Package dim is Deep InfoMax itself: the encoders of the reference code,
// the mutual-information networks, the local and global objectives, and
// the trainer that maximises them.
package dim

import (
	"fmt"
	"sort"
	"strings"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// ConvSpec is one convolutional layer of an encoder: a convolution
// followed by BatchNorm and ReLU, then optional max pooling.
type ConvSpec struct {
	Out, Kernel, Stride, Pad int
	// PoolKernel and PoolStride add a max pool after the ReLU when non-zero.
	PoolKernel, PoolStride int
}

// Arch describes a convolutional encoder: convolutions, fully connected
// hidden layers (each Linear, BatchNorm, ReLU) and a linear output Y.
type Arch struct {
	Name          string
	Channels      int // input channels
	Size          int // input height and width
	Convs         []ConvSpec
	FCs           []int
	Out           int
	LocalLayer    int // index into Convs of the local feature map
	FeatureLayer  int // index into Convs of the "conv" classifier features
	ReferenceName string
}

// Archs are the encoders of the reference code, by name.
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

// ArchNames returns the known encoder names, sorted.
func ArchNames() []string {
	names := make([]string, 0, len(Archs))
	for n := range Archs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LookupArch returns the named encoder architecture.
func LookupArch(name string) (Arch, error) {
	a, ok := Archs[name]
	if !ok {
		return Arch{}, fmt.Errorf("unknown encoder %q (want one of %s)", name, strings.Join(ArchNames(), ", "))
	}
	return a, nil
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
	x = tp.ReLU(b.bn.Forward(tp, b.conv.Forward(tp, x)))
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
	return tp.ReLU(b.bn.Forward(tp, b.fc.Forward(tp, x)))
}

// Encoder maps images to a local feature map, conv features, fc features
// and the representation Y.
type Encoder struct {
	Arch Arch
	// Mean and Std are the input normalisation the encoder was trained
	// with (see data.LoaderOptions); nil means scaling to [-1, 1].
	Mean, Std []float32

	convs []*convBlock
	fcs   []*fcBlock
	out   *nn.Linear
}

// Features are the activations of one forward pass of an Encoder.
type Features struct {
	Local *autograd.Var // [N,C,H,W] local map scored by local DIM
	Conv  *autograd.Var // [N,C,H,W] conv features for classifiers
	FC    *autograd.Var // [N,units] last hidden fc layer
	Y     *autograd.Var // [N,Out] the representation
}

// NewEncoder builds an encoder of the architecture, initialised from rng as
// PyTorch initialises its layers.
func NewEncoder(a Arch, rng *tensor.RNG) *Encoder {
	e := &Encoder{Arch: a}
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
	return e
}

// Encode runs the encoder on x [N,C,H,W].
func (e *Encoder) Encode(tp *autograd.Tape, x *autograd.Var) Features {
	var f Features
	for i, b := range e.convs {
		x = b.forward(tp, x)
		if i == e.Arch.LocalLayer {
			f.Local = x
		}
		if i == e.Arch.FeatureLayer {
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
func (e *Encoder) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return e.Encode(tp, x).Y
}

// Collect implements nn.Module with names conv1, bn1, ..., fc1, bnfc1, ...,
// y (e.g. "encoder.conv1.weight").
func (e *Encoder) Collect(prefix string, s *nn.State) {
	for i, b := range e.convs {
		b.conv.Collect(fmt.Sprintf("%sconv%d.", prefix, i+1), s)
		b.bn.Collect(fmt.Sprintf("%sbn%d.", prefix, i+1), s)
	}
	for i, b := range e.fcs {
		b.fc.Collect(fmt.Sprintf("%sfc%d.", prefix, i+1), s)
		b.bn.Collect(fmt.Sprintf("%sbnfc%d.", prefix, i+1), s)
	}
	e.out.Collect(prefix+"y.", s)
}

// SetTraining implements nn.Module.
func (e *Encoder) SetTraining(on bool) {
	for _, b := range e.convs {
		b.bn.SetTraining(on)
	}
	for _, b := range e.fcs {
		b.bn.SetTraining(on)
	}
}

// tail returns the encoder's layers after the local map as a new network
// ending in a linear layer of `units` outputs: global DIM's encoder of the
// local map (the reference's copy of the remaining layers).
func (e *Encoder) tail(units int, rng *tensor.RNG) *nn.Sequential {
	a := e.Arch
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
