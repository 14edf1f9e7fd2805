package eval

import (
	"fmt"
	"math"
	"slices"

	"github.com/deepinfomax/deepinfomax/kernels"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Distances between feature rows for k nearest neighbours.
const (
	Euclidean = "euclidean" // |q - r|
	Cosine    = "cosine"    // 1 - q.r / (|q| |r|); a zero row is at distance 1 from every row
)

// CheckDistance returns an error unless name is Euclidean or Cosine.
func CheckDistance(name string) error {
	if name != Euclidean && name != Cosine {
		return fmt.Errorf("distance %q: want %s or %s", name, Euclidean, Cosine)
	}
	return nil
}

// KNNConfig sets up k-nearest-neighbour classification. Zero fields take
// the defaults: k chosen among 1, 5, 10 and 20 on a 10% validation split of
// the training set, Euclidean distance. A k below 1, a ValFraction outside
// [0, 1) and an unknown distance are errors.
type KNNConfig struct {
	// Ks are the k tried; each is clamped to the training rows the
	// validation split leaves to vote (KNNResult.K is the k used).
	Ks          []int
	ValFraction float64
	Seed        uint64
	// Distance is Euclidean (default) or Cosine.
	Distance string
}

// KNNResult is the outcome of KNN.
type KNNResult struct {
	K               int     // the k chosen on validation (clamped to the rows that voted), used on test
	ValAcc, TestAcc float64 // accuracy with that k
	Distance        string  // Euclidean or Cosine
}

// KNN classifies every test row by a majority vote of its k nearest
// training rows (Euclidean or cosine distance between standardised
// features; a tie goes to the class that reached the winning count first,
// counting from the nearest neighbour), choosing k on held-out training
// rows (standardised with the statistics of the other training rows; the
// test rows with those of the whole training set). A k of cfg.Ks larger
// than the training rows left to vote on validation is clamped to them,
// and the clamped k is the one chosen, used on test and reported.
//
// trainX [N,D] and testX [M,D] are matrices with one label a row in
// trainY and testY, D >= 1 and M >= 1; labels must be in [0, classes),
// with 2 <= classes <= MaxClasses; the held-out part (at least 1 row)
// must leave at least 2 training rows. Errors: any of these broken, an
// invalid cfg (see KNNConfig), a NaN or Inf feature (naming the set, row
// and column), or features too large to standardise in float32.
func KNN(trainX *tensor.Tensor, trainY []int, testX *tensor.Tensor, testY []int, classes int, cfg KNNConfig) (KNNResult, error) {
	if len(cfg.Ks) == 0 {
		cfg.Ks = []int{1, 5, 10, 20}
	}
	switch {
	case cfg.ValFraction == 0:
		cfg.ValFraction = 0.1
	case !(cfg.ValFraction > 0 && cfg.ValFraction < 1):
		return KNNResult{}, fmt.Errorf("knn: ValFraction = %v: want (0, 1) (0 for the default 0.1)", cfg.ValFraction)
	}
	if cfg.Distance == "" {
		cfg.Distance = Euclidean
	}
	if err := CheckDistance(cfg.Distance); err != nil {
		return KNNResult{}, fmt.Errorf("knn: %w", err)
	}
	for _, k := range cfg.Ks {
		if k < 1 {
			return KNNResult{}, fmt.Errorf("knn: k = %d: want k >= 1", k)
		}
	}
	if err := check("knn", trainX, trainY, testX, testY, classes); err != nil {
		return KNNResult{}, err
	}
	if err := checkSplit("knn", trainX.Shape[0], cfg.ValFraction); err != nil {
		return KNNResult{}, err
	}
	fit, val, _, err := selectionSets(trainX, trainY, cfg.ValFraction, cfg.Seed)
	if err != nil {
		return KNNResult{}, fmt.Errorf("knn: %w", err)
	}
	// A vote among more rows than there are counts them all: such a k is
	// the number of rows.
	ks := make([]int, len(cfg.Ks))
	for i, k := range cfg.Ks {
		ks[i] = min(k, fit.x.Shape[0])
	}
	maxK := slices.Max(ks)
	accs := knnAccuracies(fit, val, classes, ks, maxK, cfg.Distance)
	res := KNNResult{ValAcc: -1, Distance: cfg.Distance}
	for i, k := range ks {
		if accs[i] > res.ValAcc {
			res.ValAcc, res.K = accs[i], k
		}
	}
	fit, val = labelled{}, labelled{}
	releaseSelection()
	xtr, xte, err := standardizedSets(trainX, testX)
	if err != nil {
		return KNNResult{}, fmt.Errorf("knn: %w", err)
	}
	res.TestAcc = knnAccuracies(labelled{xtr, trainY}, labelled{xte, testY}, classes, []int{res.K}, res.K, cfg.Distance)[0]
	return res, nil
}

// Neighbors returns, for every row of query [M, D], the indices of its k
// nearest rows of ref [N, D] (min(k, N) of them), nearest first, ties to
// the lower index, by distance (Euclidean or Cosine) between the rows as
// given (standardise them first if wanted). Errors: an unknown distance,
// k < 1, nil tensors, shapes other than [N, D] and [M, D] with N >= 1 and
// D >= 1 (M may be 0), and non-finite features (naming the set, row and
// column).
func Neighbors(ref, query *tensor.Tensor, k int, distance string) ([][]int, error) {
	if err := CheckDistance(distance); err != nil {
		return nil, fmt.Errorf("neighbors: %w", err)
	}
	if k < 1 {
		return nil, fmt.Errorf("neighbors: k = %d: want k >= 1", k)
	}
	if err := checkMatrix(ref, 1); err != nil {
		return nil, fmt.Errorf("neighbors: reference features: %w", err)
	}
	if err := checkMatrix(query, 0); err != nil {
		return nil, fmt.Errorf("neighbors: query features: %w", err)
	}
	if ref.Shape[1] != query.Shape[1] {
		return nil, fmt.Errorf("neighbors: reference %v and query %v: want [N, D] and [M, D]", ref.Shape, query.Shape)
	}
	for _, s := range []struct {
		name string
		x    *tensor.Tensor
	}{{"reference", ref}, {"query", query}} {
		if err := CheckFinite(s.x); err != nil {
			return nil, fmt.Errorf("neighbors: %s features: %w", s.name, err)
		}
	}
	out := make([][]int, query.Shape[0])
	nearest(ref, query, k, distance, func(q int, nbs []int) { out[q] = slices.Clone(nbs) })
	return out, nil
}

// nearest calls visit, for every query row in order, with the indices of
// its min(k, N) nearest reference rows, nearest first (the slice is
// reused: copy it to keep it).
func nearest(ref, query *tensor.Tensor, k int, distance string, visit func(q int, nbs []int)) {
	var refNorm []float32
	if distance == Cosine {
		ref, query = unitRows(ref), unitRows(query)
		// |r|^2 - 2 q.r = 2 (1 - cos) - 1 for unit rows; 1 also for a
		// zero row, whose cosine distance is 1 (cos = 0).
		refNorm = make([]float32, ref.Shape[0])
		for i := range refNorm {
			refNorm[i] = 1
		}
	} else {
		refNorm = rowNorms(ref)
	}
	nr, d := ref.Shape[0], ref.Shape[1]
	nq := query.Shape[0]
	maxK := min(k, nr)
	const chunk = 256
	dist := make([]float32, chunk*nr)
	type nb struct {
		d float32
		i int
	}
	best := make([][]nb, chunk)
	for i := range best {
		best[i] = make([]nb, 0, maxK+1)
	}
	idx := make([]int, maxK)
	for s := 0; s < nq; s += chunk {
		e := min(s+chunk, nq)
		m := e - s
		// dist = |r|^2 - 2 q.r (|q|^2 is the same for every neighbour).
		kernels.Sgemm(false, true, m, nr, d, -2, query.Data[s*d:e*d], d, ref.Data, d, 0, dist, nr)
		kernels.ParallelFor(m, func(lo, hi int) {
			for qi := lo; qi < hi; qi++ {
				row := dist[qi*nr : (qi+1)*nr]
				b := best[qi][:0]
				for r, v := range row {
					v += refNorm[r]
					if len(b) == maxK && v >= b[maxK-1].d {
						continue
					}
					// Insert in order, dropping the farthest beyond maxK.
					j := len(b)
					if j < maxK {
						b = append(b, nb{})
					} else {
						j--
					}
					for j > 0 && b[j-1].d > v {
						b[j] = b[j-1]
						j--
					}
					b[j] = nb{v, r}
				}
				best[qi] = b
			}
		})
		for qi := range m {
			for j, n := range best[qi] {
				idx[j] = n.i
			}
			visit(s+qi, idx[:len(best[qi])])
		}
	}
}

// unitRows returns x [N, D] with every row scaled to unit Euclidean norm
// (zero rows stay zero), so that squared Euclidean distance ranks rows as
// cosine distance does.
func unitRows(x *tensor.Tensor) *tensor.Tensor {
	n, d := x.Shape[0], x.Shape[1]
	out := tensor.New(n, d)
	for i := range n {
		var s float64
		row := x.Data[i*d : (i+1)*d]
		for _, v := range row {
			s += float64(v) * float64(v)
		}
		if s == 0 {
			continue
		}
		inv := float32(1 / math.Sqrt(s))
		for j, v := range row {
			out.Data[i*d+j] = v * inv
		}
	}
	return out
}

// knnAccuracies returns, for each k in ks, the accuracy on query of the
// k-nearest-neighbour vote among ref by distance.
func knnAccuracies(ref, query labelled, classes int, ks []int, maxK int, distance string) []float64 {
	correct := make([]int, len(ks))
	votes := make([]int, classes)
	nearest(ref.x, query.x, maxK, distance, func(q int, nbs []int) {
		want := query.y[q]
		for ki, k := range ks {
			clear(votes)
			win, top := -1, 0
			for _, n := range nbs[:min(k, len(nbs))] {
				c := ref.y[n]
				votes[c]++
				if votes[c] > top { // strictly more: ties keep the class reached first (nearer)
					win, top = c, votes[c]
				}
			}
			if win == want {
				correct[ki]++
			}
		}
	})
	out := make([]float64, len(ks))
	for i, c := range correct {
		out[i] = float64(c) / float64(query.x.Shape[0])
	}
	return out
}

// rowNorms returns the squared Euclidean norm of every row of x [N,D].
func rowNorms(x *tensor.Tensor) []float32 {
	n, d := x.Shape[0], x.Shape[1]
	out := make([]float32, n)
	for i := range n {
		var s float32
		for _, v := range x.Data[i*d : (i+1)*d] {
			s += v * v
		}
		out[i] = s
	}
	return out
}
