package optim

import (
	"math"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/tensor"
)

// param returns a parameter holding vals.
func param(vals ...float32) *autograd.Var {
	t, err := tensor.FromSlice(append([]float32(nil), vals...), len(vals))
	if err != nil {
		panic(err)
	}
	return autograd.NewParam(t)
}

// newAdam returns NewAdam(params, cfg), failing the test on an error.
func newAdam(tb testing.TB, params []*autograd.Var, cfg AdamConfig) *Adam {
	tb.Helper()
	a, err := NewAdam(params, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// newSGD returns NewSGD(params, cfg), failing the test on an error.
func newSGD(tb testing.TB, params []*autograd.Var, cfg SGDConfig) *SGD {
	tb.Helper()
	s, err := NewSGD(params, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// mustSchedule returns a function that passes a schedule through, failing
// the test if the constructor's error is not nil:
// mustSchedule(t)(StepLR(...)).
func mustSchedule(tb testing.TB) func(Schedule, error) Schedule {
	return func(s Schedule, err error) Schedule {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return s
	}
}

// close32 reports whether got is within a float32-rounding tolerance of want.
func close32(got float32, want float64) bool {
	return math.Abs(float64(got)-want) <= 1e-6+2e-5*math.Abs(want)
}

// refAdam is a float64 transcription of torch.optim.Adam / AdamW's
// single-tensor step.
type refAdam struct {
	cfg  AdamConfig
	m, v []float64
	t    int
}

func (r *refAdam) step(p, grad []float64) {
	c := r.cfg.withDefaults()
	if r.m == nil {
		r.m, r.v = make([]float64, len(p)), make([]float64, len(p))
	}
	r.t++
	for j := range p {
		g := grad[j]
		if c.Decoupled {
			p[j] *= 1 - c.LR*c.WeightDecay
		} else {
			g += c.WeightDecay * p[j]
		}
		r.m[j] = c.Beta1*r.m[j] + (1-c.Beta1)*g
		r.v[j] = c.Beta2*r.v[j] + (1-c.Beta2)*g*g
		mhat := r.m[j] / (1 - math.Pow(c.Beta1, float64(r.t)))
		vhat := r.v[j] / (1 - math.Pow(c.Beta2, float64(r.t)))
		p[j] -= c.LR * mhat / (math.Sqrt(vhat) + c.Eps)
	}
}

// refSGD is a float64 transcription of torch.optim.SGD's step.
type refSGD struct {
	cfg SGDConfig
	buf []float64
}

func (r *refSGD) step(p, grad []float64) {
	c := r.cfg
	if c.LR == 0 {
		c.LR = 1e-3
	}
	for j := range p {
		g := grad[j] + c.WeightDecay*p[j]
		if c.Momentum != 0 {
			if r.buf == nil {
				r.buf = make([]float64, len(p))
				for k := range r.buf {
					r.buf[k] = math.NaN() // no buffer yet
				}
			}
			if math.IsNaN(r.buf[j]) {
				r.buf[j] = g // first step: buf = g, undamped
			} else {
				r.buf[j] = c.Momentum*r.buf[j] + (1-c.Dampening)*g
			}
			if c.Nesterov {
				g += c.Momentum * r.buf[j]
			} else {
				g = r.buf[j]
			}
		}
		p[j] -= c.LR * g
	}
}

var grads3 = [3][]float64{
	{0.5, -1.25, 0.003, 2, -0.0001},
	{0.25, -0.5, -0.004, 3, 0.0002},
	{-0.75, 1, 0.001, -1, 0.5},
}

var p0 = []float64{1, -0.5, 0.25, 3, 0}

// checkThreeSteps applies three steps of opt and of the float64 reference
// with the given gradients, comparing every parameter after every step with
// the reference and, where given, with hand-computed values.
func checkThreeSteps(t *testing.T, opt Optimizer, p *autograd.Var, ref func(p, g []float64), grads [3][]float64, init []float64, literal [3][]float64) {
	t.Helper()
	pr := append([]float64(nil), init...)
	for s := 0; s < 3; s++ {
		for j, g := range grads[s] {
			p.EnsureGrad().Data[j] = float32(g)
		}
		opt.Step()
		ref(pr, grads[s])
		for j := range pr {
			if !close32(p.Value.Data[j], pr[j]) {
				t.Fatalf("step %d, element %d: got %.9g, reference %.9g", s+1, j, p.Value.Data[j], pr[j])
			}
			if literal[s] != nil && !close32(p.Value.Data[j], literal[s][j]) {
				t.Fatalf("step %d, element %d: got %.9g, hand-computed %.9g", s+1, j, p.Value.Data[j], literal[s][j])
			}
		}
	}
}

func f32s(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func TestAdamReference(t *testing.T) {
	const lr, eps = 1e-3, 1e-8
	// With a constant gradient the bias-corrected moments are exactly g and
	// g*g, so every step moves p by lr*g/(|g|+eps).
	constG := []float64{0.5, -2, 1e-3}
	constUpd := func(steps float64) []float64 {
		out := make([]float64, len(constG))
		for j, g := range constG {
			out[j] = 1 - steps*lr*g/(math.Abs(g)+eps)
		}
		return out
	}
	tests := []struct {
		name    string
		cfg     AdamConfig
		init    []float64
		grads   [3][]float64
		literal [3][]float64
	}{
		{name: "defaults", init: p0, grads: grads3},
		{name: "constant gradient, hand-computed", init: []float64{1, 1, 1},
			grads:   [3][]float64{constG, constG, constG},
			literal: [3][]float64{constUpd(1), constUpd(2), constUpd(3)}},
		{
			// eps is added after the bias-corrected sqrt: step 1 with g=0.2,
			// eps=0.1, lr=0.1 gives -0.1*0.2/(0.2+0.1), not the 0.0059 that
			// adding eps before bias correction would give.
			name: "large eps, hand-computed first step", cfg: AdamConfig{LR: 0.1, Eps: 0.1},
			init: []float64{0}, grads: [3][]float64{{0.2}, {0.2}, {-0.4}},
			literal: [3][]float64{{-0.1 * 0.2 / 0.3}},
		},
		{name: "custom betas", cfg: AdamConfig{LR: 0.01, Beta1: 0.5, Beta2: 0.9, Eps: 1e-6}, init: p0, grads: grads3},
		{name: "L2 weight decay", cfg: AdamConfig{LR: 0.01, WeightDecay: 0.1}, init: p0, grads: grads3},
		{
			// Step 1: g' = 0.5 + 0.1*1 = 0.6, so p = 1 - 0.01*0.6/(0.6+1e-8).
			name: "L2 weight decay, hand-computed first step", cfg: AdamConfig{LR: 0.01, WeightDecay: 0.1},
			init: []float64{1}, grads: [3][]float64{{0.5}, {0.5}, {0.5}},
			literal: [3][]float64{{1 - 0.01*0.6/(0.6+1e-8)}},
		},
		{name: "AdamW decoupled decay", cfg: AdamConfig{LR: 0.01, WeightDecay: 0.5, Decoupled: true}, init: p0, grads: grads3},
		{
			// Step 1: p = 1*(1-0.01*0.5) - 0.01*0.5/0.5.
			name: "AdamW, hand-computed first step", cfg: AdamConfig{LR: 0.01, WeightDecay: 0.5, Decoupled: true},
			init: []float64{1}, grads: [3][]float64{{0.5}, {0.5}, {0.5}},
			literal: [3][]float64{{0.995 - 0.01}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := param(f32s(tc.init)...)
			opt := newAdam(t, []*autograd.Var{p}, tc.cfg)
			ref := &refAdam{cfg: tc.cfg}
			checkThreeSteps(t, opt, p, ref.step, tc.grads, tc.init, tc.literal)
			if opt.Steps() != 3 {
				t.Errorf("Steps() = %d, want 3", opt.Steps())
			}
		})
	}
}

func TestSGDReference(t *testing.T) {
	one := [3][]float64{{1}, {1}, {1}}
	tests := []struct {
		name    string
		cfg     SGDConfig
		init    []float64
		grads   [3][]float64
		literal [3][]float64
	}{
		{name: "plain", cfg: SGDConfig{LR: 0.1}, init: p0, grads: grads3},
		{name: "plain, hand-computed", cfg: SGDConfig{LR: 0.1}, init: []float64{0}, grads: one,
			literal: [3][]float64{{-0.1}, {-0.2}, {-0.3}}},
		{name: "weight decay", cfg: SGDConfig{LR: 0.1, WeightDecay: 0.01}, init: p0, grads: grads3},
		{name: "momentum", cfg: SGDConfig{LR: 0.1, Momentum: 0.9}, init: p0, grads: grads3},
		// buf = 1, 1.9, 2.71.
		{name: "momentum, hand-computed", cfg: SGDConfig{LR: 0.1, Momentum: 0.9}, init: []float64{0}, grads: one,
			literal: [3][]float64{{-0.1}, {-0.29}, {-0.561}}},
		// The first step sets buf = g undamped: buf = 1, 1.4, 1.76.
		{name: "dampening, hand-computed", cfg: SGDConfig{LR: 0.1, Momentum: 0.9, Dampening: 0.5}, init: []float64{0}, grads: one,
			literal: [3][]float64{{-0.1}, {-0.24}, {-0.416}}},
		{name: "momentum, dampening, decay", cfg: SGDConfig{LR: 0.05, Momentum: 0.8, Dampening: 0.3, WeightDecay: 0.1}, init: p0, grads: grads3},
		{name: "nesterov", cfg: SGDConfig{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 0.01}, init: p0, grads: grads3},
		// d = 1 + 0.9*buf with buf = 1, 1.9, 2.71.
		{name: "nesterov, hand-computed", cfg: SGDConfig{LR: 0.1, Momentum: 0.9, Nesterov: true}, init: []float64{0}, grads: one,
			literal: [3][]float64{{-0.19}, {-0.461}, {-0.8049}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := param(f32s(tc.init)...)
			opt := newSGD(t, []*autograd.Var{p}, tc.cfg)
			ref := &refSGD{cfg: tc.cfg}
			checkThreeSteps(t, opt, p, ref.step, tc.grads, tc.init, tc.literal)
		})
	}
}

// quadGrad sets the gradient of sum_j c_j*(p_j - target_j)^2 (plus a small
// step-dependent perturbation when noise is set) and returns the loss.
func quadGrad(ps []*autograd.Var, step int, noise bool) float64 {
	var loss float64
	for i, p := range ps {
		for j, x := range p.Value.Data {
			c := 1 + float64(i+j)/2
			d := float64(x) - float64(j) + float64(i)
			loss += c * d * d
			g := 2 * c * d
			if noise {
				g += 0.01 * math.Sin(float64(3*step+5*i+j))
			}
			p.EnsureGrad().Data[j] = float32(g)
		}
	}
	return loss
}

func newQuadParams() []*autograd.Var {
	return []*autograd.Var{param(0, 0, 0, 0), param(1, -1, 2), param(5)}
}

func TestQuadraticConverges(t *testing.T) {
	tests := []struct {
		name  string
		make  func(testing.TB, []*autograd.Var) Optimizer
		steps int
	}{
		{"adam", func(tb testing.TB, p []*autograd.Var) Optimizer { return newAdam(tb, p, AdamConfig{LR: 0.05}) }, 3000},
		{"adamw", func(tb testing.TB, p []*autograd.Var) Optimizer {
			return newAdam(tb, p, AdamConfig{LR: 0.05, WeightDecay: 1e-4, Decoupled: true})
		}, 3000},
		{"sgd", func(tb testing.TB, p []*autograd.Var) Optimizer { return newSGD(tb, p, SGDConfig{LR: 0.02}) }, 2000},
		{"sgd momentum", func(tb testing.TB, p []*autograd.Var) Optimizer {
			return newSGD(tb, p, SGDConfig{LR: 0.01, Momentum: 0.9})
		}, 2000},
		{"sgd nesterov", func(tb testing.TB, p []*autograd.Var) Optimizer {
			return newSGD(tb, p, SGDConfig{LR: 0.01, Momentum: 0.9, Nesterov: true})
		}, 2000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := newQuadParams()
			opt := tc.make(t, ps)
			start := quadGrad(ps, 0, false)
			sched := mustSchedule(t)(StepLR(opt.LR(), 1000, 0.3))
			for s := 0; s < tc.steps; s++ {
				sched.Apply(opt, s)
				opt.ZeroGrad()
				quadGrad(ps, s, false)
				opt.Step()
			}
			end := quadGrad(ps, 0, false)
			if !(end < 1e-5) {
				t.Fatalf("loss %g -> %g after %d steps, want < 1e-5", start, end, tc.steps)
			}
			if err := opt.Err(); err != nil {
				t.Errorf("Err() = %v", err)
			}
		})
	}
}

func TestSchedules(t *testing.T) {
	stepLR := func(base float64, stepSize int, gamma float64) Schedule {
		return mustSchedule(t)(StepLR(base, stepSize, gamma))
	}
	cosine := func(base, minLR float64, tMax int) Schedule {
		return mustSchedule(t)(CosineAnnealing(base, minLR, tMax))
	}
	tests := []struct {
		name  string
		s     Schedule
		epoch int
		want  float64
	}{
		{"constant 0", Constant(0.1), 0, 0.1},
		{"constant 1000", Constant(0.1), 1000, 0.1},
		{"step 0", stepLR(1, 30, 0.1), 0, 1},
		{"step 29", stepLR(1, 30, 0.1), 29, 1},
		{"step 30", stepLR(1, 30, 0.1), 30, 0.1},
		{"step 59", stepLR(1, 30, 0.1), 59, 0.1},
		{"step 60", stepLR(1, 30, 0.1), 60, 0.01},
		{"step 95", stepLR(0.5, 30, 0.5), 95, 0.0625},
		{"step negative", stepLR(1, 30, 0.1), -5, 1},
		{"multi 0", MultiStepLR(1, []int{30, 80}, 0.1), 0, 1},
		{"multi 29", MultiStepLR(1, []int{30, 80}, 0.1), 29, 1},
		{"multi 30", MultiStepLR(1, []int{30, 80}, 0.1), 30, 0.1},
		{"multi 79", MultiStepLR(1, []int{30, 80}, 0.1), 79, 0.1},
		{"multi 80", MultiStepLR(1, []int{30, 80}, 0.1), 80, 0.01},
		{"multi 1000", MultiStepLR(1, []int{30, 80}, 0.1), 1000, 0.01},
		{"multi unsorted", MultiStepLR(2, []int{80, 30}, 0.5), 50, 1},
		{"multi repeated milestone", MultiStepLR(1, []int{10, 10}, 0.5), 10, 0.25},
		{"multi none", MultiStepLR(3, nil, 0.5), 100, 3},
		{"cosine 0", cosine(1, 0.1, 10), 0, 1},
		{"cosine half", cosine(1, 0.1, 10), 5, 0.55},
		{"cosine end", cosine(1, 0.1, 10), 10, 0.1},
		{"cosine after", cosine(1, 0.1, 10), 20, 0.1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s(tc.epoch); math.Abs(got-tc.want) > 1e-12*math.Abs(tc.want)+1e-15 {
				t.Errorf("lr(%d) = %v, want %v", tc.epoch, got, tc.want)
			}
		})
	}
	ms := []int{5, 1}
	s := MultiStepLR(1, ms, 0.1)
	ms[0] = 100
	if got := s(5); math.Abs(got-0.01) > 1e-15 {
		t.Errorf("MultiStepLR is affected by later changes to milestones: lr(5) = %v", got)
	}
	opt := newSGD(t, []*autograd.Var{param(1)}, SGDConfig{LR: 1})
	stepLR(1, 2, 0.5).Apply(opt, 4)
	if opt.LR() != 0.25 {
		t.Errorf("after Apply, LR() = %v, want 0.25", opt.LR())
	}
}

func cloneParams(ps []*autograd.Var) []*autograd.Var {
	out := make([]*autograd.Var, len(ps))
	for i, p := range ps {
		out[i] = autograd.NewParam(p.Value.Clone())
	}
	return out
}

var makers = []struct {
	name string
	make func(testing.TB, []*autograd.Var) Optimizer
}{
	{"adam", func(tb testing.TB, p []*autograd.Var) Optimizer {
		return newAdam(tb, p, AdamConfig{LR: 0.01, WeightDecay: 0.01})
	}},
	{"adamw", func(tb testing.TB, p []*autograd.Var) Optimizer {
		return newAdam(tb, p, AdamConfig{LR: 0.01, WeightDecay: 0.1, Decoupled: true})
	}},
	{"sgd", func(tb testing.TB, p []*autograd.Var) Optimizer {
		return newSGD(tb, p, SGDConfig{LR: 0.01, WeightDecay: 0.01})
	}},
	{"sgd momentum", func(tb testing.TB, p []*autograd.Var) Optimizer {
		return newSGD(tb, p, SGDConfig{LR: 0.01, Momentum: 0.9, Dampening: 0.1})
	}},
	{"sgd nesterov", func(tb testing.TB, p []*autograd.Var) Optimizer {
		return newSGD(tb, p, SGDConfig{LR: 0.01, Momentum: 0.9, Nesterov: true})
	}},
}

func TestStateRoundTrip(t *testing.T) {
	for _, mk := range makers {
		t.Run(mk.name, func(t *testing.T) {
			run := func(opt Optimizer, from, to int) {
				for s := from; s < to; s++ {
					opt.ZeroGrad()
					quadGrad(opt.Params(), s, true)
					opt.Step()
				}
			}
			a := mk.make(t, newQuadParams())
			run(a, 0, 5)

			b := mk.make(t, newQuadParams())
			run(b, 0, 2)
			saved := b.State()
			run(b, 2, 3) // must not disturb the saved copy

			// b's parameters after two steps, as a checkpoint would hold them.
			b2 := mk.make(t, newQuadParams())
			run(b2, 0, 2)
			c := mk.make(t, cloneParams(b2.Params()))
			if err := c.LoadState(saved); err != nil {
				t.Fatal(err)
			}
			run(c, 2, 5)
			for i, p := range a.Params() {
				for j, x := range p.Value.Data {
					if y := c.Params()[i].Value.Data[j]; x != y {
						t.Fatalf("param %d[%d]: 5 steps give %v, 2+save/load+3 give %v", i, j, x, y)
					}
				}
			}
		})
	}
}

func TestStateNames(t *testing.T) {
	ps := []*autograd.Var{param(1, 2), param(3)}
	st := newAdam(t, ps, AdamConfig{}).State()
	for _, k := range []string{"adam.0.m", "adam.0.v", "adam.1.m", "adam.1.v", "adam.step"} {
		if _, ok := st[k]; !ok {
			t.Errorf("Adam state lacks %q", k)
		}
	}
	if len(st) != 5 {
		t.Errorf("Adam state has %d entries, want 5", len(st))
	}
	if s := st["adam.step"]; s.Rank() != 0 || s.Size() != 1 {
		t.Errorf("adam.step has shape %v", s.Shape)
	}
	st = newSGD(t, ps, SGDConfig{Momentum: 0.9}).State()
	if len(st) != 3 || st["sgd.1.momentum"] == nil || st["sgd.step"] == nil {
		t.Errorf("SGD momentum state keys wrong: %d entries", len(st))
	}
	if st = newSGD(t, ps, SGDConfig{}).State(); len(st) != 1 || st["sgd.step"] == nil {
		t.Errorf("plain SGD state keys wrong: %d entries", len(st))
	}
}

func TestLoadStateErrors(t *testing.T) {
	ps := []*autograd.Var{param(1, 2), param(3)}
	good := func() map[string]*tensor.Tensor {
		a := newAdam(t, ps, AdamConfig{})
		a.Step()
		return a.State()
	}
	scalar := func(v float32) *tensor.Tensor { return &tensor.Tensor{Shape: []int{}, Data: []float32{v}} }
	tests := []struct {
		name    string
		edit    func(map[string]*tensor.Tensor)
		wantErr string // substring; "" means success
	}{
		{"valid", func(map[string]*tensor.Tensor) {}, ""},
		{"extra unrelated keys ignored", func(m map[string]*tensor.Tensor) { m["encoder.w"] = tensor.New(7) }, ""},
		{"step as shape [1]", func(m map[string]*tensor.Tensor) { m["adam.step"] = tensor.New(1) }, ""},
		{"missing moment", func(m map[string]*tensor.Tensor) { delete(m, "adam.1.v") }, `"adam.1.v"`},
		{"missing step", func(m map[string]*tensor.Tensor) { delete(m, "adam.step") }, `"adam.step"`},
		{"extra parameter", func(m map[string]*tensor.Tensor) { m["adam.2.m"] = tensor.New(1) }, `"adam.2.m"`},
		{"wrong shape", func(m map[string]*tensor.Tensor) { m["adam.0.m"] = tensor.New(3) }, `"adam.0.m" has shape [3]`},
		{"same size other shape", func(m map[string]*tensor.Tensor) { m["adam.0.v"] = tensor.New(1, 2) }, `"adam.0.v"`},
		{"step not scalar", func(m map[string]*tensor.Tensor) { m["adam.step"] = tensor.New(2) }, `"adam.step"`},
		{"step fractional", func(m map[string]*tensor.Tensor) { m["adam.step"] = scalar(1.5) }, `"adam.step"`},
		{"step negative", func(m map[string]*tensor.Tensor) { m["adam.step"] = scalar(-1) }, `"adam.step"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := good()
			tc.edit(st)
			a := newAdam(t, ps, AdamConfig{})
			err := a.LoadState(st)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("LoadState: %v", err)
				}
				if a.Steps() != int64(st["adam.step"].Data[0]) {
					t.Errorf("Steps() = %d after load", a.Steps())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("LoadState error = %v, want one containing %s", err, tc.wantErr)
			}
			if a.Steps() != 0 || a.m[0].Data[0] != 0 {
				t.Errorf("failed LoadState changed the optimiser")
			}
		})
	}
	// Momentum and plain SGD states do not mix, nor do Adam and SGD.
	mom := newSGD(t, ps, SGDConfig{Momentum: 0.9})
	plain := newSGD(t, ps, SGDConfig{})
	if err := plain.LoadState(mom.State()); err == nil || !strings.Contains(err.Error(), "sgd.0.momentum") {
		t.Errorf("plain SGD loading momentum state: %v", err)
	}
	if err := mom.LoadState(plain.State()); err == nil || !strings.Contains(err.Error(), "sgd.0.momentum") {
		t.Errorf("momentum SGD loading plain state: %v", err)
	}
	if err := mom.LoadState(good()); err == nil {
		t.Errorf("SGD loaded an Adam state")
	}
}

func TestStepAllocatesNothing(t *testing.T) {
	for _, mk := range makers {
		t.Run(mk.name, func(t *testing.T) {
			ps := []*autograd.Var{autograd.NewParam(tensor.New(64, 32)), autograd.NewParam(tensor.New(32))}
			opt := mk.make(t, ps)
			quadGrad(ps, 0, true)
			if n := testing.AllocsPerRun(100, opt.Step); n != 0 {
				t.Errorf("Step allocates %v times per call", n)
			}
			if n := testing.AllocsPerRun(100, opt.ZeroGrad); n != 0 {
				t.Errorf("ZeroGrad allocates %v times per call", n)
			}
			if err := opt.Err(); err != nil {
				t.Errorf("Err() = %v", err)
			}
		})
	}
	ps := newQuadParams()
	quadGrad(ps, 0, false)
	if n := testing.AllocsPerRun(100, func() { ClipGradNorm(ps, 1) }); n != 0 {
		t.Errorf("ClipGradNorm allocates %v times per call", n)
	}
}

func TestClipGradNorm(t *testing.T) {
	tests := []struct {
		name    string
		grads   [][]float32
		max     float64
		norm    float64
		clipped [][]float64
	}{
		{"below", [][]float32{{3}, {4}}, 10, 5, [][]float64{{3}, {4}}},
		{"above", [][]float32{{3}, {4}}, 1, 5, [][]float64{{0.6}, {0.8}}},
		{"zero", [][]float32{{0, 0}}, 1, 0, [][]float64{{0, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ps []*autograd.Var
			for _, g := range tc.grads {
				p := param(make([]float32, len(g))...)
				copy(p.Grad.Data, g)
				ps = append(ps, p)
			}
			if n, err := ClipGradNorm(ps, tc.max); err != nil || math.Abs(n-tc.norm) > 1e-9 {
				t.Errorf("norm = %v, %v, want %v", n, err, tc.norm)
			}
			for i, p := range ps {
				for j, g := range p.Grad.Data {
					if !close32(g, tc.clipped[i][j]) {
						t.Errorf("grad %d[%d] = %v, want %v", i, j, g, tc.clipped[i][j])
					}
				}
			}
		})
	}
	p := param(1)
	p.Grad.Data[0] = float32(math.Inf(1))
	if n, err := ClipGradNorm([]*autograd.Var{p}, 1); err != nil || !math.IsInf(n, 1) || !math.IsInf(float64(p.Grad.Data[0]), 1) {
		t.Errorf("non-finite norm: got %v, %v, grad %v", n, err, p.Grad.Data[0])
	}
}

func TestConstructorErrors(t *testing.T) {
	p, q := param(1), param(2, 3)
	noValue := &autograd.Var{}
	nan := math.NaN()
	adam := func(ps []*autograd.Var, cfg AdamConfig) func() error {
		return func() error { _, err := NewAdam(ps, cfg); return err }
	}
	sgd := func(ps []*autograd.Var, cfg SGDConfig) func() error {
		return func() error { _, err := NewSGD(ps, cfg); return err }
	}
	one := []*autograd.Var{p}
	tests := []struct {
		name    string
		f       func() error
		wantErr string // substring; "" means success
	}{
		{"adam valid", adam([]*autograd.Var{p, q}, AdamConfig{LR: 0.1, Beta1: 0.5, WeightDecay: 1}), ""},
		{"adam beta1 zero is the default", adam(one, AdamConfig{Beta1: 0}), ""},
		{"adam beta1 one", adam(one, AdamConfig{Beta1: 1}), "optim: adam: invalid beta1 1 (want [0,1))"},
		{"adam beta1 1.5", adam(one, AdamConfig{Beta1: 1.5}), "optim: adam: invalid beta1 1.5 (want [0,1))"},
		{"adam beta1 NaN", adam(one, AdamConfig{Beta1: nan}), "invalid beta1 NaN"},
		{"adam beta2 negative", adam(one, AdamConfig{Beta2: -0.1}), "optim: adam: invalid beta2 -0.1 (want [0,1))"},
		{"adam lr negative", adam(one, AdamConfig{LR: -1}), "optim: adam: invalid learning rate -1"},
		{"adam lr NaN", adam(one, AdamConfig{LR: nan}), "invalid learning rate NaN"},
		{"adam eps negative", adam(one, AdamConfig{Eps: -1e-8}), "optim: adam: invalid eps"},
		{"adam weight decay negative", adam(one, AdamConfig{WeightDecay: -1}), "optim: adam: invalid weight decay -1"},
		{"adam duplicate", adam([]*autograd.Var{p, q, p}, AdamConfig{}), "optim: adam: parameter 2 is parameter 0 again"},
		{"adam nil", adam([]*autograd.Var{p, nil}, AdamConfig{}), "optim: adam: parameter 1 is nil"},
		{"adam no value", adam([]*autograd.Var{noValue}, AdamConfig{}), "optim: adam: parameter 0 is nil"},
		{"sgd valid", sgd([]*autograd.Var{p, q}, SGDConfig{LR: 0.1, Momentum: 0.9, Nesterov: true}), ""},
		{"sgd lr negative", sgd(one, SGDConfig{LR: -0.1}), "optim: sgd: invalid learning rate -0.1"},
		{"sgd momentum negative", sgd(one, SGDConfig{Momentum: -0.9}), "optim: sgd: invalid momentum -0.9"},
		{"sgd momentum NaN", sgd(one, SGDConfig{Momentum: nan}), "invalid momentum NaN"},
		{"sgd weight decay negative", sgd(one, SGDConfig{WeightDecay: -1}), "optim: sgd: invalid weight decay -1"},
		{"sgd nesterov without momentum", sgd(one, SGDConfig{Nesterov: true}), "optim: sgd: Nesterov momentum requires"},
		{"sgd nesterov with dampening", sgd(one, SGDConfig{Momentum: 0.9, Dampening: 0.1, Nesterov: true}),
			"optim: sgd: Nesterov momentum requires"},
		{"sgd duplicate", sgd([]*autograd.Var{q, q}, SGDConfig{}), "optim: sgd: parameter 1 is parameter 0 again"},
		{"sgd nil", sgd([]*autograd.Var{nil}, SGDConfig{}), "optim: sgd: parameter 0 is nil"},
		{"step size valid", func() error { _, err := StepLR(1, 1, 0.1); return err }, ""},
		{"step size zero", func() error { _, err := StepLR(1, 0, 0.1); return err }, "optim: StepLR: invalid step size 0 (want >= 1)"},
		{"step size negative", func() error { _, err := StepLR(1, -3, 0.1); return err }, "invalid step size -3"},
		{"cosine valid", func() error { _, err := CosineAnnealing(1, 0, 1); return err }, ""},
		{"cosine tMax zero", func() error { _, err := CosineAnnealing(1, 0, 0); return err },
			"optim: CosineAnnealing: invalid tMax 0 (want >= 1)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.f()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	// A failed constructor returns a nil optimiser or schedule.
	if a, err := NewAdam(one, AdamConfig{LR: -1}); a != nil || err == nil {
		t.Errorf("NewAdam with an invalid config = %v, %v", a, err)
	}
	if s, err := NewSGD(one, SGDConfig{LR: -1}); s != nil || err == nil {
		t.Errorf("NewSGD with an invalid config = %v, %v", s, err)
	}
	if s, err := StepLR(1, 0, 0.1); s != nil || err == nil {
		t.Errorf("StepLR with step size 0 returned a schedule")
	}
	if s, err := CosineAnnealing(1, 0, 0); s != nil || err == nil {
		t.Errorf("CosineAnnealing with tMax 0 returned a schedule")
	}
}

// TestStepSizeChanged checks that Step leaves a parameter whose value or
// gradient changed size untouched, updates the others, and reports the
// first such problem through Err without allocating on later steps.
func TestStepSizeChanged(t *testing.T) {
	changes := []struct {
		name    string
		change  func(p *autograd.Var)
		wantErr string
	}{
		{"value grew", func(p *autograd.Var) {
			p.Value, p.Grad = tensor.New(5), tensor.New(5)
			p.Grad.Fill(1)
		}, "parameter 1 has 5 values and a 5-value gradient, was 3"},
		{"value shrank", func(p *autograd.Var) {
			p.Value, p.Grad = tensor.New(2), tensor.New(2)
			p.Grad.Fill(1)
		}, "parameter 1 has 2 values and a 2-value gradient, was 3"},
		{"gradient grew", func(p *autograd.Var) {
			p.Grad = tensor.New(4)
			p.Grad.Fill(1)
		}, "parameter 1 has 3 values and a 4-value gradient, was 3"},
		{"gradient shrank", func(p *autograd.Var) { p.Grad = tensor.New(1) }, "parameter 1 has 3 values and a 1-value gradient, was 3"},
		{"value removed", func(p *autograd.Var) { p.Value = nil }, "parameter 1 has no value (had 3 values)"},
	}
	for _, mk := range makers {
		for _, ch := range changes {
			t.Run(mk.name+"/"+ch.name, func(t *testing.T) {
				ps := []*autograd.Var{param(1, 2), param(3, 4, 5), param(6)}
				opt := mk.make(t, ps)
				quadGrad(ps, 0, true)
				opt.Step()
				if err := opt.Err(); err != nil {
					t.Fatalf("Err() before the change = %v", err)
				}
				ch.change(ps[1])
				changed := ps[1]
				var before []float32
				if changed.Value != nil {
					before = append(before, changed.Value.Data...)
				}
				state := opt.State()
				others := [][]float32{append([]float32(nil), ps[0].Value.Data...), append([]float32(nil), ps[2].Value.Data...)}
				ps[0].Grad.Fill(1)
				ps[2].Grad.Fill(1)
				opt.Step()
				err := opt.Err()
				if err == nil || !strings.Contains(err.Error(), ch.wantErr) || !strings.HasPrefix(err.Error(), "optim: ") {
					t.Fatalf("Err() = %v, want one containing %q", err, ch.wantErr)
				}
				if changed.Value != nil {
					for j, x := range changed.Value.Data {
						if x != before[j] {
							t.Errorf("changed parameter was updated: [%d] %v -> %v", j, before[j], x)
						}
					}
				}
				for k, i := range []int{0, 2} {
					for j, x := range ps[i].Value.Data {
						if x == others[k][j] {
							t.Errorf("parameter %d[%d] was not updated", i, j)
						}
					}
				}
				// The changed parameter's buffers are untouched too.
				after := opt.State()
				for name, buf := range state {
					if !strings.Contains(name, ".1.") {
						continue
					}
					for j, x := range after[name].Data {
						if x != buf.Data[j] {
							t.Errorf("buffer %s[%d] changed: %v -> %v", name, j, buf.Data[j], x)
						}
					}
				}
				// Later steps keep the first error and allocate nothing.
				ps[0].Value = tensor.New(9)
				if n := testing.AllocsPerRun(10, opt.Step); n != 0 {
					t.Errorf("Step with a recorded error allocates %v times per call", n)
				}
				if opt.Err() != err {
					t.Errorf("Err() changed from %v to %v", err, opt.Err())
				}
			})
		}
	}
}

func TestDefaults(t *testing.T) {
	c := newAdam(t, []*autograd.Var{param(1)}, AdamConfig{}).Config()
	if c != (AdamConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}) {
		t.Errorf("Adam defaults = %+v", c)
	}
	if lr := newSGD(t, []*autograd.Var{param(1)}, SGDConfig{}).LR(); lr != 1e-3 {
		t.Errorf("SGD default LR = %v", lr)
	}
}

// benchParams returns about 10M parameters in tensors of typical sizes.
func benchParams() []*autograd.Var {
	var ps []*autograd.Var
	for i := 0; i < 10; i++ {
		ps = append(ps, autograd.NewParam(tensor.New(1000, 1000)), autograd.NewParam(tensor.New(1000)))
	}
	for _, p := range ps {
		p.Grad.Fill(0.01)
	}
	return ps
}

func BenchmarkAdamStep10M(b *testing.B) {
	opt := newAdam(b, benchParams(), AdamConfig{WeightDecay: 1e-4})
	b.SetBytes(28 * 10_010_000)
	for b.Loop() {
		opt.Step()
	}
}

func BenchmarkSGDMomentumStep10M(b *testing.B) {
	opt := newSGD(b, benchParams(), SGDConfig{LR: 0.01, Momentum: 0.9})
	b.SetBytes(20 * 10_010_000)
	for b.Loop() {
		opt.Step()
	}
}
