package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runStderr runs the CLI with args, returning its error and what it
// wrote to os.Stderr (the notes go there).
func runStderr(t *testing.T, args ...string) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	err = run(t, args...)
	os.Stderr = saved
	w.Close()
	s := <-out
	r.Close()
	return s, err
}

// TestCLITrainDIMNotes: dim train --method dim says which of the flags
// set on it the run does not use, as it says for baselines: the
// baselines' own flags, and the settings of prior matching, local DIM,
// coordinate prediction and occlusion when these are off. Flags in use
// get no note.
func TestCLITrainDIMNotes(t *testing.T) {
	data := "idx:" + tinyIDX(t, 16)
	for _, c := range []struct {
		name string
		args []string
		want []string // the notes, in order; nil: none
	}{
		{"nothing ignored", nil, nil},
		{"baseline flags", []string{"--kl-weight", "2", "--prior-weight", "3"}, []string{"note: dim does not use --kl-weight --prior-weight"}},
		{"prior without gamma", []string{"--prior", "gaussian"}, []string{"note: prior matching is off (--gamma 0): ignoring --prior"}},
		{"penalty without gamma", []string{"--prior", "sphere", "--grad-penalty", "2"}, []string{"note: prior matching is off (--gamma 0): ignoring --prior --grad-penalty"}},
		{"prior with gamma", []string{"--prior", "gaussian", "--grad-penalty", "2", "--gamma", "0.1"}, nil},
		{"occlusion off", []string{"--occlude-size", "5", "--occlude-blocks", "2"}, []string{"note: occlusion is off (no --occlude): ignoring --occlude-size --occlude-blocks"}},
		{"occlusion on", []string{"--occlude", "--occlude-size", "5"}, nil},
		{"local DIM off", []string{"--beta", "0", "--alpha", "1", "--local-samples", "3"}, []string{"note: local DIM is off (--beta 0): ignoring --local-samples"}},
		{"coordinates off", []string{"--coordinates", "abs", "--coord", "0"}, []string{"note: coordinate prediction is off (--coord 0): ignoring --coordinates"}},
		{"coordinates on", []string{"--coordinates", "abs"}, nil},
		{"several", []string{"--kl-weight", "2", "--prior", "ball", "--occlude-size", "5"}, []string{
			"note: dim does not use --kl-weight",
			"note: prior matching is off (--gamma 0): ignoring --prior",
			"note: occlusion is off (no --occlude): ignoring --occlude-size",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			args := append([]string{"train", "--data", data, "--arch", "cli-tiny", "--out", dir, "--steps", "1", "--batch", "4", "--mi-units", "8"}, c.args...)
			stderr, err := runStderr(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			var notes []string
			for _, l := range strings.Split(stderr, "\n") {
				if strings.HasPrefix(l, "note:") {
					notes = append(notes, l)
				}
			}
			if strings.Join(notes, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("notes:\n%s\nwant:\n%s", strings.Join(notes, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// TestCLITrainDataErrors: --size on a data set whose images have one size
// is refused like --holdout and --coarse there (an explicit --size 0 is
// fine), and a --batch larger than the training images is refused naming
// the flag, the number of images and, with --holdout, how many it held
// out.
func TestCLITrainDataErrors(t *testing.T) {
	idx := "idx:" + tinyIDX(t, 16)
	folder := "folder:" + flatFolder(t, 12, 10) // 30 images
	common := []string{"--arch", "cli-tiny", "--steps", "1", "--mi-units", "8"}
	for _, c := range []struct {
		name string
		args []string
		want string // "": trains
	}{
		{"size on idx", []string{"--data", idx, "--size", "32", "--batch", "4"}, "a size (32) is for folder, tinyimagenet and celeba"},
		{"size 0 on idx", []string{"--data", idx, "--size", "0", "--batch", "4"}, ""},
		{"batch too large", []string{"--data", idx, "--batch", "100"}, "--batch 100 is larger than the 16 training images of " + idx + ": lower --batch"},
		{"batch of all images", []string{"--data", idx, "--batch", "16"}, ""},
		{"batch too large after holdout", []string{"--data", folder, "--holdout", "0.9", "--batch", "8"},
			"--batch 8 is larger than the 3 training images of " + folder + " (--holdout 0.9 held out 27 of its 30 images as the test split): lower --batch"},
		{"baseline batch too large", []string{"--data", idx, "--method", "ae", "--batch", "100"}, "--batch 100 is larger than the 16 training images"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			err := run(t, append(append([]string{"train", "--out", dir}, common...), c.args...)...)
			switch {
			case c.want == "" && err != nil:
				t.Fatal(err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("%v, want an error containing %q", err, c.want)
			}
			if c.want != "" {
				if _, err := os.Stat(dir); !os.IsNotExist(err) {
					t.Errorf("run directory made before the error (%v)", err)
				}
			}
		})
	}
}
