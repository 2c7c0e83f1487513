package digest

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// one runs a statement that returns one value, failing the test on error.
func one[T any](t testing.TB, db database.Querier, sql string, args ...any) T {
	t.Helper()
	var v T
	if err := db.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func exec(t testing.TB, db database.Querier, sql string, args ...any) {
	t.Helper()
	if _, err := db.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func newOrg(t testing.TB, db database.Querier, name string) string {
	t.Helper()
	return one[string](t, db, `INSERT INTO organizations (name) VALUES ($1) RETURNING id::text`, name)
}

func newSite(t testing.TB, db database.Querier, org, name, tz string, created time.Time) string {
	t.Helper()
	return one[string](t, db, `INSERT INTO sites (org_id, name, timezone, created_at) VALUES ($1, $2, $3, $4) RETURNING id::text`, org, name, tz, created)
}

// newUser creates a user; an empty email stores NULL.
func newUser(t testing.TB, db database.Querier, name, email string) string {
	t.Helper()
	var e *string
	if email != "" {
		e = &email
	}
	return one[string](t, db, `INSERT INTO users (issuer, subject, name, email) VALUES ('https://issuer.test', gen_random_uuid()::text, $1, $2) RETURNING id::text`, name, e)
}

func join(t testing.TB, db database.Querier, org, user, role string) {
	t.Helper()
	exec(t, db, `INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)`, org, user, role)
}

// subscribe stores a subscription as if made at created.
func subscribe(t testing.TB, db database.Querier, org, user, freq string, hour, weekday int, tz, email string, created time.Time) {
	t.Helper()
	exec(t, db, `
		INSERT INTO digest_subscriptions (org_id, user_id, frequency, local_hour, weekday, timezone, email, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`, org, user, freq, hour, weekday, tz, email, created)
}

// insertClient is an insert-only River client, as serve gives the Sender.
func insertClient(t testing.TB, pool *pgxpool.Pool) *river.Client[pgx.Tx] {
	t.Helper()
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// clock is a settable fake clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func newSender(t testing.TB, pool *pgxpool.Pool, now func() time.Time) *Sender {
	t.Helper()
	s, err := New(Config{Pool: pool, Jobs: insertClient(t, pool), PublicURL: "https://freshtrack.example/", Now: now,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
