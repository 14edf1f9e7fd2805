package nn

import (
	"fmt"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// TestAccuracyShapes: labels that do not match the rows of the logits
// panic with a message naming both (one label for 4 rows gave 1, 4 labels
// for 1 row an index panic); no rows and no labels give 0.
func TestAccuracyShapes(t *testing.T) {
	for _, c := range []struct {
		name   string
		logits *tensor.Tensor
		labels []int
		panics string // "" for none
	}{
		{"fewer labels", tensor.New(4, 3), []int{0}, "logits of shape [4 3] for 1 labels"},
		{"more labels", tensor.New(1, 3), []int{0, 1, 1, 1}, "logits of shape [1 3] for 4 labels"},
		{"nil logits", nil, []int{0}, "logits of shape [] for 1 labels"},
		{"vector", tensor.New(3), []int{0, 1, 2}, "logits of shape [3] for 3 labels"},
		{"no classes", tensor.New(2, 0), []int{0, 0}, "logits of shape [2 0] for 2 labels"},
		{"short data", &tensor.Tensor{Shape: []int{2, 3}, Data: make([]float32, 5)}, []int{0, 0}, "logits of shape [2 3] for 2 labels"},
		{"no rows", tensor.New(0, 3), nil, ""},
		{"nil, no labels", nil, nil, ""},
	} {
		for _, f := range []struct {
			name string
			call func() float32
		}{
			{"Accuracy", func() float32 { return Accuracy(c.logits, c.labels) }},
			{"Correct", func() float32 { return float32(Correct(c.logits, c.labels)) }},
		} {
			if f.name == "Correct" && c.logits == nil && c.panics == "" {
				continue // Correct has no rows to count without logits
			}
			got, msg := catch(f.call)
			switch {
			case c.panics == "" && msg != "":
				t.Errorf("%s, %s: panic %q", c.name, f.name, msg)
			case c.panics == "" && got != 0:
				t.Errorf("%s, %s: %v, want 0", c.name, f.name, got)
			case c.panics != "" && !strings.Contains(msg, "nn: "+c.panics):
				t.Errorf("%s, %s: returned %v, panic %q, want a panic containing %q", c.name, f.name, got, msg, c.panics)
			}
		}
	}
}

// catch returns f's result, or the message it panics with.
func catch(f func() float32) (v float32, msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	return f(), ""
}
