package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/internal/testutil"
)

// Adversarial tests of the balanced cut of A among the participants of a
// parallel product (gemmCtx.cutA, block), of the bit-identity of every
// product and of Conv2dBackward across worker counts (checked in child
// processes run with different GOMAXPROCS, since the pool's size is fixed
// at first use), and of the exported Transpose (third review round).

// b3Serial runs the product on the calling goroutine alone with kern, on
// the ordinary (untransposed) path with A blocks of mcEff rows: what one
// core computes. bias, when not nil, fills C's rows first as SgemmBias
// does (alpha 1, beta 1 then).
func b3Serial(kern *microKernel, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, bias, c []float32, ldc int) {
	if bias != nil {
		gemmFillRows(c, ldc, bias[:n], m)
	}
	if k == 0 || alpha == 0 {
		sgemmScaleC(m, n, beta, c, ldc)
		return
	}
	x := &gemmCtx{kern: kern, serial: true, transA: transA, transB: transB, m: m, n: n, k: k,
		alpha: alpha, beta: beta, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc}
	x.run()
}

// b3Product is one product of the tables below.
type b3Product struct {
	m, n, k        int
	transA, transB bool
	alpha, beta    float32
	bias           bool // SgemmBias (alpha and beta 1)
}

func (p b3Product) String() string {
	return fmt.Sprintf("m%d_n%d_k%d_tA%v_tB%v_a%v_b%v_bias%v", p.m, p.n, p.k, p.transA, p.transB, p.alpha, p.beta, p.bias)
}

// b3Operands returns A, B (with padded leading dimensions) and C's
// initial value (NaN where beta is 0: never read).
func b3Operands(p b3Product, seed uint64) (a []float32, lda int, b []float32, ldb int, c []float32, ldc int, bias []float32) {
	r := rand.New(rand.NewPCG(seed, uint64(p.m*7+p.n*131+p.k)))
	ar, ac := p.m, p.k
	if p.transA {
		ar, ac = p.k, p.m
	}
	br, bc := p.k, p.n
	if p.transB {
		br, bc = p.n, p.k
	}
	lda, ldb, ldc = ac+1, bc+3, p.n+2
	a, b, c = randSlice(r, (ar-1)*lda+ac), randSlice(r, (br-1)*ldb+bc), randSlice(r, (p.m-1)*ldc+p.n)
	if p.beta == 0 && !p.bias {
		for i := range c {
			c[i] = float32(math.NaN())
		}
	}
	if p.bias {
		bias = randSlice(r, p.n)
	}
	return
}

// b3Run runs p through the public entry point (Sgemm, SgemmGo or
// SgemmBias) and through b3Serial, and returns both results.
func b3Run(p b3Product, kern *microKernel, seed uint64) (got, want []float32) {
	a, lda, b, ldb, c, ldc, bias := b3Operands(p, seed)
	got, want = slices.Clone(c), slices.Clone(c)
	switch {
	case p.bias:
		SgemmBias(p.transA, p.transB, p.m, p.n, p.k, a, lda, b, ldb, bias, got, ldc)
		kern = defaultKernel
	case kern == &goKernel:
		SgemmGo(p.transA, p.transB, p.m, p.n, p.k, p.alpha, a, lda, b, ldb, p.beta, got, ldc)
	default:
		Sgemm(p.transA, p.transB, p.m, p.n, p.k, p.alpha, a, lda, b, ldb, p.beta, got, ldc)
	}
	alpha, beta := p.alpha, p.beta
	if p.bias {
		alpha, beta = 1, 1
	}
	b3Serial(kern, p.transA, p.transB, p.m, p.n, p.k, alpha, a, lda, b, ldb, beta, bias, want, ldc)
	return got, want
}

// b3ParallelProducts: every row count 1..40, 511..515, and around the
// multiples of 14 (panels) and 112 (blocks), each with n chosen so that
// m*n*k is at least sgemmParallelMinWork (the pool runs and A is cut
// evenly); both layouts of A and B, alpha 1 and not, beta 0, 1 and 0.5
// (which keeps the product off the transposed path), SgemmBias.
func b3ParallelProducts() []b3Product {
	var ps []b3Product
	ms := []int{}
	for m := 1; m <= 40; m++ {
		ms = append(ms, m)
	}
	ms = append(ms, 511, 512, 513, 514, 515)
	for _, base := range []int{56, 98, 112, 126, 224, 336, 448, 1120} {
		ms = append(ms, base-1, base, base+1)
	}
	betas := []float32{0, 1, 0.5}
	for i, m := range ms {
		k := []int{600, 77, 1030, 513}[i%4]
		n := max(1, (sgemmParallelMinWork+m*k-1)/(m*k))
		ps = append(ps, b3Product{m: m, n: n, k: k, transA: i%2 == 1, transB: i%3 == 1,
			alpha: []float32{1, -0.75, 1, 2.5}[i%4], beta: betas[i%3], bias: i%7 == 3})
	}
	return ps
}

// TestBreak3SgemmBalancedBits: each product of b3ParallelProducts (run
// by the pool, A cut evenly among the participants, possibly transposed)
// has the bits of the one-goroutine ordinary product with blocks of mcEff
// rows; and the product with the Go micro-kernel too, on a subset.
func TestBreak3SgemmBalancedBits(t *testing.T) {
	if Workers() < 2 {
		t.Log("one worker: the balanced cut is not exercised")
	}
	for i, p := range b3ParallelProducts() {
		if p.m*p.n*p.k < sgemmParallelMinWork {
			t.Fatalf("%v: below the parallel threshold", p)
		}
		got, want := b3Run(p, defaultKernel, uint64(i))
		sameBits(t, p.String(), got, want)
		if i%5 == 0 && !p.bias {
			got, want = b3Run(p, &goKernel, uint64(i))
			sameBits(t, p.String()+" go kernel", got, want)
		}
	}
}

// TestBreak3SgemmBalancedValues checks a few of the products against the
// float64 reference (the bits alone would not catch rows left out of
// every block, which both runs would share if the cut were wrong in
// gemmBlocks too), and that C's padding is untouched.
func TestBreak3SgemmBalancedValues(t *testing.T) {
	for i, p := range b3ParallelProducts() {
		if i%6 != 0 && p.m < 511 {
			continue
		}
		a, lda, b, ldb, c, ldc, bias := b3Operands(p, uint64(1000+i))
		got := slices.Clone(c)
		if p.bias {
			SgemmBias(p.transA, p.transB, p.m, p.n, p.k, a, lda, b, ldb, bias, got, ldc)
		} else {
			Sgemm(p.transA, p.transB, p.m, p.n, p.k, p.alpha, a, lda, b, ldb, p.beta, got, ldc)
		}
		alpha, beta := p.alpha, p.beta
		ref := slices.Clone(c)
		if p.bias {
			alpha, beta = 1, 1
			gemmFillRows(ref, ldc, bias, p.m)
		}
		SgemmRef(p.transA, p.transB, p.m, p.n, p.k, alpha, a, lda, b, ldb, beta, ref, ldc)
		for r := range p.m {
			for j := range ldc {
				idx := r*ldc + j
				if idx >= len(got) {
					break
				}
				if j >= p.n { // padding
					if math.Float32bits(got[idx]) != math.Float32bits(c[idx]) {
						t.Fatalf("%v: padding C[%d] changed", p, idx)
					}
					continue
				}
				if d := math.Abs(float64(got[idx] - ref[idx])); !(d <= 1e-5*float64(p.k)*math.Max(1, math.Abs(float64(alpha)))+1e-4) {
					t.Fatalf("%v: C[%d,%d] = %v, reference %v", p, r, j, got[idx], ref[idx])
				}
			}
		}
	}
}

// TestBreak3CutAExhaustive: for every m up to 3000 and 1 to 9
// participants, the blocks of cutA tile [0, m) in order on panel
// boundaries, none is empty or holds more than mcEff rows (what bufA is
// sized for), their panel counts differ by at most one, and one
// participant keeps gemmBlocks' cut.
func TestBreak3CutAExhaustive(t *testing.T) {
	for _, kn := range []*microKernel{defaultKernel, &goKernel} {
		for p := 1; p <= 9; p++ {
			for m := 1; m <= 3000; m++ {
				x := &gemmCtx{kern: kn, m: m}
				x.cutA(p)
				mc0, mb0 := gemmBlocks(kn, m, p)
				if p == 1 && (x.mcEff != mc0 || x.mBlocks != mb0 || x.balanced) {
					t.Fatalf("%s m=%d p=1: cut %d x %d, want gemmBlocks' %d x %d", kn.name, m, x.mBlocks, x.mcEff, mb0, mc0)
				}
				if x.mBlocks < 1 || x.mBlocks > mb0 {
					t.Fatalf("%s m=%d p=%d: %d blocks (gemmBlocks %d)", kn.name, m, p, x.mBlocks, mb0)
				}
				next, lo, hi := 0, math.MaxInt, 0
				for ib := range x.mBlocks {
					i0, mc := x.block(ib)
					if i0 != next || mc < 1 || mc > x.mcEff || i0%kn.mr != 0 {
						t.Fatalf("%s m=%d p=%d: block %d = [%d, %d) (mcEff %d, from %d)", kn.name, m, p, ib, i0, i0+mc, x.mcEff, next)
					}
					next = i0 + mc
					pan := gemmCeilDiv(mc, kn.mr)
					lo, hi = min(lo, pan), max(hi, pan)
				}
				if next != m || p > 1 && hi-lo > 1 {
					t.Fatalf("%s m=%d p=%d: blocks end at %d, panels %d..%d", kn.name, m, p, next, lo, hi)
				}
			}
		}
	}
}

// b3WorkerProducts are the products the child processes hash: the
// parallel table, and shapes whose path (ordinary or transposed) depends
// on the number of workers through gemmBlocks' rounding to a multiple of
// them (n of 224: two column blocks for one or two workers, three or four
// for three or four; m of 200: two row blocks, or three).
func b3WorkerProducts() []b3Product {
	ps := b3ParallelProducts()
	return append(ps,
		b3Product{m: 50, n: 224, k: 4700, alpha: 1, beta: 0},
		b3Product{m: 50, n: 224, k: 4700, alpha: 0.5, beta: 1, transB: true},
		b3Product{m: 200, n: 1000, k: 1100, alpha: 1, beta: 1},
		b3Product{m: 200, n: 1000, k: 1100, bias: true},
		b3Product{m: 113, n: 700, k: 1600, alpha: -1, beta: 0},
	)
}

// TestBreak3WorkersHelper is run by TestBreak3WorkerCountBits in child
// processes: it prints the hash of each product's and gradient's bits.
func TestBreak3WorkersHelper(t *testing.T) {
	if os.Getenv("BREAK3_WORKERS_HELPER") == "" {
		t.Skip("run by TestBreak3WorkerCountBits")
	}
	fmt.Printf("B3 workers %d\n", Workers())
	for i, p := range b3WorkerProducts() {
		a, lda, b, ldb, c, ldc, bias := b3Operands(p, uint64(i))
		if p.bias {
			SgemmBias(p.transA, p.transB, p.m, p.n, p.k, a, lda, b, ldb, bias, c, ldc)
		} else {
			Sgemm(p.transA, p.transB, p.m, p.n, p.k, p.alpha, a, lda, b, ldb, p.beta, c, ldc)
		}
		fmt.Printf("B3 sgemm/%v %s\n", p, testutil.HashBits(c))
		if i%4 == 0 && !p.bias {
			a, lda, b, ldb, c, ldc, _ := b3Operands(p, uint64(i))
			SgemmGo(p.transA, p.transB, p.m, p.n, p.k, p.alpha, a, lda, b, ldb, p.beta, c, ldc)
			fmt.Printf("B3 sgemmgo/%v %s\n", p, testutil.HashBits(c))
		}
	}
	for i, tc := range b3ConvCases {
		g := tc.geom()
		x, w, gout, gw, gb, gx := b3ConvOperands(tc, uint64(200+i))
		Conv2dBackward(g, tc.cout, w, x, gout, gw, gb, gx, false)
		fmt.Printf("B3 conv/%v %s %s %s\n", tc, testutil.HashBits(gw), testutil.HashBits(gb), testutil.HashBits(gx))
		x, w, gout, gw, gb, _ = b3ConvOperands(tc, uint64(300+i))
		Conv2dBackward(g, tc.cout, w, x, gout, gw, gb, nil, false)
		fmt.Printf("B3 convfirst/%v %s %s\n", tc, testutil.HashBits(gw), testutil.HashBits(gb))
	}
}

// TestBreak3WorkerCountBits: every product of b3WorkerProducts (Sgemm,
// SgemmBias, SgemmGo) and Conv2dBackward's gradients on every geometry of
// b3ConvCases have the same bits with 1, 2, 3, 4 and 7 workers (child
// processes with that GOMAXPROCS: the pool's size is fixed at first use).
func TestBreak3WorkerCountBits(t *testing.T) {
	if testing.Short() {
		t.Skip("child processes")
	}
	if os.Getenv("BREAK3_WORKERS_HELPER") != "" {
		t.Skip("in a child")
	}
	base := testutil.ChildHashes(t, "TestBreak3WorkersHelper", "BREAK3_WORKERS_HELPER", 1)
	if len(base) < 100 {
		t.Fatalf("%d hashes from the child", len(base))
	}
	for _, procs := range []int{2, 3, 4, 7} {
		got := testutil.ChildHashes(t, "TestBreak3WorkersHelper", "BREAK3_WORKERS_HELPER", procs)
		for name, h := range base {
			if got[name] != h {
				t.Errorf("%s: GOMAXPROCS=%d gives %s, one worker %s", name, procs, got[name], h)
			}
		}
	}
}

// TestBreak3TransposeGuarded: Transpose at odd offsets with padded
// strides, every size around the 16 x 16 blocks and across 1024 rows of
// the transposer's steps: the transpose exactly, nothing written in dst's
// padding or around it, src untouched; zero sizes write nothing.
func TestBreak3TransposeGuarded(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	sizes := []int{0, 1, 2, 15, 16, 17, 31, 33, 64}
	for _, rows := range append(sizes, 1023, 1025) {
		for _, cols := range sizes {
			if rows > 64 && cols > 17 {
				continue
			}
			for _, pad := range [][2]int{{0, 0}, {1, 3}, {5, 0}} {
				ldd, lds := cols+pad[0], rows+pad[1]
				offD, offS := 1+r.IntN(7), 3
				nd, ns := 0, 0
				if rows > 0 && cols > 0 {
					nd, ns = (rows-1)*ldd+cols, (cols-1)*lds+rows
				}
				bigD, dst := b3Guarded(make([]float32, nd), offD)
				for i := range dst {
					dst[i] = g2Guard
				}
				src0 := randSlice(r, ns)
				bigS, src := b3Guarded(src0, offS)
				Transpose(dst, ldd, src, lds, rows, cols)
				what := fmt.Sprintf("%dx%d ldd %d lds %d", rows, cols, ldd, lds)
				for i := range rows {
					for j := range cols {
						if math.Float32bits(dst[i*ldd+j]) != math.Float32bits(src[j*lds+i]) {
							t.Fatalf("%s: dst[%d,%d] = %v, want %v", what, i, j, dst[i*ldd+j], src[j*lds+i])
						}
						bigD[offD+i*ldd+j] = g2Guard // checked: back to a guard
					}
				}
				b3GuardsIntact(t, what+" dst", bigD, 0, 0)
				b3GuardsIntact(t, what+" src", bigS, offS, ns)
				sameBits(t, what+" src", src, src0)
			}
		}
	}
}

// TestBreak3TransposePanics: strides below a row and slices one value too
// short panic; exact sizes and zero sizes (nil slices) do not.
func TestBreak3TransposePanics(t *testing.T) {
	s := func(n int) []float32 { return make([]float32, n) }
	for _, c := range []struct {
		name                 string
		dst, src             []float32
		ldd, lds, rows, cols int
		wantPanic            bool
	}{
		{"exact", s(2*5 + 3), s(2*4 + 3), 5, 4, 3, 3, false},
		{"dst short", s(2*5 + 2), s(2*4 + 3), 5, 4, 3, 3, true},
		{"src short", s(2*5 + 3), s(2*4 + 2), 5, 4, 3, 3, true},
		{"ldd < cols", s(100), s(100), 2, 4, 3, 3, true},
		{"lds < rows", s(100), s(100), 5, 2, 3, 3, true},
		{"negative rows", s(100), s(100), 5, 4, -1, 3, true},
		{"negative cols", s(100), s(100), 5, 4, 3, -1, true},
		{"zero rows, nil", nil, nil, 3, 0, 0, 3, false},
		{"zero cols, nil", nil, nil, 0, 3, 3, 0, false},
		{"one row", s(7), s(7), 7, 1, 1, 7, false},
		{"one column", s(7), s(7), 1, 7, 7, 1, false},
	} {
		panicked := func() (p bool) {
			defer func() { p = recover() != nil }()
			Transpose(c.dst, c.ldd, c.src, c.lds, c.rows, c.cols)
			return false
		}()
		if panicked != c.wantPanic {
			t.Errorf("%s: panicked %v, want %v", c.name, panicked, c.wantPanic)
		}
	}
}

// TestBreak3TransposeHugeStride: a stride so large that (rows-1)*stride
// wraps around must make Transpose panic ("a slice too short"), not read
// or write outside its slices. With ldd = (2^64+2)/3 and four rows,
// (rows-1)*ldd wraps to 2, so the length check passes for a dst of 18
// values, and rows 1..3 of dst lie about 2^62 values away. Run in a child
// process, since a write there kills the process.
func TestBreak3TransposeHugeStride(t *testing.T) {
	if mode := os.Getenv("BREAK3_TRANSPOSE_CHILD"); mode != "" {
		dst, src := make([]float32, 64), make([]float32, 256)
		var err any
		func() {
			defer func() { err = recover() }()
			switch mode {
			case "ldd":
				Transpose(dst, 6148914691236517206, src, 4, 4, 16)
			case "lds":
				Transpose(src, 16, dst, 6148914691236517206, 16, 4)
			}
		}()
		if err == nil {
			fmt.Println("B3 no panic")
			os.Exit(3)
		}
		fmt.Println("B3 panicked:", err)
		return
	}
	for _, mode := range []string{"ldd", "lds"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBreak3TransposeHugeStride$", "-test.count=1")
		cmd.Env = append(os.Environ(), "BREAK3_TRANSPOSE_CHILD="+mode)
		out, err := cmd.CombinedOutput()
		if err != nil {
			first, _, _ := strings.Cut(string(out), "\n\n")
			t.Errorf("Transpose with a wrapping %s: the child failed (%v) instead of a panic:\n%s", mode, err, first)
		}
	}
}
