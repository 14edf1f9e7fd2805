package main

import (
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"github.com/deepinfomax/deepinfomax/train"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/eval"
	"github.com/deepinfomax/deepinfomax/npy"
	"github.com/deepinfomax/deepinfomax/runlog"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// writeIDX writes a gzipped IDX file of unsigned bytes.
func writeIDX(t *testing.T, path string, dims []int, values []byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z := gzip.NewWriter(f)
	hdr := []byte{0, 0, 8, byte(len(dims))}
	for _, d := range dims {
		hdr = binary.BigEndian.AppendUint32(hdr, uint32(d))
	}
	z.Write(hdr)
	z.Write(values)
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
}

// idxDir makes a small labelled 28x28 data set whose label is visible in
// the image (a bright row), so that a probe can learn it.
func idxDir(t *testing.T, nTrain, nTest int) string {
	dir := t.TempDir()
	rng := tensor.NewRNG(5)
	for _, s := range []struct {
		prefix string
		n      int
	}{{"train", nTrain}, {"t10k", nTest}} {
		img := make([]byte, s.n*784)
		lbl := make([]byte, s.n)
		for i := 0; i < s.n; i++ {
			lbl[i] = byte(i % 3)
			for j := 0; j < 784; j++ {
				img[i*784+j] = byte(rng.IntN(64))
			}
			for j := 0; j < 28; j++ {
				img[i*784+(4+8*int(lbl[i]))*28+j] = 255
			}
		}
		writeIDX(t, filepath.Join(dir, s.prefix+"-images-idx3-ubyte.gz"), []int{s.n, 28, 28}, img)
		writeIDX(t, filepath.Join(dir, s.prefix+"-labels-idx1-ubyte.gz"), []int{s.n}, lbl)
	}
	return dir
}

// readReport reads the report of a classifier kind in dir.
func readReport(t *testing.T, dir, kind string) *eval.Report {
	t.Helper()
	rep, err := eval.ReadReport(filepath.Join(dir, eval.ReportFile(kind)))
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// layerRows returns the rows of layer in rep.
func layerRows(rep *eval.Report, layer string) []eval.Result {
	var rows []eval.Result
	for _, r := range rep.Results {
		if r.Layer == layer {
			rows = append(rows, r)
		}
	}
	return rows
}

func run(t *testing.T, args ...string) error {
	t.Helper()
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(os.Stderr)
	return root.Execute()
}

// TestCLITrainEmbedEval runs the three commands end to end on a tiny data
// set: train (then resume further), embed to .npy, eval to eval.json.
func TestCLITrainEmbedEval(t *testing.T) {
	data := "idx:" + idxDir(t, 240, 30)
	run1 := filepath.Join(t.TempDir(), "run")
	// With prior matching, so that its discriminator is checkpointed and resumed too.
	common := []string{"--data", data, "--out", run1, "--mi-units", "16", "--batch", "8", "--gamma", "0.1"}
	if err := run(t, append([]string{"train", "--steps", "3"}, common...)...); err != nil {
		t.Fatal(err)
	}
	if err := run(t, append([]string{"train", "--steps", "4"}, common...)...); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("training into an existing run without --resume: %v", err)
	}
	if err := run(t, append([]string{"train", "--steps", "7", "--resume"}, common...)...); err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Progress struct{ Step int } `json:"progress"`
	}
	js, err := os.ReadFile(filepath.Join(run1, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &cfg); err != nil || cfg.Progress.Step != 7 {
		t.Fatalf("config.json: %v, step %d", err, cfg.Progress.Step)
	}

	feats := filepath.Join(t.TempDir(), "features")
	if err := run(t, "embed", "--model", run1, "--data", data, "--out", feats); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		shape []int
	}{
		{"train_conv.npy", []int{240, 128 * 7 * 7}}, {"train_fc.npy", []int{240, 1024}}, {"train_y.npy", []int{240, 64}},
		{"test_conv.npy", []int{30, 128 * 7 * 7}}, {"test_y.npy", []int{30, 64}},
	} {
		_, shape, err := npy.ReadFloat32(filepath.Join(feats, c.name))
		if err != nil || !tensor.EqualShape(shape, c.shape) {
			t.Errorf("%s: %v, shape %v, want %v", c.name, err, shape, c.shape)
		}
	}
	labels, shape, err := npy.ReadInt64(filepath.Join(feats, "train_labels.npy"))
	if err != nil || len(labels) != 240 || shape[0] != 240 || labels[4] != 1 {
		t.Errorf("train_labels.npy: %v, shape %v, labels %v", err, shape, labels[:6])
	}

	if err := run(t, "eval", "--model", run1, "--data", data, "--probe-epochs", "20"); err != nil {
		t.Fatal(err)
	}
	rep := readReport(t, run1, "linear")
	for _, l := range []string{"conv", "fc", "y"} {
		if r, ok := rep.Lookup(l, eval.KindLinear, eval.MetricTestAcc); !ok || r.Value < 0.75 { // chance is 1/3
			t.Errorf("%s probe on a trivially separable set: %+v", l, rep.Results)
		}
	}
	// The "eval" line of the run's metrics holds the same accuracies.
	recs, err := runlog.ReadMetrics(filepath.Join(run1, "metrics.jsonl"))
	if err != nil || len(recs) == 0 || recs[len(recs)-1].Event != "eval" {
		t.Fatalf("metrics.jsonl: %v, %d records", err, len(recs))
	}
	last := recs[len(recs)-1]
	for _, l := range []string{"conv", "fc", "y"} {
		for _, m := range []string{eval.MetricTestAcc, eval.MetricTrainAcc} {
			r, _ := rep.Lookup(l, eval.KindLinear, m)
			if v, ok := last.Float(l + "_" + m); !ok || v != r.Value {
				t.Errorf("metrics.jsonl eval %s_%s = %v, eval.json %v", l, m, v, r.Value)
			}
		}
	}
	if c, _ := last.String("classifier"); c != "linear" {
		t.Errorf("metrics.jsonl eval line: %v", last.Fields)
	}

	// The same probe on the exported features gives the same numbers.
	if err := run(t, "eval", "--features", feats, "--layers", "fc,y", "--probe-epochs", "20"); err != nil {
		t.Fatal(err)
	}
	frep := readReport(t, feats, "linear")
	for _, l := range []string{"fc", "y"} {
		if f, m := layerRows(frep, l), layerRows(rep, l); len(f) == 0 || !reflect.DeepEqual(f, m) {
			t.Errorf("%s: probe on saved features %+v, on the model %+v", l, f, m)
		}
	}

	// The paper's MLP classifier.
	if err := run(t, "eval", "--features", feats, "--layers", "y", "--probe", "mlp", "--ndm", "--ndm-steps", "20"); err != nil {
		t.Fatal(err)
	}
	mrep := readReport(t, feats, "mlp")
	if r, _ := mrep.Lookup("y", eval.KindMLP, eval.MetricTestAcc); !strings.HasPrefix(mrep.Probe, "mlp") || r.Value < 0.75 {
		t.Errorf("mlp probe: %q %+v", mrep.Probe, r)
	}
	_, sig := mrep.Lookup("y", eval.KindNDMSigmoid, eval.MetricNats)
	if _, plain := mrep.Lookup("y", eval.KindNDM, eval.MetricNats); !sig || !plain || len(mrep.Results) != 5 {
		t.Errorf("NDM: %+v", mrep.Results)
	}

	// The linear SVM.
	if err := run(t, "eval", "--features", feats, "--layers", "y", "--probe", "svm", "--probe-epochs", "20", "--runs", "3"); err != nil {
		t.Fatal(err)
	}
	srep := readReport(t, feats, "svm")
	if r, _ := srep.Lookup("y", eval.KindSVM, eval.MetricTestAcc); !strings.HasPrefix(srep.Probe, "svm") || r.Value < 0.75 || len(r.Runs) != 3 {
		t.Errorf("svm probe, 3 runs: %q %+v", srep.Probe, r)
	} else if m, sd := eval.MeanStd(r.Runs); m != r.Value || sd != r.Std {
		t.Errorf("svm probe: mean %v std %v of runs %v, reported %v %v", m, sd, r.Runs, r.Value, r.Std)
	}

	// k nearest neighbours.
	if err := run(t, "eval", "--features", feats, "--layers", "fc", "--probe", "knn"); err != nil {
		t.Fatal(err)
	}
	krep := readReport(t, feats, "knn")
	r, _ := krep.Lookup("fc", eval.KindKNN, eval.MetricTestAcc)
	if k, _ := r.Setting("k"); !strings.HasPrefix(krep.Probe, "knn") || r.Value < 0.75 || k < 1 {
		t.Errorf("knn: %q %+v", krep.Probe, r)
	}
}

func TestCLIErrors(t *testing.T) {
	dir := t.TempDir()
	shard := filepath.Join(dir, "shard0")
	if err := os.Mkdir(shard, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(shard, shardFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--data", "cifar10:" + filepath.Join(dir, "none"), "--out", dir}, "none"},
		{[]string{"eval", "--features", shard}, "merge the shards first"},
		{[]string{"eval", "--features", shard, "--data", "mnist"}, "--data does not apply"},
		{[]string{"eval", "--features", shard, "--holdout", "0.3"}, "--holdout does not apply"},
		{[]string{"embed", "--merge", shard + "," + shard, "--out", filepath.Join(dir, "m"), "--model", dir}, "--merge takes only --out: --model"},
		{[]string{"train", "--out", filepath.Join(dir, "norun"), "--resume"}, "holds no run"},
		{[]string{"train", "--data", "idx:" + dir, "--out", dir}, dir},
		{[]string{"train", "--data", "mnist"}, "--out"},
		{[]string{"train", "--data", "mnist", "--out", dir, "--measure", "bogus"}, "bogus"},
		{[]string{"eval", "--model", dir, "--data", "mnist"}, "model.safetensors"},
		{[]string{"embed", "--model", dir}, "--out"},
		{[]string{"eval", "--features", dir}, "train_labels.npy"},
		{[]string{"eval", "--features", dir, "--probe", "bogus"}, "bogus"},
		{[]string{"train", "--data", "mnist", "--out", dir, "--gamma", "0.1", "--prior", "cauchy"}, "cauchy"},
		{[]string{"eval", "--model", dir, "--random"}, "--random excludes --model"},
		{[]string{"train", "--data", "mnist", "--out", filepath.Join(dir, "p"), "--pad", "4"}, "--pad pads the images for random crops: it needs --crop"},
		{[]string{"train", "--data", "mnist", "--out", filepath.Join(dir, "p"), "--coarse"}, "coarse labels are CIFAR-100's"},
		{[]string{"train", "--data", "mnist", "--out", filepath.Join(dir, "p"), "--holdout", "0.1"}, "hold-out fraction is for folder:DIR"},
		{[]string{"compare", "--out", filepath.Join(dir, "c1"), "--methods", "dim,ae,dim"}, "dim is listed twice"},
		{[]string{"compare", "--out", filepath.Join(dir, "c2"), "--probe", "linear", "--eval-args", "--probe knn"}, "--probe is set by compare"},
		{[]string{"compare", "--out", filepath.Join(dir, "c3"), "--eval-args", "--layers y"}, "--layers is set by compare"},
		{[]string{"compare", "--out", filepath.Join(dir, "c4"), "--train-args", "--mi-unitz 8"}, "unknown flag: --mi-unitz"},
		{[]string{"compare", "--out", filepath.Join(dir, "c5"), "--train-args", "--steps 5"}, "--steps is set by compare"},
		{[]string{"compare", "--out", filepath.Join(dir, "c6"), "--eval-args", "stray"}, `unexpected argument "stray"`},
	} {
		err := run(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("dim %v: error %v, want one mentioning %q", c.args, err, c.want)
		}
		if c.args[0] == "compare" { // refused before anything is made
			if _, err := os.Stat(c.args[2]); !os.IsNotExist(err) {
				t.Errorf("dim %v left %s behind", c.args, c.args[2])
			}
		}
	}
}

// TestResumeUsesRunData checks that dim train --resume without --data
// continues on the data set the run recorded (the default, mnist, would be
// refused as a different one).
func TestResumeUsesRunData(t *testing.T) {
	data := "idx:" + idxDir(t, 64, 16)
	dir := filepath.Join(t.TempDir(), "run")
	if err := run(t, "train", "--data", data, "--out", dir, "--steps", "2", "--batch", "8", "--mi-units", "8"); err != nil {
		t.Fatal(err)
	}
	if err := run(t, "train", "--out", dir, "--resume", "--steps", "4"); err != nil {
		t.Fatalf("resume without --data: %v", err)
	}
	_, info, err := train.LoadEncoder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Progress.Step != 4 || info.Progress.Data != data {
		t.Errorf("after resume: step %d on %q, want 4 on %q", info.Progress.Step, info.Progress.Data, data)
	}
	if err := run(t, "train", "--data", "mnist", "--out", dir, "--resume", "--steps", "5"); err == nil {
		t.Error("resume with another --data: no error")
	}
}

// TestDataSpecCanonical checks that --data is recorded as data.Canonical
// spells it, so that a run trained on "IDX:DIR" resumes with "idx:DIR".
func TestDataSpecCanonical(t *testing.T) {
	d := idxDir(t, 64, 16)
	dir := filepath.Join(t.TempDir(), "run")
	if err := run(t, "train", "--data", "IDX:"+d, "--out", dir, "--steps", "2", "--batch", "8", "--mi-units", "8"); err != nil {
		t.Fatal(err)
	}
	info, err := train.ReadInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Progress.Data != "idx:"+d {
		t.Errorf("recorded data %q, want %q", info.Progress.Data, "idx:"+d)
	}
	if err := run(t, "train", "--data", " idx:"+d, "--out", dir, "--resume", "--steps", "3"); err != nil {
		t.Errorf("resume with another spelling of the data spec: %v", err)
	}
}
