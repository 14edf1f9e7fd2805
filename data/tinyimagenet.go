package data

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// TinyImageNetVal is one line of Tiny ImageNet's val_annotations.txt.
type TinyImageNetVal struct {
	File string // image file name in val/images/
	WNID string // WordNet id of its class
}

// ParseTinyImageNetVal parses val_annotations.txt: tab-separated lines of
// file name, WordNet id and bounding box (ignored). File names must be
// plain names (no directories).
func ParseTinyImageNetVal(r io.Reader) ([]TinyImageNetVal, error) {
	var out []TinyImageNetVal
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(t) == "" {
			continue
		}
		f := strings.Split(t, "\t")
		if len(f) < 2 || f[0] == "" || f[1] == "" {
			return nil, fmt.Errorf("line %d: want tab-separated file name and wnid, got %q", line, t)
		}
		if f[0] != filepath.Base(f[0]) || strings.ContainsAny(f[0], `/\`) || f[0] == "." || f[0] == ".." {
			return nil, fmt.Errorf("line %d: file name %q is not a plain name", line, f[0])
		}
		out = append(out, TinyImageNetVal{File: f[0], WNID: f[1]})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no entries")
	}
	return out, nil
}

// OpenTinyImageNet reads Tiny ImageNet 200 from dir (or
// dir/tiny-imagenet-200): the classes are the WordNet ids of wnids.txt,
// sorted (the order of a folder-per-class reader); Train is
// train/<wnid>/images/*, Test is val/images/* labelled by
// val_annotations.txt (the official test part has no labels). Images are
// RGB (grayscale ones are expanded), 64x64 or resized to opts.Size, and
// decoded at Open, in parallel.
func OpenTinyImageNet(dir string, opts Options) (*Split, error) {
	dir = descend(dir, "wnids.txt", "tiny-imagenet-200")
	wnidPath := filepath.Join(dir, "wnids.txt")
	if err := missing(wnidPath, howTiny); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(wnidPath)
	if err != nil {
		return nil, err
	}
	wnids := strings.Fields(string(b))
	if len(wnids) == 0 {
		return nil, fmt.Errorf("%s: no class ids", wnidPath)
	}
	slices.Sort(wnids)
	if d := slices.Compact(slices.Clone(wnids)); len(d) != len(wnids) {
		return nil, fmt.Errorf("%s: repeated class ids", wnidPath)
	}
	class := make(map[string]int, len(wnids))
	for i, id := range wnids {
		class[id] = i
	}
	var trainFiles []string
	var trainLabels []int
	for k, id := range wnids {
		imgDir := filepath.Join(dir, "train", id, "images")
		if !isDir(imgDir) {
			return nil, fmt.Errorf("%s: missing (class %s of %s)", imgDir, id, wnidPath)
		}
		files, err := listImages(imgDir)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: no images", imgDir)
		}
		trainFiles = append(trainFiles, files...)
		for range files {
			trainLabels = append(trainLabels, k)
		}
	}
	annPath := filepath.Join(dir, "val", "val_annotations.txt")
	if err := missing(annPath, howTiny); err != nil {
		return nil, err
	}
	f, err := os.Open(annPath)
	if err != nil {
		return nil, err
	}
	ann, err := ParseTinyImageNetVal(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", annPath, err)
	}
	valFiles := make([]string, len(ann))
	valLabels := make([]int, len(ann))
	for i, a := range ann {
		k, ok := class[a.WNID]
		if !ok {
			return nil, fmt.Errorf("%s: %s has class %q, not in %s", annPath, a.File, a.WNID, wnidPath)
		}
		valFiles[i] = filepath.Join(dir, "val", "images", a.File)
		valLabels[i] = k
	}
	g := geometry{size: opts.Size}
	if g.size == 0 {
		g.size = 64
	}
	train, err := decodeSet(trainFiles, trainLabels, len(wnids), g, opts.workers(), false)
	if err != nil {
		return nil, fmt.Errorf("tinyimagenet %s: %w", dir, err)
	}
	test, err := decodeSet(valFiles, valLabels, len(wnids), g, opts.workers(), false)
	if err != nil {
		return nil, fmt.Errorf("tinyimagenet %s: %w", dir, err)
	}
	return &Split{Train: train, Test: test, Classes: wnids}, nil
}
