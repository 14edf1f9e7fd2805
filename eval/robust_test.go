package eval

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// classifiers runs each classifier of the package on the same sets.
var classifiers = map[string]func(trainX *tensor.Tensor, trainY []int, testX *tensor.Tensor, testY []int, classes int) error{
	"linear": func(a *tensor.Tensor, ay []int, b *tensor.Tensor, by []int, classes int) error {
		_, err := LinearProbe(a, ay, b, by, classes, ProbeConfig{Epochs: 1})
		return err
	},
	"svm": func(a *tensor.Tensor, ay []int, b *tensor.Tensor, by []int, classes int) error {
		_, err := LinearProbe(a, ay, b, by, classes, ProbeConfig{Epochs: 1, Hinge: true})
		return err
	},
	"mlp": func(a *tensor.Tensor, ay []int, b *tensor.Tensor, by []int, classes int) error {
		_, err := MLPProbe(a, ay, b, by, classes, MLPConfig{Epochs: 1})
		return err
	},
	"knn": func(a *tensor.Tensor, ay []int, b *tensor.Tensor, by []int, classes int) error {
		_, err := KNN(a, ay, b, by, classes, KNNConfig{})
		return err
	},
}

// TestClassifierInputErrors: inputs that leave nothing to measure (too few
// training rows to fit and validate, no feature columns, nil tensors, one
// class, absurdly many, no test rows, features that overflow float32 once
// standardised) are errors naming the problem, for every classifier.
func TestClassifierInputErrors(t *testing.T) {
	x, y := blobs(1, 40, 3, 2)
	xte, yte := blobs(2, 10, 3, 2)
	huge := x.Clone() // column 0 spans nearly the float32 range: its std overflows
	for i := range 40 {
		huge.Data[i*3] = float32(1-2*(i%2)) * 3.3e38
	}
	small := x.Clone() // column 2 of standard deviation about 3e-3
	for i := range 40 {
		small.Data[i*3+2] *= 1e-3
	}
	outlier := xte.Clone() // one test value 1e40 of those from the mean
	outlier.Data[4*3+2] = 3e37
	for _, c := range []struct {
		name          string
		trainX, testX *tensor.Tensor
		trainY, testY []int
		classes       int
		want          string
	}{
		{"one training row", tensor.FromRows(x, 0, 1), xte, y[:1], yte, 2, "train features: shape [1 3]: want at least 2 rows"},
		{"two training rows", tensor.FromRows(x, 0, 2), xte, y[:2], yte, 2, "2 training rows with ValFraction 0.1 leave 1 to fit and 1 to validate"},
		{"zero width", tensor.New(40, 0), tensor.New(10, 0), y, yte, 2, "no feature columns"},
		{"nil train", nil, xte, y, yte, 2, "train features: nil tensor"},
		{"nil test", x, nil, y, yte, 2, "test features: nil tensor"},
		{"no test rows", x, tensor.New(0, 3), y, nil, 2, "test features: shape [0 3]: want at least 1 row"},
		{"vector", tensor.New(40), xte, y, yte, 2, "want [N,D]"},
		{"short data", &tensor.Tensor{Shape: []int{40, 3}, Data: make([]float32, 100)}, xte, y, yte, 2, "does not match its 100 values"},
		{"one class", x, xte, make([]int, 40), make([]int, 10), 1, "classes = 1: want 2 to 65536"},
		{"too many classes", x, xte, y, yte, 1e9, "classes = 1000000000: want 2 to 65536"},
		{"label count", x, xte, y[:39], yte, 2, "with 39 labels"},
		{"std overflow", huge, xte, y, yte, 2, "train features: column 0 has mean"},
		{"standardised overflow", small, outlier, y, yte, 2, "test features: row 4, column 2"},
	} {
		for name, f := range classifiers {
			err := f(c.trainX, c.trainY, c.testX, c.testY, c.classes)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s, %s: error %v, want one containing %q", c.name, name, err, c.want)
			}
		}
	}
	// Three rows are enough: 2 to fit, 1 to validate.
	for name, f := range classifiers {
		if err := f(tensor.FromRows(x, 0, 3), y[:3], xte, yte, 2); err != nil {
			t.Errorf("%s on 3 training rows: %v", name, err)
		}
	}
}

// TestConfigErrors: out-of-range settings are errors naming the field
// (they panicked, or quietly meant something else).
func TestConfigErrors(t *testing.T) {
	x, y := blobs(1, 40, 3, 2)
	nan := math.NaN()
	probe := func(cfg ProbeConfig) error { _, err := LinearProbe(x, y, x, y, 2, cfg); return err }
	mlp := func(cfg MLPConfig) error { _, err := MLPProbe(x, y, x, y, 2, cfg); return err }
	knn := func(cfg KNNConfig) error { _, err := KNN(x, y, x, y, 2, cfg); return err }
	ndm := func(cfg NDMConfig) error { _, err := NDM(x, x, cfg); return err }
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"probe epochs", probe(ProbeConfig{Epochs: -3}), "Epochs = -3"},
		{"probe batch", probe(ProbeConfig{Batch: -1}), "Batch = -1"},
		{"probe lr", probe(ProbeConfig{LR: nan}), "LR = NaN"},
		{"probe lr inf", probe(ProbeConfig{LR: math.Inf(1)}), "LR = +Inf"},
		{"probe val 1", probe(ProbeConfig{ValFraction: 1}), "ValFraction = 1"},
		{"probe val 5", probe(ProbeConfig{ValFraction: 5}), "ValFraction = 5"},
		{"probe val NaN", probe(ProbeConfig{ValFraction: nan}), "ValFraction = NaN"},
		{"probe wd", probe(ProbeConfig{WeightDecays: []float64{1e-3, -1}}), "WeightDecays[1] = -1"},
		{"mlp batch", mlp(MLPConfig{Batch: -1}), "Batch = -1"},
		{"mlp batch 1", mlp(MLPConfig{Batch: 1}), "Batch = 1"},
		{"mlp hidden", mlp(MLPConfig{Hidden: -5}), "Hidden = -5"},
		{"mlp dropout", mlp(MLPConfig{Dropout: 1}), "Dropout = 1"},
		{"mlp epochs", mlp(MLPConfig{Epochs: -1}), "Epochs = -1"},
		{"mlp lr", mlp(MLPConfig{LR: -1}), "LR = -1"},
		{"mlp val 1", mlp(MLPConfig{ValFraction: 1}), "ValFraction = 1"},
		{"mlp val negative", mlp(MLPConfig{ValFraction: -0.5}), "ValFraction = -0.5"},
		{"mlp val NaN", mlp(MLPConfig{ValFraction: nan}), "ValFraction = NaN"},
		{"knn val 1", knn(KNNConfig{ValFraction: 1}), "ValFraction = 1"},
		{"knn val negative", knn(KNNConfig{ValFraction: -0.1}), "ValFraction = -0.1"},
		{"knn val NaN", knn(KNNConfig{ValFraction: nan}), "ValFraction = NaN"},
		{"ndm hidden1", ndm(NDMConfig{Hidden1: -1}), "Hidden1 = -1"},
		{"ndm hidden2", ndm(NDMConfig{Hidden2: -2}), "Hidden2 = -2"},
		{"ndm batch", ndm(NDMConfig{Batch: -16}), "Batch = -16"},
		{"ndm batch 1", ndm(NDMConfig{Batch: 1}), "Batch = 1"},
		{"ndm steps", ndm(NDMConfig{Steps: -1}), "Steps = -1"},
		{"ndm lr", ndm(NDMConfig{LR: nan}), "LR = NaN"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, c.err, c.want)
		}
	}
	if _, err := NewMLP(-1, 2, MLPConfig{}, tensor.NewRNG(1)); err == nil || !strings.Contains(err.Error(), "-1 input features") {
		t.Errorf("NewMLP with -1 features: %v", err)
	}
	if _, err := NewMLP(3, 2, MLPConfig{Hidden: -5}, tensor.NewRNG(1)); err == nil || !strings.Contains(err.Error(), "Hidden = -5") {
		t.Errorf("NewMLP with -5 hidden units: %v", err)
	}
	// Fields NewMLP does not read are not its business.
	if _, err := NewMLP(3, 2, MLPConfig{Batch: 1, ValFraction: 7}, tensor.NewRNG(1)); err != nil {
		t.Errorf("NewMLP refused fields it does not read: %v", err)
	}
}

// TestKNNClampsK: a k larger than the training rows that vote is clamped
// to them, and the k reported is the one used on test.
func TestKNNClampsK(t *testing.T) {
	x, y := blobs(3, 6, 3, 2)
	xte, yte := blobs(3, 8, 3, 2)
	got, err := KNN(x, y, xte, yte, 2, KNNConfig{Ks: []int{100}})
	if err != nil {
		t.Fatal(err)
	}
	// 6 rows, 1 held out: 5 vote.
	want, err := KNN(x, y, xte, yte, 2, KNNConfig{Ks: []int{5}})
	if err != nil {
		t.Fatal(err)
	}
	if got != want || got.K != 5 {
		t.Errorf("k = 100 on 5 voting rows: %+v, want %+v (k = 5)", got, want)
	}
}

// TestNDMInputs checks what the critic sees: every column standardised
// with the training rows' mean and unbiased standard deviation, the same
// map on the test rows (a column constant on the training rows is 0, and
// a test value that overflows float32 once standardised is an error); with
// Sigmoid, the sigmoid of the features, unstandardised (the paper's
// sigmoid(Y)).
func TestNDMInputs(t *testing.T) {
	train := &tensor.Tensor{Shape: []int{3, 2}, Data: []float32{1, 5, 2, 5, 3, 5}}
	test := &tensor.Tensor{Shape: []int{2, 2}, Data: []float32{4, 5, 0, 7}}
	tr, te, err := ndmInputs(train, test, false)
	if err != nil {
		t.Fatal(err)
	}
	// Column 0: mean 2, std 1; column 1 is constant.
	if want := []float32{-1, 0, 0, 0, 1, 0}; !slices.Equal(tr.Data, want) {
		t.Errorf("train %v, want %v", tr.Data, want)
	}
	if want := []float32{2, 0, -2, 0}; !slices.Equal(te.Data, want) {
		t.Errorf("test %v, want %v", te.Data, want)
	}
	if train.Data[0] != 1 || test.Data[0] != 4 {
		t.Error("ndmInputs changed its inputs")
	}
	// The sigmoid variant sees sigmoid(features) as they are.
	tr, te, err = ndmInputs(train, test, true)
	if err != nil {
		t.Fatal(err)
	}
	got := append(append([]float32(nil), tr.Data...), te.Data...)
	for i, v := range append(append([]float32(nil), train.Data...), test.Data...) {
		if want := float32(1 / (1 + math.Exp(-float64(v)))); got[i] != want {
			t.Errorf("sigmoid: value %d is %v, want sigmoid(%v) = %v", i, got[i], v, want)
		}
	}
	far := test.Clone()
	far.Data[2] = 3e38 // std 1: fine; 1e-30 below: overflows
	tiny := &tensor.Tensor{Shape: []int{3, 2}, Data: []float32{1e-30, 5, 2e-30, 5, 3e-30, 5}}
	if _, _, err := ndmInputs(tiny, far, false); err == nil || !strings.Contains(err.Error(), "test features: row 1, column 0") {
		t.Errorf("standardised overflow: error %v", err)
	}
}

// TestNDMRobust: NDM measures the same dependence whatever the scale of
// the features (features near the float32 limit gave NaN), refuses
// features it cannot measure before training, and reports a critic that
// diverges instead of a non-finite estimate.
func TestNDMRobust(t *testing.T) {
	cfg := NDMConfig{Hidden1: 16, Hidden2: 8, Steps: 40, Batch: 64, LR: 1e-3}
	tr, te := gaussianPairs(1, 400, 4, 0.9), gaussianPairs(2, 128, 4, 0.9)
	base, err := NDM(tr, te, cfg)
	if err != nil {
		t.Fatal(err)
	}
	scaled := func(x *tensor.Tensor, s float32) *tensor.Tensor {
		out := x.Clone()
		for i := range out.Data {
			out.Data[i] = min(max(out.Data[i], -3), 3) * s
		}
		return out
	}
	for _, s := range []float32{1e-30, 1e30, 1.1e38} {
		for _, sigmoid := range []bool{false, true} {
			c := cfg
			c.Sigmoid = sigmoid
			got, err := NDM(scaled(tr, s), scaled(te, s), c)
			if err != nil || !finite(got) {
				t.Errorf("features times %g (sigmoid %v): %v, %v", s, sigmoid, got, err)
			}
			if !sigmoid && math.Abs(got-base) > 0.05 {
				t.Errorf("features times %g: NDM %v, %v unscaled", s, got, base)
			}
		}
	}
	nan := te.Clone()
	nan.Data[4*4+1] = float32(math.NaN())
	for _, c := range []struct {
		name        string
		train, test *tensor.Tensor
		cfg         NDMConfig
		want        string
	}{
		{"nan", tr, nan, cfg, "ndm: test features: row 4, column 1 is NaN"},
		{"inf", scaled(tr, 1e38), scaled(te, 1e38), cfg, "ndm: train features: row"},
		{"nil train", nil, te, cfg, "ndm: train features: nil tensor"},
		{"nil test", tr, nil, cfg, "ndm: test features: nil tensor"},
		{"zero width", tensor.New(40, 0), tensor.New(40, 0), cfg, "no feature columns"},
		{"one test row", tr, tensor.FromRows(te, 0, 1), cfg, "ndm: test features: shape [1 4]: want at least 2 rows"},
		{"widths", tr, tensor.New(10, 3), cfg, "train has 4 units, test 3"},
		{"diverged in training", tr, te, NDMConfig{Hidden1: 16, Hidden2: 8, Steps: 30, Batch: 32, LR: 1e30}, "critic loss NaN: the critic diverged"},
	} {
		if c.name == "inf" {
			// Times 1e38 without clamping: some values overflow to Inf.
			c.train = tr.Clone()
			for i := range c.train.Data {
				c.train.Data[i] *= 1e38
			}
		}
		_, err := NDM(c.train, c.test, c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		if cerr := CheckNDM(c.train, c.test, c.cfg); c.name != "diverged in training" && (cerr == nil || cerr.Error() != err.Error()) {
			t.Errorf("%s: CheckNDM %v, NDM %v", c.name, cerr, err)
		}
	}
	// A test row so far out that the critic overflows on it.
	far := te.Clone()
	for j := range 4 {
		far.Data[j] = 3e38
	}
	if v, err := NDM(tr, far, NDMConfig{Hidden1: 16, Hidden2: 8, Steps: 3, Batch: 32}); err == nil || !strings.Contains(err.Error(), "test estimate NaN") {
		t.Errorf("critic overflowing on a test row: %v, %v", v, err)
	}
}

// TestNilAndShapeGuards: nil tensors and wrong shapes are errors where
// there is an error result, and a documented panic with a clear message
// (or nil for nil) where there is none.
func TestNilAndShapeGuards(t *testing.T) {
	x := tensor.New(4, 3)
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"CheckFinite", CheckFinite(nil), "nil tensor"},
		{"Neighbors ref", second(Neighbors(nil, x, 1, Euclidean)), "reference features: nil tensor"},
		{"Neighbors query", second(Neighbors(x, nil, 1, Euclidean)), "query features: nil tensor"},
		{"Neighbors width", second(Neighbors(tensor.New(4, 0), tensor.New(2, 0), 1, Euclidean)), "no feature columns"},
		{"Decoder", second(DecoderMSSSIM(nil, nil, nil, nil, DecoderConfig{})), "train features or images are nil"},
		{"Decoder steps", second(DecoderMSSSIM(nil, nil, nil, nil, DecoderConfig{Steps: -1})), "Steps = -1"},
		{"Decoder batch", second(DecoderMSSSIM(nil, nil, nil, nil, DecoderConfig{Batch: -64})), "Batch = -64"},
		{"MINE features", second(MINE(x, nil, x, x, MINEConfig{})), "train features: nil tensor"},
		{"MINE batch", second(MINE(x, x, x, x, MINEConfig{Batch: -1})), "Batch = -1"},
		{"MINE steps", second(MINE(x, x, x, x, MINEConfig{Steps: -1})), "Steps = -1"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, c.err, c.want)
		}
	}
	if m, s := Standardize(nil); m != nil || s != nil {
		t.Errorf("Standardize(nil) = %v, %v", m, s)
	}
	for name, f := range map[string]func(){
		"Standardize vector":  func() { Standardize(tensor.New(3)) },
		"Standardize no rows": func() { Standardize(tensor.New(0, 3)) },
		"Accuracy rows":       func() { Accuracy(nil, tensor.New(4, 3), []int{0}) },
		"Accuracy nil":        func() { Accuracy(nil, nil, []int{0}) },
	} {
		msg := panicMessage(f)
		if fn := strings.Fields(name)[0]; !strings.Contains(msg, "eval: "+fn+": ") {
			t.Errorf("%s: panic %q, want a message from eval.%s", name, msg, fn)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// panicMessage returns what f panics with, as a string ("" if it does
// not panic).
func panicMessage(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				msg = e.Error()
			} else {
				msg, _ = r.(string)
			}
		}
	}()
	f()
	return ""
}

// TestProbeRowsWithoutSelection: a probe whose hyperparameters were not
// chosen on held-out rows reports no validation accuracy (it would be a
// meaningless 0), one that was does.
func TestProbeRowsWithoutSelection(t *testing.T) {
	for _, selected := range []bool{false, true} {
		r := ProbeResult{TrainAcc: 0.9, TestAcc: 0.8, ValAcc: 0.85, Selected: selected}
		var metrics []string
		for _, row := range r.Rows("y", KindLinear, 4) {
			metrics = append(metrics, row.Metric)
		}
		want := []string{MetricTrainAcc, MetricTestAcc}
		if selected {
			want = []string{MetricTrainAcc, MetricValAcc, MetricTestAcc}
		}
		if !slices.Equal(metrics, want) {
			t.Errorf("selected %v: rows %v, want %v", selected, metrics, want)
		}
	}
}
