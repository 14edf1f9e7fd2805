package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/eval"
)

// TestCLIMeasures runs dim eval --mine --msssim --labels-per-class for a
// few steps on a random encoder and checks their rows in eval.json.
func TestCLIMeasures(t *testing.T) {
	data := "idx:" + idxDir(t, 40, 10)
	out := t.TempDir()
	if err := run(t, "eval", "--random", "--data", data, "--layers", "y", "--probe-epochs", "1", "--out", out,
		"--mine", "--mine-steps", "2", "--msssim", "--msssim-steps", "2", "--labels-per-class", "2", "--semi-steps", "2"); err != nil {
		t.Fatal(err)
	}
	rep, err := eval.ReadReport(filepath.Join(out, "eval.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ kind, metric, setting string }{
		{eval.KindMINE, eval.MetricNats, "steps"},
		{eval.KindMSSSIM, eval.MetricMSSSIM, "scales"},
		{eval.KindFrozen, eval.MetricTestAcc, "labels_per_class"},
		{eval.KindFineTuned, eval.MetricTestAcc, "labels_per_class"},
		{eval.KindFineTuned, eval.MetricTrainAcc, "steps"},
	} {
		r, ok := rep.Lookup("y", c.kind, c.metric)
		if !ok {
			t.Errorf("no row y/%s/%s", c.kind, c.metric)
			continue
		}
		if _, ok := r.Setting(c.setting); !ok {
			t.Errorf("row %s has no setting %s: %v", r.Key(), c.setting, r.Settings)
		}
	}
	if r, _ := rep.Lookup("y", eval.KindMSSSIM, eval.MetricMSSSIM); r.Value > 1 {
		t.Errorf("MS-SSIM %v > 1", r.Value)
	}
}

func TestCLIMeasuresErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--features", t.TempDir(), "--mine"}, "need images"},
		{[]string{"eval", "--random", "--data", "idx:" + idxDir(t, 20, 10), "--layers", "y", "--probe-epochs", "1", "--labels-per-class", "-1"}, "labels-per-class"},
	} {
		err := run(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one mentioning %q", c.args, err, c.want)
		}
	}
}
