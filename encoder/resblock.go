package encoder

import (
	"fmt"
	"iter"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// resBlock is the reference's residual block (cortex_DIM/nn_modules/
// resnet.py, ResBlock): convolutions, each Conv2d without bias, BatchNorm2d
// and ReLU except the last, whose ReLU follows the addition of the
// shortcut: out = ReLU(convs(x) + shortcut(x)). The shortcut is the
// identity when the convolutions keep the shape [C,H,W], otherwise a
// projection: a 1x1 Conv2d without bias of stride H/Hout and BatchNorm2d.
// Its parameters are named "layers.layer<i>.conv", "layers.layer<i>.bn"
// and "downsample.0" (the projection's convolution), "downsample.1" (its
// batch norm), as the reference's.
type resBlock struct {
	convs []*convLayer
	down  *projection
	out   [3]int // output [C,H,W]
}

// projection is the shortcut of a residual block that changes its shape.
type projection struct {
	Conv *nn.Conv2d    `nn:"0"`
	BN   *nn.BatchNorm `nn:"1"`
}

// newResBlock builds a block of the (validated) convolutions convs taking
// a c x h x h map.
func newResBlock(c, h int, convs []ConvSpec, rng *tensor.RNG) *resBlock {
	b := &resBlock{}
	c0, h0 := c, h
	for i, cv := range convs {
		b.convs = append(b.convs, newConvLayer(c, cv, i < len(convs)-1, rng))
		c, h = cv.Out, convOut(h, cv)
	}
	b.out = [3]int{c, h, h}
	if c != c0 || h != h0 {
		s, _ := shortcutStride(h0, h)
		b.down = &projection{Conv: nn.NewConv2d(c0, c, 1, s, 0, false, rng), BN: nn.NewBatchNorm(c, true)}
	}
	return b
}

// Forward implements nn.Module.
func (b *resBlock) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	r := x
	if b.down != nil {
		r = b.down.BN.Forward(tp, b.down.Conv.Forward(tp, x))
	}
	for _, c := range b.convs {
		x = c.Forward(tp, x)
	}
	return tp.ReLU(tp.Add(x, r))
}

// Children implements nn.Container with the reference's names.
func (b *resBlock) Children() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		for i, c := range b.convs {
			if !yield(fmt.Sprintf("layers.layer%d", i), c) {
				return
			}
		}
		if b.down != nil {
			yield("downsample", b.down)
		}
	}
}

// resStage is a "resblock" layer repeated more than once: its blocks are
// named "resblock_<j>", as the reference's.
type resStage struct {
	blocks []*resBlock
}

// Forward implements nn.Module.
func (s *resStage) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	for _, b := range s.blocks {
		x = b.Forward(tp, x)
	}
	return x
}

// Children implements nn.Container.
func (s *resStage) Children() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		for j, b := range s.blocks {
			if !yield(fmt.Sprintf("resblock_%d", j), b) {
				return
			}
		}
	}
}
