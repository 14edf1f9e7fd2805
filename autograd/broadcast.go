package autograd

// maxRank is the largest tensor rank the broadcasting and permuting ops
// support.
const maxRank = 8

// broadcastShape returns the NumPy-style broadcast of shapes a and b into
// out (which must have room for maxRank values) and its rank, or ok=false.
func broadcastShape(a, b []int, out *[maxRank]int) (rank int, ok bool) {
	rank = max(len(a), len(b))
	if rank > maxRank {
		return 0, false
	}
	for i := 0; i < rank; i++ {
		da, db := 1, 1
		if j := len(a) - rank + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - rank + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return 0, false
		}
	}
	return rank, true
}

// bcastStrides writes into st the element strides of a contiguous tensor of
// shape s viewed as broadcast to out (rank dims): 0 along broadcast axes.
func bcastStrides(s []int, out []int, st *[maxRank]int) {
	rank := len(out)
	stride := 1
	for i := rank - 1; i >= 0; i-- {
		j := len(s) - rank + i
		if j < 0 || s[j] == 1 && out[i] != 1 {
			st[i] = 0
		} else {
			st[i] = stride
		}
		if j >= 0 {
			stride *= s[j]
		}
	}
}

// bcastIter walks every index of shape out in row-major order, calling
// row(ia, ib, io, n, sa, sb) once per innermost row: io is the output
// offset, ia and ib the offsets into two broadcast operands with strides
// sta and stb, n the row length, sa and sb the operands' innermost strides.
func bcastIter(out []int, sta, stb *[maxRank]int, row func(ia, ib, io, n, sa, sb int)) {
	rank := len(out)
	if rank == 0 {
		row(0, 0, 0, 1, 0, 0)
		return
	}
	for _, d := range out {
		if d == 0 {
			return
		}
	}
	inner := out[rank-1]
	var idx [maxRank]int
	ia, ib, io := 0, 0, 0
	for {
		row(ia, ib, io, inner, sta[rank-1], stb[rank-1])
		io += inner
		// Advance the odometer over the outer axes.
		d := rank - 2
		for ; d >= 0; d-- {
			idx[d]++
			ia += sta[d]
			ib += stb[d]
			if idx[d] < out[d] {
				break
			}
			ia -= sta[d] * out[d]
			ib -= stb[d] * out[d]
			idx[d] = 0
		}
		if d < 0 {
			return
		}
	}
}
