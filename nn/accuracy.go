package nn

import "github.com/deepinfomax/deepinfomax/tensor"

// Accuracy returns the fraction of the rows of logits [N,K] whose largest
// value is at the row's label (the first of equal largest values counts);
// 0 for no rows.
func Accuracy(logits *tensor.Tensor, labels []int) float32 {
	if len(labels) == 0 {
		return 0
	}
	return float32(Correct(logits, labels)) / float32(len(labels))
}

// Correct returns how many rows of logits [N,K] have their largest value
// (the first of equal largest values) at the row's label.
func Correct(logits *tensor.Tensor, labels []int) int {
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
