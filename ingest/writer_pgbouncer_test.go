package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/internal/pgbouncertest"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// pooledPool is a pool through PgBouncer as serve opens it behind a
// transaction pooler: pgx's exec mode, no prepared statements.
func pooledPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// The writer's whole repertoire through a transaction pooler: the binary
// COPY of the fast path, the dedup path's temporary staging table (created
// on whichever server connection the transaction lands on), faults and the
// evaluation backlog as arrays, partitions made on the way.
func TestWriterThroughPgBouncer(t *testing.T) {
	t.Parallel()
	dbURL, direct := pgtest.NewDBURL(t)
	b := pgbouncertest.Start(t, dbURL)
	pool := pooledPool(t, b.URL(dbURL))
	ctx := context.Background()
	var sensor int64
	if err := direct.QueryRow(ctx, `
		WITH o AS (INSERT INTO organizations (name) VALUES ('Pooled') RETURNING id)
		INSERT INTO sensors (org_id, external_id) SELECT id, 'POOLED-1' FROM o RETURNING id`).Scan(&sensor); err != nil {
		t.Fatal(err)
	}
	w, latest := newWriter(t, pool, ingest.WriterConfig{BacklogOwner: 7})
	sub, cancel := w.Subscribe(100)
	defer cancel()
	// Two days back as well, so that postgres mode makes a partition.
	base := time.Now().UTC().Add(-49 * time.Hour).Truncate(time.Second)

	first := rowsAt(base, sensor, 200, time.Minute)
	first[5].Fault, first[5].TempC = true, -1000
	// A fault counts as accepted every time (it is not deduplicated).
	for round, want := range []ingest.Result{{Accepted: 200}, {Accepted: 1, Duplicates: 199}} {
		res, err := w.Write(ctx, first)
		if err != nil || res != want {
			t.Fatalf("write %d through pgbouncer = %+v, %v; want %+v\n%s", round, res, err, want, b.Logs())
		}
	}
	// Half new, half stored: the dedup path, several times so that it
	// meets server connections with and without its staging table.
	for i := range 5 {
		rows := rowsAt(base.Add(time.Duration(100+i*100)*time.Minute), sensor, 200, time.Minute)
		if res, err := w.Write(ctx, rows); err != nil || res.Accepted != 100 || res.Duplicates != 100 {
			t.Fatalf("mixed write %d = %+v, %v", i, res, err)
		}
	}
	if n := count(t, direct, "sensor_id = $1", sensor); n != 699 {
		t.Fatalf("stored %d readings, want 699", n)
	}
	var faults, backlog int
	if err := direct.QueryRow(ctx, `SELECT (SELECT count(*) FROM sensor_faults WHERE sensor_id = $1), (SELECT count(*) FROM evaluation_backlog WHERE owner = 7 AND $1 = ANY (sensor_ids))`, sensor).
		Scan(&faults, &backlog); err != nil {
		t.Fatal(err)
	}
	if faults != 1 || backlog < 6 {
		t.Fatalf("sensor faults %d (want 1), backlog rows %d (want one per storing flush, at least 6)", faults, backlog)
	}
	select {
	case c := <-sub.C:
		if c.Backlog == 0 || len(c.Rows) == 0 {
			t.Fatalf("first committed flush = %d rows, backlog %d", len(c.Rows), c.Backlog)
		}
	default:
		t.Fatal("no committed flush was published")
	}
	if v, ok := latest.Get(sensor); !ok || v.Time() != base.Add(699*time.Minute) {
		t.Fatalf("latest = %+v %v, want the newest reading", v, ok)
	}
	if s := b.Stats(t, pgbouncertest.DatabaseName(dbURL)); s.Transactions < 7 {
		t.Fatalf("pgbouncer counted %+v, want every flush's transaction", s)
	}
}
