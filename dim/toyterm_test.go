package dim

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/runlog"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

// toyL2 is a term added the way every new term is: this type and one
// RegisterTerm call, nothing else. Its loss is the mean square of a
// learnt linear map of Y, so it has a network of its own (saved as
// "toy_proj.*") as well as a loss.
type toyL2 struct {
	ToyProj *nn.Linear
}

func (t *toyL2) Loss(s *Step) (*autograd.Var, error) {
	p := t.ToyProj.Forward(s.Tape, s.F.Y)
	n := p.Value.Size()
	return s.Tape.Scale(s.Tape.Sum(s.Tape.Square(p)), 1/float32(n)), nil
}

func init() {
	err := RegisterTerm(TermSpec{
		Name: "toy_l2", Weight: "toy", Usage: "weight of a test penalty",
		New: func(enc encoder.Encoder, cfg Config, rng *tensor.RNG) (Term, error) {
			return &toyL2{ToyProj: nn.NewLinear(enc.Spec().Out, 2, false, rng)}, nil
		},
	})
	if err != nil {
		panic(err)
	}
}

// TestToyTerm checks that a registered term takes part everywhere without
// any change elsewhere: the objective (value against a float64 formula),
// the optimiser, checkpoints and resume, the config's JSON and the metrics.
func TestToyTerm(t *testing.T) {
	if err := RegisterTerm(TermSpec{Name: "toy_l2", Weight: "toy2", New: func(encoder.Encoder, Config, *tensor.RNG) (Term, error) { return nil, nil }}); err == nil {
		t.Error("registering a term name twice is not an error")
	}
	cfg := tinyConfig(mi.JSD, 0, 1)
	cfg.SetWeight("toy", 0.25)
	m := newModel(t, cfg, tinySpec)
	names := map[string]bool{}
	for _, p := range nn.StateOf(m, "").Params {
		names[p.Name] = true
	}
	if !names["toy_proj.weight"] {
		t.Fatalf("the toy term's network is not in the model's state: %v", names)
	}
	toy := m.Terms[len(m.Terms)-1].(*toyL2)
	if !slices.Contains(train.TrainableParams(m), toy.ToyProj.W) {
		t.Error("the toy term's weights are not trained")
	}

	// Its loss against float64 arithmetic on the encoder's Y.
	x := randBatch(9, 3, tinyArch)
	tp := autograd.NewTape()
	total := objective(t, m, tp, x)
	y := m.step.F.Y.Value
	w := toy.ToyProj.W.Value
	var want float64
	for i := range y.Shape[0] {
		for o := range w.Shape[0] {
			var s float64
			for j := range w.Shape[1] {
				s += float64(w.Data[o*w.Shape[1]+j]) * float64(y.Data[i*y.Shape[1]+j])
			}
			want += s * s
		}
	}
	want /= float64(y.Shape[0] * w.Shape[0])
	got, _ := m.Loss("toy_l2")
	local, _ := m.Loss("local")
	if math.Abs(float64(got)-want) > 1e-5*math.Max(1, want) {
		t.Errorf("toy loss %v, want %v", got, want)
	}
	if tot := float64(local) + 0.25*want; math.Abs(float64(total.Item())-tot) > 1e-4*math.Max(1, tot) {
		t.Errorf("total %v, want local + 0.25 toy = %v", total.Item(), tot)
	}

	// Training, metrics and resume through the shared run loop.
	dir := filepath.Join(t.TempDir(), "run")
	ds := tinyData(t, 12)
	if _, _, err := Train(context.Background(), cfg, tinySpec, train.Options{Dir: dir, Train: ds, Steps: 3, LogEvery: 1}); err != nil {
		t.Fatal(err)
	}
	recs, err := runlog.ReadMetrics(filepath.Join(dir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var steps int
	for _, r := range recs {
		if r.Event != "step" {
			continue
		}
		steps++
		if v, ok := r.Float("toy_l2"); !ok || !(v > 0) {
			t.Errorf("step line without a positive toy_l2 loss: %v", r.Fields)
		}
	}
	if steps != 3 {
		t.Errorf("%d step lines, want 3", steps)
	}
	loaded, _, err := train.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := loaded.(*Model).DIMConfig().Weight("toy"); got != 0.25 {
		t.Errorf("toy weight %v after loading, want 0.25", got)
	}
	if _, _, err := Train(context.Background(), cfg, tinySpec, train.Options{Dir: dir, Train: ds, Steps: 5, Resume: true}); err != nil {
		t.Errorf("resume with the toy term: %v", err)
	}
}

func TestRegisterTermClashes(t *testing.T) {
	noop := func(encoder.Encoder, Config, *tensor.RNG) (Term, error) { return nil, nil }
	for _, s := range []TermSpec{
		{Name: "x1", Weight: "lr", New: noop},                           // a config key
		{Name: "x2", Weight: "beta", New: noop},                         // another term's weight
		{Name: "loss", Weight: "x3w", New: noop},                        // the total's field
		{Name: "x4", Weight: "x4w", Critic: "discriminator", New: noop}, // prior's critic
		{Name: "x5", Weight: "x5w", Metrics: []string{"local"}, New: noop},
		{Name: "x6", Weight: "x6w", Critic: "x6", New: noop}, // its own name twice
		{Name: "x7", Weight: "x7w"},                          // no New
	} {
		if err := RegisterTerm(s); err == nil {
			t.Errorf("RegisterTerm(%+v): no error", s)
		}
	}
	var c Config
	if err := json.Unmarshal([]byte(`{"lr":0.1,"batch":4,"beta":1,"zeta":2}`), &c); err == nil {
		t.Error("a config with the weight of an unknown term: no error")
	}
}
