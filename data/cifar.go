package data

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CIFAR image geometry: 3 channels of 32x32, stored R plane, G plane, B
// plane, each row-major (already CHW).
const (
	cifarSide   = 32
	cifarPixels = 3 * cifarSide * cifarSide // 3072
)

// ParseCIFAR10 decodes the records of a CIFAR-10 binary batch (1 label byte
// in 0..9, then 3072 pixel bytes) and returns the pixels of all images (CHW
// each) and their labels.
func ParseCIFAR10(b []byte) (pix []uint8, labels []int, err error) {
	return parseCIFAR(b, 1, 0, nil, nil)
}

// ParseCIFAR100 decodes the records of a CIFAR-100 binary file (coarse
// label byte in 0..19, fine label byte in 0..99, then 3072 pixel bytes) and
// returns the pixels and the coarse or fine labels.
func ParseCIFAR100(b []byte, coarse bool) (pix []uint8, labels []int, err error) {
	which := 1
	if coarse {
		which = 0
	}
	return parseCIFAR(b, 2, which, nil, nil)
}

// parseCIFAR appends the images and labels of the records in b to pix and
// labels. Records have labelBytes label bytes; label byte which is returned.
// With two label bytes both are range-checked (coarse < 20, fine < 100).
func parseCIFAR(b []byte, labelBytes, which int, pix []uint8, labels []int) ([]uint8, []int, error) {
	rec := labelBytes + cifarPixels
	if len(b) == 0 {
		return nil, nil, fmt.Errorf("empty file: no %d-byte records", rec)
	}
	if len(b)%rec != 0 {
		return nil, nil, fmt.Errorf("size %d is not a multiple of the %d-byte record (truncated or not a CIFAR-%d binary file)", len(b), rec, map[int]int{1: 10, 2: 100}[labelBytes])
	}
	limits := []int{10}
	if labelBytes == 2 {
		limits = []int{20, 100}
	}
	n := len(b) / rec
	for i := range n {
		r := b[i*rec : (i+1)*rec]
		for k, lim := range limits {
			if int(r[k]) >= lim {
				name := "label"
				if labelBytes == 2 {
					name = [...]string{"coarse label", "fine label"}[k]
				}
				return nil, nil, fmt.Errorf("record %d: %s %d out of range [0,%d)", i, name, r[k], lim)
			}
		}
		labels = append(labels, int(r[which]))
		pix = append(pix, r[labelBytes:]...)
	}
	return pix, labels, nil
}

// readCIFARFiles reads and parses the given files of dir, in order.
func readCIFARFiles(dir string, names []string, labelBytes, which, classes int, how string) (*Memory, error) {
	var paths []string
	size := 0
	for _, nm := range names {
		p := filepath.Join(dir, nm)
		if err := missing(p, how); err != nil {
			return nil, err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		size += int(fi.Size())
		paths = append(paths, p)
	}
	rec := labelBytes + cifarPixels
	pix := make([]uint8, 0, size/rec*cifarPixels)
	labels := make([]int, 0, size/rec)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if pix, labels, err = parseCIFAR(b, labelBytes, which, pix, labels); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	return NewMemory(3, cifarSide, cifarSide, pix, labels, classes)
}

// readNames reads a file of one name per line (blank lines skipped), or
// returns nil when it does not exist or does not hold want names.
func readNames(path string, want int) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var names []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			names = append(names, l)
		}
	}
	if len(names) != want {
		return nil
	}
	return names
}

// OpenCIFAR10 reads the CIFAR-10 binary version from dir (or from
// dir/cifar-10-batches-bin): data_batch_1.bin to data_batch_5.bin as Train,
// test_batch.bin as Test.
func OpenCIFAR10(dir string) (*Split, error) {
	dir = descend(dir, "data_batch_1.bin", "cifar-10-batches-bin")
	train, err := readCIFARFiles(dir, []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}, 1, 0, 10, howCIFAR10)
	if err != nil {
		return nil, err
	}
	test, err := readCIFARFiles(dir, []string{"test_batch.bin"}, 1, 0, 10, howCIFAR10)
	if err != nil {
		return nil, err
	}
	classes := readNames(filepath.Join(dir, "batches.meta.txt"), 10)
	if classes == nil {
		classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
	}
	return &Split{Train: train, Test: test, Classes: classes}, nil
}

// OpenCIFAR100 reads the CIFAR-100 binary version from dir (or from
// dir/cifar-100-binary): train.bin as Train, test.bin as Test, with the 100
// fine labels, or the 20 coarse ones when coarse is set.
func OpenCIFAR100(dir string, coarse bool) (*Split, error) {
	dir = descend(dir, "train.bin", "cifar-100-binary")
	which, classes, namesFile := 1, 100, "fine_label_names.txt"
	if coarse {
		which, classes, namesFile = 0, 20, "coarse_label_names.txt"
	}
	train, err := readCIFARFiles(dir, []string{"train.bin"}, 2, which, classes, howCIFAR100)
	if err != nil {
		return nil, err
	}
	test, err := readCIFARFiles(dir, []string{"test.bin"}, 2, which, classes, howCIFAR100)
	if err != nil {
		return nil, err
	}
	return &Split{Train: train, Test: test, Classes: readNames(filepath.Join(dir, namesFile), classes)}, nil
}
