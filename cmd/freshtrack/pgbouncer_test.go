package main

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/pgbouncertest"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/schema"
)

// directAppName tags serve's connections to the direct URL, to tell them
// from PgBouncer's server connections in pg_stat_activity.
const directAppName = "freshtrack-direct"

// The real binary with DATABASE_URL through PgBouncer in transaction mode
// and the direct URL beside it: the API, ingest, alerting, River's jobs and
// live events all work; PgBouncer counted the ordinary work; and what
// holds a session (LISTEN, the backlog claim's advisory lock) sits on the
// direct connections, none on PgBouncer's.
func TestServeThroughPgBouncer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	t.Parallel()
	dbURL, pool := pgtest.NewDBURL(t)
	b := pgbouncertest.Start(t, dbURL)
	dbName := pgbouncertest.DatabaseName(dbURL)
	direct, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := direct.Query()
	q.Set("application_name", directAppName)
	direct.RawQuery = q.Encode()

	keyFile := filepath.Join(t.TempDir(), "dev.pem")
	p := startServe(t, "pooled", b.URL(dbURL), []string{"FRESHTRACK_DATABASE_DIRECT_URL=" + direct.String()},
		"--dev-auth", "--dev-auth-key", keyFile, "--rollup-interval", "1s")
	logOnFailure(t, p)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pgbouncer's log:\n%s", b.Logs())
		}
	})
	o := newLiveOrg(t, pool, keyFile, p.addr, "Pooled Kitchen")
	base, org := p.base(), "/v1/orgs/"+o.id
	ctx := context.Background()

	// The API: a site and a sensor created, then listed.
	if code, site := o.callJSON(t, base, "POST", org+"/sites", auth.Manager, map[string]any{"name": "Harbour Kitchen", "timezone": "Europe/Lisbon"}); code != 201 || site["id"] == nil {
		t.Fatalf("create site: %d %v", code, site)
	}
	if code, sensor := o.callJSON(t, base, "POST", org+"/sensors", auth.Manager, map[string]any{"external_id": "POOLED-2", "unit_id": o.unit, "model": "LHT65N"}); code != 201 || sensor["id"] == nil {
		t.Fatalf("create sensor: %d %v", code, sensor)
	}
	for path, want := range map[string]int{org + "/sites": 2, org + "/sensors": 2} {
		code, page := o.callJSON(t, base, "GET", path, auth.Viewer, nil)
		if items, _ := page["items"].([]any); code != 200 || len(items) != want {
			t.Fatalf("GET %s: %d, %d items, want %d: %v", path, code, len(items), want, page)
		}
	}

	// Live events come from the tail's LISTEN (alerts, notifications) and
	// from ingest's commits (readings).
	s, code, out := openEvents(t, base, o.events(true), o.tokens[auth.Viewer], "")
	if s == nil {
		t.Fatalf("open stream: %d %s", code, out)
	}
	now := time.Now()
	o.post(t, base, now.Add(-2*time.Minute), 3.5)
	if r := s.next("reading", nil, 10*time.Second); r.Data["temp_c"] != 3.5 {
		t.Fatalf("reading event = %v", r.Data)
	}
	var stored int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id WHERE s.external_id = $1`, o.sensor).Scan(&stored); err != nil || stored != 1 {
		t.Fatalf("readings stored = %d (%v), want 1", stored, err)
	}

	// Over the fridge's 5 °C: an alert, whose SMS the send job (a River
	// job) records as not configured.
	o.post(t, base, now.Add(-time.Minute), 9.25)
	opened := s.next("alert", func(e sseEvent) bool { return e.str("action") == "opened" }, 10*time.Second)
	alertID := opened.str("alert_id")
	n := s.next("notification", func(e sseEvent) bool { return e.str("status") == "not_configured" }, 15*time.Second)
	if n.str("alert_id") != alertID || n.str("channel") != "sms" {
		t.Fatalf("notification event = %v", n.Data)
	}
	var status string
	if err := pool.QueryRow(ctx, `SELECT status FROM notifications WHERE alert_id = $1 AND channel = 'sms'`, alertID).Scan(&status); err != nil || status != "not_configured" {
		t.Fatalf("notification row: %q (%v), want not_configured", status, err)
	}
	if c := o.call(t, base, "POST", org+"/alerts/"+alertID+"/ack", auth.Staff, map[string]any{"comment": "on it"}); c != 200 {
		t.Fatalf("ack: %d", c)
	}
	s.next("alert", func(e sseEvent) bool { return e.str("action") == "acknowledged" }, 10*time.Second)

	// River's jobs ran to completion: the send job and the periodic rollup
	// (in timescale mode under a session lock on the direct URL).
	for deadline := time.Now().Add(20 * time.Second); ; {
		var sends, rollups int
		if err := pool.QueryRow(ctx, `
			SELECT count(*) FILTER (WHERE kind = 'notify_send'), count(*) FILTER (WHERE kind = 'storage_rollup')
			  FROM river_job WHERE state = 'completed'`).Scan(&sends, &rollups); err != nil {
			t.Fatal(err)
		}
		if sends >= 1 && rollups >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("completed River jobs: %d notify_send, %d storage_rollup; want both", sends, rollups)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Proof of the split. PgBouncer carried the ordinary work...
	if st := b.Stats(t, dbName); st.Transactions < 20 || st.Queries < 20 {
		t.Fatalf("PgBouncer's stats for %s = %+v: serve's work did not go through it", dbName, st)
	}
	// ... and the sessions are on the direct URL: serve's LISTENs there,
	// and every advisory lock held in the database is held there.
	var listening, directLocks, pooledLocks int
	if err := pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 AND query LIKE 'LISTEN%'),
		       count(*) FILTER (WHERE a.application_name = $2),
		       count(*) FILTER (WHERE a.application_name IS DISTINCT FROM $2)
		  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		 WHERE l.locktype = 'advisory' AND l.granted AND a.datname = $1`, dbName, directAppName).Scan(&listening, &directLocks, &pooledLocks); err != nil {
		t.Fatal(err)
	}
	if listening < 1 || directLocks < 1 || pooledLocks != 0 {
		t.Fatalf("direct connections listening: %d (want at least 1); advisory locks on direct connections %d (want the backlog claim's at least), elsewhere %d (want 0)",
			listening, directLocks, pooledLocks)
	}

	// SIGTERM drains through both: the claim is released on its own
	// connection, and serve exits cleanly.
	p.stop(t, syscall.SIGTERM, 30*time.Second)
	if p.err != nil {
		t.Fatalf("serve exited with %v after SIGTERM\n%s", p.err, p.logTail(30))
	}
}

// Migrations hold session locks, so with a direct URL they go there only:
// they work while DATABASE_URL (here a port nothing listens on) does not
// answer at all, and a direct URL that does not answer is named as such.
func TestMigrateUsesTheDirectURL(t *testing.T) {
	t.Parallel()
	dbURL, pool := pgtest.EmptyDB(t)
	vars := map[string]string{
		"DATABASE_URL":                   "postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=2",
		"FRESHTRACK_DATABASE_DIRECT_URL": dbURL,
		"FRESHTRACK_STORAGE":             string(pgtest.DefaultMode()),
	}
	e, _, _ := testEnv(vars)
	if err := run(context.Background(), []string{"migrate", "up"}, e); err != nil {
		t.Fatalf("migrate up with only the direct URL answering: %v", err)
	}
	st, err := schema.ReadStatus(context.Background(), pool)
	if err != nil || !st.Current() || st.Mode != pgtest.DefaultMode() {
		t.Fatalf("after migrate up: %+v, %v", st, err)
	}
	vars["FRESHTRACK_DATABASE_DIRECT_URL"], vars["DATABASE_URL"] = vars["DATABASE_URL"], dbURL
	e, _, _ = testEnv(vars)
	err = run(context.Background(), []string{"migrate", "status"}, e)
	if err == nil || !strings.Contains(err.Error(), "FRESHTRACK_DATABASE_DIRECT_URL") {
		t.Fatalf("migrate status with the direct URL down = %v, want an error naming FRESHTRACK_DATABASE_DIRECT_URL", err)
	}
}
