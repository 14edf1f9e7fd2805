package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyDir copies the files of src (not recursively) into a new directory
// and returns it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// snapshot returns the contents of the files of dir by name.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// editManifest rewrites dir's shard.json through edit, on its JSON object.
func editManifest(t *testing.T, dir string, edit func(m map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, shardFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestMergeRefuses: --merge checks before writing anything that --out is
// not one of the shards nor inside one (1a), that every file has the rows
// its shard.json says (1b), and that the shards come from one model,
// layers and data set (1c); a refused or failed merge leaves the shards as
// they were and creates no --out. Shards without the recorded source all
// merge (with a warning), a mix with newer ones does not.
func TestMergeRefuses(t *testing.T) {
	dataA := "idx:" + tinyIDXSplits(t, 7, 3)
	dataB := "idx:" + tinyIDXSplits(t, 7, 3) // the same images in another directory
	tmp := t.TempDir()
	runA, runB := filepath.Join(tmp, "runA"), filepath.Join(tmp, "runB")
	for _, r := range []struct {
		dir  string
		seed string
	}{{runA, "1"}, {runB, "2"}} {
		if err := run(t, "train", "--data", dataA, "--arch", "cli-tiny", "--out", r.dir, "--steps", "2", "--batch", "2", "--mi-units", "8", "--seed", r.seed); err != nil {
			t.Fatal(err)
		}
	}
	// Copies of runA's checkpoint: the same weights read from another
	// directory merge with runA's shards.
	runA2 := copyDir(t, runA)
	embed := func(name, model, shard string, extra ...string) string {
		d := filepath.Join(tmp, name)
		args := append([]string{"embed", "--model", model, "--out", d, "--shard", shard, "--layers", "y,fc"}, extra...)
		if err := run(t, args...); err != nil {
			t.Fatal(err)
		}
		return d
	}
	a0, a1 := embed("a0", runA, "0/2"), embed("a1", runA, "1/2")
	a1copy := embed("a1copy", runA2, "1/2")
	b1 := embed("b1", runB, "1/2")
	a1y := embed("a1y", runA, "1/2", "--layers", "y")
	a1data := embed("a1data", runA, "1/2", "--data", dataB, "--other-data")
	whole := filepath.Join(tmp, "whole")
	if err := run(t, "embed", "--model", runA, "--out", whole, "--layers", "y,fc"); err != nil {
		t.Fatal(err)
	}
	dropSource := func(t *testing.T, dirs ...string) {
		for _, d := range dirs {
			editManifest(t, d, func(m map[string]any) { delete(m, "source") })
		}
	}
	for _, c := range []struct {
		name   string
		shards []string
		// out is --out: "" a new directory; SHARDi the i-th shard's
		// copy, SHARDi/x/y a path inside it; LINK0 a symbolic link to
		// the first shard; OTHER another shard's directory.
		out     string
		prepare func(t *testing.T, shards []string)
		want    []string // parts of the error; none: the merge succeeds
	}{
		{name: "good", shards: []string{a1, a0}},
		{name: "same weights from another run dir", shards: []string{a0, a1copy}},
		{name: "out is a shard", shards: []string{a0, a1}, out: "SHARD0", want: []string{"--out", "is the shard directory", "a0"}},
		{name: "out is a shard with a trailing slash", shards: []string{a1, a0}, out: "SHARD0/", want: []string{"is the shard directory", "a1"}},
		{name: "out is a link to a shard", shards: []string{a0, a1}, out: "LINK0", want: []string{"is the shard directory", "a0"}},
		{name: "out inside a shard", shards: []string{a0, a1}, out: "SHARD1/x/y", want: []string{"is inside the shard directory", "a1"}},
		{name: "out holds a shard.json", shards: []string{a0, a1}, out: "OTHER", want: []string{"holds a shard.json"}},
		{name: "out holds other files", shards: []string{a0, a1}, out: "FULL", want: []string{"is not empty", "test_fc.npy"}},
		{name: "features of the wrong length", shards: []string{a0, a1}, prepare: func(t *testing.T, s []string) {
			copyFile(t, filepath.Join(s[0], "train_y.npy"), filepath.Join(s[1], "train_y.npy"))
		}, want: []string{filepath.Join("a1", "train_y.npy"), "has 3 rows", "shard 1 holds 4 images of the train split"}},
		{name: "labels of the wrong length", shards: []string{a0, a1}, prepare: func(t *testing.T, s []string) {
			copyFile(t, filepath.Join(s[1], "test_labels.npy"), filepath.Join(s[0], "test_labels.npy"))
		}, want: []string{filepath.Join("a0", "test_labels.npy"), "has 2 rows", "shard 0 holds 1 image of the test split"}},
		{name: "a missing file", shards: []string{a0, a1}, prepare: func(t *testing.T, s []string) {
			os.Remove(filepath.Join(s[1], "test_fc.npy"))
		}, want: []string{filepath.Join("a1", "test_fc.npy")}},
		{name: "a shard.json that miscounts", shards: []string{a0, a1}, prepare: func(t *testing.T, s []string) {
			editManifest(t, s[0], func(m map[string]any) {
				m["splits"].(map[string]any)["train"].(map[string]any)["count"] = 4
				m["splits"].(map[string]any)["train"].(map[string]any)["total"] = 8
			})
			editManifest(t, s[1], func(m map[string]any) {
				m["splits"].(map[string]any)["train"].(map[string]any)["start"] = 4
				m["splits"].(map[string]any)["train"].(map[string]any)["total"] = 8
			})
		}, want: []string{filepath.Join("a0", "train_"), "has 3 rows", "shard 0 holds 4 images"}},
		{name: "truncated features", shards: []string{a0, a1}, prepare: func(t *testing.T, s []string) {
			p := filepath.Join(s[1], "train_fc.npy")
			fi, _ := os.Stat(p)
			os.Truncate(p, fi.Size()-4)
		}, want: []string{filepath.Join("a1", "train_fc.npy")}},
		{name: "an empty shard name", shards: []string{a0, a1, ""}, want: []string{"empty directory name"}},
		{name: "another model", shards: []string{a0, b1}, want: []string{"a0", "b1", "weights_sha256", "runA", "runB"}},
		{name: "other layers", shards: []string{a0, a1y}, want: []string{"a0", "a1y", "layers", `"y,fc"`, `"y"`}},
		{name: "other data", shards: []string{a1data, a0}, want: []string{"a0", "a1data", "differ in data"}},
		{name: "older shard.json files", shards: []string{a0, a1}, prepare: func(t *testing.T, s []string) { dropSource(t, s...) }},
		{name: "older and newer shard.json", shards: []string{a0, a1}, prepare: func(t *testing.T, s []string) { dropSource(t, s[1]) },
			want: []string{filepath.Join("a1", shardFile), "records no model identity"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var shards []string
			for _, s := range c.shards {
				if s != "" {
					s = copyDir(t, s)
				}
				shards = append(shards, s)
			}
			if c.prepare != nil {
				c.prepare(t, shards)
			}
			var before []map[string][]byte
			for _, s := range shards {
				before = append(before, snapshot(t, s))
			}
			out := filepath.Join(t.TempDir(), "merged")
			switch {
			case strings.HasPrefix(c.out, "SHARD"):
				out = shards[c.out[5]-'0'] + c.out[6:]
			case c.out == "LINK0":
				if err := os.Symlink(shards[0], out); err != nil {
					t.Fatal(err)
				}
			case c.out == "OTHER":
				out = copyDir(t, a0)
			case c.out == "FULL": // another embed's files, no shard.json
				out = copyDir(t, whole)
			}
			err := run(t, "embed", "--merge", strings.Join(shards, ","), "--out", out)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				for name, b := range snapshot(t, whole) {
					if got, err := os.ReadFile(filepath.Join(out, name)); err != nil || !bytes.Equal(got, b) {
						t.Errorf("%s: merged differs from unsharded (%v)", name, err)
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one with %q", c.want)
			}
			t.Log(err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q: want %q in it", err, w)
				}
			}
			for i, s := range shards {
				if s == "" {
					continue
				}
				if after := snapshot(t, s); fmt.Sprint(after) != fmt.Sprint(before[i]) {
					t.Errorf("shard %s changed: %d files before, %d after", s, len(before[i]), len(after))
				}
			}
			if c.out == "" {
				if _, err := os.Stat(out); err == nil {
					t.Errorf("the refused merge created %s", out)
				}
			}
			if entries, _ := os.ReadDir(filepath.Dir(filepath.Clean(out))); c.out == "" && len(entries) != 0 {
				t.Errorf("the refused merge left %v", entries)
			}
		})
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestImages: counts of images in messages are "1 image", "n images".
func TestImages(t *testing.T) {
	for _, c := range []struct {
		n    int
		want string
	}{{0, "0 images"}, {1, "1 image"}, {2, "2 images"}, {60000, "60000 images"}} {
		if got := images(c.n); got != c.want {
			t.Errorf("images(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}
