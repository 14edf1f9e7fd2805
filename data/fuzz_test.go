package data

import (
	"bytes"
	"image"
	"testing"
)

// The fuzz targets feed arbitrary bytes to each parser: none may panic or
// allocate without bound, and what they accept must be consistent.

func FuzzIDX(f *testing.F) {
	f.Add(idxBytes([]int{2, 2, 3}, make([]byte, 12)))
	f.Add(gz(idxBytes([]int{3}, []byte{1, 2, 3})))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := ReadIDX(bytes.NewReader(b))
		if err != nil {
			return
		}
		n := 1
		for _, d := range x.Dims {
			n *= d
		}
		if len(x.Data) != n {
			t.Fatalf("dims %v but %d values", x.Dims, len(x.Data))
		}
		if len(x.Dims) == 3 && n > 0 {
			lbl := &IDX{Dims: []int{x.Dims[0]}, Data: make([]byte, x.Dims[0])}
			if _, _, err := idxImagesLabels(x, lbl, "i", "l", 10); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func checkCIFAR(t *testing.T, pix []uint8, labels []int, err error, size, rec, classes int) {
	if err != nil {
		if size > 0 && size%rec == 0 && classes == 0 {
			t.Fatalf("valid size rejected: %v", err)
		}
		return
	}
	if len(labels)*rec != size || len(pix) != len(labels)*cifarPixels {
		t.Fatalf("%d bytes gave %d labels and %d pixels", size, len(labels), len(pix))
	}
	for _, l := range labels {
		if l < 0 || l >= classes {
			t.Fatalf("label %d out of range", l)
		}
	}
}

func FuzzCIFAR10(f *testing.F) {
	rec, _ := cifarRecords(1, func(i int) []byte { return []byte{3} })
	f.Add(rec)
	f.Add(append(rec, rec...))
	f.Fuzz(func(t *testing.T, b []byte) {
		pix, labels, err := ParseCIFAR10(b)
		checkCIFAR(t, pix, labels, err, len(b), 3073, 10)
		if err == nil {
			for i, l := range labels {
				if l != int(b[i*3073]) || pix[i*3072] != b[i*3073+1] {
					t.Fatal("record misread")
				}
			}
		}
	})
}

func FuzzCIFAR100(f *testing.F) {
	rec, _ := cifarRecords(1, func(i int) []byte { return []byte{3, 77} })
	f.Add(rec, false)
	f.Add(rec, true)
	f.Fuzz(func(t *testing.T, b []byte, coarse bool) {
		pix, labels, err := ParseCIFAR100(b, coarse)
		classes, which := 100, 1
		if coarse {
			classes, which = 20, 0
		}
		checkCIFAR(t, pix, labels, err, len(b), 3074, classes)
		if err == nil {
			for i, l := range labels {
				if l != int(b[i*3074+which]) || b[i*3074] >= 20 || b[i*3074+1] >= 100 {
					t.Fatal("record misread")
				}
			}
		}
	})
}

func FuzzSTL10Labels(f *testing.F) {
	f.Add([]byte{1, 2, 10})
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		labels, err := ParseSTL10Labels(b)
		if err != nil {
			return
		}
		if len(labels) != len(b) {
			t.Fatal("label count")
		}
		for i, l := range labels {
			if l != int(b[i])-1 || l < 0 || l > 9 {
				t.Fatalf("label %d from byte %d", l, b[i])
			}
		}
	})
}

func FuzzSTL10Images(f *testing.F) {
	one, _ := stlImages(1)
	f.Add(one)
	f.Add(one[:100])
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := NewSTL10Images(bytes.NewReader(b), int64(len(b)), "fuzz", nil)
		if err != nil {
			return
		}
		dst := make([]uint8, stlPixels)
		for i := range s.Len() {
			if err := s.Image(i, dst); err != nil {
				t.Fatal(err)
			}
			for _, p := range [][3]int{{0, 0, 95}, {1, 3, 7}, {2, 95, 0}} {
				c, r, k := p[0], p[1], p[2]
				if dst[c*stlPlane+r*stlSide+k] != b[i*stlPixels+c*stlPlane+k*stlSide+r] {
					t.Fatal("transposition")
				}
			}
		}
	})
}

func FuzzTinyImageNetVal(f *testing.F) {
	f.Add([]byte("val_0.JPEG\tn01443537\t0\t10\t62\t55\nval_1.JPEG\tn02\t1\t2\t3\t4\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := ParseTinyImageNetVal(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.File == "" || e.WNID == "" || bytes.ContainsAny([]byte(e.File), "/\\") || e.File == ".." {
				t.Fatalf("entry %+v", e)
			}
		}
	})
}

func FuzzCelebAAttrs(f *testing.F) {
	f.Add([]byte("2\nA B\n000001.jpg 1 -1\n000002.jpg -1 -1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseCelebAAttrs(bytes.NewReader(b))
		if err != nil {
			return
		}
		if len(a.Values) != len(a.Files)*len(a.Names) {
			t.Fatal("value count")
		}
		for _, v := range a.Values {
			if v != 1 && v != -1 {
				t.Fatalf("value %d", v)
			}
		}
	})
}

func FuzzCelebAPartition(f *testing.F) {
	f.Add([]byte("000001.jpg 0\n000002.jpg 2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseCelebAPartition(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, v := range p {
			if v < 0 || v > 2 {
				t.Fatalf("partition %d", v)
			}
		}
	})
}

func FuzzDecodeImage(f *testing.F) {
	img, _ := rgbImage(3, 2, func(x, y int) [3]uint8 { return [3]uint8{uint8(x), uint8(y), 9} })
	f.Add(pngBytes(f, img))
	f.Add(jpegBytes(f, img))
	f.Add(pngBytes(f, image.NewGray(image.Rect(0, 0, 5, 7))))
	f.Fuzz(func(t *testing.T, b []byte) {
		// As is (the size of the image must then be 3x2), and resized to 4x4.
		dst := make([]uint8, 3*3*2)
		decodeBytes(b, "fuzz", geometry{}, 2, 3, dst)
		dst = make([]uint8, 3*4*4)
		decodeBytes(b, "fuzz", geometry{size: 4}, 4, 4, dst)
		decodeBytes(b, "fuzz", geometry{size: 4, cropSide: 2}, 4, 4, dst)
	})
}
