package dim_test

// An independent float64 reference of the Deep InfoMax objective: the
// encoder, the 1x1 MI networks, the score matrices, the estimators and the
// prior-matching loss, written with plain loops from the weights' names and
// the config alone (no project op: no autograd, no kernels, no mi). Its
// losses must match what the model computes.
//
// Every call into the project is in projectLosses, so that a change of the
// model API touches that one function.

import (
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/dim"
	"github.com/deepinfomax/deepinfomax/encoder"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

// refLosses are the terms of the objective.
type refLosses struct{ local, global, prior, total float64 }

// refCfg is a configuration of the objective: the encoder, the estimator,
// the weights of global, local and prior terms, and the batch size.
type refCfg struct {
	arch               string
	measure            mi.Measure
	alpha, beta, gamma float32
	batch              int
}

// projectLosses builds the model of cfg (in training mode, as after
// dim.New), replaces the trivial initial values of the normalisation layers
// (every tensor whose values are all equal: gamma 1, beta 0) by random ones
// so that a wrong use of them shows, and returns the weights by name (as
// float64, with their shapes) and the losses m.Loss computes for the batch x.
// It is the only function here that calls into the project.
func projectLosses(t *testing.T, rc refCfg, x *arr) (map[string]*arr, refLosses) {
	t.Helper()
	cfg := dim.DefaultConfig()
	cfg.MIUnits, cfg.Measure, cfg.Batch, cfg.Prior = 8, rc.measure, rc.batch, dim.PriorUniform
	cfg.Weights = map[string]float32{"alpha": rc.alpha, "beta": rc.beta, "gamma": rc.gamma}
	m, err := dim.New(cfg, encoder.Spec{Name: rc.arch})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	tensors := nn.StateOf(m, "").Tensors()
	names := make([]string, 0, len(tensors))
	for name := range tensors {
		names = append(names, name)
	}
	sort.Strings(names)
	weights := make(map[string]*arr, len(tensors))
	for _, name := range names {
		tt := tensors[name]
		if !strings.Contains(name, "running_") && allEqual(tt.Data) {
			for i := range tt.Data {
				tt.Data[i] += float32(rng.Float64() - 0.5)
			}
		}
		a := &arr{s: append([]int(nil), tt.Shape...), d: make([]float64, len(tt.Data))}
		for i, v := range tt.Data {
			a.d[i] = float64(v)
		}
		weights[name] = a
	}
	xt := tensor.New(x.s...)
	for i, v := range x.d {
		xt.Data[i] = float32(v)
	}
	tp := autograd.NewTape()
	tp.SetNoGrad(true)
	if _, err := m.Objective(tp, &train.Batch{X: xt}); err != nil {
		t.Fatal(err)
	}
	loss := func(name string) float64 {
		v, ok := m.Loss(name)
		if !ok {
			t.Fatalf("no %s loss", name)
		}
		return float64(v)
	}
	return weights, refLosses{local: loss("local"), global: loss("global"), prior: loss("prior"), total: loss("loss")}
}

func allEqual(d []float32) bool {
	for _, v := range d {
		if v != d[0] {
			return false
		}
	}
	return true
}

// refPoolArch is a small encoder with max pooling (in the encoder and in
// the part of it that global DIM copies), registered for this test.
var refPoolArch = encoder.Arch{
	Name: "refpool", Channels: 2, Size: 12,
	Convs: []encoder.ConvSpec{
		{Out: 4, Kernel: 3, Stride: 1, Pad: 1, PoolKernel: 2, PoolStride: 2}, // 4x6x6
		{Out: 6, Kernel: 3, Stride: 1, Pad: 1},                               // 6x6x6, the local map
		{Out: 5, Kernel: 3, Stride: 1, Pad: 1, PoolKernel: 3, PoolStride: 2}, // 5x2x2
	},
	FCs: []int{7}, Out: 4, LocalLayer: 1, FeatureLayer: 2,
}

func init() {
	if err := encoder.RegisterArch(refPoolArch, "a test encoder with pooling"); err != nil {
		panic(err)
	}
}

// refConv is what the reference needs to know about a conv layer beyond its
// weights (the kernel size comes from the weight's shape).
type refConv struct{ stride, pad, poolK, poolS int }

// refArch describes an encoder independently of the project's table, after
// mission.md section 5: its conv layers and the 0-based index of the one
// whose output is the local map. The fc layers are found by name.
type refArch struct {
	channels, size int
	convs          []refConv
	local          int
}

var refArchs = map[string]refArch{
	// conv 64 5x5/2 pad 2; conv 128 5x5/2 pad 2 (local map 7x7x128)
	"basic28x28": {1, 28, []refConv{{2, 2, 0, 0}, {2, 2, 0, 0}}, 1},
	// conv 64, 128, 256, each 4x4/2 pad 1; local map = layer 1 (8x8x128)
	"basic32x32": {3, 32, []refConv{{2, 1, 0, 0}, {2, 1, 0, 0}, {2, 1, 0, 0}}, 1},
	"refpool":    {2, 12, []refConv{{1, 1, 2, 2}, {1, 1, 0, 0}, {1, 1, 3, 2}}, 1},
}

// arr is a dense row-major float64 array.
type arr struct {
	s []int
	d []float64
}

func newArr(s ...int) *arr {
	n := 1
	for _, v := range s {
		n *= v
	}
	return &arr{s: s, d: make([]float64, n)}
}

// ref evaluates the objective from named weights.
type ref struct {
	t    *testing.T
	w    map[string]*arr
	used map[string]bool
}

func (r *ref) get(name string) *arr {
	r.t.Helper()
	a, ok := r.w[name]
	if !ok {
		r.t.Fatalf("no weight %q", name)
	}
	r.used[name] = true
	return a
}

func (r *ref) has(name string) bool { _, ok := r.w[name]; return ok }

// conv2d: x [N,C,H,W], w [O,C,K,K], b [O].
func conv2d(x, w, b *arr, stride, pad int) *arr {
	n, c, h, wd := x.s[0], x.s[1], x.s[2], x.s[3]
	o, k := w.s[0], w.s[2]
	oh, ow := (h+2*pad-k)/stride+1, (wd+2*pad-k)/stride+1
	y := newArr(n, o, oh, ow)
	for s := 0; s < n; s++ {
		for oc := 0; oc < o; oc++ {
			for i := 0; i < oh; i++ {
				for j := 0; j < ow; j++ {
					v := b.d[oc]
					for ic := 0; ic < c; ic++ {
						for ki := 0; ki < k; ki++ {
							yi := i*stride - pad + ki
							if yi < 0 || yi >= h {
								continue
							}
							for kj := 0; kj < k; kj++ {
								xj := j*stride - pad + kj
								if xj < 0 || xj >= wd {
									continue
								}
								v += x.d[((s*c+ic)*h+yi)*wd+xj] * w.d[((oc*c+ic)*k+ki)*k+kj]
							}
						}
					}
					y.d[((s*o+oc)*oh+i)*ow+j] = v
				}
			}
		}
	}
	return y
}

// maxPool: x [N,C,H,W], no padding.
func maxPool(x *arr, k, stride int) *arr {
	n, c, h, wd := x.s[0], x.s[1], x.s[2], x.s[3]
	oh, ow := (h-k)/stride+1, (wd-k)/stride+1
	y := newArr(n, c, oh, ow)
	for p := 0; p < n*c; p++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				v := math.Inf(-1)
				for ki := 0; ki < k; ki++ {
					for kj := 0; kj < k; kj++ {
						v = math.Max(v, x.d[(p*h+i*stride+ki)*wd+j*stride+kj])
					}
				}
				y.d[(p*oh+i)*ow+j] = v
			}
		}
	}
	return y
}

// batchNorm in training mode: per channel (axis 1) over the batch and any
// spatial axes, with the biased variance and eps 1e-5.
func batchNorm(x, gamma, beta *arr) *arr {
	n, c := x.s[0], x.s[1]
	sp := len(x.d) / (n * c)
	y := &arr{s: x.s, d: make([]float64, len(x.d))}
	for ch := 0; ch < c; ch++ {
		var sum float64
		for s := 0; s < n; s++ {
			for k := 0; k < sp; k++ {
				sum += x.d[(s*c+ch)*sp+k]
			}
		}
		mean := sum / float64(n*sp)
		var ss float64
		for s := 0; s < n; s++ {
			for k := 0; k < sp; k++ {
				d := x.d[(s*c+ch)*sp+k] - mean
				ss += d * d
			}
		}
		inv := 1 / math.Sqrt(ss/float64(n*sp)+1e-5)
		for s := 0; s < n; s++ {
			for k := 0; k < sp; k++ {
				i := (s*c+ch)*sp + k
				y.d[i] = (x.d[i]-mean)*inv*gamma.d[ch] + beta.d[ch]
			}
		}
	}
	return y
}

// layerNorm over the last axis of x [R,D], eps 1e-5.
func layerNorm(x, gamma, beta *arr) *arr {
	d := x.s[len(x.s)-1]
	y := &arr{s: x.s, d: make([]float64, len(x.d))}
	for r := 0; r < len(x.d)/d; r++ {
		row := x.d[r*d : (r+1)*d]
		var sum, ss float64
		for _, v := range row {
			sum += v
		}
		mean := sum / float64(d)
		for _, v := range row {
			ss += (v - mean) * (v - mean)
		}
		inv := 1 / math.Sqrt(ss/float64(d)+1e-5)
		for i, v := range row {
			y.d[r*d+i] = (v-mean)*inv*gamma.d[i] + beta.d[i]
		}
	}
	return y
}

func relu(x *arr) *arr {
	y := &arr{s: x.s, d: make([]float64, len(x.d))}
	for i, v := range x.d {
		y.d[i] = math.Max(v, 0)
	}
	return y
}

// linear: x [R, in] (or [N, ...] flattened), w [out,in], b [out] or nil.
func linear(x, w, b *arr) *arr {
	o, in := w.s[0], w.s[1]
	r := len(x.d) / in
	y := newArr(r, o)
	for i := 0; i < r; i++ {
		xr := x.d[i*in : (i+1)*in]
		for j := 0; j < o; j++ {
			wr := w.d[j*in : (j+1)*in]
			var v float64
			if b != nil {
				v = b.d[j]
			}
			for k, xv := range xr {
				v += xv * wr[k]
			}
			y.d[i*o+j] = v
		}
	}
	return y
}

func add(a, b *arr) *arr {
	y := &arr{s: a.s, d: make([]float64, len(a.d))}
	for i := range a.d {
		y.d[i] = a.d[i] + b.d[i]
	}
	return y
}

// convLayers runs conv layers from..to-1 (1-based names conv<i+1>, bn<i+1>
// under prefix) on x: conv, BatchNorm, ReLU, optional max pool.
func (r *ref) convLayers(prefix string, a refArch, from, to int, x *arr) (out *arr, atLocal *arr) {
	for i := from; i < to; i++ {
		c := a.convs[i]
		name := prefix + "conv" + itoa(i+1)
		bn := prefix + "bn" + itoa(i+1)
		x = relu(batchNorm(conv2d(x, r.get(name+".weight"), r.get(name+".bias"), c.stride, c.pad), r.get(bn+".weight"), r.get(bn+".bias")))
		if c.poolK > 0 {
			x = maxPool(x, c.poolK, c.poolS)
		}
		if i == a.local {
			atLocal = x
		}
	}
	return x, atLocal
}

// fcLayers runs fc1, bnfc1, ReLU, fc2, ... while they exist, then the
// output layer outName.
func (r *ref) fcLayers(prefix, outName string, x *arr) *arr {
	x = &arr{s: []int{x.s[0], len(x.d) / x.s[0]}, d: x.d}
	for i := 1; r.has(prefix + "fc" + itoa(i) + ".weight"); i++ {
		fc, bn := prefix+"fc"+itoa(i), prefix+"bnfc"+itoa(i)
		x = relu(batchNorm(linear(x, r.get(fc+".weight"), r.get(fc+".bias")), r.get(bn+".weight"), r.get(bn+".bias")))
	}
	return linear(x, r.get(prefix+outName+".weight"), r.get(prefix+outName+".bias"))
}

// miNet is the 1x1 MI network on rows x [R,in]:
// LN(conv2(ReLU(BN(conv1 x))) + shortcut x).
func (r *ref) miNet(prefix string, x *arr) *arr {
	h := linear(x, r.get(prefix+"block_nonlinear.0.weight"), nil)
	h = relu(batchNorm(h, r.get(prefix+"block_nonlinear.1.weight"), r.get(prefix+"block_nonlinear.1.bias")))
	h = linear(h, r.get(prefix+"block_nonlinear.3.weight"), r.get(prefix+"block_nonlinear.3.bias"))
	h = add(h, linear(x, r.get(prefix+"linear_shortcut.weight"), nil))
	return layerNorm(h, r.get(prefix+"block_ln.weight"), r.get(prefix+"block_ln.bias"))
}

// locRows turns a map [N,C,H,W] into rows [N*H*W, C]: row n*H*W + l holds
// the channels of sample n at location l.
func locRows(x *arr) *arr {
	n, c, hw := x.s[0], x.s[1], x.s[2]*x.s[3]
	y := newArr(n*hw, c)
	for s := 0; s < n; s++ {
		for ch := 0; ch < c; ch++ {
			for l := 0; l < hw; l++ {
				y.d[(s*hw+l)*c+ch] = x.d[(s*c+ch)*hw+l]
			}
		}
	}
	return y
}

// scores returns u [N, M] with u[i,k] = <a_i, b_k> for a [N,U], b [M,U].
func scores(a, b *arr) *arr {
	n, m, units := a.s[0], b.s[0], a.s[1]
	u := newArr(n, m)
	for i := 0; i < n; i++ {
		for k := 0; k < m; k++ {
			var v float64
			for j := 0; j < units; j++ {
				v += a.d[i*units+j] * b.d[k*units+j]
			}
			u.d[i*m+k] = v
		}
	}
	return u
}

func softplus(x float64) float64 { return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }

// estimator is the loss (the negative of the MI lower bound) of the score
// matrix u [N, N*L] whose entries u[i, j*L+l] are positives when j == i.
func estimator(measure string, u *arr) float64 {
	n := u.s[0]
	l := u.s[1] / n
	at := func(i, j, k int) float64 { return u.d[i*n*l+j*l+k] }
	switch measure {
	case "jsd":
		// E_neg[softplus(-u) + u] - E_pos[-softplus(-u)], both terms shifted
		// by log 2 as the reference does (-2 log 2 in all).
		var pos, neg float64
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				for k := 0; k < l; k++ {
					v := at(i, j, k)
					if i == j {
						pos += math.Ln2 - softplus(-v)
					} else {
						neg += softplus(-v) + v - math.Ln2
					}
				}
			}
		}
		return neg/float64(n*(n-1)*l) - pos/float64(n*l)
	case "nce":
		// For each positive (i, l): -log softmax of it among itself and all
		// negatives of row i. Self-pairs are masked as the reference does:
		// they enter the negatives as the score -10.
		var loss float64
		for i := 0; i < n; i++ {
			var negs []float64
			for j := 0; j < n; j++ {
				for k := 0; k < l; k++ {
					if j == i {
						negs = append(negs, -10)
					} else {
						negs = append(negs, at(i, j, k))
					}
				}
			}
			for k := 0; k < l; k++ {
				p := at(i, i, k)
				loss += logSumExp(append([]float64{p}, negs...)) - p
			}
		}
		return loss / float64(n*l)
	case "dv":
		// log E_neg[e^u] - E_pos[u], with the reference's conventions: the
		// sum over the N(N-1)L negatives is divided by N(N-1) (so the local
		// loss is log L above the plain mean), and 1e-6 is added to the sum
		// of e^(u - max), the max taken over all scores with the positives
		// lowered by 10.
		var pos float64
		mx := math.Inf(-1)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				for k := 0; k < l; k++ {
					v := at(i, j, k)
					if i == j {
						pos += v
						v -= 10
					}
					mx = math.Max(mx, v)
				}
			}
		}
		var sum float64
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				if j == i {
					continue
				}
				for k := 0; k < l; k++ {
					sum += math.Exp(at(i, j, k) - mx)
				}
			}
		}
		return math.Log(sum+1e-6) + mx - math.Log(float64(n*(n-1))) - pos/float64(n*l)
	}
	panic("reference: unknown measure " + measure)
}

func logSumExp(v []float64) float64 {
	mx := math.Inf(-1)
	for _, x := range v {
		mx = math.Max(mx, x)
	}
	var s float64
	for _, x := range v {
		s += math.Exp(x - mx)
	}
	return mx + math.Log(s)
}

// objective evaluates the DIM objective of cfg on x from the weights.
func (r *ref) objective(cfg refCfg, x *arr) refLosses {
	a, ok := refArchs[cfg.arch]
	if !ok {
		r.t.Fatalf("reference: no description of encoder %q", cfg.arch)
	}
	last, local := r.convLayers("encoder.", a, 0, len(a.convs), x)
	y := r.fcLayers("encoder.", "y", last)
	n := x.s[0]
	measure := string(cfg.measure)
	var out refLosses
	if cfg.beta > 0 {
		lm := r.miNet("local_map.", locRows(local)) // [N*H*W, units]
		ly := r.miNet("local_y.", y)                // [N, units]
		out.local = estimator(measure, scores(ly, lm))
	}
	if cfg.alpha > 0 {
		g, _ := r.convLayers("global_map.", a, a.local+1, len(a.convs), local)
		gx := r.fcLayers("global_map.", "out", g) // [N, units]
		gy := r.miNet("global_y.", y)             // [N, units]
		out.global = estimator(measure, scores(gy, gx))
	}
	if cfg.gamma > 0 {
		// Uniform prior: the discriminator sees sigmoid(Y); the encoder's
		// loss is mean softplus(-D).
		q := &arr{s: y.s, d: make([]float64, len(y.d))}
		for i, v := range y.d {
			q.d[i] = 1 / (1 + math.Exp(-v))
		}
		h := relu(linear(q, r.get("prior.0.weight"), r.get("prior.0.bias")))
		h = relu(linear(h, r.get("prior.2.weight"), r.get("prior.2.bias")))
		d := linear(h, r.get("prior.4.weight"), r.get("prior.4.bias"))
		for _, v := range d.d {
			out.prior += softplus(-v)
		}
		out.prior /= float64(n)
	}
	out.total = float64(cfg.alpha)*out.global + float64(cfg.beta)*out.local + float64(cfg.gamma)*out.prior
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestReferenceObjective compares the model's losses with the float64
// reference for several encoders, estimators and weightings.
func TestReferenceObjective(t *testing.T) {
	for _, c := range []struct {
		name               string
		arch               string
		measure            mi.Measure
		alpha, beta, gamma float32
		batch              int
	}{
		{"local-jsd", "basic28x28", mi.JSD, 0, 1, 0, 4},
		{"local+global-nce", "basic28x28", mi.NCE, 0.5, 0.1, 0, 3},
		{"local+global+prior-dv", "basic28x28", mi.DV, 0.5, 1, 0.1, 4},
		{"basic32x32-local+global+prior-jsd", "basic32x32", mi.JSD, 0.5, 0.1, 0.1, 3},
		{"pool-local+global+prior-nce", "refpool", mi.NCE, 0.5, 0.1, 0.1, 4},
		{"pool-local+global-dv", "refpool", mi.DV, 1, 0.5, 0, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := refCfg{arch: c.arch, measure: c.measure, alpha: c.alpha, beta: c.beta, gamma: c.gamma, batch: c.batch}
			a := refArchs[c.arch]
			x := newArr(c.batch, a.channels, a.size, a.size)
			rng := rand.New(rand.NewPCG(3, uint64(c.batch)))
			for i := range x.d {
				x.d[i] = 2*rng.Float64() - 1
			}
			weights, got := projectLosses(t, cfg, x)
			r := &ref{t: t, w: weights, used: map[string]bool{}}
			want := r.objective(cfg, x)
			worst := 0.0
			for _, term := range []struct {
				name      string
				got, want float64
			}{
				{"local", got.local, want.local},
				{"global", got.global, want.global},
				{"prior", got.prior, want.prior},
				{"total", got.total, want.total},
			} {
				d := math.Abs(term.got - term.want)
				worst = math.Max(worst, d/math.Max(1, math.Abs(term.want)))
				if !(d <= 1e-4*math.Max(1, math.Abs(term.want))) {
					t.Errorf("%s loss: model %.7g, reference %.7g (difference %.3g)", term.name, term.got, term.want, d)
				}
			}
			// Every parameter must have been used by the reference: a layer
			// the reference does not know of would otherwise go unchecked.
			for name := range weights {
				if !strings.Contains(name, "running_") && !r.used[name] {
					t.Errorf("weight %q not used by the reference", name)
				}
			}
			t.Logf("reference: local %.6f global %.6f prior %.6f total %.6f; largest relative difference %.2g", want.local, want.global, want.prior, want.total, worst)
		})
	}
}
