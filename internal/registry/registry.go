// Package registry is a named set of plug-ins (encoders, methods), safe
// for concurrent use: each package that has plug-ins keeps one.
package registry

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Registry maps names to values of type T. The zero value is not usable:
// make one with New.
type Registry[T any] struct {
	kind  string // what the entries are, for error messages: "encoder"
	mu    sync.RWMutex
	items map[string]T
}

// New returns an empty registry of entries of the given kind.
func New[T any](kind string) *Registry[T] {
	return &Registry[T]{kind: kind, items: map[string]T{}}
}

// Register adds v under name. An empty name or a name registered before
// is an error.
func (r *Registry[T]) Register(name string, v T) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name == "" {
		return fmt.Errorf("%s with an empty name", r.kind)
	}
	if _, ok := r.items[name]; ok {
		return fmt.Errorf("%s %q registered twice", r.kind, name)
	}
	r.items[name] = v
	return nil
}

// Lookup returns the value registered under name, or an error that lists
// the known names.
func (r *Registry[T]) Lookup(name string) (T, error) {
	r.mu.RLock()
	v, ok := r.items[name]
	r.mu.RUnlock()
	if !ok {
		return v, fmt.Errorf("unknown %s %q (want one of %s)", r.kind, name, strings.Join(r.Names(), ", "))
	}
	return v, nil
}

// Names returns the registered names, sorted.
func (r *Registry[T]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.items))
	for n := range r.items {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
