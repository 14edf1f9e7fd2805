package runlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"os"
	"time"
)

// Record is one line of a metrics file written by Metrics.
type Record struct {
	// Time is when the line was logged (UTC).
	Time time.Time
	// Event names the line ("start", "step", "checkpoint", "resume", "error", "eval", ...).
	Event string
	// Fields holds the other keys as encoding/json decodes them: numbers
	// are float64, arrays []any, objects map[string]any. NaN and ±Inf
	// are the strings "NaN", "+Inf" and "-Inf" (Float and Floats turn
	// them back into numbers), durations are seconds.
	Fields map[string]any
	// Line is the line number in the file, from 1.
	Line int
}

// Float returns the number in field key, decoding the strings "NaN",
// "+Inf" and "-Inf" that Metrics writes for non-finite floats, and whether
// the field holds a number (or one of those strings).
func (r Record) Float(key string) (float64, bool) {
	return floatOf(r.Fields[key])
}

// Floats returns the array of numbers in field key (as Metrics writes a
// []float64 or []float32, non-finite values included), and whether the
// field holds one.
func (r Record) Floats(key string) ([]float64, bool) {
	a, ok := r.Fields[key].([]any)
	if !ok {
		return nil, false
	}
	out := make([]float64, len(a))
	for i, v := range a {
		if out[i], ok = floatOf(v); !ok {
			return nil, false
		}
	}
	return out, true
}

// Int returns the integer in field key, and whether the field holds a
// number with an integral value (within ±2^53, where float64 is exact).
func (r Record) Int(key string) (int64, bool) {
	f, ok := r.Fields[key].(float64)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// String returns the string in field key, and whether the field holds
// one.
func (r Record) String(key string) (string, bool) {
	s, ok := r.Fields[key].(string)
	return s, ok
}

// Bool returns the boolean in field key, and whether the field holds one.
func (r Record) Bool(key string) (bool, bool) {
	b, ok := r.Fields[key].(bool)
	return b, ok
}

// Duration returns field key, logged as a time.Duration (seconds), as a
// duration, and whether the field holds a number.
func (r Record) Duration(key string) (time.Duration, bool) {
	f, ok := r.Fields[key].(float64)
	if !ok {
		return 0, false
	}
	return time.Duration(math.Round(f * float64(time.Second))), true
}

// floatOf decodes a JSON number or one of Metrics' non-finite strings.
func floatOf(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case string:
		switch x {
		case "NaN":
			return math.NaN(), true
		case "+Inf":
			return math.Inf(1), true
		case "-Inf":
			return math.Inf(-1), true
		}
	}
	return 0, false
}

// ReadMetrics reads the metrics file at path (see ScanMetrics for what is
// an error). Errors name the file and line.
func ReadMetrics(path string) ([]Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	defer f.Close()
	var out []Record
	for rec, err := range ScanMetrics(f, path) {
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// ScanMetrics iterates over the records of a metrics file read from r;
// name (the file's path) prefixes errors as "name:line: ...". Blank lines
// are skipped. A last line that is not terminated by a newline and does
// not parse is taken for a record cut short by a killed run and skipped;
// any other line that is not a JSON object with a "time" (RFC 3339) and a
// non-empty "event" string yields an error, after which iteration stops.
// Read errors stop it too.
func ScanMetrics(r io.Reader, name string) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		br := bufio.NewReader(r)
		for line := 1; ; line++ {
			b, err := br.ReadBytes('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				yield(Record{}, fmt.Errorf("%s:%d: %w", name, line, err))
				return
			}
			last := err != nil // io.EOF: b has no newline
			if len(bytes.TrimSpace(b)) > 0 {
				rec, perr := parseRecord(b)
				if perr != nil {
					if last {
						return // a truncated last line
					}
					yield(Record{}, fmt.Errorf("%s:%d: %w", name, line, perr))
					return
				}
				rec.Line = line
				if !yield(rec, nil) {
					return
				}
			}
			if last {
				return
			}
		}
	}
}

// parseRecord decodes one line.
func parseRecord(b []byte) (Record, error) {
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		return Record{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if fields == nil {
		return Record{}, errors.New("not a JSON object: null")
	}
	ts, ok := fields["time"].(string)
	if !ok {
		return Record{}, errors.New(`no "time" string`)
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return Record{}, fmt.Errorf("time: %w", err)
	}
	event, ok := fields["event"].(string)
	if !ok || event == "" {
		return Record{}, errors.New(`no "event" name`)
	}
	delete(fields, "time")
	delete(fields, "event")
	return Record{Time: t, Event: event, Fields: fields}, nil
}
