package eval

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// blobs returns n points in d dimensions from k Gaussian clusters with
// well-separated random centres.
func blobs(seed uint64, n, d, k int) (*tensor.Tensor, []int) {
	rng := tensor.NewRNG(seed)
	centres := tensor.New(k, d)
	rng.Normal(centres, 0, 3)
	x := tensor.New(n, d)
	y := make([]int, n)
	for i := 0; i < n; i++ {
		y[i] = i % k
		for j := 0; j < d; j++ {
			x.Data[i*d+j] = centres.Data[y[i]*d+j] + float32(rng.NormFloat64())
		}
	}
	return x, y
}

func TestLinearProbeSeparable(t *testing.T) {
	xtr, ytr := blobs(1, 600, 9, 3)
	// The same centres (same seed); a slightly shifted copy as the test set.
	xte, yte := blobs(1, 300, 9, 3)
	for i := range xte.Data {
		xte.Data[i] += 0.05
	}
	r, err := LinearProbe(xtr, ytr, xte, yte, 3, ProbeConfig{Epochs: 20, Batch: 64, LR: 1e-2})
	if err != nil {
		t.Fatal(err)
	}
	if r.TrainAcc < 0.97 || r.TestAcc < 0.95 {
		t.Errorf("accuracy train %.3f test %.3f on separable blobs", r.TrainAcc, r.TestAcc)
	}
}

func TestLinearProbeChance(t *testing.T) {
	// Random labels: the test accuracy must stay near chance (1/4).
	rng := tensor.NewRNG(3)
	x := tensor.New(800, 5)
	rng.Normal(x, 0, 1)
	y := make([]int, 800)
	for i := range y {
		y[i] = rng.IntN(4)
	}
	r, err := LinearProbe(tensor.FromRows(x, 0, 400), y[:400], tensor.FromRows(x, 400, 800), y[400:], 4, ProbeConfig{Epochs: 5})
	if err != nil {
		t.Fatal(err)
	}
	if r.TestAcc > 0.4 {
		t.Errorf("test accuracy %.3f on random labels", r.TestAcc)
	}
}

func TestStandardize(t *testing.T) {
	x := &tensor.Tensor{Shape: []int{3, 2}, Data: []float32{1, 10, 2, 10, 3, 10}}
	mean, std := Standardize(x)
	if mean[0] != 2 || mean[1] != 10 {
		t.Errorf("mean %v", mean)
	}
	if math.Abs(float64(std[0])-1) > 1e-5 || math.Abs(float64(std[1])-1e-6) > 1e-9 {
		t.Errorf("std %v", std)
	}
}

func TestLinearProbeErrors(t *testing.T) {
	x := tensor.New(4, 3)
	for _, c := range []struct {
		name string
		y    []int
		test *tensor.Tensor
	}{
		{"label count", []int{0, 1}, x},
		{"label range", []int{0, 1, 2, 5}, x},
		{"feature width", []int{0, 1, 0, 1}, tensor.New(4, 2)},
	} {
		if _, err := LinearProbe(x, c.y, c.test, []int{0, 1, 0, 1}, 3, ProbeConfig{Epochs: 1}); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

// BenchmarkLinearProbeEpoch times one epoch of probe training on a
// conv-sized problem (6272 features, 10 classes, 5120 rows).
func BenchmarkLinearProbeEpoch(b *testing.B) {
	x, y := blobs(7, 5120, 6272, 10)
	cfg := ProbeConfig{Epochs: 1, ValFraction: -1}.withDefaults()
	b.ResetTimer()
	for range b.N {
		if _, err := trainLinear(x, y, 10, []float64{1e-5}, cfg, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTrainLinearJoint checks that classifiers trained together for several
// weight decays equal classifiers trained one at a time.
func TestTrainLinearJoint(t *testing.T) {
	x, y := blobs(9, 301, 37, 5)
	cfg := ProbeConfig{Epochs: 3, Batch: 64, Seed: 4}.withDefaults()
	wds := []float64{0, 1e-3, 1e-1}
	joint, err := trainLinear(x, y, 5, wds, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, wd := range wds {
		one, err := trainLinear(x, y, 5, []float64{wd}, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []struct{ a, b []float32 }{{joint[i].W.Value.Data, one[0].W.Value.Data}, {joint[i].B.Value.Data, one[0].B.Value.Data}} {
			for j := range p.a {
				if math.Abs(float64(p.a[j]-p.b[j])) > 1e-5 {
					t.Fatalf("wd %g: parameter %d is %v trained jointly, %v alone", wd, j, p.a[j], p.b[j])
				}
			}
		}
	}
}

// BenchmarkLinearProbeSelect times one epoch of the selection phase (three
// weight decays) on a conv-sized problem.
func BenchmarkLinearProbeSelect(b *testing.B) {
	x, y := blobs(7, 5120, 6272, 10)
	cfg := ProbeConfig{Epochs: 1, ValFraction: -1}.withDefaults()
	wds := []float64{1e-5, 1e-4, 1e-3}
	b.Run("joint", func(b *testing.B) {
		for range b.N {
			if _, err := trainLinear(x, y, 10, wds, cfg, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("separate", func(b *testing.B) {
		for range b.N {
			for _, wd := range wds {
				if _, err := trainLinear(x, y, 10, []float64{wd}, cfg, nil); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// TestMultiHinge checks the hinge loss on hand-computed scores and its
// gradient against finite differences.
func TestMultiHinge(t *testing.T) {
	s := &tensor.Tensor{Shape: []int{3, 3}, Data: []float32{
		2, 0.5, -1, // y=0: margin 1 + 0.5 - 2 = -0.5 -> 0
		0, 0.2, 0.9, // y=1: 1 + 0.9 - 0.2 = 1.7
		1, 1, 1, // y=2: 1 + 1 - 1 = 1
	}}
	labels := []int{0, 1, 2}
	tp := autograd.NewTape()
	sv := autograd.NewParam(s.Clone())
	loss := multiHinge(tp, sv, labels)
	if got := loss.Item(); math.Abs(float64(got)-2.7/3) > 1e-6 {
		t.Errorf("loss %v, want %v", got, 2.7/3)
	}
	// Move off the tie in row 2 before checking gradients.
	s.Data[6] = 1.3
	sv = autograd.NewParam(s.Clone())
	tp = autograd.NewTape()
	if err := tp.Backward(multiHinge(tp, sv, labels)); err != nil {
		t.Fatal(err)
	}
	const h = 1e-3
	for i := range s.Data {
		orig := s.Data[i]
		lossAt := func(v float32) float64 {
			s.Data[i] = v
			tp := autograd.NewTape()
			return float64(multiHinge(tp, tp.Const(s), labels).Item())
		}
		num := (lossAt(orig+h) - lossAt(orig-h)) / (2 * h)
		s.Data[i] = orig
		if math.Abs(num-float64(sv.Grad.Data[i])) > 1e-3 {
			t.Errorf("d/ds[%d] = %v, numeric %v", i, sv.Grad.Data[i], num)
		}
	}
}

func TestLinearSVMSeparable(t *testing.T) {
	xtr, ytr := blobs(1, 600, 9, 3)
	xte, yte := blobs(1, 300, 9, 3)
	r, err := LinearProbe(xtr, ytr, xte, yte, 3, ProbeConfig{Epochs: 20, Batch: 64, LR: 1e-2, Hinge: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.TrainAcc < 0.97 || r.TestAcc < 0.95 {
		t.Errorf("SVM accuracy train %.3f test %.3f on separable blobs", r.TrainAcc, r.TestAcc)
	}
}

// TestSelectionSetsStatistics checks that the rows used to choose a
// probe's settings are standardised with the fitting rows' statistics
// only: the fitting part has column mean 0 and (unbiased) std 1 in
// float64, and planting huge outliers in the validation rows changes
// neither the fitting part nor the validation rows' other columns.
func TestSelectionSetsStatistics(t *testing.T) {
	const n, d = 200, 4
	x, y := blobs(4, n, d, 2)
	fit, val, _, err := selectionSets(x, y, 0.25, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(val.y) != 50 || len(fit.y) != 150 {
		t.Fatalf("split %d + %d rows, want 150 + 50", len(fit.y), len(val.y))
	}
	for j := range d {
		var s, sq float64
		for i := range len(fit.y) {
			s += float64(fit.x.Data[i*d+j])
		}
		mean := s / float64(len(fit.y))
		for i := range len(fit.y) {
			v := float64(fit.x.Data[i*d+j]) - mean
			sq += v * v
		}
		if std := math.Sqrt(sq / float64(len(fit.y)-1)); math.Abs(mean) > 1e-5 || math.Abs(std-1) > 1e-4 {
			t.Errorf("column %d of the fitting rows: mean %v std %v, want 0 and 1", j, mean, std)
		}
	}
	// The same split with the validation rows' column 0 multiplied by 1e4.
	planted := x.Clone()
	inVal := map[float32]bool{} // validation rows, by their (distinct) column 1
	for i := range len(val.y) {
		inVal[val.x.Data[i*d+1]] = true
	}
	_, _, stats, err := selectionSets(x, y, 0.25, 7)
	if err != nil {
		t.Fatal(err)
	}
	marked := 0
	for i := range n {
		z := (x.Data[i*d+1] - stats[0][1]) / stats[1][1]
		if inVal[z] {
			planted.Data[i*d] *= 1e4
			marked++
		}
	}
	if marked != len(val.y) {
		t.Fatalf("found %d validation rows, want %d", marked, len(val.y))
	}
	fit2, val2, _, err := selectionSets(planted, y, 0.25, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fit.x.Data, fit2.x.Data) {
		t.Error("outliers in the validation rows changed the standardised fitting rows")
	}
	for i := range len(val.y) {
		for j := 1; j < d; j++ {
			if val.x.Data[i*d+j] != val2.x.Data[i*d+j] {
				t.Fatalf("outliers in column 0 of the validation rows changed their column %d", j)
			}
		}
	}
}

func TestCheckFinite(t *testing.T) {
	for _, c := range []struct {
		at   int
		v    float64
		want string
	}{
		{-1, 0, ""},
		{5, math.NaN(), "row 1, column 2 is NaN"},
		{11, math.Inf(1), "row 3, column 2 is +Inf"},
		{0, math.Inf(-1), "row 0, column 0 is -Inf"},
	} {
		x := tensor.New(4, 3)
		if c.at >= 0 {
			x.Data[c.at] = float32(c.v)
		}
		x.Data[11-max(c.at, 0)/2] = 1 // a finite value elsewhere
		err := CheckFinite(x)
		if (c.want == "") != (err == nil) || (err != nil && err.Error() != c.want) {
			t.Errorf("value %v at %d: error %v, want %q", c.v, c.at, err, c.want)
		}
	}
	// Every classifier refuses non-finite features before fitting.
	xtr, ytr := blobs(1, 60, 3, 2)
	xte, yte := blobs(2, 20, 3, 2)
	bad := xte.Clone()
	bad.Data[3*3+1] = float32(math.NaN())
	for name, f := range map[string]func(a, b *tensor.Tensor) error{
		"linear": func(a, b *tensor.Tensor) error {
			_, err := LinearProbe(a, ytr, b, yte, 2, ProbeConfig{Epochs: 1})
			return err
		},
		"mlp": func(a, b *tensor.Tensor) error {
			_, err := MLPProbe(a, ytr, b, yte, 2, MLPConfig{Epochs: 1})
			return err
		},
		"knn": func(a, b *tensor.Tensor) error {
			_, err := KNN(a, ytr, b, yte, 2, KNNConfig{})
			return err
		},
	} {
		if err := f(xtr, bad); err == nil || !strings.Contains(err.Error(), "test features: row 3, column 1 is NaN") {
			t.Errorf("%s: error %v", name, err)
		}
		badTrain := xtr.Clone()
		badTrain.Data[59*3+2] = float32(math.Inf(-1))
		if err := f(badTrain, xte); err == nil || !strings.Contains(err.Error(), "train features: row 59, column 2 is -Inf") {
			t.Errorf("%s: error %v for -Inf training features", name, err)
		}
	}
}
