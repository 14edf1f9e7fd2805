package encoder

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/kernels"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Embeddings are a frozen encoder's features of a data set, one row per
// image in data-set order: each tap flattened to [N, prod(TapShape)], the
// labels, and (when asked for) the images as the encoder saw them.
type Embeddings struct {
	Taps   map[string]*tensor.Tensor
	Labels []int
	// Images [N,C,H,W] are the encoder's inputs (after the spec's
	// transform), kept when EmbedOptions.Images is set: MINE and decoders
	// need them.
	Images *tensor.Tensor
}

// Layer returns the features of the named tap.
func (e *Embeddings) Layer(name string) (*tensor.Tensor, error) {
	t, ok := e.Taps[name]
	if !ok {
		have := make([]string, 0, len(e.Taps))
		for n := range e.Taps {
			have = append(have, n)
		}
		slices.Sort(have)
		return nil, fmt.Errorf("no features of layer %q (have %v)", name, have)
	}
	return t, nil
}

// EmbedOptions say what Embed keeps.
type EmbedOptions struct {
	// Batch is the number of images per forward pass (default, 0:
	// InferenceBatch).
	Batch int
	// Taps to keep (default Layers: conv, fc, y).
	Taps []string
	// Images keeps the encoder's inputs too.
	Images bool
	// Progress, if not nil, is called with the number of images done.
	Progress func(done int)
}

// Chunk is one forward pass of EmbedEach: images Start .. Start+N-1 of
// the data set. Its tensors are reused by the next chunk.
type Chunk struct {
	Start, N int
	// Taps are [N, D] rows of each requested tap.
	Taps map[string]*tensor.Tensor
	// Labels of the N images (-1 when unlabelled).
	Labels []int
	// Images [N,C,H,W] the encoder saw (EmbedOptions.Images only).
	Images *tensor.Tensor
}

// TapWidths returns the flattened width of each tap (the D of [N, D]). A
// nil enc or an unknown tap is an error.
func TapWidths(enc Encoder, taps []string) (map[string]int, error) {
	if enc == nil {
		return nil, errNilEncoder
	}
	out := map[string]int{}
	for _, name := range taps {
		shape, err := enc.TapShape(name)
		if err != nil {
			return nil, err
		}
		d := 1
		for _, s := range shape {
			d *= s
		}
		out[name] = d
	}
	return out, nil
}

// Inference batches: at most MaxInferenceBatch images, and no more than
// fit InferenceMemory bytes of activations.
const (
	MaxInferenceBatch = 500
	InferenceMemory   = 1 << 30
)

// InferenceBatch returns the number of images per forward pass that
// EmbedEach uses by default: MaxInferenceBatch, or fewer so that one pass's
// activations stay within InferenceMemory (at least 1). It measures them
// with one evaluation-mode pass over two blank images: about 0.5 MB per
// image for basic28x28, 40 MB for foldresnet34_32x32, whose 500-image
// passes needed 20 GB. Like EmbedEach, it leaves the encoder in training
// mode. A nil enc is an error.
func InferenceBatch(enc Encoder) (int, error) {
	if enc == nil {
		return 0, errNilEncoder
	}
	const probe = 2
	s := enc.Spec()
	modes := nn.ModesOf(enc)
	modes.Set(false)
	defer modes.Set(true)
	tp := autograd.NewTape()
	tp.SetNoGrad(true)
	enc.Encode(tp, tp.Const(tensor.New(probe, s.Channels, s.Size, s.Size)))
	if err := tp.Err(); err != nil {
		return 0, err
	}
	per := max(tp.BufferBytes()/probe, 1)
	return int(max(1, min(MaxInferenceBatch, InferenceMemory/per))), nil
}

// EmbedEach runs enc in evaluation mode (running BatchNorm statistics)
// over every image of ds in order, with the spec's transform (centre
// crop, normalisation), in chunks of o.Batch images, and hands each chunk
// to each: memory stays bounded whatever the data set's size. A NaN or Inf
// feature is an error naming the tap, the image and the column; so is an
// error of each. A nil enc, ds or each, images the encoder does not take
// and an unknown tap are errors. The encoder is left in training mode.
func EmbedEach(enc Encoder, ds data.Dataset, o EmbedOptions, each func(c *Chunk) error) error {
	if err := checkEmbedArgs(enc, ds); err != nil {
		return err
	}
	if each == nil {
		return errors.New("embed: nil chunk function")
	}
	spec := enc.Spec()
	if err := spec.CheckInput(ds.Shape()); err != nil {
		return fmt.Errorf("embed: %w", err)
	}
	if o.Taps == nil {
		o.Taps = Layers
	}
	widths, err := TapWidths(enc, o.Taps)
	if err != nil {
		return fmt.Errorf("embed: %w", err)
	}
	if o.Batch <= 0 {
		if o.Batch, err = InferenceBatch(enc); err != nil {
			return fmt.Errorf("embed: %w", err)
		}
	}
	modes := nn.ModesOf(enc)
	modes.Set(false)
	defer modes.Set(true)
	tp := autograd.NewTape()
	tp.SetNoGrad(true)
	x := &tensor.Tensor{}
	c := &Chunk{Taps: map[string]*tensor.Tensor{}}
	for b, err := range data.Chunks(ds, o.Batch, spec.Transform) {
		if err != nil {
			return fmt.Errorf("embed: %w", err)
		}
		tp.Reset()
		x.Shape = append(x.Shape[:0], b.N, b.C, b.H, b.W)
		x.Data = b.X
		f := enc.Encode(tp, tp.Const(x))
		if err := tp.Err(); err != nil {
			return fmt.Errorf("embed: %w", err)
		}
		c.Start, c.N, c.Labels = b.Start, b.N, b.Labels
		for _, name := range o.Taps {
			v, err := f.Tap(name)
			if err != nil {
				return fmt.Errorf("embed: %w", err)
			}
			d := widths[name]
			if !kernels.AllFinite(v.Value.Data) {
				for i, f := range v.Value.Data {
					if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
						return fmt.Errorf("embed: tap %s of image %d, column %d is %v (non-finite weights or inputs?)", name, b.Start+i/d, i%d, f)
					}
				}
			}
			c.Taps[name] = &tensor.Tensor{Shape: []int{b.N, d}, Data: v.Value.Data}
		}
		c.Images = nil
		if o.Images {
			c.Images = x
		}
		if err := each(c); err != nil {
			return err
		}
		if o.Progress != nil {
			o.Progress(b.Start + b.N)
		}
	}
	return nil
}

// Embed is EmbedEach into memory: the requested taps of every image of ds
// as [N, D] rows, the labels and (with o.Images) the encoder's inputs. It
// returns EmbedEach's errors.
func Embed(enc Encoder, ds data.Dataset, o EmbedOptions) (*Embeddings, error) {
	if err := checkEmbedArgs(enc, ds); err != nil {
		return nil, err
	}
	if err := enc.Spec().CheckInput(ds.Shape()); err != nil {
		return nil, fmt.Errorf("embed: %w", err) // before allocating
	}
	if o.Taps == nil {
		o.Taps = Layers
	}
	widths, err := TapWidths(enc, o.Taps)
	if err != nil {
		return nil, fmt.Errorf("embed: %w", err)
	}
	n := ds.Len()
	e := &Embeddings{Taps: map[string]*tensor.Tensor{}, Labels: make([]int, n)}
	for name, d := range widths {
		e.Taps[name] = tensor.New(n, d)
	}
	if o.Images {
		spec := enc.Spec()
		e.Images = tensor.New(n, spec.Channels, spec.Size, spec.Size)
	}
	err = EmbedEach(enc, ds, o, func(c *Chunk) error {
		for name, t := range c.Taps {
			d := t.Shape[1]
			copy(e.Taps[name].Data[c.Start*d:], t.Data)
		}
		if c.Images != nil {
			d := c.Images.Size() / c.N
			copy(e.Images.Data[c.Start*d:], c.Images.Data)
		}
		copy(e.Labels[c.Start:], c.Labels)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// errNilEncoder is the error of a nil Encoder argument.
var errNilEncoder = errors.New("encoder: nil encoder")

// checkEmbedArgs reports a nil encoder or data set.
func checkEmbedArgs(enc Encoder, ds data.Dataset) error {
	switch {
	case enc == nil:
		return errors.New("embed: nil encoder")
	case ds == nil:
		return errors.New("embed: nil data set")
	}
	return nil
}
