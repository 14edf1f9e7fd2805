package runlog_test

import (
	"fmt"
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
