// Package report makes one self-contained HTML page of a training run,
// or of several side by side: the run's configuration and data set, its
// training curves (metrics.jsonl), its evaluation (eval*.json), a grid of
// test images and their nearest training images by the encoder's
// features, a 2-D map (PCA) of the test images' features coloured by
// label, and reconstructions when the method has a decoder. Plots are
// drawn with gonum.org/v1/plot and every image is embedded as a PNG data
// URI, so the file opens offline and can be mailed or archived as is.
package report

import (
	"bytes"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"image/png"
	"io"
	"time"

	"github.com/deepinfomax/deepinfomax/checkpoint"
	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/encoder"
)

// Defaults of Options.
const (
	DefaultTrainImages     = 10000
	DefaultTestImages      = 2000
	DefaultQueries         = 8
	DefaultK               = 8
	DefaultReconstructions = 16
)

// Options say which data a report draws and how much of it.
type Options struct {
	// Data is the data spec of the images (data.Open's); "" takes the
	// run's recorded one, without a "+unlabeled" suffix.
	Data string
	// DataOptions open Data (folder sizes, hold-out, CIFAR-100 labels).
	DataOptions data.Options
	// Split, when set, is the data set itself (Data is then ignored); the
	// caller closes it.
	Split *data.Split
	// Tap is the encoder's features for neighbours and the map (default
	// encoder.TapY).
	Tap string
	// TrainImages is how many training images (evenly spaced through the
	// split) the neighbours are searched among (default 10000).
	TrainImages int
	// TestImages is how many test images (evenly spaced) the map shows
	// (default 2000); the first Queries of them are the neighbour queries.
	TestImages int
	// Queries and K are the rows and neighbours per row of the grid
	// (default 8 and 8).
	Queries, K int
	// Reconstructions is how many test images a decoder reconstructs
	// (default 16).
	Reconstructions int
	// Batch is the number of images per forward pass (default:
	// encoder.InferenceBatch).
	Batch int
	// Log receives a line per step of the work; nil discards them.
	Log io.Writer
}

func (o Options) withDefaults() Options {
	if o.Tap == "" {
		o.Tap = encoder.TapY
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.TrainImages, DefaultTrainImages)
	def(&o.TestImages, DefaultTestImages)
	def(&o.Queries, DefaultQueries)
	def(&o.K, DefaultK)
	def(&o.Reconstructions, DefaultReconstructions)
	if o.Log == nil {
		o.Log = io.Discard
	}
	return o
}

// Figure is one embedded image of the page.
type Figure struct {
	// Title is the image's alternative text.
	Title string
	// Caption is shown under the image ("" for none).
	Caption string
	// PNG holds the encoded image.
	PNG []byte
	// Plot marks a chart (smoothly scaled) rather than a grid of pixels.
	Plot bool
}

// DataURI is the PNG as a data: URI.
func (f *Figure) DataURI() template.URL {
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(f.PNG))
}

// Width and Height are the PNG's size in pixels (0 if it does not decode).
func (f *Figure) Width() int { w, _ := f.size(); return w }

// Height: see Width.
func (f *Figure) Height() int { _, h := f.size(); return h }

func (f *Figure) size() (int, int) {
	c, err := png.DecodeConfig(bytes.NewReader(f.PNG))
	if err != nil {
		return 0, 0
	}
	return c.Width, c.Height
}

// Class is the image's CSS class.
func (f *Figure) Class() string {
	if f.Plot {
		return "plot"
	}
	return "grid"
}

// Fact is one line of a run's overview table.
type Fact struct{ Key, Value string }

// EvalTable is one evaluation report (eval*.json) as table rows.
type EvalTable struct {
	Title string
	Rows  []EvalRow
}

// EvalRow is one result, formatted: accuracies in percent.
type EvalRow struct{ Layer, Kind, Metric, Value, Settings string }

// Run is what the page shows of one run directory (Build makes it).
type Run struct {
	// Name labels the run: its method, or the directory when several
	// runs share a method.
	Name string
	// Dir is the run directory.
	Dir string
	// Facts are the overview: method, encoder, data, progress, size, time.
	Facts []Fact
	// Config is the method's configuration as indented JSON.
	Config string
	// Notes say what could not be drawn and why.
	Notes []string
	// Curves are the training curves; CurvesNote says why there are none.
	Curves     []*Figure
	CurvesNote string
	// Evals are the run's evaluation reports.
	Evals []EvalTable
	// Neighbors and Map are nil when the data set could not be read
	// (ImagesNote says why).
	Neighbors, Map *Figure
	ImagesNote     string
	// Reconstructions is nil for a method without a decoder
	// (ReconstructionsNote says so).
	Reconstructions     *Figure
	ReconstructionsNote string

	// testAcc is each evaluation's test accuracy by "kind layer", in
	// order, for a comparison's summary.
	testAcc []keyValue
	// steps and trainSeconds are the run's progress and training time.
	steps        int
	trainSeconds float64
}

type keyValue struct {
	key   string
	value float64
}

// Summary is a comparison's table: one row per run.
type Summary struct {
	Header []string
	Rows   [][]string
}

// Page is a report: one run, or several side by side with a summary.
type Page struct {
	Title     string
	Generated string
	Runs      []*Run
	// Summary is set for several runs (NewPage).
	Summary *Summary
}

// NewPage returns the page of runs titled title; with more than one run
// it gets a summary table of their test accuracies and training times.
func NewPage(title string, runs ...*Run) *Page {
	p := &Page{Title: title, Generated: time.Now().Format("2006-01-02 15:04 MST"), Runs: runs}
	if len(runs) > 1 {
		p.Summary = summarize(runs)
	}
	return p
}

// summarize makes the comparison table: per run, the test accuracy of each
// (classifier, layer) any run has, its steps and training time.
func summarize(runs []*Run) *Summary {
	var keys []string
	seen := map[string]bool{}
	for _, r := range runs {
		for _, kv := range r.testAcc {
			if !seen[kv.key] {
				seen[kv.key] = true
				keys = append(keys, kv.key)
			}
		}
	}
	s := &Summary{Header: append(append([]string{"run"}, keys...), "steps", "training time")}
	for _, r := range runs {
		row := []string{r.Name}
		for _, k := range keys {
			cell := "-"
			for _, kv := range r.testAcc {
				if kv.key == k {
					cell = fmt.Sprintf("%.2f%%", 100*kv.value)
					break
				}
			}
			row = append(row, cell)
		}
		row = append(row, fmt.Sprint(r.steps), formatSeconds(r.trainSeconds))
		s.Rows = append(s.Rows, row)
	}
	return s
}

func formatSeconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

//go:embed page.html
var pageFS embed.FS

var pageTemplate = template.Must(template.ParseFS(pageFS, "page.html"))

// Render writes the page as HTML.
func (p *Page) Render(w io.Writer) error {
	if err := pageTemplate.Execute(w, p); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	return nil
}

// WriteFile renders the page into path atomically (a crash leaves the
// previous file or the new one).
func (p *Page) WriteFile(path string) error {
	if err := checkpoint.WriteFileAtomic(path, p.Render); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

// indentJSON returns js indented, or as it is if it does not parse.
func indentJSON(js []byte) string {
	var b bytes.Buffer
	if err := json.Indent(&b, js, "", "  "); err != nil {
		return string(js)
	}
	return b.String()
}
