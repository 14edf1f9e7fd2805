package baselines

import (
	"slices"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/internal/testutil"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/train"
)

// TestStepRefusesBadBatch: every baseline that reads the batch refuses a
// nil or malformed one up front with an error naming what is wrong (NAT
// a missing Index, supervised missing labels), with nil losses, no panic
// and its parameters and NAT's assignment unchanged.
func TestStepRefusesBadBatch(t *testing.T) {
	ds := tinyData(t, 12)
	good := batch(t, ds, 4, 0)
	short := good.X.Clone()
	short.Data = short.Data[:len(short.Data)-3]
	bad := []struct {
		name, want string
		b          *train.Batch
		methods    []string // nil: every method but random
	}{
		{"nil batch", "nil batch", nil, nil},
		{"no images", "X is nil", &train.Batch{Labels: good.Labels, Index: good.Index}, nil},
		{"short data", "hold 253 values, want 256", &train.Batch{X: short, Labels: good.Labels, Index: good.Index}, nil},
		{"no index", "nat: batch of 4 images has 0 data-set indices", &train.Batch{X: good.X, Labels: good.Labels}, []string{"nat"}},
		{"short index", "has 3 data-set indices", &train.Batch{X: good.X, Labels: good.Labels, Index: good.Index[:3]}, []string{"nat"}},
		{"no labels", "supervised: batch of 4 images has 0 labels", &train.Batch{X: good.X, Index: good.Index}, []string{"supervised"}},
	}
	for _, s := range Specs() {
		if s.Name == "random" {
			continue // its steps read nothing
		}
		m, err := New(s.Name, options(), tinySpec)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range bad {
			if c.methods != nil && !slices.Contains(c.methods, s.Name) {
				continue
			}
			t.Run(s.Name+"/"+c.name, func(t *testing.T) {
				before := nn.StateOf(m, "").Tensors()
				for k, v := range before {
					before[k] = v.Clone()
				}
				testutil.NoPanic(t, c.name, func() {
					l, err := m.Step(c.b)
					if err == nil || !strings.Contains(err.Error(), c.want) {
						t.Errorf("%v, want an error containing %q", err, c.want)
					}
					if l != nil {
						t.Errorf("losses %v with the error, want nil", l)
					}
				})
				for k, v := range nn.StateOf(m, "").Tensors() {
					if !slices.Equal(v.Data, before[k].Data) {
						t.Errorf("%s changed", k)
					}
				}
			})
		}
		// The method still steps on a good batch.
		if l, err := m.Step(good); err != nil || len(l) == 0 {
			t.Errorf("%s: good step after the errors: %v, %v", s.Name, l, err)
		}
	}
}

// TestSupervisedLabelErrorWithoutIndex: a bad label in a batch without
// data-set indices is reported (by its place in the batch), not a panic.
func TestSupervisedLabelErrorWithoutIndex(t *testing.T) {
	m, err := New("supervised", options(), tinySpec)
	if err != nil {
		t.Fatal(err)
	}
	good := batch(t, tinyData(t, 12), 4, 0)
	labels := slices.Clone(good.Labels)
	labels[2] = 7
	for _, c := range []struct {
		name  string
		index []int
		want  string
	}{
		{"with index", []int{10, 11, 12, 13}, "image 12 has label 7"},
		{"without index", nil, "batch image 2 has label 7"},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.NoPanic(t, c.name, func() {
				_, err := m.Step(&train.Batch{X: good.X, Labels: labels, Index: c.index})
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%v, want an error containing %q", err, c.want)
				}
			})
		})
	}
}
