package data

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// stlImages returns n images in STL-10's file layout (each channel
// column-major) and the same images row-major CHW. Pixel (c, r, k) of image
// i is asymmetric in r and k and differs per channel.
func stlImages(n int) (file []byte, rowMajor [][]byte) {
	for i := range n {
		f := make([]byte, stlPixels)
		want := make([]byte, stlPixels)
		for c := range 3 {
			for r := range stlSide {
				for k := range stlSide {
					v := byte(i*17 + c*89 + r*7 + k*3)
					f[c*stlPlane+k*stlSide+r] = v
					want[c*stlPlane+r*stlSide+k] = v
				}
			}
		}
		file = append(file, f...)
		rowMajor = append(rowMajor, want)
	}
	return
}

func TestSTL10(t *testing.T) {
	dir := t.TempDir()
	trainX, trainImgs := stlImages(3)
	testX, testImgs := stlImages(1)
	unlX, unlImgs := stlImages(2)
	writeFile(t, dir, "stl10_binary/train_X.bin", trainX)
	writeFile(t, dir, "stl10_binary/train_y.bin", []byte{1, 10, 4})
	writeFile(t, dir, "stl10_binary/test_X.bin", testX)
	writeFile(t, dir, "stl10_binary/test_y.bin", []byte{7})
	writeFile(t, dir, "stl10_binary/unlabeled_X.bin", unlX)
	s, err := Open("stl10:"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Train.Len() != 3 || s.Test.Len() != 1 || s.Unlabeled.Len() != 2 {
		t.Fatalf("lens %d %d %d", s.Train.Len(), s.Test.Len(), s.Unlabeled.Len())
	}
	if c, h, w := s.Train.Shape(); c != 3 || h != 96 || w != 96 {
		t.Fatalf("shape %d %d %d", c, h, w)
	}
	for i, want := range []int{0, 9, 3} {
		if s.Train.Label(i) != want {
			t.Fatalf("label %d = %d, want %d", i, s.Train.Label(i), want)
		}
		got := image0(t, s.Train, i)
		if !bytes.Equal(got, trainImgs[i]) {
			t.Fatalf("train image %d differs", i)
		}
		// Pixel (row 2, column 5) of the green channel.
		if got[stlPlane+2*96+5] != byte(i*17+89+2*7+5*3) {
			t.Fatal("row/column or channel order")
		}
	}
	if s.Test.Label(0) != 6 || !bytes.Equal(image0(t, s.Test, 0), testImgs[0]) {
		t.Fatal("test image")
	}
	if s.Unlabeled.NumClasses() != 0 || s.Unlabeled.Label(1) != -1 || !bytes.Equal(image0(t, s.Unlabeled, 1), unlImgs[1]) {
		t.Fatal("unlabeled image")
	}
	all, err := Concat(s.Unlabeled, s.Train)
	if err != nil {
		t.Fatal(err)
	}
	if all.Len() != 5 || all.Label(0) != -1 || all.Label(3) != 9 || !bytes.Equal(image0(t, all, 4), trainImgs[2]) || all.NumClasses() != 10 {
		t.Fatal("concat")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Train.Image(0, make([]byte, stlPixels)); err == nil {
		t.Fatal("read after close succeeded")
	}
}

func TestSTL10Errors(t *testing.T) {
	x2, _ := stlImages(2)
	for _, tc := range []struct {
		name, file string
		content    []byte // nil: remove
		want       string
	}{
		{"truncated images", "train_X.bin", x2[:len(x2)-1], "not a multiple of the 27648-byte"},
		{"label 0", "train_y.bin", []byte{0, 1}, "label 0 of image 0 out of range [1,10]"},
		{"label 11", "test_y.bin", []byte{3, 11}, "label 11 of image 1"},
		{"count mismatch", "test_y.bin", []byte{3}, "has 1 labels"},
		{"missing labels", "test_y.bin", nil, "missing"},
		{"missing images", "train_X.bin", nil, "missing"},
		{"empty unlabeled", "unlabeled_X.bin", []byte{}, "empty image file"},
		{"bad unlabeled", "unlabeled_X.bin", x2[:1000], "not a multiple"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "train_X.bin", x2)
			writeFile(t, dir, "train_y.bin", []byte{1, 2})
			writeFile(t, dir, "test_X.bin", x2)
			writeFile(t, dir, "test_y.bin", []byte{1, 2})
			p := filepath.Join(dir, tc.file)
			if tc.content == nil {
				os.Remove(p)
			} else {
				os.WriteFile(p, tc.content, 0o644)
			}
			_, err := Open("stl10:"+dir, Options{})
			wantErr(t, err, p, tc.want)
		})
	}
}
