package autograd

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/internal/testutil"

	"github.com/deepinfomax/deepinfomax/kernels"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Adversarial tests of the channels-last permute (kernels.Transpose per
// item for the forward pass and a fresh backward pass, the strided loop
// for an accumulated one), written in review (third round), and a check
// that BatchNormReLU and the permute give the same bits with any number
// of workers (child processes with different GOMAXPROCS).

// b3PermuteRef returns x permuted by perm, element by element.
func b3PermuteRef(x *tensor.Tensor, perm []int) []float32 {
	xs := x.Shape
	rank := len(xs)
	osh := make([]int, rank)
	for i, p := range perm {
		osh[i] = xs[p]
	}
	inStride := make([]int, rank)
	s := 1
	for i := rank - 1; i >= 0; i-- {
		inStride[i] = s
		s *= xs[i]
	}
	out := make([]float32, s)
	idx := make([]int, rank)
	for o := range out {
		rem, in := o, 0
		for i := rank - 1; i >= 0; i-- {
			idx[i] = rem % osh[i]
			rem /= osh[i]
			in += idx[i] * inStride[perm[i]]
		}
		out[o] = x.Data[in]
	}
	return out
}

// b3InversePerm returns the permutation that undoes perm.
func b3InversePerm(perm []int) []int {
	inv := make([]int, len(perm))
	for i, p := range perm {
		inv[p] = i
	}
	return inv
}

// b3PermuteCases: channels last on ranks 3 to 5 (one channel, one
// position, odd sizes around the transposer's 16 x 16 blocks, the MI
// networks' [64,128,7,7], a first axis of 1 with over permuteParallelMin
// values, a large one split across the pool), and permutations that
// resemble it but are not (channels first, a swap of the spatial axes,
// axis 0 moved).
var b3PermuteCases = []struct {
	shape, perm []int
	last        bool // channelsLast(perm)
}{
	{[]int{2, 3, 5}, []int{0, 2, 1}, true},
	{[]int{3, 1, 7}, []int{0, 2, 1}, true},
	{[]int{3, 7, 1}, []int{0, 2, 1}, true},
	{[]int{1, 17, 33}, []int{0, 2, 1}, true},
	{[]int{2, 16, 4, 4}, []int{0, 2, 3, 1}, true},
	{[]int{3, 33, 5, 7}, []int{0, 2, 3, 1}, true},
	{[]int{64, 128, 7, 7}, []int{0, 2, 3, 1}, true},
	{[]int{1, 300, 15, 17}, []int{0, 2, 3, 1}, true},
	{[]int{5, 19, 3, 2, 11}, []int{0, 2, 3, 4, 1}, true},
	{[]int{0, 4, 3, 3}, []int{0, 2, 3, 1}, true},
	{[]int{3, 5, 7, 9}, []int{0, 3, 1, 2}, false},
	{[]int{3, 5, 7, 9}, []int{0, 3, 2, 1}, false},
	{[]int{3, 5, 7, 9}, []int{0, 1, 3, 2}, false},
	{[]int{3, 5, 7, 9}, []int{1, 2, 3, 0}, false},
	{[]int{64, 7, 7, 128}, []int{0, 3, 1, 2}, false},
	{[]int{4, 6}, []int{1, 0}, false},
}

// TestBreak3PermuteChannelsLast: for each case, channelsLast recognises
// the permutation; the forward values are the element-by-element
// permutation; x's gradient written fresh (its dropped buffer full of NaN)
// is the inverse permutation of the seed bit for bit, specials included;
// added into an existing gradient it is float32(g0 + that); with x used
// twice (through two permutes, or a permute and another op) it is the sum
// of both; and a permute followed by its inverse gives x's bits back.
func TestBreak3PermuteChannelsLast(t *testing.T) {
	rng := tensor.NewRNG(401)
	for _, c := range b3PermuteCases {
		name := fmt.Sprintf("%v perm %v", c.shape, c.perm)
		if got := channelsLast(c.perm); got != c.last {
			t.Fatalf("%s: channelsLast = %v, want %v", name, got, c.last)
		}
		x := randTensor(rng, -1, 1, c.shape...)
		if x.Size() > 2 {
			x.Data[1] = float32(math.NaN())
			x.Data[x.Size()-1] = float32(math.Inf(-1))
			x.Data[x.Size()/2] = float32(math.Copysign(0, -1))
		}
		want := b3PermuteRef(x, c.perm)
		osh := make([]int, len(c.perm))
		for i, p := range c.perm {
			osh[i] = c.shape[p]
		}
		seed := randTensor(rng, -1, 1, osh...)
		if seed.Size() > 3 {
			seed.Data[2] = float32(math.Inf(1))
			seed.Data[3] = math.Float32frombits(0x7fc0beef)
		}
		seed2 := randTensor(rng, -1, 1, osh...)
		inv := b3InversePerm(c.perm)
		back := b3PermuteRef(seed, inv)
		back2 := b3PermuteRef(seed2, inv)

		// Forward, and a fresh gradient into a dropped buffer of NaNs.
		tp := NewTape()
		xv := NewParam(x.Clone())
		xv.Grad.Fill(float32(math.NaN()))
		xv.DropGrad()
		out := tp.Permute(xv, c.perm...)
		if err := tp.BackwardWith(out, seed); err != nil {
			t.Fatal(err)
		}
		if i := b3SameBits(out.Value.Data, want); i >= 0 {
			t.Fatalf("%s: output %d = %v, want %v", name, i, out.Value.Data[i], want[i])
		}
		if i := b3SameBits(xv.Grad.Data, back); i >= 0 {
			t.Fatalf("%s: fresh gradient %d = %v, want %v", name, i, xv.Grad.Data[i], back[i])
		}
		for i, v := range xv.Grad.Data {
			if math.Float32bits(v) != math.Float32bits(back[i]) {
				t.Fatalf("%s: fresh gradient %d = %#08x, want the seed's bits %#08x", name, i, math.Float32bits(v), math.Float32bits(back[i]))
			}
		}

		// Added into an existing gradient.
		tp = NewTape()
		g0 := randTensor(rng, -1, 1, c.shape...)
		xv = NewParam(x.Clone())
		copy(xv.Grad.Data, g0.Data)
		out = tp.Permute(xv, c.perm...)
		if err := tp.BackwardWith(out, seed); err != nil {
			t.Fatal(err)
		}
		for i, v := range xv.Grad.Data {
			if w := g0.Data[i] + back[i]; math.Float32bits(v) != math.Float32bits(w) && !(v != v && w != w) {
				t.Fatalf("%s: accumulated gradient %d = %v, want %v", name, i, v, w)
			}
		}

		// x used twice: two permutes (one fresh, one added), and a
		// permute beside another op.
		for _, other := range []bool{false, true} {
			tp = NewTape()
			xv = NewParam(x.Clone())
			xv.DropGrad()
			h := tp.Scale(xv, 1) // an intermediate: its gradient is fresh
			p1 := tp.Permute(h, c.perm...)
			var loss *Var
			if other {
				loss = tp.Add(tp.Sum(tp.Mul(p1, tp.Const(seed))), tp.Sum(tp.Mul(h, tp.Const(&tensor.Tensor{Shape: c.shape, Data: back2}))))
			} else {
				p2 := tp.Permute(h, c.perm...)
				loss = tp.Add(tp.Sum(tp.Mul(p1, tp.Const(seed))), tp.Sum(tp.Mul(p2, tp.Const(seed2))))
			}
			if err := tp.Backward(loss); err != nil {
				t.Fatal(err)
			}
			for i, v := range xv.Grad.Data {
				if w := back[i] + back2[i]; math.Float32bits(v) != math.Float32bits(w) && !(v != v && w != w) {
					t.Fatalf("%s other=%v: gradient of x used twice %d = %v, want %v", name, other, i, v, w)
				}
			}
		}

		// There and back.
		tp = NewTape()
		rt := tp.Permute(tp.Permute(tp.Const(x), c.perm...), inv...)
		if i := b3SameBits(rt.Value.Data, x.Data); i >= 0 || len(rt.Value.Data) != x.Size() {
			t.Fatalf("%s: permute and back: %d = %v, want %v", name, i, rt.Value.Data[max(i, 0)], x.Data[max(i, 0)])
		}
	}
}

// TestBreak3PermuteReuse: a tape reused across steps of different
// channels-last shapes (the permute jobs recycled, large and small, fresh
// and accumulated), each step's gradients exactly the reference's.
func TestBreak3PermuteReuse(t *testing.T) {
	rng := tensor.NewRNG(402)
	tp := NewTape()
	for step := range 10 {
		c := b3PermuteCases[step%9]
		x := randTensor(rng, -1, 1, c.shape...)
		osh := make([]int, len(c.perm))
		for i, p := range c.perm {
			osh[i] = c.shape[p]
		}
		seed := randTensor(rng, -1, 1, osh...)
		tp.Reset()
		xv := NewParam(x.Clone())
		if step%2 == 0 {
			xv.DropGrad()
		}
		out := tp.Permute(xv, c.perm...)
		if err := tp.BackwardWith(out, seed); err != nil {
			t.Fatal(err)
		}
		want := b3PermuteRef(seed, b3InversePerm(c.perm))
		if i := b3SameBits(xv.Grad.Data, want); i >= 0 {
			t.Fatalf("step %d %v: gradient %d = %v, want %v", step, c.shape, i, xv.Grad.Data[i], want[i])
		}
		if i := b3SameBits(out.Value.Data, b3PermuteRef(x, c.perm)); i >= 0 {
			t.Fatalf("step %d %v: output %d wrong", step, c.shape, i)
		}
	}
}

// TestBreak3AutogradWorkersHelper is run by TestBreak3AutogradWorkerBits
// in child processes: BatchNormReLU (forward, running statistics and
// every gradient) on b3NormShapes in training and evaluation, and the
// channels-last permutes with their gradients, hashed.
func TestBreak3AutogradWorkersHelper(t *testing.T) {
	if os.Getenv("BREAK3_AUTOGRAD_HELPER") == "" {
		t.Skip("run by TestBreak3AutogradWorkerBits")
	}
	fmt.Printf("B3 workers %d\n", kernels.Workers())
	rng := tensor.NewRNG(499)
	for _, shape := range b3NormShapes {
		C := shape[1]
		x := randTensor(rng, -2, 2, shape...)
		gamma, beta := randTensor(rng, 0.5, 2, C), randTensor(rng, -0.5, 0.5, C)
		rm, rv := randTensor(rng, -1, 1, C), randTensor(rng, 0.5, 2, C)
		seed := randTensor(rng, -1, 1, shape...)
		gx0, gg0, gb0 := randTensor(rng, -1, 1, shape...), randTensor(rng, -1, 1, C), randTensor(rng, -1, 1, C)
		for _, training := range []bool{true, false} {
			for _, fused := range []bool{true, false} {
				o := b3BNOpts{affine: 3, training: training, freshX: fused, twice: !fused}
				y, g, st := b3BN(t, x, gamma, beta, rm, rv, seed, gx0, gg0, gb0, o, fused)
				fmt.Printf("B3 %s %s\n", strings.ReplaceAll(fmt.Sprintf("bn/%v/%v/%v", shape, training, fused), " ", "_"), testutil.HashBits(append(append([][]float32{y}, g...), st...)...))
			}
		}
	}
	for _, c := range b3PermuteCases {
		x := randTensor(rng, -1, 1, c.shape...)
		osh := make([]int, len(c.perm))
		for i, p := range c.perm {
			osh[i] = c.shape[p]
		}
		seed := randTensor(rng, -1, 1, osh...)
		tp := NewTape()
		xv := NewParam(x.Clone())
		xv.DropGrad()
		out := tp.Permute(xv, c.perm...)
		if err := tp.BackwardWith(out, seed); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("B3 %s %s\n", strings.ReplaceAll(fmt.Sprintf("permute/%v/%v", c.shape, c.perm), " ", "_"), testutil.HashBits(out.Value.Data, xv.Grad.Data))
	}
}

// TestBreak3AutogradWorkerBits: the hashes of TestBreak3AutogradWorkersHelper
// are the same with 1, 2, 3 and 5 workers.
func TestBreak3AutogradWorkerBits(t *testing.T) {
	if testing.Short() {
		t.Skip("child processes")
	}
	if os.Getenv("BREAK3_AUTOGRAD_HELPER") != "" {
		t.Skip("in a child")
	}
	run := func(procs int) map[string]string {
		return testutil.ChildHashes(t, "TestBreak3AutogradWorkersHelper", "BREAK3_AUTOGRAD_HELPER", procs)
	}
	base := run(1)
	if len(base) < len(b3NormShapes)*4 {
		t.Fatalf("%d hashes from the child", len(base))
	}
	for _, procs := range []int{2, 3, 5} {
		got := run(procs)
		for name, h := range base {
			if got[name] != h {
				t.Errorf("%s: GOMAXPROCS=%d gives %s, one worker %s", name, procs, got[name], h)
			}
		}
	}
}
