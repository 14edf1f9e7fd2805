package eval

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// twoClassImages returns n 1x28x28 images in [-1, 1] whose class (0 or 1)
// sets the brightness of the top or bottom half, with noise.
func twoClassImages(seed uint64, n int) (*tensor.Tensor, []int) {
	rng := tensor.NewRNG(seed)
	x, y := tensor.New(n, 1, 28, 28), make([]int, n)
	for i := range n {
		y[i] = i % 2
		for p := range 784 {
			v := float32(-0.8 + 0.2*rng.NormFloat64())
			if (p < 392) == (y[i] == 0) {
				v += 1.2
			}
			x.Data[i*784+p] = v
		}
	}
	return x, y
}

// TestSemiSupervisedSmoke runs both arms for a few steps on a random
// basic28x28 encoder: rows, accuracies in range, the labelled count, and
// the caller's encoder left unchanged.
func TestSemiSupervisedSmoke(t *testing.T) {
	enc, err := encoder.New(encoder.Spec{Name: "basic28x28"}, tensor.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]*tensor.Tensor{}
	for k, v := range nn.StateOf(enc, "").Tensors() {
		before[k] = v.Clone()
	}
	xtr, ytr := twoClassImages(1, 40)
	xte, yte := twoClassImages(2, 20)
	cfg := SemiConfig{LabelsPerClass: 4, Steps: 4, Batch: 8, LR: 1e-3, Seed: 3}
	r, err := SemiSupervised(enc, xtr, ytr, xte, yte, 2, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if r.Labelled != 8 {
		t.Errorf("%d labelled images, want 8", r.Labelled)
	}
	rows := r.Rows(cfg)
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4", len(rows))
	}
	rep := &Report{}
	rep.Add(rows...)
	if err := rep.Validate(); err != nil {
		t.Error(err)
	}
	for _, row := range rows {
		if row.Value < 0 || row.Value > 1 || row.Layer != encoder.TapY {
			t.Errorf("row %s = %v", row.Key(), row.Value)
		}
		if v, _ := row.Setting("labels_per_class"); v != 4 {
			t.Errorf("row %s: labels_per_class %v", row.Key(), v)
		}
	}
	for k, v := range nn.StateOf(enc, "").Tensors() {
		for i := range v.Data {
			if v.Data[i] != before[k].Data[i] {
				t.Fatalf("the caller's encoder changed: %s[%d]", k, i)
			}
		}
	}
}

// TestSemiSupervisedErrors: too few labels, labels, images and taps that
// do not fit, out-of-range settings, nil inputs and absurd class counts are
// errors (naming the problem where want says so), before any training.
func TestSemiSupervisedErrors(t *testing.T) {
	enc, err := encoder.New(encoder.Spec{Name: "basic28x28"}, tensor.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	x, y := twoClassImages(1, 6)
	for _, c := range []struct {
		name    string
		enc     encoder.Encoder
		x       *tensor.Tensor
		y       []int
		classes int
		cfg     SemiConfig
		want    string // "" for any error
	}{
		{"too few per class", enc, x, y, 2, SemiConfig{LabelsPerClass: 4, Steps: 1}, ""},
		{"no labels", enc, x, y, 2, SemiConfig{Steps: 1}, ""},
		{"label range", enc, x, y, 1, SemiConfig{LabelsPerClass: 1, Steps: 1}, ""},
		{"label count", enc, x, y[:5], 2, SemiConfig{LabelsPerClass: 1, Steps: 1}, ""},
		{"image shape", enc, tensor.New(6, 3, 28, 28), y, 2, SemiConfig{LabelsPerClass: 1, Steps: 1}, ""},
		{"tap", enc, x, y, 2, SemiConfig{LabelsPerClass: 1, Steps: 1, Tap: "nope"}, ""},
		{"steps", enc, x, y, 2, SemiConfig{LabelsPerClass: 1, Steps: -1}, "Steps = -1"},
		{"batch", enc, x, y, 2, SemiConfig{LabelsPerClass: 1, Steps: 1, Batch: 1}, "Batch = 1"},
		{"lr", enc, x, y, 2, SemiConfig{LabelsPerClass: 1, Steps: 1, LR: math.Inf(1)}, "LR = +Inf"},
		{"head", enc, x, y, 2, SemiConfig{LabelsPerClass: 1, Steps: 1, Head: MLPConfig{Hidden: -5}}, "semi-supervised: head: mlp: Hidden = -5"},
		{"classes", enc, x, y, 1e9, SemiConfig{LabelsPerClass: 1, Steps: 1}, "classes = 1000000000"},
		{"nil images", enc, nil, y, 2, SemiConfig{LabelsPerClass: 1, Steps: 1}, "train images: nil tensor"},
		{"nil encoder", nil, x, y, 2, SemiConfig{LabelsPerClass: 1, Steps: 1}, "nil encoder"},
	} {
		_, err := SemiSupervised(c.enc, c.x, c.y, x, y, c.classes, c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// TestSemiSupervisedMNIST: with 10 labels per class, fine-tuning a random
// basic28x28 encoder with the head beats the head on the frozen encoder.
func TestSemiSupervisedMNIST(t *testing.T) {
	if os.Getenv("DIM_LONG_TESTS") == "" {
		t.Skip("set DIM_LONG_TESTS=1 to run")
	}
	split, err := data.Open("mnist", data.Options{})
	if err != nil {
		t.Skip("MNIST not available:", err)
	}
	defer split.Close()
	enc, err := encoder.New(encoder.Spec{Name: "basic28x28"}, tensor.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	embed := func(ds data.Dataset, n int) (*tensor.Tensor, []int) {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		e, err := encoder.Embed(enc, data.Subset(ds, idx), encoder.EmbedOptions{Taps: []string{encoder.TapY}, Images: true})
		if err != nil {
			t.Fatal(err)
		}
		return e.Images, e.Labels
	}
	xtr, ytr := embed(split.Train, 2000)
	xte, yte := embed(split.Test, 1000)
	cfg := SemiConfig{LabelsPerClass: 10, Steps: 150, Batch: 50, LR: 1e-3, Seed: 1}
	r, err := SemiSupervised(enc, xtr, ytr, xte, yte, 10, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("frozen: train %.3f test %.3f; fine-tuned: train %.3f test %.3f", r.Frozen.TrainAcc, r.Frozen.TestAcc, r.FineTuned.TrainAcc, r.FineTuned.TestAcc)
	if r.FineTuned.TestAcc <= r.Frozen.TestAcc {
		t.Errorf("fine-tuned test accuracy %.3f, frozen %.3f: want fine-tuning to win", r.FineTuned.TestAcc, r.Frozen.TestAcc)
	}
}
