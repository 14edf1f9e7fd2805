package dim

import (
	"math"
	"slices"
	"testing"

	"github.com/deepinfomax/deepinfomax/autograd"
	"github.com/deepinfomax/deepinfomax/mi"
	"github.com/deepinfomax/deepinfomax/nn"
	"github.com/deepinfomax/deepinfomax/tensor"
	"github.com/deepinfomax/deepinfomax/train"
)

// linear64 is x W^T + b for one row, in float64.
func linear64(l *nn.Linear, x []float64) []float64 {
	out, in := l.W.Value.Shape[0], l.W.Value.Shape[1]
	y := make([]float64, out)
	for o := range out {
		if l.B != nil {
			y[o] = float64(l.B.Value.Data[o])
		}
		for i := range in {
			y[o] += float64(l.W.Value.Data[o*in+i]) * x[i]
		}
	}
	return y
}

func relu64(x []float64) []float64 {
	for i, v := range x {
		x[i] = math.Max(v, 0)
	}
	return x
}

func row64(t *tensor.Tensor, r int) []float64 {
	d := t.Shape[1]
	out := make([]float64, d)
	for i := range d {
		out[i] = float64(t.Data[r*d+i])
	}
	return out
}

// TestConcatScore compares the concat-and-convolve scores with the
// network applied to each concatenated pair in float64.
func TestConcatScore(t *testing.T) {
	rng := tensor.NewRNG(2)
	const n, r, inF, inY, units = 3, 5, 4, 2, 6
	c := NewConcatScore(inF, inY, units, rng)
	y, f := tensor.New(n, inY), tensor.New(r, inF)
	rng.Uniform(y, -1, 1)
	rng.Uniform(f, -1, 1)
	tp := autograd.NewTape()
	u := c.Scores(tp, tp.Const(y), tp.Const(f))
	if err := tp.Err(); err != nil || !slices.Equal(u.Value.Shape, []int{n, r}) {
		t.Fatalf("scores %v: %v", u.Value.Shape, err)
	}
	// The first layer on the concatenation [f; y] is one Linear whose
	// weight is [Wf Wy].
	first := nn.NewLinear(inF+inY, units, true, rng)
	for o := range units {
		copy(first.W.Value.Data[o*(inF+inY):], c.F.W.Value.Data[o*inF:(o+1)*inF])
		copy(first.W.Value.Data[o*(inF+inY)+inF:], c.Y.W.Value.Data[o*inY:(o+1)*inY])
	}
	copy(first.B.Value.Data, c.Y.B.Value.Data)
	for i := range n {
		for j := range r {
			pair := append(row64(f, j), row64(y, i)...)
			want := linear64(c.L3, relu64(linear64(c.L2, relu64(linear64(first, pair)))))[0]
			if got := float64(u.Value.Data[i*r+j]); math.Abs(got-want) > 1e-5 {
				t.Errorf("score (%d, %d) = %v, want %v", i, j, got, want)
			}
		}
	}
}

// TestMultipleGlobals checks local DIM with every location of the conv tap
// as a global vector against the JSD written out in float64 over all
// (global, location) pairs: positives where both come from the same image.
func TestMultipleGlobals(t *testing.T) {
	cfg := tinyConfig(mi.JSD, 0, 1)
	cfg.Globals = "conv"
	m := newModel(t, cfg, tinySpec)
	x := randBatch(4, 3, tinyArch)
	tp := autograd.NewTape()
	if _, err := m.Objective(tp, &train.Batch{X: x}); err != nil {
		t.Fatal(err)
	}
	got, _ := m.Loss("local")
	loc := m.Terms[0].(*Local)
	// The MI networks on the same rows (BatchNorm in training mode gives the
	// same values for the same input).
	ref := autograd.NewTape()
	f := m.Enc.Encode(ref, ref.Const(x))
	lm := loc.LocalMap.Forward(ref, rows(ref, f.Local)).Value // [N*L, units]
	gy := loc.LocalY.Forward(ref, rows(ref, f.Conv)).Value    // [N*M, units]
	n := 3
	l, mg := lm.Shape[0]/n, gy.Shape[0]/n
	var pos, neg float64
	var np, nn int
	for i := range n {
		for a := range mg {
			g := row64(gy, i*mg+a)
			for j := range n {
				for b := range l {
					h := row64(lm, j*l+b)
					var u float64
					for k := range g {
						u += g[k] * h[k]
					}
					sp := math.Log1p(math.Exp(-u))
					if i == j {
						pos += math.Ln2 - sp
						np++
					} else {
						neg += sp + u - math.Ln2
						nn++
					}
				}
			}
		}
	}
	want := neg/float64(nn) - pos/float64(np)
	if math.Abs(float64(got)-want) > 1e-4*math.Max(1, math.Abs(want)) {
		t.Errorf("local loss with %d globals per image: %v, float64 %v", mg, got, want)
	}
}

// TestLocationSampling: sampled locations stay in their image, follow
// (seed, step), and change with the step.
func TestLocationSampling(t *testing.T) {
	cfg := tinyConfig(mi.JSD, 0, 1)
	cfg.LocalSamples = 4
	m := newModel(t, cfg, tinySpec)
	loc := m.Terms[0].(*Local)
	x := randBatch(4, 3, tinyArch)
	draw := func(step int) []int {
		if _, err := m.Objective(autograd.NewTape(), &train.Batch{X: x, Step: step}); err != nil {
			t.Fatal(err)
		}
		return slices.Clone(loc.lidx)
	}
	a, b, c := draw(1), draw(1), draw(2)
	if len(a) != 3*4 {
		t.Fatalf("%d sampled locations, want 12", len(a))
	}
	for k, r := range a {
		if r/9 != k/4 {
			t.Errorf("sample %d of image %d is location %d of image %d", k%4, k/4, r%9, r/9)
		}
	}
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Errorf("samples %v, %v at the same step and %v at the next", a, b, c)
	}
}
