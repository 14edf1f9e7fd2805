package train

import (
	"strings"
	"testing"
)

func TestDivergence(t *testing.T) {
	for _, c := range []struct {
		name   string
		factor float64
		last   float32
		fail   bool
	}{
		{"steady", 0, 2.5, false},
		{"explodes", 0, 3e4, true},
		{"off", -1, 3e9, false},
		{"strict", 10, 30, true},
	} {
		d := newDivergence(2, c.factor)
		var err error
		for i := range 30 {
			v := float32(2)
			if i == 29 {
				v = c.last
			}
			if err = d.check([]Loss{{"loss", 1}, {"local", v}}); err != nil {
				break
			}
		}
		if (err != nil) != c.fail || (err != nil && !strings.Contains(err.Error(), "loss local")) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
