package schema

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// This file holds all of the timescale mode's SQL outside its migration,
// written to the TimescaleDB 2.x documentation (checked against 2.28.3).

// refreshTimescaleAggregates refreshes the continuous aggregates, finest
// first, over [from, to) widened to whole buckets. CALL refresh must run
// outside a transaction block, which a plain pool Exec is.
func refreshTimescaleAggregates(ctx context.Context, pool *pgxpool.Pool, from, to time.Time) error {
	for _, v := range []struct {
		view  string
		width time.Duration
	}{{"readings_5m", Bucket5m}, {"readings_1h", Bucket1h}, {"readings_1d", Bucket1d}} {
		lo, hi := from.Truncate(v.width), to.Truncate(v.width).Add(v.width)
		if _, err := pool.Exec(ctx, `CALL refresh_continuous_aggregate($1::regclass, $2::timestamptz, $3::timestamptz)`, v.view, lo, hi); err != nil {
			return fmt.Errorf("refresh %s: %w", v.view, err)
		}
	}
	return nil
}

// syncTimescaleRetention makes the readings retention policy drop chunks
// older than keep, replacing a policy with another interval.
func syncTimescaleRetention(ctx context.Context, pool *pgxpool.Pool, keep time.Duration) error {
	want := fmt.Sprintf("%d seconds", int64(keep/time.Second))
	var same bool
	err := pool.QueryRow(ctx, `
		SELECT (config->>'drop_after')::interval = $1::interval
		  FROM timescaledb_information.jobs
		 WHERE proc_name = 'policy_retention' AND hypertable_name = 'readings'`, want).Scan(&same)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("read retention policy: %w", err)
	}
	if same {
		return nil
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT remove_retention_policy('readings', if_exists => true)`); err != nil {
			return fmt.Errorf("remove retention policy: %w", err)
		}
		if _, err := tx.Exec(ctx, `SELECT add_retention_policy('readings', drop_after => $1::interval)`, want); err != nil {
			return fmt.Errorf("add retention policy: %w", err)
		}
		return nil
	})
}

// timescaleFailingJobs counts TimescaleDB background jobs whose last run
// failed, for readiness reporting.
func timescaleFailingJobs(ctx context.Context, db Querier) (int, error) {
	var n int
	err := db.QueryRow(ctx, `SELECT count(*) FROM timescaledb_information.job_stats WHERE last_run_status = 'Failed'`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("read timescaledb job stats: %w", err)
	}
	return n, nil
}
