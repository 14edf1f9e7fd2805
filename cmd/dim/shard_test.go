package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestEmbedShardsMerge: embedding in 4 shards and merging gives exactly
// the files of an unsharded embed, byte for byte.
func TestEmbedShardsMerge(t *testing.T) {
	data := "idx:" + tinyIDX(t, 23) // 23 images: shards of 5, 6, 6, 6
	run1 := filepath.Join(t.TempDir(), "run")
	if err := run(t, "train", "--data", data, "--arch", "cli-tiny", "--out", run1, "--steps", "2", "--batch", "4", "--mi-units", "8"); err != nil {
		t.Fatal(err)
	}
	whole := filepath.Join(t.TempDir(), "whole")
	if err := run(t, "embed", "--model", run1, "--out", whole, "--batch", "7"); err != nil {
		t.Fatal(err)
	}
	var shards []string
	for i := range 4 {
		d := filepath.Join(t.TempDir(), fmt.Sprint("shard", i))
		if err := run(t, "embed", "--model", run1, "--out", d, "--batch", "4", "--shard", fmt.Sprintf("%d/4", i)); err != nil {
			t.Fatal(err)
		}
		shards = append(shards, d)
	}
	merged := filepath.Join(t.TempDir(), "merged")
	// Any order of the shard directories.
	list := shards[2] + "," + shards[0] + "," + shards[3] + "," + shards[1]
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
	if err := run(t, "embed", "--merge", shards[0]+","+shards[1]+","+shards[3], "--out", filepath.Join(t.TempDir(), "m")); err == nil {
		t.Error("merging 3 of 4 shards: no error")
	}
	if err := run(t, "embed", "--model", run1, "--out", t.TempDir(), "--shard", "4/4"); err == nil {
		t.Error("--shard 4/4: no error")
	}
}
