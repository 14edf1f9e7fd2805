package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The element-wise kernels must be bit-identical to these scalar loops (the
// ones optim.Adam and autograd's ReLU ran before the kernels existed),
// NaN payloads included.
//
// One thing the Go source does not fix: when both operands of an addition
// or a multiplication are NaNs with different bits, x86 returns the first
// source operand's, and which operand the compiler makes the first source
// of a commutative operation is a register-allocation choice (refAdam below
// and optim.Adam's identical loop compile with different orders). The
// comparisons against the scalar loops therefore keep at most one NaN among
// the inputs of an element (any payloads, both signs, quiet or signalling),
// and the assembly is checked for the two-NaN case against explicit models
// (adamModel, reluBackwardAddModel) of the order of the loops it replaced.

func refAdam(pd, gd, md, vd []float32, k AdamScalars) {
	stepSize, invBC2, b2, ob1, ob2, eps, l2, decay := k.StepSize, k.InvBC2, k.B2, k.OB1, k.OB2, k.Eps, k.L2, k.Decay
	gd, md, vd = gd[:len(pd)], md[:len(pd)], vd[:len(pd)]
	switch {
	case l2 != 0:
		for j, pj := range pd {
			g := gd[j] + float32(l2*pj)
			m := md[j] + float32(ob1*(g-md[j])) // each product rounded: no fused multiply-add
			v := float32(b2*vd[j]) + float32(float32(ob2*g)*g)
			md[j], vd[j] = m, v
			pd[j] = pj - float32(stepSize*m)/(float32(float32(math.Sqrt(float64(v)))*invBC2)+eps)
		}
	case decay != 1:
		for j, pj := range pd {
			pj *= decay
			g := gd[j]
			m := md[j] + float32(ob1*(g-md[j])) // each product rounded: no fused multiply-add
			v := float32(b2*vd[j]) + float32(float32(ob2*g)*g)
			md[j], vd[j] = m, v
			pd[j] = pj - float32(stepSize*m)/(float32(float32(math.Sqrt(float64(v)))*invBC2)+eps)
		}
	default:
		for j, pj := range pd {
			g := gd[j]
			m := md[j] + float32(ob1*(g-md[j])) // each product rounded: no fused multiply-add
			v := float32(b2*vd[j]) + float32(float32(ob2*g)*g)
			md[j], vd[j] = m, v
			pd[j] = pj - float32(stepSize*m)/(float32(float32(math.Sqrt(float64(v)))*invBC2)+eps)
		}
	}
}

func refReLU(od, xd []float32) {
	od = od[:len(xd)]
	for i, v := range xd {
		od[i] = max(v, 0)
	}
}

func refReLUBackward(gx, g, y []float32) {
	gx, y = gx[:len(g)], y[:len(g)]
	for i, v := range g {
		if y[i] > 0 {
			gx[i] = v
		} else {
			gx[i] = 0
		}
	}
}

func refReLUBackwardAdd(gx, g, y []float32) {
	gx, y = gx[:len(g)], y[:len(g)]
	for i, v := range g {
		if y[i] > 0 {
			gx[i] += v
		}
	}
}

// Special float32 bit patterns: NaNs of both signs with distinct payloads,
// quiet and signalling, infinities, signed zeros, subnormals, extremes.
var elemSpecials = []uint32{
	0x7fc00000, 0xffc00000, 0x7fc00001, 0xffc12345, 0x7fbfffff, 0xff800001, 0x7f800001, 0xffa00000,
	0x7f800000, 0xff800000, // +-Inf
	0x00000000, 0x80000000, // +-0
	0x00000001, 0x80000001, 0x007fffff, 0x807fffff, 0x00400000, // subnormals
	0x00800000, 0x80800000, // smallest normals
	0x7f7fffff, 0xff7fffff, // largest finite
	0x3f800000, 0xbf800000, 0x1e3ce508, 0x9e3ce508, // +-1, +-1e-20
}

// elemInput returns n values: mostly random of a wide range of magnitudes
// and both signs, with a share frac of special values.
func elemInput(rng *rand.Rand, n int, frac float64, positive bool) []float32 {
	x := make([]float32, n)
	for i := range x {
		if rng.Float64() < frac {
			x[i] = math.Float32frombits(elemSpecials[rng.IntN(len(elemSpecials))])
			continue
		}
		v := float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(9)-6)))
		if positive {
			v = float32(math.Abs(float64(v)))
		}
		x[i] = v
	}
	return x
}

var elemSizes = []int{0, 1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 1000, 4099, 1<<16 + 33}

// sameBits reports the first index where got and want differ in bits.
func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		if g, w := math.Float32bits(got[i]), math.Float32bits(want[i]); g != w {
			t.Fatalf("%s: [%d] = %#08x (%v), want %#08x (%v)", what, i, g, got[i], w, want[i])
		}
	}
}

func TestBuiltinMaxBits(t *testing.T) {
	// ReLU copies these bits of the builtin max on amd64 (the compiler's
	// lowering): a NaN comes out with its sign cleared and its payload kept,
	// -0 becomes +0.
	for _, c := range []struct{ in, want uint32 }{
		{0xffc00000, 0x7fc00000}, {0x7fc00001, 0x7fc00001}, {0xff800001, 0x7f800001},
		{0x80000000, 0}, {0, 0}, {0x80000001, 0}, {0x00000001, 0x00000001},
		{0xff800000, 0}, {0x7f800000, 0x7f800000},
	} {
		x := []float32{math.Float32frombits(c.in)}
		out := []float32{1}
		refReLU(out, x)
		if got := math.Float32bits(out[0]); got != c.want {
			t.Errorf("max(%#08x, 0) = %#08x, want %#08x", c.in, got, c.want)
		}
	}
}

// oneNaN leaves at most one NaN at each index across arrays and makes the
// other values there finite, so that no two different NaNs meet: neither
// two inputs nor an input and a NaN made of infinities (all NaNs the
// hardware makes are the same 0xffc00000).
func oneNaN(rng *rand.Rand, arrays ...[]float32) {
	for i := range arrays[0] {
		k := -1
		for _, j := range rng.Perm(len(arrays)) {
			if x := arrays[j][i]; x != x {
				k = j
				break
			}
		}
		if k < 0 {
			continue
		}
		for j, a := range arrays {
			if x := float64(a[i]); j != k && (math.IsNaN(x) || math.IsInf(x, 0)) {
				a[i] = float32(rng.NormFloat64())
			}
		}
	}
}

// isNaN32 reports whether f is a NaN.
func isNaN32(f float32) bool { return f != f }

// quiet returns the NaN f quietened, as x86 arithmetic returns it.
func quiet(f float32) float32 { return math.Float32frombits(math.Float32bits(f) | 1<<22) }

// The operations of the models: IEEE float32 arithmetic where a NaN
// operand propagates, the first one (a) when both are NaNs, as on x86.
func addF(a, b float32) float32 {
	switch {
	case isNaN32(a):
		return quiet(a)
	case isNaN32(b):
		return quiet(b)
	}
	return a + b
}

func subF(a, b float32) float32 {
	switch {
	case isNaN32(a):
		return quiet(a)
	case isNaN32(b):
		return quiet(b)
	}
	return a - b
}

func mulF(a, b float32) float32 {
	switch {
	case isNaN32(a):
		return quiet(a)
	case isNaN32(b):
		return quiet(b)
	}
	return a * b
}

func divF(a, b float32) float32 {
	switch {
	case isNaN32(a):
		return quiet(a)
	case isNaN32(b):
		return quiet(b)
	}
	return a / b
}

func sqrtF(a float32) float32 {
	if isNaN32(a) {
		return quiet(a)
	}
	return float32(math.Sqrt(float64(a)))
}

// adamModel is the scalar Adam loop with the operand order of each
// operation as optim.Adam's loop compiled (Go 1.26, GOAMD64=v1), which the
// assembly copies.
func adamModel(pd, gd, md, vd []float32, k AdamScalars) {
	for j, p := range pd {
		g, m, v := gd[j], md[j], vd[j]
		var o2 float32
		switch {
		case k.L2 != 0:
			g = addF(mulF(k.L2, p), g)
			o2 = mulF(g, mulF(g, k.OB2))
		case k.Decay != 1:
			p = mulF(p, k.Decay)
			o2 = mulF(mulF(k.OB2, g), g)
		default:
			o2 = mulF(mulF(k.OB2, g), g)
		}
		m = addF(mulF(subF(g, m), k.OB1), m)
		v = addF(o2, mulF(v, k.B2))
		md[j], vd[j] = m, v
		pd[j] = subF(p, divF(mulF(m, k.StepSize), addF(mulF(sqrtF(v), k.InvBC2), k.Eps)))
	}
}

// reluBackwardAddModel is reluBackwardAdd with the operand order of the
// loop it replaced in autograd (g first).
func reluBackwardAddModel(gx, g, y []float32) {
	for i, v := range g {
		if y[i] > 0 {
			gx[i] = addF(v, gx[i])
		}
	}
}

type adamCase struct {
	name string
	s    AdamScalars
	// nanScalars: more than one NaN among the scalars (or one meeting NaN
	// data), a case only the model decides.
	nanScalars bool
}

func adamCases() []adamCase {
	base := AdamScalars{StepSize: 1e-3 / 0.1, InvBC2: float32(1 / math.Sqrt(0.001)), B2: 0.999, OB1: 0.1, OB2: 0.001, Eps: 1e-8, L2: 0, Decay: 1}
	with := func(f func(*AdamScalars)) AdamScalars { s := base; f(&s); return s }
	nan := func(b uint32) float32 { return math.Float32frombits(b) }
	inf := float32(math.Inf(1))
	return []adamCase{
		{"default", base, false},
		{"decay", with(func(s *AdamScalars) { s.Decay = 1 - 1e-3*1e-2 }), false},
		{"l2", with(func(s *AdamScalars) { s.L2 = 1e-2 }), false},
		{"l2+decay", with(func(s *AdamScalars) { s.L2 = 5e-4; s.Decay = 0.5 }), false},
		{"l2=-0", with(func(s *AdamScalars) { s.L2 = float32(math.Copysign(0, -1)) }), false},
		{"eps=0", with(func(s *AdamScalars) { s.Eps = 0 }), false},
		{"step=inf", with(func(s *AdamScalars) { s.StepSize = inf; s.L2 = 1 }), false},
		{"first-step", AdamScalars{StepSize: 1e-3, InvBC2: float32(1 / math.Sqrt(1-0.999)), B2: 0.999, OB1: 0.1, OB2: 0.001, Eps: 1e-8, Decay: 1}, false},
		{"l2=nan", with(func(s *AdamScalars) { s.L2 = nan(0x7fc00000) }), true},
		{"decay=nan", with(func(s *AdamScalars) { s.Decay = nan(0xffc0beef) }), true},
		{"nan-scalars", AdamScalars{StepSize: nan(0xffc0beef), InvBC2: nan(0x7fc00002), B2: nan(0x7fc00003), OB1: nan(0xffc00004),
			OB2: nan(0x7fc00005), Eps: nan(0x7fc00006), L2: nan(0xffc00007), Decay: 1}, true},
		{"nan-ob2", with(func(s *AdamScalars) { s.OB2 = nan(0x7fc00005) }), true},
		{"nan-ob2-l2", with(func(s *AdamScalars) { s.OB2 = nan(0x7fc00005); s.L2 = 0.5 }), true},
		{"nan-ob1-decay", with(func(s *AdamScalars) { s.OB1 = nan(0x7fc00009); s.Decay = 0.25 }), true},
	}
}

// adamInputs returns p, g, m, v of n elements starting at an odd offset,
// with one extra element after them; frac of the values are special.
func adamInputs(rng *rand.Rand, n int, frac float64, negV bool) (p, g, m, v []float32) {
	p = elemInput(rng, n+2, frac, false)[1:]
	g = elemInput(rng, n+2, frac, false)[1:]
	m = elemInput(rng, n+2, frac, false)[1:]
	v = elemInput(rng, n+2, frac, !negV)[1:]
	return
}

func checkAdam(t *testing.T, name string, n int, p, g, m, v []float32, s AdamScalars,
	ref func(p, g, m, v []float32, s AdamScalars)) {
	t.Helper()
	wp, wm, wv := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
	ref(wp[:n], g, wm, wv, s)
	AdamUpdate(p[:n], g, m, v, s)
	sameBits(t, name+": p", p, wp)
	sameBits(t, name+": m", m, wm)
	sameBits(t, name+": v", v, wv)
}

func TestAdamUpdate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range adamCases() {
		for _, n := range elemSizes {
			for _, frac := range []float64{0, 0.3, 1} {
				name := fmt.Sprintf("%s/n=%d/special=%v", c.name, n, frac)
				p, g, m, v := adamInputs(rng, n, frac, frac == 1)
				if c.nanScalars {
					// A NaN scalar meets no NaN data, nor a NaN made of
					// it (no infinities, no negative v).
					for _, a := range [][]float32{p, g, m, v} {
						for i, x := range a {
							if x != x || math.IsInf(float64(x), 0) {
								a[i] = 0.5
							}
						}
					}
					for i, x := range v {
						v[i] = float32(math.Abs(float64(x)))
					}
					if c.name == "nan-scalars" {
						continue // several NaN scalars: the model only
					}
				}
				oneNaN(rng, p, g, m, v)
				checkAdam(t, name, n, p, g, m, v, c.s, refAdam)
			}
		}
	}
}

func TestAdamUpdateTwoNaNs(t *testing.T) {
	if !elemAVX512 {
		t.Skip("the Go loop's order for two NaNs is the compiler's; the model is the assembly's")
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for _, c := range adamCases() {
		for _, n := range elemSizes {
			for _, frac := range []float64{0.3, 1} {
				p, g, m, v := adamInputs(rng, n, frac, frac == 1)
				checkAdam(t, fmt.Sprintf("%s/n=%d/special=%v", c.name, n, frac), n, p, g, m, v, c.s, adamModel)
			}
		}
	}
	// Every combination of specials in one element, for each variant.
	for _, c := range adamCases()[:4] {
		var p, g, m, v []float32
		for _, a := range elemSpecials {
			for _, b := range elemSpecials {
				for _, d := range elemSpecials {
					for _, e := range elemSpecials {
						f := math.Float32frombits
						p, g, m, v = append(p, f(a)), append(g, f(b)), append(m, f(d)), append(v, f(e))
					}
				}
			}
		}
		checkAdam(t, c.name+"/all-specials", len(p), p, g, m, v, c.s, adamModel)
	}
}

func TestAdamUpdateGo(t *testing.T) {
	// The Go loop used where there is no AVX-512 (tested here even when
	// the assembly runs).
	s := AdamScalars{StepSize: 0.01, InvBC2: 3, B2: 0.999, OB1: 0.1, OB2: 0.001, Eps: 1e-8, L2: 0, Decay: 1}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, variant := range []int{adamDefault, adamDecay, adamL2} {
		k := s
		switch variant {
		case adamDecay:
			k.Decay = 0.9
		case adamL2:
			k.L2 = 0.1
		}
		n := 1000
		p, g, m, v := elemInput(rng, n, 0.3, false), elemInput(rng, n, 0.3, false), elemInput(rng, n, 0.3, false), elemInput(rng, n, 0.3, true)
		oneNaN(rng, p, g, m, v)
		wp, wm, wv := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
		refAdam(wp, g, wm, wv, k)
		adamUpdateGo(p, g, m, v, &k, k.variant())
		sameBits(t, fmt.Sprintf("variant %d: p", variant), p, wp)
		sameBits(t, fmt.Sprintf("variant %d: m", variant), m, wm)
		sameBits(t, fmt.Sprintf("variant %d: v", variant), v, wv)
	}
}

func TestReLUKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range elemSizes {
		for _, frac := range []float64{0, 0.3, 1} {
			name := fmt.Sprintf("n=%d/special=%v", n, frac)
			x := elemInput(rng, n+2, frac, false)[1:]
			g := elemInput(rng, n+2, frac, false)[1:]
			gx0 := elemInput(rng, n+2, frac, false)[1:]

			out := elemInput(rng, n+1, 0, false)
			want := append([]float32(nil), out...)
			refReLU(want, x[:n])
			ReLU(out, x[:n])
			sameBits(t, name+": ReLU", out, want)

			// Backward with y = the forward output and with y = x (negative
			// values, -0 and NaNs of both signs).
			for yi, y := range [][]float32{out, x} {
				gx := append([]float32(nil), gx0...)
				want := append([]float32(nil), gx0...)
				refReLUBackward(want, g[:n], y)
				ReLUBackward(gx, g[:n], y)
				sameBits(t, fmt.Sprintf("%s/y%d: ReLUBackward", name, yi), gx, want)

				// Against the loop, no two NaNs meet; against the model
				// (the assembly only), any.
				g1, gx1 := append([]float32(nil), g...), append([]float32(nil), gx0...)
				oneNaN(rng, g1, gx1)
				gx = append(gx[:0], gx1...)
				want = append(want[:0], gx1...)
				refReLUBackwardAdd(want, g1[:n], y)
				ReLUBackwardAdd(gx, g1[:n], y)
				sameBits(t, fmt.Sprintf("%s/y%d: ReLUBackwardAdd", name, yi), gx, want)
				if elemAVX512 {
					gx = append(gx[:0], gx0...)
					want = append(want[:0], gx0...)
					reluBackwardAddModel(want, g[:n], y)
					ReLUBackwardAdd(gx, g[:n], y)
					sameBits(t, fmt.Sprintf("%s/y%d: ReLUBackwardAdd two NaNs", name, yi), gx, want)
				}
			}
		}
	}
}

// TestAdd checks Add against a float64-free reference (each sum is one
// float32 addition, exact up to its rounding) on odd sizes, with specials
// (no two NaNs meet: which NaN an addition returns is the operand order's)
// and with dst aliasing an operand.
func TestAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	ref := func(dst, a, b []float32) {
		for i := range dst {
			dst[i] = float32(float64(a[i]) + float64(b[i])) // exact, then rounded once
		}
	}
	for _, n := range elemSizes {
		a, b := elemInput(rng, n+1, 0.3, false), elemInput(rng, n+1, 0.3, false)
		oneNaN(rng, a[1:], b[:n])
		want := make([]float32, n)
		got := elemInput(rng, n+1, 0, false)
		tail := got[n]
		Add(got[:n], a[1:], b) // a shifted: unaligned operands
		ref(want, a[1:], b)
		sameBits(t, fmt.Sprintf("n=%d: Add", n), got[:n], want)
		if math.Float32bits(got[n]) != math.Float32bits(tail) {
			t.Fatalf("n=%d: Add wrote past dst", n)
		}
		oneNaN(rng, a[:n], b[:n])
		acc := append([]float32(nil), a[:n]...)
		Add(acc, acc, b) // AddTo
		ref(want, a, b)
		sameBits(t, fmt.Sprintf("n=%d: Add into an operand", n), acc, want)
		goLoop := make([]float32, n)
		addGo(goLoop, a[:n], b[:n])
		sameBits(t, fmt.Sprintf("n=%d: addGo", n), goLoop, want)
	}
}

func TestReLUGoLoops(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	n := 1000
	x, g, gx0 := elemInput(rng, n, 0.3, false), elemInput(rng, n, 0.3, false), elemInput(rng, n, 0.3, false)
	oneNaN(rng, g, gx0)
	got, want := make([]float32, n), make([]float32, n)
	reluGo(got, x)
	refReLU(want, x)
	sameBits(t, "reluGo", got, want)
	copy(got, gx0)
	copy(want, gx0)
	reluBackwardGo(got, g, x)
	refReLUBackward(want, g, x)
	sameBits(t, "reluBackwardGo", got, want)
	copy(got, gx0)
	copy(want, gx0)
	reluBackwardAddGo(got, g, x)
	refReLUBackwardAdd(want, g, x)
	sameBits(t, "reluBackwardAddGo", got, want)
}

func TestElementwiseWithoutAVX512(t *testing.T) {
	// The exported functions on a CPU without AVX-512 (the Go loops).
	defer func(old bool) { elemAVX512 = old }(elemAVX512)
	elemAVX512 = false
	rng := rand.New(rand.NewPCG(15, 16))
	for _, n := range []int{1, 17, 1<<16 + 1} {
		p, g, m, v := adamInputs(rng, n, 0.3, false)
		oneNaN(rng, p, g, m, v)
		checkAdam(t, fmt.Sprintf("n=%d", n), n, p, g, m, v, adamCases()[2].s, refAdam)
		x, gx := elemInput(rng, n, 0.3, false), elemInput(rng, n, 0.3, false)
		oneNaN(rng, g[:n], gx)
		for _, f := range []struct {
			name      string
			got, want func(a, b, c []float32)
		}{
			{"ReLU", func(a, b, _ []float32) { ReLU(a, b) }, func(a, b, _ []float32) { refReLU(a, b) }},
			{"ReLUBackward", ReLUBackward, refReLUBackward},
			{"ReLUBackwardAdd", ReLUBackwardAdd, refReLUBackwardAdd},
			{"Add", func(a, b, c []float32) { Add(a, b, c) }, addGo},
		} {
			got, want := append([]float32(nil), gx...), append([]float32(nil), gx...)
			f.got(got, g[:n], x)
			f.want(want, g[:n], x)
			sameBits(t, fmt.Sprintf("%s n=%d", f.name, n), got, want)
		}
	}
}

func TestElementwisePanics(t *testing.T) {
	s := AdamScalars{Decay: 1}
	for name, f := range map[string]func(){
		"AdamUpdate g":    func() { AdamUpdate(make([]float32, 3), make([]float32, 2), make([]float32, 3), make([]float32, 3), s) },
		"AdamUpdate m":    func() { AdamUpdate(make([]float32, 3), make([]float32, 3), make([]float32, 2), make([]float32, 3), s) },
		"AdamUpdate v":    func() { AdamUpdate(make([]float32, 3), make([]float32, 3), make([]float32, 3), make([]float32, 2), s) },
		"ReLU":            func() { ReLU(make([]float32, 2), make([]float32, 3)) },
		"ReLUBackward gx": func() { ReLUBackward(make([]float32, 2), make([]float32, 3), make([]float32, 3)) },
		"ReLUBackward y":  func() { ReLUBackward(make([]float32, 3), make([]float32, 3), make([]float32, 2)) },
		"ReLUBackwardAdd": func() { ReLUBackwardAdd(make([]float32, 3), make([]float32, 3), make([]float32, 2)) },
		"Add a":           func() { Add(make([]float32, 3), make([]float32, 2), make([]float32, 3)) },
		"Add b":           func() { Add(make([]float32, 3), make([]float32, 3), make([]float32, 2)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestElementwiseNoAlloc(t *testing.T) {
	for _, n := range []int{33, 1<<16 + 33} {
		a, b, c, d := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		s := AdamScalars{StepSize: 1e-3, InvBC2: 1, B2: 0.999, OB1: 0.1, OB2: 0.001, Eps: 1e-8, Decay: 1}
		for name, f := range map[string]func(){
			"AdamUpdate":      func() { AdamUpdate(a, b, c, d, s) },
			"ReLU":            func() { ReLU(a, b) },
			"ReLUBackward":    func() { ReLUBackward(a, b, c) },
			"ReLUBackwardAdd": func() { ReLUBackwardAdd(a, b, c) },
			"Add":             func() { Add(a, b, c) },
		} {
			f()
			if allocs := testing.AllocsPerRun(20, f); allocs != 0 {
				t.Errorf("%s(n=%d): %v allocations per call, want 0", name, n, allocs)
			}
		}
	}
}

// Benchmarks: the kernels against the scalar loops, on the sizes of the
// DIM training step (6.4M Adam parameters, a 3136 x 512 activation).

const (
	benchAdamN = 6_400_000
	benchReLUN = 3136 * 512
)

func benchAdamInputs() (p, g, m, v []float32, s AdamScalars) {
	rng := rand.New(rand.NewPCG(9, 10))
	p, g, m, v = elemInput(rng, benchAdamN, 0, false), elemInput(rng, benchAdamN, 0, false), elemInput(rng, benchAdamN, 0, false), elemInput(rng, benchAdamN, 0, true)
	s = AdamScalars{StepSize: 1e-3, InvBC2: 1.2, B2: 0.999, OB1: 0.1, OB2: 0.001, Eps: 1e-8, Decay: 1}
	return
}

// benchAdam runs f over [0, benchAdamN) on the worker pool, as
// optim.Adam does for a large parameter.
func benchAdam(b *testing.B, f func(p, g, m, v []float32, s AdamScalars)) {
	p, g, m, v, s := benchAdamInputs()
	fn := func(lo, hi int) { f(p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], s) }
	b.SetBytes(benchAdamN * 4 * 7)
	for b.Loop() {
		ParallelFor(benchAdamN, fn)
	}
}

func BenchmarkAdamScalar(b *testing.B) { benchAdam(b, refAdam) }
func BenchmarkAdamKernel(b *testing.B) { benchAdam(b, AdamUpdate) }

func benchReLUInputs() (x, g, y, gx []float32) {
	rng := rand.New(rand.NewPCG(11, 12))
	x, g, gx = elemInput(rng, benchReLUN, 0, false), elemInput(rng, benchReLUN, 0, false), elemInput(rng, benchReLUN, 0, false)
	y = make([]float32, benchReLUN)
	refReLU(y, x)
	return
}

func BenchmarkReLUScalar(b *testing.B) {
	x, _, y, _ := benchReLUInputs()
	b.SetBytes(benchReLUN * 8)
	for b.Loop() {
		refReLU(y, x)
	}
}

func BenchmarkReLUKernel(b *testing.B) {
	x, _, y, _ := benchReLUInputs()
	b.SetBytes(benchReLUN * 8)
	for b.Loop() {
		ReLU(y, x)
	}
}

func BenchmarkReLUBackwardScalar(b *testing.B) {
	_, g, y, gx := benchReLUInputs()
	b.SetBytes(benchReLUN * 12)
	for b.Loop() {
		refReLUBackward(gx, g, y)
	}
}

func BenchmarkReLUBackwardKernel(b *testing.B) {
	_, g, y, gx := benchReLUInputs()
	b.SetBytes(benchReLUN * 12)
	for b.Loop() {
		ReLUBackward(gx, g, y)
	}
}

func BenchmarkReLUBackwardAddScalar(b *testing.B) {
	_, g, y, gx := benchReLUInputs()
	b.SetBytes(benchReLUN * 16)
	for b.Loop() {
		refReLUBackwardAdd(gx, g, y)
	}
}

func BenchmarkReLUBackwardAddKernel(b *testing.B) {
	_, g, y, gx := benchReLUInputs()
	b.SetBytes(benchReLUN * 16)
	for b.Loop() {
		ReLUBackwardAdd(gx, g, y)
	}
}

// TestGather checks gather (AVX-512 where the CPU has it) and gatherGo on
// every length from 1 to 70 (whole 16-lane blocks and masked tails),
// with padding (-1) indices, repeated indices and the first and last
// element of the source, against the definition element by element.
func TestGather(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	src := make([]float32, 97)
	for i := range src {
		src[i] = float32(i) + 0.5
	}
	for n := 1; n <= 70; n++ {
		idx := make([]int32, n)
		for i := range idx {
			switch r.IntN(4) {
			case 0:
				idx[i] = -1
			case 1:
				idx[i] = int32(r.IntN(2) * (len(src) - 1))
			default:
				idx[i] = int32(r.IntN(len(src)))
			}
		}
		for name, f := range map[string]func(dst, src []float32, idx []int32){"gather": gather, "gatherGo": gatherGo} {
			dst := make([]float32, n+1)
			for i := range dst {
				dst[i] = -7
			}
			f(dst[:n], src, idx)
			for i, j := range idx {
				want := float32(0)
				if j >= 0 {
					want = src[j]
				}
				if dst[i] != want {
					t.Fatalf("%s n=%d: dst[%d] = %v, want %v", name, n, i, dst[i], want)
				}
			}
			if dst[n] != -7 {
				t.Fatalf("%s n=%d wrote past the end", name, n)
			}
		}
	}
}

// TestClear clears slices around the parallel threshold (one chunk per
// core, uneven chunks) and checks that every element, and nothing past
// the slice, was written.
func TestClear(t *testing.T) {
	for _, n := range []int{0, 1, 17, clearParallelMin - 1, clearParallelMin, 3*clearParallelMin + 5, 40*clearParallelMin + 1} {
		buf := make([]float32, n+1)
		for i := range buf {
			buf[i] = 3
		}
		Clear(buf[:n])
		for i, v := range buf[:n] {
			if v != 0 {
				t.Fatalf("n=%d: element %d = %v", n, i, v)
			}
		}
		if buf[n] != 3 {
			t.Fatalf("n=%d: wrote past the end", n)
		}
	}
	big := make([]float32, 8*clearParallelMin)
	Clear(big)
	if a := testing.AllocsPerRun(5, func() { Clear(big) }); a != 0 {
		t.Errorf("Clear allocates %v times", a)
	}
}

// TestAllFinite puts one NaN, +Inf, -Inf or the largest finite value at
// every position of slices of 1 to 50 values (whole 16-lane blocks and
// masked tails) and checks AllFinite and allFiniteGo against math's
// definition.
func TestAllFinite(t *testing.T) {
	if !AllFinite(nil) {
		t.Fatal("AllFinite(nil) = false")
	}
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32}
	for n := 1; n <= 50; n++ {
		for pos := range n {
			for _, v := range specials {
				x := make([]float32, n+1)
				for i := range x {
					x[i] = float32(i) - 3.5
				}
				x[n] = float32(math.NaN()) // past the slice: never read
				x[pos] = v
				want := !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0)
				if got := AllFinite(x[:n]); got != want {
					t.Fatalf("n=%d, %v at %d: AllFinite = %v, want %v", n, v, pos, got, want)
				}
				if got := allFiniteGo(x[:n]); got != want {
					t.Fatalf("n=%d, %v at %d: allFiniteGo = %v, want %v", n, v, pos, got, want)
				}
			}
		}
	}
}
