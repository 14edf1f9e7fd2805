// Package tensor provides the dense float32 tensor used throughout deepinfomax:
// a flat, contiguous, row-major buffer with a shape (NCHW for images).
package tensor

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// Tensor is a dense, contiguous, row-major float32 array. Data holds
// exactly Size() elements; Shape lists the extent of each axis. A rank-0
// tensor (empty Shape) holds one element.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zero-filled tensor of the given shape. Like make, it panics
// when an extent is negative or the number of elements overflows an int;
// the message names New and the shape.
func New(shape ...int) *Tensor {
	n, ok := checkedSize(shape)
	if !ok {
		panic(shapeError("New", shape))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, n)}
}

// FromSlice wraps data (without copying) as a tensor of the given shape.
// It returns an error when an extent is negative, the number of elements
// overflows an int, or len(data) does not match the shape.
func FromSlice(data []float32, shape ...int) (*Tensor, error) {
	n, ok := checkedSize(shape)
	if !ok {
		return nil, fmt.Errorf("%s", shapeError("FromSlice", shape))
	}
	if n != len(data) {
		return nil, fmt.Errorf("tensor: %d values do not fill shape %v (%d elements)", len(data), shape, n)
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}, nil
}

// checkedSize returns the number of elements of shape, and false when an
// extent is negative or the product overflows an int. It costs one
// comparison and one multiplication per axis.
func checkedSize(shape []int) (int, bool) {
	n := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt {
			return 0, false
		}
		n = lo
	}
	return int(n), true
}

// shapeError describes the invalid shape given to the named function. It
// formats a copy of shape, so that shape does not escape: the callers'
// variadic shapes stay on the stack.
func shapeError(fn string, shape []int) string {
	c := append([]int(nil), shape...)
	for _, d := range c {
		if d < 0 {
			return fmt.Sprintf("tensor.%s: negative extent %d in shape %v", fn, d, c)
		}
	}
	return fmt.Sprintf("tensor.%s: shape %v has more elements than an int can count", fn, c)
}

// SizeOf returns the number of elements of a tensor with the given shape,
// the product of its extents. It does not validate the shape: for one with
// a negative extent or an overflowing product the result is meaningless
// (New, FromSlice and Resize check theirs).
func SizeOf(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Size returns the number of elements.
func (t *Tensor) Size() int { return len(t.Data) }

// Rank returns the number of axes.
func (t *Tensor) Rank() int { return len(t.Shape) }

// Dim returns the extent of axis i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.Shape)
	}
	return t.Shape[i]
}

// SameShape reports whether t and u have identical shapes.
func (t *Tensor) SameShape(u *Tensor) bool { return EqualShape(t.Shape, u.Shape) }

// EqualShape reports whether two shapes are identical.
func EqualShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Reshape returns a view of t with a new shape sharing t's data. One axis
// may be -1 and is inferred. It returns an error if the sizes differ.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	s, err := InferShape(len(t.Data), shape)
	if err != nil {
		return nil, err
	}
	return &Tensor{Shape: s, Data: t.Data}, nil
}

// InferShape resolves a single -1 in shape so the shape holds n elements.
func InferShape(n int, shape []int) ([]int, error) {
	s := append([]int(nil), shape...)
	infer, known := -1, 1
	for i, d := range s {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			return nil, fmt.Errorf("tensor: invalid shape %v", shape)
		default:
			known *= d
		}
	}
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("tensor: cannot reshape %d elements to %v", n, shape)
		}
		s[infer] = n / known
	} else if known != n {
		return nil, fmt.Errorf("tensor: cannot reshape %d elements to %v", n, shape)
	}
	return s, nil
}

// Clone returns a deep copy of t.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// CopyFrom copies u's values into t; the sizes must match.
func (t *Tensor) CopyFrom(u *Tensor) error {
	if len(t.Data) != len(u.Data) {
		return fmt.Errorf("tensor: copy %v into %v: size mismatch", u.Shape, t.Shape)
	}
	copy(t.Data, u.Data)
	return nil
}

// Zero sets every element to 0.
func (t *Tensor) Zero() { clear(t.Data) }

// Fill sets every element to v.
func (t *Tensor) Fill(v float32) {
	for i := range t.Data {
		t.Data[i] = v
	}
}

// Resize makes t hold a tensor of the given shape, reusing its buffer when it
// is large enough. Contents are unspecified afterwards. It never shrinks the
// capacity, so a tensor resized back and forth stops allocating. Like New,
// it panics (leaving t unchanged) when an extent is negative or the number
// of elements overflows an int.
func (t *Tensor) Resize(shape ...int) {
	n, ok := checkedSize(shape)
	if !ok {
		panic(shapeError("Resize", shape))
	}
	if cap(t.Data) >= n {
		t.Data = t.Data[:n]
	} else {
		t.Data = make([]float32, n)
	}
	if cap(t.Shape) >= len(shape) {
		t.Shape = t.Shape[:len(shape)]
	} else {
		t.Shape = make([]int, len(shape))
	}
	copy(t.Shape, shape)
}

// String returns a short description: shape and the first few values.
func (t *Tensor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Tensor%v[", t.Shape)
	for i, v := range t.Data {
		if i == 6 {
			b.WriteString(" ...")
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.4g", v)
	}
	b.WriteByte(']')
	return b.String()
}

// FromRows returns rows [lo, hi) of t (sliced along axis 0) as a tensor
// sharing t's data. Like slicing, it panics unless t has at least one axis
// and 0 <= lo <= hi <= t.Dim(0); the message names FromRows and the rows.
func FromRows(t *Tensor, lo, hi int) *Tensor {
	if len(t.Shape) == 0 || lo < 0 || lo > hi || hi > t.Shape[0] {
		panic(fmt.Sprintf("tensor.FromRows: rows [%d, %d) out of range for shape %v", lo, hi, append([]int(nil), t.Shape...)))
	}
	row := SizeOf(t.Shape[1:])
	shape := append([]int{hi - lo}, t.Shape[1:]...)
	return &Tensor{Shape: shape, Data: t.Data[lo*row : hi*row]}
}
