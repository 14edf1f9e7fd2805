package dim

import (
	"fmt"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// Occlusion is the paper's occlusion (section 4.4, Table 4): Y is computed
// from the image with parts hidden, while the local features (and every
// other tap) come from the full image, so Y must carry what the hidden part
// shares with the rest. Neither the paper nor the reference code says how
// much is hidden; here it is Blocks squares of side Size (default: one
// square of half the image side), placed uniformly at random inside each
// image from (seed, step), and filled with 0: the normalised mean (grey
// for the default [-1, 1] scaling). See docs/decisions.md.
type Occlusion struct {
	Size   int `json:"size,omitempty"`   // side of a hidden square in pixels; 0: half the image side
	Blocks int `json:"blocks,omitempty"` // squares per image; 0: 1
}

// MaxOcclusionBlocks is the most squares Occlusion hides per image.
const MaxOcclusionBlocks = 1024

// check reports settings that cannot work for any image.
func (o Occlusion) check() error {
	if o.Size < 0 || o.Blocks < 0 || o.Blocks > MaxOcclusionBlocks {
		return fmt.Errorf("occlusion: %d squares of side %d: want a side of 0 or more and 0 to %d squares (--occlude-size, --occlude-blocks)", o.Blocks, o.Size, MaxOcclusionBlocks)
	}
	return nil
}

// validate reports settings that cannot work for side x side images.
func (o Occlusion) validate(side int) error {
	if err := o.check(); err != nil {
		return err
	}
	if o.Size > side {
		return fmt.Errorf("occlusion: %d squares of side %d do not fit %dx%d images (--occlude-size, --occlude-blocks)", o.Blocks, o.Size, side, side)
	}
	return nil
}

// apply writes x [N,C,H,W] into dst with the blocks hidden, drawing their
// places from rng.
func (o Occlusion) apply(dst, x *tensor.Tensor, rng *tensor.RNG) {
	dst.Resize(x.Shape...)
	copy(dst.Data, x.Data)
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	size, blocks := o.Size, max(o.Blocks, 1)
	if size == 0 {
		size = min(h, w) / 2
	}
	for i := range n {
		for range blocks {
			top, left := rng.IntN(h-size+1), rng.IntN(w-size+1)
			for ch := range c {
				img := dst.Data[(i*c+ch)*h*w:]
				for y := top; y < top+size; y++ {
					clear(img[y*w+left : y*w+left+size])
				}
			}
		}
	}
}
