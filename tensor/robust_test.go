package tensor

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/internal/testutil"
)

func TestNewAndResizeRejectBadShapes(t *testing.T) {
	huge := math.MaxInt/2 + 1
	testutil.WantPanic(t, "New(-1)", func() { New(-1) }, "tensor.New", "-1")
	testutil.WantPanic(t, "New(2, -3)", func() { New(2, -3) }, "tensor.New", "-3", "[2 -3]")
	testutil.WantPanic(t, "New(0, -3)", func() { New(0, -3) }, "tensor.New", "-3")
	testutil.WantPanic(t, "New overflow", func() { New(huge, 2) }, "tensor.New", "int")
	testutil.WantPanic(t, "New wrap to 0", func() { New(1<<32, 1<<32) }, "tensor.New")

	x := New(2, 3)
	data := x.Data
	testutil.WantPanic(t, "Resize(-1)", func() { x.Resize(-1) }, "tensor.Resize", "-1")
	testutil.WantPanic(t, "Resize overflow", func() { x.Resize(huge, 4) }, "tensor.Resize")
	if !EqualShape(x.Shape, []int{2, 3}) || len(x.Data) != 6 || &x.Data[0] != &data[0] {
		t.Errorf("a refused Resize changed the tensor to %v", x)
	}
	// Zero extents are valid.
	if z := New(0, 5); z.Size() != 0 || !EqualShape(z.Shape, []int{0, 5}) {
		t.Errorf("New(0, 5) = %v", z)
	}
	x.Resize(0)
	if x.Size() != 0 {
		t.Errorf("Resize(0) left %d values", x.Size())
	}
}

func TestFromSliceRejectsBadShapes(t *testing.T) {
	for _, tc := range []struct {
		data  []float32
		shape []int
		want  string
	}{
		{[]float32{1, 2}, []int{-1, -2}, "tensor.FromSlice: negative extent -1"}, // product 2 fits: was accepted
		{[]float32{1, 2}, []int{2, -1, -1}, "tensor.FromSlice: negative extent -1"},
		{nil, []int{0, -1}, "tensor.FromSlice: negative extent -1"},                                         // product 0 fits
		{nil, []int{1 << 32, 1 << 32}, "tensor.FromSlice: shape [4294967296 4294967296] has more elements"}, // wrapped to 0: was accepted
		{[]float32{1, 2}, []int{3}, "do not fill"},
	} {
		x, err := FromSlice(tc.data, tc.shape...)
		if x != nil || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("FromSlice(%v, %v) = %v, %v; want an error with %q", tc.data, tc.shape, x, err, tc.want)
		}
	}
	x, err := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	if err != nil || !EqualShape(x.Shape, []int{2, 3}) {
		t.Errorf("FromSlice valid = %v, %v", x, err)
	}
}

func TestFromRowsChecksRange(t *testing.T) {
	x := New(5, 2)
	x.Resize(3, 2) // capacity for 5 rows remains: slicing alone would not catch hi = 5
	for i := range x.Data {
		x.Data[i] = float32(i)
	}
	testutil.WantPanic(t, "FromRows(1, 5)", func() { FromRows(x, 1, 5) }, "tensor.FromRows", "[1, 5)", "[3 2]")
	testutil.WantPanic(t, "FromRows(-1, 2)", func() { FromRows(x, -1, 2) }, "tensor.FromRows")
	testutil.WantPanic(t, "FromRows(2, 1)", func() { FromRows(x, 2, 1) }, "tensor.FromRows")
	testutil.WantPanic(t, "FromRows scalar", func() { FromRows(New(), 0, 0) }, "tensor.FromRows")
	r := FromRows(x, 1, 3)
	if !EqualShape(r.Shape, []int{2, 2}) || r.Data[0] != 2 || len(r.Data) != 4 {
		t.Errorf("FromRows(1, 3) = %v", r)
	}
	if e := FromRows(x, 3, 3); e.Size() != 0 || e.Shape[0] != 0 {
		t.Errorf("FromRows(3, 3) = %v", e)
	}
}

func TestRNGCountsChecked(t *testing.T) {
	g := NewRNG(1)
	testutil.WantPanic(t, "IntN(0)", func() { g.IntN(0) }, "RNG.IntN(0)")
	testutil.WantPanic(t, "IntN(-2)", func() { g.IntN(-2) }, "RNG.IntN(-2)")
	testutil.WantPanic(t, "Perm(-1)", func() { g.Perm(-1) }, "RNG.Perm(-1)")
	if p := g.Perm(0); len(p) != 0 {
		t.Errorf("Perm(0) = %v", p)
	}
	// Valid calls draw exactly what math/rand draws from the same source.
	g.Seed(7)
	ref := rand.New(rand.NewPCG(7, 7^0x9e3779b97f4a7c15))
	for n := 1; n < 50; n++ {
		if a, b := g.IntN(n), ref.IntN(n); a != b {
			t.Fatalf("IntN(%d) = %d, math/rand %d", n, a, b)
		}
	}
	if a, b := g.Perm(9), ref.Perm(9); !EqualShape(a, b) {
		t.Errorf("Perm(9) = %v, math/rand %v", a, b)
	}
}

func TestInitialisersRejectNonPositiveFan(t *testing.T) {
	g := NewRNG(1)
	x := New(2, 3)
	testutil.WantPanic(t, "KaimingUniform", func() { g.KaimingUniform(x, 0, math.Sqrt(5)) }, "RNG.KaimingUniform", "fan 0")
	testutil.WantPanic(t, "KaimingNormal", func() { g.KaimingNormal(x, -1) }, "RNG.KaimingNormal")
	testutil.WantPanic(t, "XavierUniform", func() { g.XavierUniform(x, 0, 0) }, "RNG.XavierUniform")
	testutil.WantPanic(t, "XavierNormal", func() { g.XavierNormal(x, 0, 0) }, "RNG.XavierNormal")
	// Nothing to fill: no fan needed (a Linear layer with no inputs).
	g.KaimingUniform(New(3, 0), 0, math.Sqrt(5))
}

func TestResizeStillAllocatesNothing(t *testing.T) {
	x := New(4, 8)
	if n := testing.AllocsPerRun(100, func() {
		x.Resize(2, 8)
		x.Resize(4, 8)
	}); n != 0 {
		t.Errorf("Resize allocates %v times per call pair", n)
	}
}
