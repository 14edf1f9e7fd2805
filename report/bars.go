package report

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// BarChart draws grouped bars as a PNG: one group per name of groups (the
// methods of a comparison), one bar per series within it (the layers),
// values[s][g] the height of series s in group g, with the series named
// in a legend. Non-finite values are an error.
func BarChart(title, yLabel string, groups, seriesNames []string, values [][]float64) ([]byte, error) {
	p, err := barPlot(title, yLabel, groups, seriesNames, values)
	if err != nil {
		return nil, err
	}
	return renderPNG(p, vg.Length(1.5+1.1*float64(len(groups)))*vg.Inch, 3.6*vg.Inch)
}

// barPlot is BarChart's plot: the groups' bars whole within the x axis,
// room above the highest bar for the legend, and y ticks labelled only up
// to a little past that bar (the room is not a value).
func barPlot(title, yLabel string, groups, seriesNames []string, values [][]float64) (*plot.Plot, error) {
	if len(values) != len(seriesNames) {
		return nil, fmt.Errorf("bar chart %s: %d series of values for %d names", title, len(values), len(seriesNames))
	}
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = yLabel
	p.Legend.Top = true
	p.Add(plotter.NewGrid()) // under the bars
	w := vg.Points(48 / float64(max(len(seriesNames), 1)))
	top := 0.0
	for s, vals := range values {
		if len(vals) != len(groups) {
			return nil, fmt.Errorf("bar chart %s: series %s has %d values for %d groups", title, seriesNames[s], len(vals), len(groups))
		}
		for g, v := range vals {
			if !finite(v) {
				return nil, fmt.Errorf("bar chart %s: %s of %s is %v", title, seriesNames[s], groups[g], v)
			}
			top = max(top, v)
		}
		bars, err := plotter.NewBarChart(plotter.Values(vals), w)
		if err != nil {
			return nil, fmt.Errorf("bar chart %s: %w", title, err)
		}
		bars.Color = palette[s%len(palette)]
		bars.LineStyle.Width = 0
		bars.Offset = w * vg.Length(float64(s)-float64(len(values)-1)/2)
		p.Add(bars)
		p.Legend.Add(seriesNames[s], bars)
	}
	p.NominalX(groups...)
	p.X.Min, p.X.Max = -0.5, float64(len(groups))-0.5              // the outer groups' bars whole
	p.Y.Min, p.Y.Max = 0, (1.25+0.1*float64(len(seriesNames)))*top // room above the bars for the legend
	p.Y.Tick.Marker = plot.TickerFunc(func(lo, hi float64) []plot.Tick {
		return plot.DefaultTicks{}.Ticks(lo, min(hi, 1.1*top))
	})
	return p, nil
}
