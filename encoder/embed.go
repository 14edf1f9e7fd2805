package encoder

import (
	"fmt"
	"math"
	"slices"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/data"
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
	// Batch is the number of images per forward pass (default 500).
	Batch int
	// Taps to keep (default Layers: conv, fc, y).
	Taps []string
	// Images keeps the encoder's inputs too.
	Images bool
	// Progress, if not nil, is called with the number of images done.
	Progress func(done int)
}

// Embed runs enc in evaluation mode (running BatchNorm statistics) over
// every image of ds in order, with the spec's transform (centre crop,
// normalisation), and returns the requested taps. A NaN or Inf feature is
// an error naming the tap, the image and the column. The encoder is left
// in training mode.
func Embed(enc Encoder, ds data.Dataset, o EmbedOptions) (*Embeddings, error) {
	spec := enc.Spec()
	if err := spec.CheckInput(ds.Shape()); err != nil {
		return nil, fmt.Errorf("embed: %w", err)
	}
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.Taps == nil {
		o.Taps = Layers
	}
	n := ds.Len()
	e := &Embeddings{Taps: map[string]*tensor.Tensor{}, Labels: make([]int, n)}
	for _, name := range o.Taps {
		shape, err := enc.TapShape(name)
		if err != nil {
			return nil, fmt.Errorf("embed: %w", err)
		}
		d := 1
		for _, s := range shape {
			d *= s
		}
		e.Taps[name] = tensor.New(n, d)
	}
	if o.Images {
		e.Images = tensor.New(n, spec.Channels, spec.Size, spec.Size)
	}
	modes := nn.ModesOf(enc)
	modes.Set(false)
	defer modes.Set(true)
	tp := autograd.NewTape()
	tp.SetNoGrad(true)
	x := &tensor.Tensor{}
	for b, err := range data.Chunks(ds, o.Batch, spec.Transform) {
		if err != nil {
			return nil, fmt.Errorf("embed: %w", err)
		}
		tp.Reset()
		x.Shape = append(x.Shape[:0], b.N, b.C, b.H, b.W)
		x.Data = b.X
		f := enc.Encode(tp, tp.Const(x))
		if err := tp.Err(); err != nil {
			return nil, fmt.Errorf("embed: %w", err)
		}
		for _, name := range o.Taps {
			v, err := f.Tap(name)
			if err != nil {
				return nil, fmt.Errorf("embed: %w", err)
			}
			dst := e.Taps[name]
			d := dst.Shape[1]
			copy(dst.Data[b.Start*d:(b.Start+b.N)*d], v.Value.Data)
			for i, f := range v.Value.Data {
				if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
					return nil, fmt.Errorf("embed: tap %s of image %d, column %d is %v (non-finite weights or inputs?)", name, b.Start+i/d, i%d, f)
				}
			}
		}
		if e.Images != nil {
			d := len(b.X) / b.N
			copy(e.Images.Data[b.Start*d:], b.X)
		}
		copy(e.Labels[b.Start:], b.Labels)
		if o.Progress != nil {
			o.Progress(b.Start + b.N)
		}
	}
	return e, nil
}
