package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/deepinfomax/deepinfomax/checkpoint"
)

// Kinds of result: the classifiers trained on frozen features and the
// measures computed on them.
const (
	KindLinear     = "linear"         // logistic regression (LinearProbe)
	KindSVM        = "svm"            // linear SVM (LinearProbe with Hinge)
	KindMLP        = "mlp"            // the paper's MLP classifier (MLPProbe)
	KindKNN        = "knn"            // k nearest neighbours (KNN)
	KindNDM        = "ndm"            // neural dependency measure (NDM)
	KindNDMSigmoid = "ndm_sigmoid"    // NDM of sigmoid(features)
	KindMINE       = "mine"           // MINE estimate of I(X;Y) between images and features (MINE)
	KindMSSSIM     = "msssim"         // MS-SSIM of a decoder trained on frozen features (DecoderMSSSIM)
	KindFrozen     = "semi_frozen"    // classifier on N labels per class, encoder frozen (SemiSupervised)
	KindFineTuned  = "semi_finetuned" // the same, encoder fine-tuned with it (SemiSupervised)
)

// Metrics of a result row.
const (
	MetricTrainAcc = "train_acc" // accuracy on the training set, in [0, 1]
	MetricValAcc   = "val_acc"   // accuracy on the held-out part of train that chose the settings
	MetricTestAcc  = "test_acc"  // accuracy on the test set, in [0, 1]
	MetricNats     = "nats"      // an information quantity in nats (NDM, MINE)
	MetricMSSSIM   = "ms_ssim"   // mean MS-SSIM of test reconstructions, at most 1
)

// ReportFormat is the version of the eval.json layout that WriteFile
// writes: 2 is the list of result rows. Version 1, which had no "format"
// key, held "results" as an object keyed by layer and "ndm" as an object;
// ReadReport converts it.
const ReportFormat = 2

// Result is one number of an evaluation: one metric of one kind of
// classifier or measure on one layer. Reports are long ("tidy") tables of
// these rows rather than one row per layer with a column per metric: a
// table or a plot selects rows by (layer, kind, metric) and draws Value ±
// Std, each number carries its own spread over repeated runs, and a new
// classifier or measure with new metrics needs no new field.
type Result struct {
	// Layer is the feature layer, "conv", "fc" or "y", or "" for a measure
	// of the whole representation.
	Layer string `json:"layer,omitempty"`
	// Kind is the classifier (KindLinear, KindSVM, KindMLP, KindKNN) or
	// measure (KindNDM, KindNDMSigmoid, KindMINE, KindMSSSIM), or the
	// semi-supervised classifiers (KindFrozen, KindFineTuned).
	Kind string `json:"kind"`
	// Metric names Value: MetricTestAcc, MetricTrainAcc, MetricValAcc,
	// MetricNats, ...
	Metric string `json:"metric"`
	// Value is the number, the mean over Runs when there are several.
	// Accuracies are fractions in [0, 1].
	Value float64 `json:"value"`
	// Std is the unbiased standard deviation over Runs (0 for one run).
	Std float64 `json:"std,omitempty"`
	// Runs holds the per-run values when there was more than one run
	// (seeds seed, seed+1, ...); nil for a single run.
	Runs []float64 `json:"runs,omitempty"`
	// Settings are the settings of the (first) run: "dims" (number of
	// features), "weight_decay", "epochs", "k", "steps", ... Values must be
	// JSON-encodable; numbers read back from a file are float64 (Setting
	// reads them either way).
	Settings map[string]any `json:"settings,omitempty"`
}

// Key names the row as "layer/kind/metric" (for error messages; the
// layer is "-" for a whole-representation measure).
func (r Result) Key() string {
	l := r.Layer
	if l == "" {
		l = "-"
	}
	return l + "/" + r.Kind + "/" + r.Metric
}

// Setting returns the numeric setting key as a float64 (whatever numeric
// type it holds), and whether there is one.
func (r Result) Setting(key string) (float64, bool) {
	switch v := r.Settings[key].(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}

// validate reports a non-finite number or a missing name in the row.
func (r Result) validate() error {
	if r.Kind == "" || r.Metric == "" {
		return fmt.Errorf("result %s: empty kind or metric", r.Key())
	}
	if !finite(r.Value) {
		return fmt.Errorf("result %s: value %v", r.Key(), r.Value)
	}
	if !finite(r.Std) || r.Std < 0 {
		return fmt.Errorf("result %s: std %v", r.Key(), r.Std)
	}
	for i, v := range r.Runs {
		if !finite(v) {
			return fmt.Errorf("result %s: run %d: value %v", r.Key(), i, v)
		}
	}
	for k := range r.Settings {
		if f, ok := r.Setting(k); ok && !finite(f) {
			return fmt.Errorf("result %s: setting %s = %v", r.Key(), k, f)
		}
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// MeanStd returns the mean and the unbiased standard deviation of xs (std
// 0 for one value; both 0 for none).
func MeanStd(xs []float64) (mean, std float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(std / float64(max(len(xs)-1, 1)))
}

// Combine merges the rows of repeated runs of the same evaluation (runs[i]
// the rows of run i) into one row per key: Value is the mean over runs,
// Std their standard deviation, Runs the per-run values, Settings those of
// the first run. A single run is returned as it is (Runs nil, Std 0). It
// is an error if a run lacks a row of the first run or has an extra one.
func Combine(runs ...[]Result) ([]Result, error) {
	if len(runs) == 0 {
		return nil, nil
	}
	if len(runs) == 1 {
		return slices.Clone(runs[0]), nil
	}
	out := make([]Result, len(runs[0]))
	index := make(map[string]int, len(runs[0]))
	for i, r := range runs[0] {
		if _, dup := index[r.Key()]; dup {
			return nil, fmt.Errorf("combine runs: result %s twice in run 0", r.Key())
		}
		index[r.Key()] = i
		out[i] = r
		out[i].Runs = make([]float64, 0, len(runs))
	}
	for n, run := range runs {
		if len(run) != len(out) {
			return nil, fmt.Errorf("combine runs: run %d has %d results, run 0 has %d", n, len(run), len(out))
		}
		for _, r := range run {
			i, ok := index[r.Key()]
			if !ok || len(out[i].Runs) != n {
				return nil, fmt.Errorf("combine runs: result %s of run %d not once in run 0", r.Key(), n)
			}
			out[i].Runs = append(out[i].Runs, r.Value)
		}
	}
	for i := range out {
		out[i].Value, out[i].Std = MeanStd(out[i].Runs)
	}
	return out, nil
}

// Rows returns the results of a linear probe, SVM or MLP classifier (kind
// KindLinear, KindSVM or KindMLP) on layer's dims features: train, val and
// test accuracy, with the chosen weight decay and epochs as settings.
func (r ProbeResult) Rows(layer, kind string, dims int) []Result {
	s := func() map[string]any {
		return map[string]any{"dims": dims, "weight_decay": r.WeightDecay, "epochs": r.Epochs}
	}
	rows := []Result{{Layer: layer, Kind: kind, Metric: MetricTrainAcc, Value: r.TrainAcc, Settings: s()}}
	if r.Selected { // without selection there is no validation accuracy
		rows = append(rows, Result{Layer: layer, Kind: kind, Metric: MetricValAcc, Value: r.ValAcc, Settings: s()})
	}
	return append(rows, Result{Layer: layer, Kind: kind, Metric: MetricTestAcc, Value: r.TestAcc, Settings: s()})
}

// Rows returns the results of k nearest neighbours on layer's dims
// features: val and test accuracy (there is no training accuracy), with
// the chosen k and the distance as settings.
func (r KNNResult) Rows(layer string, dims int) []Result {
	s := func() map[string]any {
		m := map[string]any{"dims": dims, "k": r.K}
		if r.Distance != "" {
			m["distance"] = r.Distance
		}
		return m
	}
	return []Result{
		{Layer: layer, Kind: KindKNN, Metric: MetricValAcc, Value: r.ValAcc, Settings: s()},
		{Layer: layer, Kind: KindKNN, Metric: MetricTestAcc, Value: r.TestAcc, Settings: s()},
	}
}

// Report is what eval.json (eval_KIND.json for classifiers other than the
// linear probe, see ReportFile) holds: the results of one classifier on
// the layers of one encoder, and the measures computed with it.
type Report struct {
	// Format is the layout version (ReportFormat; WriteFile sets it).
	Format int `json:"format"`
	// Classifier is the kind of classifier (KindLinear, ...) of the
	// report; it names the file. Empty means KindLinear.
	Classifier string `json:"classifier"`
	// Model is the run directory of the encoder ("" for features read
	// from files or a random encoder without one).
	Model string `json:"model,omitempty"`
	// Data names the data set (or the features directory).
	Data string `json:"data"`
	// Encoder is the encoder's registry name (e.g. "basic28x28"); ""
	// when unknown.
	Encoder string `json:"encoder,omitempty"`
	// RandomEncoder marks the baseline of a randomly initialised encoder.
	RandomEncoder bool `json:"random_encoder,omitempty"`
	// Step is the training step of the checkpoint evaluated (0 when
	// unknown): a report older than its run shows it.
	Step int `json:"step,omitempty"`
	// Probe describes the classifier and its protocol in words.
	Probe string `json:"probe,omitempty"`
	// Seconds is the wall time of the evaluation.
	Seconds float64 `json:"seconds"`
	// Results are the rows, in the order they were added.
	Results []Result `json:"results"`
}

// ReportFile names the file of a classifier's report: eval.json for the
// linear probe (classifier "" or KindLinear), eval_KIND.json otherwise.
func ReportFile(classifier string) string {
	if classifier == "" || classifier == KindLinear {
		return "eval.json"
	}
	return "eval_" + classifier + ".json"
}

// Add appends rows to the report (Validate reports duplicates).
func (rep *Report) Add(rows ...Result) { rep.Results = append(rep.Results, rows...) }

// Lookup returns the row of (layer, kind, metric), and whether there is
// one.
func (rep *Report) Lookup(layer, kind, metric string) (Result, bool) {
	for _, r := range rep.Results {
		if r.Layer == layer && r.Kind == kind && r.Metric == metric {
			return r, true
		}
	}
	return Result{}, false
}

// Validate checks that every number is finite (JSON cannot hold NaN or
// ±Inf, and a NaN accuracy is a bug upstream), that every row names its
// kind and metric, and that no (layer, kind, metric) appears twice. The
// error names the offending row.
func (rep *Report) Validate() error {
	if !finite(rep.Seconds) {
		return fmt.Errorf("eval report: seconds %v", rep.Seconds)
	}
	seen := make(map[string]bool, len(rep.Results))
	for _, r := range rep.Results {
		if err := r.validate(); err != nil {
			return fmt.Errorf("eval report: %w", err)
		}
		if seen[r.Key()] {
			return fmt.Errorf("eval report: result %s twice", r.Key())
		}
		seen[r.Key()] = true
	}
	return nil
}

// WriteFile validates the report and writes it as indented JSON to path,
// atomically (a crash leaves the previous file or the new one). Format is
// set to ReportFormat.
func (rep *Report) WriteFile(path string) error {
	if err := rep.Validate(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	out := *rep
	out.Format = ReportFormat
	if out.Results == nil {
		out.Results = []Result{}
	}
	return checkpoint.WriteJSONAtomic(path, &out)
}

// ReadReport reads an eval report written by WriteFile, or one of format 1
// (results keyed by layer, NDM as an object), which it converts to rows:
// per layer train_acc (not for k-NN), val_acc and test_acc with settings
// dims, weight_decay and epochs (or k); test_acc carries the runs and
// their std; NDM "y" and "sigmoid_y" become rows (y, ndm, nats) and (y,
// ndm_sigmoid, nats). The classifier of a format 1 file is the first word
// of its probe description, or else taken from the file name. Errors name
// the file.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read eval report: %w", err)
	}
	rep, err := parseReport(b, filepath.Base(path))
	if err != nil {
		return nil, fmt.Errorf("read eval report %s: %w", path, err)
	}
	return rep, nil
}

// parseReport decodes a report of any format; name is the file's base
// name (for the classifier of format 1).
func parseReport(b []byte, name string) (*Report, error) {
	var head struct {
		Format  int             `json:"format"`
		Results json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, err
	}
	if head.Format > ReportFormat {
		return nil, fmt.Errorf("format %d is newer than this program's %d", head.Format, ReportFormat)
	}
	if r := bytes.TrimSpace(head.Results); len(r) > 0 && r[0] == '{' {
		return parseReportV1(b, name)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, err
	}
	rep.Format = ReportFormat
	return &rep, nil
}

// reportV1 is the layout of eval.json before rows (format 1).
type reportV1 struct {
	Model   string             `json:"model"`
	Data    string             `json:"data"`
	Arch    string             `json:"arch"`
	Random  bool               `json:"random_encoder"`
	Probe   string             `json:"probe"`
	Results map[string]layerV1 `json:"results"`
	NDM     map[string]float64 `json:"ndm"`
	Seconds float64            `json:"seconds"`
}

type layerV1 struct {
	Dims        int       `json:"dims"`
	TrainAcc    float64   `json:"train_acc"`
	TestAcc     float64   `json:"test_acc"`
	ValAcc      float64   `json:"val_acc"`
	WeightDecay float64   `json:"weight_decay"`
	Epochs      int       `json:"epochs"`
	K           int       `json:"k"`
	Runs        []float64 `json:"runs"`
	TestAccStd  float64   `json:"test_acc_std"`
}

// canonicalLayers is the order of the encoder's layers in tables (that of
// encoder.Layers); other names follow, sorted.
var canonicalLayers = []string{"conv", "fc", "y"}

func layerOrder(a, b string) int {
	ia, ib := slices.Index(canonicalLayers, a), slices.Index(canonicalLayers, b)
	switch {
	case ia >= 0 && ib >= 0:
		return ia - ib
	case ia >= 0:
		return -1
	case ib >= 0:
		return 1
	}
	return strings.Compare(a, b)
}

func parseReportV1(b []byte, name string) (*Report, error) {
	var old reportV1
	if err := json.Unmarshal(b, &old); err != nil {
		return nil, fmt.Errorf("format 1: %w", err)
	}
	rep := &Report{Format: ReportFormat, Model: old.Model, Data: old.Data, Encoder: old.Arch,
		RandomEncoder: old.Random, Probe: old.Probe, Seconds: old.Seconds, Results: []Result{}}
	rep.Classifier = KindLinear
	if w, _, _ := strings.Cut(old.Probe, " "); slices.Contains([]string{KindLinear, KindSVM, KindMLP, KindKNN}, w) {
		rep.Classifier = w
	} else if k, ok := strings.CutPrefix(strings.TrimSuffix(name, ".json"), "eval_"); ok && k != "" {
		rep.Classifier = k
	}
	layers := make([]string, 0, len(old.Results))
	for l := range old.Results {
		layers = append(layers, l)
	}
	slices.SortFunc(layers, layerOrder)
	for _, l := range layers {
		r := old.Results[l]
		test := Result{Layer: l, Kind: rep.Classifier, Metric: MetricTestAcc, Value: r.TestAcc, Std: r.TestAccStd, Runs: r.Runs}
		if r.K > 0 || rep.Classifier == KindKNN {
			kr := KNNResult{K: r.K, ValAcc: r.ValAcc, TestAcc: r.TestAcc}
			rows := kr.Rows(l, r.Dims)
			test.Settings = rows[1].Settings
			rep.Add(rows[0], test)
			continue
		}
		pr := ProbeResult{TrainAcc: r.TrainAcc, TestAcc: r.TestAcc, ValAcc: r.ValAcc, WeightDecay: r.WeightDecay, Epochs: r.Epochs, Selected: true}
		rows := pr.Rows(l, rep.Classifier, r.Dims)
		test.Settings = rows[2].Settings
		rep.Add(rows[0], rows[1], test)
	}
	keys := make([]string, 0, len(old.NDM))
	for k := range old.NDM {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kind, layer := KindNDM, k
		if l, ok := strings.CutPrefix(k, "sigmoid_"); ok {
			kind, layer = KindNDMSigmoid, l
		}
		rep.Add(Result{Layer: layer, Kind: kind, Metric: MetricNats, Value: old.NDM[k]})
	}
	return rep, nil
}

// WriteTable writes the report as an aligned text table: one line per
// (layer, kind) in the order of the rows, a column per metric (train,
// val and test accuracy first, in percent; other metrics to 4 decimals;
// "-" where a row has none; "+- std (n runs)" after a mean over runs) and
// the settings as key=value.
func (rep *Report) WriteTable(w io.Writer) error {
	type line struct {
		layer, kind string
		cells       map[string]Result
		settings    map[string]any
	}
	var (
		lines   []*line
		metrics []string
	)
	for _, r := range rep.Results {
		var ln *line
		for _, l := range lines {
			if l.layer == r.Layer && l.kind == r.Kind {
				ln = l
				break
			}
		}
		if ln == nil {
			ln = &line{layer: r.Layer, kind: r.Kind, cells: map[string]Result{}, settings: r.Settings}
			lines = append(lines, ln)
		}
		ln.cells[r.Metric] = r
		if !slices.Contains(metrics, r.Metric) {
			metrics = append(metrics, r.Metric)
		}
	}
	rank := func(m string) int {
		if i := slices.Index([]string{MetricTrainAcc, MetricValAcc, MetricTestAcc}, m); i >= 0 {
			return i
		}
		return 3
	}
	slices.SortStableFunc(metrics, func(a, b string) int { return rank(a) - rank(b) })

	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	header := []string{"layer", "kind"}
	for _, m := range metrics {
		header = append(header, strings.ReplaceAll(m, "_", " "))
	}
	fmt.Fprintln(tw, strings.Join(append(header, "settings"), "\t"))
	for _, ln := range lines {
		layer := ln.layer
		if layer == "" {
			layer = "-"
		}
		cols := []string{layer, ln.kind}
		for _, m := range metrics {
			r, ok := ln.cells[m]
			if !ok {
				cols = append(cols, "-")
				continue
			}
			cols = append(cols, formatValue(r))
		}
		cols = append(cols, formatSettings(ln.settings))
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	tw.Flush() // into a buffer: cannot fail
	return writeTrimmed(w, buf.String())
}

// formatValue writes an accuracy in percent, anything else to 4 decimals,
// with the spread over runs when there are several.
func formatValue(r Result) string {
	scale, format := 1.0, "%.4f"
	if strings.HasSuffix(r.Metric, "_acc") {
		scale, format = 100, "%.2f%%"
	}
	s := fmt.Sprintf(format, scale*r.Value)
	if len(r.Runs) > 1 {
		s += fmt.Sprintf(" +- "+strings.TrimSuffix(format, "%%")+" (%d runs)", scale*r.Std, len(r.Runs))
	}
	return s
}

// formatSettings writes settings as sorted key=value pairs.
func formatSettings(s map[string]any) string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, s[k])
	}
	return strings.Join(parts, " ")
}

// writeTrimmed writes a tabwriter's text to w without the padding at the
// ends of its lines.
func writeTrimmed(w io.Writer, text string) error {
	var out strings.Builder
	for _, l := range strings.SplitAfter(text, "\n") {
		if l != "" {
			out.WriteString(strings.TrimRight(l, " \n") + "\n")
		}
	}
	if _, err := io.WriteString(w, out.String()); err != nil {
		return fmt.Errorf("write eval table: %w", err)
	}
	return nil
}
