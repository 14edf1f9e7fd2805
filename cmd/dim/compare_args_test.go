package main

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tree lists the files under dir with their sizes and times (empty when
// dir does not exist), to see that a command did nothing there.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out[path] = fmt.Sprint(info.ModTime(), info.Mode(), info.Size())
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// TestCompareChecksSubArgsFirst: dim compare refuses a help flag in
// --train-args or --eval-args (which would print compare's own help and
// exit 0), a value that dim train or dim eval would refuse, and a --probe
// it cannot tabulate, naming the flag, before it trains or evaluates
// anything: whether the runs are new, or the first one is a finished run
// that compare would evaluate before training the next.
func TestCompareChecksSubArgsFirst(t *testing.T) {
	data := "idx:" + tinyIDX(t, 16)
	finished := filepath.Join(t.TempDir(), "cmp")
	if err := run(t, "train", "--data", data, "--arch", "cli-tiny", "--out", filepath.Join(finished, "random"), "--method", "random", "--steps", "1", "--batch", "4"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name        string
		trainArgs   string
		evalArgs    string
		probe       string
		want        []string // in the error
		afterRandom bool     // the runs: random (finished), then dim; else dim, new
	}{
		{"train-args -h", "-h", "", "", []string{`--train-args "--batch 4 --mi-units 8 -h": -h asks for help`, "dim train --help"}, false},
		{"train-args --help among others", "--help --lr 1e-3", "", "", []string{"--help asks for help"}, false},
		{"train-args --help=false", "--help=false", "", "", []string{"--help=false asks for help"}, false},
		{"eval-args -h", "", "-h", "", []string{`--eval-args "-h": -h asks for help`, "dim eval --help"}, false},
		{"eval-args --help", "", "--runs 2 --help", "", []string{"--help asks for help"}, false},
		{"eval-args --runs 0", "", "--runs 0", "", []string{"--eval-args", "--runs 0: want 1 to"}, false},
		{"eval-args --runs -3", "", "--runs -3", "", []string{"--runs -3"}, false},
		{"eval-args --probe-epochs 0", "", "--probe-epochs 0", "", []string{"--probe-epochs 0: want at least 1"}, false},
		{"eval-args --ndm-steps -1", "", "--ndm --ndm-steps -1", "", []string{"--ndm-steps -1"}, false},
		{"eval-args --mine-steps 0", "", "--mine --mine-steps 0", "", []string{"--mine-steps 0"}, false},
		{"eval-args --labels-per-class -1", "", "--labels-per-class -1", "", []string{"--labels-per-class -1"}, false},
		{"eval-args --knn-distance", "", "--knn-distance manhattan", "", []string{"--knn-distance", "manhattan"}, false},
		{"eval-args --runs 0 after a finished run", "", "--runs 0", "", []string{"--runs 0"}, true},
		{"train-args --mi-units 0", "--mi-units 0", "", "", []string{"--train-args", "--mi-units 0: want 1 to"}, false},
		{"train-args --mi-units 0 after a finished run", "--mi-units 0", "", "", []string{"--mi-units 0"}, true},
		{"train-args --batch -1 after a finished run", "--batch -1", "", "", []string{"--batch -1"}, true},
		{"train-args --lr 0 after a finished run", "--lr 0", "", "", []string{"--lr 0"}, true},
		{"train-args --beta -1 after a finished run", "--beta -1", "", "", []string{"--beta -1"}, true},
		{"train-args --measure after a finished run", "--measure bogus", "", "", []string{"bogus"}, true},
		{"train-args --pad without --crop after a finished run", "--pad 4", "", "", []string{"--pad pads the images"}, true},
		{"train-args --checkpoint-every after a finished run", "--checkpoint-every -5m", "", "", []string{"--checkpoint-every"}, true},
		{"train-args --coordinates after a finished run", "--coordinates diagonal", "", "", []string{"diagonal"}, true},
		{"--probe all", "", "", "all", []string{`--probe "all": want one classifier`}, false},
		{"--probe bogus after a finished run", "", "", "bogus", []string{`--probe "bogus"`}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, methods := filepath.Join(t.TempDir(), "cmp"), "dim"
			if c.afterRandom {
				if err := os.CopyFS(out, os.DirFS(finished)); err != nil {
					t.Fatal(err)
				}
				methods = "random,dim"
			}
			// A batch the 16 images allow: with the arguments checked late,
			// the first run would train.
			trainArgs := strings.TrimSpace("--batch 4 --mi-units 8 " + c.trainArgs)
			args := []string{"compare", "--data", data, "--out", out, "--methods", methods, "--arch", "cli-tiny", "--steps", "1", "--train-args", trainArgs, "--eval-args", c.evalArgs}
			if c.probe != "" {
				args = append(args, "--probe", c.probe)
			}
			before := tree(t, out)
			start := time.Now()
			err := run(t, args...)
			for _, w := range c.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v, want one containing %q", err, w)
				}
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("refused after %v: the arguments were not checked first", d)
			}
			after := tree(t, out)
			for _, path := range slices.Sorted(maps.Keys(after)) {
				if before[path] != after[path] {
					t.Errorf("compare wrote %s before refusing", path)
				}
			}
		})
	}
}
