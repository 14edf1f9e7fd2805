package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIReport trains with --report (the page lands in the run
// directory), runs dim report on one run and on two side by side, and
// dim compare, which writes a report of its methods.
func TestCLIReport(t *testing.T) {
	data := "idx:" + tinyIDX(t, 64)
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	common := []string{"--data", data, "--arch", cliTiny.Name, "--mi-units", "8", "--batch", "8", "--steps", "2"}
	if err := run(t, append([]string{"train", "--out", a, "--report"}, common...)...); err != nil {
		t.Fatal(err)
	}
	if err := run(t, append([]string{"train", "--out", b, "--method", "ae"}, common...)...); err != nil {
		t.Fatal(err)
	}
	both := filepath.Join(base, "both.html")
	small := []string{"--train-images", "32", "--test-images", "16", "--queries", "2", "--k", "2"}
	if err := run(t, append([]string{"report", "--run", a, "--run", b, "--out", both}, small...)...); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want []string
	}{
		{filepath.Join(a, "report.html"), []string{`id="neighbors"`, "Deep InfoMax has no decoder"}},
		{both, []string{`id="summary"`, `id="reconstructions"`, "test images and their reconstructions"}},
	} {
		page, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			if !strings.Contains(string(page), w) {
				t.Errorf("%s lacks %q", c.path, w)
			}
		}
	}
	// --out naming a directory writes report.html into it; one under a
	// file is refused before any work.
	outDir := filepath.Join(base, "pages")
	if err := os.Mkdir(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := run(t, append([]string{"report", "--run", a, "--out", outDir}, small...)...); err != nil {
		t.Fatalf("--out DIR: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outDir, "report.html")); err != nil {
		t.Errorf("--out DIR: %v", err)
	}
	bad := filepath.Join(a, "report.html", "r.html")
	if err := run(t, append([]string{"report", "--run", a, "--out", bad}, small...)...); err == nil || !strings.Contains(err.Error(), "--out") {
		t.Errorf("--out under a file: error %v, want one naming --out", err)
	}
	cmpDir := filepath.Join(base, "cmp")
	if err := run(t, "compare", "--data", data, "--methods", "dim,ae", "--steps", "2", "--arch", cliTiny.Name, "--out", cmpDir, "--train-args", "--mi-units 8 --batch 8"); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(cmpDir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`id="summary"`, "<th>linear y</th>", "<th>dim</th>", "<th>ae</th>"} {
		if !strings.Contains(string(page), w) {
			t.Errorf("compare's report lacks %q", w)
		}
	}
	if err := run(t, "report"); err == nil || !strings.Contains(err.Error(), "--run") {
		t.Errorf("no --run: error %v", err)
	}
}
