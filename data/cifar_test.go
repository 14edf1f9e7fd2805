package data

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// cifarRecords returns n records with labelBytes label bytes (from
// label(i)) and pixels p(i, j) = byte(i*31 + j*7 + j/1024).
func cifarRecords(n int, label func(i int) []byte) (file []byte, pix [][]byte) {
	for i := range n {
		p := make([]byte, cifarPixels)
		for j := range p {
			p[j] = byte(i*31 + j*7 + j/1024)
		}
		file = append(file, label(i)...)
		file = append(file, p...)
		pix = append(pix, p)
	}
	return
}

func TestCIFAR10(t *testing.T) {
	dir := t.TempDir()
	counts := []int{7, 1, 2, 1, 3}
	var want [][]byte
	var wantLabels []int
	for b, n := range counts {
		file, pix := cifarRecords(n, func(i int) []byte { return []byte{byte((i + b) % 10)} })
		writeFile(t, dir, fmt.Sprintf("cifar-10-batches-bin/data_batch_%d.bin", b+1), file)
		want = append(want, pix...)
		for i := range n {
			wantLabels = append(wantLabels, (i+b)%10)
		}
	}
	testFile, testPix := cifarRecords(3, func(i int) []byte { return []byte{9} })
	writeFile(t, dir, "cifar-10-batches-bin/test_batch.bin", testFile)
	s, err := Open("cifar10:"+dir, Options{}) // the parent folder is accepted too
	if err != nil {
		t.Fatal(err)
	}
	if s.Train.Len() != 14 || s.Test.Len() != 3 || s.Train.NumClasses() != 10 || len(s.Classes) != 10 {
		t.Fatalf("len %d/%d classes %d", s.Train.Len(), s.Test.Len(), s.Train.NumClasses())
	}
	if c, h, w := s.Train.Shape(); c != 3 || h != 32 || w != 32 {
		t.Fatalf("shape %d %d %d", c, h, w)
	}
	for i := range want {
		got := image0(t, s.Train, i)
		if !bytes.Equal(got, want[i]) || s.Train.Label(i) != wantLabels[i] {
			t.Fatalf("image %d differs or label %d != %d", i, s.Train.Label(i), wantLabels[i])
		}
		// Channel order: R is the record's first 1024 bytes; pixel (y=1, x=2) of B.
		if got[2*1024+1*32+2] != want[i][2048+34] {
			t.Fatal("channel order")
		}
	}
	if !bytes.Equal(image0(t, s.Test, 2), testPix[2]) || s.Test.Label(2) != 9 {
		t.Fatal("test image 2")
	}
}

func TestCIFAR100(t *testing.T) {
	dir := t.TempDir()
	file, pix := cifarRecords(7, func(i int) []byte { return []byte{byte(i * 3 % 20), byte(i*13 + 5)} })
	writeFile(t, dir, "train.bin", file)
	tf, _ := cifarRecords(2, func(i int) []byte { return []byte{19, 99} })
	writeFile(t, dir, "test.bin", tf)
	for _, coarse := range []bool{false, true} {
		s, err := Open("cifar100:"+dir, Options{Coarse: coarse})
		if err != nil {
			t.Fatal(err)
		}
		classes := map[bool]int{false: 100, true: 20}[coarse]
		if s.Train.Len() != 7 || s.Test.Len() != 2 || s.Train.NumClasses() != classes {
			t.Fatalf("coarse=%v: len %d classes %d", coarse, s.Train.Len(), s.Train.NumClasses())
		}
		for i := range 7 {
			want := i*13 + 5
			if coarse {
				want = i * 3 % 20
			}
			if s.Train.Label(i) != want || !bytes.Equal(image0(t, s.Train, i), pix[i]) {
				t.Fatalf("coarse=%v image %d: label %d want %d", coarse, i, s.Train.Label(i), want)
			}
		}
	}
}

func TestCIFARErrors(t *testing.T) {
	good10, _ := cifarRecords(2, func(i int) []byte { return []byte{1} })
	good100, _ := cifarRecords(2, func(i int) []byte { return []byte{1, 2} })
	for _, tc := range []struct {
		name, spec, file string
		content          []byte // nil: remove the file
		want             string
	}{
		{"truncated", "cifar10", "data_batch_3.bin", good10[:3073+100], "not a multiple of the 3073-byte record"},
		{"label out of range", "cifar10", "test_batch.bin", append([]byte{10}, good10[1:]...), "record 0: label 10 out of range"},
		{"empty", "cifar10", "data_batch_1.bin", []byte{}, "empty file"},
		{"missing", "cifar10", "data_batch_4.bin", nil, "missing"},
		{"fine label", "cifar100", "train.bin", append(append([]byte{}, good100[:3074]...), append([]byte{3, 100}, good100[3076:]...)...), "record 1: fine label 100"},
		{"coarse label", "cifar100", "test.bin", append([]byte{20}, good100[1:]...), "record 0: coarse label 20"},
		{"cifar10 file as cifar100", "cifar100", "train.bin", good10, "3074-byte record"},
		{"missing test", "cifar100", "test.bin", nil, "missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.spec == "cifar10" {
				for _, f := range []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"} {
					writeFile(t, dir, f, good10)
				}
			} else {
				writeFile(t, dir, "train.bin", good100)
				writeFile(t, dir, "test.bin", good100)
			}
			p := filepath.Join(dir, tc.file)
			if tc.content == nil {
				os.Remove(p)
			} else {
				os.WriteFile(p, tc.content, 0o644)
			}
			_, err := Open(tc.spec+":"+dir, Options{})
			wantErr(t, err, p, tc.want)
		})
	}
}
