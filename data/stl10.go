package data

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// STL-10 image geometry: 3 channels of 96x96; in the binary files each
// channel is stored column-major (pixel (row r, column k) of channel c is at
// byte c*9216 + k*96 + r).
const (
	stlSide   = 96
	stlPlane  = stlSide * stlSide // 9216
	stlPixels = 3 * stlPlane      // 27648
)

// ParseSTL10Labels decodes an STL-10 label file (one byte per image, 1 to
// 10) into labels 0 to 9.
func ParseSTL10Labels(b []byte) ([]int, error) {
	if len(b) == 0 {
		return nil, errors.New("empty label file")
	}
	labels := make([]int, len(b))
	for i, v := range b {
		if v < 1 || v > 10 {
			return nil, fmt.Errorf("label %d of image %d out of range [1,10]", v, i)
		}
		labels[i] = int(v) - 1
	}
	return labels, nil
}

// STL10Images is a file-backed data set of STL-10 images: Image reads one
// image with ReadAt and transposes it to row-major, so the file is never
// held in memory. It is safe for concurrent use.
type STL10Images struct {
	ra     io.ReaderAt
	closer io.Closer
	name   string
	n      int
	labels []int32 // nil when unlabelled
}

// NewSTL10Images returns the images of an STL-10 *_X.bin file of size bytes
// read through ra; name is used in errors. labels (0..9, one per image) is
// nil for an unlabelled file.
func NewSTL10Images(ra io.ReaderAt, size int64, name string, labels []int) (*STL10Images, error) {
	if size <= 0 {
		return nil, fmt.Errorf("%s: empty image file", name)
	}
	if size%stlPixels != 0 {
		return nil, fmt.Errorf("%s: size %d is not a multiple of the %d-byte 3x96x96 image (truncated?)", name, size, stlPixels)
	}
	s := &STL10Images{ra: ra, name: name, n: int(size / stlPixels)}
	if labels != nil {
		if len(labels) != s.n {
			return nil, fmt.Errorf("%s has %d images but %d labels", name, s.n, len(labels))
		}
		s.labels = make([]int32, len(labels))
		for i, l := range labels {
			if l < 0 || l >= 10 {
				return nil, fmt.Errorf("%s: label %d of image %d out of range [0,10)", name, l, i)
			}
			s.labels[i] = int32(l)
		}
	}
	return s, nil
}

// Len implements Dataset.
func (s *STL10Images) Len() int { return s.n }

// Shape implements Dataset: 3x96x96.
func (s *STL10Images) Shape() (c, h, w int) { return 3, stlSide, stlSide }

// NumClasses implements Dataset: 10, or 0 for the unlabeled file.
func (s *STL10Images) NumClasses() int {
	if s.labels == nil {
		return 0
	}
	return 10
}

// Label implements Dataset.
func (s *STL10Images) Label(i int) int {
	if s.labels == nil {
		return -1
	}
	return int(s.labels[i])
}

// Image implements Dataset: it reads image i and transposes each channel
// from column-major to row-major, in place in dst.
func (s *STL10Images) Image(i int, dst []uint8) error {
	if i < 0 || i >= s.n {
		return fmt.Errorf("%s: image index %d out of range [0,%d)", s.name, i, s.n)
	}
	if len(dst) != stlPixels {
		return fmt.Errorf("%s: destination holds %d bytes, image has %d", s.name, len(dst), stlPixels)
	}
	if _, err := s.ra.ReadAt(dst, int64(i)*stlPixels); err != nil {
		return fmt.Errorf("read %s image %d: %w", s.name, i, err)
	}
	for c := range 3 {
		p := dst[c*stlPlane : (c+1)*stlPlane]
		for r := range stlSide {
			for k := r + 1; k < stlSide; k++ {
				p[r*stlSide+k], p[k*stlSide+r] = p[k*stlSide+r], p[r*stlSide+k]
			}
		}
	}
	return nil
}

// Close closes the file, if the set owns one.
func (s *STL10Images) Close() error {
	if s.closer == nil {
		return nil
	}
	err := s.closer.Close()
	s.closer = nil
	return err
}

// openSTLFile opens an STL-10 *_X.bin file and its optional *_y.bin file.
func openSTLFile(xPath, yPath string) (*STL10Images, error) {
	var labels []int
	if yPath != "" {
		if err := missing(yPath, howSTL10); err != nil {
			return nil, err
		}
		b, err := os.ReadFile(yPath)
		if err != nil {
			return nil, err
		}
		if labels, err = ParseSTL10Labels(b); err != nil {
			return nil, fmt.Errorf("%s: %w", yPath, err)
		}
	}
	if err := missing(xPath, howSTL10); err != nil {
		return nil, err
	}
	f, err := os.Open(xPath)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", xPath, err)
	}
	s, err := NewSTL10Images(f, fi.Size(), xPath, labels)
	if err != nil {
		f.Close()
		if yPath != "" && labels != nil && fi.Size()%stlPixels == 0 && fi.Size() > 0 {
			return nil, fmt.Errorf("%s has %d images but %s has %d labels", xPath, fi.Size()/stlPixels, yPath, len(labels))
		}
		return nil, err
	}
	s.closer = f
	return s, nil
}

// OpenSTL10 opens the STL-10 binary version in dir (or dir/stl10_binary):
// train_X.bin/train_y.bin as Train, test_X.bin/test_y.bin as Test and, when
// present, unlabeled_X.bin as Unlabeled. Images are read from the files on
// demand; close the Split when done.
func OpenSTL10(dir string) (*Split, error) {
	dir = descend(dir, "train_X.bin", "stl10_binary")
	train, err := openSTLFile(filepath.Join(dir, "train_X.bin"), filepath.Join(dir, "train_y.bin"))
	if err != nil {
		return nil, err
	}
	test, err := openSTLFile(filepath.Join(dir, "test_X.bin"), filepath.Join(dir, "test_y.bin"))
	if err != nil {
		train.Close()
		return nil, err
	}
	s := &Split{Train: train, Test: test}
	if u := filepath.Join(dir, "unlabeled_X.bin"); exists(u) {
		unl, err := openSTLFile(u, "")
		if err != nil {
			s.Close()
			return nil, err
		}
		s.Unlabeled = unl
	}
	s.Classes = readNames(filepath.Join(dir, "class_names.txt"), 10)
	if s.Classes == nil {
		s.Classes = []string{"airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"}
	}
	return s, nil
}
