package autograd

import (
	"slices"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// TestDropGrad checks that a dropped gradient is written afresh, in its own
// buffer, by the next backward pass: the same values as accumulating into a
// cleared buffer, whether the parameter is used once (a fresh product) or
// twice (fresh, then added into), while a parameter the pass does not
// reach keeps a nil gradient.
func TestDropGrad(t *testing.T) {
	rng := tensor.NewRNG(41)
	x := randTensor(rng, -1, 1, 5, 7)
	w0 := randTensor(rng, -1, 1, 3, 7)
	b0 := randTensor(rng, -1, 1, 3)
	for _, twice := range []bool{false, true} {
		loss := func(tp *Tape, w, b *Var) *Var {
			y := tp.Linear(tp.Const(x), w, b)
			if twice {
				y = tp.Add(y, tp.Linear(tp.Const(x), w, nil))
			}
			return tp.Sum(tp.Mul(y, y))
		}
		// Reference: gradients accumulated into cleared buffers.
		wr, br := NewParam(w0.Clone()), NewParam(b0.Clone())
		rt := NewTape()
		if err := rt.Backward(loss(rt, wr, br)); err != nil {
			t.Fatal(err)
		}
		tp := NewTape()
		w, b, unused := NewParam(w0.Clone()), NewParam(b0.Clone()), NewParam(tensor.New(4))
		w.Grad.Fill(7) // stale values a fresh write must not see
		b.Grad.Fill(7)
		wbuf := w.Grad
		for _, v := range []*Var{w, b, unused} {
			v.DropGrad()
			if v.Grad != nil {
				t.Fatal("DropGrad left a gradient")
			}
		}
		if err := tp.Backward(loss(tp, w, b)); err != nil {
			t.Fatal(err)
		}
		if w.Grad != wbuf {
			t.Errorf("twice=%v: the dropped buffer was not reused", twice)
		}
		if unused.Grad != nil {
			t.Errorf("a parameter the pass does not reach got a gradient")
		}
		if !slices.Equal(w.Grad.Data, wr.Grad.Data) || !slices.Equal(b.Grad.Data, br.Grad.Data) {
			t.Errorf("twice=%v: gradients %v %v, want %v %v", twice, w.Grad.Data, b.Grad.Data, wr.Grad.Data, br.Grad.Data)
		}
		// A second pass without DropGrad adds into the gradient.
		tp.Reset()
		if err := tp.Backward(loss(tp, w, b)); err != nil {
			t.Fatal(err)
		}
		for i, g := range w.Grad.Data {
			if g != 2*wr.Grad.Data[i] {
				t.Fatalf("twice=%v: accumulated gradient %v, want %v", twice, g, 2*wr.Grad.Data[i])
			}
		}
		// EnsureGrad gives back the dropped buffer, cleared.
		w.DropGrad()
		if g := w.EnsureGrad(); g != wbuf || slices.ContainsFunc(g.Data, func(v float32) bool { return v != 0 }) {
			t.Errorf("EnsureGrad: %p %v, want the dropped buffer %p cleared", g, g.Data, wbuf)
		}
		if g := unused.EnsureGrad(); len(g.Data) != 4 || g.Data[0] != 0 {
			t.Errorf("EnsureGrad of an unused parameter: %v", g.Data)
		}
	}
}

// TestDropGradResized checks that a parameter whose value changed size
// after DropGrad gets a gradient buffer of its own, not one of the tape's
// (which the tape hands out again after Reset).
func TestDropGradResized(t *testing.T) {
	rng := tensor.NewRNG(43)
	w := NewParam(randTensor(rng, -1, 1, 3, 4))
	w.DropGrad()
	w.Value = randTensor(rng, -1, 1, 2, 4)
	tp := NewTape()
	if err := tp.Backward(tp.Sum(tp.Linear(tp.Const(randTensor(rng, -1, 1, 5, 4)), w, nil))); err != nil {
		t.Fatal(err)
	}
	g := w.Grad
	if g == nil || len(g.Data) != 8 {
		t.Fatalf("gradient %v, want 2 x 4 values", g)
	}
	for _, b := range tp.bufs {
		if b == g {
			t.Fatal("the parameter's gradient is one of the tape's buffers")
		}
	}
}
