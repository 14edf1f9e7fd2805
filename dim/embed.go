package dim

import (
	"fmt"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Embeddings are the frozen encoder's features of a data set, one row per
// image: Conv [N, C*H*W], FC [N, units], Y [N, out], and the labels.
type Embeddings struct {
	Conv, FC, Y *tensor.Tensor
	Labels      []int
}

// Embed runs the encoder in evaluation mode (running BatchNorm statistics)
// over every image of ds in order, in chunks of batch images, calling
// progress (if not nil) with the number of images done.
func Embed(enc *Encoder, ds data.Dataset, batch int, progress func(done int)) (*Embeddings, error) {
	a := enc.Arch
	c, h, w := ds.Shape()
	if c != a.Channels || h != a.Size || w != a.Size {
		return nil, fmt.Errorf("embed: images are %dx%dx%d but encoder %s takes %dx%dx%d", c, h, w, a.Name, a.Channels, a.Size, a.Size)
	}
	n := ds.Len()
	fs := a.FeatureShape()
	e := &Embeddings{
		Conv:   tensor.New(n, fs[0]*fs[1]*fs[2]),
		FC:     tensor.New(n, a.FCs[len(a.FCs)-1]),
		Y:      tensor.New(n, a.Out),
		Labels: make([]int, n),
	}
	enc.SetTraining(false)
	defer enc.SetTraining(true)
	tp := autograd.NewTape()
	tp.SetNoGrad(true)
	x := &tensor.Tensor{}
	for b, err := range data.Chunks(ds, batch, enc.Mean, enc.Std) {
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
		for _, p := range []struct{ dst, src *tensor.Tensor }{{e.Conv, f.Conv.Value}, {e.FC, f.FC.Value}, {e.Y, f.Y.Value}} {
			d := p.dst.Shape[1]
			copy(p.dst.Data[b.Start*d:(b.Start+b.N)*d], p.src.Data)
		}
		copy(e.Labels[b.Start:], b.Labels)
		if progress != nil {
			progress(b.Start + b.N)
		}
	}
	return e, nil
}

// Layers names the feature layers of Embeddings in a fixed order.
var Layers = []string{"conv", "fc", "y"}

// Layer returns the features of the named layer ("conv", "fc" or "y").
func (e *Embeddings) Layer(name string) (*tensor.Tensor, error) {
	switch name {
	case "conv":
		return e.Conv, nil
	case "fc":
		return e.FC, nil
	case "y":
		return e.Y, nil
	}
	return nil, fmt.Errorf("unknown feature layer %q (want conv, fc or y)", name)
}
