package report

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/decoder"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/eval"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Gap is the white gap in pixels around the cells of an image grid.
const Gap = 2

// cell is one image of a grid: c x h x w uint8 pixels, channel-major.
type cell = []uint8

// Grid draws rows of images (each c x h x w uint8 pixels, channel-major)
// Gap pixels apart on white, each scaled up by scale (0: the smallest
// factor that makes it at least minHeight pixels tall). A column sep > 0
// gets a wider gap before it (to set a query apart from its neighbours).
// Grey images are drawn grey, three-channel ones in colour, others by
// their first channel.
func Grid(rows [][][]uint8, c, h, w, scale, minHeight, sep int) (*image.RGBA, error) {
	if scale <= 0 {
		scale = max(1, (minHeight+h-1)/h)
	}
	cols := 0
	for _, r := range rows {
		cols = max(cols, len(r))
	}
	extra := 0
	if sep > 0 {
		extra = 3 * Gap
	}
	pw, ph := w*scale+Gap, h*scale+Gap
	img := image.NewRGBA(image.Rect(0, 0, Gap+cols*pw+extra, Gap+len(rows)*ph))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for r, row := range rows {
		for col, px := range row {
			if len(px) != c*h*w {
				return nil, fmt.Errorf("image grid: cell (%d, %d) has %d pixels, want %d", r, col, len(px), c*h*w)
			}
			x0, y0 := Gap+col*pw, Gap+r*ph
			if sep > 0 && col >= sep {
				x0 += extra
			}
			for y := range h * scale {
				for x := range w * scale {
					p := (y/scale)*w + x/scale
					v := color.RGBA{px[p], px[p], px[p], 255}
					if c == 3 {
						v.G, v.B = px[h*w+p], px[2*h*w+p]
					}
					img.SetRGBA(x0+x, y0+y, v)
				}
			}
		}
	}
	return img, nil
}

// tileGrid is Grid at least 56 pixels tall, as PNG bytes.
func tileGrid(rows [][]cell, c, h, w, sep int) ([]byte, error) {
	img, err := Grid(rows, c, h, w, 0, 56, sep)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("image grid: %w", err)
	}
	return buf.Bytes(), nil
}

// readCell reads image i of ds.
func readCell(ds data.Dataset, i int) (cell, error) {
	c, h, w := ds.Shape()
	px := make(cell, c*h*w)
	if err := ds.Image(i, px); err != nil {
		return nil, fmt.Errorf("image %d: %w", i, err)
	}
	return px, nil
}

// standardize scales the columns of x and y in place by x's mean and std.
func standardize(x *tensor.Tensor, others ...*tensor.Tensor) {
	mean, std := eval.Standardize(x)
	for _, t := range append([]*tensor.Tensor{x}, others...) {
		d := t.Shape[1]
		for i, v := range t.Data {
			t.Data[i] = (v - mean[i%d]) / std[i%d]
		}
	}
}

// neighborGrid finds, for each of the first queries rows of test, its k
// nearest rows of ref (standardised features, Euclidean distance), and
// draws one grid row per query: the test image, then its neighbours among
// the training images refIdx indexes into train, nearest first.
func neighborGrid(ref, test *tensor.Tensor, queries, k int, trainDS, testDS data.Dataset, refIdx, testIdx []int) ([]byte, error) {
	d := test.Shape[1]
	q := &tensor.Tensor{Shape: []int{queries, d}, Data: test.Data[:queries*d]}
	nbs, err := eval.Neighbors(ref, q, k, eval.Euclidean)
	if err != nil {
		return nil, fmt.Errorf("neighbours: %w", err)
	}
	rows := make([][]cell, queries)
	for i := range queries {
		px, err := readCell(testDS, testIdx[i])
		if err != nil {
			return nil, fmt.Errorf("neighbours: test %w", err)
		}
		rows[i] = append(rows[i], px)
		for _, n := range nbs[i] {
			px, err := readCell(trainDS, refIdx[n])
			if err != nil {
				return nil, fmt.Errorf("neighbours: training %w", err)
			}
			rows[i] = append(rows[i], px)
		}
	}
	c, h, w := testDS.Shape()
	return tileGrid(rows, c, h, w, 1)
}

// reconstructionGrid encodes the images x ([N, C, S, S], the encoder's
// inputs after the spec's transform) with enc, decodes their Y with dec,
// both in evaluation mode, and draws two rows per group of up to perRow
// images: the inputs, then their reconstructions. Pixels are mapped back
// through the transform tr.
func reconstructionGrid(enc encoder.Encoder, dec *decoder.Decoder, x *tensor.Tensor, tr data.Transform, perRow int) ([]byte, error) {
	encModes, decModes := nn.ModesOf(enc), nn.ModesOf(dec)
	encModes.Set(false)
	decModes.Set(false)
	defer encModes.Set(true)
	defer decModes.Set(true)
	tp := autograd.NewTape()
	tp.SetNoGrad(true)
	f := enc.Encode(tp, tp.Const(x))
	out := dec.Forward(tp, f.Y)
	if err := tp.Err(); err != nil {
		return nil, fmt.Errorf("reconstructions: %w", err)
	}
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	if s := out.Value.Shape; len(s) != 4 || s[0] != n || s[1] != c || s[2] != h || s[3] != w {
		return nil, fmt.Errorf("reconstructions: decoder gives %v for inputs %v", s, x.Shape)
	}
	toCell := func(v []float32) cell {
		px := make(cell, len(v))
		for i, f := range v {
			ch := i / (h * w)
			m, s := float32(0.5), float32(0.5)
			if len(tr.Mean) > 0 {
				m = tr.Mean[min(ch, len(tr.Mean)-1)]
			}
			if len(tr.Std) > 0 {
				s = tr.Std[min(ch, len(tr.Std)-1)]
			}
			p := 255 * (f*s + m)
			px[i] = uint8(max(0, min(255, p+0.5)))
		}
		return px
	}
	sz := c * h * w
	var rows [][]cell
	for start := 0; start < n; start += perRow {
		end := min(n, start+perRow)
		var in, rec []cell
		for i := start; i < end; i++ {
			in = append(in, toCell(x.Data[i*sz:(i+1)*sz]))
			rec = append(rec, toCell(out.Value.Data[i*sz:(i+1)*sz]))
		}
		rows = append(rows, in, rec)
	}
	return tileGrid(rows, c, h, w, 0)
}
