package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/eval"
	"github.com/deepinfomax/deepinfomax/npy"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// tinyRun trains the cli-tiny encoder for one step on a tiny IDX data set
// and returns the data spec and the run directory.
func tinyRun(t *testing.T) (data, dir string) {
	t.Helper()
	data = "idx:" + tinyIDX(t, 30)
	dir = filepath.Join(t.TempDir(), "run")
	if err := run(t, "train", "--data", data, "--arch", "cli-tiny", "--out", dir, "--steps", "1", "--batch", "4", "--mi-units", "8"); err != nil {
		t.Fatal(err)
	}
	return data, dir
}

// TestCLIProtocol: eval and embed use the run's data set by default and
// refuse another without --other-data; embed --layers writes only those
// taps; eval --probe all writes one report with every classifier; bad
// flags are reported before any work.
func TestCLIProtocol(t *testing.T) {
	data, dir := tinyRun(t)
	other := "idx:" + tinyIDX(t, 30) // the same images in another directory: another spec

	feats := filepath.Join(t.TempDir(), "feats")
	if err := run(t, "embed", "--model", dir, "--out", feats, "--layers", "y"); err != nil {
		t.Fatalf("embed without --data: %v", err)
	}
	entries, _ := os.ReadDir(feats)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "test_labels.npy test_y.npy train_labels.npy train_y.npy" {
		t.Errorf("embed --layers y wrote %v", names)
	}

	for _, c := range []struct {
		name string
		args []string
		want string // "" for success
	}{
		{"eval other data", []string{"eval", "--model", dir, "--data", other, "--layers", "y"}, "--other-data"},
		{"embed other data", []string{"embed", "--model", dir, "--data", other, "--out", t.TempDir()}, "--other-data"},
		{"eval bad layer", []string{"eval", "--model", dir, "--layers", "y,pool9"}, `layer "pool9"`},
		{"embed bad layer", []string{"embed", "--model", dir, "--layers", "fc,nope", "--out", t.TempDir()}, `layer "nope"`},
		{"eval bad probe", []string{"eval", "--model", dir, "--probe", "linear,tree"}, `"tree"`},
		{"eval repeated probe", []string{"eval", "--model", dir, "--probe", "knn,knn"}, "knn twice"},
		{"eval bad distance", []string{"eval", "--model", dir, "--probe", "knn", "--knn-distance", "l1"}, `"l1"`},
		{"eval unwritable out", []string{"eval", "--model", dir, "--out", filepath.Join(dir, "model.safetensors", "x")}, "--out"},
		{"embed unwritable out", []string{"embed", "--model", dir, "--out", filepath.Join(dir, "model.safetensors")}, "--out"},
		{"eval other data allowed", []string{"eval", "--model", dir, "--data", other, "--other-data", "--layers", "y", "--probe", "knn", "--out", t.TempDir()}, ""},
	} {
		err := run(t, c.args...)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: dim %v: error %v, want %q", c.name, c.args, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "eval.json")); err == nil {
		t.Error("a refused eval wrote eval.json")
	}

	// Every classifier in one report, on the run's own data set.
	if err := run(t, "eval", "--model", dir, "--probe", "all", "--layers", "fc,y", "--probe-epochs", "2", "--knn-distance", "cosine"); err != nil {
		t.Fatal(err)
	}
	rep := readReport(t, dir, "all")
	if rep.Data != data || rep.Classifier != "all" {
		t.Errorf("eval_all.json: data %q classifier %q, want %q and all", rep.Data, rep.Classifier, data)
	}
	for _, k := range classifiers {
		for _, l := range []string{"fc", "y"} {
			if _, ok := rep.Lookup(l, k, eval.MetricTestAcc); !ok {
				t.Errorf("eval_all.json has no %s test accuracy of %s", k, l)
			}
		}
	}
	if r, _ := rep.Lookup("y", eval.KindKNN, eval.MetricTestAcc); r.Settings["distance"] != eval.Cosine {
		t.Errorf("k-NN settings %v, want distance cosine", r.Settings)
	}
}

// TestCLINonFiniteFeatures: one NaN in a saved feature file is an error
// naming the file, row and column, before any fitting, and no report is
// written.
func TestCLINonFiniteFeatures(t *testing.T) {
	dir := t.TempDir()
	x := tensor.New(12, 3)
	tensor.NewRNG(1).Normal(x, 0, 1)
	labels := make([]int64, 12)
	for i := range labels {
		labels[i] = int64(i % 2)
	}
	for _, s := range []string{"train", "test"} {
		if err := npy.WriteInt64(filepath.Join(dir, s+"_labels.npy"), labels, 12); err != nil {
			t.Fatal(err)
		}
		for _, l := range encoder.Layers {
			v := x.Clone()
			if s == "test" && l == "y" {
				v.Data[5*3+2] = float32(math.NaN())
			}
			if err := npy.WriteFloat32(filepath.Join(dir, s+"_"+l+".npy"), v.Data, 12, 3); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, args := range [][]string{
		{"eval", "--features", dir},
		{"eval", "--features", dir, "--layers", "conv", "--ndm", "--ndm-steps", "1"},
	} {
		err := run(t, args...)
		if err == nil || !strings.Contains(err.Error(), "test_y.npy: row 5, column 2 is NaN") {
			t.Errorf("dim %v: error %v", args, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "eval.json")); err == nil {
		t.Error("eval.json written from NaN features")
	}
}
