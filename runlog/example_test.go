package runlog_test

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/deepinfomax/deepinfomax/runlog"
)

func Example() {
	// Metrics: one JSON object per line. Real runs use
	// runlog.Open("runs/x/metrics.jsonl", resume) and the real clock.
	m := runlog.New(os.Stdout)
	m.SetClock(func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) })
	m.Log("epoch", map[string]any{"epoch": 1, "loss": 0.4123, "lr": 1e-4})

	// Progress: a bar on a terminal; plain lines in logs (shown here,
	// with a fake clock advancing 50ms per step).
	clock := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	p := runlog.NewProgressWithOptions(os.Stdout, 937, "train", runlog.ProgressOptions{
		Terminal: false,
		Every:    400,
		Interval: -1,
		Now:      func() time.Time { return clock },
	})
	for step := 1; step <= 937; step++ {
		clock = clock.Add(50 * time.Millisecond)
		p.Add(1, fmt.Sprintf("loss=%.4f", 1/float64(step)))
	}
	p.Finish()
	// Output:
	// {"time":"2025-01-02T03:04:05Z","event":"epoch","epoch":1,"loss":0.4123,"lr":0.0001}
	// train: step 400/937 (42%) 20.0 it/s ETA 27s loss=0.0025
	// train: step 800/937 (85%) 20.0 it/s ETA 7s loss=0.0013
	// train: done 937/937 (100%) in 47s 20.0 it/s loss=0.0011
}

// Reading a metrics file back: ReadMetrics(path) for a file, ScanMetrics
// for any reader. Non-finite floats come back as numbers; a last line cut
// short by a killed run is skipped.
func ExampleScanMetrics() {
	var buf bytes.Buffer
	m := runlog.New(&buf)
	m.SetClock(func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) })
	m.Log("train", map[string]any{"step": 100, "loss": 0.5})
	m.Log("train", map[string]any{"step": 200, "loss": math.Inf(1)})
	buf.WriteString(`{"time":"2025-01-02T03:04:05Z","event":"tr`) // killed mid-line

	for rec, err := range runlog.ScanMetrics(&buf, "metrics.jsonl") {
		if err != nil {
			fmt.Println(err)
			break
		}
		step, _ := rec.Int("step")
		loss, _ := rec.Float("loss")
		fmt.Printf("line %d: %s step %d loss %v\n", rec.Line, rec.Event, step, loss)
	}
	// Output:
	// line 1: train step 100 loss 0.5
	// line 2: train step 200 loss +Inf
}
