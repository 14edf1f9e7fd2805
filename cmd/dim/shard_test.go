package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/deepinfomax/deepinfomax/npy"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// tinyIDXSplits writes a labelled IDX data set of 12x12 images, nTrain in
// the train split and nTest in the test split.
func tinyIDXSplits(t *testing.T, nTrain, nTest int) string {
	dir := t.TempDir()
	rng := tensor.NewRNG(4)
	for _, s := range []struct {
		prefix string
		n      int
	}{{"train", nTrain}, {"t10k", nTest}} {
		img, lbl := make([]byte, s.n*144), make([]byte, s.n)
		for i := range img {
			img[i] = byte(rng.IntN(256))
		}
		for i := range lbl {
			lbl[i] = byte(i % 3)
		}
		writeIDX(t, filepath.Join(dir, s.prefix+"-images-idx3-ubyte.gz"), []int{s.n, 12, 12}, img)
		writeIDX(t, filepath.Join(dir, s.prefix+"-labels-idx1-ubyte.gz"), []int{s.n}, lbl)
	}
	return dir
}

// TestEmbedShardsMerge: embedding in n shards and merging gives exactly
// the files of an unsharded embed, byte for byte, also when some shards
// hold no images of a split (they write files of zero rows).
func TestEmbedShardsMerge(t *testing.T) {
	for _, c := range []struct {
		name          string
		train, test   int
		shards        int
		emptyTestPart int // a shard whose part of the test split is empty, -1: none
	}{
		{"23 images in 4 shards of 5 6 6 6", 23, 23, 4, -1},
		{"5+2 images in 4 shards: 2 without test images", 5, 2, 4, 2},
		{"3+1 images in 9 shards: most empty", 3, 1, 9, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := "idx:" + tinyIDXSplits(t, c.train, c.test)
			run1 := filepath.Join(t.TempDir(), "run")
			if err := run(t, "train", "--data", data, "--arch", "cli-tiny", "--out", run1, "--steps", "2", "--batch", "2", "--mi-units", "8"); err != nil {
				t.Fatal(err)
			}
			whole := filepath.Join(t.TempDir(), "whole")
			if err := run(t, "embed", "--model", run1, "--out", whole, "--batch", "7"); err != nil {
				t.Fatal(err)
			}
			var shards []string
			for i := range c.shards {
				d := filepath.Join(t.TempDir(), fmt.Sprint("shard", i))
				if err := run(t, "embed", "--model", run1, "--out", d, "--batch", "4", "--shard", fmt.Sprintf("%d/%d", i, c.shards)); err != nil {
					t.Fatal(err)
				}
				shards = append(shards, d)
			}
			if c.emptyTestPart >= 0 {
				// The empty part is written, with zero rows.
				for _, f := range []string{"test_y.npy", "test_conv.npy", "test_labels.npy"} {
					h, err := npy.ReadHeader(filepath.Join(shards[c.emptyTestPart], f))
					if err != nil || h.Shape[0] != 0 {
						t.Errorf("shard %d, %s: %v, %v: want 0 rows", c.emptyTestPart, f, h, err)
					}
				}
			}
			merged := filepath.Join(t.TempDir(), "merged")
			// Any order of the shard directories: the last first.
			list := shards[len(shards)-1]
			for _, s := range shards[:len(shards)-1] {
				list += "," + s
			}
			if err := run(t, "embed", "--merge", list, "--out", merged); err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(whole, "*.npy"))
			if len(files) != 8 {
				t.Fatalf("%d files in the unsharded output, want 8", len(files))
			}
			for _, f := range files {
				a, _ := os.ReadFile(f)
				b, err := os.ReadFile(filepath.Join(merged, filepath.Base(f)))
				if err != nil || !bytes.Equal(a, b) {
					t.Errorf("%s: merged differs from unsharded (%v)", filepath.Base(f), err)
				}
			}
			if all, _ := os.ReadDir(merged); len(all) != len(files) {
				t.Errorf("%d entries in the merged output, want %d", len(all), len(files))
			}
			missing := filepath.Join(t.TempDir(), "m")
			if err := run(t, "embed", "--merge", shards[0]+","+shards[1], "--out", missing); err == nil {
				t.Errorf("merging 2 of %d shards: no error", c.shards)
			}
			if _, err := os.Stat(missing); err == nil {
				t.Error("a refused merge created --out")
			}
			if err := run(t, "embed", "--model", run1, "--out", t.TempDir(), "--shard", fmt.Sprintf("%d/%d", c.shards, c.shards)); err == nil {
				t.Errorf("--shard %d/%d: no error", c.shards, c.shards)
			}
		})
	}
}
