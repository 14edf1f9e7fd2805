package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/eval"
	"github.com/deepinfomax/deepinfomax/npy"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// writeFeatureDir writes train and test labels (alternating 0 and 1) and
// features [N,D] for each layer of feats (train, test) into a new
// directory, as dim embed would.
func writeFeatureDir(t *testing.T, feats map[string][2]*tensor.Tensor) string {
	t.Helper()
	dir := t.TempDir()
	for l, xs := range feats {
		for i, s := range []string{"train", "test"} {
			x := xs[i]
			if err := npy.WriteFloat32(filepath.Join(dir, s+"_"+l+".npy"), x.Data, x.Shape...); err != nil {
				t.Fatal(err)
			}
			labels := make([]int64, x.Shape[0])
			for r := range labels {
				labels[r] = int64(r % 2)
			}
			if err := npy.WriteInt64(filepath.Join(dir, s+"_labels.npy"), labels, len(labels)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// normalFeatures returns n rows of d unit Gaussians times scale, whose
// first column is shifted by the row's label (row % 2) times 4*scale.
func normalFeatures(seed uint64, n, d int, scale float32) *tensor.Tensor {
	x := tensor.New(n, d)
	tensor.NewRNG(seed).Normal(x, 0, 1)
	for i := range n {
		x.Data[i*d] += float32(4 * (i % 2))
	}
	for i := range x.Data {
		x.Data[i] *= scale
	}
	return x
}

// TestCLIEvalFeaturesNDM: dim eval --ndm on finite features of any scale
// writes finite NDM rows (features times 1e30 made the critic's estimate
// NaN, and the report could not be written); NDM's inputs are checked
// before the probes (no report for an NDM that cannot run); and an NDM
// that fails after the probes leaves their results written, with the
// error.
func TestCLIEvalFeaturesNDM(t *testing.T) {
	huge := writeFeatureDir(t, map[string][2]*tensor.Tensor{"y": {normalFeatures(1, 300, 8, 1e30), normalFeatures(2, 60, 8, 1e30)}})
	if err := run(t, "eval", "--features", huge, "--layers", "y", "--ndm", "--ndm-steps", "5", "--probe-epochs", "2"); err != nil {
		t.Fatalf("features times 1e30: %v", err)
	}
	rep := readReport(t, huge, "linear")
	for _, kind := range []string{eval.KindNDM, eval.KindNDMSigmoid} {
		if r, ok := rep.Lookup("y", kind, eval.MetricNats); !ok {
			t.Errorf("no %s row: %+v", kind, rep.Results)
		} else if r.Value < -1 || r.Value > 10 {
			t.Errorf("%s of features times 1e30: %v nats", kind, r.Value)
		}
	}

	// One test row: the probes could run, NDM cannot (it shuffles
	// batches of at least 2 rows); refused before any probe.
	one := writeFeatureDir(t, map[string][2]*tensor.Tensor{
		"fc": {normalFeatures(1, 40, 4, 1), normalFeatures(2, 1, 4, 1)},
		"y":  {normalFeatures(3, 40, 8, 1), normalFeatures(4, 1, 8, 1)},
	})
	err := run(t, "eval", "--features", one, "--layers", "fc", "--ndm", "--ndm-steps", "2", "--probe-epochs", "1")
	if err == nil || !strings.Contains(err.Error(), "ndm: test features") {
		t.Errorf("NDM on one test row: error %v", err)
	}
	if _, err := os.Stat(filepath.Join(one, "eval.json")); err == nil {
		t.Error("an NDM refused on its inputs left a report: the probes ran first")
	}

	// A test value so far outside the training rows' scale that it
	// overflows float32 once standardised, which only NDM itself finds:
	// the probe of fc is written, and the command fails.
	far := normalFeatures(6, 40, 8, 1e-30)
	far.Data[3] = 1e10
	late := writeFeatureDir(t, map[string][2]*tensor.Tensor{
		"fc": {normalFeatures(1, 120, 4, 1), normalFeatures(2, 40, 4, 1)},
		"y":  {normalFeatures(5, 120, 8, 1e-30), far},
	})
	err = run(t, "eval", "--features", late, "--layers", "fc", "--ndm", "--ndm-steps", "2", "--probe-epochs", "1")
	if err == nil || !strings.Contains(err.Error(), "ndm of y") || !strings.Contains(err.Error(), "eval.json") {
		t.Fatalf("NDM diverging after the probes: error %v", err)
	}
	t.Log(err)
	rep = readReport(t, late, "linear")
	if _, ok := rep.Lookup("fc", eval.KindLinear, eval.MetricTestAcc); !ok {
		t.Errorf("the probe's results were lost: %+v", rep.Results)
	}
	if _, ok := rep.Lookup("y", eval.KindNDM, eval.MetricNats); ok {
		t.Errorf("a failed NDM left a row: %+v", rep.Results)
	}
}

// TestCLIEvalFeaturesTooFewRows: one training row, or one class, is an
// error before any report.
func TestCLIEvalFeaturesTooFewRows(t *testing.T) {
	for name, dir := range map[string]string{
		"one training row": writeFeatureDir(t, map[string][2]*tensor.Tensor{"y": {normalFeatures(1, 1, 4, 1), normalFeatures(2, 10, 4, 1)}}),
		"zero width":       writeFeatureDir(t, map[string][2]*tensor.Tensor{"y": {tensor.New(10, 0), tensor.New(10, 0)}}),
	} {
		for _, probe := range []string{"linear", "mlp", "knn", "svm"} {
			err := run(t, "eval", "--features", dir, "--layers", "y", "--probe", probe, "--probe-epochs", "1")
			if err == nil {
				t.Errorf("%s, %s: no error", name, probe)
			}
			t.Logf("%s, %s: %v", name, probe, err)
			if _, err := os.Stat(filepath.Join(dir, eval.ReportFile(probe))); err == nil {
				t.Errorf("%s, %s: a report was written", name, probe)
			}
		}
	}
}
