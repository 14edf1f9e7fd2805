package eval

import (
	"fmt"
	"slices"

	"github.com/deepinfomax/deepinfomax/kernels"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// KNNConfig sets up k-nearest-neighbour classification. Zero fields take
// the defaults: k chosen among 1, 5, 10 and 20 on a 10% validation split of
// the training set.
type KNNConfig struct {
	Ks          []int
	ValFraction float64
	Seed        uint64
}

// KNNResult is the outcome of KNN.
type KNNResult struct {
	K               int     // the k chosen on validation
	ValAcc, TestAcc float64 // accuracy with that k
}

// KNN classifies every test row by a majority vote of its k nearest
// training rows (Euclidean distance between standardised features; a tie
// goes to the class that reached the winning count first, counting from
// the nearest neighbour), choosing k on held-out training rows. Labels must
// be in [0, classes).
func KNN(trainX *tensor.Tensor, trainY []int, testX *tensor.Tensor, testY []int, classes int, cfg KNNConfig) (KNNResult, error) {
	if len(cfg.Ks) == 0 {
		cfg.Ks = []int{1, 5, 10, 20}
	}
	if cfg.ValFraction <= 0 || cfg.ValFraction >= 1 {
		cfg.ValFraction = 0.1
	}
	for _, k := range cfg.Ks {
		if k < 1 {
			return KNNResult{}, fmt.Errorf("knn: k = %d: want k >= 1", k)
		}
	}
	xtr, xte, err := prepare(trainX, trainY, testX, testY, classes)
	if err != nil {
		return KNNResult{}, err
	}
	n := xtr.Shape[0]
	split := tensor.NewRNG(cfg.Seed ^ 0x5eed).Perm(n)
	nv := max(1, int(float64(n)*cfg.ValFraction))
	fit, val := rows(xtr, trainY, split[nv:]), rows(xtr, trainY, split[:nv])
	maxK := slices.Max(cfg.Ks)
	accs := knnAccuracies(fit, val, classes, cfg.Ks, maxK)
	res := KNNResult{ValAcc: -1}
	for i, k := range cfg.Ks {
		if accs[i] > res.ValAcc {
			res.ValAcc, res.K = accs[i], k
		}
	}
	res.TestAcc = knnAccuracies(labelled{xtr, trainY}, labelled{xte, testY}, classes, []int{res.K}, res.K)[0]
	return res, nil
}

// knnAccuracies returns, for each k in ks, the accuracy on query of the
// k-nearest-neighbour vote among ref.
func knnAccuracies(ref, query labelled, classes int, ks []int, maxK int) []float64 {
	nr, d := ref.x.Shape[0], ref.x.Shape[1]
	nq := query.x.Shape[0]
	maxK = min(maxK, nr)
	refNorm := rowNorms(ref.x)
	const chunk = 256
	dist := make([]float32, chunk*nr)
	correct := make([]int, len(ks))
	type nb struct {
		d float32
		i int
	}
	best := make([][]nb, chunk)
	for i := range best {
		best[i] = make([]nb, 0, maxK+1)
	}
	votes := make([][]int, chunk)
	for i := range votes {
		votes[i] = make([]int, classes)
	}
	for s := 0; s < nq; s += chunk {
		e := min(s+chunk, nq)
		m := e - s
		// dist = |r|^2 - 2 q.r (|q|^2 is the same for every neighbour).
		kernels.Sgemm(false, true, m, nr, d, -2, query.x.Data[s*d:e*d], d, ref.x.Data, d, 0, dist, nr)
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
			want := query.y[s+qi]
			for ki, k := range ks {
				v := votes[qi]
				clear(v)
				win, top := -1, 0
				for _, n := range best[qi][:min(k, len(best[qi]))] {
					c := ref.y[n.i]
					v[c]++
					if v[c] > top { // strictly more: ties keep the class reached first (nearer)
						win, top = c, v[c]
					}
				}
				if win == want {
					correct[ki]++
				}
			}
		}
	}
	out := make([]float64, len(ks))
	for i, c := range correct {
		out[i] = float64(c) / float64(nq)
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
