package eval

import (
	"math"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// bruteNeighbors returns the indices of every query row's k nearest
// reference rows in float64, straight from the definitions: Euclidean
// sqrt(sum (q-r)^2) or cosine 1 - q.r/(|q||r|) (1 if either is zero),
// ties to the lower index.
func bruteNeighbors(ref, query *tensor.Tensor, k int, distance string) [][]int {
	nr, d := ref.Shape[0], ref.Shape[1]
	out := make([][]int, query.Shape[0])
	for q := range out {
		idx := make([]int, nr)
		dist := make([]float64, nr)
		for r := range nr {
			idx[r] = r
			var sq, dot, nq, nrr float64
			for j := range d {
				a, b := float64(query.Data[q*d+j]), float64(ref.Data[r*d+j])
				sq += (a - b) * (a - b)
				dot += a * b
				nq += a * a
				nrr += b * b
			}
			switch {
			case distance == Euclidean:
				dist[r] = math.Sqrt(sq)
			case nq == 0 || nrr == 0:
				dist[r] = 1
			default:
				dist[r] = 1 - dot/math.Sqrt(nq*nrr)
			}
		}
		sort.SliceStable(idx, func(a, b int) bool { return dist[idx[a]] < dist[idx[b]] })
		out[q] = idx[:min(k, nr)]
	}
	return out
}

// knnRef is a brute-force k-NN in float64 with the same vote rule.
func knnRef(ref, query labelled, classes int, k int, distance string) float64 {
	correct := 0
	for q, idx := range bruteNeighbors(ref.x, query.x, k, distance) {
		votes := make([]int, classes)
		win, top := -1, 0
		for _, r := range idx {
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
		for _, dist := range []string{Euclidean, Cosine} {
			got := knnAccuracies(ref, query, c.classes, ks, 7, dist)
			for i, k := range ks {
				if want := knnRef(ref, query, c.classes, min(k, c.nr), dist); got[i] != want {
					t.Errorf("%+v %s k=%d: accuracy %v, brute force %v", c, dist, k, got[i], want)
				}
			}
		}
	}
}

// TestNeighborsMatchesBruteForce compares the neighbour lists with a
// float64 brute force for both distances, on rows of very different norms
// (where the two rank differently) with a zero row among them.
func TestNeighborsMatchesBruteForce(t *testing.T) {
	rng := tensor.NewRNG(9)
	for _, c := range []struct{ nr, nq, d, k int }{{50, 40, 6, 5}, {3, 4, 2, 5}, {300, 260, 17, 10}} {
		ref, query := tensor.New(c.nr, c.d), tensor.New(c.nq, c.d)
		for _, x := range []*tensor.Tensor{ref, query} {
			rng.Normal(x, 0, 1)
			for i := range x.Shape[0] {
				s := float32(math.Exp(2 * rng.NormFloat64())) // norms spread over orders of magnitude
				for j := range c.d {
					x.Data[i*c.d+j] *= s
				}
			}
		}
		clear(ref.Data[:c.d]) // a zero row
		differ := false
		for _, dist := range []string{Euclidean, Cosine} {
			got, err := Neighbors(ref, query, c.k, dist)
			if err != nil {
				t.Fatal(err)
			}
			want := bruteNeighbors(ref, query, c.k, dist)
			for q := range want {
				if !slices.Equal(got[q], want[q]) {
					t.Errorf("%+v %s: query %d: neighbours %v, brute force %v", c, dist, q, got[q], want[q])
					break
				}
			}
			if dist == Cosine {
				other := bruteNeighbors(ref, query, c.k, Euclidean)
				for q := range want {
					differ = differ || !slices.Equal(other[q], want[q])
				}
			}
		}
		if c.nr > c.k && !differ {
			t.Errorf("%+v: cosine and Euclidean neighbours agree everywhere: the test cannot tell them apart", c)
		}
	}
}

func TestNeighborsErrors(t *testing.T) {
	x := tensor.New(4, 3)
	nan := tensor.New(4, 3)
	nan.Data[7] = float32(math.NaN())
	for _, c := range []struct {
		name       string
		ref, query *tensor.Tensor
		k          int
		dist, want string
	}{
		{"distance", x, x, 1, "manhattan", "manhattan"},
		{"k", x, x, 0, Euclidean, "k = 0"},
		{"width", x, tensor.New(2, 2), 1, Euclidean, "[2 2]"},
		{"nan", x, nan, 1, Cosine, "query features: row 2, column 1 is NaN"},
	} {
		if _, err := Neighbors(c.ref, c.query, c.k, c.dist); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
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
	if r.TestAcc < 0.95 || r.K < 1 || r.Distance != Euclidean {
		t.Errorf("k-NN on separable blobs: %+v", r)
	}
	if r, err := KNN(xtr, ytr, xte, yte, 3, KNNConfig{Distance: Cosine}); err != nil || r.TestAcc < 0.95 || r.Distance != Cosine {
		t.Errorf("cosine k-NN on separable blobs: %+v, %v", r, err)
	}
	if _, err := KNN(xtr, ytr, xte, yte, 3, KNNConfig{Distance: "l1"}); err == nil || !strings.Contains(err.Error(), "l1") {
		t.Errorf("distance l1: %v", err)
	}
	if _, err := KNN(xtr, ytr, xte, yte, 3, KNNConfig{Ks: []int{0}}); err == nil {
		t.Error("no error for k = 0")
	}
}
