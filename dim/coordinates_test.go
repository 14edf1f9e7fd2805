package dim

import (
	"math"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

// ce64 is the mean softmax cross-entropy of logits [R,K] in float64.
func ce64(logits *tensor.Tensor, labels []int) float64 {
	k := logits.Shape[1]
	var s float64
	for r, y := range labels {
		row := logits.Data[r*k : (r+1)*k]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		var z float64
		for _, v := range row {
			z += math.Exp(float64(v) - mx)
		}
		s += mx + math.Log(z) - float64(row[y])
	}
	return s / float64(len(labels))
}

// TestCoordinatesLossAndLabels checks the classes each location gets (its
// own row and column; in rel mode the offset to its partner, within the
// same image) and the loss against float64 cross-entropies of the logits.
func TestCoordinatesLossAndLabels(t *testing.T) {
	for _, mode := range []string{CoordAbs, CoordRel} {
		cfg := tinyConfig(mi.JSD, 0, 1)
		cfg.SetWeight("coord", 1)
		cfg.Coordinates = mode
		m := newModel(t, cfg, tinySpec)
		c := m.Terms[len(m.Terms)-1].(*Coordinates)
		tp := autograd.NewTape()
		if _, err := m.Objective(tp, &train.Batch{X: randBatch(3, 3, tinyArch), Step: 4}); err != nil {
			t.Fatal(err)
		}
		h, w := c.h, c.w // tinyArch's local map is 3x3
		hw := h * w
		for r := range c.rowLab {
			p := r % hw
			wantR, wantC := p/w, p%w
			if mode == CoordRel {
				q := c.partner[r]
				if q/hw != r/hw {
					t.Fatalf("rel: location %d paired with %d of another image", r, q)
				}
				wantR, wantC = (q%hw)/w-p/w+h-1, (q%hw)%w-p%w+w-1
			}
			if c.rowLab[r] != wantR || c.colLab[r] != wantC {
				t.Fatalf("%s: location %d has classes (%d, %d), want (%d, %d)", mode, r, c.rowLab[r], c.colLab[r], wantR, wantC)
			}
		}
		got, _ := m.Loss("coordinates")
		want := ce64(c.rowsOut.Value, c.rowLab) + ce64(c.colsOut.Value, c.colLab)
		if math.Abs(float64(got)-want) > 1e-5*math.Max(1, want) {
			t.Errorf("%s: loss %v, float64 cross-entropies %v", mode, got, want)
		}
		if k := c.rowsOut.Value.Shape[1]; (mode == CoordAbs && k != h) || (mode == CoordRel && k != 2*h-1) {
			t.Errorf("%s: %d row classes", mode, k)
		}
	}
}

// TestCoordinatesLearn: trained on coordinate prediction, the accuracy
// (reported as coord_acc) rises well above chance (1/3 on a 3x3 map):
// zero padding tells the encoder where the borders are.
func TestCoordinatesLearn(t *testing.T) {
	cfg := tinyConfig(mi.JSD, 0, 0.01)
	cfg.SetWeight("coord", 1)
	cfg.LR = 3e-3
	m := newModel(t, cfg, tinySpec)
	x := randBatch(5, 8, tinyArch)
	var first, last float32
	for i := range 150 {
		if _, err := m.StepImages(x); err != nil {
			t.Fatal(err)
		}
		acc, _ := m.Loss("coord_acc")
		if i == 0 {
			first = acc
		}
		last = acc
	}
	t.Logf("coord_acc %.3f at the first step, %.3f after 150", first, last)
	if last < 0.9 {
		t.Errorf("coord_acc %.3f after 150 steps (first %.3f), want >= 0.9", last, first)
	}
}
