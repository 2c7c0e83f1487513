package lifecycle_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/internal/lifecycle"
)

// recorder is a component that records its calls in a shared journal.
func recorder(journal *[]string, name string, startErr, stopErr error) lifecycle.Hooks {
	return lifecycle.Hooks{
		OnStart: func(context.Context) error { *journal = append(*journal, "start "+name); return startErr },
		OnStop: func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				*journal = append(*journal, "stop "+name+" without deadline")
				return stopErr
			}
			*journal = append(*journal, "stop "+name)
			return stopErr
		},
	}
}

func TestSequenceStopsInReverseOrderAndJoinsFailures(t *testing.T) {
	var journal []string
	seq := lifecycle.New(slog.New(slog.DiscardHandler))
	ctx := context.Background()
	boom := errors.New("boom")
	for _, c := range []struct {
		name    string
		stopErr error
	}{{"jobs", nil}, {"pipe", boom}, {"http", nil}} {
		if err := seq.Start(ctx, c.name, recorder(&journal, c.name, nil, c.stopErr)); err != nil {
			t.Fatal(err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	err := seq.Stop(cancelled, time.Second)
	want := []string{"start jobs", "start pipe", "start http", "stop http", "stop pipe", "stop jobs"}
	if !slices.Equal(journal, want) {
		t.Fatalf("journal = %q, want %q", journal, want)
	}
	if !errors.Is(err, boom) || err.Error() != "stop pipe: boom" {
		t.Fatalf("Stop = %v, want the pipe's failure named", err)
	}
	// A second Stop has nothing left to stop.
	journal = nil
	if err := seq.Stop(ctx, time.Second); err != nil || len(journal) != 0 {
		t.Fatalf("second Stop = %v, journal %q", err, journal)
	}
}

func TestSequenceLeavesOutAComponentThatFailedToStart(t *testing.T) {
	var journal []string
	seq := lifecycle.New(nil)
	ctx := context.Background()
	if err := seq.Start(ctx, "jobs", recorder(&journal, "jobs", nil, nil)); err != nil {
		t.Fatal(err)
	}
	err := seq.Start(ctx, "http", recorder(&journal, "http", errors.New("address in use"), nil))
	if err == nil || err.Error() != "start http: address in use" {
		t.Fatalf("Start = %v, want the failure named", err)
	}
	if err := seq.Stop(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	want := []string{"start jobs", "start http", "stop jobs"}
	if !slices.Equal(journal, want) {
		t.Fatalf("journal = %q, want %q", journal, want)
	}
}

func TestEachStopHasItsOwnDeadline(t *testing.T) {
	seq := lifecycle.New(nil)
	ctx := context.Background()
	var slowEnded, nextDeadline time.Time
	slow := lifecycle.Hooks{OnStop: func(ctx context.Context) error {
		<-ctx.Done()
		slowEnded = time.Now()
		return nil
	}}
	measured := lifecycle.Hooks{OnStop: func(ctx context.Context) error {
		nextDeadline, _ = ctx.Deadline()
		return nil
	}}
	_ = seq.Start(ctx, "measured", measured)
	_ = seq.Start(ctx, "slow", slow)
	if err := seq.Stop(ctx, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// The slow component used up its whole deadline; a shared deadline
	// would have passed before it returned, the next one's own comes after.
	if !nextDeadline.After(slowEnded) {
		t.Fatalf("the stop after a slow one had the deadline %v, which passed before it began (%v)", nextDeadline, slowEnded)
	}
}
