package nn

import (
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// block is a composite with exported, unexported, tagged, skipped and
// inline children, a slice and a shared module.
type block struct {
	Proj    *Linear
	norm    *BatchNorm
	Heads   []*Linear               `nn:"head"`
	Inner   struct{ BN *BatchNorm } `nn:",inline"`
	Skip    *BatchNorm              `nn:"-"`
	Again   *Linear                 // the same layer as Proj: visited once
	Nested  *block
	Body    Module // an interface holding a Sequential
	Scratch *tensor.Tensor
	tape    *autograd.Tape
	shared  // embedded: its children are block's
}

type shared struct{ Out *Linear }

func TestWalkNamesEveryChild(t *testing.T) {
	rng := tensor.NewRNG(1)
	inner := &block{Proj: NewLinear(2, 2, false, rng), norm: NewBatchNorm(2, false)}
	b := &block{
		Proj: NewLinear(3, 2, true, rng), norm: NewBatchNorm(2, true),
		Heads: []*Linear{NewLinear(2, 1, false, rng), NewLinear(2, 1, false, rng)},
		Skip:  NewBatchNorm(2, true), Nested: inner,
		Body:    NewSequential(NewLinear(2, 2, false, rng), ReLU, NewDropout(0.5, rng)),
		Scratch: tensor.New(3), tape: autograd.NewTape(),
	}
	b.Inner.BN = NewBatchNorm(2, false)
	b.Out = NewLinear(2, 2, false, rng)
	b.Again = b.Proj
	st := StateOf(b, "m")
	var names []string
	for _, p := range st.Params {
		names = append(names, p.Name)
	}
	for _, x := range st.Buffers {
		names = append(names, x.Name)
	}
	want := "m.proj.weight m.proj.bias m.norm.weight m.norm.bias m.head.0.weight m.head.1.weight m.nested.proj.weight m.body.0.weight m.out.weight " +
		"m.norm.running_mean m.norm.running_var m.bn.running_mean m.bn.running_var m.nested.norm.running_mean m.nested.norm.running_var"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("names\n got %s\nwant %s", got, want)
	}

	SetTraining(b, false)
	for name, on := range map[string]bool{"norm": b.norm.Training, "inner bn": b.Inner.BN.Training, "nested norm": inner.norm.Training, "dropout": b.Body.(*Sequential).Modules[2].(*Dropout).Training} {
		if on {
			t.Errorf("%s still in training mode", name)
		}
	}
	if !b.Skip.Training {
		t.Error(`SetTraining reached a field tagged nn:"-"`)
	}
	modes := ModesOf(b)
	if len(modes) != 4 {
		t.Errorf("ModesOf found %d layers, want 4", len(modes))
	}
	if a := testing.AllocsPerRun(10, func() { modes.Set(true) }); a != 0 {
		t.Errorf("Modes.Set allocates %v times", a)
	}
	if !b.norm.Training || !inner.norm.Training {
		t.Error("Modes.Set(true) did not reach the layers")
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{"LocalMap": "local_map", "D": "d", "GlobalY": "global_y", "conv1": "conv1", "MLPHead": "mlp_head"} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}
