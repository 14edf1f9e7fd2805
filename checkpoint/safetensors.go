// Package checkpoint saves and loads model parameters in the safetensors
// format and provides crash-safe (atomic) file writes.
//
// # File format
//
// A safetensors file is an 8-byte little-endian uint64 N, then N bytes of
// UTF-8 JSON header, then the raw little-endian tensor data. The header maps
// each tensor name to {"dtype", "shape", "data_offsets": [begin, end]},
// with offsets relative to the first byte after the header, plus an
// optional "__metadata__" object of string to string. This package writes
// the header padded with spaces to a multiple of 8 bytes and lays the
// tensors out contiguously in sorted name order, so its files are
// byte-for-byte reproducible and readable by the reference implementation
// (Python safetensors, Hugging Face Candle, ...).
//
// # Data types
//
// Save writes float32 tensors only (dtype "F32"). Load and Read accept F32,
// F16, BF16, F64, I64, I32, I16, I8, U64, U32, U16, U8 and BOOL tensors and
// convert them all to float32 (integers above 2^24 in magnitude lose
// precision). Integer bookkeeping such as step counters should go into the
// string metadata (exact) or, when a tensor is more convenient, into an F32
// tensor, which is exact up to 2^24 = 16,777,216.
package checkpoint

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// MaxHeaderSize is the largest JSON header Read accepts (100 MB, the limit
// of the reference implementation). It guards against allocating huge
// buffers for a corrupt length prefix.
const MaxHeaderSize = 100_000_000

// metadataKey is the reserved header entry holding string metadata.
const metadataKey = "__metadata__"

// dtypeInfo describes a supported on-disk element type.
type dtypeInfo struct {
	size   int
	decode func(b []byte) float32
}

var dtypes = map[string]dtypeInfo{
	"F64":  {8, func(b []byte) float32 { return float32(math.Float64frombits(binary.LittleEndian.Uint64(b))) }},
	"F32":  {4, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }},
	"F16":  {2, func(b []byte) float32 { return Float16ToFloat32(binary.LittleEndian.Uint16(b)) }},
	"BF16": {2, func(b []byte) float32 { return math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16) }},
	"I64":  {8, func(b []byte) float32 { return float32(int64(binary.LittleEndian.Uint64(b))) }},
	"I32":  {4, func(b []byte) float32 { return float32(int32(binary.LittleEndian.Uint32(b))) }},
	"I16":  {2, func(b []byte) float32 { return float32(int16(binary.LittleEndian.Uint16(b))) }},
	"I8":   {1, func(b []byte) float32 { return float32(int8(b[0])) }},
	"U64":  {8, func(b []byte) float32 { return float32(binary.LittleEndian.Uint64(b)) }},
	"U32":  {4, func(b []byte) float32 { return float32(binary.LittleEndian.Uint32(b)) }},
	"U16":  {2, func(b []byte) float32 { return float32(binary.LittleEndian.Uint16(b)) }},
	"U8":   {1, func(b []byte) float32 { return float32(b[0]) }},
	"BOOL": {1, func(b []byte) float32 {
		if b[0] != 0 {
			return 1
		}
		return 0
	}},
}

// Float16ToFloat32 converts an IEEE 754 half-precision value (as its bit
// pattern) to float32, exactly, including subnormals, infinities and NaN.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign) // signed zero
		}
		// Subnormal: value = mant * 2^-24.
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
}

// TensorInfo describes one tensor entry of a safetensors header.
type TensorInfo struct {
	// DType is the on-disk element type, e.g. "F32".
	DType string
	// Shape is the extent of each axis; empty for a scalar.
	Shape []int
	// Begin and End are the byte offsets of the tensor data relative to
	// the start of the data section (Header.DataStart).
	Begin, End int64
}

// Header is the parsed and validated header of a safetensors file.
type Header struct {
	// Tensors maps tensor names to their descriptions.
	Tensors map[string]TensorInfo
	// Metadata holds the optional "__metadata__" entry (nil when absent).
	Metadata map[string]string
	// DataStart is the absolute file offset of the data section (8 + N).
	DataStart int64
}

// Names returns the tensor names in sorted order.
func (h *Header) Names() []string {
	names := make([]string, 0, len(h.Tensors))
	for n := range h.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Save atomically writes tensors and optional string metadata to path in
// the safetensors format (see WriteFileAtomic). Tensors are written as F32
// in sorted name order. An existing file at path is replaced only if the
// whole write succeeds.
func Save(path string, tensors map[string]*tensor.Tensor, metadata map[string]string) error {
	header, names, err := buildHeader(tensors, metadata)
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return WriteFileAtomic(path, func(w io.Writer) error {
		return writeBody(w, header, names, tensors)
	})
}

// Write writes tensors and optional string metadata to w in the
// safetensors format, exactly as Save does. All arguments are validated
// before the first byte is written; a nil w is an error.
func Write(w io.Writer, tensors map[string]*tensor.Tensor, metadata map[string]string) error {
	if w == nil {
		return errors.New("safetensors: write to a nil io.Writer")
	}
	header, names, err := buildHeader(tensors, metadata)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	if err := writeBody(bw, header, names, tensors); err != nil {
		return err
	}
	return bw.Flush()
}

// buildHeader validates its arguments and returns the padded header bytes
// (including the 8-byte length prefix) and the sorted tensor names.
func buildHeader(tensors map[string]*tensor.Tensor, metadata map[string]string) ([]byte, []string, error) {
	names := make([]string, 0, len(tensors))
	for name, t := range tensors {
		switch {
		case name == "":
			return nil, nil, errors.New("safetensors: empty tensor name")
		case name == metadataKey:
			return nil, nil, fmt.Errorf("safetensors: tensor name %q is reserved", name)
		case !utf8.ValidString(name):
			return nil, nil, fmt.Errorf("safetensors: tensor name %q is not valid UTF-8", name)
		case t == nil:
			return nil, nil, fmt.Errorf("safetensors: tensor %q is nil", name)
		}
		for _, d := range t.Shape {
			if d < 0 {
				return nil, nil, fmt.Errorf("safetensors: tensor %q has negative dimension in shape %v", name, t.Shape)
			}
		}
		if n := tensor.SizeOf(t.Shape); n != len(t.Data) {
			return nil, nil, fmt.Errorf("safetensors: tensor %q has %d values but shape %v needs %d", name, len(t.Data), t.Shape, n)
		}
		names = append(names, name)
	}
	sort.Strings(names)

	var buf bytes.Buffer
	buf.Write(make([]byte, 8)) // length prefix, patched below
	buf.WriteByte('{')
	first := true
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k, v := range metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, nil, fmt.Errorf("safetensors: metadata entry %q is not valid UTF-8", k)
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf.WriteString(`"` + metadataKey + `":{`)
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(&buf, k)
			buf.WriteByte(':')
			writeJSONString(&buf, metadata[k])
		}
		buf.WriteByte('}')
		first = false
	}
	var offset int64
	for _, name := range names {
		t := tensors[name]
		if !first {
			buf.WriteByte(',')
		}
		first = false
		writeJSONString(&buf, name)
		buf.WriteString(`:{"dtype":"F32","shape":[`)
		for i, d := range t.Shape {
			if i > 0 {
				buf.WriteByte(',')
			}
			fmt.Fprintf(&buf, "%d", d)
		}
		end := offset + 4*int64(len(t.Data))
		fmt.Fprintf(&buf, `],"data_offsets":[%d,%d]}`, offset, end)
		offset = end
	}
	buf.WriteByte('}')
	for buf.Len()%8 != 0 {
		buf.WriteByte(' ')
	}
	b := buf.Bytes()
	binary.LittleEndian.PutUint64(b[:8], uint64(len(b)-8))
	return b, names, nil
}

// writeJSONString appends s as a JSON string literal without HTML escaping.
func writeJSONString(buf *bytes.Buffer, s string) {
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // cannot fail for a string
	buf.Write(bytes.TrimSuffix(tmp.Bytes(), []byte{'\n'}))
}

// writeBody writes the prepared header and the tensor data.
func writeBody(w io.Writer, header []byte, names []string, tensors map[string]*tensor.Tensor) error {
	if _, err := w.Write(header); err != nil {
		return err
	}
	buf := make([]byte, 0, 64<<10)
	for _, name := range names {
		for _, v := range tensors[name].Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
	}
	if len(buf) > 0 {
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// Load reads a safetensors file and returns its tensors (converted to
// float32) and metadata (nil when the file has none). The file is fully
// validated; errors name the file.
func Load(path string) (map[string]*tensor.Tensor, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("read %s: not a regular file", path)
	}
	ts, md, err := Read(f, fi.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return ts, md, nil
}

// LoadHeader reads and validates only the header of the safetensors file
// at path, e.g. to list tensor names and shapes without loading data.
func LoadHeader(path string) (*Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	h, err := ReadHeader(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return h, nil
}

// Read parses a safetensors file of size bytes from r and returns all of
// its tensors converted to float32, and its metadata (nil when absent).
// Each tensor is read with its own ReadAt call, so r may be a large
// memory-mapped or remote object.
func Read(r io.ReaderAt, size int64) (map[string]*tensor.Tensor, map[string]string, error) {
	h, err := ReadHeader(r, size)
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]*tensor.Tensor, len(h.Tensors))
	for _, name := range h.Names() {
		t, err := h.ReadTensor(r, name)
		if err != nil {
			return nil, nil, err
		}
		out[name] = t
	}
	return out, h.Metadata, nil
}

// ReadTensor reads the tensor called name, described by h, from r and
// converts it to float32. A nil h or r is an error.
func (h *Header) ReadTensor(r io.ReaderAt, name string) (*tensor.Tensor, error) {
	switch {
	case h == nil:
		return nil, fmt.Errorf("safetensors: tensor %q: nil Header", name)
	case r == nil:
		return nil, fmt.Errorf("safetensors: tensor %q: nil io.ReaderAt", name)
	}
	info, ok := h.Tensors[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: no tensor %q", name)
	}
	dt, ok := dtypes[info.DType]
	if !ok {
		return nil, fmt.Errorf("safetensors: tensor %q: unsupported dtype %q", name, info.DType)
	}
	raw := make([]byte, info.End-info.Begin)
	if _, err := r.ReadAt(raw, h.DataStart+info.Begin); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
	}
	n := len(raw) / dt.size
	data := make([]float32, n)
	if info.DType == "F32" {
		for i := range data {
			data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	} else {
		for i := range data {
			data[i] = dt.decode(raw[i*dt.size:])
		}
	}
	return &tensor.Tensor{Shape: slices.Clone(info.Shape), Data: data}, nil
}

// rawTensorInfo is the JSON form of a header entry; pointer fields detect
// missing keys.
type rawTensorInfo struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// ReadHeader reads and validates the header of a safetensors file of size
// bytes. It checks the length prefix, that the header is a JSON object
// without duplicate keys, that every dtype is known, that each tensor's
// byte range matches its shape, and that the ranges tile the data section
// exactly (no gaps, no overlaps, nothing outside the file). A nil r is an
// error.
func ReadHeader(r io.ReaderAt, size int64) (*Header, error) {
	if r == nil {
		return nil, errors.New("safetensors: read from a nil io.ReaderAt")
	}
	if size < 8 {
		return nil, fmt.Errorf("safetensors: file is %d bytes, too short for the 8-byte header length", size)
	}
	var pre [8]byte
	if _, err := r.ReadAt(pre[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: read header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(pre[:])
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	if n > uint64(size-8) {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d bytes after the length prefix (truncated file?)", n, size-8)
	}
	if n < 2 {
		return nil, fmt.Errorf("safetensors: header length %d is too small for a JSON object", n)
	}
	hb := make([]byte, n)
	if _, err := r.ReadAt(hb, 8); err != nil {
		return nil, fmt.Errorf("safetensors: read header: %w", err)
	}
	h := &Header{Tensors: map[string]TensorInfo{}, DataStart: 8 + int64(n)}
	if err := parseHeaderJSON(hb, h); err != nil {
		return nil, err
	}
	if err := checkLayout(h, size-h.DataStart); err != nil {
		return nil, err
	}
	return h, nil
}

// parseHeaderJSON decodes the JSON header into h, validating each entry.
func parseHeaderJSON(hb []byte, h *Header) error {
	if !utf8.Valid(hb) {
		return errors.New("safetensors: header is not valid UTF-8")
	}
	if hb[0] != '{' {
		return fmt.Errorf("safetensors: header does not start with '{' (got %q)", hb[0])
	}
	dec := json.NewDecoder(bytes.NewReader(hb))
	if _, err := dec.Token(); err != nil { // '{'
		return fmt.Errorf("safetensors: bad JSON header: %w", err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("safetensors: bad JSON header: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("safetensors: bad JSON header: unexpected %v", tok)
		}
		if seen[key] {
			return fmt.Errorf("safetensors: duplicate header entry %q", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("safetensors: bad JSON header at entry %q: %w", key, err)
		}
		if key == metadataKey {
			if err := json.Unmarshal(raw, &h.Metadata); err != nil {
				return fmt.Errorf("safetensors: __metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		info, err := parseTensorInfo(key, raw)
		if err != nil {
			return err
		}
		h.Tensors[key] = info
	}
	if _, err := dec.Token(); err != nil { // '}'
		return fmt.Errorf("safetensors: bad JSON header: %w", err)
	}
	if s := strings.TrimRight(string(hb[dec.InputOffset():]), " \t\r\n"); s != "" {
		return fmt.Errorf("safetensors: bad JSON header: trailing data %q", truncate(s, 20))
	}
	return nil
}

// parseTensorInfo decodes and validates one tensor entry.
func parseTensorInfo(name string, raw json.RawMessage) (TensorInfo, error) {
	var ri rawTensorInfo
	if err := json.Unmarshal(raw, &ri); err != nil {
		return TensorInfo{}, fmt.Errorf("safetensors: tensor %q: bad entry: %w", name, err)
	}
	switch {
	case ri.DType == nil:
		return TensorInfo{}, fmt.Errorf("safetensors: tensor %q: missing dtype", name)
	case ri.Shape == nil:
		return TensorInfo{}, fmt.Errorf("safetensors: tensor %q: missing shape", name)
	case ri.DataOffsets == nil:
		return TensorInfo{}, fmt.Errorf("safetensors: tensor %q: missing data_offsets", name)
	case len(*ri.DataOffsets) != 2:
		return TensorInfo{}, fmt.Errorf("safetensors: tensor %q: data_offsets must have 2 elements, got %d", name, len(*ri.DataOffsets))
	}
	dt, ok := dtypes[*ri.DType]
	if !ok {
		return TensorInfo{}, fmt.Errorf("safetensors: tensor %q: unknown or unsupported dtype %q", name, *ri.DType)
	}
	info := TensorInfo{DType: *ri.DType, Shape: make([]int, len(*ri.Shape)), Begin: (*ri.DataOffsets)[0], End: (*ri.DataOffsets)[1]}
	if info.Begin < 0 || info.End < info.Begin {
		return TensorInfo{}, fmt.Errorf("safetensors: tensor %q: invalid data_offsets [%d, %d]", name, info.Begin, info.End)
	}
	// Compute the byte size with overflow checks; the product must equal
	// the byte range, which is bounded by the file size.
	nbytes := uint64(dt.size)
	overflow := false
	for i, d := range *ri.Shape {
		if d < 0 {
			return TensorInfo{}, fmt.Errorf("safetensors: tensor %q: negative dimension in shape %v", name, *ri.Shape)
		}
		if int64(int(d)) != d {
			overflow = true
		}
		if d != 0 && nbytes > math.MaxInt64/uint64(d) {
			overflow = true
		}
		nbytes *= uint64(d)
		info.Shape[i] = int(d)
	}
	if overflow || nbytes != uint64(info.End-info.Begin) {
		return TensorInfo{}, fmt.Errorf("safetensors: tensor %q: shape %v of %s needs %d bytes but data_offsets [%d, %d] span %d",
			name, *ri.Shape, info.DType, nbytes, info.Begin, info.End, info.End-info.Begin)
	}
	return info, nil
}

// checkLayout verifies that the tensors tile [0, dataLen) exactly.
func checkLayout(h *Header, dataLen int64) error {
	names := h.Names()
	sort.SliceStable(names, func(i, j int) bool {
		a, b := h.Tensors[names[i]], h.Tensors[names[j]]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		return a.End < b.End
	})
	var pos int64
	prev := ""
	for _, name := range names {
		info := h.Tensors[name]
		if info.End > dataLen {
			return fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] exceed the %d-byte data section (truncated file?)", name, info.Begin, info.End, dataLen)
		}
		if info.Begin != pos {
			what := "overlaps"
			if info.Begin > pos {
				what = "leaves a gap after"
			}
			if prev == "" {
				return fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] do not start the data section at 0", name, info.Begin, info.End)
			}
			return fmt.Errorf("safetensors: tensor %q: data_offsets [%d, %d] %s tensor %q (ends at %d)", name, info.Begin, info.End, what, prev, pos)
		}
		pos, prev = info.End, name
	}
	if pos != dataLen {
		return fmt.Errorf("safetensors: tensors cover %d bytes but the data section has %d (trailing data)", pos, dataLen)
	}
	return nil
}

// truncate shortens s to at most n bytes for error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
