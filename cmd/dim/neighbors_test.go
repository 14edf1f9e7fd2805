package main

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/data"
	"github.com/deepinfomax/deepinfomax/npy"
)

// bruteForce returns each query row's k nearest reference rows in
// float64 (Euclidean or cosine distance), ties to the lower index.
func bruteForce(ref, query []float64, d, k int, distance string) [][]int {
	nr, nq := len(ref)/d, len(query)/d
	out := make([][]int, nq)
	for q := range nq {
		dist := make([]float64, nr)
		idx := make([]int, nr)
		for r := range nr {
			idx[r] = r
			var sq, dot, a2, b2 float64
			for j := range d {
				a, b := query[q*d+j], ref[r*d+j]
				sq += (a - b) * (a - b)
				dot, a2, b2 = dot+a*b, a2+a*a, b2+b*b
			}
			dist[r] = math.Sqrt(sq)
			if distance == "cosine" {
				dist[r] = 1 - dot/math.Sqrt(a2*b2)
			}
		}
		sort.SliceStable(idx, func(a, b int) bool { return dist[idx[a]] < dist[idx[b]] })
		out[q] = idx[:k]
	}
	return out
}

// TestCLINeighbors draws the grid for both distances and checks its size
// and that every cell holds the image brute force (float64, on the
// features dim embed writes, standardised with the training statistics)
// names.
func TestCLINeighbors(t *testing.T) {
	spec, dir := tinyRun(t)
	feats := filepath.Join(t.TempDir(), "f")
	if err := run(t, "embed", "--model", dir, "--out", feats, "--layers", "y"); err != nil {
		t.Fatal(err)
	}
	read := func(name string) ([]float64, int) {
		v, shape, err := npy.ReadFloat32(filepath.Join(feats, name))
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out, shape[1]
	}
	tr, d := read("train_y.npy")
	te, _ := read("test_y.npy")
	n := len(tr) / d
	for j := range d { // standardise with the training columns' mean and unbiased std
		var s, sq float64
		for i := range n {
			s += tr[i*d+j]
		}
		mean := s / float64(n)
		for i := range n {
			sq += (tr[i*d+j] - mean) * (tr[i*d+j] - mean)
		}
		std := math.Sqrt(sq/float64(n-1)) + 1e-6
		for _, x := range [][]float64{tr, te} {
			for i := range len(x) / d {
				x[i*d+j] = (x[i*d+j] - mean) / std
			}
		}
	}
	split, err := data.Open(spec, data.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer split.Close()
	const k, queries, scale, side = 3, 4, 2, 12
	for _, dist := range []string{"euclidean", "cosine"} {
		out := filepath.Join(t.TempDir(), "grid.png")
		if err := run(t, "neighbors", "--model", dir, "--k", "3", "--queries", "4", "--scale", "2", "--distance", dist, "--out", out); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		pitch := side*scale + gridGap
		if b := img.Bounds(); b.Dx() != gridGap+(1+k)*pitch || b.Dy() != gridGap+queries*pitch {
			t.Fatalf("%s: grid %v, want %dx%d", dist, b, gridGap+(1+k)*pitch, gridGap+queries*pitch)
		}
		want := bruteForce(tr, te[:queries*d], d, k, dist)
		cell := func(row, col int) []uint8 {
			px := make([]uint8, side*side)
			for y := range side {
				for x := range side {
					r, _, _, _ := img.At(gridGap+col*pitch+x*scale+1, gridGap+row*pitch+y*scale+1).RGBA()
					px[y*side+x] = uint8(r >> 8)
				}
			}
			return px
		}
		buf := make([]uint8, side*side)
		for q := range queries {
			split.Test.Image(q, buf)
			if !slices.Equal(cell(q, 0), buf) {
				t.Errorf("%s: row %d does not start with test image %d", dist, q, q)
			}
			for j, nb := range want[q] {
				split.Train.Image(nb, buf)
				if !slices.Equal(cell(q, 1+j), buf) {
					t.Errorf("%s: row %d, neighbour %d is not training image %d (brute force %v)", dist, q, j+1, nb, want[q])
				}
			}
		}
	}
	// More neighbours than training images: every image, in a grid as wide.
	out := filepath.Join(t.TempDir(), "all.png")
	if err := run(t, "neighbors", "--model", dir, "--k", "100000", "--queries", "1", "--scale", "1", "--out", out); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(f)
	f.Close()
	if pitch := side + gridGap; err != nil || cfg.Width != gridGap+(1+n)*pitch {
		t.Errorf("--k past the %d training images: grid %d wide (%v), want %d", n, cfg.Width, err, gridGap+(1+n)*pitch)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--tap", "pool"}, `"pool"`},
		{[]string{"--k", "0"}, "--k"},
		{[]string{"--distance", "l1"}, "l1"},
		{[]string{"--out", filepath.Join(dir, "model.safetensors", "g.png")}, "--out"},
	} {
		if err := run(t, append([]string{"neighbors", "--model", dir}, c.args...)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("neighbors %v: error %v, want %q", c.args, err, c.want)
		}
	}
}
