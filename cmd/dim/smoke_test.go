package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/runlog"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

// cliTiny is a small encoder of 12x12 grey images (12 = 6 x 2: the
// decoders of the autoencoder baselines fit it) with basic28x28's
// structure, registered for the CLI tests so that they stay fast.
var cliTiny = encoder.Arch{
	Name: "cli-tiny", Channels: 1, Size: 12,
	Convs: []encoder.ConvSpec{{Out: 4, Kernel: 3, Stride: 2, Pad: 1}, {Out: 6, Kernel: 3, Stride: 2, Pad: 1}},
	FCs:   []int{8}, Out: 5, LocalLayer: 1, FeatureLayer: 1,
}

func init() {
	if err := encoder.RegisterArch(cliTiny, "a test encoder"); err != nil {
		panic(err)
	}
}

// tinyIDX writes a labelled IDX data set of n 12x12 images.
func tinyIDX(t *testing.T, n int) string {
	dir := t.TempDir()
	rng := tensor.NewRNG(3)
	img, lbl := make([]byte, n*144), make([]byte, n)
	for i := range img {
		img[i] = byte(rng.IntN(256))
	}
	for i := range lbl {
		lbl[i] = byte(i % 3)
	}
	for _, p := range []string{"train", "t10k"} {
		writeIDX(t, filepath.Join(dir, p+"-images-idx3-ubyte.gz"), []int{n, 12, 12}, img)
		writeIDX(t, filepath.Join(dir, p+"-labels-idx1-ubyte.gz"), []int{n}, lbl)
	}
	return dir
}

// TestCLISmoke runs `dim train` for two steps with every combination a
// user would try: each estimator with each score function, each prior,
// occlusion, coordinates abs and rel, multiple globals with and without
// sampling, and all of them at once; each run must log finite losses.
func TestCLISmoke(t *testing.T) {
	data := "idx:" + tinyIDX(t, 16)
	type smokeRun struct {
		name string
		args []string
	}
	var runs []smokeRun
	for _, m := range mi.Measures {
		for _, score := range []string{"dot", "concat"} {
			runs = append(runs, smokeRun{fmt.Sprintf("%s-%s", m, score), []string{"--measure", string(m), "--score", score, "--alpha", "0.5"}})
		}
	}
	for _, p := range []string{"uniform", "gaussian", "sphere", "ball"} {
		runs = append(runs, smokeRun{"prior-" + p, []string{"--gamma", "0.1", "--prior", p}})
	}
	runs = append(runs,
		smokeRun{"occlude", []string{"--occlude", "--occlude-size", "4", "--occlude-blocks", "2"}},
		smokeRun{"coordinates-abs", []string{"--coordinates", "abs"}},
		smokeRun{"coordinates-rel", []string{"--coordinates", "rel", "--coord", "0.5"}},
		smokeRun{"globals", []string{"--globals", "conv"}},
		smokeRun{"globals-sampled", []string{"--globals", "conv", "--global-samples", "2", "--local-samples", "3", "--measure", "nce"}},
		smokeRun{"everything", []string{"--alpha", "0.5", "--gamma", "0.1", "--score", "concat", "--occlude", "--coordinates", "rel", "--globals", "conv", "--global-samples", "2", "--local-samples", "4", "--measure", "dv"}},
	)
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			args := append([]string{"train", "--data", data, "--arch", "cli-tiny", "--out", dir, "--steps", "2", "--batch", "4", "--mi-units", "8", "--log-every", "1"}, r.args...)
			if err := run(t, args...); err != nil {
				t.Fatal(err)
			}
			recs, err := runlog.ReadMetrics(filepath.Join(dir, train.MetricsFile))
			if err != nil {
				t.Fatal(err)
			}
			steps := 0
			for _, rec := range recs {
				if rec.Event != "step" {
					continue
				}
				steps++
				for k := range rec.Fields {
					if v, ok := rec.Float(k); !ok || v != v || v > 1e30 || v < -1e30 {
						t.Errorf("step %v: %s = %v", rec.Fields["step"], k, rec.Fields[k])
					}
				}
			}
			if steps != 2 {
				t.Errorf("%d step lines, want 2", steps)
			}
		})
	}
}

// TestCLIBaselines trains every baseline with `dim train --method` for two
// steps, resumes it, and embeds with its encoder.
func TestCLIBaselines(t *testing.T) {
	data := "idx:" + tinyIDX(t, 16)
	for _, m := range []string{"supervised", "nat", "random", "ae", "vae", "beta-vae", "aae", "bigan"} {
		t.Run(m, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			common := []string{"--data", data, "--arch", "cli-tiny", "--out", dir, "--batch", "4", "--method", m}
			if err := run(t, append([]string{"train", "--steps", "2"}, common...)...); err != nil {
				t.Fatal(err)
			}
			if err := run(t, append([]string{"train", "--steps", "3", "--resume"}, common...)...); err != nil {
				t.Fatal(err)
			}
			_, info, err := train.LoadEncoder(dir)
			if err != nil || info.Method != m || info.Progress.Step != 3 {
				t.Fatalf("run %+v: %v", info, err)
			}
			if err := run(t, "embed", "--model", dir, "--data", data, "--out", filepath.Join(t.TempDir(), "feat")); err != nil {
				t.Fatal(err)
			}
		})
	}
	if err := run(t, "train", "--data", data, "--arch", "cli-tiny", "--out", filepath.Join(t.TempDir(), "x"), "--method", "bogus", "--steps", "1"); err == nil {
		t.Error("--method bogus: no error")
	}
}

// TestCLICompare trains three methods with `dim compare`, evaluates them
// and writes the table; a second call reuses the finished runs.
func TestCLICompare(t *testing.T) {
	data := "idx:" + tinyIDX(t, 16)
	out := filepath.Join(t.TempDir(), "cmp")
	args := []string{"compare", "--data", data, "--out", out, "--methods", "dim,ae,random", "--arch", "cli-tiny", "--steps", "2", "--probe", "knn", "--train-args", "--batch 4 --mi-units 8"}
	if err := run(t, args...); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "compare.png")); err != nil {
		t.Errorf("no bar chart: %v", err)
	}
	md, err := os.ReadFile(filepath.Join(out, "compare.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"| dim |", "| ae |", "| random |"} {
		if !strings.Contains(string(md), m) {
			t.Errorf("compare.md lacks %q:\n%s", m, md)
		}
	}
	js, err := os.ReadFile(filepath.Join(out, "compare.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c comparison
	if err := json.Unmarshal(js, &c); err != nil || len(c.Rows) != 3 || c.Rows[0].TestAcc["y"] <= 0 {
		t.Fatalf("compare.json %s: %v", js, err)
	}
	before, _ := os.Stat(filepath.Join(out, "dim", "model.safetensors"))
	if err := run(t, args...); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(filepath.Join(out, "dim", "model.safetensors"))
	if !after.ModTime().Equal(before.ModTime()) {
		t.Error("a second compare retrained a finished run")
	}
	// More steps: the runs continue and their evaluations are redone.
	more := append(slices.Clone(args), "--steps", "3")
	if err := run(t, more...); err != nil {
		t.Fatal(err)
	}
	if rep := readReport(t, filepath.Join(out, "dim"), "knn"); rep.Step != 3 {
		t.Errorf("the evaluation after continuing to step 3 is of step %d", rep.Step)
	}
	if err := run(t, "compare", "--data", data, "--out", out, "--methods", "dim,gan"); err == nil {
		t.Error("an unknown method: no error")
	}
}

// TestCLITrainEval: train --eval ends with the linear probe's rows for
// conv, fc and Y in eval.json, as dim eval writes them.
func TestCLITrainEval(t *testing.T) {
	data := "idx:" + tinyIDX(t, 16)
	dir := filepath.Join(t.TempDir(), "run")
	if err := run(t, "train", "--data", data, "--arch", "cli-tiny", "--out", dir, "--steps", "2", "--batch", "4", "--mi-units", "8", "--eval"); err != nil {
		t.Fatal(err)
	}
	rep := readReport(t, dir, "linear")
	for _, l := range []string{"conv", "fc", "y"} {
		if r, ok := rep.Lookup(l, "linear", "test_acc"); !ok || !(r.Value >= 0) {
			t.Errorf("eval.json has no linear test accuracy for %s: %+v", l, rep.Results)
		}
	}
	if rep.Model != dir {
		t.Errorf("eval.json names model %q, want %q", rep.Model, dir)
	}
}
