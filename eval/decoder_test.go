package eval

import (
	"math"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// decoderData returns n features [n,4] and 1x16x16 images that are a
// smooth function of them.
func decoderData(seed uint64, n int) (y, x *tensor.Tensor) {
	rng := tensor.NewRNG(seed)
	y, x = tensor.New(n, 4), tensor.New(n, 1, 16, 16)
	for k := range n {
		var u [4]float64
		for j := range u {
			u[j] = rng.NormFloat64()
			y.Data[k*4+j] = float32(u[j])
		}
		for i := range 16 {
			for j := range 16 {
				fi, fj := float64(i), float64(j)
				v := u[0]*math.Sin(math.Pi*fi/8) + u[1]*math.Cos(math.Pi*fj/8) + u[2]*math.Sin(math.Pi*(fi+fj)/16) + u[3]*math.Cos(math.Pi*(fi-fj)/16)
				x.Data[k*256+i*16+j] = float32(math.Tanh(0.7 * v))
			}
		}
	}
	return y, x
}

// TestDecoderMSSSIM: features that determine the images give a high
// MS-SSIM, features independent of them a much lower one.
func TestDecoderMSSSIM(t *testing.T) {
	ytr, xtr := decoderData(1, 512)
	yte, xte := decoderData(2, 128)
	cfg := DecoderConfig{Width: 16, Steps: 120, Batch: 32, LR: 3e-3, Seed: 1}
	good, err := DecoderMSSSIM(ytr, xtr, yte, xte, cfg)
	if err != nil {
		t.Fatal(err)
	}
	noise := tensor.New(ytr.Shape...)
	tensor.NewRNG(7).Normal(noise, 0, 1)
	noiseTe := tensor.New(yte.Shape...)
	tensor.NewRNG(8).Normal(noiseTe, 0, 1)
	bad, err := DecoderMSSSIM(noise, xtr, noiseTe, xte, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("informative features: MS-SSIM %.4f, MSE %.4f; independent: MS-SSIM %.4f, MSE %.4f (%d scales)", good.MSSSIM, good.MSE, bad.MSSSIM, bad.MSE, good.Scales)
	if good.MSSSIM < 0.8 || good.MSSSIM > 1 || bad.MSSSIM > good.MSSSIM-0.3 || good.MSE > bad.MSE/4 {
		t.Errorf("MS-SSIM %.4f (MSE %.4f) with informative features, %.4f (MSE %.4f) with independent ones: want > 0.8 and 0.3 apart",
			good.MSSSIM, good.MSE, bad.MSSSIM, bad.MSE)
	}
	// Independent features: the decoder can only predict the mean image,
	// so its MSE is the pixel variance on the [-1, 1] scale the images are
	// mapped to (by the training images' minimum and maximum).
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range xtr.Data {
		lo, hi = min(lo, float64(v)), max(hi, float64(v))
	}
	var variance float64
	for p := range 256 {
		var s, s2 float64
		for k := range yte.Shape[0] {
			v := 2*(float64(xte.Data[k*256+p])-lo)/(hi-lo) - 1
			s += v
			s2 += v * v
		}
		m := s / float64(yte.Shape[0])
		variance += (s2/float64(yte.Shape[0]) - m*m) / 256
	}
	if math.Abs(bad.MSE-variance) > 0.2*variance {
		t.Errorf("MSE %.4f with independent features, want about the pixel variance %.4f", bad.MSE, variance)
	}
	if good.Scales != 1 {
		t.Errorf("%d scales for 16x16 images, want 1", good.Scales)
	}
}

func TestDecoderMSSSIMErrors(t *testing.T) {
	y, x := decoderData(1, 4)
	for _, c := range []struct {
		name     string
		ytr, xtr *tensor.Tensor
		yte, xte *tensor.Tensor
	}{
		{"rows", y, tensor.New(3, 1, 16, 16), y, x},
		{"test shape", y, x, y, tensor.New(4, 1, 32, 32)},
		{"features", y, x, tensor.New(4, 5), x},
		{"not square", y, tensor.New(4, 1, 16, 8), y, tensor.New(4, 1, 16, 8)},
		{"constant", y, tensor.New(4, 1, 16, 16), y, x},
		{"too small", y, tensor.New(4, 1, 8, 8), y, tensor.New(4, 1, 8, 8)},
	} {
		if _, err := DecoderMSSSIM(c.ytr, c.xtr, c.yte, c.xte, DecoderConfig{Width: 4, Steps: 1}); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}
