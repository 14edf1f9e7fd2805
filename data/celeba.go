package data

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// CelebAAttrs is the content of CelebA's list_attr_celeba.txt.
type CelebAAttrs struct {
	Names  []string // attribute names (40 in CelebA)
	Files  []string // image file names, in order
	Values []int8   // len(Files)*len(Names) values, each -1 or 1
}

// ParseCelebAAttrs parses list_attr_celeba.txt: a line with the image
// count, a line with the attribute names, then one line per image: its file
// name and one value (-1 or 1) per attribute, separated by spaces.
func ParseCelebAAttrs(r io.Reader) (*CelebAAttrs, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	next := func() (string, bool) {
		for sc.Scan() {
			if t := strings.TrimSpace(sc.Text()); t != "" {
				return t, true
			}
		}
		return "", false
	}
	first, ok := next()
	if !ok {
		return nil, fmt.Errorf("empty attribute list: %v", sc.Err())
	}
	count, err := strconv.Atoi(first)
	if err != nil || count <= 0 {
		return nil, fmt.Errorf("line 1: want the image count, got %q", first)
	}
	names, ok := next()
	if !ok {
		return nil, fmt.Errorf("line 2: missing attribute names")
	}
	a := &CelebAAttrs{Names: strings.Fields(names)}
	k := len(a.Names)
	for i := range count {
		line, ok := next()
		if !ok {
			if err := sc.Err(); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("truncated: %d images declared, %d listed", count, i)
		}
		f := strings.Fields(line)
		if len(f) != k+1 {
			return nil, fmt.Errorf("image %d (%s): %d values for %d attributes", i+1, f[0], len(f)-1, k)
		}
		if f[0] != filepath.Base(f[0]) || strings.ContainsAny(f[0], `/\`) || f[0] == ".." {
			return nil, fmt.Errorf("image %d: file name %q is not a plain name", i+1, f[0])
		}
		a.Files = append(a.Files, f[0])
		for j, v := range f[1:] {
			switch v {
			case "1":
				a.Values = append(a.Values, 1)
			case "-1":
				a.Values = append(a.Values, -1)
			default:
				return nil, fmt.Errorf("image %d (%s): attribute %s is %q, want -1 or 1", i+1, f[0], a.Names[j], v)
			}
		}
	}
	if extra, ok := next(); ok {
		return nil, fmt.Errorf("more than the %d declared images (%.40q)", count, extra)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return a, nil
}

// ParseCelebAPartition parses list_eval_partition.txt: lines of an image
// file name and 0 (train), 1 (validation) or 2 (test).
func ParseCelebAPartition(r io.Reader) (map[string]int, error) {
	part := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 || (f[1] != "0" && f[1] != "1" && f[1] != "2") {
			return nil, fmt.Errorf("line %d: want file name and 0, 1 or 2, got %q", line, sc.Text())
		}
		if _, dup := part[f[0]]; dup {
			return nil, fmt.Errorf("line %d: %s listed twice", line, f[0])
		}
		part[f[0]] = int(f[1][0] - '0')
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(part) == 0 {
		return nil, fmt.Errorf("no entries")
	}
	return part, nil
}

// OpenCelebA reads CelebA's aligned images from dir: dir/img_align_celeba/
// with the images, dir/list_attr_celeba.txt (optional: without it the
// images are all files of the folder, sorted, without attributes) and
// dir/list_eval_partition.txt (optional: without it every image is in
// Train; with it partitions 0, 1, 2 are Train, Val, Test). Images are
// center-cropped (a square of opts.CropSide, or the largest) and resized to
// opts.Size (default 64), RGB, decoded at Open in parallel. The sets are
// unlabelled (Label -1) and implement Attributed.
func OpenCelebA(dir string, opts Options) (*Split, error) {
	dir = descend(dir, "img_align_celeba", "celeba", "CelebA")
	imgDir := filepath.Join(dir, "img_align_celeba")
	if !isDir(imgDir) {
		return nil, fmt.Errorf("%s: missing (%s)", imgDir, howCelebA)
	}
	if isDir(filepath.Join(imgDir, "img_align_celeba")) { // unzipped into a folder of its own name
		imgDir = filepath.Join(imgDir, "img_align_celeba")
	}
	var attrs *CelebAAttrs
	attrPath := filepath.Join(dir, "list_attr_celeba.txt")
	if exists(attrPath) {
		f, err := os.Open(attrPath)
		if err != nil {
			return nil, err
		}
		attrs, err = ParseCelebAAttrs(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", attrPath, err)
		}
	} else {
		files, err := listImages(imgDir)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: no images", imgDir)
		}
		attrs = &CelebAAttrs{}
		for _, f := range files {
			rel, _ := filepath.Rel(imgDir, f)
			attrs.Files = append(attrs.Files, rel)
		}
	}
	n, k := len(attrs.Files), len(attrs.Names)
	part := make([]int, n) // all train by default
	partPath := filepath.Join(dir, "list_eval_partition.txt")
	hasPart := exists(partPath)
	if hasPart {
		f, err := os.Open(partPath)
		if err != nil {
			return nil, err
		}
		pm, err := ParseCelebAPartition(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", partPath, err)
		}
		for i, name := range attrs.Files {
			p, ok := pm[name]
			if !ok {
				return nil, fmt.Errorf("%s: image %s is not listed", partPath, name)
			}
			part[i] = p
		}
	}
	// Decode in partition order so that each partition is one slice.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return part[a] - part[b] })
	files := make([]string, n)
	for j, i := range order {
		files[j] = filepath.Join(imgDir, attrs.Files[i])
	}
	g := geometry{size: opts.Size, cropSide: opts.CropSide}
	if g.size == 0 {
		g.size = 64
	}
	pix, c, h, w, err := decodeAll(files, g, opts.workers(), false)
	if err != nil {
		return nil, fmt.Errorf("celeba %s: %w", dir, err)
	}
	sz := c * h * w
	var sets [3]*Memory
	start := 0
	for p := range 3 {
		end := start
		for end < n && part[order[end]] == p {
			end++
		}
		if end == start {
			continue
		}
		m := &Memory{c: c, h: h, w: w, pix: pix[start*sz : end*sz : end*sz], attrNames: attrs.Names}
		if k > 0 {
			m.attrs = make([]int8, 0, (end-start)*k)
			for _, i := range order[start:end] {
				m.attrs = append(m.attrs, attrs.Values[i*k:(i+1)*k]...)
			}
		}
		sets[p] = m
		start = end
	}
	if sets[0] == nil {
		return nil, fmt.Errorf("celeba %s: no training images in %s", dir, partPath)
	}
	s := &Split{Train: sets[0]}
	if sets[1] != nil {
		s.Val = sets[1]
	}
	if sets[2] != nil {
		s.Test = sets[2]
	}
	return s, nil
}
