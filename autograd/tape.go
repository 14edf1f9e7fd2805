// Package autograd is a reverse-mode automatic differentiation engine over
// coarse tensor operations, each with a hand-written backward pass.
//
// Operations are methods of a Tape. The tape records every operation whose
// inputs need a gradient; Backward walks the record in reverse. The tape
// also owns every intermediate buffer: Reset rewinds it, and the next pass
// reuses the same Vars and tensors in the same order, so a training step
// that repeats the same computation allocates nothing once warm.
//
// A Var made by a Tape is valid until the tape's next Reset. Parameters
// (NewParam) live outside any tape and keep their gradient across passes;
// backward passes add into it, and an optimiser (or ZeroGrad) clears it.
//
// Operations have no error result, since they run many times a step.
// Their inputs must be Vars made by the same tape (since its last Reset),
// parameters (NewParam) or constants (NewConst); optional inputs (a bias,
// BatchNorm's gamma and beta) may be nil. An invalid argument (a nil
// required input or a Var without a value, mismatched shapes, an
// out-of-range axis) does not panic: the tape records the first such error,
// later operations return placeholders, and Err and Backward report it. A
// Var of another tape is not supported, and not detected.
package autograd

import (
	"fmt"
	"time"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// Var is a value in the computation graph: a tensor, the gradient of the
// loss with respect to it (when it needs one), and whether it does.
type Var struct {
	// Value is the forward value.
	Value *tensor.Tensor
	// Grad is the gradient of the loss with respect to Value, the same
	// shape; nil until a backward pass reaches the Var (and again after
	// DropGrad, until the next one does).
	Grad *tensor.Tensor

	requiresGrad bool
	// taped marks a Var the tape made (an op's output, Const, Leaf): its
	// gradient may share memory with another tape buffer.
	taped bool
	// spare is the buffer of a gradient dropped by DropGrad, taken back by
	// the next backward pass that reaches the Var.
	spare *tensor.Tensor
}

// NewParam returns a trainable leaf Var holding t, with a zeroed gradient
// of the same shape that backward passes accumulate into. It panics, with a
// message naming NewParam, when t is nil.
func NewParam(t *tensor.Tensor) *Var {
	if t == nil {
		panic("autograd: NewParam: nil tensor")
	}
	return &Var{Value: t, Grad: tensor.New(t.Shape...), requiresGrad: true}
}

// DropGrad sets v.Grad to nil, as PyTorch's zero_grad(set_to_none=True)
// does, and keeps its buffer: the next backward pass that reaches v writes
// its gradient into that buffer (a matrix product with beta 0) instead of
// adding it into one that was cleared first, which saves a pass over the
// memory of every large parameter each step. Until a backward pass reaches
// v, its Grad stays nil and optimisers skip it (optim's ZeroGrad calls
// DropGrad).
func (v *Var) DropGrad() {
	if v.Grad != nil {
		v.spare, v.Grad = v.Grad, nil
	}
}

// EnsureGrad returns v.Grad, first setting it to zeros if it is nil (in
// the buffer DropGrad kept, when there is one): for code that writes or
// adds gradients by hand, outside a backward pass.
func (v *Var) EnsureGrad() *tensor.Tensor {
	if v.Grad == nil {
		if v.Grad = v.takeSpare(); v.Grad != nil {
			v.Grad.Zero()
		} else {
			v.Grad = tensor.New(v.Value.Shape...)
		}
	}
	return v.Grad
}

// takeSpare returns v's dropped gradient buffer and forgets it, or nil when
// v has none. A Var whose gradient was dropped owns its buffer (it is not
// one of a tape's, which the tape reuses after Reset), so when its value
// changed size since, a new buffer of the new size takes the old one's
// place.
func (v *Var) takeSpare() *tensor.Tensor {
	s := v.spare
	v.spare = nil
	switch {
	case s == nil:
		return nil
	case len(s.Data) != v.Value.Size():
		return tensor.New(v.Value.Shape...)
	}
	s.Shape = append(s.Shape[:0], v.Value.Shape...)
	return s
}

// NewConst returns a leaf Var that needs no gradient, outside any tape.
func NewConst(t *tensor.Tensor) *Var { return &Var{Value: t} }

// RequiresGrad reports whether gradients flow to v.
func (v *Var) RequiresGrad() bool { return v.requiresGrad }

// Shape returns the shape of v's value.
func (v *Var) Shape() []int { return v.Value.Shape }

// Data returns v's value as a flat slice.
func (v *Var) Data() []float32 { return v.Value.Data }

// Item returns the single value of a one-element Var.
func (v *Var) Item() float32 { return v.Value.Data[0] }

// ZeroGrad sets the gradients of the given Vars to zero.
func ZeroGrad(vars ...*Var) {
	for _, v := range vars {
		if v.Grad != nil {
			v.Grad.Zero()
		}
	}
}

// backwardFunc propagates n.out.Grad to the gradients of n.in.
type backwardFunc func(tp *Tape, n *node)

// node records one operation for the backward pass. Ops keep their
// parameters in the small fixed arrays so recording allocates nothing.
type node struct {
	backward backwardFunc
	out      *Var
	in       []*Var
	ints     [8]int
	f        [4]float32
	aux      [4]*tensor.Tensor
	flag     bool
	rng      *tensor.RNG
}

// Tape records operations for reverse-mode differentiation and owns the
// buffers of their results. The zero value is not usable; call NewTape.
// A Tape is not safe for concurrent use.
type Tape struct {
	nodes []*node
	nn    int
	vars  []*Var
	nv    int
	bufs  []*tensor.Tensor
	nb    int
	heads []*tensor.Tensor
	nh    int

	noGrad bool
	err    error
	timer  *OpTimer // SetOpTimer's, or nil
}

// NewTape returns an empty tape.
func NewTape() *Tape { return &Tape{} }

// Reset forgets the recorded operations and makes every buffer the tape
// handed out available again. Vars and tensors obtained from the tape before
// Reset must not be used afterwards.
func (tp *Tape) Reset() {
	for i := 0; i < tp.nn; i++ {
		n := tp.nodes[i]
		n.out = nil
		clear(n.in)
		n.in = n.in[:0]
		n.aux = [4]*tensor.Tensor{}
		n.rng = nil
	}
	tp.nn, tp.nv, tp.nb, tp.nh = 0, 0, 0, 0
	tp.err = nil
}

// Err returns the first error an operation met since the last Reset (a
// shape mismatch, an invalid argument), or nil. After an error, operations
// return placeholder Vars and Backward returns the error.
func (tp *Tape) Err() error { return tp.err }

// fail records the first error and returns a placeholder Var.
func (tp *Tape) fail(format string, args ...any) *Var {
	if tp.err == nil {
		tp.err = fmt.Errorf("autograd: "+format, args...)
	}
	return tp.newVar(1)
}

// bad reports whether v, input arg of op, is unusable (nil, or without a
// value), after recording an error that names op and arg. It costs the two
// comparisons of a valid input.
func (tp *Tape) bad(op, arg string, v *Var) bool {
	if v != nil && v.Value != nil {
		return false
	}
	tp.badInput(op, arg, v)
	return true
}

// badInput records the error of bad for v.
func (tp *Tape) badInput(op, arg string, v *Var) {
	what := "is a nil Var"
	if v != nil {
		what = "is a Var without a value"
	}
	if tp.err == nil {
		tp.err = fmt.Errorf("autograd: %s: input %s %s", op, arg, what)
	}
}

// failed reports whether an earlier operation failed, so that operations can
// skip work (and shape checks) on placeholder inputs.
func (tp *Tape) failed() bool { return tp.err != nil }

// BufferBytes returns the bytes held by the tape's buffers (their
// capacity, whether in use or free): the activation memory of the largest
// pass run on it since it was made.
func (tp *Tape) BufferBytes() int64 {
	var n int64
	for _, b := range tp.bufs {
		n += int64(cap(b.Data)) * 4
	}
	for _, b := range tp.heads {
		if b != nil {
			n += int64(cap(b.Data)) * 4
		}
	}
	return n
}

// SetNoGrad turns recording off (true) or on (false). With recording off,
// operations compute values only, as for evaluation.
func (tp *Tape) SetNoGrad(off bool) { tp.noGrad = off }

// Buffer returns a scratch tensor of the given shape owned by the tape, with
// unspecified contents; it is reused after Reset. Like tensor.Resize, it
// panics on a negative extent.
func (tp *Tape) Buffer(shape ...int) *tensor.Tensor {
	if tp.nb == len(tp.bufs) {
		tp.bufs = append(tp.bufs, &tensor.Tensor{})
	}
	t := tp.bufs[tp.nb]
	tp.nb++
	t.Resize(shape...)
	return t
}

// zeroBuffer is Buffer with the contents set to zero.
func (tp *Tape) zeroBuffer(shape ...int) *tensor.Tensor {
	t := tp.Buffer(shape...)
	t.Zero()
	return t
}

// view returns a tape-owned tensor header over data with the given shape.
func (tp *Tape) view(data []float32, shape []int) *tensor.Tensor {
	if tp.nh == len(tp.heads) {
		tp.heads = append(tp.heads, &tensor.Tensor{})
	}
	t := tp.heads[tp.nh]
	tp.nh++
	t.Data = data
	t.Shape = append(t.Shape[:0], shape...)
	return t
}

// wrap returns a tape-owned Var over value, needing no gradient.
func (tp *Tape) wrap(value *tensor.Tensor) *Var {
	if tp.nv == len(tp.vars) {
		tp.vars = append(tp.vars, &Var{})
	}
	v := tp.vars[tp.nv]
	tp.nv++
	v.Value, v.Grad, v.requiresGrad, v.spare, v.taped = value, nil, false, nil, true
	return v
}

// newVar returns a tape-owned Var with a fresh value buffer of the shape.
func (tp *Tape) newVar(shape ...int) *Var { return tp.wrap(tp.Buffer(shape...)) }

// Const wraps t (without copying) as a Var that needs no gradient, valid
// until Reset. A nil t is an invalid argument: the tape records an error
// (see Err) and Const returns a placeholder.
func (tp *Tape) Const(t *tensor.Tensor) *Var {
	if t == nil {
		return tp.fail("const: nil tensor")
	}
	return tp.wrap(t)
}

// Leaf wraps t as a Var that collects a gradient (allocated from the tape
// and zeroed) without being a parameter: useful for gradients with respect
// to inputs. Valid until Reset. A nil t is an invalid argument, as for
// Const.
func (tp *Tape) Leaf(t *tensor.Tensor) *Var {
	if t == nil {
		return tp.fail("leaf: nil tensor")
	}
	v := tp.wrap(t)
	v.requiresGrad = true
	return v
}

// record makes out depend on ins through backward. Nil inputs (an absent
// bias) are left out of the node's inputs. It returns the node to fill with
// the op's parameters, or nil when no input needs a gradient (or recording
// is off), in which case nothing is recorded.
func (tp *Tape) record(backward backwardFunc, out *Var, ins ...*Var) *node {
	if tp.timer != nil {
		tp.timer.lap(false, backward, out, tp.timer.last)
	}
	if tp.noGrad {
		return nil
	}
	need := false
	for _, v := range ins {
		if v != nil && v.requiresGrad {
			need = true
			break
		}
	}
	if !need {
		return nil
	}
	out.requiresGrad = true
	if tp.nn == len(tp.nodes) {
		tp.nodes = append(tp.nodes, &node{})
	}
	n := tp.nodes[tp.nn]
	tp.nn++
	n.backward, n.out, n.flag = backward, out, false
	n.in = n.in[:0]
	for _, v := range ins {
		if v != nil {
			n.in = append(n.in, v)
		}
	}
	return n
}

// grad returns v's gradient buffer, creating a zeroed one from the tape if v
// has none yet.
func (tp *Tape) grad(v *Var) *tensor.Tensor {
	if v.Grad == nil {
		if s := v.takeSpare(); s != nil {
			s.Zero()
			v.Grad = s
		} else {
			v.Grad = tp.zeroBuffer(v.Value.Shape...)
		}
	}
	return v.Grad
}

// gradOut returns v's gradient for an operation that writes every element
// of it. When fresh is true the buffer is new and uninitialised, and the
// operation must assign instead of accumulate; this saves clearing it.
func (tp *Tape) gradOut(v *Var) (g *tensor.Tensor, fresh bool) {
	if v.Grad == nil {
		if v.Grad = v.takeSpare(); v.Grad == nil {
			v.Grad = tp.Buffer(v.Value.Shape...)
		}
		return v.Grad, true
	}
	return v.Grad, false
}

// Backward computes the gradient of the scalar loss with respect to every
// Var it depends on, adding into parameters' gradients. A nil loss, or one
// without a value, is an error.
func (tp *Tape) Backward(loss *Var) error {
	if tp.err != nil {
		return tp.err
	}
	if loss == nil || loss.Value == nil {
		return fmt.Errorf("autograd: backward from a nil Var or one without a value")
	}
	if loss.Value.Size() != 1 {
		return fmt.Errorf("autograd: backward from a non-scalar of shape %v", loss.Value.Shape)
	}
	return tp.BackwardWith(loss, nil)
}

// BackwardWith back-propagates seed as the gradient of out (nil means ones,
// for a scalar out). seed must have out's size. A nil out, or one without
// a value, is an error.
func (tp *Tape) BackwardWith(out *Var, seed *tensor.Tensor) error {
	if tp.err != nil {
		return tp.err
	}
	if out == nil || out.Value == nil {
		return fmt.Errorf("autograd: backward from a nil Var or one without a value")
	}
	if !out.requiresGrad {
		return fmt.Errorf("autograd: backward from a Var that does not depend on any parameter")
	}
	g := tp.grad(out)
	if seed == nil {
		g.Fill(1)
	} else {
		if seed.Size() != g.Size() {
			return fmt.Errorf("autograd: seed of shape %v for output of shape %v", seed.Shape, g.Shape)
		}
		copy(g.Data, seed.Data)
	}
	for i := tp.nn - 1; i >= 0; i-- {
		n := tp.nodes[i]
		switch {
		case n.out.Grad == nil:
		case tp.timer != nil:
			t0 := time.Now()
			n.backward(tp, n)
			tp.timer.lap(true, n.backward, n.out, t0)
		default:
			n.backward(tp, n)
		}
	}
	return nil
}
