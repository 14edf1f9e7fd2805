package autograd

import (
	"cmp"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"time"
)

// OpTimer accumulates the wall time of a tape's operations by pass
// ("forward" or "backward"), operation and output shape: a per-op
// breakdown of a training step (dim bench --ops), which a CPU profile
// cannot give once the work runs on a pool's goroutines. Attach it with
// Tape.SetOpTimer; a tape without one pays a nil check per operation.
//
// An operation's backward time is that of its backward pass. Its forward
// time is the time since the previous operation's pass ended (or since
// Mark), so work between operations that is no operation of the tape (a
// constant's preparation, a loss's bookkeeping) is counted with the next
// one, and work after the last one is not counted. A new entry may
// allocate; once every operation of a step has one (and after Reset,
// which keeps the maps' memory), a step allocates nothing more. An
// OpTimer is not safe for concurrent use.
type OpTimer struct {
	last  time.Time
	times map[opKey]opTotal
	other map[[2]string]opTotal // Add's entries, by pass and name
}

// opKey identifies an operation: its pass, its backward function (which
// names it) and its output shape (its first 4 axes).
type opKey struct {
	backward bool
	fn       uintptr
	shape    [4]int
	ndim     int
}

type opTotal struct {
	calls int
	d     time.Duration
}

// OpTime is one line of an OpTimer's breakdown.
type OpTime struct {
	Pass  string        // "forward", "backward", or Add's pass
	Op    string        // the operation (Linear's is "linear"), or Add's name
	Shape []int         // the output's shape (its first 4 axes); nil for Add's entries
	Calls int           // times it ran
	Total time.Duration // wall time over all calls
}

// NewOpTimer returns an empty timer.
func NewOpTimer() *OpTimer {
	return &OpTimer{times: map[opKey]opTotal{}, other: map[[2]string]opTotal{}, last: time.Now()}
}

// Mark restarts the forward clock: call it where a step's forward pass
// starts, so that the time before it is not counted with the first
// operation.
func (t *OpTimer) Mark() { t.last = time.Now() }

// Add counts d for work outside the tape (an optimizer's update, say)
// under pass and name.
func (t *OpTimer) Add(pass, name string, d time.Duration) {
	k := [2]string{pass, name}
	e := t.other[k]
	e.calls++
	e.d += d
	t.other[k] = e
}

// Reset forgets everything counted.
func (t *OpTimer) Reset() {
	clear(t.times)
	clear(t.other)
	t.last = time.Now()
}

// Times returns the breakdown, the longest first.
func (t *OpTimer) Times() []OpTime {
	out := make([]OpTime, 0, len(t.times)+len(t.other))
	for k, e := range t.times {
		pass := "forward"
		if k.backward {
			pass = "backward"
		}
		shape := slices.Clone(k.shape[:k.ndim])
		out = append(out, OpTime{Pass: pass, Op: opName(k.fn), Shape: shape, Calls: e.calls, Total: e.d})
	}
	for k, e := range t.other {
		out = append(out, OpTime{Pass: k[0], Op: k[1], Calls: e.calls, Total: e.d})
	}
	slices.SortFunc(out, func(a, b OpTime) int {
		if c := cmp.Compare(b.Total, a.Total); c != 0 {
			return c
		}
		return cmp.Compare(a.Pass+a.Op, b.Pass+b.Op)
	})
	return out
}

// lap counts the time from start to now for a pass of the operation whose
// backward function is fn and output out (its backward pass when backward
// is true), and restarts the forward clock.
func (t *OpTimer) lap(backward bool, fn backwardFunc, out *Var, start time.Time) {
	now := time.Now()
	k := opKey{backward: backward, fn: reflect.ValueOf(fn).Pointer()}
	if out != nil && out.Value != nil {
		k.ndim = copy(k.shape[:], out.Value.Shape)
	}
	e := t.times[k]
	e.calls++
	e.d += now.Sub(start)
	t.times[k] = e
	t.last = now
}

// opName names an operation by its backward function, linearBackward
// "linear", or by the function that made it when it is a closure (Mean's
// and Sum's, made by (*Tape).reduceAll, are "reduceAll").
func opName(fn uintptr) string {
	f := runtime.FuncForPC(fn)
	if f == nil {
		return "?"
	}
	n := f.Name()
	for {
		i := strings.LastIndex(n, ".func")
		if i < 0 || strings.Trim(n[i+len(".func"):], "0123456789.") != "" {
			break
		}
		n = n[:i]
	}
	n = n[strings.LastIndex(n, ".")+1:]
	return strings.TrimSuffix(n, "Backward")
}

// SetOpTimer makes the tape count its operations' times in t (nil stops
// it). See OpTimer.
func (tp *Tape) SetOpTimer(t *OpTimer) { tp.timer = t }
