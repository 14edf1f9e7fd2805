package runlog

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// ProgressOptions configures a Progress made by NewProgressWithOptions.
type ProgressOptions struct {
	// Terminal selects an interactive progress bar (true) or plain log
	// lines (false).
	Terminal bool
	// Every makes plain mode print a line at least every Every steps.
	// Zero means total/10 (at least 1), or 100 when the total is unknown.
	Every int
	// Interval makes plain mode print a line when this much time has
	// passed since the last one, even if Every steps have not. Zero
	// means 15 seconds; a negative value disables the time trigger.
	Interval time.Duration
	// Now is the clock used for rates and ETAs in plain mode; nil means
	// time.Now.
	Now func() time.Time
}

// Progress reports the progress of a long loop. On a terminal it draws a
// progress bar (github.com/schollz/progressbar) with rate, ETA and a
// description that carries the latest status, e.g. the current loss.
// Otherwise (log files, CI) it prints plain lines such as
//
//	train: step 200/937 (21%) 12.3 it/s ETA 1m00s loss=0.4123
//
// every few steps or seconds, and a final summary line on Finish.
// Progress is safe for concurrent use.
type Progress struct {
	mu       sync.Mutex
	w        io.Writer
	total    int
	desc     string
	opts     ProgressOptions
	bar      *progressbar.ProgressBar
	start    time.Time
	cur      int
	status   string
	lastStep int
	lastTime time.Time
	finished bool
}

// NewProgress returns a Progress for a loop of total steps (total <= 0
// means unknown) writing to w, typically os.Stderr. It draws a bar when w
// is a terminal and prints plain lines otherwise.
func NewProgress(w io.Writer, total int, desc string) *Progress {
	return NewProgressWithOptions(w, total, desc, ProgressOptions{Terminal: IsTerminal(w)})
}

// IsTerminal reports whether w is a file connected to a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// NewProgressWithOptions is NewProgress with explicit options, e.g. to
// force plain output or to inject a clock in tests.
func NewProgressWithOptions(w io.Writer, total int, desc string, opts ProgressOptions) *Progress {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Every <= 0 {
		opts.Every = 100
		if total > 0 {
			opts.Every = max(1, total/10)
		}
	}
	if opts.Interval == 0 {
		opts.Interval = 15 * time.Second
	}
	p := &Progress{w: w, total: total, desc: desc, opts: opts}
	p.start = opts.Now()
	p.lastTime = p.start
	if opts.Terminal {
		barMax := total
		if barMax <= 0 {
			barMax = -1 // spinner
		}
		p.bar = progressbar.NewOptions(barMax,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("it"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
	}
	return p
}

// Add records n more completed steps. A non-empty status (such as
// "loss=0.4123") replaces the previous one and is shown with the progress.
// Adding after Finish is ignored.
func (p *Progress) Add(n int, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.cur += n
	if status != "" {
		p.status = status
	}
	if p.bar != nil {
		if status != "" {
			p.bar.Describe(joinNonEmpty(p.desc, status))
		}
		p.bar.Add(n) // errors only report overshooting the total
		return
	}
	now := p.opts.Now()
	if p.cur-p.lastStep >= p.opts.Every || p.opts.Interval > 0 && now.Sub(p.lastTime) >= p.opts.Interval {
		p.lastStep, p.lastTime = p.cur, now
		fmt.Fprintln(p.w, p.line(now))
	}
}

// Finish completes the report: the bar is filled and ended with a newline,
// or a final summary line is printed. Calling it again does nothing.
func (p *Progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.finished = true
	if p.bar != nil {
		p.bar.Finish()
		return
	}
	now := p.opts.Now()
	elapsed := now.Sub(p.start)
	s := fmt.Sprintf("done %d", p.cur)
	if p.total > 0 {
		s += fmt.Sprintf("/%d (%d%%)", p.total, percent(p.cur, p.total))
	}
	s += " in " + formatDuration(elapsed)
	if rate := p.rate(now); rate > 0 {
		s += " " + formatRate(rate)
	}
	fmt.Fprintln(p.w, joinNonEmpty(p.prefix()+s, p.status))
}

// line formats a plain progress line.
func (p *Progress) line(now time.Time) string {
	s := fmt.Sprintf("step %d", p.cur)
	if p.total > 0 {
		s += fmt.Sprintf("/%d (%d%%)", p.total, percent(p.cur, p.total))
	}
	rate := p.rate(now)
	s += " " + formatRate(rate)
	if p.total > 0 {
		eta := "?"
		if rate > 0 {
			eta = formatDuration(time.Duration(float64(max(0, p.total-p.cur)) / rate * float64(time.Second)))
		}
		s += " ETA " + eta
	}
	return joinNonEmpty(p.prefix()+s, p.status)
}

// prefix returns "desc: " or "".
func (p *Progress) prefix() string {
	if p.desc == "" {
		return ""
	}
	return p.desc + ": "
}

// rate returns the average steps per second since the start.
func (p *Progress) rate(now time.Time) float64 {
	secs := now.Sub(p.start).Seconds()
	if secs <= 0 {
		return 0
	}
	return float64(p.cur) / secs
}

// percent returns 100*cur/total rounded down.
func percent(cur, total int) int { return int(int64(cur) * 100 / int64(total)) }

// formatRate formats steps per second with sensible precision.
func formatRate(r float64) string {
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0f it/s", r)
	case r >= 1 || r == 0:
		return fmt.Sprintf("%.1f it/s", r)
	default:
		return fmt.Sprintf("%.1f s/it", 1/r)
	}
}

// formatDuration formats d rounded to seconds as 45s, 1m03s or 2h05m09s.
func formatDuration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	default:
		return fmt.Sprintf("%dh%02dm%02ds", s/3600, s/60%60, s%60)
	}
}

// joinNonEmpty joins the non-empty strings with single spaces.
func joinNonEmpty(parts ...string) string {
	var out []string
	for _, s := range parts {
		if s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, " ")
}
