package alerting

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/ingest"
)

// TestRunCoalescesBatches: an idle evaluator evaluates a committed batch at
// once; batches committed within Config.Coalesce of that evaluation's start
// are merged into the next one, and every row is evaluated.
func TestRunCoalescesBatches(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, sensor := f.unit("fridge")
	cfg := f.config()
	cfg.Coalesce = 2 * time.Second
	var (
		mu    sync.Mutex
		evals []int
	)
	cfg.Hooks.BatchEvaluated = func(b BatchEvaluated) {
		mu.Lock()
		evals = append(evals, b.Rows)
		mu.Unlock()
	}
	ev, err := NewEvaluator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sub, unsubscribe := f.writer.Subscribe(256)
	defer unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = ev.Run(ctx, sub, nil) }()
	defer func() { cancel(); <-done }()

	seen := func() (n, rows int) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range evals {
			rows += r
		}
		return len(evals), rows
	}
	waitRows := func(want int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			if _, rows := seen(); rows >= want {
				return
			}
			if time.Now().After(deadline) {
				n, rows := seen()
				t.Fatalf("%d evaluations saw %d rows, want %d", n, rows, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	at := f.clock.Now()
	if _, err := f.writer.Write(f.ctx, []ingest.Row{row(sensor, at, 1)}); err != nil {
		t.Fatal(err)
	}
	waitRows(1)
	for i := range 5 {
		if _, err := f.writer.Write(f.ctx, []ingest.Row{row(sensor, at.Add(time.Duration(i+1)*time.Minute), 1)}); err != nil {
			t.Fatal(err)
		}
	}
	waitRows(6)
	if n, rows := seen(); n != 2 || rows != 6 {
		t.Fatalf("%d evaluations of %d rows (%v), want the first batch alone and the next five merged", n, rows, evals)
	}
}
