package autograd

import "sync"

// freeList recycles the jobs of one kind of parallel pass, so that a pass
// allocates nothing in steady state; init prepares a new job (binds its
// fn).
type freeList[T any] struct {
	mu   sync.Mutex
	free []*T
	init func(*T)
}

// get returns a recycled job, or a new one.
func (f *freeList[T]) get() *T {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k := len(f.free); k > 0 {
		j := f.free[k-1]
		f.free = f.free[:k-1]
		return j
	}
	j := new(T)
	f.init(j)
	return j
}

// put returns j, its references cleared by the caller, to the list.
func (f *freeList[T]) put(j *T) {
	f.mu.Lock()
	f.free = append(f.free, j)
	f.mu.Unlock()
}
