package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

// randTensor returns a tensor of the given shape filled with random values.
func randTensor(r *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(r.NormFloat64())
	}
	return t
}

// sameBits reports whether two tensors have equal shapes and bitwise-equal data.
func sameBits(a, b *tensor.Tensor) bool {
	if !tensor.EqualShape(a.Shape, b.Shape) || len(a.Data) != len(b.Data) {
		return false
	}
	for i := range a.Data {
		if math.Float32bits(a.Data[i]) != math.Float32bits(b.Data[i]) {
			return false
		}
	}
	return true
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	special := tensor.New(6)
	copy(special.Data, []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, math.MaxFloat32})
	tests := []struct {
		name     string
		tensors  map[string]*tensor.Tensor
		metadata map[string]string
	}{
		{"empty", map[string]*tensor.Tensor{}, nil},
		{"empty with metadata", nil, map[string]string{"format": "pt"}},
		{"scalar", map[string]*tensor.Tensor{"step": {Shape: []int{}, Data: []float32{1234}}}, nil},
		{"odd shapes", map[string]*tensor.Tensor{
			"enc.conv1.weight": randTensor(r, 7, 3, 5, 5),
			"enc.conv1.bias":   randTensor(r, 7),
			"z":                randTensor(r, 1, 1, 13),
			"a/b":              randTensor(r, 3, 1, 2, 1),
		}, map[string]string{"epoch": "3", "note": "unicode ✓ <&> \"quoted\"\n"}},
		{"zero-size tensors", map[string]*tensor.Tensor{
			"a": randTensor(r, 0, 4), "b": randTensor(r, 2), "c": randTensor(r, 3, 0), "d": randTensor(r, 1),
		}, nil},
		{"special values", map[string]*tensor.Tensor{"s": special}, map[string]string{"": "empty key"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.safetensors")
			if err := Save(path, tc.tensors, tc.metadata); err != nil {
				t.Fatal(err)
			}
			got, md, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.tensors) {
				t.Fatalf("got %d tensors, want %d", len(got), len(tc.tensors))
			}
			for name, want := range tc.tensors {
				if g, ok := got[name]; !ok || !sameBits(g, want) {
					t.Errorf("tensor %q: got %v, want %v", name, g, want)
				}
			}
			if len(md) != len(tc.metadata) {
				t.Fatalf("metadata = %v, want %v", md, tc.metadata)
			}
			for k, v := range tc.metadata {
				if md[k] != v {
					t.Errorf("metadata[%q] = %q, want %q", k, md[k], v)
				}
			}
			// Write to a buffer must produce the same bytes as Save.
			var buf bytes.Buffer
			if err := Write(&buf, tc.tensors, tc.metadata); err != nil {
				t.Fatal(err)
			}
			onDisk, _ := os.ReadFile(path)
			if !bytes.Equal(buf.Bytes(), onDisk) {
				t.Error("Write and Save produced different bytes")
			}
			if n := binary.LittleEndian.Uint64(onDisk); n%8 != 0 {
				t.Errorf("header length %d is not a multiple of 8", n)
			}
		})
	}
}

func TestHeaderBytes(t *testing.T) {
	tests := []struct {
		name     string
		tensors  map[string]*tensor.Tensor
		metadata map[string]string
		want     []byte
	}{
		{
			name:    "one vector",
			tensors: map[string]*tensor.Tensor{"a": {Shape: []int{2}, Data: []float32{1, 2}}},
			// 54 bytes of JSON + 2 spaces = 56 = 0x38.
			want: concat(
				[]byte{0x38, 0, 0, 0, 0, 0, 0, 0},
				[]byte(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}  `),
				[]byte{0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40}, // 1.0f, 2.0f
			),
		},
		{
			name: "metadata first, names sorted, scalar",
			tensors: map[string]*tensor.Tensor{
				"b": {Shape: []int{}, Data: []float32{-1}},
				"a": {Shape: []int{1, 1}, Data: []float32{0.5}},
			},
			metadata: map[string]string{"step": "10"},
			// 137 bytes of JSON + 7 spaces = 144 = 0x90.
			want: concat(
				[]byte{0x90, 0, 0, 0, 0, 0, 0, 0},
				[]byte(`{"__metadata__":{"step":"10"},"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}       `),
				[]byte{0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x80, 0xbf}, // 0.5f, -1.0f
			),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tc.tensors, tc.metadata); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), tc.want) {
				t.Errorf("bytes differ:\n got %q\nwant %q", buf.Bytes(), tc.want)
			}
		})
	}
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// rawFile builds a file with the given header length prefix, header text and data.
func rawFile(n uint64, header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, n)
	return append(append(b, header...), data...)
}

// file builds a file whose length prefix matches the header.
func file(header string, dataLen int) []byte {
	return rawFile(uint64(len(header)), header, make([]byte, dataLen))
}

func TestRejectsCorrupt(t *testing.T) {
	const ok = `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	tests := []struct {
		name    string
		content []byte
		want    string
	}{
		{"empty file", nil, "too short"},
		{"short length prefix", []byte{1, 2, 3}, "too short"},
		{"header too large", rawFile(1<<40, "{}", nil), "exceeds the 100000000-byte limit"},
		{"header truncated", rawFile(100, `{"a":{}}`, nil), "truncated"},
		{"header length too small", rawFile(1, "{", nil), "too small"},
		{"not an object", file(`[1,2]   `, 0), "does not start with '{'"},
		{"bad JSON", file(`{"a":{"dtype":"F32",`, 0), "bad JSON"},
		{"trailing garbage", file(`{} xyz`, 0), "trailing data"},
		{"invalid UTF-8", file("{\"\xff\":1}", 0), "UTF-8"},
		{"entry not an object", file(`{"a":[1]}`, 0), "bad entry"},
		{"duplicate name", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "duplicate"},
		{"unknown dtype", file(`{"a":{"dtype":"F7","shape":[2],"data_offsets":[0,8]}}`, 8), `unknown or unsupported dtype "F7"`},
		{"missing dtype", file(`{"a":{"shape":[2],"data_offsets":[0,8]}}`, 8), "missing dtype"},
		{"missing shape", file(`{"a":{"dtype":"F32","data_offsets":[0,8]}}`, 8), "missing shape"},
		{"missing offsets", file(`{"a":{"dtype":"F32","shape":[2]}}`, 8), "missing data_offsets"},
		{"three offsets", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,9]}}`, 8), "2 elements"},
		{"fractional dim", file(`{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}`, 8), "bad entry"},
		{"negative dim", file(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, 8), "negative dimension"},
		{"huge dims overflow", file(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, 8), "needs"},
		{"end before begin", file(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, 8), "invalid data_offsets"},
		{"negative begin", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}`, 8), "invalid data_offsets"},
		{"shape/size mismatch", file(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 8), "needs 12 bytes"},
		{"dtype/size mismatch", file(`{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}`, 8), "needs 16 bytes"},
		{"data truncated", file(ok, 7), "exceed the 7-byte data section"},
		{"trailing data", file(ok, 12), "trailing data"},
		{"gap at start", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "do not start the data section at 0"},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "overlaps"},
		{"gap between", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, 12), "leaves a gap"},
		{"metadata not strings", file(`{"__metadata__":{"step":10}}`, 0), "__metadata__ must map strings to strings"},
	}
	dir := t.TempDir()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "bad"+string(rune('a'+i))+".safetensors")
			if err := os.WriteFile(path, tc.content, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := Load(path)
			if err == nil {
				t.Fatal("Load accepted a corrupt file")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not contain %q and the file name", err, tc.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, _, err := Load(filepath.Join(dir, "nope.safetensors"))
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v, want ErrNotExist", err)
		}
	})
}

func TestSaveRejectsBadInput(t *testing.T) {
	tests := []struct {
		name    string
		tensors map[string]*tensor.Tensor
		md      map[string]string
		want    string
	}{
		{"nil tensor", map[string]*tensor.Tensor{"a": nil}, nil, "is nil"},
		{"size mismatch", map[string]*tensor.Tensor{"a": {Shape: []int{2, 2}, Data: make([]float32, 3)}}, nil, "3 values but shape [2 2] needs 4"},
		{"negative dim", map[string]*tensor.Tensor{"a": {Shape: []int{-1}, Data: nil}}, nil, "negative dimension"},
		{"reserved name", map[string]*tensor.Tensor{"__metadata__": tensor.New(1)}, nil, "reserved"},
		{"empty name", map[string]*tensor.Tensor{"": tensor.New(1)}, nil, "empty tensor name"},
		{"bad UTF-8 name", map[string]*tensor.Tensor{"\xff": tensor.New(1)}, nil, "UTF-8"},
		{"bad UTF-8 metadata", nil, map[string]string{"k": "\xfe"}, "UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "m.safetensors")
			err := Save(path, tc.tensors, tc.md)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want it to contain %q and the path", err, tc.want)
			}
			assertOnlyFiles(t, dir)
		})
	}
}

func TestReadOtherDtypes(t *testing.T) {
	var data []byte
	data = binary.LittleEndian.AppendUint16(data, 0x3c00) // F16 1.0
	data = binary.LittleEndian.AppendUint16(data, 0xc000) // F16 -2.0
	data = binary.LittleEndian.AppendUint16(data, 0x3fc0) // BF16 1.5
	data = binary.LittleEndian.AppendUint16(data, 0xc040) // BF16 -3.0
	data = binary.LittleEndian.AppendUint64(data, math.Float64bits(0.25))
	data = binary.LittleEndian.AppendUint64(data, uint64(1<<20))
	neg := int64(-7)
	data = binary.LittleEndian.AppendUint64(data, uint64(neg))
	data = append(data, 200, 1)                        // U8 200, BOOL true
	data = append(data, 0xff)                          // I8 -1
	data = binary.LittleEndian.AppendUint32(data, 0x7) // I32 7
	header := `{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},` +
		`"bf":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]},` +
		`"d":{"dtype":"F64","shape":[],"data_offsets":[8,16]},` +
		`"step":{"dtype":"I64","shape":[2],"data_offsets":[16,32]},` +
		`"u":{"dtype":"U8","shape":[1],"data_offsets":[32,33]},` +
		`"flag":{"dtype":"BOOL","shape":[1],"data_offsets":[33,34]},` +
		`"i8":{"dtype":"I8","shape":[1],"data_offsets":[34,35]},` +
		`"i32":{"dtype":"I32","shape":[1],"data_offsets":[35,39]}}`
	content := rawFile(uint64(len(header)), header, data)
	got, _, err := Read(bytes.NewReader(content), int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{
		"h": {1, -2}, "bf": {1.5, -3}, "d": {0.25}, "step": {1 << 20, -7},
		"u": {200}, "flag": {1}, "i8": {-1}, "i32": {7},
	}
	for name, w := range want {
		g := got[name]
		if g == nil || !equalF32(g.Data, w) {
			t.Errorf("%s = %v, want %v", name, g, w)
		}
	}
	if len(got["d"].Shape) != 0 {
		t.Errorf("scalar shape = %v", got["d"].Shape)
	}
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestFloat16ToFloat32(t *testing.T) {
	tests := []struct {
		h    uint16
		want float32
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x3555, 0.333251953125},
		{0x7bff, 65504}, {0x0001, 1.0 / (1 << 24)}, {0x8001, -1.0 / (1 << 24)}, {0x0400, 1.0 / (1 << 14)},
		{0x7c00, float32(math.Inf(1))}, {0xfc00, float32(math.Inf(-1))},
	}
	for _, tc := range tests {
		if got := Float16ToFloat32(tc.h); got != tc.want {
			t.Errorf("Float16ToFloat32(%#04x) = %v, want %v", tc.h, got, tc.want)
		}
	}
	if v := Float16ToFloat32(0x7e00); !math.IsNaN(float64(v)) {
		t.Errorf("0x7e00 = %v, want NaN", v)
	}
	if v := Float16ToFloat32(0x8000); v != 0 || !math.Signbit(float64(v)) {
		t.Errorf("0x8000 = %v, want -0", v)
	}
}

func TestLoadHeader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	ts := map[string]*tensor.Tensor{"w": tensor.New(2, 3), "b": tensor.New(3)}
	if err := Save(path, ts, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	h, err := LoadHeader(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(h.Names(), ","); got != "b,w" {
		t.Errorf("Names = %s", got)
	}
	if w := h.Tensors["w"]; w.DType != "F32" || !tensor.EqualShape(w.Shape, []int{2, 3}) || w.Begin != 12 || w.End != 36 {
		t.Errorf("w = %+v", w)
	}
	if h.DataStart%8 != 0 || h.Metadata["k"] != "v" {
		t.Errorf("header = %+v", h)
	}
}

// assertOnlyFiles fails unless dir holds exactly the named files.
func assertOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("directory holds %v, want %v", got, names)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name    string
		write   func(w interface{ Write([]byte) (int, error) }) error
		wantErr error
		panics  bool
		want    string
	}{
		{"success replaces", func(w interface{ Write([]byte) (int, error) }) error {
			_, err := w.Write([]byte("new content"))
			return err
		}, nil, false, "new content"},
		{"error keeps old", func(w interface{ Write([]byte) (int, error) }) error {
			w.Write([]byte("partial"))
			return errBoom
		}, errBoom, false, "old content"},
		{"panic keeps old", func(w interface{ Write([]byte) (int, error) }) error {
			w.Write(bytes.Repeat([]byte("x"), 3<<20)) // beyond the buffer: reaches the temp file
			panic("boom")
		}, nil, true, "old content"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f.bin")
			if err := os.WriteFile(path, []byte("old content"), 0o640); err != nil {
				t.Fatal(err)
			}
			var err error
			func() {
				defer func() {
					if r := recover(); (r != nil) != tc.panics {
						t.Errorf("recover() = %v, want panic %v", r, tc.panics)
					}
				}()
				err = WriteFileAtomic(path, func(w io.Writer) error { return tc.write(w) })
			}()
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && !tc.panics && err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tc.want {
				t.Errorf("content = %q, want %q", got, tc.want)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
				t.Errorf("mode = %v, want 0640 kept", fi.Mode().Perm())
			}
			assertOnlyFiles(t, dir, "f.bin")
		})
	}
}

func TestWriteFileAtomicNewFileAndErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new.json")
	if err := WriteJSONAtomic(path, map[string]int{"step": 3}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "{\n  \"step\": 3\n}\n" {
		t.Errorf("json = %q", got)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644", fi.Mode().Perm())
	}
	if err := WriteJSONAtomic(path, map[string]any{"c": make(chan int)}); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("unencodable value: err = %v", err)
	}
	if got2, _ := os.ReadFile(path); !bytes.Equal(got, got2) {
		t.Error("failed WriteJSONAtomic changed the file")
	}
	if err := WriteJSONAtomic(filepath.Join(dir, "missing", "x.json"), 1); err == nil {
		t.Error("write into a missing directory succeeded")
	}
	if err := WriteFileAtomic(dir+"/", func(io.Writer) error { return nil }); err == nil {
		t.Error("write to a directory path succeeded")
	}
	assertOnlyFiles(t, dir, "new.json")

	a, err := CreateAtomic(filepath.Join(dir, "x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write([]byte("late")); err == nil {
		t.Error("write after Abort succeeded")
	}
	if err := a.Commit(); err == nil {
		t.Error("Commit after Abort succeeded")
	}
	assertOnlyFiles(t, dir, "new.json")
}

// TestPythonReadsFile checks the files with an independent reader written
// in Python (json + numpy), when python3 with numpy is installed.
func TestPythonReadsFile(t *testing.T) {
	py := pythonWithNumpy()
	if py == "" {
		t.Skip("python3 with numpy not available")
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	ts := map[string]*tensor.Tensor{
		"w": {Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6.5}},
		"b": {Shape: []int{}, Data: []float32{-0.25}},
	}
	if err := Save(path, ts, map[string]string{"epoch": "7"}); err != nil {
		t.Fatal(err)
	}
	script := `
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], "rb").read()
n, = struct.unpack("<Q", raw[:8])
assert n % 8 == 0
h = json.loads(raw[8:8+n])
data = raw[8+n:]
md = h.pop("__metadata__")
out = [md["epoch"]]
for name in sorted(h):
    e = h[name]
    b, end = e["data_offsets"]
    a = np.frombuffer(data[b:end], dtype="<f4").reshape(e["shape"])
    out.append("%s %s %s %r" % (name, e["dtype"], list(a.shape), a.ravel().tolist()))
print("|".join(out))
`
	out, err := exec.Command(py, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	want := "7|b F32 [] [-0.25]|w F32 [2, 3] [1.0, 2.0, 3.0, 4.0, 5.0, 6.5]"
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("python read %q, want %q", got, want)
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

// FuzzRead checks that arbitrary input never panics and that accepted
// input re-encodes to a file that loads to the same tensors.
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	Write(&buf, map[string]*tensor.Tensor{"a": {Shape: []int{2}, Data: []float32{1, 2}}}, map[string]string{"k": "v"})
	f.Add(buf.Bytes())
	f.Add(file(`{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`, 2))
	f.Add(file(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, md, err := Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := Write(&out, ts, md); err != nil {
			return // e.g. an empty tensor name is readable but not writable
		}
		ts2, _, err := Read(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil || len(ts2) != len(ts) {
			t.Fatalf("re-encoded file does not load: %v", err)
		}
		for name, x := range ts {
			if !sameBits(x, ts2[name]) {
				t.Fatalf("tensor %q changed", name)
			}
		}
	})
}
