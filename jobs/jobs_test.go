package jobs_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/jobs"
	"github.com/freshtrack/freshtrack/schema"
)

// TestUpkeepRunsOnRiver starts two River clients on one database, as two serve
// processes would, and waits for the periodic upkeep jobs to create
// partitions ahead, fold readings into the rollups and apply retention.
func TestUpkeepRunsOnRiver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.NewDB(t)
	log := slog.New(slog.DiscardHandler)
	store, err := schema.OpenStore(ctx, pool, log)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2031, 1, 10, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }

	// Readings from an hour ago, written as ingest would (with invalidations),
	// and one reading older than the retention period.
	readingAt := now.Add(-time.Hour)
	old := now.AddDate(0, 0, -100)
	if err := store.EnsurePartitions(ctx, readingAt, old); err != nil {
		t.Fatal(err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO readings (time, sensor_id, temp_c) VALUES ($1, 1, 3.5), ($1 + interval '1 minute', 1, 4.5), ($2, 1, 9)`, readingAt, old); err != nil {
			return err
		}
		return store.RecordWrites(ctx, tx, []time.Time{readingAt.Truncate(schema.Bucket5m)})
	})
	if err != nil {
		t.Fatal(err)
	}

	alerts, err := alerting.NewEvaluator(alerting.Config{Pool: pool, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		client, err := jobs.New(pool, store, jobs.Config{
			Alerting:       alerts,
			Work:           true,
			RollupInterval: time.Second,
			Upkeep:         schema.UpkeepConfig{PartitionsAhead: 3, Retention: 30 * 24 * time.Hour, Now: clock},
			Logger:         log,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := client.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = client.Stop(stopCtx)
		})
	}

	waitFor(t, pool, now, 8)

	// A second batch later: the periodic refresh runs again (a completed job
	// must not block the next one) and folds it in too.
	later := now.Add(-30 * time.Minute)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO readings (time, sensor_id, temp_c) VALUES ($1, 1, 2)`, later); err != nil {
			return err
		}
		return store.RecordWrites(ctx, tx, []time.Time{later.Truncate(schema.Bucket5m)})
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, pool, now, 10)
}

func waitFor(t *testing.T, pool *pgxpool.Pool, now time.Time, wantSum float64) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(45 * time.Second)
	for {
		var ahead, oldRows int
		var sum float64
		err := pool.QueryRow(ctx, `
			SELECT (SELECT count(*) FROM pg_class WHERE relname IN ('readings_p20310111', 'readings_p20310112', 'readings_p20310113')),
			       (SELECT coalesce(sum(t_sum), 0) FROM readings_1d),
			       (SELECT count(*) FROM readings WHERE time < $1)`, now.AddDate(0, 0, -31)).Scan(&ahead, &sum, &oldRows)
		if err != nil {
			t.Fatal(err)
		}
		if ahead == 3 && sum == wantSum && oldRows == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("upkeep did not run: %d of 3 partitions ahead, daily rollup sum %v (want %v), %d readings past retention", ahead, sum, wantSum, oldRows)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
