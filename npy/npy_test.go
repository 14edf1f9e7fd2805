package npy

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/internal/testutil"
)

func TestEncodeHeaderBytes(t *testing.T) {
	tests := []struct {
		descr string
		shape []int
		dict  string // the dict text numpy writes before the padding
		total int    // total preamble length
	}{
		{"<f4", []int{2, 3}, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 128},
		{"<i8", []int{5}, "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }", 128},
		{"<f4", nil, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 128},
		{"<f4", []int{0}, "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", 128},
		{"<f4", []int{60000, 784}, "{'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), }", 128},
		{"<f4", slices.Repeat([]int{1}, 30), "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
			strings.Repeat("1, ", 29) + "1), }", 192},
	}
	for _, tc := range tests {
		t.Run(shapeRepr(tc.shape), func(t *testing.T) {
			hlen := tc.total - 10
			want := []byte("\x93NUMPY\x01\x00")
			want = binary.LittleEndian.AppendUint16(want, uint16(hlen))
			want = append(want, tc.dict...)
			want = append(want, strings.Repeat(" ", hlen-1-len(tc.dict))...)
			want = append(want, '\n')
			got := encodeHeader(tc.descr, tc.shape)
			if !bytes.Equal(got, want) {
				t.Errorf("header\n got %q\nwant %q", got, want)
			}
		})
	}
	// The reserved growth space keeps the header length constant as the
	// first dimension grows, which Float32Writer relies on.
	if a, b := len(encodeHeader("<f4", []int{0, 3})), len(encodeHeader("<f4", []int{math.MaxInt, 3})); a != b {
		t.Errorf("header length changes with the row count: %d vs %d", a, b)
	}
	// A header too long for a uint16 length switches to version 2.0.
	big := encodeHeader("<f4", slices.Repeat([]int{1}, 30000))
	if big[6] != 2 || len(big)%64 != 0 || int(binary.LittleEndian.Uint32(big[8:]))+12 != len(big) {
		t.Errorf("version 2.0 header: version %d, length %d", big[6], len(big))
	}
}

func TestRoundTripFloat32(t *testing.T) {
	tests := []struct {
		name  string
		data  []float32
		shape []int
	}{
		{"0-d", []float32{3.5}, nil},
		{"1-D", []float32{1, 2, 3, 4, 5}, []int{5}},
		{"2-D", []float32{1, 2, 3, 4, 5, 6}, []int{2, 3}},
		{"odd 4-D", seqF32(3 * 1 * 5 * 7), []int{3, 1, 5, 7}},
		{"empty", []float32{}, []int{0, 4}},
		{"special", []float32{float32(math.NaN()), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), math.MaxFloat32}, []int{4}},
		{"many rows", seqF32(100000), []int{25000, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.npy")
			if err := WriteFloat32(path, tc.data, tc.shape...); err != nil {
				t.Fatal(err)
			}
			got, shape, err := ReadFloat32(path)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(shape, tc.shape) && !(len(shape) == 0 && len(tc.shape) == 0) {
				t.Errorf("shape = %v, want %v", shape, tc.shape)
			}
			if !testutil.SameBits(got, tc.data) {
				t.Errorf("data = %v, want %v", got, tc.data)
			}
		})
	}
}

func seqF32(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(i)*0.5 - 7
	}
	return s
}

func TestRoundTripInt64(t *testing.T) {
	tests := []struct {
		name  string
		data  []int64
		shape []int
	}{
		{"labels", []int64{7, 2, 1, 0, 4}, []int{5}},
		{"extremes", []int64{math.MinInt64, -1, 0, 1, math.MaxInt64, 1 << 40}, []int{3, 2}},
		{"scalar", []int64{42}, []int{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.npy")
			if err := WriteInt64(path, tc.data, tc.shape...); err != nil {
				t.Fatal(err)
			}
			got, shape, err := ReadInt64(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(shape) != len(tc.shape) || !slices.Equal(shape, tc.shape) && len(shape) > 0 {
				t.Errorf("shape = %v, want %v", shape, tc.shape)
			}
			if !slices.Equal(got, tc.data) {
				t.Errorf("data = %v, want %v", got, tc.data)
			}
		})
	}
}

// rawNpy builds a version 1.0 file from a header dict and raw data.
func rawNpy(dict string, data []byte) []byte {
	b := []byte("\x93NUMPY\x01\x00")
	b = binary.LittleEndian.AppendUint16(b, uint16(len(dict)+1))
	b = append(b, dict...)
	b = append(b, '\n')
	return append(b, data...)
}

func le[T any](vals ...T) []byte {
	b, _ := binary.Append(nil, binary.LittleEndian, vals)
	return b
}

func TestReadOtherTypes(t *testing.T) {
	be, _ := binary.Append(nil, binary.BigEndian, []float32{1.5, -2})
	v2 := []byte("\x93NUMPY\x02\x00")
	dict := "{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }\n"
	v2 = binary.LittleEndian.AppendUint32(v2, uint32(len(dict)))
	v2 = append(append(v2, dict...), le[int16](-3, 0, 300)...)
	tests := []struct {
		name      string
		content   []byte
		wantF32   []float32
		wantI64   []int64 // nil: ReadInt64 must fail
		wantShape []int
	}{
		{"f8", rawNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", le(0.25, -1e10)), []float32{0.25, -1e10}, nil, []int{2}},
		{"big-endian f4", rawNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", be), []float32{1.5, -2}, nil, []int{2}},
		{"f2", rawNpy("{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }", le[uint16](0x3c00)), []float32{1}, nil, []int{1}},
		{"i4", rawNpy("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 1), }", le[int32](-5, 1<<30)), []float32{-5, 1 << 30}, []int64{-5, 1 << 30}, []int{2, 1}},
		{"u1", rawNpy("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", []byte{0, 128, 255}), []float32{0, 128, 255}, []int64{0, 128, 255}, []int{3}},
		{"b1", rawNpy("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }", []byte{1, 0}), []float32{1, 0}, []int64{1, 0}, []int{2}},
		{"u8", rawNpy("{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }", le[uint64](1<<40)), []float32{1 << 40}, []int64{1 << 40}, []int{1}},
		{"version 2.0", v2, []float32{-3, 0, 300}, []int64{-3, 0, 300}, []int{3}},
		{"key order, double quotes, list shape, py2 long", rawNpy(`{"shape": [2L], "fortran_order": False, "descr": "<i8"}`, le[int64](9, 8)), []float32{9, 8}, []int64{9, 8}, []int{2}},
		// Fortran order: the 2x3 matrix [[1 2 3] [4 5 6]] stored column by column.
		{"fortran order", rawNpy("{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3), }", le[int64](1, 4, 2, 5, 3, 6)), []float32{1, 2, 3, 4, 5, 6}, []int64{1, 2, 3, 4, 5, 6}, []int{2, 3}},
		{"fortran order 3-D", rawNpy("{'descr': '<i8', 'fortran_order': True, 'shape': (2, 2, 2), }", le[int64](0, 4, 2, 6, 1, 5, 3, 7)), []float32{0, 1, 2, 3, 4, 5, 6, 7}, []int64{0, 1, 2, 3, 4, 5, 6, 7}, []int{2, 2, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.npy")
			if err := os.WriteFile(path, tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			f, shape, err := ReadFloat32(path)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(f, tc.wantF32) || !slices.Equal(shape, tc.wantShape) {
				t.Errorf("ReadFloat32 = %v %v, want %v %v", f, shape, tc.wantF32, tc.wantShape)
			}
			i, _, err := ReadInt64(path)
			if tc.wantI64 == nil {
				if err == nil || !strings.Contains(err.Error(), "cannot be read as int64") {
					t.Errorf("ReadInt64 err = %v, want a float error", err)
				}
			} else if err != nil || !slices.Equal(i, tc.wantI64) {
				t.Errorf("ReadInt64 = %v, %v; want %v", i, err, tc.wantI64)
			}
		})
	}
}

func TestRejectsBadFiles(t *testing.T) {
	okDict := "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
	badVersion := rawNpy(okDict, le[float32](1, 2))
	badVersion[6] = 4
	tests := []struct {
		name    string
		content []byte
		want    string
	}{
		{"empty", nil, "too short"},
		{"bad magic", []byte("\x93NUMPX\x01\x00\x00\x00"), "bad magic"},
		{"version 4", badVersion, "unsupported format version 4.0"},
		{"truncated length", []byte("\x93NUMPY\x01\x00\x05"), "truncated header length"},
		{"header beyond file", []byte("\x93NUMPY\x01\x00\xff\x00{'descr'"), "truncated header"},
		{"v2 header too large", append([]byte("\x93NUMPY\x02\x00"), 0xff, 0xff, 0xff, 0x7f), "exceeds"},
		{"not a dict", rawNpy("['descr']", nil), "expected '{'"},
		{"unterminated", rawNpy("{'descr': '<f4", nil), "unterminated string"},
		{"missing key", rawNpy("{'descr': '<f4', 'shape': (2,), }", le[float32](1, 2)), `missing key "fortran_order"`},
		{"extra key", rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", le[float32](1, 2)), `unexpected key "x"`},
		{"duplicate key", rawNpy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", le[float32](1, 2)), "duplicate key"},
		{"trailing after dict", rawNpy(okDict+" x", le[float32](1, 2)), "trailing data"},
		{"structured dtype", rawNpy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", nil), "structured dtypes"},
		{"complex dtype", rawNpy("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", make([]byte, 16)), `unsupported dtype "<c8"`},
		{"bad byte order", rawNpy("{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }", make([]byte, 8)), "1-byte type"},
		{"shape not ints", rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': ('a',), }", nil), "expected an integer"},
		{"shape not tuple", rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': 2, }", nil), "'shape' must be a tuple"},
		{"fortran_order not bool", rawNpy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", nil), "True or False"},
		{"negative dim", rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", nil), "negative dimension"},
		{"huge shape", rawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", nil), "too large"},
		{"data truncated", rawNpy(okDict, le[float32](1)), "truncated: shape [2] of <f4 needs 8 data bytes, file has 4"},
		{"trailing bytes", rawNpy(okDict, le[float32](1, 2, 3)), "trailing bytes"},
	}
	dir := t.TempDir()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, string(rune('a'+i))+".npy")
			if err := os.WriteFile(path, tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := ReadFloat32(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("err = %v, want it to contain %q and the path", err, tc.want)
			}
		})
	}
	t.Run("uint64 overflow", func(t *testing.T) {
		path := filepath.Join(dir, "u8.npy")
		os.WriteFile(path, rawNpy("{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }", le[uint64](math.MaxUint64)), 0o644)
		if _, _, err := ReadInt64(path); err == nil || !strings.Contains(err.Error(), "exceeds int64") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		if _, _, err := ReadInt64(filepath.Join(dir, "nope.npy")); err == nil || !strings.Contains(err.Error(), "nope.npy") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestWriteRejectsBadShape(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		shape []int
		want  string
	}{
		{"too few values", 5, []int{2, 3}, "5 values do not fill shape [2 3]"},
		{"scalar needs one", 2, nil, "2 values do not fill shape []"},
		{"negative", 0, []int{-1}, "negative dimension"},
		{"overflow", 0, []int{1 << 32, 1 << 32}, "too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "a.npy")
			err1 := WriteFloat32(path, make([]float32, tc.n), tc.shape...)
			err2 := WriteInt64(path, make([]int64, tc.n), tc.shape...)
			for _, err := range []error{err1, err2} {
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
					t.Errorf("err = %v, want %q", err, tc.want)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("files left behind: %v", entries)
			}
		})
	}
}

func TestFloat32Writer(t *testing.T) {
	tests := []struct {
		name     string
		rowShape []int
		writes   [][]float32
	}{
		{"rows of 3", []int{3}, [][]float32{seqF32(6), seqF32(3), nil, seqF32(6)}},
		{"no rows", []int{2, 2}, nil},
		{"1-D", nil, [][]float32{{1}, {2, 3}}},
		{"images", []int{1, 4, 4}, [][]float32{seqF32(16 * 50), seqF32(16 * 7)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "stream.npy")
			w, err := NewFloat32Writer(path, tc.rowShape...)
			if err != nil {
				t.Fatal(err)
			}
			var all []float32
			for _, rows := range tc.writes {
				if err := w.Write(rows); err != nil {
					t.Fatal(err)
				}
				all = append(all, rows...)
			}
			if _, err := os.Stat(path); err == nil {
				t.Error("file visible before Close")
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			rowSize := 1
			for _, d := range tc.rowShape {
				rowSize *= d
			}
			wantShape := append([]int{len(all) / rowSize}, tc.rowShape...)
			if w.Rows() != wantShape[0] {
				t.Errorf("Rows = %d, want %d", w.Rows(), wantShape[0])
			}
			// Byte-identical to writing the whole array at once.
			ref := filepath.Join(dir, "ref.npy")
			if err := WriteFloat32(ref, all, wantShape...); err != nil {
				t.Fatal(err)
			}
			a, _ := os.ReadFile(path)
			b, _ := os.ReadFile(ref)
			if !bytes.Equal(a, b) {
				t.Errorf("streamed file differs from WriteFloat32 output")
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 2 {
				t.Errorf("directory holds %d entries, want 2", len(entries))
			}
		})
	}
}

func TestFloat32WriterErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.npy")
	if _, err := NewFloat32Writer(path, 3, 0); err == nil {
		t.Error("zero row dimension accepted")
	}
	if err := WriteFloat32(path, []float32{1}, 1); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path)

	w, err := NewFloat32Writer(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(make([]float32, 4)); err == nil || !strings.Contains(err.Error(), "whole number of rows") {
		t.Errorf("partial row: err = %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(make([]float32, 3)); err == nil {
		t.Error("Write after Abort succeeded")
	}
	if err := w.Close(); err == nil {
		t.Error("Close after Abort succeeded")
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, old) {
		t.Error("aborted writer changed the existing file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temp files left behind: %v", entries)
	}
	if _, err := NewFloat32Writer(filepath.Join(dir, "missing", "x.npy"), 2); err == nil {
		t.Error("writer in a missing directory succeeded")
	}
}

// pythonWithNumpy returns a python3 interpreter that can import numpy, or "".
func pythonWithNumpy() string {
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, py := range candidates {
		if exec.Command(py, "-c", "import numpy").Run() == nil {
			return py
		}
	}
	return ""
}

// TestNumpyInterop checks against numpy itself, when it is installed:
// numpy loads our files with the right values, numpy.save writes the same
// bytes we do, and we read what numpy writes.
func TestNumpyInterop(t *testing.T) {
	py := pythonWithNumpy()
	if py == "" {
		t.Skip("python3 with numpy not available")
	}
	dir := t.TempDir()
	write := func(name string, f func(string) error) {
		if err := f(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	write("f2x3.npy", func(p string) error { return WriteFloat32(p, []float32{0, 1, 2, 3, 4, 5.5}, 2, 3) })
	write("i5.npy", func(p string) error { return WriteInt64(p, []int64{-1, 0, 1, math.MaxInt64, math.MinInt64}, 5) })
	write("scalar.npy", func(p string) error { return WriteFloat32(p, []float32{2.5}) })
	write("empty.npy", func(p string) error { return WriteFloat32(p, nil, 0, 3) })
	write("stream.npy", func(p string) error {
		w, err := NewFloat32Writer(p, 2)
		if err != nil {
			return err
		}
		w.Write([]float32{1, 2, 3, 4})
		return w.Close()
	})
	script := `
import sys, os, numpy as np
d = sys.argv[1]
cases = {
    "f2x3": np.array([[0, 1, 2], [3, 4, 5.5]], dtype=np.float32),
    "i5": np.array([-1, 0, 1, 2**63 - 1, -2**63], dtype=np.int64),
    "scalar": np.array(2.5, dtype=np.float32),
    "empty": np.zeros((0, 3), dtype=np.float32),
    "stream": np.array([[1, 2], [3, 4]], dtype=np.float32),
}
for name, want in cases.items():
    path = os.path.join(d, name + ".npy")
    got = np.load(path)
    assert got.dtype == want.dtype and got.shape == want.shape, (name, got.dtype, got.shape)
    assert np.array_equal(got, want), (name, got)
    np.save(os.path.join(d, name + ".numpy.npy"), want)
# Arrays only numpy writes, for the reader.
np.save(os.path.join(d, "fortran.npy"), np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)))
np.save(os.path.join(d, "u8.npy"), np.array([[0, 255]], dtype=np.uint8))
print("ok")
`
	out, err := exec.Command(py, "-c", script, dir).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("python: %v\n%s", err, out)
	}
	for _, name := range []string{"f2x3", "i5", "scalar", "empty", "stream"} {
		ours, _ := os.ReadFile(filepath.Join(dir, name+".npy"))
		theirs, _ := os.ReadFile(filepath.Join(dir, name+".numpy.npy"))
		if !bytes.Equal(ours, theirs) {
			t.Errorf("%s: our bytes differ from numpy.save:\n ours %q\nnumpy %q", name, ours, theirs)
		}
	}
	f, shape, err := ReadFloat32(filepath.Join(dir, "fortran.npy"))
	if err != nil || !slices.Equal(f, []float32{0, 1, 2, 3, 4, 5}) || !slices.Equal(shape, []int{2, 3}) {
		t.Errorf("fortran.npy = %v %v %v", f, shape, err)
	}
	i, shape, err := ReadInt64(filepath.Join(dir, "u8.npy"))
	if err != nil || !slices.Equal(i, []int64{0, 255}) || !slices.Equal(shape, []int{1, 2}) {
		t.Errorf("u8.npy = %v %v %v", i, shape, err)
	}
}

// FuzzReadHeader checks that arbitrary headers never panic.
func FuzzReadHeader(f *testing.F) {
	f.Add(encodeHeader("<f4", []int{2, 3}))
	f.Add(rawNpy("{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3), }", nil))
	f.Add(rawNpy(`{"shape": [2L], "fortran_order": False, "descr": "<i8"}`, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := readHeader(bytes.NewReader(b))
		if err != nil {
			return
		}
		if dt, err := parseDescr(h.Descr); err == nil && dt.size <= 0 {
			t.Fatalf("bad dtype size for %q", h.Descr)
		}
		if h.FortranOrder && len(h.Shape) > 1 && len(h.Shape) < 5 {
			n := 1
			for _, d := range h.Shape {
				if d > 16 {
					return
				}
				n *= d
			}
			if perm := fortranIndex(h.Shape); len(perm) != n {
				t.Fatalf("perm has %d entries, want %d", len(perm), n)
			}
		}
	})
}
