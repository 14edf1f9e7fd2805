package registry

import (
	"slices"
	"strings"
	"testing"
)

func TestRegistry(t *testing.T) {
	r := New[int]("widget")
	for _, c := range []struct {
		name string
		v    int
		ok   bool
	}{{"b", 2, true}, {"a", 1, true}, {"b", 3, false}, {"", 4, false}} {
		if err := r.Register(c.name, c.v); (err == nil) != c.ok {
			t.Errorf("Register(%q): %v", c.name, err)
		}
	}
	if got := r.Names(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Names = %v", got)
	}
	if v, err := r.Lookup("b"); err != nil || v != 2 {
		t.Errorf("Lookup(b) = %v, %v; want the first registration, 2", v, err)
	}
	if _, err := r.Lookup("c"); err == nil || !strings.Contains(err.Error(), `unknown widget "c" (want one of a, b)`) {
		t.Errorf("Lookup(c): %v", err)
	}
}
