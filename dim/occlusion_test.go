package dim

import (
	"slices"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

func TestOcclusionApply(t *testing.T) {
	x := tensor.New(3, 2, 8, 8)
	x.Fill(1)
	dst := &tensor.Tensor{}
	for _, c := range []struct {
		o        Occlusion
		minZeros int // per image and channel
		maxZeros int
	}{
		{Occlusion{}, 16, 16},                  // one 4x4 square
		{Occlusion{Size: 3, Blocks: 2}, 9, 18}, // two 3x3 squares, which may overlap
		{Occlusion{Size: 8}, 64, 64},           // the whole image
	} {
		c.o.apply(dst, x, tensor.NewRNG(1))
		for img := range 3 {
			zeros := make([]int, 2)
			for ch := range 2 {
				for _, v := range dst.Data[(img*2+ch)*64 : (img*2+ch+1)*64] {
					if v == 0 {
						zeros[ch]++
					}
				}
			}
			if zeros[0] != zeros[1] || zeros[0] < c.minZeros || zeros[0] > c.maxZeros {
				t.Errorf("%+v: image %d has %v hidden pixels per channel, want the same in each, %d..%d", c.o, img, zeros, c.minZeros, c.maxZeros)
			}
		}
		if !slices.Equal(x.Data, slices.Repeat([]float32{1}, x.Size())) {
			t.Fatal("apply changed its input")
		}
	}
	if err := (Occlusion{Size: 9}).validate(8); err == nil {
		t.Error("a block larger than the image is not an error")
	}
}

// TestOcclusionEncodesYFromOccludedImages: with occlusion, the local map
// is the full image's and Y the occluded image's.
func TestOcclusionEncodesYFromOccludedImages(t *testing.T) {
	cfg := tinyConfig(mi.JSD, 0, 1)
	cfg.Occlude = &Occlusion{Size: 4}
	m := newModel(t, cfg, tinySpec)
	x := randBatch(11, 3, tinyArch)
	tp := autograd.NewTape()
	if _, err := m.Objective(tp, &train.Batch{X: x, Step: 7}); err != nil {
		t.Fatal(err)
	}
	ref := autograd.NewTape()
	full := m.Enc.Encode(ref, ref.Const(x))
	occ := &tensor.Tensor{}
	rng := tensor.NewRNG(0)
	step := uint64(7)
	rng.Seed(cfg.Seed*0xa0761d6478bd642f ^ (step+1)*0xe7037ed1a0b428db)
	cfg.Occlude.apply(occ, x, rng)
	occY := m.Enc.Encode(ref, ref.Const(occ)).Y
	if !slices.Equal(m.step.F.Local.Value.Data, full.Local.Value.Data) {
		t.Error("the local map is not the full image's")
	}
	if !slices.Equal(m.step.F.Y.Value.Data, occY.Value.Data) {
		t.Error("Y is not the occluded image's")
	}
	if slices.Equal(occY.Value.Data, full.Y.Value.Data) {
		t.Error("occlusion did not change Y")
	}
	if _, err := New(Config{Common: cfg.Common, MIUnits: 4, Measure: mi.JSD, Weights: map[string]float32{"beta": 1}, Occlude: &Occlusion{Size: 10}}, tinySpec); err == nil {
		t.Error("an occlusion block larger than the 9x9 input is not an error")
	}
}
