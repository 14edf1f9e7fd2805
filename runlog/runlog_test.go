package runlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 890000000, time.UTC)

func TestMetricsLines(t *testing.T) {
	tests := []struct {
		name   string
		event  string
		fields map[string]any
		want   string
	}{
		{"no fields", "start", nil, `{"time":"2025-03-04T05:06:07.89Z","event":"start"}`},
		{"sorted keys", "train", map[string]any{"loss": 0.5, "epoch": 1, "step": int64(200), "lr": float32(0.25)},
			`{"time":"2025-03-04T05:06:07.89Z","event":"train","epoch":1,"loss":0.5,"lr":0.25,"step":200}`},
		{"non-finite floats", "diverged", map[string]any{"a": math.NaN(), "b": math.Inf(1), "c": float32(math.Inf(-1)), "v": []float64{1, math.NaN()}},
			`{"time":"2025-03-04T05:06:07.89Z","event":"diverged","a":"NaN","b":"+Inf","c":"-Inf","v":[1,"NaN"]}`},
		{"durations, strings, nesting", "eval", map[string]any{"elapsed": 1500 * time.Millisecond, "name": "<mnist>", "acc": map[string]float64{"top1": 0.9}, "ok": true, "none": nil},
			`{"time":"2025-03-04T05:06:07.89Z","event":"eval","acc":{"top1":0.9},"elapsed":1.5,"name":"<mnist>","none":null,"ok":true}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			m := New(&buf)
			m.SetClock(func() time.Time { return t0 })
			if err := m.Log(tc.event, tc.fields); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tc.want+"\n" {
				t.Errorf("line\n got %s\nwant %s", got, tc.want)
			}
			var obj map[string]any
			if err := json.Unmarshal(buf.Bytes(), &obj); err != nil {
				t.Fatalf("line is not JSON: %v", err)
			}
			if obj["event"] != tc.event || len(obj) != len(tc.fields)+2 {
				t.Errorf("parsed %v", obj)
			}
		})
	}
}

func TestMetricsErrors(t *testing.T) {
	tests := []struct {
		name   string
		event  string
		fields map[string]any
		want   string
	}{
		{"empty event", "", nil, "empty event"},
		{"reserved time", "x", map[string]any{"time": 1}, `"time" is reserved`},
		{"reserved event", "x", map[string]any{"event": 1}, `"event" is reserved`},
		{"unencodable", "x", map[string]any{"c": make(chan int)}, `field "c"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := New(&buf).Log(tc.event, tc.fields)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %q on error", buf.String())
			}
		})
	}
}

func TestMetricsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	logN := func(appendMode bool, n int) {
		m, err := Open(path, appendMode)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := m.Log("step", map[string]any{"i": i}); err != nil {
				t.Fatal(err)
			}
		}
		// Lines are on disk before Close (a killed run keeps them).
		if lines := readLines(t, path); len(lines) == 0 {
			t.Error("nothing on disk before Close")
		}
		if err := m.Sync(); err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if err := m.Log("late", nil); err == nil {
			t.Error("Log after Close succeeded")
		}
		if err := m.Close(); err == nil {
			t.Error("second Close succeeded")
		}
	}
	logN(false, 3)
	logN(true, 2)
	if got := len(readLines(t, path)); got != 5 {
		t.Errorf("append: %d lines, want 5", got)
	}
	logN(false, 1)
	lines := readLines(t, path)
	if len(lines) != 1 {
		t.Fatalf("truncate: %d lines, want 1", len(lines))
	}
	var obj struct {
		Time  string `json:"time"`
		Event string `json:"event"`
		I     int    `json:"i"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &obj); err != nil {
		t.Fatal(err)
	}
	if _, err := time.Parse(time.RFC3339Nano, obj.Time); err != nil || obj.Event != "step" {
		t.Errorf("line %q: %v", lines[0], err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing", "m.jsonl"), false); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("open in missing dir: err = %v", err)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// fakeClock is a manually advanced clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestProgressPlain(t *testing.T) {
	tests := []struct {
		name  string
		total int
		desc  string
		opts  ProgressOptions
		step  time.Duration // clock advance per Add(1)
		steps int
		want  []string
	}{
		{"every 10 percent", 937, "train", ProgressOptions{Interval: -1}, 100 * time.Millisecond, 200, []string{
			"train: step 93/937 (9%) 10.0 it/s ETA 1m24s loss=0.0930",
			"train: step 186/937 (19%) 10.0 it/s ETA 1m15s loss=0.1860",
			"train: done 200/937 (21%) in 20s 10.0 it/s loss=0.2000",
		}},
		{"time trigger", 1000, "", ProgressOptions{Interval: time.Second}, 300 * time.Millisecond, 9, []string{
			"step 4/1000 (0%) 3.3 it/s ETA 4m59s loss=0.0040",
			"step 8/1000 (0%) 3.3 it/s ETA 4m58s loss=0.0080",
			"done 9/1000 (0%) in 3s 3.3 it/s loss=0.0090",
		}},
		{"unknown total, slow", 0, "embed", ProgressOptions{Every: 2}, 4 * time.Second, 4, []string{
			"embed: step 2 4.0 s/it loss=0.0020",
			"embed: step 4 4.0 s/it loss=0.0040",
			"embed: done 4 in 16s 4.0 s/it loss=0.0040",
		}},
		{"hours", 10, "long", ProgressOptions{Every: 5, Interval: -1}, 1000 * time.Second, 10, []string{
			"long: step 5/10 (50%) 1000.0 s/it ETA 1h23m20s loss=0.0050",
			"long: step 10/10 (100%) 1000.0 s/it ETA 0s loss=0.0100",
			"long: done 10/10 (100%) in 2h46m40s 1000.0 s/it loss=0.0100",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			clk := &fakeClock{t: t0}
			tc.opts.Now = clk.now
			p := NewProgressWithOptions(&buf, tc.total, tc.desc, tc.opts)
			for i := 1; i <= tc.steps; i++ {
				clk.advance(tc.step)
				p.Add(1, fmt.Sprintf("loss=%.4f", float64(i)/1000))
			}
			p.Finish()
			p.Finish()          // idempotent
			p.Add(5, "ignored") // after Finish
			got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("output:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for _, line := range got[:len(got)-1] {
				if !strings.Contains(line, "it/s") && !strings.Contains(line, "s/it") {
					t.Errorf("line %q has no rate", line)
				}
				if tc.total > 0 && !strings.Contains(line, "ETA ") {
					t.Errorf("line %q has no ETA", line)
				}
			}
		})
	}
}

func TestProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgressWithOptions(&buf, 50, "train", ProgressOptions{Terminal: true})
	for range 50 {
		p.Add(1, "loss=0.1234")
	}
	p.Finish()
	out := buf.String()
	for _, want := range []string{"train loss=0.1234", "100%", "50/50", "it/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar output %q lacks %q", out, want)
		}
	}
	if !strings.HasSuffix(out, "\n") {
		t.Error("bar output does not end with a newline")
	}
}

func TestNewProgressDetectsNonTerminal(t *testing.T) {
	var buf bytes.Buffer
	if IsTerminal(&buf) {
		t.Error("a buffer is not a terminal")
	}
	p := NewProgress(&buf, 3, "x")
	p.Add(3, "")
	p.Finish()
	if !strings.HasPrefix(buf.String(), "x: step 3/3 (100%)") || !strings.Contains(buf.String(), "x: done 3/3 (100%)") {
		t.Errorf("plain output = %q", buf.String())
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"}, {1400 * time.Millisecond, "1s"}, {59 * time.Second, "59s"},
		{63 * time.Second, "1m03s"}, {3599 * time.Second, "59m59s"}, {3600 * time.Second, "1h00m00s"},
		{26*time.Hour + 5*time.Second, "26h00m05s"},
	}
	for _, tc := range tests {
		if got := formatDuration(tc.d); got != tc.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// TestOpenAppendCutsPartialLine: a line cut short by a killed process is
// dropped when the file is reopened for appending, so the next line stays
// whole and the file reads back.
func TestOpenAppendCutsPartialLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.jsonl")
	if err := os.WriteFile(path, []byte("{\"time\":\"2025-01-02T03:04:05Z\",\"event\":\"start\"}\n{\"time\":\"2025-01-02T03:0"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Log("resume", map[string]any{"step": 3}); err != nil {
		t.Fatal(err)
	}
	m.Close()
	recs, err := ReadMetrics(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Event != "start" || recs[1].Event != "resume" {
		t.Errorf("records %+v, want start then resume", recs)
	}
}
