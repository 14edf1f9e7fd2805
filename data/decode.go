package data

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // registers the GIF decoder for image.Decode
	_ "image/jpeg"
	_ "image/png"
	"os"
	"sync"
	"sync/atomic"

	_ "golang.org/x/image/bmp"
	"golang.org/x/image/draw"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// formats names the image formats the decoders registered above read.
const formats = "PNG, JPEG, GIF, BMP, TIFF or WebP"

// maxImagePixels bounds the size of one decoded image (a header may lie).
const maxImagePixels = 1 << 26

// geometry says how a decoded image becomes an h x w CHW uint8 image.
type geometry struct {
	size     int // > 0: center-crop a square and resize it to size x size
	cropSide int // > 0 (with size): side of the central square cut before resizing
}

// errSize reports an image whose size differs from the others' (without
// resizing).
type errSize struct {
	path         string
	w, h         int
	wantW, wantH int
}

func (e *errSize) Error() string {
	return fmt.Sprintf("%s: image is %dx%d, others are %dx%d", e.path, e.w, e.h, e.wantW, e.wantH)
}

// decodeImage decodes one image file into dst (3 planes of h x w) and
// reports whether the image is grayscale.
func decodeImage(path string, g geometry, h, w int, dst []uint8) (gray bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	return decodeBytes(b, path, g, h, w, dst)
}

// decodeBytes is decodeImage on the file's content b.
func decodeBytes(b []byte, path string, g geometry, h, w int, dst []uint8) (gray bool, err error) {
	defer func() { // a decoder must not bring the program down on a bad file
		if r := recover(); r != nil {
			gray, err = false, fmt.Errorf("decode %s: decoder failed: %v", path, r)
		}
	}()
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return false, fmt.Errorf("%s: not a %s image", path, formats)
		}
		return false, fmt.Errorf("decode %s: %w", path, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxImagePixels {
		return false, fmt.Errorf("decode %s: unsupported image size %dx%d", path, cfg.Width, cfg.Height)
	}
	if g.size == 0 && (cfg.Width != w || cfg.Height != h) {
		return false, &errSize{path, cfg.Width, cfg.Height, w, h}
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return false, fmt.Errorf("decode %s: %w", path, err)
	}
	gray = isGray(img)
	r := img.Bounds()
	if g.size > 0 {
		side := min(r.Dx(), r.Dy())
		if g.cropSide > 0 {
			side = min(side, g.cropSide)
		}
		x0 := r.Min.X + (r.Dx()-side)/2
		y0 := r.Min.Y + (r.Dy()-side)/2
		r = image.Rect(x0, y0, x0+side, y0+side)
		if side != g.size {
			tmp := image.NewRGBA(image.Rect(0, 0, g.size, g.size))
			draw.BiLinear.Scale(tmp, tmp.Bounds(), img, r, draw.Src, nil)
			img, r = tmp, tmp.Bounds()
		}
	}
	if r.Dx() != w || r.Dy() != h {
		return false, &errSize{path, r.Dx(), r.Dy(), w, h}
	}
	toCHW(img, r, dst)
	return gray, nil
}

func isGray(img image.Image) bool {
	switch img.(type) {
	case *image.Gray, *image.Gray16:
		return true
	}
	m := img.ColorModel()
	return m == color.GrayModel || m == color.Gray16Model
}

// toCHW writes the pixels of r (of img) as 3 planes R, G, B into dst.
// Transparent pixels are composited over black.
func toCHW(img image.Image, r image.Rectangle, dst []uint8) {
	w, h := r.Dx(), r.Dy()
	plane := w * h
	R, G, B := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	switch m := img.(type) {
	case *image.YCbCr:
		for y := range h {
			for x := range w {
				yi := m.YOffset(r.Min.X+x, r.Min.Y+y)
				ci := m.COffset(r.Min.X+x, r.Min.Y+y)
				o := y*w + x
				R[o], G[o], B[o] = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		}
	case *image.Gray:
		for y := range h {
			row := m.Pix[m.PixOffset(r.Min.X, r.Min.Y+y):]
			copy(R[y*w:(y+1)*w], row[:w])
		}
		copy(G, R)
		copy(B, R)
	case *image.RGBA:
		for y := range h {
			row := m.Pix[m.PixOffset(r.Min.X, r.Min.Y+y):]
			for x := range w {
				o := y*w + x
				R[o], G[o], B[o] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	default:
		for y := range h {
			for x := range w {
				cr, cg, cb, _ := img.At(r.Min.X+x, r.Min.Y+y).RGBA()
				o := y*w + x
				R[o], G[o], B[o] = uint8(cr>>8), uint8(cg>>8), uint8(cb>>8)
			}
		}
	}
}

// decodeAll decodes the image files in parallel into one buffer of CHW
// images. With g.size 0 all images must have the size of the first. With
// gray set and every image grayscale, the images get 1 channel, else 3.
// The error, if any, is the one of the first failing file in paths order.
func decodeAll(paths []string, g geometry, workers int, gray bool) (pix []uint8, c, h, w int, err error) {
	if len(paths) == 0 {
		return nil, 0, 0, 0, errors.New("no images")
	}
	if g.size > 0 {
		h, w = g.size, g.size
	} else {
		f, err := os.Open(paths[0])
		if err != nil {
			return nil, 0, 0, 0, err
		}
		cfg, _, err := image.DecodeConfig(f)
		f.Close()
		if err != nil {
			if errors.Is(err, image.ErrFormat) {
				return nil, 0, 0, 0, fmt.Errorf("%s: not a %s image", paths[0], formats)
			}
			return nil, 0, 0, 0, fmt.Errorf("decode %s: %w", paths[0], err)
		}
		h, w = cfg.Height, cfg.Width
		if w <= 0 || h <= 0 || int64(w)*int64(h) > maxImagePixels {
			return nil, 0, 0, 0, fmt.Errorf("decode %s: unsupported image size %dx%d", paths[0], w, h)
		}
	}
	n, sz := len(paths), 3*h*w
	pix = make([]uint8, n*sz)
	var next, colour atomic.Int64
	var failed atomic.Bool
	errs := make([]error, n)
	var wg sync.WaitGroup
	for range min(max(workers, 1), n) {
		wg.Go(func() {
			for !failed.Load() {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				g1, err := decodeImage(paths[i], g, h, w, pix[i*sz:(i+1)*sz])
				if err != nil {
					errs[i] = err
					failed.Store(true)
					return
				}
				if !g1 {
					colour.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if err := firstError(errs); err != nil {
		return nil, 0, 0, 0, err
	}
	if gray && colour.Load() == 0 {
		hw := h * w
		out := make([]uint8, n*hw)
		for i := range n {
			copy(out[i*hw:(i+1)*hw], pix[i*sz:i*sz+hw])
		}
		return out, 1, h, w, nil
	}
	return pix, 3, h, w, nil
}

func firstError(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
