package jobs_test

import (
	"context"
	"fmt"
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
// partitions ahead, fold readings into the rollups and apply retention
// (postgres mode), or to refresh the continuous aggregates and keep the
// retention policy in step (timescale mode).
func TestUpkeepRunsOnRiver(t *testing.T) {
	t.Parallel()
	for _, mode := range []schema.Mode{schema.Postgres, schema.Timescale} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			upkeepRunsOnRiver(t, mode)
		})
	}
}

func upkeepRunsOnRiver(t *testing.T, mode schema.Mode) {
	ctx := context.Background()
	pool := pgtest.NewDB(t, pgtest.WithMode(mode))
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

	waitFor(t, mode, pool, now, 8)

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
	waitFor(t, mode, pool, now, 10)
}

// waitFor polls until upkeep has done its work: the daily series sums to
// wantSum with nothing left in the invalidation log and the watermark at
// now's last finished bucket; in postgres mode three partitions exist ahead
// and the reading past retention is gone, in timescale mode the retention
// policy drops after 30 days (TimescaleDB's scheduler runs it on the wall
// clock, which this test's clock is not).
func waitFor(t *testing.T, mode schema.Mode, pool *pgxpool.Pool, now time.Time, wantSum float64) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(45 * time.Second)
	watermark := now.Add(-schema.RefreshGrace).Truncate(schema.Bucket5m)
	for {
		var (
			sum     float64
			at      bool
			reached string
			pending int
		)
		err := pool.QueryRow(ctx, `
			SELECT (SELECT coalesce(sum(t_sum), 0) FROM readings_1d WHERE bucket >= $1),
			       watermark = $2, watermark::text, (SELECT count(*) FROM rollup_invalidations)
			  FROM rollup_state`,
			now.AddDate(0, 0, -1), watermark).Scan(&sum, &at, &reached, &pending)
		if err != nil {
			t.Fatal(err)
		}
		done := at && pending == 0
		status := fmt.Sprintf("daily rollup sum %v (want %v), watermark %v (want %v), %d buckets pending", sum, wantSum, reached, watermark, pending)
		if mode == schema.Postgres {
			var ahead, oldRows int
			err = pool.QueryRow(ctx, `
				SELECT (SELECT count(*) FROM pg_class WHERE relname IN ('readings_p20310111', 'readings_p20310112', 'readings_p20310113')),
				       (SELECT count(*) FROM readings WHERE time < $1)`, now.AddDate(0, 0, -31)).Scan(&ahead, &oldRows)
			done = done && ahead == 3 && oldRows == 0
			status += fmt.Sprintf(", %d of 3 partitions ahead, %d readings past retention", ahead, oldRows)
		} else {
			var policy bool
			err = pool.QueryRow(ctx, `
				SELECT EXISTS (SELECT FROM timescaledb_information.jobs
				                WHERE proc_name = 'policy_retention' AND hypertable_name = 'readings'
				                  AND (config->>'drop_after')::interval = interval '30 days')`).Scan(&policy)
			done = done && policy
			status += fmt.Sprintf(", retention policy of 30 days: %v", policy)
		}
		if err != nil {
			t.Fatal(err)
		}
		if done && sum == wantSum {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("upkeep did not run: %s", status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
