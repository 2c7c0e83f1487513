package schema

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/internal/database"
)

// This file keeps reading_hours, the HACCP report's packed copy of the
// readings (see migration 0021), in both storage modes. It runs inside the
// rollup refresh, after the downsampled series, under the same lock.

// ReadingHourWidth is the time one reading_hours row covers.
const ReadingHourWidth = time.Hour

// packBudget bounds the hours one refresh packs beyond the late ones, so
// that the first refresh after migration 0021 on a database with years of
// readings commits in steps well inside the job's timeout (29 s packed a
// month of 900 sensors, 40M readings, here); readers take the hours not
// packed yet from readings meanwhile.
const packBudget = 14 * 24 * time.Hour

// refreshReadingHours rewrites the hours holding late readings (the logged
// 5-minute buckets fine, below the old hours_through) and packs the hours
// that have ended since, up to watermark floored to the hour, then moves
// hours_through there. Each statement is atomic on its own, and
// hours_through moves only after the rows below it are written, so a reader
// never trusts an hour that is not complete; an hour rewritten for late
// readings stays untrusted by readers until its log rows are gone.
func refreshReadingHours(ctx context.Context, q database.Querier, fine []span, watermark time.Time) (behind bool, err error) {
	var through pgtype.Timestamptz
	if err := q.QueryRow(ctx, `SELECT hours_through FROM rollup_state`).Scan(&through); err != nil {
		return false, fmt.Errorf("read reading hours watermark: %w", err)
	}
	newThrough := watermark.Truncate(ReadingHourWidth)
	known := through.Valid && through.InfinityModifier == pgtype.Finite
	start := newThrough
	if known {
		start = through.Time
		for _, s := range widen(fine, ReadingHourWidth) {
			if hi := minTime(s.hi, start); s.lo.Before(hi) {
				if err := packHours(ctx, q, s.lo, hi); err != nil {
					return false, err
				}
			}
		}
	} else {
		// The first refresh after the table was created starts packing
		// history (packBudget at a time) from the first day the rollups
		// hold: every reading below the watermark is in them.
		var first pgtype.Timestamptz
		if err := q.QueryRow(ctx, `SELECT min(bucket) FROM readings_1d`).Scan(&first); err != nil {
			return false, fmt.Errorf("find first reading day: %w", err)
		}
		if first.Valid && first.InfinityModifier == pgtype.Finite && first.Time.Before(start) {
			start = first.Time.Truncate(ReadingHourWidth)
		}
	}
	if limit := start.Add(packBudget); limit.Before(newThrough) {
		newThrough, behind = limit, true
	}
	// A day per statement bounds each statement's sort on a backfill.
	for lo := start; lo.Before(newThrough); {
		hi := minTime(lo.Truncate(Bucket1d).Add(Bucket1d), newThrough)
		if err := packHours(ctx, q, lo, hi); err != nil {
			return false, err
		}
		lo = hi
	}
	if !known || newThrough.After(through.Time) {
		if _, err := q.Exec(ctx, `UPDATE rollup_state SET hours_through = $1`, newThrough); err != nil {
			return false, fmt.Errorf("advance reading hours watermark: %w", err)
		}
	}
	return behind, nil
}

// packHours (re)writes the reading_hours rows of the hours in [lo, hi).
// Readings are never deleted inside the retention period, so an upsert
// leaves no stale row behind.
func packHours(ctx context.Context, q database.Querier, lo, hi time.Time) error {
	_, err := q.Exec(ctx, `
		INSERT INTO reading_hours (sensor_id, hour, n, readings)
		SELECT sensor_id, date_bin('1 hour', time, timestamptz '2000-01-01 00:00:00+00'), count(*),
		       string_agg(timestamptz_send(time) || float8send(temp_c), ''::bytea ORDER BY time)
		  FROM readings WHERE time >= $1 AND time < $2
		 GROUP BY 1, 2
		ON CONFLICT (sensor_id, hour) DO UPDATE SET n = excluded.n, readings = excluded.readings`, lo, hi)
	if err != nil {
		return fmt.Errorf("pack reading hours: %w", err)
	}
	return nil
}

// pruneReadingHours forgets the packed hours before cutoff (floored to the
// hour): readers are told first (hours_from), so from then on they read
// those hours from readings, whatever retention left there.
func pruneReadingHours(ctx context.Context, pool *pgxpool.Pool, cutoff time.Time) error {
	cutoff = cutoff.Truncate(ReadingHourWidth)
	if _, err := pool.Exec(ctx, `UPDATE rollup_state SET hours_from = greatest(hours_from, $1)`, cutoff); err != nil {
		return fmt.Errorf("prune reading hours: %w", err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM reading_hours WHERE hour < $1`, cutoff); err != nil {
		return fmt.Errorf("prune reading hours: %w", err)
	}
	return nil
}
