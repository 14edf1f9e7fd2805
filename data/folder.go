package data

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// OpenFolder reads a folder of images (any format in the package
// documentation; decided by content, not by name). Layouts:
//
//   - DIR/train/ and DIR/test/ both present: each is read as below and
//     becomes Train and Test (test class names must appear in train).
//   - DIR/<class>/... : one sub-folder per class (classes are the sorted
//     sub-folder names; images anywhere below a class folder).
//   - DIR/*.png ... : a flat folder, unlabelled.
//
// Without train/ and test/, Test is nil unless opts.HoldOut > 0, which holds
// out that fraction of the images, chosen by opts.Seed; with them a
// hold-out is an error. Files and folders
// whose names start with "." are ignored; any other file must be an image.
// With opts.Size 0 all images must share one size; else each is
// center-cropped to a square and resized to Size x Size. Images are 1
// channel when all are grayscale, else 3 (RGB; transparency over black).
// Images are decoded at Open, in parallel, into memory.
func OpenFolder(dir string, opts Options) (*Split, error) {
	trainDir, testDir := filepath.Join(dir, "train"), filepath.Join(dir, "test")
	if isDir(trainDir) && isDir(testDir) {
		if opts.HoldOut > 0 {
			return nil, fmt.Errorf("folder %s: it has train/ and test/, its own test split: a hold-out fraction is for folders without them", dir)
		}
		train, classes, err := readFolder(trainDir, nil, opts)
		if err != nil {
			return nil, err
		}
		test, _, err := readFolder(testDir, classes, opts)
		if err != nil {
			return nil, err
		}
		c1, h1, w1 := train.Shape()
		c2, h2, w2 := test.Shape()
		if h1 != h2 || w1 != w2 {
			return nil, fmt.Errorf("folder %s: train images are %dx%d, test images %dx%d; pass a size (--size) to resize them all", dir, w1, h1, w2, h2)
		}
		if c1 != c2 { // one part is all grayscale, the other not
			train, test = toRGB(train), toRGB(test)
		}
		return &Split{Train: train, Test: test, Classes: classes}, nil
	}
	ds, classes, err := readFolder(dir, nil, opts)
	if err != nil {
		return nil, err
	}
	s := &Split{Train: ds, Classes: classes}
	if opts.HoldOut > 0 {
		if ds.Len() < 2 {
			return nil, fmt.Errorf("folder %s: %d image cannot be split for a hold-out", dir, ds.Len())
		}
		s.Train, s.Test = holdOut(ds, opts.HoldOut, opts.Seed)
	}
	return s, nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

func hidden(name string) bool { return strings.HasPrefix(name, ".") }

// listImages returns the files below dir (recursively, sorted, hidden names
// skipped), following symbolic links to files and folders as torchvision's
// ImageFolder does; a folder reached twice (a link cycle) is read once.
func listImages(dir string) ([]string, error) {
	var files []string
	seen := map[string]bool{}
	var walk func(d string) error
	walk = func(d string) error {
		real, err := filepath.EvalSymlinks(d)
		if err != nil {
			return err
		}
		if seen[real] {
			return nil
		}
		seen[real] = true
		entries, err := os.ReadDir(d)
		if err != nil {
			return err
		}
		for _, e := range entries { // sorted by name
			if hidden(e.Name()) {
				continue
			}
			p := filepath.Join(d, e.Name())
			if isDir(p) { // os.Stat: follows links
				if err := walk(p); err != nil {
					return err
				}
				continue
			}
			files = append(files, p)
		}
		return nil
	}
	if err := walk(dir); err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	return files, nil
}

// readFolder reads one folder, with class sub-folders or flat. When
// classes is given (the train part's), the sub-folders must be among them.
func readFolder(dir string, classes []string, opts Options) (*Memory, []string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("read folder %s: %w", dir, err)
	}
	var subdirs, files []string
	for _, e := range entries {
		if hidden(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if isDir(p) {
			subdirs = append(subdirs, e.Name())
		} else {
			files = append(files, p)
		}
	}
	if len(subdirs) > 0 && len(files) > 0 {
		return nil, nil, fmt.Errorf("folder %s mixes class sub-folders (%s) and files (%s): put every image in a class folder", dir, subdirs[0], files[0])
	}
	if len(subdirs) == 0 && len(files) == 0 {
		return nil, nil, fmt.Errorf("folder %s is empty: no images", dir)
	}
	var labels []int
	if len(subdirs) > 0 {
		if classes == nil {
			classes = subdirs
		}
		for _, sd := range subdirs {
			k := slices.Index(classes, sd)
			if k < 0 {
				return nil, nil, fmt.Errorf("folder %s: class %q is not among the train classes %v", dir, sd, classes)
			}
			imgs, err := listImages(filepath.Join(dir, sd))
			if err != nil {
				return nil, nil, err
			}
			if len(imgs) == 0 {
				return nil, nil, fmt.Errorf("folder %s: class folder %s has no images", dir, sd)
			}
			files = append(files, imgs...)
			for range imgs {
				labels = append(labels, k)
			}
		}
	} else {
		classes = nil
	}
	m, err := decodeSet(files, labels, len(classes), geometry{size: opts.Size}, opts.workers(), true)
	if err != nil {
		var es *errSize
		if errors.As(err, &es) {
			return nil, nil, fmt.Errorf("folder %s: images differ in size (%s is %dx%d, %s is %dx%d); pass a size (--size) to center-crop and resize them all",
				dir, files[0], es.wantW, es.wantH, es.path, es.w, es.h)
		}
		return nil, nil, fmt.Errorf("folder %s: %w", dir, err)
	}
	return m, classes, nil
}

// decodeSet decodes the image files into a Memory data set with the given
// labels (nil for unlabelled).
func decodeSet(files []string, labels []int, numClasses int, g geometry, workers int, gray bool) (*Memory, error) {
	pix, c, h, w, err := decodeAll(files, g, workers, gray)
	if err != nil {
		return nil, err
	}
	return NewMemory(c, h, w, pix, labels, numClasses)
}

// toRGB returns m with 3 channels (copying a 1-channel set).
func toRGB(m *Memory) *Memory {
	if m.c == 3 {
		return m
	}
	hw := m.h * m.w
	n := m.Len()
	pix := make([]uint8, 3*n*hw)
	for i := range n {
		src := m.pix[i*hw : (i+1)*hw]
		for ch := range 3 {
			copy(pix[(3*i+ch)*hw:], src)
		}
	}
	out := *m
	out.c, out.pix = 3, pix
	return &out
}
