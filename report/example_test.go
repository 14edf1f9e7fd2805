package report_test

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"regexp"

	"github.com/deepinfomax/deepinfomax/report"
)

// A page is made of runs: report.Build(dir, report.Options{}) reads one
// from a run directory (report.WriteRun and report.WriteComparison build
// and write in one call). Here a run is filled by hand.
func Example() {
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 4, 4)))
	run := &report.Run{
		Name:  "dim",
		Dir:   "runs/mnist",
		Facts: []report.Fact{{Key: "method", Value: "dim"}},
		Map:   &report.Figure{Title: "PCA of y", PNG: buf.Bytes(), Plot: true},
	}
	page := report.NewPage("Deep InfoMax run mnist", run)
	var html bytes.Buffer
	if err := page.Render(&html); err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range regexp.MustCompile(`<section id="([a-z-]+)"`).FindAllStringSubmatch(html.String(), -1) {
		fmt.Println(m[1])
	}
	fmt.Println(bytes.Contains(html.Bytes(), []byte(`src="data:image/png;base64,`)))
	// Output:
	// overview
	// curves
	// evaluation
	// neighbors
	// embedding-map
	// reconstructions
	// true
}
