package kernels

import "sync"

// freeList recycles the package's per-call jobs and contexts (convJob,
// winoJob, gemmCtx, the pool's parJob, ...): their buffers grow once and
// are reused, so that a warm call allocates nothing. It is safe for
// concurrent use; the zero value is an empty list.
type freeList[T any] struct {
	mu   sync.Mutex
	free []*T
}

// get returns a recycled *T, or a new zero one when none is free.
func (l *freeList[T]) get() *T {
	l.mu.Lock()
	var x *T
	if n := len(l.free); n > 0 {
		x = l.free[n-1]
		l.free = l.free[:n-1]
	}
	l.mu.Unlock()
	if x == nil {
		x = new(T)
	}
	return x
}

// put returns x to the list. The caller has dropped x's references to the
// call's slices, so that the list keeps no caller's memory alive.
func (l *freeList[T]) put(x *T) {
	l.mu.Lock()
	l.free = append(l.free, x)
	l.mu.Unlock()
}
