package data

import (
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"testing"
	"time"
)

// seqDataset returns n 1-channel h x w images; image i has pixel value
// (i*13 + j) % 256 at offset j, and label i % classes.
func seqDataset(t testing.TB, n, c, h, w, classes int) *Memory {
	pix := make([]uint8, n*c*h*w)
	labels := make([]int, n)
	for i := range n {
		for j := range c * h * w {
			pix[i*c*h*w+j] = uint8(i*13 + j)
		}
		labels[i] = i % classes
	}
	m, err := NewMemory(c, h, w, pix, labels, classes)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// collect returns copies of the next k batches.
func collect(t testing.TB, l *Loader, k int) []Batch {
	t.Helper()
	var out []Batch
	for range k {
		b, err := l.Next()
		if err != nil {
			t.Fatal(err)
		}
		c := *b
		c.X, c.Labels, c.Index = slices.Clone(b.X), slices.Clone(b.Labels), slices.Clone(b.Index)
		out = append(out, c)
	}
	return out
}

func sameBatches(a, b []Batch) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !slices.Equal(a[i].X, b[i].X) || !slices.Equal(a[i].Labels, b[i].Labels) || !slices.Equal(a[i].Index, b[i].Index) ||
			a[i].Epoch != b[i].Epoch || a[i].Start != b[i].Start || a[i].Next != b[i].Next || a[i].Last != b[i].Last {
			return false
		}
	}
	return true
}

func newLoader(t testing.TB, ds Dataset, o LoaderOptions) *Loader {
	t.Helper()
	l, err := NewLoader(ds, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestLoaderDeterminism(t *testing.T) {
	ds := seqDataset(t, 23, 3, 6, 6, 4)
	base := LoaderOptions{BatchSize: 5, Seed: 42, Shuffle: true, Crop: 4, Pad: 1, Flip: true}
	var runs [][]Batch
	for _, workers := range []int{1, 2, 5} {
		for _, prefetch := range []int{1, 4} {
			o := base
			o.Workers, o.Prefetch = workers, prefetch
			runs = append(runs, collect(t, newLoader(t, ds, o), 12))
		}
	}
	for i := 1; i < len(runs); i++ {
		if !sameBatches(runs[0], runs[i]) {
			t.Fatalf("run %d differs from run 0", i)
		}
	}
	o := base
	o.Seed = 43
	if sameBatches(runs[0], collect(t, newLoader(t, ds, o), 12)) {
		t.Fatal("seeds 42 and 43 give the same batches")
	}
	// Two epochs differ in order.
	l := newLoader(t, ds, base)
	if slices.Equal(l.Order(0), l.Order(1)) {
		t.Fatal("epochs 0 and 1 have the same order")
	}
}

func TestLoaderEpochs(t *testing.T) {
	ds := seqDataset(t, 23, 1, 2, 2, 3)
	for _, tc := range []struct {
		name     string
		drop     bool
		shuffle  bool
		batches  int
		lastSize int
	}{{"keep last", false, true, 5, 3}, {"drop last", true, true, 4, 5}, {"in order", false, false, 5, 3}} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLoader(t, ds, LoaderOptions{BatchSize: 5, Seed: 7, Shuffle: tc.shuffle, DropLast: tc.drop, Epochs: 3})
			if l.BatchesPerEpoch() != tc.batches {
				t.Fatalf("BatchesPerEpoch = %d", l.BatchesPerEpoch())
			}
			for e := range 3 {
				var seen []int
				for k := range tc.batches {
					b, err := l.Next()
					if err != nil {
						t.Fatal(err)
					}
					if b.Epoch != e || b.Last != (k == tc.batches-1) {
						t.Fatalf("epoch %d batch %d: Epoch %d Last %v", e, k, b.Epoch, b.Last)
					}
					if b.Last && b.N != tc.lastSize {
						t.Fatalf("last batch has %d images", b.N)
					}
					for j, idx := range b.Index {
						if b.Labels[j] != ds.Label(idx) {
							t.Fatal("label does not match index")
						}
						// Check the pixels: value (idx*13 + p)/255*2-1.
						for p := range 4 {
							want := float32(uint8(idx*13+p))/255*2 - 1
							if math.Abs(float64(b.X[j*4+p]-(float32(uint8(idx*13+p))-127.5)/127.5)) > 1e-6 || math.Abs(float64(b.X[j*4+p]-want)) > 1e-6 {
								t.Fatalf("pixel %d of image %d = %v, want %v", p, idx, b.X[j*4+p], want)
							}
						}
					}
					seen = append(seen, b.Index...)
				}
				if !slices.Equal(seen, l.Order(e)[:len(seen)]) {
					t.Fatal("batches do not follow Order")
				}
				if !tc.drop {
					slices.Sort(seen)
					for i := range seen {
						if seen[i] != i {
							t.Fatalf("epoch %d is not a permutation: %v", e, seen)
						}
					}
				} else if len(seen) != 20 || len(slices.Compact(slices.Sorted(slices.Values(seen)))) != 20 {
					t.Fatal("drop last: repeated images")
				}
				if !tc.shuffle && !slices.IsSorted(seen) {
					t.Fatal("unshuffled order")
				}
			}
			if _, err := l.Next(); err != io.EOF {
				t.Fatalf("after the last epoch: %v, want io.EOF", err)
			}
		})
	}
}

func TestLoaderResume(t *testing.T) {
	ds := seqDataset(t, 17, 3, 5, 5, 2)
	o := LoaderOptions{BatchSize: 4, Seed: 9, Shuffle: true, Crop: 4, Pad: 2, Flip: true, Workers: 2}
	full := collect(t, newLoader(t, ds, o), 14) // more than 2 epochs of 5 batches
	for _, k := range []int{1, 4, 5, 9} {
		r := o
		r.Start = full[k-1].Next
		r.Workers = 3
		got := collect(t, newLoader(t, ds, r), len(full)-k)
		if !sameBatches(got, full[k:]) {
			t.Fatalf("resumed after batch %d: batches differ", k)
		}
	}
	// A position past the end of an epoch moves to the next epoch.
	r := o
	r.Start = Position{Epoch: 1, Sample: 17}
	if b := collect(t, newLoader(t, ds, r), 1)[0]; b.Epoch != 2 || b.Start != 0 {
		t.Fatalf("start %+v", b)
	}
}

// tiny is a 1-channel 3x3 image with values 0..8 (row-major).
func tinyDataset(t testing.TB) *Memory {
	m, err := NewMemory(1, 3, 3, []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// raw undoes the normalisation with Mean 0, Std 1/255 (x -> x).
func raw(x []float32) []int {
	out := make([]int, len(x))
	for i, v := range x {
		out[i] = int(math.Round(float64(v)))
	}
	return out
}

func TestLoaderCropFlip(t *testing.T) {
	ds := tinyDataset(t)
	id := LoaderOptions{BatchSize: 1, Mean: []float32{0}, Std: []float32{1.0 / 255}}

	// Expected crops of the image padded by 1 (zeros), 3x3 windows.
	padded := func(y, x int) int {
		if y < 1 || y > 3 || x < 1 || x > 3 {
			return 0
		}
		return (y-1)*3 + (x - 1)
	}
	variants := map[string]bool{}
	for y0 := range 3 {
		for x0 := range 3 {
			for _, flip := range []bool{false, true} {
				var v []int
				for y := range 3 {
					for x := range 3 {
						sx := x0 + x
						if flip {
							sx = x0 + 2 - x
						}
						v = append(v, padded(y0+y, sx))
					}
				}
				variants[fmt.Sprint(v)] = false
			}
		}
	}
	for _, tc := range []struct {
		name  string
		opts  LoaderOptions
		check func(t *testing.T, seen map[string]int)
	}{
		{"identity", id, func(t *testing.T, seen map[string]int) {
			if len(seen) != 1 || seen["[0 1 2 3 4 5 6 7 8]"] == 0 {
				t.Fatalf("seen %v", seen)
			}
		}},
		{"flip", LoaderOptions{BatchSize: 1, Mean: id.Mean, Std: id.Std, Flip: true}, func(t *testing.T, seen map[string]int) {
			if len(seen) != 2 || seen["[0 1 2 3 4 5 6 7 8]"] < 60 || seen["[2 1 0 5 4 3 8 7 6]"] < 60 {
				t.Fatalf("seen %v", seen)
			}
		}},
		{"center crop 1", LoaderOptions{BatchSize: 1, Mean: id.Mean, Std: id.Std, Crop: 1, CenterCrop: true}, func(t *testing.T, seen map[string]int) {
			if len(seen) != 1 || seen["[4]"] == 0 {
				t.Fatalf("seen %v", seen)
			}
		}},
		{"random crop 2 no pad", LoaderOptions{BatchSize: 1, Mean: id.Mean, Std: id.Std, Crop: 2}, func(t *testing.T, seen map[string]int) {
			want := []string{"[0 1 3 4]", "[1 2 4 5]", "[3 4 6 7]", "[4 5 7 8]"}
			if len(seen) != 4 {
				t.Fatalf("seen %v", seen)
			}
			for _, w := range want {
				if seen[w] < 20 {
					t.Fatalf("crop %s seen %d times: %v", w, seen[w], seen)
				}
			}
		}},
		{"pad 1 crop 3 flip", LoaderOptions{BatchSize: 1, Mean: id.Mean, Std: id.Std, Crop: 3, Pad: 1, Flip: true}, func(t *testing.T, seen map[string]int) {
			for k := range seen {
				if _, ok := variants[k]; !ok {
					t.Fatalf("output %s is no crop/flip of the padded image", k)
				}
			}
			if len(seen) != len(variants) {
				t.Fatalf("%d of %d crop/flip variants seen", len(seen), len(variants))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.Seed, o.Epochs = 1, 400
			l := newLoader(t, ds, o)
			seen := map[string]int{}
			for {
				b, err := l.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				seen[fmt.Sprint(raw(b.X))]++
			}
			tc.check(t, seen)
		})
	}
}

func TestLoaderNormalize(t *testing.T) {
	m, _ := NewMemory(2, 1, 1, []uint8{0, 255, 51, 102}, []int{0, 1}, 2)
	l := newLoader(t, m, LoaderOptions{BatchSize: 2, Mean: []float32{0, 0.5}, Std: []float32{1, 0.25}})
	b, err := l.Next()
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 2, 0.2, (0.4 - 0.5) / 0.25}
	for i := range want {
		if math.Abs(float64(b.X[i]-want[i])) > 1e-6 {
			t.Fatalf("X = %v, want %v", b.X, want)
		}
	}
	for _, o := range []LoaderOptions{
		{BatchSize: 0},
		{BatchSize: 1, Std: []float32{0}},
		{BatchSize: 1, Mean: []float32{1, 2, 3}},
		{BatchSize: 1, Crop: 5},
		{BatchSize: 3, DropLast: true},
		{BatchSize: 1, Start: Position{Epoch: -1}},
	} {
		if _, err := NewLoader(m, o); err == nil {
			t.Fatalf("options %+v accepted", o)
		}
	}
}

type failing struct {
	*Memory
	bad int
}

func (f failing) Image(i int, dst []uint8) error {
	if i == f.bad {
		return errors.New("disk on fire")
	}
	return f.Memory.Image(i, dst)
}

func TestLoaderErrorAndClose(t *testing.T) {
	before := runtime.NumGoroutine()
	ds := failing{seqDataset(t, 10, 1, 2, 2, 2), 7}
	l, err := NewLoader(ds, LoaderOptions{BatchSize: 3, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got error
	for range 4 {
		if _, got = l.Next(); got != nil {
			break
		}
	}
	wantErr(t, got, "image 7", "disk on fire")
	if _, err := l.Next(); err == nil {
		t.Fatal("Next after an error succeeded")
	}
	l.Close()
	// Close while batches are pending, twice, with no Next at all.
	for _, workers := range []int{1, 4} {
		l2, _ := NewLoader(seqDataset(t, 100, 3, 8, 8, 2), LoaderOptions{BatchSize: 8, Workers: workers, Shuffle: true, Flip: true})
		l2.Next()
		l2.Close()
		l2.Close()
		if _, err := l2.Next(); err != ErrClosed {
			t.Fatalf("Next after Close: %v", err)
		}
		l3, _ := NewLoader(seqDataset(t, 100, 3, 8, 8, 2), LoaderOptions{BatchSize: 8, Workers: workers})
		l3.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after Close, %d before", n, before)
	}
}

func TestChunks(t *testing.T) {
	ds := seqDataset(t, 10, 2, 2, 3, 3)
	var idx []int
	for b, err := range Chunks(ds, 4, Transform{}) {
		if err != nil {
			t.Fatal(err)
		}
		for j := range b.N {
			i := b.Index[j]
			idx = append(idx, i)
			if b.Labels[j] != i%3 || b.X[j*12+5] != float32(uint8(i*13+5))/255*2-1 {
				t.Fatalf("image %d", i)
			}
		}
	}
	if !slices.Equal(idx, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Fatalf("order %v", idx)
	}
	n := 0
	for _, err := range Chunks(failing{ds, 5}, 4, Transform{}) {
		if err != nil {
			wantErr(t, err, "image 5")
			break
		}
		n++
	}
	if n != 1 {
		t.Fatalf("%d chunks before the error", n)
	}
}

func TestSubsetConcat(t *testing.T) {
	a := seqDataset(t, 5, 1, 1, 2, 5)
	b := seqDataset(t, 3, 1, 1, 2, 3)
	empty, _ := NewMemory(1, 1, 2, nil, nil, 0)
	c, err := Concat(a, empty, b)
	if err != nil {
		t.Fatal(err)
	}
	if c.Len() != 8 || c.NumClasses() != 5 || c.Label(5) != 0 || c.Label(4) != 4 || image0(t, c, 6)[1] != uint8(13+1) {
		t.Fatal("concat")
	}
	s := Subset(c, []int{7, 0})
	if s.Len() != 2 || s.Label(0) != 2 || image0(t, s, 1)[0] != 0 {
		t.Fatal("subset")
	}
	if _, err := Concat(a, seqDataset(t, 1, 2, 1, 2, 1)); err == nil {
		t.Fatal("concat of different shapes")
	}
	if err := c.Image(8, make([]uint8, 2)); err == nil {
		t.Fatal("index out of range")
	}
}

func TestChunksTransform(t *testing.T) {
	// 1 channel, 4x4 images; the centre 2x2 crop of image i holds pixels
	// (1,1) (1,2) (2,1) (2,2): values i*13 + 5, 6, 9, 10, then x/255 with
	// mean 0 and std 1.
	ds := seqDataset(t, 3, 1, 4, 4, 3)
	for b, err := range Chunks(ds, 2, Transform{CenterCrop: 2, Mean: []float32{0}, Std: []float32{1}}) {
		if err != nil {
			t.Fatal(err)
		}
		if b.H != 2 || b.W != 2 {
			t.Fatalf("chunk images are %dx%d, want 2x2", b.H, b.W)
		}
		for j := range b.N {
			i := b.Index[j]
			for k, off := range []int{5, 6, 9, 10} {
				if want := float32(uint8(i*13+off)) / 255; b.X[j*4+k] != want {
					t.Fatalf("image %d pixel %d = %v, want %v", i, k, b.X[j*4+k], want)
				}
			}
		}
	}
	for _, err := range Chunks(ds, 2, Transform{CenterCrop: 5}) {
		wantErr(t, err, "crop 5 larger")
		break
	}
}
