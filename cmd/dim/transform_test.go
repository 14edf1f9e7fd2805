package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

// pngFolder writes a folder data set (train/<class>/, test/<class>/) of
// size x size colour images.
func pngFolder(t *testing.T, size, perClass int) string {
	t.Helper()
	dir := t.TempDir()
	rng := tensor.NewRNG(9)
	for _, split := range []string{"train", "test"} {
		for c := range 2 {
			d := filepath.Join(dir, split, fmt.Sprint("class", c))
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range perClass {
				img := image.NewRGBA(image.Rect(0, 0, size, size))
				for y := range size {
					for x := range size {
						v := uint8(rng.IntN(128) + 100*c)
						img.Set(x, y, color.RGBA{v, v / 2, 255 - v, 255})
					}
				}
				writePNG(t, filepath.Join(d, fmt.Sprint(i, ".png")), img)
			}
		}
	}
	return dir
}

// writePNG writes img to path as a PNG.
func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(png.Encode(f, img), f.Close()); err != nil {
		t.Fatal(err)
	}
}

// TestCLICropRecordsCentreCrop trains on random 32x32 crops of 36x36
// images: the run records a centre crop of 32 as its evaluation transform,
// and embed and eval apply it (without it the 36x36 images would not fit
// the encoder).
func TestCLICropRecordsCentreCrop(t *testing.T) {
	data := "folder:" + pngFolder(t, 36, 12)
	dir := filepath.Join(t.TempDir(), "run")
	if err := run(t, "train", "--data", data, "--out", dir, "--crop", "32", "--flip", "--normalize", "--steps", "2", "--batch", "4", "--mi-units", "8"); err != nil {
		t.Fatal(err)
	}
	_, info, err := train.LoadEncoder(dir)
	if err != nil {
		t.Fatal(err)
	}
	tr := info.Encoder.Transform
	if info.Encoder.Name != "basic32x32" || tr.CenterCrop != 32 || len(tr.Mean) != 3 || len(tr.Std) != 3 {
		t.Fatalf("recorded encoder %+v, want basic32x32 with a centre crop of 32 and per-channel statistics", info.Encoder)
	}
	js, err := os.ReadFile(filepath.Join(dir, train.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Method  string `json:"method"`
		Encoder struct {
			Transform struct {
				CenterCrop int `json:"center_crop"`
			} `json:"transform"`
		} `json:"encoder"`
	}
	if err := json.Unmarshal(js, &cfg); err != nil || cfg.Method != "dim" || cfg.Encoder.Transform.CenterCrop != 32 {
		t.Fatalf("config.json %s: %v", js, err)
	}
	feat := filepath.Join(t.TempDir(), "feat")
	if err := run(t, "embed", "--model", dir, "--data", data, "--out", feat); err != nil {
		t.Fatal(err)
	}
	if err := run(t, "eval", "--model", dir, "--data", data, "--layers", "y", "--probe", "knn"); err != nil {
		t.Fatal(err)
	}
	// Pad-and-crop to the image size (CIFAR style) needs no evaluation crop.
	dir2 := filepath.Join(t.TempDir(), "run2")
	if err := run(t, "train", "--data", "folder:"+pngFolder(t, 32, 4), "--out", dir2, "--crop", "32", "--pad", "4", "--steps", "1", "--batch", "4", "--mi-units", "8"); err != nil {
		t.Fatal(err)
	}
	if _, info, err := train.LoadEncoder(dir2); err != nil || info.Encoder.Transform.CenterCrop != 0 {
		t.Fatalf("pad-and-crop run records %+v (%v), want no centre crop", info.Encoder.Transform, err)
	}
}

// stlDir writes a small STL-10 binary data set: n images per part, 96x96
// colour, stored as the format does (channel planes, column-major).
func stlDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	rng := tensor.NewRNG(4)
	for _, part := range []string{"train", "test", "unlabeled"} {
		pix := make([]byte, n*3*96*96)
		for i := range pix {
			pix[i] = byte(rng.IntN(256))
		}
		if err := os.WriteFile(filepath.Join(dir, part+"_X.bin"), pix, 0o644); err != nil {
			t.Fatal(err)
		}
		if part == "unlabeled" {
			continue
		}
		lbl := make([]byte, n)
		for i := range lbl {
			lbl[i] = byte(1 + i%2)
		}
		if err := os.WriteFile(filepath.Join(dir, part+"_y.bin"), lbl, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestCLISTL10AsThePaper trains on STL-10's train and unlabeled parts with
// random 64x64 crops and flips; embed and eval then centre-crop the 96x96
// images to the encoder's input.
func TestCLISTL10AsThePaper(t *testing.T) {
	data := "stl10:" + stlDir(t, 4)
	dir := filepath.Join(t.TempDir(), "run")
	common := []string{"--data", data, "--out", dir, "--unlabeled", "--crop", "64", "--flip", "--batch", "4", "--mi-units", "8"}
	if err := run(t, append([]string{"train", "--steps", "2"}, common...)...); err != nil {
		t.Fatal(err)
	}
	_, info, err := train.LoadEncoder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Encoder.Name != "basic64x64" || info.Encoder.Transform.CenterCrop != 64 || info.Progress.Data != data+"+unlabeled" {
		t.Fatalf("run info %+v", info)
	}
	// 8 images (train + unlabeled), batch 4: 2 steps per epoch.
	if info.Progress.Epoch != 1 {
		t.Errorf("epoch %d after 2 steps over train+unlabeled (8 images), want 1", info.Progress.Epoch)
	}
	if err := run(t, append([]string{"train", "--steps", "3", "--resume"}, common...)...); err != nil {
		t.Fatal(err)
	}
	if err := run(t, "embed", "--model", dir, "--data", data, "--out", filepath.Join(t.TempDir(), "feat")); err != nil {
		t.Fatal(err)
	}
	// The reference's STL-10 model: the folded AlexNet with multiple
	// globals, local DIM scoring sampled locations against sampled globals.
	multi := filepath.Join(t.TempDir(), "multi")
	if err := run(t, "train", "--data", data, "--out", multi, "--unlabeled", "--crop", "64", "--flip", "--batch", "4", "--mi-units", "8",
		"--steps", "1", "--arch", "foldmultialex64x64", "--globals", "globals", "--global-samples", "4", "--local-samples", "8"); err != nil {
		t.Fatal(err)
	}
	if err := run(t, "train", "--data", "idx:"+tinyIDX(t, 8), "--out", filepath.Join(t.TempDir(), "r"), "--arch", "cli-tiny", "--unlabeled", "--steps", "1"); err == nil {
		t.Error("--unlabeled on a data set without an unlabeled part: no error")
	}
}
