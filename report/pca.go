package report

import (
	"fmt"

	"gonum.org/v1/gonum/mat"
)

// pca2 projects the n rows of x (n x d, row-major) on their first two
// principal components and returns the points and the fraction of the
// variance each component explains. Rows are centred; d may be 1 (the
// second coordinate is then 0).
func pca2(x []float32, n, d int) ([][2]float64, [2]float64, error) {
	var frac [2]float64
	if n < 2 || d < 1 || len(x) != n*d {
		return nil, frac, fmt.Errorf("pca: %d rows of %d features (%d values): want at least 2 rows", n, d, len(x))
	}
	mean := make([]float64, d)
	for i := range n {
		for j := range d {
			mean[j] += float64(x[i*d+j])
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	c := mat.NewDense(n, d, nil)
	for i := range n {
		for j := range d {
			c.Set(i, j, float64(x[i*d+j])-mean[j])
		}
	}
	var cov mat.SymDense
	cov.SymOuterK(1/float64(n-1), c.T())
	var eig mat.EigenSym
	if !eig.Factorize(&cov, true) {
		return nil, frac, fmt.Errorf("pca: eigendecomposition of the %dx%d covariance failed", d, d)
	}
	vals := eig.Values(nil) // ascending
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	total := 0.0
	for _, v := range vals {
		total += max(v, 0)
	}
	pts := make([][2]float64, n)
	for k := range min(2, d) {
		col := d - 1 - k
		if total > 0 {
			frac[k] = max(vals[col], 0) / total
		}
		for i := range n {
			s := 0.0
			for j := range d {
				s += c.At(i, j) * vecs.At(j, col)
			}
			pts[i][k] = s
		}
	}
	return pts, frac, nil
}
