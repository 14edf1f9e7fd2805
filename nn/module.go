// Package nn provides neural-network layers with parameters (Linear,
// Conv2d, ConvTranspose2d, BatchNorm, LayerNorm, Dropout, pooling,
// activations), containers, and named state for saving and loading.
//
// Every layer is a Module: it computes its output on an autograd.Tape,
// reports its named parameters and buffers, and switches between training
// and evaluation behaviour. Names follow PyTorch's state_dict convention
// (e.g. "encoder.conv1.weight"), so saved weights map onto the reference
// implementation's modules.
package nn

import (
	"fmt"
	"iter"
	"reflect"
	"sort"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// Module is a layer or a network of layers with one input and one output.
// Its parameters, buffers and training mode are found by walking the
// module tree (StateOf, SetTraining): layers that hold them implement
// Collector and Switcher, composites only hold their children in fields.
type Module interface {
	// Forward computes the module's output for x on tp.
	Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var
}

// Param is a named trainable parameter.
type Param struct {
	Name string
	Var  *autograd.Var
}

// Buffer is a named non-trainable tensor saved with the model (BatchNorm's
// running statistics).
type Buffer struct {
	Name   string
	Tensor *tensor.Tensor
}

// State lists the parameters and buffers of a module tree.
type State struct {
	Params  []Param
	Buffers []Buffer
}

// AddParam appends a parameter.
func (s *State) AddParam(name string, v *autograd.Var) {
	s.Params = append(s.Params, Param{Name: name, Var: v})
}

// AddBuffer appends a buffer.
func (s *State) AddBuffer(name string, t *tensor.Tensor) {
	s.Buffers = append(s.Buffers, Buffer{Name: name, Tensor: t})
}

// Vars returns the parameters' Vars in order, as optimisers take them.
func (s *State) Vars() []*autograd.Var {
	vs := make([]*autograd.Var, len(s.Params))
	for i, p := range s.Params {
		vs[i] = p.Var
	}
	return vs
}

// NumParams returns the number of trainable scalars.
func (s *State) NumParams() int {
	n := 0
	for _, p := range s.Params {
		n += p.Var.Value.Size()
	}
	return n
}

// Tensors returns every parameter and buffer by name (sharing storage), as
// a checkpoint stores them.
func (s *State) Tensors() map[string]*tensor.Tensor {
	m := make(map[string]*tensor.Tensor, len(s.Params)+len(s.Buffers))
	for _, p := range s.Params {
		m[p.Name] = p.Var.Value
	}
	for _, b := range s.Buffers {
		m[b.Name] = b.Tensor
	}
	return m
}

// Load copies values by name from tensors into the parameters and buffers.
// Every name must be present with the same shape; names in tensors that the
// state lacks are an error too, unless they are in allowExtra's prefix set
// (e.g. "optim." for optimiser state stored in the same file).
func (s *State) Load(tensors map[string]*tensor.Tensor, allowExtra ...string) error {
	want := s.Tensors()
	var missing, bad []string
	for name, dst := range want {
		src, ok := tensors[name]
		switch {
		case !ok:
			missing = append(missing, name)
		case !src.SameShape(dst):
			bad = append(bad, fmt.Sprintf("%s: have %v, want %v", name, src.Shape, dst.Shape))
		}
	}
	var extra []string
	for name := range tensors {
		if _, ok := want[name]; ok {
			continue
		}
		allowed := false
		for _, p := range allowExtra {
			if len(name) >= len(p) && name[:len(p)] == p {
				allowed = true
			}
		}
		if !allowed {
			extra = append(extra, name)
		}
	}
	sort.Strings(missing)
	sort.Strings(bad)
	sort.Strings(extra)
	switch {
	case len(missing) > 0:
		return fmt.Errorf("load state: missing %d tensors: %v", len(missing), clip(missing))
	case len(bad) > 0:
		return fmt.Errorf("load state: shape mismatch: %v", clip(bad))
	case len(extra) > 0:
		return fmt.Errorf("load state: %d unexpected tensors: %v", len(extra), clip(extra))
	}
	for name, dst := range want {
		copy(dst.Data, tensors[name].Data)
	}
	return nil
}

func clip(s []string) []string {
	if len(s) > 5 {
		return append(s[:5:5], "...")
	}
	return s
}

// Sequential applies named modules in order.
type Sequential struct {
	Names   []string
	Modules []Module
}

// NewSequential returns a Sequential of the given modules, named "0", "1",
// ... as PyTorch's nn.Sequential names them. It panics, as Add, when a
// module is nil.
func NewSequential(ms ...Module) *Sequential {
	s := &Sequential{}
	for i, m := range ms {
		s.Add(fmt.Sprint(i), m)
	}
	return s
}

// Add appends a named module and returns s. It panics when m is nil (a nil
// interface or a nil pointer), which Forward could not call; the message
// names Add and the module's name.
func (s *Sequential) Add(name string, m Module) *Sequential {
	if isNil(m) {
		panic(fmt.Sprintf("nn: Sequential.Add: module %q is nil", name))
	}
	s.Names = append(s.Names, name)
	s.Modules = append(s.Modules, m)
	return s
}

// isNil reports whether m is a nil interface or holds a nil pointer.
func isNil(m Module) bool {
	if m == nil {
		return true
	}
	v := reflect.ValueOf(m)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// Forward implements Module. Every module must be non-nil (NewSequential
// and Add see to it); Forward panics, naming the module, on a nil one put
// into Modules directly.
func (s *Sequential) Forward(tp *autograd.Tape, x *autograd.Var) *autograd.Var {
	for i, m := range s.Modules {
		if m == nil {
			panic(fmt.Sprintf("nn: Sequential.Forward: module %d is nil", i))
		}
		x = m.Forward(tp, x)
	}
	return x
}

// Children implements Container: the modules under their names.
func (s *Sequential) Children() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		for i, m := range s.Modules {
			if !yield(s.Names[i], m) {
				return
			}
		}
	}
}

// stateless is embedded by layers without parameters or modes: it makes
// them leaves of the module tree.
type stateless struct{}

// Collect implements Collector: there is nothing to collect.
func (stateless) Collect(string, *State) {}
