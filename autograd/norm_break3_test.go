package autograd

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// Adversarial tests of BatchNormReLU's backward pass, which masks the
// gradient in its own passes (kernels' ReLU variants; rows for S == 1,
// gathered channels for S < 32, planes for S >= 32), written in review
// (third round): bit for bit against BatchNorm followed by ReLU on every
// path, in training and evaluation, fresh and accumulated gradients, with
// NaN and infinite upstream gradients where the ReLU clips; and against
// finite differences.

// b3NormShapes cover ranks 2 to 4; S of 1, 2, 31, 32 and 33 (either side
// of the plane kernels), 49 and 256; one channel, 8 (one gather), 9 and 17
// (a partial gather), over 256 (the rows' reduction blocks); a batch over
// normChunkRows with an odd last row; and sizes over normParMin, so that
// the passes are split across the pool.
var b3NormShapes = [][]int{
	{2, 3}, {65, 7}, {3, 300}, {700, 50},
	{5, 9, 2}, {4, 17, 31}, {3, 8, 32}, {2, 9, 33}, {40, 9, 33},
	{2, 1, 1, 31}, {3, 5, 4, 8}, {2, 17, 3, 11}, {4, 3, 7, 7}, {8, 17, 16, 16}, {1, 2, 8, 8},
}

// b3BN runs BatchNormReLU (fused) or ReLU(BatchNorm) on x under the given
// options, backward from seed, and returns the output, the gradients of
// x, gamma and beta (nil where absent) and the running statistics.
type b3BNOpts struct {
	affine   int // 0 none, 1 gamma, 2 beta, 3 both
	training bool
	freshX   bool // x's gradient written fresh (dropped) or added into
	twice    bool // x feeds the output a second time (its gradient accumulated)
	constX   bool // x needs no gradient (only gamma's and beta's sums run)
}

func b3BN(t *testing.T, x, gamma, beta, rm, rv, seed, gx0, gg0, gb0 *tensor.Tensor, o b3BNOpts, fused bool) (y []float32, grads [][]float32, stats [][]float32) {
	t.Helper()
	tp := NewTape()
	xv := NewParam(x.Clone())
	copy(xv.Grad.Data, gx0.Data)
	if o.constX {
		xv = NewConst(x.Clone())
	} else if o.freshX {
		// A dropped gradient full of NaN: the fresh pass must write all of it.
		xv.Grad.Fill(float32(math.NaN()))
		xv.DropGrad()
	}
	var g, b *Var
	if o.affine&1 != 0 {
		g = NewParam(gamma.Clone())
		copy(g.Grad.Data, gg0.Data)
	}
	if o.affine&2 != 0 {
		b = NewParam(beta.Clone())
		copy(b.Grad.Data, gb0.Data)
	}
	rmc, rvc := rm.Clone(), rv.Clone()
	var out *Var
	if fused {
		out = tp.BatchNormReLU(xv, g, b, rmc, rvc, o.training, 0.1, 1e-5)
	} else {
		out = tp.ReLU(tp.BatchNorm(xv, g, b, rmc, rvc, o.training, 0.1, 1e-5))
	}
	if o.twice {
		out = tp.Add(out, tp.Scale(xv, 0.5))
	}
	if err := tp.Err(); err != nil {
		t.Fatal(err)
	}
	if err := tp.BackwardWith(out, seed); err != nil {
		t.Fatal(err)
	}
	grads = [][]float32{nil, nil, nil}
	if !o.constX {
		grads[0] = xv.Grad.Data
	}
	if g != nil {
		grads[1] = g.Grad.Data
	}
	if b != nil {
		grads[2] = b.Grad.Data
	}
	return out.Value.Data, grads, [][]float32{rmc.Data, rvc.Data}
}

// b3SameBits reports the first index where a and b differ in bits (any
// two NaNs equal), or -1.
func b3SameBits(a, b []float32) int {
	if len(a) != len(b) {
		return 0
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
			return i
		}
	}
	return -1
}

// TestBreak3BatchNormReLUBits: on every shape of b3NormShapes, each
// affine variant, training and evaluation, x's gradient fresh or added
// into, x used once or twice: BatchNormReLU's output, running statistics
// and every gradient have the bits of ReLU(BatchNorm). The upstream
// gradient holds NaN and infinities where the ReLU clips (which the mask
// must stop: every gradient stays finite), and some outputs are exactly 0
// (x at the mean of a constant channel).
func TestBreak3BatchNormReLUBits(t *testing.T) {
	rng := tensor.NewRNG(303)
	for si, shape := range b3NormShapes {
		C, S := shape[1], 1
		for _, d := range shape[2:] {
			S *= d
		}
		x := randTensor(rng, -2, 2, shape...)
		if C > 1 {
			// Channel 1 constant: its outputs are exactly beta's (0 without).
			for n := range shape[0] {
				for s := range S {
					x.Data[(n*C+1)*S+s] = 0.75
				}
			}
		}
		gamma, beta := randTensor(rng, 0.5, 2, C), randTensor(rng, -0.5, 0.5, C)
		gamma.Data[0] = -gamma.Data[0] // a negative scale
		rm, rv := randTensor(rng, -1, 1, C), randTensor(rng, 0.5, 2, C)
		gx0, gg0, gb0 := randTensor(rng, -1, 1, shape...), randTensor(rng, -1, 1, C), randTensor(rng, -1, 1, C)
		for _, training := range []bool{true, false} {
			for affine := range 4 {
				for _, fresh := range []bool{true, false} {
					for _, twice := range []bool{false, true} {
						if si%2 == 1 && twice && !fresh {
							continue // keep the table small
						}
						o := b3BNOpts{affine: affine, training: training, freshX: fresh, twice: twice}
						name := fmt.Sprintf("%v %+v", shape, o)
						seed := randTensor(rng, -1, 1, shape...)
						// Specials where the ReLU clips (found on a forward run).
						y0, _, _ := b3BN(t, x, gamma, beta, rm, rv, seed, gx0, gg0, gb0, o, true)
						clipped := 0
						for i, v := range y0 {
							if twice {
								break // the output is not the ReLU's
							}
							if v == 0 {
								seed.Data[i] = []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e30}[clipped%4]
								clipped++
							}
						}
						y, g, st := b3BN(t, x, gamma, beta, rm, rv, seed, gx0, gg0, gb0, o, true)
						wy, wg, wst := b3BN(t, x, gamma, beta, rm, rv, seed, gx0, gg0, gb0, o, false)
						if i := b3SameBits(y, wy); i >= 0 {
							t.Fatalf("%s: output %d = %v, ReLU(BatchNorm) %v", name, i, y[i], wy[i])
						}
						for k := range st {
							if i := b3SameBits(st[k], wst[k]); i >= 0 {
								t.Fatalf("%s: running statistic %d[%d] = %v, want %v", name, k, i, st[k][i], wst[k][i])
							}
						}
						for k := range g {
							if i := b3SameBits(g[k], wg[k]); i >= 0 {
								t.Fatalf("%s: gradient %d[%d] = %v, ReLU(BatchNorm) %v", name, k, i, g[k][i], wg[k][i])
							}
							for i, v := range g[k] {
								if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
									t.Fatalf("%s: gradient %d[%d] = %v: a clipped output's special leaked", name, k, i, v)
								}
							}
						}
						if !twice && (clipped == 0 || clipped == len(y0)) {
							t.Fatalf("%s: %d of %d outputs clipped", name, clipped, len(y0))
						}
					}
				}
			}
		}
	}
}

// TestBreak3BatchNormReLUOneImage: evaluation mode on a single row
// ([1,C], the rows path's lone odd row) and a single image ([1,C,S] with S
// either side of 32), and x needing no gradient (only gamma's and beta's
// masked sums run): BatchNormReLU has ReLU(BatchNorm)'s bits.
func TestBreak3BatchNormReLUOneImage(t *testing.T) {
	rng := tensor.NewRNG(307)
	for _, shape := range [][]int{{1, 6}, {1, 300}, {1, 5, 31}, {1, 5, 32}, {1, 3, 5, 7}, {3, 4}, {4, 9, 33}, {3, 10, 5}} {
		C := shape[1]
		x := randTensor(rng, -2, 2, shape...)
		gamma, beta := randTensor(rng, 0.5, 2, C), randTensor(rng, -0.5, 0.5, C)
		rm, rv := randTensor(rng, -1, 1, C), randTensor(rng, 0.5, 2, C)
		gx0, gg0, gb0 := randTensor(rng, -1, 1, shape...), randTensor(rng, -1, 1, C), randTensor(rng, -1, 1, C)
		seed := randTensor(rng, -1, 1, shape...)
		for _, o := range []b3BNOpts{
			{affine: 3, training: false, freshX: true},
			{affine: 3, training: false, freshX: false},
			{affine: 3, training: false, constX: true},
			{affine: 1, training: false, constX: true},
			{affine: 2, training: true, constX: true},
			{affine: 3, training: true, constX: true},
		} {
			if o.training && x.Size()/C < 2 { // training needs two values a channel
				continue
			}
			name := fmt.Sprintf("%v %+v", shape, o)
			y, g, st := b3BN(t, x, gamma, beta, rm, rv, seed, gx0, gg0, gb0, o, true)
			wy, wg, wst := b3BN(t, x, gamma, beta, rm, rv, seed, gx0, gg0, gb0, o, false)
			if i := b3SameBits(y, wy); i >= 0 {
				t.Fatalf("%s: output %d = %v, want %v", name, i, y[i], wy[i])
			}
			for k := range st {
				if i := b3SameBits(st[k], wst[k]); i >= 0 {
					t.Fatalf("%s: statistic %d[%d] differs", name, k, i)
				}
			}
			for k := range g {
				if i := b3SameBits(g[k], wg[k]); i >= 0 {
					t.Fatalf("%s: gradient %d[%d] = %v, want %v", name, k, i, g[k][i], wg[k][i])
				}
			}
		}
	}
}

// TestBreak3BatchNormReLUNaNInput: a NaN in x makes its channel's mean
// (training) and outputs NaN; ReLU(NaN) is NaN, which does not pass the
// gradient. The fused op must still match ReLU(BatchNorm) bit for bit
// (NaNs as NaNs) and keep the other channels' gradients finite.
func TestBreak3BatchNormReLUNaNInput(t *testing.T) {
	rng := tensor.NewRNG(304)
	for _, shape := range [][]int{{9, 4}, {3, 4, 5}, {2, 4, 6, 6}, {70, 4}} {
		C, S := shape[1], 1
		for _, d := range shape[2:] {
			S *= d
		}
		x := randTensor(rng, -2, 2, shape...)
		x.Data[2*S+1] = float32(math.NaN()) // image 0, channel 2
		gamma, beta := randTensor(rng, 0.5, 2, C), randTensor(rng, -0.5, 0.5, C)
		rm, rv := randTensor(rng, -1, 1, C), randTensor(rng, 0.5, 2, C)
		seed := randTensor(rng, -1, 1, shape...)
		z := tensor.New(shape...)
		zc := tensor.New(C)
		for _, training := range []bool{true, false} {
			o := b3BNOpts{affine: 3, training: training, freshX: true}
			y, g, _ := b3BN(t, x, gamma, beta, rm, rv, seed, z, zc, zc, o, true)
			wy, wg, _ := b3BN(t, x, gamma, beta, rm, rv, seed, z, zc, zc, o, false)
			name := fmt.Sprintf("%v training=%v", shape, training)
			if i := b3SameBits(y, wy); i >= 0 {
				t.Fatalf("%s: output %d = %v, want %v", name, i, y[i], wy[i])
			}
			for k := range g {
				if i := b3SameBits(g[k], wg[k]); i >= 0 {
					t.Fatalf("%s: gradient %d[%d] = %v, want %v", name, k, i, g[k][i], wg[k][i])
				}
			}
			// Channel 0's gradients do not see channel 2's NaN.
			for n := range shape[0] {
				for s := range S {
					if v := g[0][n*C*S+s]; v != v {
						t.Fatalf("%s: x gradient of channel 0 is NaN", name)
					}
				}
			}
		}
	}
}

// TestBreak3BatchNormReLUGradFD: BatchNormReLU's gradients (x, gamma,
// beta) against central finite differences on ranks 2, 3 and 4 with S of
// 1, 31, 32 and 33 (every masking path), in training and evaluation.
func TestBreak3BatchNormReLUGradFD(t *testing.T) {
	rng := tensor.NewRNG(305)
	for _, shape := range [][]int{{12, 5}, {3, 2, 31}, {3, 2, 32}, {2, 3, 33}, {2, 3, 4, 8}, {2, 2, 3, 11}} {
		C := shape[1]
		for _, training := range []bool{true, false} {
			rm, rv := randTensor(rng, -0.3, 0.3, C), randTensor(rng, 0.5, 2, C)
			inputs := []*tensor.Tensor{randTensor(rng, -2, 2, shape...), randTensor(rng, 0.5, 2, C), randTensor(rng, -0.5, 0.5, C)}
			if !training {
				// Keep the outputs away from the ReLU's kink: x away
				// from the point where (x-rm)*gamma/sd + beta = 0.
				for i := range inputs[0].Data {
					c := (i / max(1, inputs[0].Size()/shape[0]/C)) % C
					sd := float32(math.Sqrt(float64(rv.Data[c]) + 1e-5))
					k := rm.Data[c] - inputs[2].Data[c]*sd/inputs[1].Data[c]
					if d := inputs[0].Data[i] - k; d > -0.1 && d < 0.1 {
						inputs[0].Data[i] += 0.25
					}
				}
			}
			checkGrad(t, gradCase{
				name:   fmt.Sprintf("batchnormrelu %v training=%v", shape, training),
				inputs: inputs,
				h:      1e-3,
				build: func(tp *Tape, in []*Var) *Var {
					return tp.BatchNormReLU(in[0], in[1], in[2], rm.Clone(), rv.Clone(), training, 0.1, 1e-5)
				},
			})
		}
	}
}

// TestBreak3BatchNormReLUReuse: the same tape reset and reused for many
// steps of BatchNormReLU on different shapes (its jobs recycled, their ReLU
// output dropped between passes): each step's gradients have the bits of a
// fresh tape's, and a plain BatchNorm after a BatchNormReLU does not mask.
func TestBreak3BatchNormReLUReuse(t *testing.T) {
	rng := tensor.NewRNG(306)
	tp := NewTape()
	for step := range 12 {
		shape := b3NormShapes[(step*5)%len(b3NormShapes)]
		C := shape[1]
		x := randTensor(rng, -2, 2, shape...)
		gamma, beta := randTensor(rng, 0.5, 2, C), randTensor(rng, -0.5, 0.5, C)
		seed := randTensor(rng, -1, 1, shape...)
		run := func(tp *Tape, fusedFirst bool) [][]float32 {
			tp.Reset()
			xv, gv, bv := NewParam(x.Clone()), NewParam(gamma.Clone()), NewParam(beta.Clone())
			var y *Var
			if fusedFirst {
				y = tp.BatchNorm(tp.BatchNormReLU(xv, gv, bv, nil, nil, true, 0.1, 1e-5), nil, nil, nil, nil, true, 0.1, 1e-5)
			} else {
				y = tp.BatchNorm(tp.ReLU(tp.BatchNorm(xv, gv, bv, nil, nil, true, 0.1, 1e-5)), nil, nil, nil, nil, true, 0.1, 1e-5)
			}
			if err := tp.BackwardWith(y, seed); err != nil {
				t.Fatal(err)
			}
			return [][]float32{slices.Clone(y.Value.Data), xv.Grad.Data, gv.Grad.Data, bv.Grad.Data}
		}
		got := run(tp, true)
		want := run(NewTape(), false)
		for k := range want {
			if i := b3SameBits(got[k], want[k]); i >= 0 {
				t.Fatalf("step %d %v: result %d[%d] = %v, want %v", step, shape, k, i, got[k][i], want[k][i])
			}
		}
	}
}
