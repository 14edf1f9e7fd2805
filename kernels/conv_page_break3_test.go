//go:build linux

package kernels

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// TestBreak3ConvBackwardGoutAtPageEnd: the output gradient read in place
// (the in-place micro-kernels' loads of A) must not read past its last
// value even by a vector: gout is placed so that it ends exactly where an
// inaccessible page begins. Run in a child process, since such a read
// kills the process.
func TestBreak3ConvBackwardGoutAtPageEnd(t *testing.T) {
	if os.Getenv("BREAK3_PAGE_CHILD") != "" {
		page := syscall.Getpagesize()
		for i, tc := range b3ConvCases {
			if !tc.perImage || tc.n > 8 {
				continue
			}
			x, w, gout, gw0, gb0, _ := b3ConvOperands(tc, uint64(500+i))
			size := (len(gout)*4+page-1)/page*page + page
			mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
			if err != nil {
				t.Skip("mmap:", err)
			}
			if err := syscall.Mprotect(mem[size-page:], syscall.PROT_NONE); err != nil {
				t.Skip("mprotect:", err)
			}
			all := unsafe.Slice((*float32)(unsafe.Pointer(&mem[0])), (size-page)/4)
			edge := all[len(all)-len(gout):]
			copy(edge, gout)
			want, wantB, _ := b3ConvRun(t, tc, "wb", x, w, gout, gw0, gb0, nil, false)
			got, gotB, _ := b3ConvRun(t, tc, "wb", x, w, edge, gw0, gb0, nil, false)
			sameBits(t, tc.String()+" gw at a page's end", got, want)
			sameBits(t, tc.String()+" gb at a page's end", gotB, wantB)
			syscall.Munmap(mem)
		}
		b3PageKernels(t)
		fmt.Println("B3 page ok")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBreak3ConvBackwardGoutAtPageEnd$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "BREAK3_PAGE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "B3 page ok") && !strings.Contains(string(out), "SKIP") {
		first, _, _ := strings.Cut(string(out), "\n\n")
		t.Fatalf("the child failed (%v):\n%s", err, first)
	}
}

// b3PageEnd returns n float32s that end exactly where an inaccessible page
// begins, holding v's values, and a function that unmaps them.
func b3PageEnd(t *testing.T, v []float32) ([]float32, func()) {
	page := syscall.Getpagesize()
	size := (len(v)*4+page-1)/page*page + page
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal("mmap:", err)
	}
	if err := syscall.Mprotect(mem[size-page:], syscall.PROT_NONE); err != nil {
		t.Fatal("mprotect:", err)
	}
	all := unsafe.Slice((*float32)(unsafe.Pointer(&mem[0])), (size-page)/4)
	s := all[len(all)-len(v):]
	copy(s, v)
	return s, func() { syscall.Munmap(mem) }
}

// b3PageKernels runs the session's AVX-512 kernels on inputs (and
// outputs) that end at an inaccessible page, at every length around their
// 16- and 32-value blocks, and compares them with the same calls on
// ordinary memory: a load or store past the last value would fault.
func b3PageKernels(t *testing.T) {
	for n := 1; n <= 70; n++ {
		mk := func(seed float32) []float32 {
			v := make([]float32, n)
			for i := range v {
				v[i] = seed + float32((i*37)%11) - 5
			}
			return v
		}
		x, g, y, m := mk(0.25), mk(-0.5), mk(0.75), mk(0.125)
		px, fx := b3PageEnd(t, x)
		pg, fg := b3PageEnd(t, g)
		py, fy := b3PageEnd(t, y)
		pm, fm := b3PageEnd(t, m)
		a1, b1 := NormShiftedSums(px, 0.5)
		a2, b2 := NormShiftedSums(x, 0.5)
		c1, d1 := NormGradSumsPlane(px, pg, py, 0.5)
		c2, d2 := NormGradSumsPlane(x, g, y, 0.5)
		sameBits(t, fmt.Sprintf("n=%d plane sums at a page's end", n), []float32{a1, b1, c1, d1}, []float32{a2, b2, c2, d2})
		var l1, l2 [32]float64
		sumLanes64(&l1, px)
		sumLanes64(&l2, x)
		if l1 != l2 {
			t.Fatalf("n=%d: sumLanes64 at a page's end differs", n)
		}
		// Outputs at a page's end too: p1, p2 and dx.
		p1, f1 := b3PageEnd(t, mk(1))
		p2, f2 := b3PageEnd(t, mk(2))
		q1, q2 := mk(1), mk(2)
		NormStats4(p1, p2, pm, px, pg, py, px)
		NormStats4(q1, q2, m, x, g, y, x)
		sameBits(t, fmt.Sprintf("n=%d NormStats4 at a page's end", n), append(p1, p2...), append(q1, q2...))
		NormGradStats2ReLU(p1, p2, pm, px, pg, pg, py, py, px)
		NormGradStats2ReLU(q1, q2, m, x, g, g, y, y, x)
		sameBits(t, fmt.Sprintf("n=%d NormGradStats2ReLU at a page's end", n), append(p1, p2...), append(q1, q2...))
		NormGradReLU(p1, px, pg, py, pm, pm, pg, px, true)
		NormGradReLU(q1, x, g, y, m, m, g, x, true)
		sameBits(t, fmt.Sprintf("n=%d NormGradReLU at a page's end", n), p1, q1)
		NormGradConstReLU(p2, px, pg, py, 0.5, 2, -1, 0.25, false)
		NormGradConstReLU(q2, x, g, y, 0.5, 2, -1, 0.25, false)
		sameBits(t, fmt.Sprintf("n=%d NormGradConstReLU at a page's end", n), p2, q2)
		for s := 1; s <= n && s <= 9; s++ {
			nch := min(8, n/s)
			var ra, rb, wa, wb [16]float32
			NormGradSumsChansReLU(&ra, &rb, px[n-nch*s:], pg[n-nch*s:], py[n-nch*s:], s, m[:nch])
			NormGradSumsChansReLU(&wa, &wb, x[n-nch*s:], g[n-nch*s:], y[n-nch*s:], s, m[:nch])
			sameBits(t, fmt.Sprintf("n=%d s=%d NormGradSumsChansReLU at a page's end", n, s), append(ra[:], rb[:]...), append(wa[:], wb[:]...))
		}
		// Transpose: src and dst ending at a page.
		for _, rows := range []int{1, n} {
			cols := n / rows
			src, fs := b3PageEnd(t, mk(3)[:rows*cols])
			dst, fd := b3PageEnd(t, make([]float32, rows*cols))
			Transpose(dst, cols, src, rows, rows, cols)
			for i := range rows {
				for j := range cols {
					if dst[i*cols+j] != src[j*rows+i] {
						t.Fatalf("n=%d: Transpose at a page's end wrong at %d,%d", n, i, j)
					}
				}
			}
			fs()
			fd()
		}
		fx()
		fg()
		fy()
		fm()
		f1()
		f2()
	}
}
