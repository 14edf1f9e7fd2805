package data

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// makeIDXDir writes a 5-image train and 2-image test set of 3x4 images.
func makeIDXDir(t *testing.T, gzipped bool, sep string) (dir string, train, test []byte, trainLbl, testLbl []byte) {
	dir = t.TempDir()
	train = make([]byte, 5*12)
	for i := range train {
		train[i] = byte(i * 7)
	}
	test = make([]byte, 2*12)
	for i := range test {
		test[i] = byte(255 - i)
	}
	trainLbl = []byte{0, 9, 3, 3, 1}
	testLbl = []byte{7, 2}
	enc := func(b []byte) []byte {
		if gzipped {
			return gz(b)
		}
		return b
	}
	ext := ""
	if gzipped {
		ext = ".gz"
	}
	writeFile(t, dir, "train-images"+sep+"idx3-ubyte"+ext, enc(idxBytes([]int{5, 3, 4}, train)))
	writeFile(t, dir, "train-labels"+sep+"idx1-ubyte"+ext, enc(idxBytes([]int{5}, trainLbl)))
	writeFile(t, dir, "t10k-images"+sep+"idx3-ubyte"+ext, enc(idxBytes([]int{2, 3, 4}, test)))
	writeFile(t, dir, "t10k-labels"+sep+"idx1-ubyte"+ext, enc(idxBytes([]int{2}, testLbl)))
	return
}

func TestIDXRead(t *testing.T) {
	for _, tc := range []struct {
		name string
		gz   bool
		sep  string
	}{{"raw", false, "-"}, {"gzip", true, "-"}, {"dotted-names", false, "."}} {
		t.Run(tc.name, func(t *testing.T) {
			dir, train, test, trainLbl, testLbl := makeIDXDir(t, tc.gz, tc.sep)
			s, err := Open("idx:"+dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, part := range []struct {
				ds     Dataset
				pix    []byte
				labels []byte
			}{{s.Train, train, trainLbl}, {s.Test, test, testLbl}} {
				if c, h, w := part.ds.Shape(); c != 1 || h != 3 || w != 4 {
					t.Fatalf("shape %d %d %d", c, h, w)
				}
				if part.ds.Len() != len(part.labels) || part.ds.NumClasses() != 10 {
					t.Fatalf("len %d classes %d", part.ds.Len(), part.ds.NumClasses())
				}
				for i := range part.ds.Len() {
					if got := image0(t, part.ds, i); !bytes.Equal(got, part.pix[i*12:(i+1)*12]) {
						t.Fatalf("image %d = %v, want %v", i, got, part.pix[i*12:(i+1)*12])
					}
					if part.ds.Label(i) != int(part.labels[i]) {
						t.Fatalf("label %d = %d", i, part.ds.Label(i))
					}
				}
			}
		})
	}
}

func TestIDXErrors(t *testing.T) {
	pix := make([]byte, 4*6)
	good := func(dir string) {
		os.WriteFile(filepath.Join(dir, "train-images-idx3-ubyte"), idxBytes([]int{4, 2, 3}, pix), 0o644)
		os.WriteFile(filepath.Join(dir, "train-labels-idx1-ubyte"), idxBytes([]int{4}, []byte{1, 2, 3, 4}), 0o644)
	}
	for _, tc := range []struct {
		name    string
		images  []byte // nil: keep the good file
		labels  []byte
		classes int
		file    string // the file the error must name
		want    string
	}{
		{"wrong magic", append([]byte{0x12, 0x34, 0x56, 0x78}, make([]byte, 30)...), nil, 0, "train-images-idx3-ubyte", "bad IDX magic"},
		{"labels as images", idxBytes([]int{4}, []byte{1, 2, 3, 4}), nil, 0, "train-images-idx3-ubyte", "3 dimensions"},
		{"float elements", append([]byte{0, 0, 0x0d, 1, 0, 0, 0, 1}, 0, 0, 0, 0), nil, 0, "train-images-idx3-ubyte", "not supported"},
		{"truncated images", idxBytes([]int{4, 2, 3}, pix)[:30], nil, 0, "train-images-idx3-ubyte", "truncated"},
		{"truncated header", []byte{0, 0, 8, 3, 0, 0}, nil, 0, "train-images-idx3-ubyte", "truncated IDX header"},
		{"trailing bytes", append(idxBytes([]int{4, 2, 3}, pix), 9), nil, 0, "train-images-idx3-ubyte", "trailing"},
		{"huge dims", idxBytes([]int{1 << 30, 1 << 30, 1 << 30}, nil), nil, 0, "train-images-idx3-ubyte", "too large"},
		{"count mismatch", nil, idxBytes([]int{3}, []byte{1, 2, 3}), 0, "train-labels-idx1-ubyte", "3 labels but"},
		{"label out of range", nil, idxBytes([]int{4}, []byte{1, 2, 12, 4}), 10, "train-labels-idx1-ubyte", "label 12 of item 2 out of range"},
		{"2-D labels", nil, idxBytes([]int{4, 1}, []byte{1, 2, 3, 4}), 0, "train-labels-idx1-ubyte", "1 dimension"},
		{"empty file", []byte{}, nil, 0, "train-images-idx3-ubyte", "truncated"},
		{"corrupt gzip", gz(idxBytes([]int{4, 2, 3}, pix))[:20], nil, 0, "train-images-idx3-ubyte", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			good(dir)
			if tc.images != nil {
				os.WriteFile(filepath.Join(dir, "train-images-idx3-ubyte"), tc.images, 0o644)
			}
			if tc.labels != nil {
				os.WriteFile(filepath.Join(dir, "train-labels-idx1-ubyte"), tc.labels, 0o644)
			}
			_, err := OpenIDX(dir, tc.classes)
			wantErr(t, err, filepath.Join(dir, tc.file), tc.want)
		})
	}
	t.Run("missing labels", func(t *testing.T) {
		dir := t.TempDir()
		good(dir)
		os.Remove(filepath.Join(dir, "train-labels-idx1-ubyte"))
		_, err := Open("idx:"+dir, Options{})
		wantErr(t, err, "train-labels-idx1-ubyte", "missing")
	})
	t.Run("missing test images", func(t *testing.T) {
		dir := t.TempDir()
		good(dir)
		writeFile(t, dir, "t10k-labels-idx1-ubyte", idxBytes([]int{1}, []byte{0}))
		_, err := Open("idx:"+dir, Options{})
		wantErr(t, err, "t10k-images-idx3-ubyte", "missing")
	})
	t.Run("missing dir", func(t *testing.T) {
		_, err := Open("idx:"+filepath.Join(t.TempDir(), "nope"), Options{})
		wantErr(t, err, "nope")
	})
	t.Run("test size differs", func(t *testing.T) {
		dir := t.TempDir()
		good(dir)
		writeFile(t, dir, "t10k-images-idx3-ubyte", idxBytes([]int{1, 3, 3}, make([]byte, 9)))
		writeFile(t, dir, "t10k-labels-idx1-ubyte", idxBytes([]int{1}, []byte{0}))
		_, err := Open("idx:"+dir, Options{})
		wantErr(t, err, "t10k-images-idx3-ubyte", "3x3 images")
	})
}

func TestOpenSpecErrors(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"nosuch", "unknown data set"},
		{"cifar10", "cifar-10-binary.tar.gz"},
		{"cifar100", "cifar-100-binary.tar.gz"},
		{"stl10", "stl10_binary"},
		{"tinyimagenet", "tiny-imagenet-200"},
		{"celeba", "img_align_celeba"},
		{"folder", "needs a directory"},
		{"idx:", "empty directory"},
		{"cifar10:/nonexistent/dir", "/nonexistent/dir"},
		{"fashion-mnist:/nonexistent/fm", "apt-get install dataset-fashion-mnist"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := Open(tc.spec, Options{})
			wantErr(t, err, tc.want)
		})
	}
	for _, tc := range []struct {
		spec string
		opts Options
		want string
	}{
		{"mnist", Options{Coarse: true}, "coarse labels are CIFAR-100's"},
		{"cifar10:/nonexistent", Options{Coarse: true}, "coarse labels are CIFAR-100's"},
		{"mnist", Options{HoldOut: 0.2}, "hold-out fraction is for folder:DIR"},
		{"CIFAR-10:/x", Options{HoldOut: 0.1}, "hold-out fraction is for folder:DIR"},
		{"CIFAR-100:/nonexistent/c", Options{Coarse: true}, "/nonexistent/c"}, // accepted, then not found
		{"images:/nonexistent/f", Options{HoldOut: 0.2}, "/nonexistent/f"},
	} {
		t.Run(fmt.Sprintf("%s%+v", tc.spec, tc.opts), func(t *testing.T) {
			_, err := Open(tc.spec, tc.opts)
			wantErr(t, err, tc.want)
		})
	}
}

// TestCanonical checks the spellings Canonical folds together, and that
// every canonical kind and alias opens the same data set as its name (the
// errors for a missing directory name the same kind).
func TestCanonical(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"mnist", "mnist"},
		{"MNIST", "mnist"},
		{" Mnist ", "mnist"},
		{"Fashion_MNIST", "fashion-mnist"},
		{"fashionmnist:/D/Fashion", "fashion-mnist:/D/Fashion"},
		{"CIFAR-10:/data/CIFAR", "cifar10:/data/CIFAR"},
		{"cifar-100:x", "cifar100:x"},
		{"STL-10:s", "stl10:s"},
		{"Tiny-ImageNet:t", "tinyimagenet:t"},
		{"tinyimagenet200:t", "tinyimagenet:t"},
		{"dir:/a:b", "folder:/a:b"},
		{"Images:/p", "folder:/p"},
		{"folder:", "folder:"},
		{"nosuch:X", "nosuch:X"},
	} {
		if got := Canonical(tc.spec); got != tc.want {
			t.Errorf("Canonical(%q) = %q, want %q", tc.spec, got, tc.want)
		}
		if got := Canonical(Canonical(tc.spec)); got != tc.want {
			t.Errorf("Canonical is not idempotent on %q: %q", tc.spec, got)
		}
	}
	for alias, name := range kindAliases {
		if !strings.Contains(Specs, name+":DIR") {
			t.Errorf("alias %q maps to %q, which Specs does not list", alias, name)
		}
		_, e1 := Open(alias+":/nonexistent/x", Options{})
		_, e2 := Open(name+":/nonexistent/x", Options{})
		if e1 == nil || e2 == nil || strings.ReplaceAll(e1.Error(), `"`+alias+":", `"`+name+":") != e2.Error() {
			t.Errorf("%q and %q open differently: %v / %v", alias, name, e1, e2)
		}
	}
}

// TestSizeFor: tinyimagenet and celeba open 64x64 images for size 0, the
// others the size given.
func TestSizeFor(t *testing.T) {
	for _, c := range []struct {
		spec       string
		size, want int
	}{
		{"tinyimagenet:/d", 0, 64}, {"Tiny-ImageNet:/d", 0, 64}, {"celeba:/c", 0, 64}, {"celeba:/c", 32, 32},
		{"folder:/f", 0, 0}, {"folder:/f", 28, 28}, {"mnist", 0, 0},
	} {
		if got := SizeFor(c.spec, c.size); got != c.want {
			t.Errorf("SizeFor(%q, %d) = %d, want %d", c.spec, c.size, got, c.want)
		}
	}
}
