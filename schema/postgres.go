package schema

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// This file holds the postgres mode's upkeep: rollup refresh and partition
// retention. Its tables come from migrations/postgres.

const rollupLockKey = 0x46726573_68547232 // "FreshTr2"

type span struct{ lo, hi time.Time }

// spans merges sorted bucket starts of width w into contiguous [lo, hi) spans.
func spans(starts []time.Time, w time.Duration) []span {
	var out []span
	for _, b := range starts {
		lo, hi := b.Truncate(w), b.Truncate(w).Add(w)
		if n := len(out); n > 0 && !lo.After(out[n-1].hi) {
			if hi.After(out[n-1].hi) {
				out[n-1].hi = hi
			}
			continue
		}
		out = append(out, span{lo, hi})
	}
	return out
}

// widen re-aligns spans to a coarser bucket width and merges them.
func widen(in []span, w time.Duration) []span {
	var starts []time.Time
	for _, s := range in {
		for b := s.lo.Truncate(w); b.Before(s.hi); b = b.Add(w) {
			starts = append(starts, b)
		}
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	return spans(starts, w)
}

func refreshPostgresRollups(ctx context.Context, pool *pgxpool.Pool, watermark time.Time, wait bool) (RefreshResult, error) {
	res := RefreshResult{Watermark: watermark}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		locked := true
		var err error
		if wait {
			_, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(rollupLockKey))
		} else {
			err = tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, int64(rollupLockKey)).Scan(&locked)
		}
		if err != nil {
			return err
		}
		if !locked {
			res.Skipped = true
			return nil
		}
		// The planner overestimates these small range aggregates, and JIT
		// compiling them cost up to a second a statement on the 40M-row seed.
		if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			WITH taken AS (DELETE FROM rollup_invalidations WHERE bucket < $1 RETURNING bucket)
			SELECT DISTINCT bucket FROM taken ORDER BY bucket`, watermark)
		if err != nil {
			return err
		}
		buckets, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
		if err != nil {
			return err
		}
		res.Buckets = len(buckets)
		fine := spans(buckets, Bucket5m)
		for _, s := range fine {
			if _, err := tx.Exec(ctx, `
				INSERT INTO readings_5m (sensor_id, bucket, t_min, t_max, t_sum, n)
				SELECT sensor_id, date_bin('5 minutes', time, timestamptz '2000-01-01 00:00:00+00'),
				       min(temp_c), max(temp_c), sum(temp_c), count(*)
				  FROM readings WHERE time >= $1 AND time < $2
				 GROUP BY 1, 2
				ON CONFLICT (sensor_id, bucket) DO UPDATE
				   SET t_min = excluded.t_min, t_max = excluded.t_max, t_sum = excluded.t_sum, n = excluded.n`,
				s.lo, s.hi); err != nil {
				return fmt.Errorf("refresh 5m rollup: %w", err)
			}
		}
		hours := widen(fine, Bucket1h)
		for _, s := range hours {
			if err := foldRollup(ctx, tx, "readings_5m", "readings_1h", "1 hour", s); err != nil {
				return err
			}
		}
		for _, s := range widen(hours, Bucket1d) {
			if err := foldRollup(ctx, tx, "readings_1h", "readings_1d", "1 day", s); err != nil {
				return err
			}
		}
		if res.HoursBehind, err = refreshReadingHours(ctx, tx, fine, watermark); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE rollup_state SET watermark = greatest(watermark, $1), refreshed_at = now()`, watermark)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("refresh rollups: %w", err)
	}
	return res, nil
}

// foldRollup recomputes the coarser rollup to from the finer from over span s.
// Table names are constants of this file, never input.
func foldRollup(ctx context.Context, tx pgx.Tx, from, to, width string, s span) error {
	_, err := tx.Exec(ctx, fmt.Sprintf(`
		INSERT INTO %[2]s (sensor_id, bucket, t_min, t_max, t_sum, n)
		SELECT sensor_id, date_bin('%[3]s', bucket, timestamptz '2000-01-01 00:00:00+00'),
		       min(t_min), max(t_max), sum(t_sum), sum(n)
		  FROM %[1]s WHERE bucket >= $1 AND bucket < $2
		 GROUP BY 1, 2
		ON CONFLICT (sensor_id, bucket) DO UPDATE
		   SET t_min = excluded.t_min, t_max = excluded.t_max, t_sum = excluded.t_sum, n = excluded.n`, from, to, width),
		s.lo, s.hi)
	if err != nil {
		return fmt.Errorf("refresh %s: %w", to, err)
	}
	return nil
}

// dropPartitionsBefore drops the daily readings partitions that end at or
// before cutoff and returns their names. Each is first detached with
// DETACH PARTITION ... CONCURRENTLY, which never takes ACCESS EXCLUSIVE on
// readings (a plain DROP TABLE does, and every COPY would queue behind it),
// then dropped on its own. A detach that a crash interrupted is finished
// (FINALIZE), and a detached day table left by one is dropped.
func dropPartitionsBefore(ctx context.Context, pool *pgxpool.Pool, cutoff time.Time) ([]string, error) {
	rows, err := pool.Query(ctx, `
		SELECT c.relname, coalesce(i.inhdetachpending, false), i.inhrelid IS NULL
		  FROM pg_class c
		  LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = 'readings'::regclass
		 WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace
		   AND c.relname ~ '^readings_p[0-9]{8}$'
		 ORDER BY c.relname`)
	if err != nil {
		return nil, fmt.Errorf("list readings partitions: %w", err)
	}
	type part struct {
		name              string
		pending, detached bool
	}
	var parts []part
	var p part
	if _, err := pgx.ForEachRow(rows, []any{&p.name, &p.pending, &p.detached}, func() error {
		parts = append(parts, p)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list readings partitions: %w", err)
	}
	var dropped []string
	for _, p := range parts {
		day, err := time.Parse("readings_p20060102", p.name)
		if err != nil || day.Add(Bucket1d).After(cutoff) {
			continue
		}
		id := pgx.Identifier{p.name}.Sanitize()
		switch {
		case p.pending:
			_, err = pool.Exec(ctx, `ALTER TABLE readings DETACH PARTITION `+id+` FINALIZE`)
		case !p.detached:
			// Not in a transaction block: CONCURRENTLY refuses one.
			_, err = pool.Exec(ctx, `ALTER TABLE readings DETACH PARTITION `+id+` CONCURRENTLY`)
		}
		if err != nil {
			return dropped, fmt.Errorf("detach partition %s: %w", p.name, err)
		}
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '5s'`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `DROP TABLE `+id)
			return err
		})
		if err != nil {
			return dropped, fmt.Errorf("drop partition %s: %w", p.name, err)
		}
		dropped = append(dropped, p.name)
	}
	return dropped, nil
}
