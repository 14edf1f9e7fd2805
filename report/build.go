package report

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/deepinfomax/deepinfomax/baselines"
	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/decoder"
	"github.com/deepinfomax/deepinfomax/dim"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/eval"
	"github.com/deepinfomax/deepinfomax/runlog"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

// WriteRun builds the report of run directory dir and writes it to out
// (default dir/report.html), atomically. It returns the path written.
func WriteRun(dir, out string, o Options) (string, error) {
	r, err := Build(dir, o)
	if err != nil {
		return "", err
	}
	if out == "" {
		out = filepath.Join(dir, "report.html")
	}
	return out, NewPage(fmt.Sprintf("Run %s (%s)", filepath.Base(filepath.Clean(dir)), r.Name), r).WriteFile(out)
}

// WriteComparison builds the reports of the run directories dirs and
// writes them side by side, with a summary table, to out, atomically.
func WriteComparison(dirs []string, out, title string, o Options) error {
	runs, err := BuildAll(dirs, o)
	if err != nil {
		return err
	}
	if title == "" {
		title = "Comparison of " + strings.Join(names(runs), ", ")
	}
	return NewPage(title, runs...).WriteFile(out)
}

func names(runs []*Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.Name
	}
	return out
}

// Build reads run directory dir (any method's) and draws its report.
// Missing parts (no metrics, no evaluation, a data set that cannot be
// opened, no decoder) become notes on the page; a run directory that
// cannot be read or a corrupt file is an error naming it.
func Build(dir string, o Options) (*Run, error) {
	runs, err := BuildAll([]string{dir}, o)
	if err != nil {
		return nil, err
	}
	return runs[0], nil
}

// BuildAll is Build for several runs, opening each data set once. Runs
// that share a method are named by their directories.
func BuildAll(dirs []string, o Options) ([]*Run, error) {
	o = o.withDefaults()
	opened := map[string]*data.Split{}
	openErr := map[string]error{}
	defer func() {
		for _, s := range opened {
			s.Close()
		}
	}()
	open := func(spec string, opts data.Options) (*data.Split, error) {
		if o.Split != nil {
			return o.Split, nil
		}
		key := fmt.Sprintf("%s %+v", spec, opts)
		if s, ok := opened[key]; ok {
			return s, nil
		}
		if err, ok := openErr[key]; ok {
			return nil, err
		}
		t0 := time.Now()
		s, err := data.Open(spec, opts)
		if err != nil {
			openErr[key] = err
			return nil, err
		}
		fmt.Fprintf(o.Log, "report: opened %s (%s)\n", spec, time.Since(t0).Round(time.Millisecond))
		opened[key] = s
		return s, nil
	}
	var runs []*Run
	count := map[string]int{}
	for _, dir := range dirs {
		r, err := build(dir, o, open)
		if err != nil {
			return nil, err
		}
		count[r.Name]++
		runs = append(runs, r)
	}
	for _, r := range runs {
		if count[r.Name] > 1 {
			r.Name = r.Dir
		}
	}
	return runs, nil
}

// build makes one run's report.
func build(dir string, o Options, open func(string, data.Options) (*data.Split, error)) (*Run, error) {
	t0 := time.Now()
	enc, info, err := train.LoadEncoder(dir)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	r := &Run{Name: info.Method, Dir: dir, Config: indentJSON(info.Config), steps: info.Progress.Step}
	recs, err := runlog.ReadMetrics(filepath.Join(dir, train.MetricsFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		r.CurvesNote = "No " + train.MetricsFile + " in " + dir + "."
	case err != nil:
		return nil, fmt.Errorf("report: %w", err)
	}
	start := lastStart(recs)
	if err := r.addCurves(recs, info); err != nil {
		return nil, fmt.Errorf("report %s: %w", dir, err)
	}
	if err := r.addEvals(dir); err != nil {
		return nil, err
	}
	spec, opts := o.Data, o.DataOptions
	own := strings.TrimSuffix(info.Progress.Data, "+unlabeled")
	if spec == "" {
		spec = own
	}
	if rec := info.Progress.DataOptions; rec != nil && own != "" && data.Canonical(spec) == data.Canonical(own) {
		// The run's own data set, opened as it was (a folder's hold-out and
		// the seed that chose it, sizes, coarse labels), so that the test
		// images are the ones it was not trained on.
		opts = *rec
	}
	if o.Split != nil {
		spec = o.Split.Name
	}
	r.addFacts(info, start, spec)
	fmt.Fprintf(o.Log, "report %s: run read (%s)\n", dir, time.Since(t0).Round(time.Millisecond))
	var split *data.Split
	switch {
	case spec == "" && o.Split == nil:
		r.ImagesNote = "The run records no data set: pass --data to draw its images."
	default:
		if split, err = open(spec, opts); err != nil {
			r.ImagesNote = fmt.Sprintf("The data set %s could not be opened: %v", spec, err)
		} else if split.Test == nil {
			r.ImagesNote = fmt.Sprintf("The data set %s has no test split (folders: --holdout).", spec)
			split = nil
		}
	}
	if split != nil {
		r.Facts = append(r.Facts, Fact{"data set", describe(split)})
		if err := r.addImages(enc, split, o); err != nil {
			return nil, fmt.Errorf("report %s: %w", dir, err)
		}
		if err := r.addReconstructions(dir, info, split, o); err != nil {
			return nil, fmt.Errorf("report %s: %w", dir, err)
		}
	} else {
		r.ReconstructionsNote = r.ImagesNote
	}
	fmt.Fprintf(o.Log, "report %s: done (%s)\n", dir, time.Since(t0).Round(time.Millisecond))
	return r, nil
}

// lastStart returns the "start" record of the latest run in recs (zero if
// none).
func lastStart(recs []runlog.Record) runlog.Record {
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Event == "start" {
			return recs[i]
		}
	}
	return runlog.Record{}
}

// describe summarises a data set: sizes, image shape, classes.
func describe(s *data.Split) string {
	c, h, w := s.Train.Shape()
	d := fmt.Sprintf("%s: %d training and %d test images of %dx%dx%d", s.Name, s.Train.Len(), s.Test.Len(), c, h, w)
	if n := s.Train.NumClasses(); n > 0 {
		d += fmt.Sprintf(", %d classes", n)
	}
	return d
}

// addFacts fills the overview table.
func (r *Run) addFacts(info train.Info, start runlog.Record, spec string) {
	p := info.Progress
	r.Facts = append(r.Facts,
		Fact{"method", info.Method},
		Fact{"encoder", fmt.Sprintf("%s (%dx%dx%d input, Y of %d units)", info.Encoder.Name, info.Encoder.Channels, info.Encoder.Size, info.Encoder.Size, info.Encoder.Out)},
		Fact{"trained on", p.Data},
		Fact{"progress", fmt.Sprintf("%d steps, %d full epochs", p.Step, p.Epoch)},
	)
	if a := p.Augment; a != nil && (a.Crop > 0 || a.Flip) {
		r.Facts = append(r.Facts, Fact{"augmentation", a.String()})
	}
	if n, ok := start.Int("params"); ok {
		r.Facts = append(r.Facts, Fact{"parameters", fmt.Sprint(n)})
	}
	if r.trainSeconds > 0 {
		r.Facts = append(r.Facts, Fact{"training time", formatSeconds(r.trainSeconds)})
	}
	if !start.Time.IsZero() {
		r.Facts = append(r.Facts, Fact{"started", start.Time.Format(time.RFC3339)})
	}
	if spec != "" && spec != p.Data {
		r.Facts = append(r.Facts, Fact{"images drawn from", spec})
	}
}

// notLoss are the step fields that are not losses.
var notLoss = map[string]bool{"step": true, "epoch": true, "ms_per_step": true, "lr": true}

// addCurves draws the step lines of the latest run (after its last
// "start"): the total loss, each other loss or metric, the learning rate
// and the time per step; it also sums the training time.
func (r *Run) addCurves(recs []runlog.Record, info train.Info) error {
	from := 0
	for i, rec := range recs {
		if rec.Event == "start" {
			from = i
		}
	}
	var steps, ms, lrs []float64
	fields := map[string][]float64{}
	var last int64
	for _, rec := range recs[from:] {
		if rec.Event != "step" {
			continue
		}
		step, ok := rec.Int("step")
		if !ok {
			continue
		}
		n := len(steps)
		steps = append(steps, float64(step))
		for k := range rec.Fields {
			if notLoss[k] {
				continue
			}
			if _, ok := rec.Float(k); !ok {
				continue
			}
			if _, seen := fields[k]; !seen {
				fields[k] = nanSlice(n)
			}
		}
		for k, s := range fields {
			v, ok := rec.Float(k)
			if !ok {
				v = nanFloat
			}
			fields[k] = append(s, v)
		}
		m, _ := rec.Float("ms_per_step")
		ms = append(ms, m)
		if lr, ok := rec.Float("lr"); ok {
			lrs = append(lrs, lr)
		}
		if step > last {
			r.trainSeconds += m * float64(step-last) / 1000
			last = step
		}
	}
	if len(steps) == 0 {
		if r.CurvesNote == "" {
			r.CurvesNote = "No step lines in " + train.MetricsFile + "."
		}
		return nil
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if (a == "loss") != (b == "loss") {
			if a == "loss" {
				return -1
			}
			return 1
		}
		return cmp.Compare(a, b)
	})
	add := func(f *Figure, err error) error {
		if err != nil {
			return err
		}
		if f != nil {
			f.Plot = true
			r.Curves = append(r.Curves, f)
		}
		return nil
	}
	var off []string
	for _, k := range keys {
		if k != "loss" && allZero(fields[k]) {
			off = append(off, k)
			continue
		}
		title := "loss: " + k
		if k == "loss" {
			title = "total loss"
		}
		if err := add(linePlot(title, "step", k, series{steps, fields[k]}, false)); err != nil {
			return err
		}
	}
	lrTitle, lrCaption := "learning rate", ""
	if len(lrs) != len(steps) {
		var c struct {
			LR float64 `json:"lr"`
		}
		if json.Unmarshal(info.Config, &c) != nil || c.LR <= 0 {
			lrs = nil
		} else {
			lrs = make([]float64, len(steps))
			for i := range lrs {
				lrs[i] = c.LR
			}
			lrTitle, lrCaption = fmt.Sprintf("learning rate (constant %g)", c.LR), "Constant: the run logs no schedule; the value is the config's lr."
		}
	}
	if lrs != nil {
		f, err := linePlot(lrTitle, "step", "lr", series{steps, lrs}, false)
		if f != nil {
			f.Caption = lrCaption
		}
		if err := add(f, err); err != nil {
			return err
		}
	}
	if err := add(linePlot("time per step", "step", "ms", series{steps, ms}, false)); err != nil {
		return err
	}
	if len(off) > 0 {
		r.Curves[0].Caption = "Not drawn, 0 throughout (terms that are off): " + strings.Join(off, ", ") + "."
	}
	return nil
}

// allZero says whether every value of s is 0 or NaN (not logged).
func allZero(s []float64) bool {
	for _, v := range s {
		if v != 0 && !math.IsNaN(v) {
			return false
		}
	}
	return true
}

var nanFloat = math.NaN()

func nanSlice(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = nanFloat
	}
	return s
}

// addEvals reads dir's eval*.json reports.
func (r *Run) addEvals(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "eval*.json"))
	if err != nil {
		return fmt.Errorf("report %s: %w", dir, err)
	}
	sort.Strings(files)
	for _, f := range files {
		rep, err := eval.ReadReport(f)
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		title := filepath.Base(f)
		if rep.Probe != "" {
			title += ": " + rep.Probe
		}
		title += fmt.Sprintf(" (data %s, %s", rep.Data, formatSeconds(rep.Seconds))
		if rep.Step > 0 {
			title += fmt.Sprintf(", of the checkpoint at step %d", rep.Step)
		}
		title += ")"
		t := EvalTable{Title: title}
		for _, row := range rep.Results {
			t.Rows = append(t.Rows, evalRow(row))
			if row.Metric == eval.MetricTestAcc {
				key := row.Kind
				if row.Layer != "" {
					key += " " + row.Layer
				}
				if !slices.ContainsFunc(r.testAcc, func(kv keyValue) bool { return kv.key == key }) {
					r.testAcc = append(r.testAcc, keyValue{key, row.Value})
				}
			}
		}
		r.Evals = append(r.Evals, t)
	}
	return nil
}

// evalRow formats a result: accuracies in percent, settings as k=v.
func evalRow(res eval.Result) EvalRow {
	layer := res.Layer
	if layer == "" {
		layer = "-"
	}
	var v string
	if strings.HasSuffix(res.Metric, "_acc") {
		v = fmt.Sprintf("%.2f%%", 100*res.Value)
		if res.Std > 0 {
			v += fmt.Sprintf(" ± %.2f", 100*res.Std)
		}
	} else {
		v = fmt.Sprintf("%.4g", res.Value)
		if res.Std > 0 {
			v += fmt.Sprintf(" ± %.2g", res.Std)
		}
	}
	if len(res.Runs) > 1 {
		v += fmt.Sprintf(" (%d runs)", len(res.Runs))
	}
	keys := make([]string, 0, len(res.Settings))
	for k := range res.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = fmt.Sprintf("%s=%v", k, res.Settings[k])
	}
	return EvalRow{Layer: layer, Kind: res.Kind, Metric: res.Metric, Value: v, Settings: strings.Join(s, " ")}
}

// spaced returns up to m indices evenly spaced through [0, n).
func spaced(n, m int) []int {
	m = min(n, m)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = int(int64(i) * int64(n) / int64(m))
	}
	return idx
}

// addImages embeds the subsets of the split with enc and draws the
// neighbour grid and the PCA map.
func (r *Run) addImages(enc encoder.Encoder, split *data.Split, o Options) error {
	if _, err := enc.TapShape(o.Tap); err != nil {
		return fmt.Errorf("tap %q: %w", o.Tap, err)
	}
	if err := enc.Spec().CheckInput(split.Train.Shape()); err != nil {
		r.ImagesNote = fmt.Sprintf("The encoder does not take %s's images: %v", split.Name, err)
		return nil
	}
	t0 := time.Now()
	trainIdx := spaced(split.Train.Len(), o.TrainImages)
	testIdx := spaced(split.Test.Len(), o.TestImages)
	eo := encoder.EmbedOptions{Taps: []string{o.Tap}, Batch: o.Batch}
	et, err := encoder.Embed(enc, data.Subset(split.Train, trainIdx), eo)
	if err != nil {
		return fmt.Errorf("training images: %w", err)
	}
	eq, err := encoder.Embed(enc, data.Subset(split.Test, testIdx), eo)
	if err != nil {
		return fmt.Errorf("test images: %w", err)
	}
	fmt.Fprintf(o.Log, "report: embedded %d training and %d test images (%s)\n", len(trainIdx), len(testIdx), time.Since(t0).Round(time.Millisecond))
	xr, xq := et.Taps[o.Tap], eq.Taps[o.Tap]
	standardize(xr, xq)
	queries, k := min(o.Queries, len(testIdx)), min(o.K, len(trainIdx))
	b, err := neighborGrid(xr, xq, queries, k, split.Train, split.Test, trainIdx, testIdx)
	if err != nil {
		return err
	}
	r.Neighbors = &Figure{
		Title: "test images and their nearest training images",
		Caption: fmt.Sprintf("Each row: a test image, then its %d nearest of %d training images (evenly spaced through the split), nearest first, by Euclidean distance between standardised %s features.",
			k, len(trainIdx), o.Tap),
		PNG: b,
	}
	if len(testIdx) < 2 {
		r.ImagesNote = "Too few test images for a map."
		return nil
	}
	pts, frac, err := pca2(xq.Data, xq.Shape[0], xq.Shape[1])
	if err != nil {
		return err
	}
	f, err := scatterPlot(fmt.Sprintf("PCA of %s (test images)", o.Tap), fmt.Sprintf("PC1 (%.1f%%)", 100*frac[0]), fmt.Sprintf("PC2 (%.1f%%)", 100*frac[1]), pts, eq.Labels, split.Classes)
	if err != nil {
		return err
	}
	f.Plot = true
	f.Caption = fmt.Sprintf("%d test images (evenly spaced through the split) projected on the first two principal components of their standardised %s features, coloured by label; the axes say how much of the variance each component holds.", len(testIdx), o.Tap)
	r.Map = f
	fmt.Fprintf(o.Log, "report: neighbours and map drawn (%s)\n", time.Since(t0).Round(time.Millisecond))
	return nil
}

// addReconstructions draws decoder reconstructions of the first test
// images when the run's method has a decoder of Y: the autoencoders'
// Decoder, BiGAN's Generator (G(E(x))).
func (r *Run) addReconstructions(dir string, info train.Info, split *data.Split, o Options) error {
	if info.Method == dim.MethodName {
		r.ReconstructionsNote = "Deep InfoMax has no decoder."
		return nil
	}
	m, _, err := train.Load(dir)
	if err != nil {
		r.ReconstructionsNote = fmt.Sprintf("The run's method could not be loaded: %v", err)
		return nil
	}
	var dec *decoder.Decoder
	what := "reconstructions"
	switch v := m.(type) {
	case *baselines.Autoencoder:
		dec = v.Decoder
	case *baselines.BiGAN:
		dec, what = v.Generator, "G(E(x)), the generator's image of the encoder's code"
	}
	if dec == nil {
		r.ReconstructionsNote = fmt.Sprintf("The %s method has no decoder.", info.Method)
		return nil
	}
	enc := m.Encoder()
	spec := enc.Spec()
	if err := spec.CheckInput(split.Test.Shape()); err != nil {
		r.ReconstructionsNote = fmt.Sprintf("The encoder does not take %s's images: %v", split.Name, err)
		return nil
	}
	idx := spaced(split.Test.Len(), o.Reconstructions)
	x := tensor.New(len(idx), spec.Channels, spec.Size, spec.Size)
	for b, err := range data.Chunks(data.Subset(split.Test, idx), len(idx), spec.Transform) {
		if err != nil {
			return fmt.Errorf("reconstructions: %w", err)
		}
		copy(x.Data[b.Start*len(b.X)/b.N:], b.X)
	}
	png, err := reconstructionGrid(enc, dec, x, spec.Transform, 8)
	if err != nil {
		return err
	}
	r.Reconstructions = &Figure{
		Title:   "test images and their " + what,
		Caption: fmt.Sprintf("Pairs of rows: %d test images as the encoder sees them, then the decoder's %s from Y (evaluation mode).", len(idx), what),
		PNG:     png,
	}
	return nil
}
