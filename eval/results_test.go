package eval

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestMeanStd(t *testing.T) {
	for _, c := range []struct {
		xs        []float64
		mean, std float64
	}{{[]float64{1, 2, 3}, 2, 1}, {[]float64{0.5}, 0.5, 0}, {[]float64{2, 2, 2, 2}, 2, 0}, {nil, 0, 0}} {
		if m, s := MeanStd(c.xs); m != c.mean || s != c.std {
			t.Errorf("MeanStd(%v) = %v, %v; want %v, %v", c.xs, m, s, c.mean, c.std)
		}
	}
}

func TestCombine(t *testing.T) {
	row := func(layer, metric string, v float64) Result {
		return Result{Layer: layer, Kind: KindSVM, Metric: metric, Value: v, Settings: map[string]any{"epochs": int(10 * v)}}
	}
	run := func(a, b float64) []Result { return []Result{row("y", MetricTestAcc, a), row("fc", MetricTestAcc, b)} }
	for _, c := range []struct {
		name string
		runs [][]Result
		want []Result
		err  string
	}{
		{name: "none"},
		{name: "one run as it is", runs: [][]Result{run(0.5, 0.25)}, want: run(0.5, 0.25)},
		{name: "three runs", runs: [][]Result{run(0.1, 0.5), run(0.2, 0.5), run(0.3, 0.5)}, want: []Result{
			{Layer: "y", Kind: KindSVM, Metric: MetricTestAcc, Value: 0.2, Std: 0.1, Runs: []float64{0.1, 0.2, 0.3}, Settings: map[string]any{"epochs": 1}},
			{Layer: "fc", Kind: KindSVM, Metric: MetricTestAcc, Value: 0.5, Runs: []float64{0.5, 0.5, 0.5}, Settings: map[string]any{"epochs": 5}},
		}},
		{name: "rows in another order", runs: [][]Result{run(0.5, 0.5), {row("fc", MetricTestAcc, 0.5), row("y", MetricTestAcc, 0.5)}}, want: []Result{
			{Layer: "y", Kind: KindSVM, Metric: MetricTestAcc, Value: 0.5, Runs: []float64{0.5, 0.5}, Settings: map[string]any{"epochs": 5}},
			{Layer: "fc", Kind: KindSVM, Metric: MetricTestAcc, Value: 0.5, Runs: []float64{0.5, 0.5}, Settings: map[string]any{"epochs": 5}},
		}},
		{name: "missing row", runs: [][]Result{run(0.5, 0.5), run(0.5, 0.5)[:1]}, err: "run 1 has 1 results"},
		{name: "other row", runs: [][]Result{run(0.5, 0.5), {row("y", MetricTestAcc, 0.5), row("conv", MetricTestAcc, 0.5)}}, err: "conv/svm/test_acc of run 1"},
		{name: "row twice", runs: [][]Result{run(0.5, 0.5), {row("y", MetricTestAcc, 0.5), row("y", MetricTestAcc, 0.5)}}, err: "y/svm/test_acc of run 1"},
	} {
		got, err := Combine(c.runs...)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		for i := range got { // the std of 0.1, 0.2, 0.3 is 0.1 up to rounding
			if math.Abs(got[i].Value-c.want[i].Value) < 1e-12 && math.Abs(got[i].Std-c.want[i].Std) < 1e-12 {
				got[i].Value, got[i].Std = c.want[i].Value, c.want[i].Std
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: Combine = %+v, want %+v", c.name, got, c.want)
		}
	}
}

// sampleReport is an SVM report with 3 runs on y and the NDM of y.
func sampleReport() *Report {
	rep := &Report{Classifier: KindSVM, Model: "runs/mnist", Data: "mnist", Encoder: "mnist", Probe: "svm (linear)", Seconds: 12.5}
	rep.Add(ProbeResult{TrainAcc: 0.99, ValAcc: 0.98, TestAcc: 0.975, WeightDecay: 1e-4, Epochs: 12, Selected: true}.Rows("fc", KindSVM, 1024)...)
	rep.Add(
		Result{Layer: "y", Kind: KindSVM, Metric: MetricTestAcc, Value: 0.95, Std: 0.01, Runs: []float64{0.94, 0.95, 0.96}, Settings: map[string]any{"dims": 64}},
		Result{Layer: "y", Kind: KindNDM, Metric: MetricNats, Value: 0.1234, Settings: map[string]any{"steps": 2000}},
		Result{Layer: "y", Kind: KindNDMSigmoid, Metric: MetricNats, Value: 0.0567, Settings: map[string]any{"steps": 2000}},
	)
	return rep
}

func TestReportValidate(t *testing.T) {
	for _, c := range []struct {
		name   string
		modify func(*Report)
		err    string // "" when valid
	}{
		{"valid", func(*Report) {}, ""},
		{"empty", func(r *Report) { r.Results = nil }, ""},
		{"NaN value", func(r *Report) { r.Results[1].Value = math.NaN() }, "fc/svm/val_acc: value NaN"},
		{"Inf std", func(r *Report) { r.Results[3].Std = math.Inf(1) }, "y/svm/test_acc: std +Inf"},
		{"negative std", func(r *Report) { r.Results[3].Std = -1 }, "y/svm/test_acc: std -1"},
		{"NaN run", func(r *Report) { r.Results[3].Runs[2] = math.NaN() }, "y/svm/test_acc: run 2"},
		{"Inf setting", func(r *Report) { r.Results[0].Settings["weight_decay"] = math.Inf(-1) }, "fc/svm/train_acc: setting weight_decay"},
		{"float32 NaN setting", func(r *Report) { r.Results[0].Settings["lr"] = float32(math.NaN()) }, "setting lr"},
		{"NaN seconds", func(r *Report) { r.Seconds = math.NaN() }, "seconds NaN"},
		{"no metric", func(r *Report) { r.Results[4].Metric = "" }, "y/ndm/: empty"},
		{"duplicate", func(r *Report) { r.Add(r.Results[4]) }, "y/ndm/nats twice"},
		{"whole-representation measure", func(r *Report) { r.Add(Result{Kind: "ms_ssim", Metric: "ms_ssim", Value: math.NaN()}) }, "-/ms_ssim/ms_ssim: value NaN"},
	} {
		rep := sampleReport()
		c.modify(rep)
		err := rep.Validate()
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: Validate: %v, want an error mentioning %q", c.name, err, c.err)
		}
	}
}

func TestReportWriteRead(t *testing.T) {
	dir := t.TempDir()
	rep := sampleReport()
	path := filepath.Join(dir, ReportFile(rep.Classifier))
	if filepath.Base(path) != "eval_svm.json" || ReportFile("") != "eval.json" || ReportFile(KindLinear) != "eval.json" {
		t.Fatalf("ReportFile: %s", path)
	}
	if err := rep.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	got, err := ReadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	// Numbers in settings come back as float64.
	want := sampleReport()
	want.Format = ReportFormat
	for _, r := range want.Results {
		for k := range r.Settings {
			r.Settings[k], _ = r.Setting(k)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, want)
	}
	if r, ok := got.Lookup("fc", KindSVM, MetricTestAcc); !ok || r.Value != 0.975 {
		t.Errorf("Lookup fc/svm/test_acc: %+v %v", r, ok)
	}
	if k, ok := got.Results[0].Setting("epochs"); !ok || k != 12 {
		t.Errorf("Setting(epochs) = %v %v", k, ok)
	}
	if _, ok := got.Lookup("conv", KindSVM, MetricTestAcc); ok {
		t.Error("Lookup of a missing row found one")
	}

	// A NaN is refused and the previous file kept.
	bad := sampleReport()
	bad.Results[2].Value = math.NaN()
	if err := bad.WriteFile(path); err == nil || !strings.Contains(err.Error(), "fc/svm/test_acc") || !strings.Contains(err.Error(), path) {
		t.Errorf("WriteFile of a NaN: %v", err)
	}
	if again, err := ReadReport(path); err != nil || !reflect.DeepEqual(again, want) {
		t.Errorf("after a refused write: %v", err)
	}
}

func TestReadReportErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, content, err string
	}{
		{"missing.json", "", "missing.json"},
		{"broken.json", `{"format": 2, "results": [`, "broken.json"},
		{"newer.json", `{"format": 3, "results": []}`, "format 3"},
		{"wrongtype.json", `{"format": 2, "results": [{"value": "high"}]}`, "wrongtype.json"},
		{"v1wrong.json", `{"results": {"y": {"test_acc": "high"}}}`, "format 1"},
	} {
		path := filepath.Join(dir, c.name)
		if c.content != "" {
			if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := ReadReport(path)
		if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: error %v, want one naming the file and %q", c.name, err, c.err)
		}
	}
}

// TestReadReportV1 reads literal eval.json files of format 1 (as dim eval
// wrote them before result rows).
func TestReadReportV1(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		file, content string
		want          *Report
	}{
		{"eval.json", `{
  "model": "runs/mnist",
  "data": "mnist",
  "arch": "mnist",
  "probe": "linear (logistic regression on standardised features, Adam 1e-3, batch 256; weight decay and epochs chosen on 10% of train)",
  "results": {
    "y": {"dims": 64, "train_acc": 0.99, "test_acc": 0.98, "val_acc": 0.97, "weight_decay": 0.0001, "epochs": 12},
    "conv": {"dims": 6272, "train_acc": 1, "test_acc": 0.99, "val_acc": 0.985, "weight_decay": 1e-05, "epochs": 30}
  },
  "seconds": 81.5
}`, &Report{Format: ReportFormat, Classifier: KindLinear, Model: "runs/mnist", Data: "mnist", Encoder: "mnist",
			Probe: "linear (logistic regression on standardised features, Adam 1e-3, batch 256; weight decay and epochs chosen on 10% of train)", Seconds: 81.5,
			Results: []Result{
				{Layer: "conv", Kind: KindLinear, Metric: MetricTrainAcc, Value: 1, Settings: map[string]any{"dims": 6272, "weight_decay": 1e-5, "epochs": 30}},
				{Layer: "conv", Kind: KindLinear, Metric: MetricValAcc, Value: 0.985, Settings: map[string]any{"dims": 6272, "weight_decay": 1e-5, "epochs": 30}},
				{Layer: "conv", Kind: KindLinear, Metric: MetricTestAcc, Value: 0.99, Settings: map[string]any{"dims": 6272, "weight_decay": 1e-5, "epochs": 30}},
				{Layer: "y", Kind: KindLinear, Metric: MetricTrainAcc, Value: 0.99, Settings: map[string]any{"dims": 64, "weight_decay": 1e-4, "epochs": 12}},
				{Layer: "y", Kind: KindLinear, Metric: MetricValAcc, Value: 0.97, Settings: map[string]any{"dims": 64, "weight_decay": 1e-4, "epochs": 12}},
				{Layer: "y", Kind: KindLinear, Metric: MetricTestAcc, Value: 0.98, Settings: map[string]any{"dims": 64, "weight_decay": 1e-4, "epochs": 12}},
			}}},
		{"eval_svm.json", `{"model": "", "data": "feats", "arch": "", "random_encoder": true, "probe": "svm (linear, multi-class hinge loss)",
  "results": {"y": {"dims": 64, "train_acc": 0.9, "test_acc": 0.8, "val_acc": 0.85, "weight_decay": 0.001, "epochs": 5, "runs": [0.7, 0.8, 0.9], "test_acc_std": 0.1}},
  "ndm": {"y": 0.25, "sigmoid_y": 0.125}, "seconds": 3}`,
			&Report{Format: ReportFormat, Classifier: KindSVM, Data: "feats", RandomEncoder: true, Probe: "svm (linear, multi-class hinge loss)", Seconds: 3,
				Results: []Result{
					{Layer: "y", Kind: KindSVM, Metric: MetricTrainAcc, Value: 0.9, Settings: map[string]any{"dims": 64, "weight_decay": 1e-3, "epochs": 5}},
					{Layer: "y", Kind: KindSVM, Metric: MetricValAcc, Value: 0.85, Settings: map[string]any{"dims": 64, "weight_decay": 1e-3, "epochs": 5}},
					{Layer: "y", Kind: KindSVM, Metric: MetricTestAcc, Value: 0.8, Std: 0.1, Runs: []float64{0.7, 0.8, 0.9}, Settings: map[string]any{"dims": 64, "weight_decay": 1e-3, "epochs": 5}},
					{Layer: "y", Kind: KindNDMSigmoid, Metric: MetricNats, Value: 0.125},
					{Layer: "y", Kind: KindNDM, Metric: MetricNats, Value: 0.25},
				}}},
		// k-NN, and a probe description that does not name the classifier:
		// the file name does.
		{"eval_knn.json", `{"model": "r", "data": "cifar10", "arch": "cifar", "probe": "k nearest neighbours",
  "results": {"fc": {"dims": 1024, "train_acc": 0, "test_acc": 0.5, "val_acc": 0.55, "weight_decay": 0, "epochs": 0, "k": 10}}, "seconds": 2}`,
			&Report{Format: ReportFormat, Classifier: KindKNN, Model: "r", Data: "cifar10", Encoder: "cifar", Probe: "k nearest neighbours", Seconds: 2,
				Results: []Result{
					{Layer: "fc", Kind: KindKNN, Metric: MetricValAcc, Value: 0.55, Settings: map[string]any{"dims": 1024, "k": 10}},
					{Layer: "fc", Kind: KindKNN, Metric: MetricTestAcc, Value: 0.5, Settings: map[string]any{"dims": 1024, "k": 10}},
				}}},
	} {
		path := filepath.Join(dir, c.file)
		if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadReport(path)
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.file, got, c.want)
		}
		// Converted reports are valid and can be written in the new format.
		if err := got.WriteFile(filepath.Join(dir, "new_"+c.file)); err != nil {
			t.Errorf("%s: rewrite: %v", c.file, err)
		}
	}
}

func TestWriteTable(t *testing.T) {
	rep := sampleReport()
	rep.Add(Result{Kind: "ms_ssim", Metric: "ms_ssim", Value: 0.5})
	var buf bytes.Buffer
	if err := rep.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	want := `layer  kind         train acc  val acc  test acc                 nats    ms ssim  settings
fc     svm          99.00%     98.00%   97.50%                   -       -        dims=1024 epochs=12 weight_decay=0.0001
y      svm          -          -        95.00% +- 1.00 (3 runs)  -       -        dims=64
y      ndm          -          -        -                        0.1234  -        steps=2000
y      ndm_sigmoid  -          -        -                        0.0567  -        steps=2000
-      ms_ssim      -          -        -                        -       0.5000
`
	if buf.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestWriteGrid(t *testing.T) {
	rep := &Report{Results: []Result{
		{Layer: "y", Kind: KindLinear, Metric: MetricTrainAcc, Value: 0.9},
		{Layer: "y", Kind: KindLinear, Metric: MetricTestAcc, Value: 0.8},
		{Layer: "conv", Kind: KindLinear, Metric: MetricTestAcc, Value: 0.75, Std: 0.01, Runs: []float64{0.74, 0.76}},
		{Layer: "y", Kind: KindKNN, Metric: MetricTestAcc, Value: 0.5},
		{Layer: "y", Kind: KindNDM, Metric: MetricNats, Value: 0.123456},
		{Kind: "mine", Metric: MetricNats, Value: 2},
	}}
	var b strings.Builder
	if err := rep.WriteGrid(&b); err != nil {
		t.Fatal(err)
	}
	want := `                  conv                     y       -
linear  test acc  75.00% +- 1.00 (2 runs)  80.00%  -
knn     test acc  -                        50.00%  -
ndm     nats      -                        0.1235  -
mine    nats      -                        -       2.0000
`
	if b.String() != want {
		t.Errorf("grid:\n%s\nwant:\n%s", b.String(), want)
	}
}
