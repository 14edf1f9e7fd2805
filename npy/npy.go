// Package npy reads and writes NumPy .npy array files.
//
// Files are written in format version 1.0 (2.0 when the header exceeds
// 65535 bytes) exactly as numpy.save writes them, byte for byte: the
// magic string "\x93NUMPY", two version bytes, a little-endian header
// length, then a Python dict literal such as
//
//	{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
//
// padded with spaces and terminated by '\n' so that the data starts at a
// multiple of 64 bytes, followed by the little-endian data in C order. Like
// numpy, the writer leaves room in the header for the first dimension to
// grow to 21 digits, which Float32Writer uses to patch the final row count
// in place.
//
// Readers accept versions 1.0, 2.0 and 3.0, either byte order, C or
// Fortran order (converted to C order), and the element types f2, f4, f8,
// i1, i2, i4, i8, u1, u2, u4, u8 and b1.
package npy

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/deepinfomax/deepinfomax/checkpoint"
)

const (
	magic = "\x93NUMPY"
	// align is the alignment of the data section (numpy's ARRAY_ALIGN).
	align = 64
	// growthDigits is the number of digits reserved for the growth axis
	// (numpy's GROWTH_AXIS_MAX_DIGITS).
	growthDigits = 21
	// maxHeaderLen bounds the header a reader accepts, guarding against
	// huge allocations for corrupt files.
	maxHeaderLen = 1 << 20
)

// Header describes an .npy file.
type Header struct {
	// Major and Minor are the format version.
	Major, Minor byte
	// Descr is the NumPy type string, e.g. "<f4".
	Descr string
	// FortranOrder reports whether the data is stored column-major.
	FortranOrder bool
	// Shape is the array shape; empty for a 0-d array.
	Shape []int
	// DataOffset is the file offset of the first data byte.
	DataOffset int64
}

// encodeHeader returns the complete preamble numpy writes for a C-order
// array of the given type string and shape.
func encodeHeader(descr string, shape []int) []byte {
	var sb strings.Builder
	sb.WriteString("{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shapeRepr(shape) + ", }")
	if len(shape) > 0 {
		if pad := growthDigits - len(strconv.Itoa(shape[0])); pad > 0 {
			sb.WriteString(strings.Repeat(" ", pad))
		}
	}
	dict := sb.String()
	hlen := len(dict) + 1 // '\n'
	major, lenLen := byte(1), 2
	pad := align - (len(magic)+2+lenLen+hlen)%align
	if hlen+pad > math.MaxUint16 {
		major, lenLen = 2, 4
		pad = align - (len(magic)+2+lenLen+hlen)%align
	}
	total := hlen + pad
	b := make([]byte, 0, len(magic)+2+lenLen+total)
	b = append(b, magic...)
	b = append(b, major, 0)
	if lenLen == 2 {
		b = binary.LittleEndian.AppendUint16(b, uint16(total))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(total))
	}
	b = append(b, dict...)
	b = append(b, strings.Repeat(" ", pad)...)
	return append(b, '\n')
}

// shapeRepr formats shape as a Python tuple: (), (5,), (2, 3).
func shapeRepr(shape []int) string {
	switch len(shape) {
	case 0:
		return "()"
	case 1:
		return "(" + strconv.Itoa(shape[0]) + ",)"
	}
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = strconv.Itoa(d)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// checkShape verifies that shape is valid and describes n elements. An
// empty shape is a 0-d array holding exactly one element.
func checkShape(n int, shape []int) error {
	size := 1
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && size > math.MaxInt/d {
			return fmt.Errorf("shape %v is too large", shape)
		}
		size *= d
	}
	if size != n {
		return fmt.Errorf("%d values do not fill shape %v (%d elements)", n, shape, size)
	}
	return nil
}

// WriteFloat32 atomically writes data as a float32 ('<f4') array of the
// given shape to path. The shape must describe exactly len(data) elements;
// an empty shape writes a 0-d array and requires len(data) == 1, so pass
// len(data) explicitly for a 1-D array.
func WriteFloat32(path string, data []float32, shape ...int) error {
	if err := checkShape(len(data), shape); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		if _, err := w.Write(encodeHeader("<f4", shape)); err != nil {
			return err
		}
		return writeFloat32s(w, data)
	})
}

// WriteInt64 atomically writes data as an int64 ('<i8') array of the given
// shape to path, with the same shape rules as WriteFloat32.
func WriteInt64(path string, data []int64, shape ...int) error {
	if err := checkShape(len(data), shape); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		if _, err := w.Write(encodeHeader("<i8", shape)); err != nil {
			return err
		}
		buf := make([]byte, 0, 64<<10)
		for _, v := range data {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(v))
			if len(buf) == cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
		_, err := w.Write(buf)
		return err
	})
}

// writeFloat32s writes data little-endian in chunks.
func writeFloat32s(w io.Writer, data []float32) error {
	buf := make([]byte, 0, 64<<10)
	for _, v := range data {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		if len(buf) == cap(buf) {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	_, err := w.Write(buf)
	return err
}

// Float32Writer streams a float32 array whose first dimension (the number
// of rows) is not known in advance, e.g. embeddings of a large data set.
// Rows go to a temporary file; Close patches the final shape into the
// header (room for it is reserved up front, as numpy does) and atomically
// renames the file into place. A Float32Writer is not safe for concurrent
// use.
type Float32Writer struct {
	path     string
	rowShape []int
	rowSize  int
	rows     int
	hdrLen   int
	af       *checkpoint.AtomicFile
	bw       *bufio.Writer
	err      error
	closed   bool
}

// NewFloat32Writer starts writing a float32 array to path whose shape is
// (rows, rowShape...), with rows counted as data is written. With no
// rowShape the result is a 1-D array of the values written. Nothing
// appears at path until Close succeeds.
func NewFloat32Writer(path string, rowShape ...int) (*Float32Writer, error) {
	size := 1
	for _, d := range rowShape {
		if d <= 0 {
			return nil, fmt.Errorf("write %s: row shape %v must have positive dimensions", path, rowShape)
		}
		size *= d
	}
	af, err := checkpoint.CreateAtomic(path)
	if err != nil {
		return nil, err
	}
	w := &Float32Writer{path: path, rowShape: slices.Clone(rowShape), rowSize: size, af: af, bw: bufio.NewWriterSize(af, 1<<20)}
	hdr := encodeHeader("<f4", w.shape())
	w.hdrLen = len(hdr)
	if _, err := w.bw.Write(hdr); err != nil {
		af.Abort()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return w, nil
}

// shape returns the array shape for the rows written so far.
func (w *Float32Writer) shape() []int { return append([]int{w.rows}, w.rowShape...) }

// Rows returns the number of rows written so far.
func (w *Float32Writer) Rows() int { return w.rows }

// Write appends one or more rows; len(rows) must be a multiple of the row
// size (the product of the row shape). After an error the writer is
// unusable and Close reports the error and discards the file.
func (w *Float32Writer) Write(rows []float32) error {
	switch {
	case w.closed:
		return fmt.Errorf("write %s: writer is closed", w.path)
	case w.err != nil:
		return w.err
	case len(rows)%w.rowSize != 0:
		return fmt.Errorf("write %s: %d values are not a whole number of rows of shape %v", w.path, len(rows), w.rowShape)
	}
	if err := writeFloat32s(w.bw, rows); err != nil {
		w.err = fmt.Errorf("write %s: %w", w.path, err)
		return w.err
	}
	w.rows += len(rows) / w.rowSize
	return nil
}

// Close writes the final header and atomically moves the file into place.
// If any Write failed, Close discards the file and returns that error.
func (w *Float32Writer) Close() error {
	if w.closed {
		return fmt.Errorf("write %s: writer already closed", w.path)
	}
	w.closed = true
	if w.err != nil {
		w.af.Abort()
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.af.Abort()
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	hdr := encodeHeader("<f4", w.shape())
	if len(hdr) != w.hdrLen {
		w.af.Abort()
		return fmt.Errorf("write %s: header grew from %d to %d bytes", w.path, w.hdrLen, len(hdr))
	}
	if _, err := w.af.WriteAt(hdr, 0); err != nil {
		w.af.Abort()
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	return w.af.Commit()
}

// Abort discards everything written and leaves path untouched. It is a
// no-op after Close.
func (w *Float32Writer) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	return w.af.Abort()
}

// dtype describes a supported element type.
type dtype struct {
	kind  byte // 'f', 'i', 'u' or 'b'
	size  int
	order binary.ByteOrder
}

// parseDescr parses a NumPy type string such as "<f4".
func parseDescr(descr string) (dtype, error) {
	if len(descr) < 3 {
		return dtype{}, fmt.Errorf("unsupported dtype %q", descr)
	}
	var dt dtype
	switch descr[0] {
	case '<':
		dt.order = binary.LittleEndian
	case '>':
		dt.order = binary.BigEndian
	case '=':
		dt.order = binary.NativeEndian
	case '|':
		dt.order = binary.LittleEndian // only valid for 1-byte types, checked below
	default:
		return dtype{}, fmt.Errorf("unsupported dtype %q: bad byte order", descr)
	}
	dt.kind = descr[1]
	size, err := strconv.Atoi(descr[2:])
	if err != nil {
		return dtype{}, fmt.Errorf("unsupported dtype %q", descr)
	}
	dt.size = size
	ok := false
	switch dt.kind {
	case 'f':
		ok = size == 2 || size == 4 || size == 8
	case 'i', 'u':
		ok = size == 1 || size == 2 || size == 4 || size == 8
	case 'b':
		ok = size == 1
	}
	if !ok {
		return dtype{}, fmt.Errorf("unsupported dtype %q", descr)
	}
	if descr[0] == '|' && size != 1 {
		return dtype{}, fmt.Errorf("unsupported dtype %q: byte order '|' needs a 1-byte type", descr)
	}
	return dt, nil
}

// ReadHeader reads and validates the header of the .npy file at path.
func ReadHeader(path string) (*Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	h, err := readHeader(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return h, nil
}

// readHeader parses the preamble from r, leaving r at the first data byte.
func readHeader(r io.Reader) (*Header, error) {
	var pre [10]byte
	if _, err := io.ReadFull(r, pre[:8]); err != nil {
		return nil, fmt.Errorf("not an .npy file: too short (%w)", noEOF(err))
	}
	if string(pre[:6]) != magic {
		return nil, fmt.Errorf("not an .npy file: bad magic %q", pre[:6])
	}
	h := &Header{Major: pre[6], Minor: pre[7]}
	var hlen int
	switch h.Major {
	case 1:
		if _, err := io.ReadFull(r, pre[8:10]); err != nil {
			return nil, fmt.Errorf("truncated header length: %w", noEOF(err))
		}
		hlen = int(binary.LittleEndian.Uint16(pre[8:10]))
		h.DataOffset = 10 + int64(hlen)
	case 2, 3:
		var l [4]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return nil, fmt.Errorf("truncated header length: %w", noEOF(err))
		}
		n := binary.LittleEndian.Uint32(l[:])
		if n > maxHeaderLen {
			return nil, fmt.Errorf("header length %d exceeds the %d-byte limit", n, maxHeaderLen)
		}
		hlen = int(n)
		h.DataOffset = 12 + int64(hlen)
	default:
		return nil, fmt.Errorf("unsupported format version %d.%d", h.Major, h.Minor)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, fmt.Errorf("truncated header (%d bytes declared): %w", hlen, noEOF(err))
	}
	if err := parseDict(string(hb), h); err != nil {
		return nil, fmt.Errorf("bad header %q: %w", truncate(strings.TrimSpace(string(hb)), 120), err)
	}
	return h, nil
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF for clearer messages.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// truncate shortens s to at most n bytes for error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// ReadFloat32 reads the .npy file at path and returns its data in C order,
// converted to float32, and its shape. Integer, boolean and float64
// arrays are converted (float64 and integers beyond 2^24 are rounded).
func ReadFloat32(path string) ([]float32, []int, error) {
	var out []float32
	shape, err := readFile(path, func(dt dtype, n int) (func([]byte, int), error) {
		out = make([]float32, n)
		return func(b []byte, i int) { out[i] = decodeFloat32(dt, b) }, nil
	}, func(perm []int) { out = permute(out, perm) })
	if err != nil {
		return nil, nil, err
	}
	return out, shape, nil
}

// ReadInt64 reads the .npy file at path and returns its data in C order,
// converted to int64, and its shape. Only integer and boolean arrays are
// accepted; uint64 values above math.MaxInt64 are an error.
func ReadInt64(path string) ([]int64, []int, error) {
	var out []int64
	var overflow bool
	shape, err := readFile(path, func(dt dtype, n int) (func([]byte, int), error) {
		if dt.kind == 'f' {
			return nil, errors.New("float array cannot be read as int64")
		}
		out = make([]int64, n)
		return func(b []byte, i int) {
			if dt.kind == 'u' && dt.size == 8 && dt.order.Uint64(b) > math.MaxInt64 {
				overflow = true
			}
			out[i] = decodeInt64(dt, b)
		}, nil
	}, func(perm []int) { out = permute(out, perm) })
	if err == nil && overflow {
		err = fmt.Errorf("read %s: uint64 value exceeds int64 range", path)
	}
	if err != nil {
		return nil, nil, err
	}
	return out, shape, nil
}

// readFile reads and validates an .npy file. prepare allocates the output
// for n elements and returns a function storing element i from its bytes;
// reorder is called with a C-to-Fortran index map for Fortran-order files.
func readFile(path string, prepare func(dtype, int) (func([]byte, int), error), reorder func([]int)) ([]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: not a regular file", path)
	}
	br := bufio.NewReaderSize(f, 1<<20)
	h, err := readHeader(br)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	dt, err := parseDescr(h.Descr)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	n, nbytes := 1, int64(dt.size)
	for _, d := range h.Shape {
		if d != 0 && nbytes > math.MaxInt64/int64(d) {
			return nil, fmt.Errorf("read %s: shape %v is too large", path, h.Shape)
		}
		n *= d
		nbytes *= int64(d)
	}
	if have := fi.Size() - h.DataOffset; have != nbytes {
		what := "truncated"
		if have > nbytes {
			what = "trailing bytes"
		}
		return nil, fmt.Errorf("read %s: %s: shape %v of %s needs %d data bytes, file has %d", path, what, h.Shape, h.Descr, nbytes, have)
	}
	store, err := prepare(dt, n)
	if err != nil {
		return nil, fmt.Errorf("read %s: %s: %w", path, h.Descr, err)
	}
	buf := make([]byte, 64<<10-(64<<10)%dt.size)
	for i := 0; i < n; {
		chunk := min(len(buf)/dt.size, n-i)
		b := buf[:chunk*dt.size]
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, noEOF(err))
		}
		for j := range chunk {
			store(b[j*dt.size:], i+j)
		}
		i += chunk
	}
	if h.FortranOrder && len(h.Shape) > 1 {
		reorder(fortranIndex(h.Shape))
	}
	return slices.Clone(h.Shape), nil
}

// decodeFloat32 converts one element to float32.
func decodeFloat32(dt dtype, b []byte) float32 {
	switch dt.kind {
	case 'f':
		switch dt.size {
		case 2:
			return checkpoint.Float16ToFloat32(dt.order.Uint16(b))
		case 4:
			return math.Float32frombits(dt.order.Uint32(b))
		default:
			return float32(math.Float64frombits(dt.order.Uint64(b)))
		}
	case 'u':
		if dt.size == 8 {
			return float32(dt.order.Uint64(b))
		}
	}
	return float32(decodeInt64(dt, b))
}

// decodeInt64 converts one integer or boolean element to int64.
func decodeInt64(dt dtype, b []byte) int64 {
	if dt.kind == 'b' {
		if b[0] != 0 {
			return 1
		}
		return 0
	}
	signed := dt.kind == 'i'
	switch dt.size {
	case 1:
		if signed {
			return int64(int8(b[0]))
		}
		return int64(b[0])
	case 2:
		if signed {
			return int64(int16(dt.order.Uint16(b)))
		}
		return int64(dt.order.Uint16(b))
	case 4:
		if signed {
			return int64(int32(dt.order.Uint32(b)))
		}
		return int64(dt.order.Uint32(b))
	default:
		return int64(dt.order.Uint64(b))
	}
}

// fortranIndex returns, for each C-order position, the position of the
// same element in Fortran (column-major) order.
func fortranIndex(shape []int) []int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	perm := make([]int, n)
	idx := make([]int, len(shape))
	// Fortran strides: stride[0] = 1, stride[k] = stride[k-1]*shape[k-1].
	stride := make([]int, len(shape))
	s := 1
	for k := range shape {
		stride[k] = s
		s *= shape[k]
	}
	for i := range n {
		off := 0
		for k, v := range idx {
			off += v * stride[k]
		}
		perm[i] = off
		// Advance the C-order multi-index (last axis fastest).
		for k := len(idx) - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < shape[k] {
				break
			}
			idx[k] = 0
		}
	}
	return perm
}

// permute returns the elements of src in the order given by perm.
func permute[T any](src []T, perm []int) []T {
	out := make([]T, len(src))
	for i, p := range perm {
		out[i] = src[p]
	}
	return out
}
