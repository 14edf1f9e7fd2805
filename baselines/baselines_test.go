package baselines

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/internal/testutil"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/runlog"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

var tinyArch = encoder.Arch{
	Name: "baselines-tiny", Channels: 1, Size: 8,
	Convs: []encoder.ConvSpec{{Out: 3, Kernel: 3, Stride: 2, Pad: 1}, {Out: 5, Kernel: 3, Stride: 2, Pad: 1}},
	FCs:   []int{7}, Out: 4, LocalLayer: 1, FeatureLayer: 1,
}

func init() {
	if err := encoder.RegisterArch(tinyArch, "a test encoder"); err != nil {
		panic(err)
	}
}

var tinySpec = encoder.Spec{Name: tinyArch.Name}

func tinyData(t *testing.T, n int) data.Dataset {
	t.Helper()
	rng := tensor.NewRNG(42)
	pix, labels := make([]uint8, n*64), make([]int, n)
	for i := range labels {
		labels[i] = i % 3
		for j := range 64 {
			// The label shows: a bright row.
			v := rng.IntN(100)
			if j/8 == 2*labels[i] {
				v += 150
			}
			pix[i*64+j] = uint8(v)
		}
	}
	ds, err := data.NewMemory(1, 8, 8, pix, labels, 3)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func options() Options {
	return Options{Common: train.Common{LR: 3e-3, Batch: 6, Seed: 1}, Classes: 3, Samples: 12, GradPenalty: 1}
}

// TestAssignmentBruteForce compares the Hungarian algorithm with every
// permutation on small random cost matrices (with ties).
func TestAssignmentBruteForce(t *testing.T) {
	rng := tensor.NewRNG(7)
	var sc hungarianScratch
	for n := 1; n <= 6; n++ {
		for trial := range 20 {
			cost := make([]float64, n*n)
			for i := range cost {
				cost[i] = float64(rng.IntN(5 + trial)) // small integers: many ties
			}
			p := assignment(cost, n, &sc)
			seen := make([]bool, n)
			var got float64
			for i, j := range p {
				if j < 0 || j >= n || seen[j] {
					t.Fatalf("n=%d: %v is not a permutation", n, p)
				}
				seen[j] = true
				got += cost[i*n+j]
			}
			best := math.Inf(1)
			perm := make([]int, n)
			for i := range perm {
				perm[i] = i
			}
			var walk func(k int)
			walk = func(k int) {
				if k == n {
					var s float64
					for i, j := range perm {
						s += cost[i*n+j]
					}
					best = math.Min(best, s)
					return
				}
				for i := k; i < n; i++ {
					perm[k], perm[i] = perm[i], perm[k]
					walk(k + 1)
					perm[k], perm[i] = perm[i], perm[k]
				}
			}
			walk(0)
			if got != best {
				t.Fatalf("n=%d trial %d: assignment costs %v, the best permutation %v", n, trial, got, best)
			}
		}
	}
}

// batch returns the first n images of ds as a training batch.
func batch(t *testing.T, ds data.Dataset, n, step int) *train.Batch {
	t.Helper()
	for b, err := range data.Chunks(ds, n, data.Transform{}) {
		if err != nil {
			t.Fatal(err)
		}
		x := tensor.New(b.N, b.C, b.H, b.W)
		copy(x.Data, b.X)
		return &train.Batch{X: x, Labels: slices.Clone(b.Labels), Index: slices.Clone(b.Index), Step: step}
	}
	return nil
}

// TestLossesDecrease: on one small batch, supervised and NAT lower their
// loss; random changes nothing.
func TestLossesDecrease(t *testing.T) {
	ds := tinyData(t, 12)
	b := batch(t, ds, 12, 0)
	for _, name := range []string{"supervised", "nat", "random", "ae", "vae", "beta-vae", "aae"} {
		m, err := New(name, options(), tinySpec)
		if err != nil {
			t.Fatal(err)
		}
		before := nn.StateOf(m, "").Tensors()
		snapshot := map[string][]float32{}
		for k, v := range before {
			snapshot[k] = slices.Clone(v.Data)
		}
		var first, last float32
		for i := range 40 {
			b.Step = i
			l, err := m.Step(b)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if i == 0 {
				first = l[0].Value
			}
			last = l[0].Value
		}
		t.Logf("%s: loss %.4f -> %.4f", name, first, last)
		if name == "random" {
			for k, v := range nn.StateOf(m, "").Tensors() {
				if !slices.Equal(v.Data, snapshot[k]) {
					t.Errorf("random: %s changed", k)
				}
			}
			continue
		}
		if !(last < 0.8*first) {
			t.Errorf("%s: loss %.4f after 40 steps, %.4f at the first", name, last, first)
		}
	}
}

// TestNATStep checks NAT's loss against float64 (mean squared distance of
// the unit-norm Y to the reassigned targets, which the Hungarian algorithm
// chose) and that the assignment stays a permutation of the targets.
func TestNATStep(t *testing.T) {
	ds := tinyData(t, 12)
	mm, err := New("nat", options(), tinySpec)
	if err != nil {
		t.Fatal(err)
	}
	m := mm.(*NAT)
	b := batch(t, ds, 6, 0)
	// Y in training mode, as the step computes it.
	tp := autograd.NewTape()
	y := m.Enc.Encode(tp, tp.Const(b.X)).Y.Value
	before := slices.Clone(m.NAT.assign.Data)
	l, err := m.Step(b)
	if err != nil {
		t.Fatal(err)
	}
	d := y.Shape[1]
	var want float64
	for k, i := range b.Index {
		var norm float64
		for j := range d {
			norm += float64(y.Data[k*d+j]) * float64(y.Data[k*d+j])
		}
		norm = math.Sqrt(norm)
		tg := int(m.NAT.assign.Data[i])
		for j := range d {
			diff := float64(y.Data[k*d+j])/norm - float64(m.NAT.targets.Data[tg*d+j])
			want += diff * diff
		}
	}
	want /= float64(len(b.Index))
	if math.Abs(float64(l[0].Value)-want) > 1e-5 {
		t.Errorf("loss %v, float64 %v", l[0].Value, want)
	}
	// The batch's images hold the same set of targets as before, the
	// others theirs.
	var was, is []float32
	for i, v := range m.NAT.assign.Data {
		if slices.Contains(b.Index, i) {
			was, is = append(was, before[i]), append(is, v)
		} else if v != before[i] {
			t.Errorf("image %d outside the batch changed target", i)
		}
	}
	slices.Sort(was)
	slices.Sort(is)
	if !slices.Equal(was, is) {
		t.Errorf("the batch's targets %v became %v", was, is)
	}
	for r := range m.NAT.targets.Shape[0] {
		var s float64
		for _, v := range m.NAT.targets.Data[r*d : (r+1)*d] {
			s += float64(v) * float64(v)
		}
		if math.Abs(s-1) > 1e-5 {
			t.Fatalf("target %d has norm^2 %v", r, s)
		}
	}
}

// TestBaselinesThroughTheLoop trains each baseline with the shared loop,
// resumes it exactly (NAT's targets and assignment included), and reads
// its encoder back.
func TestBaselinesThroughTheLoop(t *testing.T) {
	ds := tinyData(t, 12)
	for _, name := range []string{"supervised", "nat", "random", "ae", "vae", "beta-vae", "aae", "bigan"} {
		build := func() (train.Method, error) { return New(name, options(), tinySpec) }
		full, part := filepath.Join(t.TempDir(), "full"), filepath.Join(t.TempDir(), "part")
		if _, _, err := train.Train(context.Background(), build, train.Options{Dir: full, Train: ds, Steps: 5, LogEvery: 1}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, _, err := train.Train(context.Background(), build, train.Options{Dir: part, Train: ds, Steps: 3, LogEvery: 1}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := train.Train(context.Background(), nil, train.Options{Dir: part, Train: ds, Steps: 5, LogEvery: 1, Resume: true}); err != nil {
			t.Fatalf("%s resume: %v", name, err)
		}
		losses := func(dir string) []float64 {
			recs, err := runlog.ReadMetrics(filepath.Join(dir, train.MetricsFile))
			if err != nil {
				t.Fatal(err)
			}
			var out []float64
			for _, r := range recs {
				if v, ok := r.Float("loss"); ok && r.Event == "step" {
					out = append(out, v)
				}
			}
			return out
		}
		if a, b := losses(full), losses(part); !slices.Equal(a, b) {
			t.Errorf("%s: losses %v uninterrupted, %v resumed", name, a, b)
		}
		enc, info, err := train.LoadEncoder(full)
		if err != nil || info.Method != name {
			t.Fatalf("%s: LoadEncoder: %v, %+v", name, err, info)
		}
		if _, err := encoder.Embed(enc, ds, encoder.EmbedOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := New("gan", options(), tinySpec); err == nil {
		t.Error("an unknown baseline: no error")
	}
}

// TestKL checks the VAE's KL term against the closed form written out in
// float64: KL(N(mu, s^2) || N(0,1)) = (s^2 + mu^2 - 1)/2 - log s per unit.
func TestKL(t *testing.T) {
	rng := tensor.NewRNG(3)
	mu, lv := tensor.New(4, 3), tensor.New(4, 3)
	rng.Uniform(mu, -2, 2)
	rng.Uniform(lv, -1.5, 1.5)
	tp := autograd.NewTape()
	got := klStandardNormal(tp, tp.Const(mu), tp.Const(lv)).Item()
	var want float64
	for i := range mu.Data {
		m, s2 := float64(mu.Data[i]), math.Exp(float64(lv.Data[i]))
		want += (s2+m*m-1)/2 - 0.5*math.Log(s2)
	}
	want /= 4
	if math.Abs(float64(got)-want) > 1e-5*math.Max(1, want) {
		t.Errorf("KL %v, closed form %v", got, want)
	}
}

// TestVAEReparameterisation: the decoder sees z = mu + exp(logvar/2) eps;
// with the noise drawn the same way, reconstructing from that z gives the
// recon the step reports, and the kl metric is the closed form of its mu
// and logvar.
func TestVAEReparameterisation(t *testing.T) {
	ds := tinyData(t, 6)
	mm, err := New("vae", options(), tinySpec)
	if err != nil {
		t.Fatal(err)
	}
	m := mm.(*Autoencoder)
	b := batch(t, ds, 6, 5)
	// The values the step will see (training mode, same batch).
	tp := autograd.NewTape()
	f := m.Enc.Encode(tp, tp.Const(b.X))
	lv := m.LogVar.Forward(tp, f.FC).Value
	eps := tensor.New(f.Y.Value.Shape...)
	rng := tensor.NewRNG(0)
	step := uint64(b.Step)
	rng.Seed(m.cfg.Seed*0x2545f4914f6cdd1d ^ (step+1)*0x9e3779b97f4a7c15)
	rng.Normal(eps, 0, 1)
	z := tensor.New(f.Y.Value.Shape...)
	var kl float64
	for i := range z.Data {
		mu, l := float64(f.Y.Value.Data[i]), float64(lv.Data[i])
		z.Data[i] = float32(mu + math.Exp(l/2)*float64(eps.Data[i]))
		kl += (math.Exp(l)+mu*mu-1)/2 - l/2
	}
	kl /= 6
	xr := m.Decoder.Forward(tp, tp.Const(z)).Value
	var recon float64
	for i, v := range xr.Data {
		d := float64(v) - float64(b.X.Data[i])
		recon += d * d
	}
	recon /= 6
	l, err := m.Step(b)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(l[1].Value)-recon) > 1e-3*math.Max(1, recon) || math.Abs(float64(l[2].Value)-kl) > 1e-4*math.Max(1, kl) {
		t.Errorf("recon %v kl %v, want %v %v", l[1].Value, l[2].Value, recon, kl)
	}
}

// TestBiGANGame: against a fixed critic the encoder and generator lower
// their loss, and against fixed pairs the critic lowers its own; the
// generator's images have the encoder's input shape.
func TestBiGANGame(t *testing.T) {
	ds := tinyData(t, 12)
	b := batch(t, ds, 12, 0)
	mm, err := New("bigan", options(), tinySpec)
	if err != nil {
		t.Fatal(err)
	}
	m := mm.(*BiGAN)
	var first, last float32
	for i := range 30 {
		b.Step = i
		l, err := m.step(func(tp *autograd.Tape) (*autograd.Var, error) { return m.objective(tp, b, true) })
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = l[0].Value
		}
		last = l[0].Value
	}
	if !(last < 0.95*first) {
		t.Errorf("encoder+generator loss against a fixed critic: %.4f -> %.4f", first, last)
	}
	tp := autograd.NewTape()
	z := tensor.New(5, 4)
	tensor.NewRNG(1).Normal(z, 0, 1)
	if x := m.Generator.Forward(tp, tp.Const(z)); !slices.Equal(x.Value.Shape, []int{5, 1, 8, 8}) {
		t.Errorf("generated images %v, want [5 1 8 8]", x.Value.Shape)
	}
	real, fake := tensor.New(12, 68), tensor.New(12, 68)
	tensor.NewRNG(2).Uniform(real, 0, 1)
	tensor.NewRNG(3).Uniform(fake, -1, 0)
	c0, err := m.Critic.CriticLoss(real, fake)
	if err != nil {
		t.Fatal(err)
	}
	var c1 float32
	for range 30 {
		if err := m.Critic.Update(); err != nil {
			t.Fatal(err)
		}
		if c1, err = m.Critic.CriticLoss(real, fake); err != nil {
			t.Fatal(err)
		}
	}
	if !(c1 < 0.8*c0) {
		t.Errorf("critic loss on fixed pairs: %.4f -> %.4f", c0, c1)
	}
}

// TestEvaluate: every baseline is a train.Evaluator whose losses are what
// its next Step reports before the update, bit for bit (the critic's as 0),
// that leaves every tensor (parameters, buffers, NAT's assignment) and
// every layer's mode as it was, and refuses a batch Step refuses.
func TestEvaluate(t *testing.T) {
	ds := tinyData(t, 12)
	for _, name := range []string{"supervised", "nat", "random", "ae", "vae", "beta-vae", "aae", "bigan"} {
		for _, evalMode := range []bool{false, true} {
			mm, err := New(name, options(), tinySpec)
			if err != nil {
				t.Fatal(err)
			}
			ev, ok := mm.(train.Evaluator)
			if !ok {
				t.Fatalf("%s is not a train.Evaluator", name)
			}
			for i := range 2 { // running statistics, moments and NAT's assignment away from their start
				b := batch(t, ds, 6, i)
				if _, err := mm.Step(b); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
			b := batch(t, ds, 12, 2)
			modes := nn.ModesOf(mm)
			modes.Set(!evalMode)
			savedModes := modes.Save()
			before := map[string][]float32{}
			for k, v := range nn.StateOf(mm, "").Tensors() {
				before[k] = slices.Clone(v.Data)
			}
			got, err := ev.Evaluate(b)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got = slices.Clone(got)
			for k, v := range nn.StateOf(mm, "").Tensors() {
				if !testutil.SameBits(v.Data, before[k]) {
					t.Errorf("%s: Evaluate changed %s", name, k)
				}
			}
			if !slices.Equal(modes.Save(), savedModes) {
				t.Errorf("%s: Evaluate left the layers' modes %v, want %v", name, modes.Save(), savedModes)
			}
			want, err := mm.Step(b)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(got) != len(want) {
				t.Fatalf("%s: Evaluate gives %d losses, Step %d", name, len(got), len(want))
			}
			for i, w := range want {
				g := got[i]
				switch {
				case g.Name != w.Name:
					t.Errorf("%s: loss %d is %s for Evaluate, %s for Step", name, i, g.Name, w.Name)
				case g.Name == criticLoss:
					if g.Value != 0 || w.Value == 0 {
						t.Errorf("%s: critic loss: Evaluate %v (want 0), Step %v", name, g.Value, w.Value)
					}
				case math.Float32bits(g.Value) != math.Float32bits(w.Value):
					t.Errorf("%s: %s: Evaluate %v, Step before its update %v", name, g.Name, g.Value, w.Value)
				}
			}
			if name == "random" {
				continue
			}
			bad := batch(t, ds, 6, 3)
			bad.X = tensor.New(6, 1, 9, 9)
			if l, err := ev.Evaluate(bad); err == nil || l != nil {
				t.Errorf("%s: Evaluate of 9x9 images: losses %v, error %v; want nil and an error", name, l, err)
			}
		}
	}
}
