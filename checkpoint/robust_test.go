package checkpoint

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepinfomax/deepinfomax/tensor"
)

func TestNilArgumentsAreErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, nil); err == nil || !strings.Contains(err.Error(), "nil write function") {
		t.Errorf("WriteFileAtomic(nil) = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("refused write changed the file to %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("refused write left %d entries in the directory, want 1", len(ents))
	}

	ts := map[string]*tensor.Tensor{"a": tensor.New(2)}
	if err := Write(nil, ts, nil); err == nil || !strings.Contains(err.Error(), "nil io.Writer") {
		t.Errorf("Write(nil) = %v", err)
	}
	if _, err := ReadHeader(nil, 100); err == nil || !strings.Contains(err.Error(), "nil io.ReaderAt") {
		t.Errorf("ReadHeader(nil) = %v", err)
	}
	if _, _, err := Read(nil, 100); err == nil {
		t.Error("Read(nil) succeeded")
	}
	var buf bytes.Buffer
	if err := Write(&buf, ts, nil); err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(buf.Bytes())
	h, err := ReadHeader(r, int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.ReadTensor(nil, "a"); err == nil || !strings.Contains(err.Error(), "nil io.ReaderAt") {
		t.Errorf("ReadTensor(nil reader) = %v", err)
	}
	var nh *Header
	if _, err := nh.ReadTensor(r, "a"); err == nil || !strings.Contains(err.Error(), "nil Header") {
		t.Errorf("nil Header's ReadTensor = %v", err)
	}
	if x, err := h.ReadTensor(r, "a"); err != nil || x.Size() != 2 {
		t.Errorf("ReadTensor = %v, %v", x, err)
	}
}
