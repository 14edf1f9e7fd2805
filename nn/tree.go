package nn

import (
	"fmt"
	"iter"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unsafe"
)

// Collector is implemented by layers that hold parameters or buffers
// themselves (Linear, Conv2d, BatchNorm, ...): Collect adds them to s,
// their names prefixed with prefix. The tree walk (StateOf) calls it and
// does not look inside the layer. Composites do not implement it: their
// state is derived from their fields.
type Collector interface {
	Collect(prefix string, s *State)
}

// Switcher is implemented by layers whose computation differs between
// training and evaluation (BatchNorm, Dropout). The tree walk (SetTraining,
// Modes) calls it and does not look inside the layer. Composites do not
// implement it.
type Switcher interface {
	SetTraining(on bool)
}

// ModeReporter is implemented by Switchers that can say which mode they are
// in (true: training), so that Modes.Save and Restore can put it back.
type ModeReporter interface {
	IsTraining() bool
}

// Container is implemented by modules that list their children
// explicitly, with their names (Sequential). Other composites are plain
// structs whose children are found from their fields.
type Container interface {
	Children() iter.Seq2[string, any]
}

// Walk visits the module tree under root in a fixed order, calling visit
// with each node's dotted name (PyTorch's state_dict naming, "" for root)
// and the node; visit returns whether to look inside the node.
//
// Children are found as follows. A Container's children are what Children
// yields. A struct (or pointer to one) has as children the values of its
// fields, exported or not, in declaration order: pointers, interfaces,
// structs, slices and arrays (elements named 0, 1, ...). A field is named
// by its `nn:"name"` tag, or else by its name in snake case (LocalMap ->
// local_map); `nn:"-"` skips the field and `nn:",inline"` puts its
// children (or, for a slice, its elements' children) directly under the
// parent's name, as an embedded field's are by default. Maps, functions, channels,
// and the tensors and tapes of packages tensor and autograd are not
// walked. A node reached twice (a shared module) is visited once, under
// its first name.
//
// This is what makes parameter collection and the training mode of every
// composite follow from its fields: a child cannot be forgotten.
func Walk(root any, visit func(name string, node any) bool) {
	w := walker{seen: map[uintptr]bool{}, visit: visit}
	w.value("", reflect.ValueOf(root))
}

type walker struct {
	seen  map[uintptr]bool
	visit func(string, any) bool
}

// skipPkgs are packages whose types hold data, not modules.
var skipPkgs = []string{"/autograd", "/tensor", "/kernels"}

func skipType(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
		t = t.Elem()
	}
	p := t.PkgPath()
	if p == "" {
		return false
	}
	if p == "sync" || p == "time" || strings.HasPrefix(p, "runtime") {
		return true
	}
	for _, s := range skipPkgs {
		if strings.HasSuffix(p, s) && strings.HasPrefix(p, "github.com/deepinfomax/deepinfomax") {
			return true
		}
	}
	return false
}

// value walks v, named name.
func (w *walker) value(name string, v reflect.Value) {
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			w.value(name, v.Elem())
		}
		return
	case reflect.Pointer:
		if v.IsNil() || v.Elem().Kind() != reflect.Struct || skipType(v.Type()) {
			return
		}
		if w.seen[v.Pointer()] {
			return
		}
		w.seen[v.Pointer()] = true
	case reflect.Struct:
		if skipType(v.Type()) {
			return
		}
	case reflect.Slice, reflect.Array:
		if skipType(v.Type()) {
			return
		}
		for i := range v.Len() {
			w.value(join(name, strconv.Itoa(i)), v.Index(i))
		}
		return
	default:
		return
	}
	node := v.Interface()
	if !w.visit(name, node) {
		return
	}
	if c, ok := node.(Container); ok {
		for n, child := range c.Children() {
			w.value(join(name, n), reflect.ValueOf(child))
		}
		return
	}
	s := v
	if s.Kind() == reflect.Pointer {
		s = s.Elem()
	}
	if !s.CanAddr() {
		// A struct held by value in an interface: copy it to read its
		// unexported fields.
		c := reflect.New(s.Type()).Elem()
		c.Set(s)
		s = c
	}
	t := s.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag, inline := f.Tag.Get("nn"), false
		if tag == "-" {
			continue
		}
		if n, opt, ok := strings.Cut(tag, ","); ok {
			tag, inline = n, opt == "inline"
		}
		if f.Anonymous && tag == "" {
			inline = true // an embedded struct's children are the parent's, as in encoding/json
		}
		fname := tag
		if fname == "" {
			fname = snake(f.Name)
		}
		if inline {
			fname = ""
		}
		fv := s.Field(i)
		if !f.IsExported() {
			fv = reflect.NewAt(f.Type, unsafe.Pointer(fv.UnsafeAddr())).Elem()
		}
		if inline && (fv.Kind() == reflect.Slice || fv.Kind() == reflect.Array) && !skipType(fv.Type()) {
			// Inline elements: each directly under the parent's name.
			for j := range fv.Len() {
				w.value(name, fv.Index(j))
			}
			continue
		}
		w.value(join(name, fname), fv)
	}
}

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "." + b
}

// snake converts a Go field name to snake case: LocalMap -> local_map,
// BNfc1 -> bnfc1, D -> d.
func snake(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && !unicode.IsUpper(rs[i-1]) && rs[i-1] != '_' {
				b.WriteByte('_')
			} else if i > 0 && i+1 < len(rs) && unicode.IsUpper(rs[i-1]) && unicode.IsLower(rs[i+1]) {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// StateOf returns the parameters and buffers of the module tree under root,
// their names prefixed with prefix (e.g. "encoder"; empty for none): every
// Collector found by Walk adds its own.
func StateOf(root any, prefix string) *State {
	s := &State{}
	Walk(root, func(name string, node any) bool {
		if c, ok := node.(Collector); ok {
			p := join(prefix, name)
			if p != "" {
				p += "."
			}
			c.Collect(p, s)
			return false
		}
		return true
	})
	return s
}

// Modes lists the layers of the tree under root whose behaviour depends on
// the training mode. Build it once and call Set every step: Set allocates
// nothing, while SetTraining walks the tree each time.
type Modes []Switcher

// ModesOf returns the mode-dependent layers of the tree under root.
func ModesOf(root any) Modes {
	var m Modes
	Walk(root, func(_ string, node any) bool {
		if s, ok := node.(Switcher); ok {
			m = append(m, s)
			return false
		}
		return true
	})
	return m
}

// Set switches every layer to training (true) or evaluation mode.
func (m Modes) Set(on bool) {
	for _, s := range m {
		s.SetTraining(on)
	}
}

// Save returns each layer's mode (true: training), for Restore; a layer
// that is not a ModeReporter counts as training.
func (m Modes) Save() []bool {
	on := make([]bool, len(m))
	for i, s := range m {
		on[i] = true
		if r, ok := s.(ModeReporter); ok {
			on[i] = r.IsTraining()
		}
	}
	return on
}

// Restore switches each layer back to the mode Save returned for it. It
// panics if saved does not come from Save on the same Modes.
func (m Modes) Restore(saved []bool) {
	if len(saved) != len(m) {
		panic(fmt.Sprintf("nn: Modes.Restore: %d modes saved for %d layers", len(saved), len(m)))
	}
	for i, s := range m {
		s.SetTraining(saved[i])
	}
}

// Snapshot is the buffers of a tree (BatchNorm's running statistics and
// any other Buffer its modules collect) and the modes of its
// mode-dependent layers, as TakeSnapshot copied them.
type Snapshot struct {
	bufs  []Buffer
	data  [][]float32
	modes Modes
	on    []bool
}

// TakeSnapshot copies the buffers of the tree under root and notes the
// modes of modes' layers (ModesOf(root), built once by the caller), so
// that Restore can put both back after a pass that moves them: a loss
// computed in training mode without an update (Evaluate).
func TakeSnapshot(root any, modes Modes) *Snapshot {
	s := &Snapshot{bufs: StateOf(root, "").Buffers, modes: modes, on: modes.Save()}
	s.data = make([][]float32, len(s.bufs))
	for i, b := range s.bufs {
		s.data[i] = slices.Clone(b.Tensor.Data)
	}
	return s
}

// Restore puts the buffers' values and the layers' modes back as they
// were when the snapshot was taken.
func (s *Snapshot) Restore() {
	s.modes.Restore(s.on)
	for i, b := range s.bufs {
		copy(b.Tensor.Data, s.data[i])
	}
}

// SetTraining switches every layer of the tree under root to training
// (true) or evaluation behaviour (batch statistics, dropout).
func SetTraining(root any, on bool) { ModesOf(root).Set(on) }
