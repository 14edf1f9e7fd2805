package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// plotDPI is the resolution of the plots: sharp on a laptop's screen and
// on paper, small enough to keep the page light.
const plotDPI = 110

// palette holds the colours of classes in the embedding map (Tableau's
// ten, readable on white and in print); class i takes palette[i%10].
var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255}, {148, 103, 189, 255},
	{140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255}, {188, 189, 34, 255}, {23, 190, 207, 255},
}

// maxLegend is the most classes the map names in its legend (CIFAR-100's
// hundred would cover the points).
const maxLegend = 20

// renderPNG draws p on a w x h canvas and returns the PNG bytes.
func renderPNG(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(plotDPI), vgimg.UseBackgroundColor(color.White))
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode plot %q: %w", p.Title.Text, err)
	}
	return buf.Bytes(), nil
}

// series is one curve of a training plot.
type series struct {
	x, y []float64
}

// linePlot draws y against x as a line (with points when there are few),
// titled title, with axis labels xl and yl. Non-finite points are
// dropped; logY draws y on a log scale when every value is positive.
func linePlot(title, xl, yl string, s series, logY bool) (*Figure, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xl
	p.Y.Label.Text = yl
	xys := make(plotter.XYs, 0, len(s.x))
	positive := true
	for i := range s.x {
		if finite(s.x[i]) && finite(s.y[i]) {
			xys = append(xys, plotter.XY{X: s.x[i], Y: s.y[i]})
			positive = positive && s.y[i] > 0
		}
	}
	if len(xys) == 0 {
		return nil, nil
	}
	if logY && positive && len(xys) > 1 {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil, fmt.Errorf("plot %s: %w", title, err)
	}
	l.LineStyle.Width = vg.Points(1.2)
	l.LineStyle.Color = palette[0]
	p.Add(l, plotter.NewGrid())
	if len(xys) <= 20 {
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, fmt.Errorf("plot %s: %w", title, err)
		}
		sc.GlyphStyle.Color = palette[0]
		sc.GlyphStyle.Radius = vg.Points(2)
		p.Add(sc)
	}
	if len(xys) == 1 { // a single point: give the axes some room
		p.X.Min, p.X.Max = xys[0].X-1, xys[0].X+1
	}
	if lo, hi := plotter.Range(plotter.YValues{XYer: xys}); lo == hi { // a constant: centre it
		d := math.Abs(lo)
		if d == 0 {
			d = 1
		}
		p.Y.Min, p.Y.Max = min(0, lo-d/2), max(0, hi+d/2)
	}
	b, err := renderPNG(p, 4*vg.Inch, 2.6*vg.Inch)
	if err != nil {
		return nil, err
	}
	return &Figure{Title: title, PNG: b}, nil
}

// scatterPlot draws the 2-D points xy (pairs) coloured by label, with a
// legend naming each class by classes[label] (or its number).
func scatterPlot(title, xl, yl string, xy [][2]float64, labels []int, classes []string) (*Figure, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xl
	p.Y.Label.Text = yl
	p.Legend.Top = true
	p.Legend.Left = false
	byClass := map[int]plotter.XYs{}
	maxLabel := -1
	for i, v := range xy {
		l := labels[i]
		byClass[l] = append(byClass[l], plotter.XY{X: v[0], Y: v[1]})
		maxLabel = max(maxLabel, l)
	}
	p.Add(plotter.NewGrid())
	for l := -1; l <= maxLabel; l++ {
		pts, ok := byClass[l]
		if !ok {
			continue
		}
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, fmt.Errorf("plot %s: %w", title, err)
		}
		c := color.RGBA{60, 60, 60, 255}
		if l >= 0 {
			c = palette[l%len(palette)]
		}
		sc.GlyphStyle.Color = c
		sc.GlyphStyle.Radius = vg.Points(1.6)
		sc.GlyphStyle.Shape = draw.CircleGlyph{}
		p.Add(sc)
		name := "unlabelled"
		if l >= 0 {
			name = strconv.Itoa(l)
			if l < len(classes) && classes[l] != "" {
				name = classes[l]
			}
		}
		if maxLabel < maxLegend {
			p.Legend.Add(name, sc)
		}
	}
	width := 5.2 * vg.Inch
	if maxLabel < maxLegend {
		// Room on the right for the legend, so that it covers no point.
		p.X.Max += 0.4 * (p.X.Max - p.X.Min)
		width = 6.4 * vg.Inch
	}
	b, err := renderPNG(p, width, 4.4*vg.Inch)
	if err != nil {
		return nil, err
	}
	return &Figure{Title: title, PNG: b}, nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
