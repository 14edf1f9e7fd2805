package eval

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteGrid writes the report as one aligned table with a line per
// classifier or measure and a column per layer (conv, fc, y, then other
// layers, then "-" for measures of the whole representation): a
// classifier's line holds its test accuracy in percent, a measure's its
// value (a line per metric); "-" where there is none. Train and
// validation accuracies, settings and per-run values are in eval.json.
func (rep *Report) WriteGrid(w io.Writer) error {
	type line struct{ kind, metric string }
	var (
		lines  []line
		layers []string
		cells  = map[line]map[string]Result{}
	)
	for _, r := range rep.Results {
		if r.Metric == MetricTrainAcc || r.Metric == MetricValAcc {
			continue
		}
		ln := line{r.Kind, r.Metric}
		if cells[ln] == nil {
			lines = append(lines, ln)
			cells[ln] = map[string]Result{}
		}
		cells[ln][r.Layer] = r
		if !slices.Contains(layers, r.Layer) {
			layers = append(layers, r.Layer)
		}
	}
	slices.SortFunc(layers, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "":
			return 1
		case b == "":
			return -1
		}
		return layerOrder(a, b)
	})
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	header := []string{"", ""}
	for _, l := range layers {
		if l == "" {
			l = "-"
		}
		header = append(header, l)
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, ln := range lines {
		metric := ln.metric
		if metric == MetricTestAcc {
			metric = "test acc"
		}
		cols := []string{ln.kind, metric}
		for _, l := range layers {
			if r, ok := cells[ln][l]; ok {
				cols = append(cols, formatValue(r))
			} else {
				cols = append(cols, "-")
			}
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	tw.Flush() // into a buffer: cannot fail
	return writeTrimmed(w, buf.String())
}
