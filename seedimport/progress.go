package seedimport

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progress reports the readings phase: on a terminal a bar redrawn in place
// every second, otherwise a plain line every 10 seconds (logs, CI).
type progress struct {
	w        io.Writer
	terminal bool
	total    int64
	done     *atomic.Int64
	start    time.Time
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startProgress(w io.Writer, terminal bool, total int64, done *atomic.Int64) *progress {
	p := &progress{w: w, terminal: terminal, total: total, done: done, start: time.Now(), stop: make(chan struct{})}
	if w == nil {
		return p
	}
	every := 10 * time.Second
	if terminal {
		every = time.Second
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.print(false)
			case <-p.stop:
				p.print(true)
				return
			}
		}
	}()
	return p
}

// line is one progress report: rows done of total, rows/s, ETA.
func progressLine(done, total int64, elapsed time.Duration, bar bool) string {
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(done) / s
	}
	eta := "?"
	if rate > 0 && total > done {
		eta = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second).String()
	} else if total <= done {
		eta = "0s"
	}
	pct := 100.0
	if total > 0 {
		pct = min(100, 100*float64(done)/float64(total))
	}
	s := fmt.Sprintf("readings %d/%d (%.1f%%) %.0f rows/s, ETA %s", done, total, pct, rate, eta)
	if bar {
		const width = 30
		n := int(pct / 100 * width)
		s = "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "] " + s
	}
	return s
}

func (p *progress) print(last bool) {
	line := progressLine(p.done.Load(), p.total, time.Since(p.start), p.terminal)
	switch {
	case p.terminal && last:
		fmt.Fprintf(p.w, "\r\x1b[K%s\n", line)
	case p.terminal:
		fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	default:
		fmt.Fprintln(p.w, line)
	}
}

// Stop prints the last line and stops.
func (p *progress) Stop() {
	if p.w == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
}
