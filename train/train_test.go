package train_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/checkpoint"
	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/dim"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/optim"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

// tinyArch is a small encoder of 9x9 grey images with basic28x28's
// structure, so that DIM steps and checkpoints stay cheap.
var tinyArch = encoder.Arch{
	Name: "train-tiny", Channels: 1, Size: 9,
	Convs: []encoder.ConvSpec{{Out: 3, Kernel: 3, Stride: 2, Pad: 1}, {Out: 5, Kernel: 3, Stride: 2, Pad: 1}},
	FCs:   []int{7}, Out: 4, LocalLayer: 1, FeatureLayer: 1,
}

func init() {
	if err := encoder.RegisterArch(tinyArch, "a test encoder"); err != nil {
		panic(err)
	}
}

// tinySpec normalises differently from the default, so that a lost
// transform shows.
var tinySpec = encoder.Spec{Name: tinyArch.Name, Transform: data.Transform{Mean: []float32{0.4}, Std: []float32{0.2}}}

// tinyConfig is local DIM with prior matching, so that the model has two
// optimisers ("optim." and "optim_prior.").
func tinyConfig() dim.Config {
	c := dim.DefaultConfig()
	c.MIUnits, c.Batch, c.Seed = 6, 3, 5
	c.Measure = mi.JSD
	c.Weights = map[string]float32{"beta": 1, "gamma": 0.1}
	return c
}

func newTiny(t *testing.T) *dim.Model {
	t.Helper()
	m, err := dim.New(tinyConfig(), tinySpec)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func randImages(seed uint64, n, c, size int) *tensor.Tensor {
	x := tensor.New(n, c, size, size)
	tensor.NewRNG(seed).Uniform(x, -1, 1)
	return x
}

// trained returns a tiny DIM model after steps steps on random images.
func trained(t *testing.T, steps int) *dim.Model {
	t.Helper()
	m := newTiny(t)
	for i := range steps {
		if _, err := m.StepImages(randImages(uint64(i), 3, 1, 9)); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// tinyData is n labelled 9x9 grey images.
func tinyData(t *testing.T, n, size int) *data.Memory {
	t.Helper()
	rng := tensor.NewRNG(42)
	pix := make([]uint8, n*size*size)
	for i := range pix {
		pix[i] = uint8(rng.IntN(256))
	}
	labels := make([]int, n)
	for i := range labels {
		labels[i] = i % 3
	}
	ds, err := data.NewMemory(1, size, size, pix, labels, 3)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// sameTensors fails the test unless a and b hold the same names with
// bit-identical values.
func sameTensors(t *testing.T, what string, a, b map[string]*tensor.Tensor) {
	t.Helper()
	ka, kb := keys(a), keys(b)
	if !slices.Equal(ka, kb) {
		t.Errorf("%s: names differ:\n %v\n %v", what, ka, kb)
		return
	}
	for _, k := range ka {
		if !slices.Equal(a[k].Shape, b[k].Shape) || !slices.Equal(a[k].Data, b[k].Data) {
			t.Errorf("%s: %s differs", what, k)
		}
	}
}

func keys(m map[string]*tensor.Tensor) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// evalY returns the eval-mode Y of enc on x, leaving enc in training mode.
func evalY(t *testing.T, enc encoder.Encoder, x *tensor.Tensor) []float32 {
	t.Helper()
	nn.SetTraining(enc, false)
	defer nn.SetTraining(enc, true)
	tp := autograd.NewTape()
	tp.SetNoGrad(true)
	y := enc.Encode(tp, tp.Const(x)).Y
	if err := tp.Err(); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(y.Value.Data)
}

func optimizerState(m train.Method) map[string]*tensor.Tensor {
	out := map[string]*tensor.Tensor{}
	for _, o := range m.Optimizers() {
		for k, v := range o.Opt.State() {
			out[o.Prefix+k] = v
		}
	}
	return out
}

// TestSaveLoad: Load rebuilds the method saved by Save with the same
// weights, config, encoder spec, progress and optimiser state, so that it
// continues exactly as the original would.
func TestSaveLoad(t *testing.T) {
	m := trained(t, 3)
	dir := filepath.Join(t.TempDir(), "run")
	p := train.Progress{Epoch: 1, Sample: 3, Step: 3, Data: "tiny"}
	if err := train.Save(dir, m, p); err != nil {
		t.Fatal(err)
	}
	var info train.Info
	if js, err := os.ReadFile(filepath.Join(dir, train.ConfigFile)); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(js, &info); err != nil {
		t.Fatalf("config.json: %v", err)
	}
	if info.Method != "dim" || info.Progress != p || !reflect.DeepEqual(info.Encoder, m.Encoder().Spec()) {
		t.Errorf("config.json: method %q, encoder %+v, progress %+v", info.Method, info.Encoder, info.Progress)
	}

	got, gp, err := train.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m2, ok := got.(*dim.Model)
	if !ok {
		t.Fatalf("Load gave a %T, want *dim.Model", got)
	}
	if gp != p {
		t.Errorf("progress %+v, want %+v", gp, p)
	}
	if !reflect.DeepEqual(m2.DIMConfig(), m.DIMConfig()) {
		t.Errorf("config %+v, want %+v", m2.DIMConfig(), m.DIMConfig())
	}
	if !reflect.DeepEqual(m2.Encoder().Spec(), m.Encoder().Spec()) {
		t.Errorf("encoder spec %+v, want %+v", m2.Encoder().Spec(), m.Encoder().Spec())
	}
	sameTensors(t, "weights", nn.StateOf(m2, "").Tensors(), nn.StateOf(m, "").Tensors())
	if len(m2.Optimizers()) != 2 {
		t.Fatalf("%d optimisers, want 2 (main and prior critic)", len(m2.Optimizers()))
	}
	for i, o := range m2.Optimizers() {
		if o.Prefix != m.Optimizers()[i].Prefix {
			t.Errorf("optimiser %d prefix %q, want %q", i, o.Prefix, m.Optimizers()[i].Prefix)
		}
		if a, ok := o.Opt.(*optim.Adam); !ok {
			t.Errorf("optimiser %s is a %T, want *optim.Adam", o.Prefix, o.Opt)
		} else if a.Steps() != 3 {
			t.Errorf("optimiser %s: %d steps, want 3", o.Prefix, a.Steps())
		}
	}
	sameTensors(t, "optimiser state", optimizerState(m2), optimizerState(m))

	// The next step is the same.
	x := randImages(9, 3, 1, 9)
	l1, err1 := m.StepImages(x)
	want := slices.Clone(l1)
	l2, err2 := m2.StepImages(x)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if !reflect.DeepEqual(l2, want) {
		t.Errorf("losses of the next step: loaded %v, original %v", l2, want)
	}
	sameTensors(t, "weights after a step", nn.StateOf(m2, "").Tensors(), nn.StateOf(m, "").Tensors())
}

// TestLoadEncoder: the encoder of a DIM run, loaded without the method,
// computes what the model's encoder computes.
func TestLoadEncoder(t *testing.T) {
	m := trained(t, 3)
	dir := t.TempDir()
	p := train.Progress{Epoch: 2, Step: 3, Data: "tiny"}
	if err := train.Save(dir, m, p); err != nil {
		t.Fatal(err)
	}
	enc, info, err := train.LoadEncoder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Method != "dim" || info.Progress != p {
		t.Errorf("info: method %q, progress %+v", info.Method, info.Progress)
	}
	if !reflect.DeepEqual(enc.Spec(), m.Encoder().Spec()) || !reflect.DeepEqual(info.Encoder, enc.Spec()) {
		t.Errorf("spec %+v (info %+v), want %+v", enc.Spec(), info.Encoder, m.Encoder().Spec())
	}
	sameTensors(t, "encoder weights", nn.StateOf(enc, "encoder").Tensors(), nn.StateOf(m.Encoder(), "encoder").Tensors())
	x := randImages(11, 4, 1, 9)
	if got, want := evalY(t, enc, x), evalY(t, m.Encoder(), x); !slices.Equal(got, want) {
		t.Errorf("Y of the loaded encoder\n %v\nwant\n %v", got, want)
	}
	for _, s := range nn.ModesOf(enc) {
		if !s.(*nn.BatchNorm).Training {
			t.Error("LoadEncoder's encoder is not in training mode")
		}
	}
	// ReadInfo: the same metadata from the header alone, the previous
	// checkpoint's when the latest is gone, an error when none is left.
	if hi, err := train.ReadInfo(dir); err != nil || !reflect.DeepEqual(hi, info) {
		t.Errorf("ReadInfo = %+v, %v; want %+v", hi, err, info)
	}
	p2 := p
	p2.Step = 4
	if err := train.Save(dir, m, p2); err != nil { // the first becomes the previous
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, train.WeightsFile)); err != nil {
		t.Fatal(err)
	}
	if hi, err := train.ReadInfo(dir); err != nil || hi.Progress != p {
		t.Errorf("ReadInfo without the latest checkpoint = %+v, %v; want progress %+v", hi.Progress, err, p)
	}
	if err := os.Remove(filepath.Join(dir, train.PrevWeightsFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := train.ReadInfo(dir); err == nil {
		t.Error("ReadInfo without checkpoints: no error")
	}
}

// oldMeta is the metadata of a run written before methods were plug-ins.
const oldMeta = `{"config":{"arch":"basic28x28","mi_units":8,"alpha":0,"beta":1,"gamma":0,"measure":"jsd","lr":0.0001,"batch":4,"seed":0,"prior":"uniform","grad_penalty":1,"mean":[0.1],"std":[0.3]},"progress":{"epoch":2,"sample":4,"step":30,"data":"mnist"}}`

// oldMetaAllTerms is old metadata with every term on (global, local and
// prior matching, so two optimisers), for the small test encoder.
const oldMetaAllTerms = `{"config":{"arch":"train-tiny","mi_units":6,"alpha":0.5,"beta":1,"gamma":0.1,"measure":"dv","lr":0.001,"batch":3,"seed":2,"prior":"gaussian","grad_penalty":0.5,"mean":[0.25],"std":[0.5]},"progress":{"epoch":1,"sample":0,"step":7,"data":"tiny"}}`

// writeLegacy writes a checkpoint as the code before the framework did:
// the tensors of a DIM model of the old metadata's config (not fresh),
// its optimisers' state under "optim." and "optim_prior.", and
// the old metadata. It returns the model.
func writeLegacy(t *testing.T, dir, meta string) *dim.Model {
	t.Helper()
	var raw struct {
		Config json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal([]byte(meta), &raw); err != nil {
		t.Fatal(err)
	}
	var cfg dim.Config
	if err := json.Unmarshal(raw.Config, &cfg); err != nil {
		t.Fatal(err)
	}
	var arch struct {
		Arch string    `json:"arch"`
		Mean []float32 `json:"mean"`
		Std  []float32 `json:"std"`
	}
	if err := json.Unmarshal(raw.Config, &arch); err != nil {
		t.Fatal(err)
	}
	spec := encoder.Spec{Name: arch.Arch, Transform: data.Transform{Mean: arch.Mean, Std: arch.Std}}
	model, err := dim.New(cfg, spec)
	if err != nil {
		t.Fatal(err)
	}
	// Weights and optimiser state unlike a fresh model's: one step of the
	// small encoder, or (cheaper for basic28x28's 6.5M parameters) a
	// perturbation of the weights and a made-up Adam state.
	if arch.Arch == tinyArch.Name {
		if _, err := model.StepImages(randImages(3, cfg.Batch, tinyArch.Channels, tinyArch.Size)); err != nil {
			t.Fatal(err)
		}
	} else {
		for _, v := range nn.StateOf(model, "").Tensors() {
			for i := range v.Data {
				v.Data[i] += float32(i%7+1) * 1e-3
			}
		}
		opt := model.Optimizers()[0].Opt
		st := opt.State()
		for _, v := range st {
			for i := range v.Data {
				v.Data[i] = float32(i%5+1) * 1e-4
			}
		}
		st["adam.step"].Data[0] = 30
		if err := opt.LoadState(st); err != nil {
			t.Fatal(err)
		}
	}
	tensors := nn.StateOf(model, "").Tensors()
	opts := model.Optimizers()
	for k, v := range opts[0].Opt.State() {
		tensors["optim."+k] = v
	}
	if len(opts) > 1 {
		for k, v := range opts[1].Opt.State() {
			tensors["optim_prior."+k] = v
		}
	}
	if err := checkpoint.Save(filepath.Join(dir, train.WeightsFile), tensors, map[string]string{"deepinfomax": meta}); err != nil {
		t.Fatal(err)
	}
	return model
}

// TestLegacyCheckpoint: a checkpoint with the old metadata loads as a DIM
// run, with its config, progress, weights and optimiser state, and its
// encoder carries the old run's normalisation.
func TestLegacyCheckpoint(t *testing.T) {
	t.Run("basic28x28", func(t *testing.T) {
		dir := t.TempDir()
		model := writeLegacy(t, dir, oldMeta)
		wantP := train.Progress{Epoch: 2, Sample: 4, Step: 30, Data: "mnist"}
		wantTr := data.Transform{Mean: []float32{0.1}, Std: []float32{0.3}}

		m, p, err := train.Load(dir)
		if err != nil {
			t.Fatalf("Load of an old checkpoint: %v", err)
		}
		if m.Name() != "dim" || p != wantP {
			t.Errorf("Load: method %s, progress %+v; want dim, %+v", m.Name(), p, wantP)
		}
		got := m.(*dim.Model).DIMConfig()
		if got.MIUnits != 8 || got.Batch != 4 || got.LR != 1e-4 || got.Measure != mi.JSD || got.Weight("beta") != 1 || got.Weight("alpha") != 0 || got.GradPenalty != 1 {
			t.Errorf("config %+v", got)
		}
		if s := m.Encoder().Spec(); s.Name != "basic28x28" || !reflect.DeepEqual(s.Transform, wantTr) {
			t.Errorf("Load: encoder spec %+v", s)
		}
		sameTensors(t, "Load weights", nn.StateOf(m, "").Tensors(), nn.StateOf(model, "").Tensors())
		sameTensors(t, "Load optimiser state", optimizerState(m), optimizerState(model))

		enc, info, err := train.LoadEncoder(dir)
		if err != nil {
			t.Fatalf("LoadEncoder of an old checkpoint: %v", err)
		}
		s := enc.Spec()
		if s.Name != "basic28x28" || s.Channels != 1 || s.Size != 28 || s.Out != 64 {
			t.Errorf("LoadEncoder: spec %+v", s)
		}
		if !reflect.DeepEqual(s.Transform, wantTr) || !reflect.DeepEqual(info.Encoder.Transform, wantTr) {
			t.Errorf("LoadEncoder: transform %+v (info %+v), want mean [0.1], std [0.3]", s.Transform, info.Encoder.Transform)
		}
		if info.Method != "dim" || info.Progress != wantP {
			t.Errorf("LoadEncoder: method %q, progress %+v", info.Method, info.Progress)
		}
		sameTensors(t, "LoadEncoder weights", nn.StateOf(enc, "encoder").Tensors(), nn.StateOf(model.Encoder(), "encoder").Tensors())
	})
	t.Run("all terms", func(t *testing.T) {
		dir := t.TempDir()
		model := writeLegacy(t, dir, oldMetaAllTerms)
		m, p, err := train.Load(dir)
		if err != nil {
			t.Fatalf("Load of an old checkpoint: %v", err)
		}
		if want := (train.Progress{Epoch: 1, Step: 7, Data: "tiny"}); p != want {
			t.Errorf("progress %+v, want %+v", p, want)
		}
		if !reflect.DeepEqual(m.(*dim.Model).DIMConfig(), model.DIMConfig()) {
			t.Errorf("config %+v, want %+v", m.(*dim.Model).DIMConfig(), model.DIMConfig())
		}
		if len(m.Optimizers()) != 2 {
			t.Fatalf("%d optimisers, want 2", len(m.Optimizers()))
		}
		sameTensors(t, "Load weights", nn.StateOf(m, "").Tensors(), nn.StateOf(model, "").Tensors())
		sameTensors(t, "Load optimiser state", optimizerState(m), optimizerState(model))
		enc, _, err := train.LoadEncoder(dir)
		if err != nil {
			t.Fatal(err)
		}
		if tr := enc.Spec().Transform; !reflect.DeepEqual(tr, data.Transform{Mean: []float32{0.25}, Std: []float32{0.5}}) {
			t.Errorf("transform %+v", tr)
		}
		x := randImages(4, 3, 1, 9)
		if !slices.Equal(evalY(t, enc, x), evalY(t, model.Encoder(), x)) {
			t.Error("Y of the loaded encoder differs from the old model's")
		}
	})
}

// writeCheckpoint writes tensors and, unless meta is "", metadata into dir.
func writeCheckpoint(t *testing.T, dir string, tensors map[string]*tensor.Tensor, meta string) {
	t.Helper()
	var md map[string]string
	if meta != "" {
		md = map[string]string{"deepinfomax": meta}
	}
	if err := checkpoint.Save(filepath.Join(dir, train.WeightsFile), tensors, md); err != nil {
		t.Fatal(err)
	}
}

func TestLoadErrors(t *testing.T) {
	m := trained(t, 1)
	all := nn.StateOf(m, "").Tensors()
	for k, v := range optimizerState(m) {
		all[k] = v
	}
	info := func(method string) string {
		cfg, _ := json.Marshal(m.Config())
		js, _ := json.Marshal(train.Info{Method: method, Config: cfg, Encoder: m.Encoder().Spec()})
		return string(js)
	}
	with := func(extra map[string]*tensor.Tensor, drop string) map[string]*tensor.Tensor {
		out := map[string]*tensor.Tensor{}
		for k, v := range all {
			if k != drop {
				out[k] = v
			}
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	for _, c := range []struct {
		name      string
		tensors   map[string]*tensor.Tensor // nil: no checkpoint file
		meta      string
		load, enc string // parts of the errors of Load and LoadEncoder ("" for none)
	}{
		{"empty dir", nil, "", "no checkpoint", "no checkpoint"},
		{"no metadata", all, "", "no deepinfomax metadata", "no deepinfomax metadata"},
		{"bad metadata", all, "{", "bad metadata", "bad metadata"},
		{"neither method nor arch", all, `{"config":{"lr":0.1}}`, "no method and no encoder", "no method and no encoder"},
		// LoadEncoder needs no method: only the encoder's spec and tensors.
		{"unknown method", all, info("no-such-method"), `unknown method "no-such-method" (want one of dim`, ""},
		{"unknown encoder", all, strings.Replace(info("dim"), tinyArch.Name, "no-such-encoder", 1), "no-such-encoder", "no-such-encoder"},
		{"missing encoder tensor", with(nil, "encoder.conv1.weight"), info("dim"), "encoder.conv1.weight", "encoder.conv1.weight"},
		{"wrong shape", with(map[string]*tensor.Tensor{"encoder.y.bias": tensor.New(5)}, ""), info("dim"), "encoder.y.bias", "encoder.y.bias"},
		// Tensors of other parts are the method's business, not the encoder's.
		{"unexpected tensor", with(map[string]*tensor.Tensor{"bogus.weight": tensor.New(2)}, ""), info("dim"), "bogus.weight", ""},
		{"missing optimiser state", with(nil, "optim_prior.adam.step"), info("dim"), "optim_prior.", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.tensors != nil {
				writeCheckpoint(t, dir, c.tensors, c.meta)
			}
			_, _, err := train.Load(dir)
			if err == nil || !strings.Contains(err.Error(), c.load) {
				t.Errorf("Load: err = %v, want one containing %q", err, c.load)
			}
			enc, _, err := train.LoadEncoder(dir)
			switch {
			case c.enc == "" && err != nil:
				t.Errorf("LoadEncoder: %v", err)
			case c.enc == "" && enc != nil:
				x := randImages(1, 2, 1, 9)
				if !slices.Equal(evalY(t, enc, x), evalY(t, m.Encoder(), x)) {
					t.Error("LoadEncoder: Y differs from the saved encoder's")
				}
			case c.enc != "" && (err == nil || !strings.Contains(err.Error(), c.enc)):
				t.Errorf("LoadEncoder: err = %v, want one containing %q", err, c.enc)
			}
		})
	}
	if _, _, err := train.Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Load of a missing directory: no error")
	}
}

// counted wraps a DIM model, counting steps and calling after (if set)
// after each; its state is the model's, under the same names.
type counted struct {
	*dim.Model `nn:",inline"`
	steps      int         `nn:"-"`
	after      func(n int) `nn:"-"`
}

func (c *counted) Step(b *train.Batch) ([]train.Loss, error) {
	l, err := c.Model.Step(b)
	c.steps++
	if c.after != nil {
		c.after(c.steps)
	}
	return l, err
}

func fileBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// events returns the event names of a run's metrics.jsonl.
func events(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct {
			Event string `json:"event"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("metrics line %q: %v", sc.Text(), err)
		}
		out = append(out, rec.Event)
	}
	return out
}

// TestRun: Run reaches the target in steps, counts epochs and samples,
// checkpoints, and logs start, step and checkpoint lines.
func TestRun(t *testing.T) {
	ds := tinyData(t, 7, 9) // 2 full batches of 3 per epoch
	dir := t.TempDir()
	m := &counted{Model: newTiny(t)}
	// The data options are recorded as data.Options.Recorded gives them.
	opts := data.Options{Size: 9, Seed: 5, Workers: 3}
	p, err := train.Run(context.Background(), m, train.Progress{}, train.Options{Dir: dir, Train: ds, DataSpec: "tiny", DataOptions: opts, Steps: 3, LogEvery: 2})
	if err != nil {
		t.Fatal(err)
	}
	if p.Divergence == nil || p.Divergence.Steps != 3 {
		t.Errorf("divergence references %+v, want those after 3 steps", p.Divergence)
	}
	if want := (train.Progress{Epoch: 1, Sample: 3, Step: 3, Data: "tiny", DataOptions: &data.Options{Size: 9}, Augment: &train.Augment{}, Divergence: p.Divergence}); !reflect.DeepEqual(p, want) || m.steps != 3 {
		t.Errorf("progress %+v after %d steps, want %+v after 3", p, m.steps, want)
	}
	// Checkpoints after epoch 1 (step 2) and at the end (step 3).
	if got, want := events(t, dir), []string{"start", "step", "checkpoint", "step", "checkpoint"}; !slices.Equal(got, want) {
		t.Errorf("metrics events %v, want %v", got, want)
	}
	loaded, lp, err := train.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lp, p) {
		t.Errorf("checkpointed progress %+v, want %+v", lp, p)
	}
	sameTensors(t, "checkpointed weights", nn.StateOf(loaded, "").Tensors(), nn.StateOf(m.Model, "").Tensors())

	// Epochs sets the target when Steps does not.
	dir2 := t.TempDir()
	_, p, err = train.Train(context.Background(), func() (train.Method, error) { return newTiny(t), nil }, train.Options{Dir: dir2, Train: ds, Epochs: 2})
	if err != nil || p.Step != 4 || p.Epoch != 2 || p.Sample != 0 {
		t.Errorf("2 epochs: %v, progress %+v", err, p)
	}
}

// TestRunRefusesExistingRun: without Resume, Run leaves a directory that
// holds a run alone.
func TestRunRefusesExistingRun(t *testing.T) {
	ds := tinyData(t, 6, 9)
	dir := t.TempDir()
	newM := func() (train.Method, error) { return newTiny(t), nil }
	if _, _, err := train.Train(context.Background(), newM, train.Options{Dir: dir, Train: ds, Steps: 1}); err != nil {
		t.Fatal(err)
	}
	weights, metrics := fileBytes(t, filepath.Join(dir, train.WeightsFile)), fileBytes(t, filepath.Join(dir, train.MetricsFile))
	m := &counted{Model: newTiny(t)}
	_, err := train.Run(context.Background(), m, train.Progress{}, train.Options{Dir: dir, Train: ds, Steps: 2})
	if err == nil || !strings.Contains(err.Error(), "already holds a run") {
		t.Fatalf("Run into a run directory: err = %v", err)
	}
	if m.steps != 0 {
		t.Errorf("%d steps taken", m.steps)
	}
	if !bytes.Equal(fileBytes(t, filepath.Join(dir, train.WeightsFile)), weights) || !bytes.Equal(fileBytes(t, filepath.Join(dir, train.MetricsFile)), metrics) {
		t.Error("the existing run's files changed")
	}
	// With Resume it continues.
	if _, p, err := train.Train(context.Background(), nil, train.Options{Dir: dir, Train: ds, Steps: 2, Resume: true}); err != nil || p.Step != 2 {
		t.Errorf("resume: %v, progress %+v", err, p)
	}
}

// TestRunChecksImages: images the encoder cannot take are refused before
// anything is trained or written.
func TestRunChecksImages(t *testing.T) {
	for _, c := range []struct {
		name      string
		ds        *data.Memory
		crop      int
		centre    int // the spec's centre crop
		wantError bool
	}{
		{"wrong size", tinyData(t, 6, 10), 0, 0, true},
		{"random crop to size", tinyData(t, 6, 12), 9, 9, false},
		{"random crop without an evaluation crop", tinyData(t, 6, 12), 9, 0, true},
		{"crop too small", tinyData(t, 6, 12), 8, 8, true},
		{"random crop smaller than the evaluation crop", tinyData(t, 6, 12), 8, 9, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := tinySpec
			spec.Transform.CenterCrop = c.centre
			model, err := dim.New(tinyConfig(), spec)
			if err != nil {
				t.Fatal(err)
			}
			m := &counted{Model: model}
			before := nn.StateOf(m, "").Tensors()
			for k, v := range before {
				before[k] = v.Clone()
			}
			dir := filepath.Join(t.TempDir(), "run")
			_, err = train.Run(context.Background(), m, train.Progress{}, train.Options{Dir: dir, Train: c.ds, Steps: 1, Augment: train.Augment{Crop: c.crop}})
			if !c.wantError {
				if err != nil || m.steps != 1 {
					t.Errorf("Run: %v after %d steps", err, m.steps)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if m.steps != 0 {
				t.Errorf("%d steps before the error", m.steps)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("run directory made before the error (%v)", err)
			}
			sameTensors(t, "weights", nn.StateOf(m, "").Tensors(), before)
		})
	}
}

// TestRunInterrupted: a cancelled context ends Run after the current step
// with a checkpoint of that point and ErrInterrupted; resuming continues.
func TestRunInterrupted(t *testing.T) {
	ds := tinyData(t, 12, 9)
	t.Run("before the first step", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		m := &counted{Model: newTiny(t)}
		p, err := train.Run(ctx, m, train.Progress{}, train.Options{Dir: dir, Train: ds, Steps: 4})
		if !errors.Is(err, train.ErrInterrupted) {
			t.Fatalf("err = %v, want ErrInterrupted", err)
		}
		if p.Step != 0 || m.steps != 0 {
			t.Errorf("progress %+v after %d steps", p, m.steps)
		}
		if _, lp, err := train.Load(dir); err != nil || lp.Step != 0 {
			t.Errorf("checkpoint: %v, progress %+v", err, lp)
		}
	})
	t.Run("mid-epoch", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		m := &counted{Model: newTiny(t)}
		m.after = func(n int) {
			if n == 2 {
				cancel()
			}
		}
		p, err := train.Run(ctx, m, train.Progress{}, train.Options{Dir: dir, Train: ds, Steps: 10})
		if !errors.Is(err, train.ErrInterrupted) {
			t.Fatalf("err = %v, want ErrInterrupted", err)
		}
		if p.Divergence == nil || p.Divergence.Steps != 2 {
			t.Errorf("divergence references %+v, want those after 2 steps", p.Divergence)
		}
		want := train.Progress{Epoch: 0, Sample: 6, Step: 2, DataOptions: &data.Options{}, Augment: &train.Augment{}, Divergence: p.Divergence}
		if !reflect.DeepEqual(p, want) || m.steps != 2 {
			t.Errorf("progress %+v after %d steps, want %+v after 2", p, m.steps, want)
		}
		loaded, lp, err := train.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(lp, want) {
			t.Errorf("checkpointed progress %+v, want %+v", lp, want)
		}
		sameTensors(t, "checkpointed weights", nn.StateOf(loaded, "").Tensors(), nn.StateOf(m.Model, "").Tensors())
		if ev := events(t, dir); ev[len(ev)-1] != "checkpoint" {
			t.Errorf("metrics events %v, want a checkpoint last", ev)
		}
		r := &counted{Model: loaded.(*dim.Model)}
		if p, err := train.Run(context.Background(), r, lp, train.Options{Dir: dir, Train: ds, Steps: 4, Resume: true}); err != nil || p.Step != 4 || r.steps != 2 {
			t.Errorf("resume: %v, progress %+v after %d more steps", err, p, r.steps)
		}
	})
}

// fakeCritic trains its own linear layer with its own Adam.
type fakeCritic struct {
	D   *nn.Linear
	opt *optim.Adam `nn:"-"`
}

func (f *fakeCritic) Optimizer() optim.Optimizer { return f.opt }

type withCritic struct {
	In     *nn.Linear
	Critic *fakeCritic
	Out    *nn.Linear
}

// TestTrainableParams: the main optimiser's parameters are those of the
// tree outside SelfOptimizing nodes, in tree order; the critic's are
// still saved.
func TestTrainableParams(t *testing.T) {
	rng := tensor.NewRNG(1)
	c := &fakeCritic{D: nn.NewLinear(3, 1, true, rng)}
	var err error
	if c.opt, err = optim.NewAdam(nn.StateOf(c, "").Vars(), optim.AdamConfig{LR: 1e-3}); err != nil {
		t.Fatal(err)
	}
	root := &withCritic{In: nn.NewLinear(2, 3, true, rng), Critic: c, Out: nn.NewLinear(3, 2, true, rng)}
	got := train.TrainableParams(root)
	want := []*autograd.Var{root.In.W, root.In.B, root.Out.W, root.Out.B}
	if !slices.Equal(got, want) {
		t.Errorf("TrainableParams = %d vars %v, want in.weight, in.bias, out.weight, out.bias", len(got), got)
	}
	names := keys(nn.StateOf(root, "").Tensors())
	if !slices.Contains(names, "critic.d.weight") {
		t.Errorf("state %v lacks the critic's weights", names)
	}

	// DIM's prior critic is such a node: the two optimisers split the
	// model's parameters.
	m := newTiny(t)
	opts := m.Optimizers()
	main, critic := opts[0].Opt.Params(), opts[1].Opt.Params()
	if len(critic) == 0 {
		t.Fatal("the prior critic's optimiser has no parameters")
	}
	for _, p := range critic {
		if slices.Contains(main, p) {
			t.Error("a critic parameter is in the main optimiser")
		}
	}
	if n := len(nn.StateOf(m, "").Params); len(main)+len(critic) != n {
		t.Errorf("%d + %d optimised parameters, model has %d", len(main), len(critic), n)
	}
	if !slices.Equal(train.TrainableParams(m), main) {
		t.Error("TrainableParams(model) is not the main optimiser's parameter list")
	}
}

func TestMethodsRegistry(t *testing.T) {
	if !slices.Contains(train.Methods(), "dim") || !slices.IsSorted(train.Methods()) {
		t.Errorf("Methods() = %v", train.Methods())
	}
	if err := train.Register("dim", nil); err == nil {
		t.Error("registering dim twice: no error")
	}
}

// TestLegacyCropRunResumes: a run made before the framework with random
// crops smaller than the images (dim train --crop, e.g. STL-10 96 -> 64)
// continues with --resume as it did then.
func TestLegacyCropRunResumes(t *testing.T) {
	dir := t.TempDir()
	const meta = `{"config":{"arch":"train-tiny","mi_units":6,"alpha":0,"beta":1,"gamma":0,"measure":"jsd","lr":0.0001,"batch":3,"seed":0},"progress":{"epoch":1,"sample":0,"step":2,"data":"tiny"}}`
	writeLegacy(t, dir, meta)
	ds := tinyData(t, 6, 12)
	_, p, err := train.Train(context.Background(), nil, train.Options{Dir: dir, Train: ds, DataSpec: "tiny", Steps: 3, Augment: train.Augment{Crop: 9}, Resume: true})
	if err != nil || p.Step != 3 {
		t.Fatalf("resume of an old --crop run: %v, progress %+v", err, p)
	}
}

// TestResumeDataOptions: a resumed run must be given the data options it
// was trained with (another hold-out or size would change its images);
// spellings of its data spec that data.Canonical folds together are the
// same data set; a run from before options were recorded takes them.
func TestResumeDataOptions(t *testing.T) {
	ds := tinyData(t, 7, 9)
	dir := t.TempDir()
	rec := data.Options{HoldOut: 0.2, Seed: 4}
	if _, _, err := train.Train(context.Background(), func() (train.Method, error) { return newTiny(t), nil },
		train.Options{Dir: dir, Train: ds, DataSpec: "folder:/d", DataOptions: rec, Steps: 1}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		spec    string
		opts    data.Options
		wantErr string
	}{
		{"folder:/d", data.Options{HoldOut: 0.3, Seed: 4}, "data options"},
		{"folder:/d", data.Options{HoldOut: 0.2, Seed: 5}, "data options"},
		{"folder:/d", data.Options{HoldOut: 0.2, Seed: 4, Size: 9}, "data options"},
		{"folder:/e", rec, "was trained on"},
		{"Images:/d", data.Options{HoldOut: 0.2, Seed: 4, Workers: 2}, ""},
	} {
		_, p, err := train.Train(context.Background(), nil, train.Options{Dir: dir, Train: ds, DataSpec: c.spec, DataOptions: c.opts, Steps: 2, Resume: true})
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("resume with %s %+v: %v", c.spec, c.opts, err)
		case c.wantErr == "" && (p.DataOptions == nil || *p.DataOptions != rec):
			t.Errorf("resume with %s %+v: recorded %+v, want %+v", c.spec, c.opts, p.DataOptions, rec)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("resume with %s %+v: error %v, want one mentioning %q", c.spec, c.opts, err, c.wantErr)
		}
	}
}
