package schema

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/internal/database"
)

// This file holds all of the timescale mode's SQL outside its migration,
// written to the TimescaleDB 2.x documentation (checked against 2.28.3).

// The continuous aggregates are refreshed by FreshTrack, not by TimescaleDB's
// refresh policies, for two reasons measured on 2.28.3:
//   - TimescaleDB logs one invalidation per transaction, spanning its lowest to
//     its highest modified time, so a flush holding one 10-day-old reading
//     among live ones invalidates ten days of every sensor; the 5-minute
//     buckets in rollup_invalidations say exactly which buckets changed.
//   - A policy refreshes only [now - start_offset, now - end_offset], so a
//     backlog older than start_offset was never materialised, and two
//     overlapping refreshes fail ("due to a concurrent refresh").
// So the refresh works as in postgres mode: an advisory lock, the logged
// buckets below the watermark refreshed exactly, and the watermark advanced
// over the buckets that have ended; real-time aggregation serves the rest.
// What TimescaleDB's wider invalidations leave outside the refreshed buckets
// (already up to date) stays in its log, where overlapping entries merge:
// 3,000 flushes each mixing a random reading of the last 9 days with a live
// one left 24 entries there, and each refresh took about 15 ms.

// timescaleLevels are the continuous aggregates, finest first: each is built
// on the one before it, so they refresh in this order.
var timescaleLevels = []struct {
	view  string
	width time.Duration
}{{"readings_5m", Bucket5m}, {"readings_1h", Bucket1h}, {"readings_1d", Bucket1d}}

// refreshTimescaleRollups is refreshPostgresRollups for the timescale mode:
// every logged bucket before the stored watermark is re-materialised at
// every level, then each level is materialised up to watermark (floored to
// its own bucket, so a bucket still in progress stays real-time). Refreshes
// commit on their own (CALL refresh_continuous_aggregate refuses to run in a
// transaction block), so the lock is a session lock on one connection, and
// the log rows are deleted only after their buckets were refreshed: a crash
// in between refreshes them again, which is harmless.
func refreshTimescaleRollups(ctx context.Context, pool *pgxpool.Pool, watermark time.Time, wait bool) (RefreshResult, error) {
	res := RefreshResult{Watermark: watermark}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("refresh continuous aggregates: %w", err)
	}
	defer conn.Release()
	locked := true
	if wait {
		_, err = conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(rollupLockKey))
	} else {
		err = conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(rollupLockKey)).Scan(&locked)
	}
	if err != nil {
		return res, fmt.Errorf("refresh continuous aggregates: %w", err)
	}
	if !locked {
		res.Skipped = true
		return res, nil
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(rollupLockKey)); err != nil {
			// A lock that cannot be released must not go back to the pool.
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()

	// As in postgres mode, JIT compiling the refresh's aggregates costs more
	// than it saves (65 ms of a 340 ms bucket refresh on the 40M-row seed).
	if _, err := conn.Exec(ctx, `SET jit = off`); err != nil {
		return res, fmt.Errorf("refresh continuous aggregates: %w", err)
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), `RESET jit`) }()

	var old pgtype.Timestamptz
	if err := conn.QueryRow(ctx, `SELECT watermark FROM rollup_state`).Scan(&old); err != nil {
		return res, fmt.Errorf("read rollup watermark: %w", err)
	}
	// The log is insert-only and only this lock holder deletes from it, so a
	// row's ctid stays put until then.
	rows, err := conn.Query(ctx, `SELECT ctid, bucket FROM rollup_invalidations WHERE bucket < $1`, watermark)
	if err != nil {
		return res, fmt.Errorf("read rollup invalidations: %w", err)
	}
	var (
		ctids   []pgtype.TID
		buckets []time.Time
		ctid    pgtype.TID
		bucket  time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&ctid, &bucket}, func() error {
		ctids = append(ctids, ctid)
		buckets = append(buckets, bucket)
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("read rollup invalidations: %w", err)
	}
	slices.SortFunc(buckets, func(a, b time.Time) int { return a.Compare(b) })
	buckets = slices.CompactFunc(buckets, time.Time.Equal)
	res.Buckets = len(buckets)

	// oldEnd is where a level's materialisation ended before this refresh:
	// late buckets below it are refreshed exactly, and [oldEnd, newEnd) as the
	// level's new tail (which covers any logged bucket inside it).
	fine := spans(buckets, Bucket5m)
	for _, l := range timescaleLevels {
		var oldEnd *time.Time
		if old.Valid && old.InfinityModifier == pgtype.Finite {
			e := old.Time.Truncate(l.width)
			oldEnd = &e
		}
		newEnd := watermark.Truncate(l.width)
		if oldEnd != nil {
			for _, s := range widen(fine, l.width) {
				hi := minTime(s.hi, *oldEnd)
				if !s.lo.Before(hi) {
					continue
				}
				if err := refreshView(ctx, conn, l.view, &s.lo, hi); err != nil {
					return res, err
				}
			}
		}
		if oldEnd == nil || oldEnd.Before(newEnd) {
			if err := refreshView(ctx, conn, l.view, oldEnd, newEnd); err != nil {
				return res, err
			}
		}
	}
	// The packed hours are written before the log rows go, so an hour
	// rewritten for late readings is untrusted until it is complete.
	if res.HoursBehind, err = refreshReadingHours(ctx, conn, fine, watermark); err != nil {
		return res, err
	}
	if _, err := conn.Exec(ctx, `UPDATE rollup_state SET watermark = greatest(watermark, $1), refreshed_at = now()`, watermark); err != nil {
		return res, fmt.Errorf("advance rollup watermark: %w", err)
	}
	if len(ctids) > 0 {
		if _, err := conn.Exec(ctx, `DELETE FROM rollup_invalidations WHERE ctid = ANY($1::tid[])`, ctids); err != nil {
			return res, fmt.Errorf("clear rollup invalidations: %w", err)
		}
	}
	return res, nil
}

// refreshView materialises view over [lo, hi) (from the beginning when lo
// is nil). TimescaleDB re-aggregates only what is invalidated inside the
// window, so a window over unchanged buckets costs a catalog lookup.
func refreshView(ctx context.Context, conn *pgxpool.Conn, view string, lo *time.Time, hi time.Time) error {
	if _, err := conn.Exec(ctx, `CALL refresh_continuous_aggregate($1::regclass, $2::timestamptz, $3::timestamptz)`, view, lo, hi); err != nil {
		return fmt.Errorf("refresh %s: %w", view, err)
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
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

// FailingJob is a TimescaleDB background job (a columnstore or retention
// policy, or any other job in the database) whose last run failed.
type FailingJob struct {
	// ID is the job's id (timescaledb_information.jobs.job_id).
	ID int `json:"job_id"`
	// Name is the job's application name, e.g. "Retention Policy [1002]".
	Name string `json:"name"`
	// Hypertable is the table the job works on; empty for others.
	Hypertable string `json:"hypertable,omitempty"`
	// FailedAt is when the failed run started.
	FailedAt time.Time `json:"failed_at"`
	// Failures is how many runs have failed in all.
	Failures int64 `json:"failures"`
	// LastError is the failed run's error with its SQLSTATE, or empty when
	// TimescaleDB kept none.
	LastError string `json:"last_error,omitempty"`
}

// timescaleFailingJobs lists the TimescaleDB background jobs whose last run
// failed, each with its newest recorded error, for readiness reporting.
func timescaleFailingJobs(ctx context.Context, db database.Querier) ([]FailingJob, error) {
	rows, err := db.Query(ctx, `
		SELECT s.job_id, j.application_name, coalesce(s.hypertable_name::text, ''), s.last_run_started_at,
		       coalesce(s.total_failures, 0), coalesce(e.err_message || ' (SQLSTATE ' || e.sqlerrcode || ')', e.err_message, '')
		  FROM timescaledb_information.job_stats s
		  JOIN timescaledb_information.jobs j ON j.job_id = s.job_id
		  LEFT JOIN LATERAL (
		        SELECT err_message, sqlerrcode FROM timescaledb_information.job_errors e
		         WHERE e.job_id = s.job_id ORDER BY e.start_time DESC LIMIT 1) e ON true
		 WHERE s.last_run_status = 'Failed'
		 ORDER BY s.job_id`)
	if err != nil {
		return nil, fmt.Errorf("read timescaledb job stats: %w", err)
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FailingJob, error) {
		var j FailingJob
		err := r.Scan(&j.ID, &j.Name, &j.Hypertable, &j.FailedAt, &j.Failures, &j.LastError)
		return j, err
	})
	if err != nil {
		return nil, fmt.Errorf("read timescaledb job stats: %w", err)
	}
	return jobs, nil
}
