package eval

import (
	"math"
	"sort"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// knnRef is a brute-force k-NN in float64 with the same vote rule.
func knnRef(ref, query labelled, classes int, k int) float64 {
	nr, d := ref.x.Shape[0], ref.x.Shape[1]
	correct := 0
	for q := 0; q < query.x.Shape[0]; q++ {
		idx := make([]int, nr)
		dist := make([]float64, nr)
		for r := range nr {
			idx[r] = r
			for j := range d {
				diff := float64(query.x.Data[q*d+j]) - float64(ref.x.Data[r*d+j])
				dist[r] += diff * diff
			}
		}
		sort.SliceStable(idx, func(a, b int) bool { return dist[idx[a]] < dist[idx[b]] })
		votes := make([]int, classes)
		win, top := -1, 0
		for _, r := range idx[:k] {
			c := ref.y[r]
			votes[c]++
			if votes[c] > top {
				win, top = c, votes[c]
			}
		}
		if win == query.y[q] {
			correct++
		}
	}
	return float64(correct) / float64(query.x.Shape[0])
}

func TestKNNMatchesBruteForce(t *testing.T) {
	rng := tensor.NewRNG(8)
	for _, c := range []struct{ nr, nq, d, classes int }{{97, 300, 13, 3}, {5, 7, 1, 2}, {301, 259, 40, 5}} {
		ref := labelled{tensor.New(c.nr, c.d), make([]int, c.nr)}
		query := labelled{tensor.New(c.nq, c.d), make([]int, c.nq)}
		for _, s := range []labelled{ref, query} {
			rng.Normal(s.x, 0, 1)
			for i := range s.y {
				// Labels follow the first coordinate, with noise: k-NN is
				// better than chance but not perfect.
				s.y[i] = int(math.Abs(float64(s.x.Data[i*c.d])+0.3*rng.NormFloat64())*2) % c.classes
			}
		}
		ks := []int{1, 3, 4, 7}
		got := knnAccuracies(ref, query, c.classes, ks, 7)
		for i, k := range ks {
			if want := knnRef(ref, query, c.classes, min(k, c.nr)); got[i] != want {
				t.Errorf("%+v k=%d: accuracy %v, brute force %v", c, k, got[i], want)
			}
		}
	}
}

func TestKNN(t *testing.T) {
	xtr, ytr := blobs(1, 600, 9, 3)
	xte, yte := blobs(1, 300, 9, 3)
	r, err := KNN(xtr, ytr, xte, yte, 3, KNNConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if r.TestAcc < 0.95 || r.K < 1 {
		t.Errorf("k-NN on separable blobs: %+v", r)
	}
	if _, err := KNN(xtr, ytr, xte, yte, 3, KNNConfig{Ks: []int{0}}); err == nil {
		t.Error("no error for k = 0")
	}
}
