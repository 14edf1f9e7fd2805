package tensor

import (
	"math"
	"testing"
)

func TestReshapeAndInfer(t *testing.T) {
	x := New(2, 3, 4)
	for _, c := range []struct {
		shape []int
		want  []int
		ok    bool
	}{
		{[]int{6, 4}, []int{6, 4}, true},
		{[]int{-1, 4}, []int{6, 4}, true},
		{[]int{2, -1}, []int{2, 12}, true},
		{[]int{5, -1}, nil, false},
		{[]int{-1, -1}, nil, false},
		{[]int{7, 4}, nil, false},
	} {
		y, err := x.Reshape(c.shape...)
		if c.ok != (err == nil) {
			t.Errorf("Reshape(%v): err %v", c.shape, err)
			continue
		}
		if c.ok && (!EqualShape(y.Shape, c.want) || &y.Data[0] != &x.Data[0]) {
			t.Errorf("Reshape(%v) = %v (shared %v)", c.shape, y.Shape, &y.Data[0] == &x.Data[0])
		}
	}
	if _, err := FromSlice(make([]float32, 5), 2, 3); err == nil {
		t.Error("FromSlice accepted 5 values for [2 3]")
	}
}

func TestResizeReusesCapacity(t *testing.T) {
	x := New(4, 5)
	p := &x.Data[0]
	x.Resize(2, 3)
	x.Resize(5, 4)
	if &x.Data[0] != p || !EqualShape(x.Shape, []int{5, 4}) {
		t.Errorf("Resize reallocated or wrong shape %v", x.Shape)
	}
	if a := testing.AllocsPerRun(10, func() { x.Resize(3, 3); x.Resize(4, 5) }); a != 0 {
		t.Errorf("Resize within capacity allocates %v times", a)
	}
}

func TestFromRows(t *testing.T) {
	x := &Tensor{Shape: []int{3, 2}, Data: []float32{1, 2, 3, 4, 5, 6}}
	r := FromRows(x, 1, 3)
	if !EqualShape(r.Shape, []int{2, 2}) || r.Data[0] != 3 || r.Data[3] != 6 {
		t.Errorf("FromRows = %v", r)
	}
}

// TestInitialisers checks the mean and variance of each initialiser on a
// large tensor against its formula.
func TestInitialisers(t *testing.T) {
	g := NewRNG(1)
	fanIn, fanOut := 300, 200
	for _, c := range []struct {
		name    string
		fill    func(t *Tensor)
		wantVar float64
	}{
		{"uniform", func(t *Tensor) { g.Uniform(t, -2, 2) }, 16.0 / 12},
		{"normal", func(t *Tensor) { g.Normal(t, 0, 0.5) }, 0.25},
		{"kaiming-uniform", func(t *Tensor) { g.KaimingUniform(t, fanIn, math.Sqrt(5)) }, 1.0 / 3 / float64(fanIn)},
		{"kaiming-normal", func(t *Tensor) { g.KaimingNormal(t, fanIn) }, 2 / float64(fanIn)},
		{"xavier-uniform", func(t *Tensor) { g.XavierUniform(t, fanIn, fanOut) }, 2 / float64(fanIn+fanOut)},
		{"xavier-normal", func(t *Tensor) { g.XavierNormal(t, fanIn, fanOut) }, 2 / float64(fanIn+fanOut)},
	} {
		x := New(200, 300)
		c.fill(x)
		var s, q float64
		for _, v := range x.Data {
			s += float64(v)
			q += float64(v) * float64(v)
		}
		n := float64(x.Size())
		mean, variance := s/n, q/n-(s/n)*(s/n)
		if math.Abs(mean) > 4*math.Sqrt(c.wantVar/n) || math.Abs(variance/c.wantVar-1) > 0.03 {
			t.Errorf("%s: mean %.4g variance %.4g, want 0 and %.4g", c.name, mean, variance, c.wantVar)
		}
	}
	if a, b := NewRNG(7).Uint64(), NewRNG(7).Uint64(); a != b {
		t.Error("same seed, different streams")
	}
}

func TestFans(t *testing.T) {
	for _, c := range []struct {
		shape   []int
		in, out int
	}{{[]int{5, 3}, 3, 5}, {[]int{8, 4, 3, 3}, 36, 72}, {[]int{7}, 7, 7}} {
		if in, out := Fans(c.shape); in != c.in || out != c.out {
			t.Errorf("Fans(%v) = %d, %d", c.shape, in, out)
		}
	}
}

func TestRNGSeed(t *testing.T) {
	g := NewRNG(7)
	want := []uint64{g.Uint64(), g.Uint64(), g.Uint64()}
	g.Uint64()
	g.Seed(7)
	for i, w := range want {
		if got := g.Uint64(); got != w {
			t.Fatalf("value %d after Seed: %d, want %d", i, got, w)
		}
	}
}
