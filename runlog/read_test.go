package runlog

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestReadMetricsRoundTrip logs lines with Metrics and reads them back.
func TestReadMetricsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	m, err := Open(path, false)
	if err != nil {
		t.Fatal(err)
	}
	clock := t0
	m.SetClock(func() time.Time { clock = clock.Add(time.Second); return clock })
	for _, l := range []struct {
		event  string
		fields map[string]any
	}{
		{"start", nil},
		{"train", map[string]any{"step": 200, "loss": 0.5, "lr": float32(0.25), "ms": 1500 * time.Millisecond}},
		{"diverged", map[string]any{"a": math.NaN(), "b": math.Inf(1), "c": float32(math.Inf(-1)), "v": []float64{1, math.NaN()}, "w": []float32{2, float32(math.Inf(1))}}},
		{"eval", map[string]any{"classifier": "svm", "random_encoder": false, "name": "<mnist>", "none": nil}},
	} {
		if err := m.Log(l.event, l.fields); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 {
		t.Fatalf("%d records: %+v", len(recs), recs)
	}
	for i, r := range recs {
		if want := t0.Add(time.Duration(i+1) * time.Second); !r.Time.Equal(want) || r.Line != i+1 {
			t.Errorf("record %d: time %v line %d, want %v line %d", i, r.Time, r.Line, want, i+1)
		}
	}
	if recs[0].Event != "start" || len(recs[0].Fields) != 0 {
		t.Errorf("start: %+v", recs[0])
	}

	train := recs[1]
	if v, ok := train.Int("step"); !ok || v != 200 {
		t.Errorf("Int(step) = %v, %v", v, ok)
	}
	if v, ok := train.Float("loss"); !ok || v != 0.5 {
		t.Errorf("Float(loss) = %v, %v", v, ok)
	}
	if v, ok := train.Float("lr"); !ok || v != 0.25 {
		t.Errorf("Float(lr) = %v, %v", v, ok)
	}
	if v, ok := train.Duration("ms"); !ok || v != 1500*time.Millisecond {
		t.Errorf("Duration(ms) = %v, %v", v, ok)
	}
	if _, ok := train.Int("loss"); ok {
		t.Error("Int of 0.5 succeeded")
	}

	div := recs[2]
	for _, c := range []struct {
		key  string
		want float64
	}{{"a", math.NaN()}, {"b", math.Inf(1)}, {"c", math.Inf(-1)}} {
		if v, ok := div.Float(c.key); !ok || !(v == c.want || math.IsNaN(v) && math.IsNaN(c.want)) {
			t.Errorf("Float(%s) = %v, %v; want %v", c.key, v, ok, c.want)
		}
	}
	if v, ok := div.Floats("v"); !ok || len(v) != 2 || v[0] != 1 || !math.IsNaN(v[1]) {
		t.Errorf("Floats(v) = %v, %v", v, ok)
	}
	if v, ok := div.Floats("w"); !ok || !reflect.DeepEqual(v, []float64{2, math.Inf(1)}) {
		t.Errorf("Floats(w) = %v, %v", v, ok)
	}

	ev := recs[3]
	if s, ok := ev.String("classifier"); !ok || s != "svm" {
		t.Errorf("String(classifier) = %q, %v", s, ok)
	}
	if b, ok := ev.Bool("random_encoder"); !ok || b {
		t.Errorf("Bool(random_encoder) = %v, %v", b, ok)
	}
	if s, _ := ev.String("name"); s != "<mnist>" {
		t.Errorf("String(name) = %q", s)
	}
	if v, ok := ev.Fields["none"]; !ok || v != nil {
		t.Errorf("none: %v %v", v, ok)
	}
	for _, missing := range []func() bool{
		func() bool { _, ok := ev.Float("classifier"); return ok },
		func() bool { _, ok := ev.Float("absent"); return ok },
		func() bool { _, ok := ev.Floats("name"); return ok },
		func() bool { _, ok := ev.String("random_encoder"); return ok },
		func() bool { _, ok := ev.Bool("name"); return ok },
		func() bool { _, ok := ev.Int("absent"); return ok },
		func() bool { _, ok := ev.Duration("name"); return ok },
	} {
		if missing() {
			t.Error("a getter of the wrong type or an absent field succeeded")
		}
	}
}

func TestScanMetrics(t *testing.T) {
	const (
		a = `{"time":"2025-03-04T05:06:07Z","event":"a","x":1}`
		b = `{"time":"2025-03-04T05:06:08Z","event":"b","x":2}`
	)
	for _, c := range []struct {
		name, content string
		events        []string
		err           string // "" when none
	}{
		{"empty", "", nil, ""},
		{"two lines", a + "\n" + b + "\n", []string{"a", "b"}, ""},
		{"blank lines", "\n" + a + "\n  \n" + b + "\n\n", []string{"a", "b"}, ""},
		{"CRLF", a + "\r\n" + b + "\r\n", []string{"a", "b"}, ""},
		{"last line complete without newline", a + "\n" + b, []string{"a", "b"}, ""},
		{"truncated last line (killed run)", a + "\n" + b[:20], []string{"a"}, ""},
		{"truncated only line", a[:30], nil, ""},
		{"malformed line", a + "\n" + b[:20] + "\n" + b + "\n", []string{"a"}, "m.jsonl:2: not a JSON object"},
		{"malformed last line with newline", a + "\n" + b[:20] + "\n", []string{"a"}, "m.jsonl:2:"},
		{"not an object", "[1,2]\n" + a + "\n", nil, "m.jsonl:1: not a JSON object"},
		{"null", "null\n", nil, "m.jsonl:1: not a JSON object"},
		{"no time", a + "\n" + `{"event":"b"}` + "\n", []string{"a"}, `m.jsonl:2: no "time"`},
		{"bad time", `{"time":"yesterday","event":"b"}` + "\n", nil, "m.jsonl:1: time"},
		{"no event", `{"time":"2025-03-04T05:06:07Z"}` + "\n", nil, `m.jsonl:1: no "event"`},
		{"empty event", `{"time":"2025-03-04T05:06:07Z","event":""}` + "\n", nil, `m.jsonl:1: no "event"`},
		{"line number after blank lines", "\n\n" + a + "\n" + "x\n", []string{"a"}, "m.jsonl:4:"},
	} {
		var events []string
		var err error
		for rec, e := range ScanMetrics(strings.NewReader(c.content), "m.jsonl") {
			if e != nil {
				err = e
				break
			}
			events = append(events, rec.Event)
		}
		if !reflect.DeepEqual(events, c.events) {
			t.Errorf("%s: events %v, want %v", c.name, events, c.events)
		}
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.err)
		}
	}
}

// TestReadMetricsKilledRun appends the start of a line to a metrics file,
// as a run killed mid-write leaves it: the complete lines are read.
func TestReadMetricsKilledRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	var buf bytes.Buffer
	m := New(&buf)
	for i := range 3 {
		m.Log("step", map[string]any{"step": i})
	}
	data := buf.Bytes()
	cut := data[:len(data)-10] // the last line without its last 10 bytes
	if err := os.WriteFile(path, cut, 0o644); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadMetrics(path)
	if err != nil || len(recs) != 2 {
		t.Fatalf("truncated file: %d records, %v", len(recs), err)
	}
	if s, _ := recs[1].Int("step"); s != 1 {
		t.Errorf("last complete record: %+v", recs[1])
	}

	if _, err := ReadMetrics(filepath.Join(t.TempDir(), "none.jsonl")); err == nil || !strings.Contains(err.Error(), "none.jsonl") {
		t.Errorf("missing file: %v", err)
	}
}

// TestScanMetricsStop stops iterating early.
func TestScanMetricsStop(t *testing.T) {
	var buf bytes.Buffer
	m := New(&buf)
	for i := range 5 {
		m.Log("step", map[string]any{"step": i})
	}
	n := 0
	for range ScanMetrics(&buf, "m") {
		if n++; n == 2 {
			break
		}
	}
	if n != 2 {
		t.Errorf("%d iterations", n)
	}
}
