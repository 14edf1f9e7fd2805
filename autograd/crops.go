package autograd

// StridedCrops cuts every image of x [N,C,H,W] into the size x size crops
// whose top-left corners lie stride apart, and returns them as a batch
// [N*L, C, size, size] with L = Hc*Wc crops per image, Hc = (H-size)/stride+1
// (likewise Wc). Crop l = i*Wc + j of image n is row n*L + l and starts at
// row i*stride, column j*stride: images outermost, then crop rows, then crop
// columns, as torch.nn.Unfold orders its blocks (the reference's Unfold,
// rdevon/DIM cortex_DIM/nn_modules/misc.py, reshapes those blocks the same
// way). Crops may overlap (stride < size); the gradient of an input pixel
// sums over every crop that holds it.
func (tp *Tape) StridedCrops(x *Var, size, stride int) *Var {
	if tp.failed() || tp.bad("strided crops", "x", x) {
		return tp.newVar(1)
	}
	xs := x.Value.Shape
	switch {
	case len(xs) != 4:
		return tp.fail("strided crops: input %v, want [N,C,H,W]", xs)
	case size < 1 || stride < 1:
		return tp.fail("strided crops: size %d and stride %d must be at least 1", size, stride)
	case xs[0] < 1 || xs[1] < 1 || xs[2] < size || xs[3] < size:
		return tp.fail("strided crops: input %v smaller than a %dx%d crop", xs, size, size)
	}
	n, c, h, w := xs[0], xs[1], xs[2], xs[3]
	hc, wc := (h-size)/stride+1, (w-size)/stride+1
	out := tp.newVar(n*hc*wc, c, size, size)
	cropsCopy(out.Value.Data, x.Value.Data, n, c, h, w, size, stride, false)
	if nd := tp.record(cropsBackward, out, x); nd != nil {
		nd.ints[0], nd.ints[1] = size, stride
	}
	return out
}

func cropsBackward(tp *Tape, nd *node) {
	x := nd.in[0]
	xs := x.Value.Shape
	cropsCopy(nd.out.Grad.Data, tp.grad(x).Data, xs[0], xs[1], xs[2], xs[3], nd.ints[0], nd.ints[1], true)
}

// cropsCopy moves values between the images img [n,c,h,w] and their crops
// crops [n*L, c, size, size]: forward (back=false) copies image pixels into
// the crops; back=true adds the crops into the images (the transposed map).
func cropsCopy(crops, img []float32, n, c, h, w, size, stride int, back bool) {
	hc, wc := (h-size)/stride+1, (w-size)/stride+1
	o := 0
	for b := 0; b < n; b++ {
		for i := 0; i < hc; i++ {
			for j := 0; j < wc; j++ {
				for ch := 0; ch < c; ch++ {
					plane := img[(b*c+ch)*h*w:]
					for y := 0; y < size; y++ {
						row := plane[(i*stride+y)*w+j*stride:][:size]
						dst := crops[o : o+size]
						if back {
							addTo(row, dst)
						} else {
							copy(dst, row)
						}
						o += size
					}
				}
			}
		}
	}
}
