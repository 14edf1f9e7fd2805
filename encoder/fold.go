package encoder

import "github.com/deepinfomax/deepinfomax/autograd"

// unfoldLayer is the reference's Unfold (rdevon/DIM cortex_DIM/nn_modules/
// misc.py): images [N,C,H,W] to their size x size crops with the given
// stride, as a batch [N*L,C,size,size] ordered image, crop row, crop
// column.
type unfoldLayer struct {
	size, stride int
}

// Forward implements nn.Module.
func (u *unfoldLayer) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	return tp.StridedCrops(x, u.size, u.stride)
}

// foldLayer is the reference's Fold (misc.py): the outputs of the n*n
// crops of each image, [N*n*n, C, h, w] in unfoldLayer's order, become one
// map [N, C*h*w, n, n] whose location (i, j) is crop i*n+j. Channel
// c*h*w + y*w + x is the crop's channel c at (y, x), so for 1x1 crop maps
// the channels are the crops' channels. A vector input [N*n*n, C] is
// folded as 1x1 maps, as the reference's is.
type foldLayer struct {
	n int
}

// Forward implements nn.Module.
func (f *foldLayer) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	s := x.Value.Shape
	l, d := f.n*f.n, 1
	for _, v := range s[min(1, len(s)):] {
		d *= v
	}
	x = tp.Reshape(x, -1, l, d)           // [N, L, C*h*w]
	x = tp.Permute(x, 0, 2, 1)            // [N, C*h*w, L]
	return tp.Reshape(x, -1, d, f.n, f.n) // [N, C*h*w, n, n]
}
