package digest

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/freshtrack/freshtrack/notify"
)

// mailbox is a notify.Sender that keeps what it is given.
type mailbox struct {
	mu   sync.Mutex
	msgs []notify.Message
}

func (m *mailbox) Send(_ context.Context, msg notify.Message) (notify.Receipt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	return notify.Receipt{ProviderID: "msg-1"}, nil
}

func (m *mailbox) Messages() []notify.Message {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]notify.Message(nil), m.msgs...)
}

// TestPeriodicJobSendsThroughRiver wires the digest job the way jobs.New
// does: the periodic job runs on start, RunDue enqueues the email, and the
// notify worker delivers it, once.
func TestPeriodicJobSendsThroughRiver(t *testing.T) {
	t.Parallel()
	k := newKitchen(t)
	subscribe(t, k.db.Pool, k.org, k.ana, Daily, 7, 1, "Europe/Berlin", "ana@example.com", at(2026, 10, 1, 0, 0))
	clk := &clock{t: now}
	box := &mailbox{}

	workers := river.NewWorkers()
	river.AddWorker(workers, &Worker{Sender: newSender(t, k.db.Pool, clk.Now)})
	river.AddWorker(workers, &notify.SendWorker{DB: k.db.Pool, Email: box, Logger: slog.New(slog.DiscardHandler)})
	client, err := river.NewClient(riverpgxv5.New(k.db.Pool), &river.Config{
		Queues:            map[string]river.QueueConfig{notify.QueueNotify: {MaxWorkers: 4}},
		Workers:           workers,
		PeriodicJobs:      []*river.PeriodicJob{PeriodicJob(time.Hour)},
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		Logger:            slog.New(slog.DiscardHandler),
		TestOnly:          true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(ctx)
	})

	// The email is delivered and recorded as sent.
	deadline := time.Now().Add(20 * time.Second)
	for one[int](t, k.db.Pool, `SELECT count(*) FROM digests_sent d JOIN notifications n ON n.id = d.notification_id WHERE n.status = 'sent'`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the digest email")
		}
		time.Sleep(20 * time.Millisecond)
	}
	msgs := box.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d emails, want 1", len(msgs))
	}
	if m := msgs[0]; m.Channel != notify.Email || m.To != "ana@example.com" || m.Subject != "FreshTrack daily digest — Bistro Group — 2026-11-25" || m.HTML == "" {
		t.Errorf("email %+v", m)
	}

	// Another run (a second instance's periodic job) sends nothing more.
	waitRuns := func(n int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for one[int](t, k.db.Pool, `SELECT count(*) FROM river_job WHERE kind = 'digest_run' AND state = 'completed'`) < n {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for digest run %d to complete", n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitRuns(1)
	res, err := client.Insert(ctx, RunArgs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.UniqueSkippedAsDuplicate {
		t.Fatal("the second run was skipped as a duplicate of a completed one")
	}
	waitRuns(2)
	if n := one[int](t, k.db.Pool, `SELECT count(*) FROM river_job WHERE kind = 'digest_run' AND state = 'completed'`); n != 2 {
		t.Errorf("%d completed digest runs, want 2", n)
	}
	if n := len(box.Messages()); n != 1 {
		t.Errorf("%d emails, want 1", n)
	}
}

// TestRunArgsUnique: one run waits at a time, and a completed one does not
// block the next.
func TestRunArgsUnique(t *testing.T) {
	t.Parallel()
	k := newKitchen(t)
	client := insertClient(t, k.db.Pool)
	ctx := context.Background()
	first, err := client.Insert(ctx, RunArgs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Job.Queue != notify.QueueNotify || first.Job.Kind != "digest_run" {
		t.Errorf("job in queue %q of kind %q", first.Job.Queue, first.Job.Kind)
	}
	dup, err := client.Insert(ctx, RunArgs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !dup.UniqueSkippedAsDuplicate {
		t.Error("a second waiting digest run was inserted")
	}
	exec(t, k.db.Pool, `UPDATE river_job SET state = 'completed', finalized_at = now() WHERE id = $1`, first.Job.ID)
	next, err := client.Insert(ctx, RunArgs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if next.UniqueSkippedAsDuplicate {
		t.Error("a completed digest run blocks the next one")
	}
}
