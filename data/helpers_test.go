package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFile writes b to dir/name, creating folders.
func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// idxBytes encodes an IDX file of unsigned bytes.
func idxBytes(dims []int, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0x08, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(data)
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func pngBytes(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// rgbImage returns a w x h NRGBA image with pixel (x,y) = f(x,y) and its
// expected CHW bytes.
func rgbImage(w, h int, f func(x, y int) [3]uint8) (*image.NRGBA, []uint8) {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	chw := make([]uint8, 3*w*h)
	for y := range h {
		for x := range w {
			p := f(x, y)
			o := img.PixOffset(x, y)
			copy(img.Pix[o:], []uint8{p[0], p[1], p[2], 255})
			for c := range 3 {
				chw[c*w*h+y*w+x] = p[c]
			}
		}
	}
	return img, chw
}

// image0 reads image i of ds.
func image0(t testing.TB, ds Dataset, i int) []uint8 {
	t.Helper()
	c, h, w := ds.Shape()
	dst := make([]uint8, c*h*w)
	if err := ds.Image(i, dst); err != nil {
		t.Fatalf("Image(%d): %v", i, err)
	}
	return dst
}

// wantErr checks that err is non-nil and mentions every part.
func wantErr(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not mention %q", err, p)
		}
	}
}

func maxDiff(a, b []uint8) int {
	if len(a) != len(b) {
		return 1 << 30
	}
	m := 0
	for i := range a {
		d := int(a[i]) - int(b[i])
		m = max(m, d, -d)
	}
	return m
}
