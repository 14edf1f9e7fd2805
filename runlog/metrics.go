// Package runlog records what a training run does: a JSON-lines metrics
// file (Metrics, read back by ReadMetrics and ScanMetrics) and progress
// reporting for long loops (Progress).
package runlog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sync"
	"time"
)

// Metrics writes one JSON object per line:
//
//	{"time":"2025-01-02T03:04:05.123456789Z","event":"train","epoch":1,"loss":0.41}
//
// "time" (UTC, RFC 3339 with nanoseconds) and "event" come first, then the
// fields in sorted key order, so lines are stable and diff-friendly. Each
// line is handed to the operating system with a single write as soon as it
// is logged, so a killed run keeps everything logged before it died.
// Metrics is safe for concurrent use.
type Metrics struct {
	mu     sync.Mutex
	w      io.Writer
	f      *os.File // set when the Metrics owns a file
	name   string   // for error messages
	now    func() time.Time
	closed bool
}

// Open opens the metrics file at path, appending to it when appendMode is
// true (e.g. a resumed run) and truncating it otherwise. The file is
// created with mode 0644 if it does not exist. When appending, a last line
// without its newline (left by a process killed mid-write) is cut off
// first, so that the next line does not run into it.
func Open(path string, appendMode bool) (*Metrics, error) {
	flag := os.O_WRONLY | os.O_CREATE
	if appendMode {
		flag |= os.O_APPEND
		if err := cutPartialLine(path); err != nil {
			return nil, fmt.Errorf("open metrics %s: %w", path, err)
		}
	} else {
		flag |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open metrics %s: %w", path, err)
	}
	return &Metrics{w: f, f: f, name: path, now: time.Now}, nil
}

// cutPartialLine truncates the file at path after its last newline, if it
// exists and does not end with one.
func cutPartialLine(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil || len(b) == 0 || b[len(b)-1] == '\n' {
		return err
	}
	return os.Truncate(path, int64(bytes.LastIndexByte(b, '\n')+1))
}

// New returns a Metrics writing to w. Close does not close w.
func New(w io.Writer) *Metrics {
	return &Metrics{w: w, name: "metrics", now: time.Now}
}

// SetClock replaces the clock used for the "time" field (for tests and
// reproducible examples). It must be called before the first Log.
func (m *Metrics) SetClock(now func() time.Time) { m.now = now }

// Log writes one line for event with the given fields. The keys "time"
// and "event" are reserved. Values are encoded with encoding/json, except
// that NaN and ±Inf floats (which JSON cannot represent) are written as the
// strings "NaN", "+Inf" and "-Inf", and time.Duration values are written
// as seconds (a float). A value that cannot be encoded makes Log return an
// error without writing anything.
func (m *Metrics) Log(event string, fields map[string]any) error {
	if event == "" {
		return fmt.Errorf("log to %s: empty event name", m.name)
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if k == "time" || k == "event" {
			return fmt.Errorf("log %q to %s: field name %q is reserved", event, m.name, k)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("log %q to %s: metrics closed", event, m.name)
	}
	var buf bytes.Buffer
	buf.WriteString(`{"time":`)
	appendJSON(&buf, m.now().UTC().Format(time.RFC3339Nano))
	buf.WriteString(`,"event":`)
	appendJSON(&buf, event)
	for _, k := range keys {
		buf.WriteByte(',')
		appendJSON(&buf, k)
		buf.WriteByte(':')
		if err := appendJSON(&buf, normalize(fields[k])); err != nil {
			return fmt.Errorf("log %q to %s: field %q: %w", event, m.name, k, err)
		}
	}
	buf.WriteString("}\n")
	if _, err := m.w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("log %q to %s: %w", event, m.name, err)
	}
	return nil
}

// appendJSON appends the compact JSON encoding of v without HTML escaping.
func appendJSON(buf *bytes.Buffer, v any) error {
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Write(bytes.TrimSuffix(tmp.Bytes(), []byte{'\n'}))
	return nil
}

// normalize maps values JSON cannot hold to representable ones.
func normalize(v any) any {
	switch x := v.(type) {
	case float64:
		return floatValue(x)
	case float32:
		return floatValue(float64(x))
	case time.Duration:
		return x.Seconds()
	case []float64:
		out := make([]any, len(x))
		for i, f := range x {
			out[i] = floatValue(f)
		}
		return out
	case []float32:
		out := make([]any, len(x))
		for i, f := range x {
			out[i] = floatValue(float64(f))
		}
		return out
	}
	return v
}

// floatValue returns f, or a string for NaN and infinities.
func floatValue(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return f
}

// Sync commits the metrics file to stable storage (a no-op for a Metrics
// made by New).
func (m *Metrics) Sync() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.f == nil || m.closed {
		return nil
	}
	if err := m.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", m.name, err)
	}
	return nil
}

// Close syncs and closes the metrics file. Later Log calls fail. Closing
// twice is an error.
func (m *Metrics) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("close %s: already closed", m.name)
	}
	m.closed = true
	if m.f == nil {
		return nil
	}
	var err error
	if fi, serr := m.f.Stat(); serr == nil && fi.Mode().IsRegular() {
		err = m.f.Sync() // pipes and terminals cannot be synced
	}
	if cerr := m.f.Close(); err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("close %s: %w", m.name, err)
	}
	return nil
}
