package nn

import (
	"fmt"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// Accuracy returns the fraction of the rows of logits [N,K] whose largest
// value is at the row's label (the first of equal largest values counts;
// a label outside [0, K) never does); 0 for no rows (no labels, and nil
// or [0,K] logits). logits must be a [N,K] matrix with K >= 1 and one
// label a row, else Accuracy panics with a message saying so (as Correct
// does): it has no error result, and a count of labels that does not
// match the rows is a bug in the caller.
func Accuracy(logits *tensor.Tensor, labels []int) float32 {
	if len(labels) == 0 && (logits == nil || logits.Rank() == 2 && logits.Shape[0] == 0) {
		return 0
	}
	return float32(Correct(logits, labels)) / float32(len(labels))
}

// Correct returns how many rows of logits [N,K] have their largest value
// (the first of equal largest values) at the row's label. logits must be
// a [N,K] matrix with K >= 1 and N = len(labels), else Correct panics with
// a message naming the shape and the number of labels.
func Correct(logits *tensor.Tensor, labels []int) int {
	if logits == nil || logits.Rank() != 2 || logits.Shape[0] != len(labels) || logits.Shape[1] < 1 || logits.Size() != logits.Shape[0]*logits.Shape[1] {
		var shape []int
		if logits != nil {
			shape = logits.Shape
		}
		panic(fmt.Sprintf("nn: logits of shape %v for %d labels: want [N,K] with K >= 1 and N labels", shape, len(labels)))
	}
	k := logits.Shape[1]
	correct := 0
	for r, y := range labels {
		row := logits.Data[r*k : (r+1)*k]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == y {
			correct++
		}
	}
	return correct
}
