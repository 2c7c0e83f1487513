package pgbouncertest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/internal/pgbouncertest"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// A pool through the bouncer, in pgx's exec mode, reaches the test's
// database; the admin console shows its pool in transaction mode and
// counts the traffic; and a session setting does not follow a client to
// its next statement, which runs on another server connection.
func TestBouncerPoolsTransactions(t *testing.T) {
	t.Parallel()
	dbURL, direct := pgtest.NewDBURL(t)
	b := pgbouncertest.Start(t, dbURL)
	ctx := context.Background()

	cfg, err := pgxpool.ParseConfig(b.URL(dbURL))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	var viaBouncer, viaDirect string
	if err := pool.QueryRow(ctx, `SELECT current_database() || ':' || count(*) FROM organizations`).Scan(&viaBouncer); err != nil {
		t.Fatalf("query through pgbouncer: %v\n%s", err, b.Logs())
	}
	if err := direct.QueryRow(ctx, `SELECT current_database() || ':' || count(*) FROM organizations`).Scan(&viaDirect); err != nil {
		t.Fatal(err)
	}
	if viaBouncer != viaDirect {
		t.Fatalf("through pgbouncer %q, directly %q: not the same database", viaBouncer, viaDirect)
	}

	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SET statement_timeout = '4321ms'`); err != nil {
		t.Fatal(err)
	}
	var timeout string
	if err := conn.QueryRow(ctx, `SHOW statement_timeout`).Scan(&timeout); err != nil {
		t.Fatal(err)
	}
	if timeout == "4321ms" {
		t.Fatal("a session setting lasted to the client's next statement: the bouncer does not spread transactions over its server connections")
	}

	pools := b.Show(t, "SHOW POOLS")
	name := pgbouncertest.DatabaseName(dbURL)
	found := false
	for _, p := range pools {
		if p["database"] == name {
			found = true
			if p["pool_mode"] != "transaction" {
				t.Fatalf("pool_mode = %q, want transaction", p["pool_mode"])
			}
		}
	}
	if !found {
		t.Fatalf("SHOW POOLS has no pool for %s: %v", name, pools)
	}
	if s := b.Stats(t, name); s.Transactions < 1 || s.Queries < 1 {
		t.Fatalf("SHOW STATS for %s = %+v, want the query counted", name, s)
	}
}
