package baselines

import "math"

// assignment solves the linear assignment problem: for the square cost
// matrix cost (n x n, row-major) it returns p with p[i] the column given to
// row i, minimising the sum of cost[i][p[i]] (the Hungarian algorithm with
// potentials, Kuhn 1955 / Munkres 1957, O(n^3)). scratch is reused between
// calls.
func assignment(cost []float64, n int, sc *hungarianScratch) []int {
	sc.resize(n)
	u, v, p, way, minv, used := sc.u, sc.v, sc.p, sc.way, sc.minv, sc.used
	for i := range u {
		u[i], v[i], p[i], way[i] = 0, 0, 0, 0
	}
	// Rows and columns are 1-based here; column 0 is a virtual start.
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		for j := range minv {
			minv[j], used[j] = math.Inf(1), false
		}
		for {
			used[j0] = true
			i0, delta, j1 := p[j0], math.Inf(1), 0
			for j := 1; j <= n; j++ {
				if used[j] {
					continue
				}
				cur := cost[(i0-1)*n+j-1] - u[i0] - v[j]
				if cur < minv[j] {
					minv[j], way[j] = cur, j0
				}
				if minv[j] < delta {
					delta, j1 = minv[j], j
				}
			}
			for j := 0; j <= n; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	out := sc.out[:n]
	for j := 1; j <= n; j++ {
		out[p[j]-1] = j - 1
	}
	return out
}

// hungarianScratch holds assignment's work arrays.
type hungarianScratch struct {
	u, v, minv []float64
	p, way     []int
	used       []bool
	out        []int
}

func (s *hungarianScratch) resize(n int) {
	if len(s.u) == n+1 {
		return
	}
	s.u, s.v, s.minv = make([]float64, n+1), make([]float64, n+1), make([]float64, n+1)
	s.p, s.way, s.used, s.out = make([]int, n+1), make([]int, n+1), make([]bool, n+1), make([]int, n)
}
