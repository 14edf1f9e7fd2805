package autograd

import (
	"slices"
	"testing"
	"time"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// opTimerStep runs Linear -> ReLU -> Mean forward and backward on tp.
func opTimerStep(t *testing.T, tp *Tape, x, w, b *Var) {
	t.Helper()
	tp.Reset()
	loss := tp.Mean(tp.ReLU(tp.Linear(x, w, b)))
	if err := tp.Backward(loss); err != nil {
		t.Fatal(err)
	}
}

// TestOpTimer: a timer on a tape counts each operation's forward and
// backward pass once a step, named after the operation with its output's
// shape, plus Add's entries; the times are positive and their sum is at
// most the steps' wall time; Reset forgets them, a tape without a timer
// (or after SetOpTimer(nil)) counts nothing, and a warm step with a timer
// allocates nothing.
func TestOpTimer(t *testing.T) {
	rng := tensor.NewRNG(3)
	x := NewConst(randTensor(rng, -1, 1, 5, 7))
	w, b := NewParam(randTensor(rng, -1, 1, 3, 7)), NewParam(randTensor(rng, -1, 1, 3))
	tp := NewTape()
	timer := NewOpTimer()
	tp.SetOpTimer(timer)
	opTimerStep(t, tp, x, w, b) // makes the entries
	timer.Reset()
	if got := timer.Times(); len(got) != 0 {
		t.Fatalf("after Reset: %v", got)
	}
	const steps = 3
	t0 := time.Now()
	timer.Mark()
	for range steps {
		opTimerStep(t, tp, x, w, b)
	}
	wall := time.Since(t0)
	timer.Add("step", "optimizer", time.Millisecond)
	timer.Add("step", "optimizer", time.Millisecond)
	got := timer.Times()
	type entry struct {
		pass, op string
		shape    []int
	}
	want := []entry{
		{"forward", "linear", []int{5, 3}}, {"backward", "linear", []int{5, 3}},
		{"forward", "relu", []int{5, 3}}, {"backward", "relu", []int{5, 3}},
		{"forward", "reduceAll", []int{}}, {"backward", "reduceAll", []int{}},
	}
	var sum time.Duration
	for _, e := range want {
		i := slices.IndexFunc(got, func(o OpTime) bool {
			return o.Pass == e.pass && o.Op == e.op && slices.Equal(o.Shape, e.shape)
		})
		if i < 0 {
			t.Fatalf("no %s %s %v in %+v", e.pass, e.op, e.shape, got)
		}
		if o := got[i]; o.Calls != steps || o.Total <= 0 {
			t.Errorf("%s %s: %d calls, %v; want %d calls and a positive time", e.pass, e.op, o.Calls, o.Total, steps)
		}
		sum += got[i].Total
	}
	if sum > wall {
		t.Errorf("the operations' times add up to %v, more than the steps' %v", sum, wall)
	}
	i := slices.IndexFunc(got, func(o OpTime) bool { return o.Pass == "step" && o.Op == "optimizer" })
	if i < 0 || got[i].Calls != 2 || got[i].Total != 2*time.Millisecond || got[i].Shape != nil {
		t.Errorf("Add's entry: %+v", got)
	}
	if len(got) != len(want)+1 {
		t.Errorf("%d entries, want %d: %+v", len(got), len(want)+1, got)
	}
	for j := 1; j < len(got); j++ {
		if got[j].Total > got[j-1].Total {
			t.Errorf("not the longest first: %+v", got)
		}
	}
	if allocs := testing.AllocsPerRun(5, func() { opTimerStep(t, tp, x, w, b) }); allocs != 0 {
		t.Errorf("a warm step with a timer allocates %v times", allocs)
	}
	tp.SetOpTimer(nil)
	timer.Reset()
	opTimerStep(t, tp, x, w, b)
	if got := timer.Times(); len(got) != 0 {
		t.Errorf("after SetOpTimer(nil): %+v", got)
	}
}
