package kernels

import (
	"fmt"
	"math"
)

// Element-wise kernels of the training step: the Adam update and ReLU. On
// amd64 CPUs with AVX-512F they run in assembly (elementwise_amd64.s), 16
// lanes at a time; elsewhere, and with the purego build tag, they run the Go
// loops of this file. Both give bit-identical results: the assembly does
// the same IEEE operations in the same order (no fused multiply-add, the Go
// build being GOAMD64=v1), with the operand order of the loops they
// replaced where it decides which NaN comes out of an operation on two
// NaNs (see AdamUpdate).

// AdamScalars holds the per-step constants of AdamUpdate.
type AdamScalars struct {
	// StepSize is lr / (1 - beta1^t).
	StepSize float32
	// InvBC2 is 1 / sqrt(1 - beta2^t).
	InvBC2 float32
	// B2 is beta2.
	B2 float32
	// OB1 is 1 - beta1.
	OB1 float32
	// OB2 is 1 - beta2.
	OB2 float32
	// Eps is added to the scaled square root of the second moment.
	Eps float32
	// L2 is the L2 penalty added to the gradient (torch.optim.Adam's
	// weight decay); 0 for none.
	L2 float32
	// Decay multiplies the parameters before the update (AdamW's decoupled
	// weight decay, 1 - lr*wd); 1 for none.
	Decay float32
}

// Variants of AdamUpdate, chosen in this order as the scalar loop does.
const (
	adamDefault = iota
	adamDecay
	adamL2
)

func (s *AdamScalars) variant() int {
	switch {
	case s.L2 != 0:
		return adamL2
	case s.Decay != 1:
		return adamDecay
	}
	return adamDefault
}

// AdamUpdate applies one Adam step to the first len(p) elements of p, given
// the gradient g and the moments m and v (updated in place), in float32
// arithmetic rounded after every operation:
//
//	g' = g + L2*p                               (only when L2 != 0)
//	p' = p * Decay                              (only when L2 == 0 and Decay != 1)
//	m  = m + OB1*(g' - m)
//	v  = B2*v + OB2*g'*g'
//	p  = p' - StepSize*m / (sqrt(v)*InvBC2 + Eps)
//
// with sqrt correctly rounded (float32(math.Sqrt(float64(v)))). The result is
// bit-identical to that scalar Go loop (the one optim.Adam ran) for every
// input, NaNs, infinities, signed zeros and subnormals included, but for
// one thing the Go source leaves open: when both operands of an addition or
// a multiplication are NaNs with different bits, x86 returns the first
// source operand's, and which operand of a commutative operation the
// compiler makes the first source is a register-allocation choice (two
// compilations of the same loop differ). The assembly copies the order of
// optim.Adam's loop as Go 1.26 compiled it: (g'-m)*OB1 + m,
// (OB2*g')*g' + v*B2 (g'*(g'*OB2) with L2), L2*p + g, p*Decay, m*StepSize,
// sqrt(v)*InvBC2 + Eps. It runs on the calling goroutine and allocates
// nothing. It panics if g, m or v is shorter than p.
func AdamUpdate(p, g, m, v []float32, s AdamScalars) {
	n := len(p)
	if len(g) < n || len(m) < n || len(v) < n {
		panic(fmt.Sprintf("kernels: AdamUpdate: %d parameters, %d gradients, %d and %d moments", n, len(g), len(m), len(v)))
	}
	if n == 0 {
		return
	}
	adamUpdate(p, g[:n], m[:n], v[:n], &s, s.variant())
}

// ReLU sets dst[i] = max(x[i], 0) for i < len(x), bit-identical to Go's
// builtin max: x for x > 0, +0 for x <= 0 (-0 included), and for a NaN the
// same NaN with its sign bit cleared (the builtin's lowering on amd64; the
// payload is kept and a signalling NaN is not quietened). It runs on the
// calling goroutine (splitting a DIM activation across two cores measured
// slower: one core already saturates memory) and allocates nothing. It
// panics if dst is shorter than x.
func ReLU(dst, x []float32) {
	n := len(x)
	if len(dst) < n {
		panic(fmt.Sprintf("kernels: ReLU: %d outputs for %d inputs", len(dst), n))
	}
	if n > 0 {
		relu(dst[:n], x)
	}
}

// ReLUBackward sets gx[i] = g[i] where y[i] > 0 and +0 elsewhere (NaN y
// included), for i < len(g): the gradient of ReLU written into a fresh
// buffer, y being the forward output. The values of g are copied bit for
// bit. It runs on the calling goroutine and allocates nothing. It panics
// if gx or y is shorter than g.
func ReLUBackward(gx, g, y []float32) {
	n := len(g)
	if len(gx) < n || len(y) < n {
		panic(fmt.Sprintf("kernels: ReLUBackward: %d gradients, %d outputs for %d incoming", len(gx), len(y), n))
	}
	if n > 0 {
		reluBackward(gx[:n], g, y[:n])
	}
}

// Add sets dst[i] = a[i] + b[i] for i < len(dst) (dst may be a or b, so
// Add(dst, dst, src) adds src into dst): 64 values an iteration with
// AVX-512, bit for bit the scalar loop's (an addition's result does not
// depend on its operands' order). It panics when a or b is shorter than
// dst.
func Add(dst, a, b []float32) {
	n := len(dst)
	if len(a) < n || len(b) < n {
		panic(fmt.Sprintf("kernels: Add: %d and %d operands for %d outputs", len(a), len(b), n))
	}
	if n > 0 {
		add(dst, a[:n], b[:n])
	}
}

// addGo is Add's scalar loop; all slices have the same length.
func addGo(dst, a, b []float32) {
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

// ReLUBackwardAdd adds g[i] into gx[i] where y[i] > 0 (gx[i] = g[i] + gx[i],
// in that operand order) and leaves gx[i] untouched elsewhere (NaN y
// included), for i < len(g): the gradient of ReLU accumulated into an
// existing buffer, bit-identical to the scalar loop (see AdamUpdate for
// two NaNs). It runs on the calling goroutine and allocates nothing. It
// panics if gx or y is shorter than g.
func ReLUBackwardAdd(gx, g, y []float32) {
	n := len(g)
	if len(gx) < n || len(y) < n {
		panic(fmt.Sprintf("kernels: ReLUBackwardAdd: %d gradients, %d outputs for %d incoming", len(gx), len(y), n))
	}
	if n > 0 {
		reluBackwardAdd(gx[:n], g, y[:n])
	}
}

// adamUpdateGo is the scalar Adam loop; all slices have the same length.
// AllFinite reports whether every element of x is finite (neither NaN nor
// ±Inf): 16 values a compare with AVX-512, which checks dim embed's 3.6M
// features of a 500-image batch in a fraction of a millisecond.
func AllFinite(x []float32) bool {
	if len(x) == 0 {
		return true
	}
	return allFinite(x)
}

// allFiniteGo is AllFinite's portable loop: x - x is 0 for a finite x and
// NaN for ±Inf and NaN.
func allFiniteGo(x []float32) bool {
	for _, v := range x {
		if v-v != 0 {
			return false
		}
	}
	return true
}

// Clear sets every element of s to zero, on all cores when s is large
// (clearParallelMin values or more): a parameter's gradient of millions of
// values is cleared at the memory bandwidth of every core, not of one. It
// allocates nothing in steady state.
func Clear(s []float32) {
	if len(s) < clearParallelMin || Workers() == 1 {
		clear(s)
		return
	}
	j := clearFree.get()
	j.s = s
	j.chunks = min(4*Workers(), len(s)/clearParallelMin*4)
	parallelRun(j, j.chunks, Workers())
	j.s = nil
	clearFree.put(j)
}

// clearParallelMin is the length from which Clear splits its work.
const clearParallelMin = 1 << 16

// clearJob is one Clear call in flight, recycled through clearFree.
type clearJob struct {
	s      []float32
	chunks int
}

var clearFree freeList[clearJob]

func (j *clearJob) runChunk(_, c int) {
	n := len(j.s)
	clear(j.s[c*n/j.chunks : (c+1)*n/j.chunks])
}

func adamUpdateGo(pd, gd, md, vd []float32, k *AdamScalars, variant int) {
	stepSize, invBC2, b2, ob1, ob2, eps, l2, decay := k.StepSize, k.InvBC2, k.B2, k.OB1, k.OB2, k.Eps, k.L2, k.Decay
	gd, md, vd = gd[:len(pd)], md[:len(pd)], vd[:len(pd)]
	switch variant {
	case adamL2:
		for j, pj := range pd {
			g := gd[j] + float32(l2*pj)
			m := md[j] + float32(ob1*(g-md[j])) // each product rounded: no fused multiply-add
			v := float32(b2*vd[j]) + float32(float32(ob2*g)*g)
			md[j], vd[j] = m, v
			pd[j] = pj - float32(stepSize*m)/(float32(float32(math.Sqrt(float64(v)))*invBC2)+eps)
		}
	case adamDecay:
		for j, pj := range pd {
			pj *= decay
			g := gd[j]
			m := md[j] + float32(ob1*(g-md[j])) // each product rounded: no fused multiply-add
			v := float32(b2*vd[j]) + float32(float32(ob2*g)*g)
			md[j], vd[j] = m, v
			pd[j] = pj - float32(stepSize*m)/(float32(float32(math.Sqrt(float64(v)))*invBC2)+eps)
		}
	default:
		for j, pj := range pd {
			g := gd[j]
			m := md[j] + float32(ob1*(g-md[j])) // each product rounded: no fused multiply-add
			v := float32(b2*vd[j]) + float32(float32(ob2*g)*g)
			md[j], vd[j] = m, v
			pd[j] = pj - float32(stepSize*m)/(float32(float32(math.Sqrt(float64(v)))*invBC2)+eps)
		}
	}
}

// reluGo is the scalar ReLU loop; len(dst) == len(x).
// gatherGo is gather's portable loop.
func gatherGo(dst, src []float32, idx []int32) {
	dst = dst[:len(idx)]
	for i, j := range idx {
		if j < 0 {
			dst[i] = 0
		} else {
			dst[i] = src[j]
		}
	}
}

func reluGo(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = max(v, 0)
	}
}

// reluBackwardGo is the scalar loop of ReLUBackward; equal lengths.
func reluBackwardGo(gx, g, y []float32) {
	gx, y = gx[:len(g)], y[:len(g)]
	for i, v := range g {
		if y[i] > 0 {
			gx[i] = v
		} else {
			gx[i] = 0
		}
	}
}

// reluBackwardAddGo is the scalar loop of ReLUBackwardAdd; equal lengths.
func reluBackwardAddGo(gx, g, y []float32) {
	gx, y = gx[:len(g)], y[:len(g)]
	for i, v := range g {
		if y[i] > 0 {
			gx[i] += v
		}
	}
}
