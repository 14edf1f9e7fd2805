package encoder_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/kernels"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Adversarial tests of the Winograd convolutions at inference (decision
// #51) through the encoders, written in review.
// TestWinogradBreakEncoderOnOnePixelMap failed on the implementation it
// was written against (a panic, fixed since).

// wbEvalEncoder builds the named encoder, gives its BatchNorms running
// statistics from two training-mode passes and random gammas and betas
// (so the epilogue is neither the identity nor all-ReLU-off), and leaves
// it in evaluation mode.
func wbEvalEncoder(t *testing.T, name string, seed uint64) encoder.Encoder {
	t.Helper()
	enc, err := encoder.New(encoder.Spec{Name: name}, tensor.NewRNG(seed))
	if err != nil {
		t.Fatal(err)
	}
	s := enc.Spec()
	x := tensor.New(8, s.Channels, s.Size, s.Size)
	rng := tensor.NewRNG(seed + 1)
	tp := autograd.NewTape()
	tp.SetNoGrad(true)
	for range 2 {
		rng.Uniform(x, -1, 2)
		tp.Reset()
		enc.Encode(tp, tp.Const(x))
		if err := tp.Err(); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range nn.StateOf(enc, "").Tensors() {
		if !strings.HasPrefix(k, "bn") {
			continue
		}
		switch {
		case strings.HasSuffix(k, ".weight"):
			rng.Uniform(v, 0.5, 1.5)
		case strings.HasSuffix(k, ".bias"):
			rng.Uniform(v, -0.3, 0.3)
		}
	}
	nn.SetTraining(enc, false)
	return enc
}

// wbEncode runs enc on x in its current mode: without recording (the
// one-pass conv blocks, Winograd where it applies) or recording (the
// three ops with the direct convolution). A recording pass runs one image
// at a time, so that no convolution has the tiles for a recorded Conv2d to
// take Winograd's path (kernels.WinogradPays, decision #52); in
// evaluation mode every image's features are its own.
func wbEncode(t *testing.T, enc encoder.Encoder, x *tensor.Tensor, record bool) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	per, n := len(x.Data)/x.Shape[0], x.Shape[0]
	if !record {
		per, n = len(x.Data), 1
	}
	for i := range n {
		xi, err := tensor.FromSlice(x.Data[i*per:(i+1)*per], append([]int{x.Shape[0] / n}, x.Shape[1:]...)...)
		if err != nil {
			t.Fatal(err)
		}
		tp := autograd.NewTape()
		tp.SetNoGrad(!record)
		f := enc.Encode(tp, tp.Const(xi))
		if err := tp.Err(); err != nil {
			t.Fatal(err)
		}
		for name, v := range map[string]*autograd.Var{"local": f.Local, "conv": f.Conv, "fc": f.FC, "y": f.Y} {
			if v != nil {
				out[name] = append(out[name], v.Value.Data...)
			}
		}
	}
	return out
}

// TestWinogradBreakEncodersEndToEnd: basic28x28, basic32x32 and
// basic64x64 in evaluation mode give the same features without recording
// (Winograd in their stride-2 conv blocks) as with recording (the direct
// convolution, BatchNorm and ReLU as three ops), to float tolerance, at a
// batch of one and at one that leaves a partial last group, and
// Winograd is really taken (CanWinograd accepts a layer, and the two
// passes differ in some bit).
func TestWinogradBreakEncodersEndToEnd(t *testing.T) {
	for _, c := range []struct {
		name    string
		batches []int
	}{
		{"basic28x28", []int{1, 37}},
		{"basic32x32", []int{1, 33}},
		{"basic64x64", []int{1, 9}},
	} {
		t.Run(c.name, func(t *testing.T) {
			enc := wbEvalEncoder(t, c.name, 3)
			s := enc.Spec()
			arch := encoder.Archs[c.name]
			wino, h, ch := 0, s.Size, s.Channels
			for _, cv := range arch.Convs {
				g := kernels.NewConvGeom(1, ch, h, h, cv.Kernel, cv.Kernel, cv.Stride, cv.Pad)
				if kernels.CanWinograd(g, cv.Out) {
					wino++
				}
				ch, h = cv.Out, g.OH
			}
			if wino == 0 {
				t.Skip("no layer takes the Winograd path on this CPU")
			}
			for _, n := range c.batches {
				x := tensor.New(n, s.Channels, s.Size, s.Size)
				tensor.NewRNG(uint64(n)).Uniform(x, -1, 1)
				fast, direct := wbEncode(t, enc, x, false), wbEncode(t, enc, x, true)
				differs := false
				for name, want := range direct {
					got := fast[name]
					if len(got) != len(want) {
						t.Fatalf("batch %d: %s has %d values, want %d", n, name, len(got), len(want))
					}
					var rms float64
					for _, v := range want {
						rms += float64(v) * float64(v)
					}
					rms = math.Sqrt(rms / float64(len(want)))
					worst := 0.0
					for i, v := range want {
						d := math.Abs(float64(got[i]) - float64(v))
						if !(d <= 1e-4*(math.Abs(float64(v))+rms)) {
							t.Fatalf("batch %d: %s[%d] = %v without recording, %v with (rms %.3g)", n, name, i, got[i], v, rms)
						}
						worst = max(worst, d/(math.Abs(float64(v))+rms))
						if math.Float32bits(got[i]) != math.Float32bits(v) {
							differs = true
						}
					}
					t.Logf("batch %d: %s: largest difference %.3g of (|value| + rms)", n, name, worst)
				}
				if !differs {
					t.Errorf("batch %d: the passes agree bit for bit: Winograd not taken?", n)
				}
			}
		})
	}
}

// TestWinogradBreakEncoderOnOnePixelMap: an encoder whose stride-2 conv
// block sees a 1 x 1 map (a legal Arch: 2 x 2 -> 1 x 1 -> 1 x 1 with 3 x 3
// windows, pad 1, 16 channels) runs at inference. It panicked in the first
// version: kernels.Conv2dWinograd's AVX-512 input transform took a pointer
// past the end of the activations (see TestWinogradBreakOneRowImages).
func TestWinogradBreakEncoderOnOnePixelMap(t *testing.T) {
	arch := encoder.Arch{
		Name: "wb-one-pixel", Channels: 16, Size: 2,
		Convs: []encoder.ConvSpec{{Out: 16, Kernel: 3, Stride: 2, Pad: 1}, {Out: 16, Kernel: 3, Stride: 2, Pad: 1}},
		FCs:   []int{8}, Out: 4, LocalLayer: 0, FeatureLayer: 1,
	}
	enc, err := encoder.NewConvNet(arch, encoder.Spec{}, tensor.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	nn.SetTraining(enc, false)
	for _, n := range []int{1, 33} { // 33: several groups, on the pool's goroutines
		x := tensor.New(n, 16, 2, 2)
		tensor.NewRNG(2).Uniform(x, -1, 1)
		var fast map[string][]float32
		func() {
			defer func() {
				if e := recover(); e != nil {
					t.Fatalf("batch %d: inference panicked: %v", n, fmt.Sprint(e))
				}
			}()
			fast = wbEncode(t, enc, x, false)
		}()
		direct := wbEncode(t, enc, x, true)
		for name, want := range direct {
			for i, v := range want {
				if d := math.Abs(float64(fast[name][i] - v)); !(d <= 1e-4*(1+math.Abs(float64(v)))) {
					t.Fatalf("batch %d: %s[%d] = %v without recording, %v with", n, name, i, fast[name][i], v)
				}
			}
		}
	}
}
