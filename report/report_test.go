package report

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/baselines"
	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/dim"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/eval"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

// tinyArch is a small encoder of 12x12 grey images (12 = 6 x 2, so the
// autoencoders' decoder fits it), registered for these tests.
var tinyArch = encoder.Arch{
	Name: "report-tiny", Channels: 1, Size: 12,
	Convs: []encoder.ConvSpec{{Out: 4, Kernel: 3, Stride: 2, Pad: 1}, {Out: 6, Kernel: 3, Stride: 2, Pad: 1}},
	FCs:   []int{8}, Out: 5, LocalLayer: 1, FeatureLayer: 1,
}

func init() {
	if err := encoder.RegisterArch(tinyArch, "a test encoder"); err != nil {
		panic(err)
	}
}

// tinySplit is a labelled data set of 12x12 images with 3 classes: a
// bright bar whose row depends on the class, and noise.
func tinySplit(t testing.TB, nTrain, nTest int) *data.Split {
	t.Helper()
	rng := tensor.NewRNG(7)
	make1 := func(n int) data.Dataset {
		pix, labels := make([]uint8, n*144), make([]int, n)
		for i := range n {
			labels[i] = i % 3
			for p := range 144 {
				v := uint8(rng.IntN(80))
				if row := p / 12; row/4 == labels[i] {
					v += 160
				}
				pix[i*144+p] = v
			}
		}
		m, err := data.NewMemory(1, 12, 12, pix, labels, 3)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	return &data.Split{Name: "tiny", Classes: []string{"top", "middle", "bottom"}, Train: make1(nTrain), Test: make1(nTest)}
}

// tinyRun trains method ("dim" or a baseline) for a few steps into a new
// run directory; withEval adds an eval.json.
func tinyRun(t testing.TB, split *data.Split, method string, withEval bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), method)
	spec := encoder.Spec{Name: tinyArch.Name}
	cfg := dim.DefaultConfig()
	cfg.MIUnits, cfg.Batch = 8, 8
	newModel := func() (train.Method, error) {
		if method == dim.MethodName {
			return dim.New(cfg, spec)
		}
		return baselines.New(method, baselines.Options{Common: cfg.Common, Classes: 3, Samples: split.Train.Len()}, spec)
	}
	if _, _, err := train.Train(context.Background(), newModel, train.Options{Dir: dir, Train: split.Train, DataSpec: "tiny", Steps: 6, LogEvery: 2}); err != nil {
		t.Fatal(err)
	}
	if withEval {
		rep := &eval.Report{Classifier: eval.KindLinear, Model: dir, Data: "tiny", Probe: "linear probe", Seconds: 1.5}
		rep.Add(
			eval.Result{Layer: "y", Kind: eval.KindLinear, Metric: eval.MetricTestAcc, Value: 0.875, Settings: map[string]any{"dims": 5}},
			eval.Result{Layer: "conv", Kind: eval.KindLinear, Metric: eval.MetricTestAcc, Value: 0.9, Std: 0.01, Runs: []float64{0.89, 0.91}},
		)
		if err := rep.WriteFile(filepath.Join(dir, eval.ReportFile(eval.KindLinear))); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// sections are the ids every report has.
var sections = []string{"overview", "curves", "evaluation", "neighbors", "embedding-map", "reconstructions"}

// checkHTML parses page as XML (the report is written well-formed, so a
// strict XML parser is a validator of its structure), and checks that it
// is one html element with a head and a body, that ids are unique, that
// every section in want is there, that every image has alternative text
// and is an embedded PNG that decodes, and that nothing is fetched from
// elsewhere. It returns the number of images.
func checkHTML(t *testing.T, page []byte, want []string) int {
	t.Helper()
	if !bytes.HasPrefix(page, []byte("<!DOCTYPE html>")) {
		t.Errorf("no <!DOCTYPE html> at the start")
	}
	dec := xml.NewDecoder(bytes.NewReader(page))
	dec.Strict = true
	ids := map[string]bool{}
	var stack []string
	images, roots := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				roots++
				if el.Name.Local != "html" {
					t.Errorf("root element %s, want html", el.Name.Local)
				}
			}
			stack = append(stack, el.Name.Local)
			attr := map[string]string{}
			for _, a := range el.Attr {
				attr[a.Name.Local] = a.Value
			}
			if id, ok := attr["id"]; ok {
				if ids[id] {
					t.Errorf("id %q twice", id)
				}
				ids[id] = true
			}
			for _, k := range []string{"src", "href"} {
				if v, ok := attr[k]; ok && !strings.HasPrefix(v, "#") && !strings.HasPrefix(v, "data:") {
					t.Errorf("<%s %s=%q> refers outside the page", el.Name.Local, k, v)
				}
			}
			switch el.Name.Local {
			case "script", "link", "iframe", "object":
				t.Errorf("<%s> in the page", el.Name.Local)
			case "img":
				images++
				if attr["alt"] == "" {
					t.Errorf("image %d has no alt text", images)
				}
				b64, ok := strings.CutPrefix(attr["src"], "data:image/png;base64,")
				if !ok {
					t.Errorf("image %q is not an embedded PNG", attr["alt"])
					continue
				}
				b, err := base64.StdEncoding.DecodeString(b64)
				if err != nil {
					t.Errorf("image %q: %v", attr["alt"], err)
					continue
				}
				img, err := png.Decode(bytes.NewReader(b))
				if err != nil || img.Bounds().Dx() == 0 {
					t.Errorf("image %q does not decode: %v", attr["alt"], err)
				}
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if roots != 1 {
		t.Errorf("%d root elements, want 1", roots)
	}
	for _, id := range []string{"head", "body"} {
		if !bytes.Contains(page, []byte("<"+id)) {
			t.Errorf("no <%s>", id)
		}
	}
	for _, id := range want {
		if !ids[id] {
			t.Errorf("no section %q", id)
		}
	}
	return images
}

// TestReportSections builds reports of runs with and without an
// evaluation and a decoder, and of a comparison, and checks each page.
func TestReportSections(t *testing.T) {
	split := tinySplit(t, 48, 24)
	dimEval := tinyRun(t, split, dim.MethodName, true)
	aeBare := tinyRun(t, split, "ae", false)
	o := Options{Split: split, TrainImages: 40, TestImages: 20, Queries: 4, K: 3, Reconstructions: 6}
	cases := []struct {
		name     string
		dirs     []string
		want     []string // substrings of the page
		absent   []string
		minImage int
	}{
		{"dim with evaluation", []string{dimEval},
			[]string{"87.50%", "90.00% ± 1.00 (2 runs)", "Deep InfoMax has no decoder", "total loss", "loss: local", "PCA of y", "top", "tiny: 48 training and 24 test images of 1x12x12, 3 classes"},
			[]string{"No evaluation in", `id="summary"`}, 6},
		{"autoencoder without evaluation", []string{aeBare},
			[]string{"No evaluation in", "loss: recon", "test images and their reconstructions"},
			[]string{"has no decoder"}, 6},
		{"comparison", []string{dimEval, aeBare},
			[]string{`id="summary"`, "<th>linear y</th>", "<th>dim</th>", "<th>ae</th>", "No evaluation in", "test images and their reconstructions", "Deep InfoMax has no decoder"},
			nil, 12},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runs, err := BuildAll(c.dirs, o)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := NewPage("test report", runs...).Render(&buf); err != nil {
				t.Fatal(err)
			}
			want := sections
			if len(c.dirs) > 1 {
				want = append([]string{"summary"}, sections...)
			}
			if n := checkHTML(t, buf.Bytes(), want); n < c.minImage {
				t.Errorf("%d images, want at least %d", n, c.minImage)
			}
			for _, s := range c.want {
				if !strings.Contains(buf.String(), s) {
					t.Errorf("page lacks %q", s)
				}
			}
			for _, s := range c.absent {
				if strings.Contains(buf.String(), s) {
					t.Errorf("page has %q", s)
				}
			}
		})
	}
}

// TestReportWithoutData checks that a run whose data set cannot be opened
// still gets a page, with notes where the images would be, and that
// WriteRun writes it into the run directory.
func TestReportWithoutData(t *testing.T) {
	split := tinySplit(t, 24, 8)
	dir := tinyRun(t, split, dim.MethodName, false)
	path, err := WriteRun(dir, "", Options{Data: "idx:" + filepath.Join(t.TempDir(), "missing")})
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, "report.html") {
		t.Errorf("wrote %s", path)
	}
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkHTML(t, page, sections)
	if !bytes.Contains(page, []byte("could not be opened")) {
		t.Errorf("no note about the data set")
	}
}

// TestReportErrors: unreadable runs are errors naming the directory.
func TestReportErrors(t *testing.T) {
	split := tinySplit(t, 24, 8)
	dir := tinyRun(t, split, dim.MethodName, false)
	if err := os.WriteFile(filepath.Join(dir, "eval.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	for _, c := range []struct{ name, dir, want string }{
		{"no run", empty, empty},
		{"corrupt eval.json", dir, filepath.Join(dir, "eval.json")},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Build(c.dir, Options{Split: split})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one naming %s", err, c.want)
			}
		})
	}
}

// TestPCA2 checks the projection on points along known directions.
func TestPCA2(t *testing.T) {
	// 4 points on the x axis spread 10, 2 on y spread 1: PC1 is x.
	x := []float32{-10, 0, 0, 10, 0, 0, 0, -1, 0, 0, 1, 0}
	pts, frac, err := pca2(x, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	if frac[0] < 0.95 || frac[0]+frac[1] < 0.999 {
		t.Errorf("explained variance %v", frac)
	}
	if a := pts[0][0]; a*a < 99 {
		t.Errorf("first point on PC1 at %v, want ±10", a)
	}
	if _, _, err := pca2(x[:3], 1, 3); err == nil {
		t.Errorf("one row: no error")
	}
}

func TestBarChart(t *testing.T) {
	b, err := BarChart("test accuracy", "%", []string{"dim", "vae", "random"}, []string{"conv", "fc", "y"},
		[][]float64{{54, 50, 50}, {52, 49, 45}, {43, 40, 32}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil || img.Bounds().Dx() < 100 {
		t.Fatalf("bar chart PNG: %v, %v", err, img)
	}
	// The outer bars lie within the x axis; y is labelled up to a little
	// past the highest bar (the legend's room above it is not a value).
	groups := []string{"a", "b", "c", "d"}
	p, err := barPlot("t", "%", groups, []string{"conv", "fc", "y"}, [][]float64{{90, 50, 50, 97}, {52, 49, 45, 96}, {43, 40, 32, 95}})
	if err != nil {
		t.Fatal(err)
	}
	if p.X.Min > -0.45 || p.X.Max < float64(len(groups))-0.55 {
		t.Errorf("x axis [%v, %v] cuts the outer bars of %d groups", p.X.Min, p.X.Max, len(groups))
	}
	ticks := p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max)
	var labelled float64
	for _, tk := range ticks {
		if tk.Label != "" {
			labelled = max(labelled, tk.Value)
		}
	}
	if p.Y.Max <= 97 || labelled > 1.1*97 || labelled < 80 {
		t.Errorf("y axis up to %v labelled up to %v, want room above 97 and labels up to about 97", p.Y.Max, labelled)
	}
	if _, err := BarChart("x", "%", []string{"a"}, []string{"conv"}, [][]float64{{math.NaN()}}); err == nil {
		t.Error("a NaN bar: no error")
	}
}
