package notify

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

const waitTimeout = 15 * time.Second

// retryNow makes River retry a failed job at once instead of after its
// backoff (the code under test returns errors; when River retries is River's
// business).
type retryNow struct{}

func (retryNow) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(-time.Second) }

// newRiver returns a River client on pool that works the notify queue with
// worker. It is not started.
func newRiver(t *testing.T, pool *pgxpool.Pool, worker *SendWorker) *river.Client[pgx.Tx] {
	t.Helper()
	workers := river.NewWorkers()
	river.AddWorker(workers, worker)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:            map[string]river.QueueConfig{QueueNotify: {MaxWorkers: 4}},
		Workers:           workers,
		Logger:            slog.New(slog.DiscardHandler),
		FetchCooldown:     5 * time.Millisecond,
		FetchPollInterval: 20 * time.Millisecond,
		RetryPolicy:       retryNow{},
		TestOnly:          true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func startRiver(t *testing.T, client *river.Client[pgx.Tx]) {
	t.Helper()
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(ctx)
	})
}

// alertFixture is an organisation with a site, unit, rule and open alert.
type alertFixture struct {
	OrgID, AlertID string
}

func insertAlert(t *testing.T, db database.Querier) alertFixture {
	t.Helper()
	ctx := context.Background()
	var f alertFixture
	err := db.QueryRow(ctx, `
WITH o AS (INSERT INTO organizations (name) VALUES ('Bistro Group') RETURNING id),
     s AS (INSERT INTO sites (org_id, name) SELECT id, 'Main St Kitchen' FROM o RETURNING id, org_id),
     u AS (INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c)
           SELECT org_id, id, 'Walk-in Cooler 1', 'walk_in', 0, 5 FROM s RETURNING id, org_id),
     r AS (INSERT INTO alert_rules (org_id, unit_id, kind, threshold, severity)
           SELECT org_id, id, 'temp_high', 5, 'critical' FROM u RETURNING id, unit_id, org_id),
     a AS (INSERT INTO alerts (org_id, unit_id, rule_id, kind, severity, started_at)
           SELECT org_id, unit_id, id, 'temp_high', 'critical', now() - interval '23 minutes' FROM r RETURNING id, org_id)
SELECT org_id::text, id::text FROM a`).Scan(&f.OrgID, &f.AlertID)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// enqueue runs InsertNotificationTx in its own committed transaction.
func enqueue(t *testing.T, pool *pgxpool.Pool, client *river.Client[pgx.Tx], p EnqueueParams) (string, bool) {
	t.Helper()
	ctx := context.Background()
	var id string
	var inserted bool
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		id, inserted, err = InsertNotificationTx(ctx, tx, client, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id, inserted
}

func smsParams(f alertFixture, key string) EnqueueParams {
	return EnqueueParams{
		OrgID:     f.OrgID,
		AlertID:   &f.AlertID,
		Channel:   SMS,
		Recipient: "+15550002222",
		Text:      "FreshTrack CRITICAL: Walk-in Cooler 1 (Main St Kitchen): 9.4°C, above the 5.0°C limit for 23 min.",
		DedupeKey: key,
	}
}

// waitStatus waits until the notification has status.
func waitStatus(t *testing.T, pool *pgxpool.Pool, id, status string) notificationRow {
	t.Helper()
	var row notificationRow
	waitFor(t, waitTimeout, "notification "+status, func() (bool, error) {
		row = getNotification(t, pool, id)
		return row.Status == status, nil
	})
	return row
}

// waitJobState waits until the notification's send job is in state.
func waitJobState(t *testing.T, pool *pgxpool.Pool, id string, state rivertype.JobState) {
	t.Helper()
	waitFor(t, waitTimeout, "job "+string(state), func() (bool, error) {
		var got string
		err := pool.QueryRow(context.Background(),
			`SELECT state::text FROM river_job WHERE kind = 'notify_send' AND args->>'notification_id' = $1`, id).Scan(&got)
		return got == string(state), err
	})
}

func TestSendWorkerSendsSMS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	fx := insertAlert(t, pool)
	tf := newFakeTelnyx(t)
	tel, _ := newTestTelnyx(t, tf, nil)
	client := newRiver(t, pool, &SendWorker{DB: pool, SMS: tel, Logger: slog.New(slog.DiscardHandler)})

	id, inserted := enqueue(t, pool, client, smsParams(fx, "alert:1:step:0:sms"))
	if !inserted || !uuids.Valid(id) {
		t.Fatalf("InsertNotificationTx = %q, %v", id, inserted)
	}
	if r := getNotification(t, pool, id); r.Status != "queued" || r.Attempts != 0 {
		t.Fatalf("before the worker runs: %+v", r)
	}
	startRiver(t, client)

	row := waitStatus(t, pool, id, "sent")
	waitJobState(t, pool, id, rivertype.JobStateCompleted)
	accepted := tf.Accepted()
	if len(accepted) != 1 || row.ProviderID == nil || *row.ProviderID != accepted[0] || row.SentAt == nil || row.Attempts != 1 {
		t.Fatalf("row %+v (provider id %s), accepted %v", row, deref(row.ProviderID), accepted)
	}
	body := tf.Requests()[0].Body
	if body["to"] != "+15550002222" || !strings.Contains(body["text"].(string), "9.4°C") {
		t.Fatalf("sent %v", body)
	}

	// The alert's history says who was notified.
	var details []byte
	if err := pool.QueryRow(ctx, `SELECT details FROM alert_events WHERE alert_id = $1 AND kind = 'notified'`, fx.AlertID).Scan(&details); err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(details, &d); err != nil {
		t.Fatal(err)
	}
	if d["channel"] != "sms" || d["recipient"] != "+15550002222" || d["status"] != "sent" || d["provider_id"] != accepted[0] || d["notification_id"] != id {
		t.Fatalf("notified event details %s", details)
	}

	// Telnyx's delivery receipt then completes the row.
	updated, err := ApplyTelnyxEvent(ctx, pool, telnyxEventBody("message.finalized", accepted[0], "delivered", time.Now().UTC().Format(time.RFC3339), ""))
	if err != nil || !updated {
		t.Fatalf("ApplyTelnyxEvent = %v, %v", updated, err)
	}
	if r := getNotification(t, pool, id); r.Status != "delivered" || r.DeliveredAt == nil {
		t.Fatalf("after the receipt: %+v", r)
	}
}

func TestSendWorkerRetriesTooManyRequests(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	fx := insertAlert(t, pool)
	tf := newFakeTelnyx(t,
		telnyxErrorAnswer(http.StatusTooManyRequests, "10011", "Too many requests", "", "Retry-After", "1"),
	)
	tel, rec := newTestTelnyx(t, tf, nil)
	client := newRiver(t, pool, &SendWorker{DB: pool, SMS: tel, Logger: slog.New(slog.DiscardHandler)})
	id, _ := enqueue(t, pool, client, smsParams(fx, "k429"))
	startRiver(t, client)

	row := waitStatus(t, pool, id, "sent")
	waitJobState(t, pool, id, rivertype.JobStateCompleted)
	if n, a := len(tf.Requests()), len(tf.Accepted()); n != 2 || a != 1 {
		t.Fatalf("%d requests, %d accepted; want 2 and 1", n, a)
	}
	if row.Attempts != 1 || *row.ProviderID != tf.Accepted()[0] {
		t.Fatalf("row %+v", row)
	}
	found := false
	for _, d := range rec.Sleeps() {
		found = found || d == time.Second
	}
	if !found {
		t.Fatalf("waits %v, want the 1s Retry-After among them", rec.Sleeps())
	}
}

func TestSendWorkerRetriesThroughRiver(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	fx := insertAlert(t, pool)
	unavailable := telnyxErrorAnswer(http.StatusServiceUnavailable, "", "Service Unavailable", "")
	tf := newFakeTelnyx(t, unavailable, unavailable)
	tel, _ := newTestTelnyx(t, tf, func(c *TelnyxConfig) { c.MaxAttempts = 2 })
	client := newRiver(t, pool, &SendWorker{DB: pool, SMS: tel, Logger: slog.New(slog.DiscardHandler)})
	id, _ := enqueue(t, pool, client, smsParams(fx, "k503"))
	startRiver(t, client)

	// The first run uses up Send's two requests; River runs the job again.
	row := waitStatus(t, pool, id, "sent")
	waitJobState(t, pool, id, rivertype.JobStateCompleted)
	if row.Attempts != 2 || row.LastError == nil || !strings.Contains(*row.LastError, "503") {
		t.Fatalf("row %+v, last_error %s; want attempts 2 and the 503 kept as last_error", row, deref(row.LastError))
	}
	if n := len(tf.Accepted()); n != 1 {
		t.Fatalf("%d SMS accepted, want 1", n)
	}
}

func TestSendWorkerPermanentFailure(t *testing.T) {
	t.Parallel()
	f := func(code, title string) {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool := pgtest.NewDB(t)
			fx := insertAlert(t, pool)
			tf := newFakeTelnyx(t, telnyxErrorAnswer(http.StatusBadRequest, code, title, ""))
			tel, _ := newTestTelnyx(t, tf, nil)
			client := newRiver(t, pool, &SendWorker{DB: pool, SMS: tel, Logger: slog.New(slog.DiscardHandler)})
			id, _ := enqueue(t, pool, client, smsParams(fx, "kperm"))
			startRiver(t, client)

			row := waitStatus(t, pool, id, "failed")
			waitJobState(t, pool, id, rivertype.JobStateCancelled)
			if row.LastError == nil || !strings.Contains(*row.LastError, code) || row.Attempts != 1 || row.ProviderID != nil {
				t.Fatalf("row %+v, last_error %s", row, deref(row.LastError))
			}
			if n := len(tf.Requests()); n != 1 {
				t.Fatalf("%d requests, want 1", n)
			}
			var events int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM alert_events WHERE alert_id = $1 AND kind = 'notified'`, fx.AlertID).Scan(&events); err != nil {
				t.Fatal(err)
			}
			if events != 0 {
				t.Fatalf("%d notified events for a failed notification", events)
			}
		})
	}
	f("40001", "Not routable")
	f("10016", "Phone number must be in +E.164 format")
}

func TestInsertNotificationTxDedupes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	fx := insertAlert(t, pool)
	tf := newFakeTelnyx(t)
	tel, _ := newTestTelnyx(t, tf, nil)
	client := newRiver(t, pool, &SendWorker{DB: pool, SMS: tel, Logger: slog.New(slog.DiscardHandler)})

	p := smsParams(fx, "alert:dup:step:0:sms")
	id1, ins1 := enqueue(t, pool, client, p)
	// Again in a later transaction (a retried caller), and twice in one.
	id2, ins2 := enqueue(t, pool, client, p)
	var id3, id4 string
	var ins3, ins4 bool
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		if id3, ins3, err = InsertNotificationTx(ctx, tx, client, p); err != nil {
			return err
		}
		id4, ins4, err = InsertNotificationTx(ctx, tx, client, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !ins1 || ins2 || ins3 || ins4 || id2 != id1 || id3 != id1 || id4 != id1 {
		t.Fatalf("inserts (%s %v) (%s %v) (%s %v) (%s %v)", id1, ins1, id2, ins2, id3, ins3, id4, ins4)
	}
	var rows, jobs int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM notifications), (SELECT count(*) FROM river_job WHERE kind = 'notify_send')`).Scan(&rows, &jobs); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || jobs != 1 {
		t.Fatalf("%d notifications and %d jobs, want 1 and 1", rows, jobs)
	}

	startRiver(t, client)
	waitStatus(t, pool, id1, "sent")
	waitJobState(t, pool, id1, rivertype.JobStateCompleted)
	if n := len(tf.Accepted()); n != 1 {
		t.Fatalf("%d SMS sent, want 1", n)
	}
}

func TestInsertNotificationTxRollsBackWithCaller(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	fx := insertAlert(t, pool)
	client := newRiver(t, pool, &SendWorker{DB: pool})
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := InsertNotificationTx(ctx, tx, client, smsParams(fx, "k-rollback")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var rows, jobs int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM notifications), (SELECT count(*) FROM river_job)`).Scan(&rows, &jobs); err != nil {
		t.Fatal(err)
	}
	if rows != 0 || jobs != 0 {
		t.Fatalf("%d notifications and %d jobs after rollback", rows, jobs)
	}
}

func TestInsertNotificationTxValidates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	fx := insertAlert(t, pool)
	client := newRiver(t, pool, &SendWorker{DB: pool})
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	bad := "not-a-uuid"
	f := func(modify func(*EnqueueParams), field string) {
		t.Helper()
		p := smsParams(fx, "k-valid")
		modify(&p)
		_, _, err := InsertNotificationTx(ctx, tx, client, p)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), field) {
			t.Fatalf("error %v, want ErrInvalid naming %s", err, field)
		}
	}
	f(func(p *EnqueueParams) { p.OrgID = bad }, "OrgID")
	f(func(p *EnqueueParams) { p.AlertID = &bad }, "AlertID")
	f(func(p *EnqueueParams) { p.ContactID = &bad }, "ContactID")
	f(func(p *EnqueueParams) { p.Channel = "pager" }, "Channel")
	f(func(p *EnqueueParams) { p.Recipient = "555-0100" }, "Recipient")
	f(func(p *EnqueueParams) { p.Channel, p.Recipient = Email, "chef at kitchen" }, "Recipient")
	f(func(p *EnqueueParams) { p.Text = "" }, "Text")
	f(func(p *EnqueueParams) { p.DedupeKey = "" }, "DedupeKey")

	// None of that reached the database: the caller's transaction goes on.
	if _, inserted, err := InsertNotificationTx(ctx, tx, client, smsParams(fx, "k-valid")); err != nil || !inserted {
		t.Fatalf("valid insert after refusals: %v, %v", inserted, err)
	}
	// A dedupe key of another organisation's notification is not handed out.
	other := insertAlert(t, tx)
	if _, _, err := InsertNotificationTx(ctx, tx, client, smsParams(other, "k-valid")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("cross-organisation dedupe key: %v, want ErrInvalid", err)
	}
}

func TestSendWorkerUnconfiguredChannel(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	fx := insertAlert(t, pool)
	var logs syncBuf
	client := newRiver(t, pool, &SendWorker{DB: pool, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	smsID, _ := enqueue(t, pool, client, smsParams(fx, "k-sms"))
	emailID, _ := enqueue(t, pool, client, EnqueueParams{
		OrgID: fx.OrgID, Channel: Email, Recipient: "chef@kitchen.example", Subject: "s", Text: "t", DedupeKey: "k-email",
	})
	startRiver(t, client)

	for id, want := range map[string]string{smsID: "sms not configured", emailID: "email not configured"} {
		row := waitStatus(t, pool, id, "not_configured")
		waitJobState(t, pool, id, rivertype.JobStateCompleted)
		if deref(row.LastError) != want {
			t.Fatalf("last_error %q, want %q", deref(row.LastError), want)
		}
	}
	// Nothing is dropped silently: the content went to the log.
	if out := logs.String(); !strings.Contains(out, "chef@kitchen.example") || !strings.Contains(out, "channel not configured") {
		t.Fatalf("the unsent messages are not in the log:\n%s", out)
	}
}

// syncBuf is a goroutine-safe log buffer.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSendWorkerSendsEmail(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	fx := insertAlert(t, pool)
	srv := startSMTPServer(t, nil)
	client := newRiver(t, pool, &SendWorker{DB: pool, Email: newTestSMTP(t, srv.Port()), Logger: slog.New(slog.DiscardHandler)})
	subject, text, html := RenderEmail(AlertNotice{UnitName: "Walk-in", Kind: "temp_high", Severity: "critical", ValueC: ptr(9.4), ThresholdC: ptr(5), StartedAt: time.Now()})
	id, _ := enqueue(t, pool, client, EnqueueParams{
		OrgID: fx.OrgID, AlertID: &fx.AlertID, Channel: Email, Recipient: "chef@kitchen.example",
		Subject: subject, Text: text, HTML: html, DedupeKey: "k-email",
	})
	startRiver(t, client)

	row := waitStatus(t, pool, id, "sent")
	mails := srv.Mails()
	if len(mails) != 1 || mails[0].To[0] != "chef@kitchen.example" {
		t.Fatalf("mails %+v", mails)
	}
	if row.ProviderID == nil || !strings.Contains(string(mails[0].Data), "Message-ID: <"+*row.ProviderID+">") {
		t.Fatalf("provider id %s not the mail's Message-ID", deref(row.ProviderID))
	}
}

// runJob calls the worker directly, as River would for attempt of max.
func runJob(w *SendWorker, id string, attempt, max int) error {
	job := &river.Job[SendArgs]{
		JobRow: &rivertype.JobRow{ID: 1, Attempt: attempt, MaxAttempts: max, Kind: SendArgs{}.Kind()},
		Args:   SendArgs{NotificationID: id, Text: "FreshTrack test"},
	}
	return w.Work(context.Background(), job)
}

func TestSendWorkerIdempotence(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	org := insertOrg(t, pool)
	tf := newFakeTelnyx(t)
	tel, _ := newTestTelnyx(t, tf, nil)
	w := &SendWorker{DB: pool, SMS: tel, Logger: slog.New(slog.DiscardHandler)}

	insert := func(status string) string {
		t.Helper()
		var id string
		err := pool.QueryRow(ctx, `INSERT INTO notifications (org_id, channel, recipient, status, dedupe_key)
VALUES ($1, 'sms', '+15550002222', $2, gen_random_uuid()::text) RETURNING id::text`, org, status).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}

	// A re-run after the outcome was recorded sends nothing.
	for _, status := range []string{"sent", "delivered", "failed"} {
		if err := runJob(w, insert(status), 1, 8); err != nil {
			t.Fatalf("%s: %v", status, err)
		}
	}
	if n := len(tf.Requests()); n != 0 {
		t.Fatalf("%d requests for finished notifications", n)
	}

	// A run interrupted mid-send left "sending": the re-run sends again
	// (at least once) and records it.
	id := insert("sending")
	if err := runJob(w, id, 2, 8); err != nil {
		t.Fatal(err)
	}
	if r := getNotification(t, pool, id); r.Status != "sent" || r.Attempts != 1 || len(tf.Accepted()) != 1 {
		t.Fatalf("row %+v, accepted %v", r, tf.Accepted())
	}

	// A vanished notification cancels its job.
	err := runJob(w, "3f2b6c1e-0d7a-4c55-9d43-2a1f7e0b9c11", 1, 8)
	var cancel *rivertype.JobCancelError
	if !errors.As(err, &cancel) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing notification: %v, want a JobCancel of ErrNotFound", err)
	}
}

func TestSendWorkerGivesUpOnLastAttempt(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	org := insertOrg(t, pool)
	fail := telnyxErrorAnswer(http.StatusBadGateway, "", "Bad Gateway", "")
	tf := newFakeTelnyx(t, fail, fail, fail, fail)
	tel, _ := newTestTelnyx(t, tf, func(c *TelnyxConfig) { c.MaxAttempts = 1 })
	w := &SendWorker{DB: pool, SMS: tel, Logger: slog.New(slog.DiscardHandler)}
	var id string
	if err := pool.QueryRow(context.Background(), `INSERT INTO notifications (org_id, channel, recipient, dedupe_key)
VALUES ($1, 'sms', '+15550002222', 'k') RETURNING id::text`, org).Scan(&id); err != nil {
		t.Fatal(err)
	}

	if err := runJob(w, id, 1, 2); err == nil || IsPermanent(err) {
		t.Fatalf("first attempt: %v, want a retryable error", err)
	}
	if r := getNotification(t, pool, id); r.Status != "queued" || r.Attempts != 1 || !strings.Contains(deref(r.LastError), "502") {
		t.Fatalf("after a retryable failure: %+v (%s)", r, deref(r.LastError))
	}
	if err := runJob(w, id, 2, 2); err == nil {
		t.Fatal("last attempt: no error")
	}
	r := getNotification(t, pool, id)
	if r.Status != "failed" || r.Attempts != 2 || !strings.HasPrefix(deref(r.LastError), "gave up after 2 attempts") {
		t.Fatalf("after the last attempt: %+v (%s)", r, deref(r.LastError))
	}
}

func TestSendArgs(t *testing.T) {
	t.Parallel()
	opts := SendArgs{}.InsertOpts()
	if opts.Queue != "notify" || opts.MaxAttempts != 8 || (SendArgs{}).Kind() != "notify_send" {
		t.Fatalf("kind %q, opts %+v", SendArgs{}.Kind(), opts)
	}
	b, err := json.Marshal(SendArgs{NotificationID: "n", Text: "t"})
	if err != nil || string(b) != `{"notification_id":"n","text":"t"}` {
		t.Fatalf("%s %v", b, err)
	}
}
