// Package decoder is the reference code's image decoder
// (cortex_DIM/configs/deconvnets.py, basic32x32): a linear layer from a
// code to a 4x4 map, transposed convolutions that double the size, and a
// 3x3 convolution to the image's channels with tanh. Its sizing
// generalises the reference's to other image sizes. The autoencoder
// baselines reconstruct with it, BiGAN generates with it, and the MS-SSIM
// evaluation decodes frozen Y with it.
package decoder

import (
	"fmt"
	"iter"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Decoder maps codes [N, in] to images [N, C, S, S] in (-1, 1): Linear to
// c0 x s0 x s0, BatchNorm, ReLU; k transposed convolutions 4x4/2 (pad 1),
// each with BatchNorm and ReLU, the last with 64 channels and each earlier
// one twice the next; a 3x3 convolution (pad 1, no bias) to C channels;
// tanh. S = s0 * 2^k with s0 the size in [4, 7] that the image size
// allows: 32 = 4 x 2^3 gives the reference's 512x4x4 -> 256, 128, 64; 28 =
// 7 x 2^2 gives 256x7x7 -> 128, 64; 64 gives 1024x4x4 -> 512, 256, 128, 64.
// Its parameters are named fc, bnfc, tconv1, bn1, ..., out.
type Decoder struct {
	fc       *nn.Linear
	bnfc     *nn.BatchNorm
	tconvs   []*nn.ConvTranspose2d
	bns      []*nn.BatchNorm
	out      *nn.Conv2d
	c0, s0   int
	channels int
}

// Layout returns the side s0 of the decoder's first map and the number k
// of upsamplings for size x size images: size = s0 * 2^k with s0 in
// [4, 7] and k >= 1, or an error.
func Layout(size int) (s0, k int, err error) {
	s0 = size
	for s0 > 7 && s0%2 == 0 {
		s0, k = s0/2, k+1
	}
	if s0 < 4 || s0 > 7 || k == 0 {
		return 0, 0, fmt.Errorf("decoder: image size %d is not 4..7 times a power of two", size)
	}
	return s0, k, nil
}

// New returns a decoder from codes of width in to channels x size x size
// images, initialised as PyTorch's layers, or an error for a size Layout
// refuses. width is the channels of the first map (0: 64 * 2^k, so that
// the last transposed convolution has 64 as the reference's); each
// transposed convolution halves them (not below 1).
func New(in, channels, size, width int, rng *tensor.RNG) (*Decoder, error) {
	if in < 1 || channels < 1 || width < 0 {
		return nil, fmt.Errorf("decoder: code width %d, %d channels, first map width %d", in, channels, width)
	}
	s0, k, err := Layout(size)
	if err != nil {
		return nil, err
	}
	if width == 0 {
		width = 64 << k
	}
	d := &Decoder{s0: s0, channels: channels, c0: width}
	d.fc = nn.NewLinear(in, d.c0*s0*s0, true, rng)
	d.bnfc = nn.NewBatchNorm(d.c0*s0*s0, true)
	c := d.c0
	for range k {
		next := max(c/2, 1)
		d.tconvs = append(d.tconvs, nn.NewConvTranspose2d(c, next, 4, 2, 1, 0, true, rng))
		d.bns = append(d.bns, nn.NewBatchNorm(next, true))
		c = next
	}
	d.out = nn.NewConv2d(c, channels, 3, 1, 1, false, rng)
	return d, nil
}

// Forward implements nn.Module: images [N, C, S, S] for codes z [N, in].
func (d *Decoder) Forward(tp *autograd.Tape, z *autograd.Var) *autograd.Var {
	n := z.Value.Shape[0]
	h := tp.ReLU(d.bnfc.Forward(tp, d.fc.Forward(tp, z)))
	h = tp.Reshape(h, n, d.c0, d.s0, d.s0)
	for i, t := range d.tconvs {
		h = tp.ReLU(d.bns[i].Forward(tp, t.Forward(tp, h)))
	}
	return tp.Tanh(d.out.Forward(tp, h))
}

// Children implements nn.Container with stable names.
func (d *Decoder) Children() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		if !yield("fc", d.fc) || !yield("bnfc", d.bnfc) {
			return
		}
		for i := range d.tconvs {
			if !yield(fmt.Sprintf("tconv%d", i+1), d.tconvs[i]) || !yield(fmt.Sprintf("bn%d", i+1), d.bns[i]) {
				return
			}
		}
		yield("out", d.out)
	}
}
