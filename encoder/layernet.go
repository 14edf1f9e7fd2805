package encoder

import (
	"encoding/json"
	"fmt"
	"iter"
	"slices"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// LayerKind is the type of one layer of a LayerArch: the `layer` key of the
// reference's layer lists (rdevon/DIM cortex_DIM/nn_modules/convnet.py,
// Convnet.handle_layer; resnet.py, ResNet and FoldedResNet.handle_layer).
type LayerKind int

// The layer kinds. Convolutions and linear layers followed by batch
// normalisation have no bias, as in the reference (bias = not bn).
const (
	// LayerConv is Conv2d (no bias), BatchNorm2d, ReLU and an optional
	// max pool (LayerSpec.Conv).
	LayerConv LayerKind = iota + 1
	// LayerResBlock is LayerSpec.Repeat residual blocks of the
	// convolutions LayerSpec.Block (see resBlock).
	LayerResBlock
	// LayerUnfold cuts each image into LayerArch.Crop x Crop crops with
	// stride Crop/2 and continues with the crops as a batch [N*L,C,k,k]
	// (the reference's Unfold, cortex_DIM/nn_modules/misc.py).
	LayerUnfold
	// LayerFold puts the crops' outputs [N*L,C,h,w] back into a map
	// [N,C*h*w,n,n] with one location per crop (the reference's Fold).
	LayerFold
	// LayerFlatten reshapes a map [N,C,H,W] to [N,C*H*W].
	LayerFlatten
	// LayerLinear is Linear (no bias), BatchNorm1d and ReLU of
	// LayerSpec.Units units; a map input is flattened first.
	LayerLinear
)

var kindNames = map[LayerKind]string{
	LayerConv: "conv", LayerResBlock: "resblock", LayerUnfold: "unfold",
	LayerFold: "fold", LayerFlatten: "flatten", LayerLinear: "linear",
}

// String returns the reference's name of the kind ("conv", "resblock", ...).
func (k LayerKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("LayerKind(%d)", int(k))
}

// LayerSpec is one layer of a LayerArch: one entry of the reference's
// `layers` list.
type LayerSpec struct {
	Kind LayerKind
	// Conv is a LayerConv's convolution and pool.
	Conv ConvSpec
	// Block lists the convolutions of one residual block (LayerResBlock),
	// without pools: each is Conv2d (no bias), BatchNorm2d and ReLU, except
	// that the last one's ReLU comes after the shortcut is added.
	Block []ConvSpec
	// Repeat is the number of residual blocks of a LayerResBlock, at least
	// 1 (the reference's `repeat`).
	Repeat int
	// Units is the width of a LayerLinear.
	Units int
}

// LayerArch describes an encoder as the reference's list of layers
// (cortex_DIM/configs/resnets.py, convnets.py): the layers run in order,
// then Y, a Linear layer with bias of Out units (the top layer the
// reference's controller appends, cortex_DIM/models/controller.py). Taps
// are picked by layer index, as the reference's local_task_idx and
// classifier_idx pick them; index len(Layers) is Y.
type LayerArch struct {
	Name     string
	Channels int // input channels
	Size     int // input height and width
	// Crop is the crop size of a LayerUnfold (stride Crop/2); 0 without
	// one.
	Crop   int
	Layers []LayerSpec
	Out    int
	// Local, Conv and FC are the indices of the layers whose outputs are
	// the local, conv and fc taps. Local and Conv must be maps; a map FC
	// tap is flattened.
	Local, Conv, FC int
	// Globals is the index of a map exposed as the extra tap "globals"
	// (the reference's multi_idx / multiple globals), or 0 for none.
	Globals int
}

// TapGlobals is the extra tap of encoders with multiple globals: a map
// [C,H,W] whose every location is a global feature (the reference's
// foldmultialex64x64, local_task_idx = (6, 8)).
const TapGlobals = "globals"

// layerShape is the output of a layer: [C,H,W] or [units] per sample, or
// per crop while crops is set.
type layerShape struct {
	dims  []int
	crops bool
}

func (s layerShape) isMap() bool { return len(s.dims) == 3 }

func (s layerShape) size() int { return tensor.SizeOf(s.dims) }

// convOut returns the side of a convolution's (and its pool's) output.
func convOut(h int, c ConvSpec) int {
	h = (h+2*c.Pad-c.Kernel)/c.Stride + 1
	if c.PoolKernel > 0 && h >= c.PoolKernel {
		h = (h-c.PoolKernel)/c.PoolStride + 1
	} else if c.PoolKernel > 0 {
		h = 0
	}
	return h
}

// checkConv reports a convolution that cannot run on an h x h input.
func checkConv(h int, c ConvSpec) error {
	switch {
	case c.Out < 1 || c.Kernel < 1 || c.Stride < 1 || c.Pad < 0:
		return fmt.Errorf("convolution %+v: sizes must be positive", c)
	case c.Out > MaxOut || c.Kernel > MaxOut || c.Stride > MaxOut || c.Pad > MaxOut || c.PoolKernel > MaxOut || c.PoolStride > MaxOut:
		return fmt.Errorf("convolution %+v: sizes must be at most %d", c, MaxOut)
	case c.PoolKernel < 0 || (c.PoolKernel > 0 && c.PoolStride < 1):
		return fmt.Errorf("convolution %+v: invalid pool", c)
	case h+2*c.Pad < c.Kernel || convOut(h, c) < 1:
		return fmt.Errorf("convolution %+v leaves no pixels of a %dx%d input", c, h, h)
	}
	return nil
}

// shortcutStride returns the stride of the projection shortcut of a
// residual block taking an h x h map to an ho x ho one (the reference's
// dim_x // dim_x_, asserted to give ho with a 1x1 convolution), or an error.
func shortcutStride(h, ho int) (int, error) {
	s := h / ho
	if s < 1 || (h-1)/s+1 != ho {
		return 0, fmt.Errorf("no 1x1 strided shortcut takes %dx%d to %dx%d", h, h, ho, ho)
	}
	return s, nil
}

// foldLocations returns the crops per side of a LayerUnfold on a size x
// size input, or an error: the reference's Fold assumes 2*(size/crop)-1,
// which is the number of crops with stride crop/2 when crop is even and
// divides size.
func foldLocations(size, crop int) (int, error) {
	if crop < 2 || crop%2 != 0 || crop > size || size%crop != 0 {
		return 0, fmt.Errorf("crops of %d on a %dx%d input: the crop must be even and divide the input", crop, size, size)
	}
	return 2*(size/crop) - 1, nil
}

// shapes validates a and returns the output shape of every layer and of Y
// (the last).
func (a LayerArch) shapes() ([]layerShape, error) {
	if a.Channels < 1 || a.Size < 1 {
		return nil, fmt.Errorf("architecture %q: input %dx%dx%d", a.Name, a.Channels, a.Size, a.Size)
	}
	if a.Channels > MaxOut || a.Size > MaxOut {
		return nil, fmt.Errorf("architecture %q: input %dx%dx%d, want at most %d channels and pixels a side", a.Name, a.Channels, a.Size, a.Size, MaxOut)
	}
	if len(a.Layers) == 0 || a.Out < 1 || a.Out > MaxOut {
		return nil, fmt.Errorf("architecture %q: %d layers, %d output units (want 1 to %d)", a.Name, len(a.Layers), a.Out, MaxOut)
	}
	cur := layerShape{dims: []int{a.Channels, a.Size, a.Size}}
	out := make([]layerShape, 0, len(a.Layers)+1)
	locs := 0
	for i, l := range a.Layers {
		fail := func(format string, args ...any) ([]layerShape, error) {
			return nil, fmt.Errorf("architecture %q: layer %d (%v): %s", a.Name, i, l.Kind, fmt.Sprintf(format, args...))
		}
		next := layerShape{crops: cur.crops}
		switch l.Kind {
		case LayerConv, LayerResBlock:
			if !cur.isMap() {
				return fail("input %v is not a map", cur.dims)
			}
			convs := []ConvSpec{l.Conv}
			if l.Kind == LayerResBlock {
				convs = l.Block
				if len(convs) == 0 || l.Repeat < 1 {
					return fail("%d convolutions repeated %d times", len(convs), l.Repeat)
				}
			}
			c, h, reps := cur.dims[0], cur.dims[1], 1
			if l.Kind == LayerResBlock {
				reps = l.Repeat
			}
			for range reps {
				c0, h0 := c, h
				for _, cv := range convs {
					if l.Kind == LayerResBlock && cv.PoolKernel > 0 {
						return fail("pools are not allowed in a residual block")
					}
					if err := checkConv(h, cv); err != nil {
						return fail("%v", err)
					}
					c, h = cv.Out, convOut(h, cv)
				}
				if l.Kind == LayerResBlock && (c != c0 || h != h0) {
					if _, err := shortcutStride(h0, h); err != nil {
						return fail("%v", err)
					}
				}
			}
			next.dims = []int{c, h, h}
		case LayerUnfold:
			if !cur.isMap() || cur.crops || locs > 0 {
				return fail("unfold needs a map and at most one unfold")
			}
			n, err := foldLocations(cur.dims[1], a.Crop)
			if err != nil {
				return fail("%v", err)
			}
			locs = n
			next = layerShape{dims: []int{cur.dims[0], a.Crop, a.Crop}, crops: true}
		case LayerFold:
			if !cur.isMap() || !cur.crops {
				return fail("fold needs crops (an unfold before it)")
			}
			next = layerShape{dims: []int{cur.size(), locs, locs}}
		case LayerFlatten, LayerLinear:
			if cur.crops {
				return fail("fold the crops first")
			}
			next.dims = []int{cur.size()}
			if l.Kind == LayerLinear {
				if l.Units < 1 || l.Units > MaxOut {
					return fail("%d units, want 1 to %d", l.Units, MaxOut)
				}
				next.dims = []int{l.Units}
			}
		default:
			return fail("unknown kind")
		}
		out = append(out, next)
		cur = next
	}
	if cur.crops {
		return nil, fmt.Errorf("architecture %q: the crops are never folded", a.Name)
	}
	out = append(out, layerShape{dims: []int{a.Out}})
	for _, t := range []struct {
		name  string
		i     int
		isMap bool
	}{{TapLocal, a.Local, true}, {TapConv, a.Conv, true}, {TapFC, a.FC, false}, {TapGlobals, a.Globals, true}} {
		if t.name == TapGlobals && t.i == 0 {
			continue
		}
		if t.i < 0 || t.i >= len(a.Layers) || out[t.i].crops || (t.isMap && !out[t.i].isMap()) {
			return nil, fmt.Errorf("architecture %q: %s tap at layer %d is not a map of the whole image (%d layers)", a.Name, t.name, t.i, len(a.Layers))
		}
	}
	return out, nil
}

// LayerNet is an encoder built from a LayerArch, with the reference's
// parameter names: layer i is "layers.layer<i>" (Y is the last), its
// convolution and batch norm "conv" and "bn", a linear layer's "fc" and
// "bn", and a layer of a single module (Y after a vector) holds that
// module's parameters directly, as PyTorch names an nn.Sequential of one
// module that the reference unwraps (cortex_DIM/nn_modules/convnet.py,
// create_sequential). PyTorch's num_batches_tracked buffers are not kept.
type LayerNet struct {
	arch   LayerArch
	spec   Spec
	shapes []layerShape
	layers []nn.Module
	extra  []Tap
}

// NewLayerNet builds the encoder a for spec (whose Channels and Size, when
// set, must agree with a; a non-zero Out, at most MaxOut, replaces a's),
// initialised from rng as PyTorch initialises its layers (a nil rng is
// tensor.NewRNG(0)). An architecture whose layers cannot exist is an
// error naming the layer.
func NewLayerNet(a LayerArch, spec Spec, rng *tensor.RNG) (*LayerNet, error) {
	if (spec.Channels != 0 && spec.Channels != a.Channels) || (spec.Size != 0 && spec.Size != a.Size) {
		return nil, fmt.Errorf("takes %dx%dx%d images, not %dx%dx%d", a.Channels, a.Size, a.Size, spec.Channels, spec.Size, spec.Size)
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
	shapes, err := a.shapes()
	if err != nil {
		return nil, err
	}
	spec.Channels, spec.Size, spec.Out = a.Channels, a.Size, a.Out
	e := &LayerNet{arch: a, spec: spec, shapes: shapes}
	in := layerShape{dims: []int{a.Channels, a.Size, a.Size}}
	for i, l := range a.Layers {
		e.layers = append(e.layers, a.build(l, in, rng))
		in = shapes[i]
	}
	e.layers = append(e.layers, newLinearLayer(in.dims, a.Out, false, rng))
	if a.Globals > 0 {
		e.extra = []Tap{{Name: TapGlobals}}
	}
	return e, nil
}

// build makes the module of layer l (validated) taking in.
func (a LayerArch) build(l LayerSpec, in layerShape, rng *tensor.RNG) nn.Module {
	switch l.Kind {
	case LayerConv:
		return newConvLayer(in.dims[0], l.Conv, true, rng)
	case LayerResBlock:
		c, h := in.dims[0], in.dims[1]
		var blocks []*resBlock
		for range l.Repeat {
			b := newResBlock(c, h, l.Block, rng)
			blocks = append(blocks, b)
			c, h = b.out[0], b.out[1]
		}
		if len(blocks) == 1 {
			return blocks[0]
		}
		return &resStage{blocks: blocks}
	case LayerUnfold:
		return &unfoldLayer{size: a.Crop, stride: a.Crop / 2}
	case LayerFold:
		n, _ := foldLocations(a.Size, a.Crop)
		return &foldLayer{n: n}
	case LayerFlatten:
		return flattenLayer{}
	default: // LayerLinear
		return newLinearLayer(in.dims, l.Units, true, rng)
	}
}

// Arch returns the architecture.
func (e *LayerNet) Arch() LayerArch { return e.arch }

// Spec implements Encoder.
func (e *LayerNet) Spec() Spec { return e.spec }

// Taps implements Encoder: local, conv, fc, y, then "globals" if the
// architecture has multiple globals.
func (e *LayerNet) Taps() []string {
	t := []string{TapLocal, TapConv, TapFC, TapY}
	if e.arch.Globals > 0 {
		t = append(t, TapGlobals)
	}
	return t
}

// TapShape implements Encoder.
func (e *LayerNet) TapShape(name string) ([]int, error) {
	a := e.arch
	i := -1
	switch name {
	case TapLocal:
		i = a.Local
	case TapConv:
		i = a.Conv
	case TapFC:
		return []int{e.shapes[a.FC].size()}, nil
	case TapY:
		i = len(a.Layers)
	case TapGlobals:
		if a.Globals > 0 {
			i = a.Globals
		}
	}
	if i < 0 {
		return nil, fmt.Errorf("encoder %s: no tap %q (have %v)", a.Name, name, e.Taps())
	}
	return slices.Clone(e.shapes[i].dims), nil
}

// Encode implements Encoder. The Extra slice is the encoder's own, reused
// by every call (the taps are valid until the tape's Reset anyway).
func (e *LayerNet) Encode(tp *autograd.Tape, x *autograd.Var) Features {
	a := e.arch
	f := Features{Extra: e.extra}
	for i, m := range e.layers {
		x = m.Forward(tp, x)
		if i == a.Local {
			f.Local = x
		}
		if i == a.Conv {
			f.Conv = x
		}
		if i == a.FC {
			f.FC = x
			if e.shapes[i].isMap() {
				f.FC = tp.Flatten(x)
			}
		}
		if a.Globals > 0 && i == a.Globals {
			e.extra[0].Var = x
		}
	}
	f.Y = x
	return f
}

// Forward implements nn.Module: it returns Y.
func (e *LayerNet) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return e.Encode(tp, x).Y
}

// Children implements nn.Container: layer i is "layers.layer<i>".
func (e *LayerNet) Children() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		for i, m := range e.layers {
			if !yield(fmt.Sprintf("layers.layer%d", i), m) {
				return
			}
		}
	}
}

// Tail implements Tailer: fresh copies of the layers after the local map,
// named as the encoder's, then a Linear layer of units outputs with bias
// in place of Y. (The reference's GlobalDIM copies layers[local_idx:],
// cortex_DIM/models/dim.py, which also repeats the local layer itself on
// its own output; like ConvNet.Tail this starts after it.) A nil rng is
// tensor.NewRNG(0); units must be positive.
func (e *LayerNet) Tail(units int, rng *tensor.RNG) nn.Module {
	if units < 1 {
		panic(fmt.Sprintf("encoder: Tail of %d units (want at least 1)", units))
	}
	if rng == nil {
		rng = tensor.NewRNG(0)
	}
	a := e.arch
	s := &nn.Sequential{}
	in := e.shapes[a.Local]
	for i := a.Local + 1; i < len(a.Layers); i++ {
		s.Add(fmt.Sprintf("layer%d", i), a.build(a.Layers[i], in, rng))
		in = e.shapes[i]
	}
	s.Add(fmt.Sprintf("layer%d", len(a.Layers)), newLinearLayer(in.dims, units, false, rng))
	return s
}

// convLayer is Conv2d without bias, BatchNorm2d, an optional ReLU and an
// optional max pool: a "conv" layer of the reference.
type convLayer struct {
	Conv *nn.Conv2d    `nn:"conv"`
	BN   *nn.BatchNorm `nn:"bn"`
	Pool *nn.MaxPool2d `nn:"-"`
	ReLU bool          `nn:"-"`
}

func newConvLayer(in int, c ConvSpec, relu bool, rng *tensor.RNG) *convLayer {
	l := &convLayer{Conv: nn.NewConv2d(in, c.Out, c.Kernel, c.Stride, c.Pad, false, rng), BN: nn.NewBatchNorm(c.Out, true), ReLU: relu}
	if c.PoolKernel > 0 {
		l.Pool = &nn.MaxPool2d{Kernel: c.PoolKernel, Stride: c.PoolStride}
	}
	return l
}

// Forward implements nn.Module.
func (l *convLayer) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	x = l.BN.Forward(tp, l.Conv.Forward(tp, x))
	if l.ReLU {
		x = tp.ReLU(x)
	}
	if l.Pool != nil {
		x = l.Pool.Forward(tp, x)
	}
	return x
}

// linearLayer is a "linear" layer of the reference: an optional flatten,
// Linear, and BatchNorm1d with ReLU when hidden (no bias), or bias and
// nothing after for an output layer (Y, the global-DIM tail's last).
type linearLayer struct {
	FC      *nn.Linear
	BN      *nn.BatchNorm
	flatten bool
}

func newLinearLayer(in []int, units int, hidden bool, rng *tensor.RNG) *linearLayer {
	l := &linearLayer{FC: nn.NewLinear(tensor.SizeOf(in), units, !hidden, rng), flatten: len(in) > 1}
	if hidden {
		l.BN = nn.NewBatchNorm(units, true)
	}
	return l
}

// Forward implements nn.Module.
func (l *linearLayer) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	if l.flatten {
		x = tp.Flatten(x)
	}
	x = l.FC.Forward(tp, x)
	if l.BN != nil {
		x = l.BN.ForwardReLU(tp, x)
	}
	return x
}

// Children implements nn.Container: "fc" and "bn", or the Linear's own
// parameters when it is the layer's only module (the reference unwraps a
// block of one module).
func (l *linearLayer) Children() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		if l.BN == nil && !l.flatten {
			yield("", l.FC)
			return
		}
		if !yield("fc", l.FC) || l.BN == nil {
			return
		}
		yield("bn", l.BN)
	}
}

// flattenLayer is the reference's "flatten" layer.
type flattenLayer struct{}

// Forward implements nn.Module.
func (flattenLayer) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var { return tp.Flatten(x) }

var (
	_ Encoder      = (*LayerNet)(nil)
	_ Tailer       = (*LayerNet)(nil)
	_ nn.Container = (*LayerNet)(nil)
)
