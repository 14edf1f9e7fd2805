package testutil

import (
	"math"
	"testing"
)

// recorder is a testing.TB that records whether it was failed.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper()               { r.TB.Helper() }
func (r *recorder) Errorf(string, ...any) { r.failed = true }

func TestHelpers(t *testing.T) {
	for _, c := range []struct {
		name string
		run  func(tb testing.TB)
		fail bool
	}{
		{"NoPanic, none", func(tb testing.TB) { NoPanic(tb, "f", func() {}) }, false},
		{"NoPanic, a panic", func(tb testing.TB) { NoPanic(tb, "f", func() { panic("x") }) }, true},
		{"WantPanic, the message", func(tb testing.TB) { WantPanic(tb, "f", func() { panic("pkg.F: n = -1") }, "pkg.F", "-1") }, false},
		{"WantPanic, a part missing", func(tb testing.TB) { WantPanic(tb, "f", func() { panic("pkg.F") }, "-1") }, true},
		{"WantPanic, no panic", func(tb testing.TB) { WantPanic(tb, "f", func() {}) }, true},
		{"WantPanic, a runtime error", func(tb testing.TB) {
			WantPanic(tb, "f", func() {
				var s []int
				_ = s[3]
			})
		}, true},
	} {
		r := &recorder{TB: t}
		c.run(r)
		if r.failed != c.fail {
			t.Errorf("%s: failed %v, want %v", c.name, r.failed, c.fail)
		}
	}
}

func TestSameBits(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	nan := float32(math.NaN())
	for _, c := range []struct {
		a, b []float32
		want bool
	}{
		{nil, nil, true}, {[]float32{1, nan}, []float32{1, nan}, true}, {[]float32{0}, []float32{negZero}, false},
		{[]float32{1}, []float32{1, 2}, false}, {[]float32{1, 2}, []float32{1, 3}, false},
	} {
		if got := SameBits(c.a, c.b); got != c.want {
			t.Errorf("SameBits(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestHashBits(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	a := HashBits([]float32{1, 2}, []float32{3})
	if b := HashBits([]float32{1}, []float32{2, 3}); b != a {
		t.Errorf("the same values split otherwise: %s, want %s", b, a)
	}
	for _, other := range [][]float32{{1, 2, 4}, {1, 3, 2}, {1, 2}} {
		if b := HashBits(other); b == a {
			t.Errorf("HashBits(%v) = HashBits of 1, 2, 3", other)
		}
	}
	if HashBits([]float32{0}) == HashBits([]float32{negZero}) {
		t.Error("+0 and -0 hash the same")
	}
	if len(a) != 16 {
		t.Errorf("HashBits = %q, want 16 hex digits", a)
	}
}
