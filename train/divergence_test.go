package train

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

// TestDivergence feeds check a steady loss "loss" and a loss "local"
// following a sequence, and wants the run stopped at the step where
// "local" diverges, or never.
func TestDivergence(t *testing.T) {
	const steps = 400
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	// noise is a deterministic wobble in [-1, 1].
	noise := func(i int) float32 { return float32(math.Sin(float64(i) * 1.7)) }
	// then is seq up to step at (1-based), v at it, and after it more.
	then := func(seq func(int) float32, at int, v float32) func(int) float32 {
		return func(i int) float32 {
			if i == at {
				return v
			}
			return seq(i)
		}
	}
	steady := func(int) float32 { return 2 }
	for _, c := range []struct {
		name   string
		factor float64
		local  func(step int) float32 // step counts from 1
		stop   int                    // the step that must stop the run; 0: none
	}{
		// Ordinary training: nothing to report.
		{"steady", 0, steady, 0},
		{"JSD decreasing, noisy", 0, func(i int) float32 { return 1.386*float32(math.Exp(-float64(i)/50)) + 0.05*noise(i) }, 0},
		{"noisy first steps", 0, func(i int) float32 { return []float32{1.4, 0.02, 3, 0.5, 40, 0.1, 7}[min(i, 7)-1] }, 0},
		{"crossing zero (DV)", 0, func(i int) float32 { return 0.001 - 8*(1-float32(math.Exp(-float64(i)/30))) + 0.5*noise(i) }, 0},
		{"near zero, then moving (W1 at init)", 0, func(i int) float32 {
			if i <= 10 {
				return 1e-4 * noise(i)
			}
			return -5 + noise(i)
		}, 0},
		{"starting at zero", 0, func(i int) float32 { return -float32(i) * 0.05 * (1 + noise(i)) }, 0},
		{"growing negative (KL, W1)", 0, func(i int) float32 { return -0.01 - 1.2*float32(i) }, 0},
		{"increasing within reason (generator)", 0, func(i int) float32 { return 0.7 + 0.07*float32(i) + noise(i) }, 0},
		{"large, decreasing (reconstruction)", 0, func(i int) float32 { return 80 + 5000*float32(math.Exp(-float64(i)/20)) + 10*noise(i) }, 0},
		{"off term", 0, func(int) float32 { return 0 }, 0},
		{"term switched on late", 0, func(i int) float32 { return float32(max(0, i-100)) * 20 }, 0},
		// Explosions.
		{"step 2 (lr 1e6)", 0, then(func(int) float32 { return 15 }, 2, 1.9e14), 2},
		{"early, gradual (x10 a step)", 0, func(i int) float32 { return 15 * float32(math.Pow(10, float64(i-1))) }, 9},
		{"late", 0, then(steady, 30, 3e4), 30},
		{"late, after decreasing", 0, then(func(i int) float32 { return 10 + 1000*float32(min(1, max(0, 11-i))) }, 300, 2e6), 300},
		{"NaN at step 1", 0, then(steady, 1, nan), 1},
		{"NaN later", 0, then(steady, 250, nan), 250},
		{"+Inf", 0, then(steady, 3, inf), 3},
		{"-Inf", 0, then(steady, 40, -inf), 40},
		{"negative explodes", 0, then(func(i int) float32 { return -3 }, 5, -5e4), 5},
		{"strict", 10, then(steady, 30, 30), 30},
		{"off: no magnitude test", -1, then(then(steady, 2, 3e9), 30, -3e12), 0},
		{"off: NaN still stops", -1, then(then(steady, 2, 3e9), 3, nan), 3},
	} {
		d := newDivergence(2, c.factor)
		stop := 0
		for i := 1; i <= steps; i++ {
			if err := d.check([]Loss{{"loss", 1}, {"local", c.local(i)}}); err != nil {
				stop = i
				if !strings.Contains(err.Error(), "loss local") || !strings.Contains(err.Error(), "diverged") {
					t.Errorf("%s: error %q does not name the loss", c.name, err)
				}
				break
			}
		}
		if stop != c.stop {
			t.Errorf("%s: stopped at step %d, want %d (0: never)", c.name, stop, c.stop)
		}
	}
}

// TestDivergenceRefs: references taken from a watch and restored into a
// fresh one (a resumed run's) give the same decisions and references as
// the watch going on; references recorded with the magnitude test off
// (none gathered) or of another number of losses are not taken up.
func TestDivergenceRefs(t *testing.T) {
	ls := func(i int) []Loss {
		return []Loss{{Name: "loss", Value: 3 + float32(math.Sin(float64(i)))}, {Name: "local", Value: float32(i%7) - 2}}
	}
	for _, n := range []int{1, 4, 10, 30} {
		a := newDivergence(2, 0)
		for i := range n {
			if err := a.check(ls(i)); err != nil {
				t.Fatal(err)
			}
		}
		b := newDivergence(2, 0)
		b.restore(a.refs())
		for i := n; i < n+20; i++ {
			ea, eb := a.check(ls(i)), b.check(ls(i))
			if (ea == nil) != (eb == nil) {
				t.Fatalf("after %d steps: step %d judged %v by the run, %v by the resumed one", n, i+1, ea, eb)
			}
		}
		if ra, rb := a.refs(), b.refs(); !reflect.DeepEqual(ra, rb) {
			t.Errorf("after %d steps: references %+v, resumed %+v", n, rb, ra)
		}
		huge := []Loss{{Name: "loss", Value: 1e6}, {Name: "local", Value: 1}}
		if err := b.clone().check(huge); err == nil {
			t.Errorf("after %d steps: a resumed watch did not judge a huge loss", n)
		}
	}
	off := newDivergence(2, -1)
	for i := range 5 {
		off.check(ls(i))
	}
	for _, r := range []*DivergenceRefs{off.refs(), {Steps: 3, Avg: []float64{1}, Early: [][]float64{{1, 1, 1}}}} {
		d := newDivergence(2, 0)
		d.restore(r)
		if !reflect.DeepEqual(d.refs(), newDivergence(2, 0).refs()) {
			t.Errorf("references %+v taken up: %+v", r, d.refs())
		}
	}
}
