package main

import (
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/npy"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

// flatFolder writes a folder data set without train/ and test/: one
// sub-folder per class of size x size grey images.
func flatFolder(t *testing.T, size, perClass int) string {
	t.Helper()
	dir := t.TempDir()
	rng := tensor.NewRNG(11)
	for c := range 3 {
		d := filepath.Join(dir, fmt.Sprint("class", c))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := range perClass {
			img := image.NewGray(image.Rect(0, 0, size, size))
			for p := range img.Pix {
				img.Pix[p] = uint8(rng.IntN(100) + 70*c)
			}
			img.Set(i%size, 0, color.Gray{255})
			writePNG(t, filepath.Join(d, fmt.Sprint(i, ".png")), img)
		}
	}
	return dir
}

// TestHoldOutRecorded checks that a run trained on a folder with --holdout
// and --seed records both, that embed and eval then use the same held-out
// images without being told (and refuse another hold-out), and that a
// resume keeps them.
func TestHoldOutRecorded(t *testing.T) {
	spec := "folder:" + flatFolder(t, 28, 20)
	dir := filepath.Join(t.TempDir(), "run")
	common := []string{"--batch", "8", "--mi-units", "8"}
	if err := run(t, append([]string{"train", "--data", spec, "--out", dir, "--steps", "2", "--holdout", "0.25", "--seed", "3"}, common...)...); err != nil {
		t.Fatal(err)
	}
	info, err := train.ReadInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := data.Options{HoldOut: 0.25, Seed: 3}
	if rec := info.Progress.DataOptions; rec == nil || *rec != want {
		t.Fatalf("recorded data options %+v, want %+v", rec, want)
	}
	// embed without --holdout: the test split is the run's held-out images.
	feats := filepath.Join(t.TempDir(), "f")
	if err := run(t, "embed", "--model", dir, "--out", feats, "--layers", "y"); err != nil {
		t.Fatalf("embed without --holdout: %v", err)
	}
	split, err := data.Open(spec, want)
	if err != nil {
		t.Fatal(err)
	}
	defer split.Close()
	labels, _, err := npy.ReadInt64(filepath.Join(feats, "test_labels.npy"))
	if err != nil {
		t.Fatal(err)
	}
	var held []int64
	for i := range split.Test.Len() {
		held = append(held, int64(split.Test.Label(i)))
	}
	if !slices.Equal(labels, held) {
		t.Errorf("embed's test labels %v, want the run's held-out images' %v", labels, held)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--model", dir, "--holdout", "0.5"}, "was trained with --holdout 0.25"},
		{[]string{"embed", "--model", dir, "--out", feats, "--holdout", "0.1"}, "was trained with --holdout 0.25"},
		{[]string{"train", "--out", dir, "--resume", "--steps", "3", "--holdout", "0.5"}, "--holdout"},
	} {
		if err := run(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("dim %v: error %v, want one mentioning %q", c.args, err, c.want)
		}
	}
	// report opens the run's own data as it was trained, given --data or
	// not, and refuses contradicting flags; --other-data takes the flags
	// as given.
	page := filepath.Join(t.TempDir(), "r.html")
	small := []string{"--train-images", "20", "--test-images", "10", "--queries", "2", "--k", "2"}
	if err := run(t, append([]string{"report", "--run", dir, "--data", spec, "--out", page}, small...)...); err != nil {
		t.Fatalf("report with the run's own --data: %v", err)
	}
	if b, err := os.ReadFile(page); err != nil || strings.Contains(string(b), "no test split") {
		t.Errorf("report with the run's own --data lost its hold-out (%v)", err)
	}
	if err := run(t, append([]string{"report", "--run", dir, "--holdout", "0.5", "--out", page}, small...)...); err == nil || !strings.Contains(err.Error(), "was trained with --holdout 0.25") {
		t.Errorf("report --holdout 0.5: error %v, want one naming the recorded hold-out", err)
	}
	if err := run(t, "embed", "--model", dir, "--out", filepath.Join(t.TempDir(), "o"), "--layers", "y", "--holdout", "0.5", "--other-data"); err != nil {
		t.Errorf("embed --holdout 0.5 --other-data: %v", err)
	}
	// A resume without the flags keeps the run's images.
	if err := run(t, "train", "--out", dir, "--resume", "--steps", "4"); err != nil {
		t.Fatalf("resume without --holdout: %v", err)
	}
	if info, err = train.ReadInfo(dir); err != nil {
		t.Fatal(err)
	}
	if rec := info.Progress.DataOptions; info.Progress.Step != 4 || rec == nil || *rec != want {
		t.Errorf("after resume: step %d, data options %+v, want 4 and %+v", info.Progress.Step, rec, want)
	}
}
