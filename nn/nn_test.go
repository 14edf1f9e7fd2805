package nn

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/tensor"
)

func TestStateNames(t *testing.T) {
	rng := tensor.NewRNG(1)
	net := NewSequential(NewConv2d(1, 3, 3, 1, 1, true, rng), NewBatchNorm(3, true), ReLU, Flatten, NewLinear(3*5*5, 2, false, rng))
	st := StateOf(net, "enc")
	var names []string
	for _, p := range st.Params {
		names = append(names, p.Name)
	}
	for _, b := range st.Buffers {
		names = append(names, b.Name)
	}
	want := "enc.0.weight enc.0.bias enc.1.weight enc.1.bias enc.4.weight enc.1.running_mean enc.1.running_var"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("names %q, want %q", got, want)
	}
	if n := st.NumParams(); n != 3*9+3+3+3+75*2 {
		t.Errorf("NumParams = %d", n)
	}
	tp := autograd.NewTape()
	out := net.Forward(tp, tp.Const(tensor.New(2, 1, 5, 5)))
	if err := tp.Err(); err != nil || !tensor.EqualShape(out.Value.Shape, []int{2, 2}) {
		t.Fatalf("forward: %v, shape %v", err, out.Value.Shape)
	}
}

func TestStateLoad(t *testing.T) {
	mk := func(seed uint64) *State {
		rng := tensor.NewRNG(seed)
		return StateOf(NewSequential(NewLinear(4, 3, true, rng), NewBatchNorm(3, true)), "")
	}
	a, b := mk(1), mk(2)
	b.Buffers[0].Tensor.Fill(7)
	if err := a.Load(b.Tensors()); err != nil {
		t.Fatal(err)
	}
	for name, ta := range a.Tensors() {
		tb := b.Tensors()[name]
		for i := range ta.Data {
			if ta.Data[i] != tb.Data[i] {
				t.Fatalf("%s differs after Load", name)
			}
		}
	}
	for _, c := range []struct {
		name  string
		edit  func(m map[string]*tensor.Tensor)
		allow []string
		want  string
	}{
		{"missing", func(m map[string]*tensor.Tensor) { delete(m, "0.weight") }, nil, "missing"},
		{"shape", func(m map[string]*tensor.Tensor) { m["0.bias"] = tensor.New(4) }, nil, "shape"},
		{"extra", func(m map[string]*tensor.Tensor) { m["x.y"] = tensor.New(1) }, nil, "unexpected"},
		{"extra allowed", func(m map[string]*tensor.Tensor) { m["optim.x"] = tensor.New(1) }, []string{"optim."}, ""},
	} {
		m := b.Tensors()
		c.edit(m)
		err := a.Load(m, c.allow...)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
}

func TestInitBounds(t *testing.T) {
	rng := tensor.NewRNG(3)
	l := NewLinear(50, 40, true, rng)
	bound := 1 / math.Sqrt(50)
	for _, v := range append(l.W.Value.Data, l.B.Value.Data...) {
		if math.Abs(float64(v)) > bound {
			t.Fatalf("value %v outside ±%v", v, bound)
		}
	}
	c := NewConv2d(3, 8, 5, 1, 2, true, rng)
	if b := 1 / math.Sqrt(75); math.Abs(float64(c.W.Value.Data[0])) > b {
		t.Errorf("conv weight outside ±%v", b)
	}
}

func TestTrainingMode(t *testing.T) {
	rng := tensor.NewRNG(4)
	bn, dr := NewBatchNorm(2, true), NewDropout(0.5, rng)
	net := NewSequential(bn, dr)
	SetTraining(net, false)
	if bn.Training || dr.Training {
		t.Fatal("SetTraining(false) did not reach the layers")
	}
	x := &tensor.Tensor{Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}}
	tp := autograd.NewTape()
	out := net.Forward(tp, tp.Const(x))
	// Evaluation: running stats (0, 1), no dropout: y = x / sqrt(1+eps).
	for i, v := range out.Value.Data {
		if math.Abs(float64(v-x.Data[i]/float32(math.Sqrt(1+1e-5)))) > 1e-6 {
			t.Fatalf("eval output %v for %v", out.Value.Data, x.Data)
		}
	}
}

// TestModesSaveRestore: Save reports each layer's mode and Restore puts
// mixed modes back; a Switcher without IsTraining counts as training.
func TestModesSaveRestore(t *testing.T) {
	rng := tensor.NewRNG(5)
	bn, dr, other := NewBatchNorm(2, true), NewDropout(0.5, rng), &plainSwitcher{}
	m := Modes{bn, dr, other}
	bn.Training, dr.Training = false, true
	saved := m.Save()
	if want := []bool{false, true, true}; !slices.Equal(saved, want) {
		t.Fatalf("Save = %v, want %v", saved, want)
	}
	m.Set(true)
	m.Restore(saved)
	if bn.Training || !dr.Training || !other.on {
		t.Fatalf("Restore left %v, %v, %v; want false, true, true", bn.Training, dr.Training, other.on)
	}
	defer func() {
		if recover() == nil {
			t.Error("Restore of 2 modes for 3 layers: no panic")
		}
	}()
	m.Restore(saved[:2])
}

// TestSnapshot: Restore puts back a BatchNorm's running statistics and the
// layers' modes that a training-mode pass and a mode switch moved.
func TestSnapshot(t *testing.T) {
	bn, dr := NewBatchNorm(2, true), NewDropout(0.5, tensor.NewRNG(6))
	net := NewSequential(bn, dr)
	modes := ModesOf(net)
	modes.Set(false)
	mean, vr := slices.Clone(bn.RunMean.Data), slices.Clone(bn.RunVar.Data)
	snap := TakeSnapshot(net, modes)
	modes.Set(true)
	tp := autograd.NewTape()
	net.Forward(tp, tp.Const(&tensor.Tensor{Shape: []int{2, 2}, Data: []float32{1, 2, 3, 5}}))
	if slices.Equal(bn.RunMean.Data, mean) {
		t.Fatal("a training-mode pass left the running mean as it was: nothing to restore")
	}
	snap.Restore()
	if !slices.Equal(bn.RunMean.Data, mean) || !slices.Equal(bn.RunVar.Data, vr) {
		t.Errorf("running statistics %v / %v after Restore, want %v / %v", bn.RunMean.Data, bn.RunVar.Data, mean, vr)
	}
	if bn.Training || dr.Training {
		t.Errorf("modes %v, %v after Restore, want evaluation", bn.Training, dr.Training)
	}
}

type plainSwitcher struct{ on bool }

func (p *plainSwitcher) SetTraining(on bool) { p.on = on }

func TestAccuracy(t *testing.T) {
	logits := &tensor.Tensor{Shape: []int{4, 3}, Data: []float32{
		1, 2, 3, // 2
		5, 1, 1, // 0
		0, 0, 0, // 0 (ties: the first)
		1, 3, 2, // 1
	}}
	for _, c := range []struct {
		labels []int
		want   float32
	}{{[]int{2, 0, 0, 1}, 1}, {[]int{2, 1, 0, 0}, 0.5}, {[]int{0, 1, 2, 0}, 0}} {
		if got := Accuracy(logits, c.labels); got != c.want {
			t.Errorf("Accuracy(%v) = %v, want %v", c.labels, got, c.want)
		}
	}
}
