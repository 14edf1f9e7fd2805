package eval

import (
	"fmt"
	"math"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/decoder"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// DecoderConfig sets up the decoder of the MS-SSIM evaluation (package
// decoder: the reference's cortex_DIM/configs/deconvnets.py, sized to the
// image). Zero fields take the reference's values (Adam 1e-4, batch 64,
// the decoder's default width: 512x4x4 for 32x32 images) and 2000 steps.
// Negative Width, Steps or Batch, a Batch of 1 (the decoder's BatchNorm
// needs 2 rows) and a negative or non-finite LR are errors.
type DecoderConfig struct {
	// Width is the number of channels of the first map (0: the decoder's
	// default, 64 * 2^upsamplings); each transposed convolution halves it.
	Width        int
	Steps, Batch int
	LR           float64
	Seed         uint64
	// Progress, if not nil, is called after each training step with the
	// number of steps done (last with Steps, before the test-set
	// evaluation).
	Progress func(done int)
}

func (c DecoderConfig) withDefaults() DecoderConfig {
	if c.Steps == 0 {
		c.Steps = 2000
	}
	if c.Batch == 0 {
		c.Batch = 64
	}
	if c.LR == 0 {
		c.LR = 1e-4
	}
	return c
}

// validate returns an error naming the first field of c (before
// withDefaults) that is out of range.
func (c DecoderConfig) validate() error {
	switch {
	case c.Width < 0:
		return fmt.Errorf("ms-ssim decoder: Width = %d: want at least 1 (0 for the decoder's default)", c.Width)
	case c.Steps < 0:
		return fmt.Errorf("ms-ssim decoder: Steps = %d: want at least 1 (0 for the default 2000)", c.Steps)
	case c.Batch < 0 || c.Batch == 1:
		return fmt.Errorf("ms-ssim decoder: Batch = %d: want at least 2, for BatchNorm (0 for the default 64)", c.Batch)
	case !(c.LR >= 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("ms-ssim decoder: LR = %v: want a finite rate > 0 (0 for the default 1e-4)", c.LR)
	}
	return nil
}

// DecoderResult is the outcome of DecoderMSSSIM.
type DecoderResult struct {
	// MSSSIM is the mean over test images of the MS-SSIM between each
	// image and its reconstruction (MSSSIM, data range 2 on the [-1, 1]
	// scale), at most 1.
	MSSSIM float64
	// MSE is the mean squared error per pixel of the test
	// reconstructions, on the [-1, 1] scale.
	MSE float64
	// Scales is the number of MS-SSIM scales the image size allows.
	Scales int
}

// DecoderMSSSIM measures how much of the images a representation keeps,
// as the paper's Table 3 does: a decoder (package decoder) is trained with the
// L2 (mean squared error) loss to reconstruct the training images trainX
// [N,C,S,S] from their frozen features trainY [N,D], and its
// reconstructions of the test images are scored with MS-SSIM, averaged
// over test images. Images are first mapped to [-1, 1], the range of the
// decoder's tanh, by the affine map that takes the training images'
// minimum and maximum to -1 and 1 (the identity for the default
// transform, whose pixels are already in [-1, 1]); MS-SSIM then uses the
// data range 2. Errors: an invalid cfg (see DecoderConfig), nil tensors,
// shapes that disagree, fewer than 2 rows, no feature columns, a NaN or
// Inf feature or pixel, constant training images, image sizes
// decoder.Layout or MSSSIM reject, or a non-finite loss.
func DecoderMSSSIM(trainY, trainX, testY, testX *tensor.Tensor, cfg DecoderConfig) (DecoderResult, error) {
	if err := cfg.validate(); err != nil {
		return DecoderResult{}, err
	}
	cfg = cfg.withDefaults()
	for _, s := range []struct {
		name string
		y, x *tensor.Tensor
	}{{"train", trainY, trainX}, {"test", testY, testX}} {
		switch {
		case s.y == nil || s.x == nil:
			return DecoderResult{}, fmt.Errorf("ms-ssim decoder: %s features or images are nil", s.name)
		case s.y.Rank() != 2 || s.x.Rank() != 4 || s.y.Size() != tensor.SizeOf(s.y.Shape) || s.x.Size() != tensor.SizeOf(s.x.Shape):
			return DecoderResult{}, fmt.Errorf("ms-ssim decoder: %s features %v and images %v: want [N,D] and [N,C,S,S]", s.name, s.y.Shape, s.x.Shape)
		case s.y.Shape[1] < 1:
			return DecoderResult{}, fmt.Errorf("ms-ssim decoder: %s features %v: no feature columns (want D >= 1)", s.name, s.y.Shape)
		case s.y.Shape[0] != s.x.Shape[0] || s.y.Shape[0] < 2:
			return DecoderResult{}, fmt.Errorf("ms-ssim decoder: %s has %d feature rows and %d images: want the same number, at least 2", s.name, s.y.Shape[0], s.x.Shape[0])
		case s.x.Shape[2] != s.x.Shape[3]:
			return DecoderResult{}, fmt.Errorf("ms-ssim decoder: %s images %v are not square", s.name, s.x.Shape)
		}
	}
	if !tensor.EqualShape(trainX.Shape[1:], testX.Shape[1:]) || trainY.Shape[1] != testY.Shape[1] {
		return DecoderResult{}, fmt.Errorf("ms-ssim decoder: train features %v and images %v do not match test %v and %v", trainY.Shape[1:], trainX.Shape[1:], testY.Shape[1:], testX.Shape[1:])
	}
	for _, s := range []struct {
		name string
		x    *tensor.Tensor
	}{{"train features", trainY}, {"train images", trainX}, {"test features", testY}, {"test images", testX}} {
		if err := CheckFinite(s.x); err != nil {
			return DecoderResult{}, fmt.Errorf("ms-ssim decoder: %s: %w", s.name, err)
		}
	}
	c, size := trainX.Shape[1], trainX.Shape[2]
	scales := MSSSIMScales(size, size)
	if scales == 0 {
		return DecoderResult{}, fmt.Errorf("ms-ssim decoder: %dx%d images are smaller than the %dx%d MS-SSIM window", size, size, SSIMWindow, SSIMWindow)
	}
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range trainX.Data {
		lo, hi = min(lo, v), max(hi, v)
	}
	if !(hi > lo) {
		return DecoderResult{}, fmt.Errorf("ms-ssim decoder: training images are constant (%v)", lo)
	}
	scale := func(x *tensor.Tensor) *tensor.Tensor {
		out := tensor.New(x.Shape...)
		for i, v := range x.Data {
			out.Data[i] = 2*(v-lo)/(hi-lo) - 1
		}
		return out
	}
	xtr, xte := scale(trainX), scale(testX)

	rng := tensor.NewRNG(cfg.Seed)
	dec, err := decoder.New(trainY.Shape[1], c, size, cfg.Width, rng)
	if err != nil {
		return DecoderResult{}, fmt.Errorf("ms-ssim decoder: %w", err)
	}
	opt, err := optim.NewAdam(nn.StateOf(dec, "").Vars(), optim.AdamConfig{LR: cfg.LR})
	if err != nil {
		return DecoderResult{}, fmt.Errorf("ms-ssim decoder: %w", err)
	}
	modes := nn.ModesOf(dec)
	modes.Set(true)
	tp := autograd.NewTape()
	yb, xb := &tensor.Tensor{}, &tensor.Tensor{}
	n := trainY.Shape[0]
	batch := min(cfg.Batch, n)
	perm, pos := rng.Perm(n), 0
	for step := range cfg.Steps {
		if pos+batch > n {
			perm, pos = rng.Perm(n), 0
		}
		gatherRows(yb, trainY, perm[pos:pos+batch])
		gatherRows(xb, xtr, perm[pos:pos+batch])
		pos += batch
		tp.Reset()
		loss := tp.Mean(tp.Square(tp.Sub(dec.Forward(tp, tp.Const(yb)), tp.Const(xb))))
		if err := tp.Err(); err != nil {
			return DecoderResult{}, fmt.Errorf("ms-ssim decoder: step %d: %w", step, err)
		}
		if l := float64(loss.Item()); !finite(l) {
			return DecoderResult{}, fmt.Errorf("ms-ssim decoder: step %d: loss %v", step, l)
		}
		opt.ZeroGrad()
		if err := tp.Backward(loss); err != nil {
			return DecoderResult{}, fmt.Errorf("ms-ssim decoder: step %d: %w", step, err)
		}
		opt.Step()
		if cfg.Progress != nil {
			cfg.Progress(step + 1)
		}
	}
	if err := opt.Err(); err != nil {
		return DecoderResult{}, fmt.Errorf("ms-ssim decoder: %w", err)
	}
	modes.Set(false)
	tp.SetNoGrad(true)
	m, pix := testY.Shape[0], c*size*size
	res := DecoderResult{Scales: scales}
	a, b := make([]float64, pix), make([]float64, pix)
	idx := make([]int, 0, batch)
	for s := 0; s < m; s += batch {
		idx = idx[:0]
		for i := s; i < min(s+batch, m); i++ {
			idx = append(idx, i)
		}
		gatherRows(yb, testY, idx)
		tp.Reset()
		rec := dec.Forward(tp, tp.Const(yb))
		if err := tp.Err(); err != nil {
			return DecoderResult{}, fmt.Errorf("ms-ssim decoder: test: %w", err)
		}
		for k, i := range idx {
			for p := range pix {
				a[p] = float64(xte.Data[i*pix+p])
				b[p] = float64(rec.Value.Data[k*pix+p])
				res.MSE += (a[p] - b[p]) * (a[p] - b[p])
			}
			v, err := MSSSIM(a, b, c, size, size, 2)
			if err != nil {
				return DecoderResult{}, fmt.Errorf("ms-ssim decoder: test image %d: %w", i, err)
			}
			res.MSSSIM += v
		}
	}
	res.MSSSIM /= float64(m)
	res.MSE /= float64(m * pix)
	return res, nil
}

// gatherRows copies the rows idx of x (any rank, rows along axis 0) into
// dst, resized to [len(idx), x.Shape[1:]...].
func gatherRows(dst, x *tensor.Tensor, idx []int) {
	d := x.Size() / x.Shape[0]
	dst.Resize(append([]int{len(idx)}, x.Shape[1:]...)...)
	for k, r := range idx {
		copy(dst.Data[k*d:(k+1)*d], x.Data[r*d:(r+1)*d])
	}
}
