package schema

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/internal/database"
)

// Bucket widths of the downsampled series. All buckets are aligned to UTC
// midnight, in both storage modes.
const (
	Bucket5m = 5 * time.Minute
	Bucket1h = time.Hour
	Bucket1d = 24 * time.Hour
)

// Store is the storage-mode-specific part of writing and keeping readings:
// partitions, the downsampled series and retention. It is safe for concurrent
// use; several processes may run Stores on one database.
type Store struct {
	pool *pgxpool.Pool
	// session runs what needs a session of its own: pool, or PostgreSQL
	// itself when pool is a transaction pooler (OpenPooledStore).
	session *pgxpool.Pool
	mode    Mode
	log     *slog.Logger

	mu   sync.RWMutex
	days map[int64]bool // postgres mode: UTC days (unix days) known to have a partition
}

// OpenStore reads the storage mode of a migrated database.
func OpenStore(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) (*Store, error) {
	return OpenPooledStore(ctx, pool, pool, logger)
}

// OpenPooledStore is OpenStore for a pool behind a transaction pooler such
// as PgBouncer: the timescale mode's rollup refresh, which holds a session
// advisory lock across the commits of its refreshes, runs on session, a
// pool on PostgreSQL itself. Everything else uses pool.
func OpenPooledStore(ctx context.Context, pool, session *pgxpool.Pool, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.Default()
	}
	mode, err := StoredMode(ctx, pool)
	if err != nil {
		return nil, err
	}
	if mode == "" {
		return nil, fmt.Errorf("%w: no storage mode recorded; run `freshtrack migrate up`", ErrOutdated)
	}
	return &Store{pool: pool, session: session, mode: mode, log: logger, days: map[int64]bool{}}, nil
}

// Mode is the database's storage mode.
func (s *Store) Mode() Mode { return s.mode }

func unixDay(t time.Time) int64 { return t.Unix() / 86400 }

// EnsurePartitions makes sure readings at the given times have somewhere to
// go. In postgres mode it creates missing daily partitions (cached, so the
// common case costs a map lookup per distinct day); in timescale mode chunks
// are created by TimescaleDB itself. Call it before writing readings, outside
// the writing transaction.
func (s *Store) EnsurePartitions(ctx context.Context, times ...time.Time) error {
	if s.mode != Postgres {
		return nil
	}
	var missing []int64
	s.mu.RLock()
	for _, t := range times {
		d := unixDay(t)
		if !s.days[d] {
			missing = append(missing, d)
		}
	}
	s.mu.RUnlock()
	for _, d := range missing {
		s.mu.RLock()
		known := s.days[d]
		s.mu.RUnlock()
		if known {
			continue
		}
		day := time.Unix(d*86400, 0).UTC()
		var name string
		if err := s.pool.QueryRow(ctx, `SELECT freshtrack_readings_partition($1)`, day).Scan(&name); err != nil {
			return fmt.Errorf("create readings partition for %s: %w", day.Format(time.DateOnly), err)
		}
		s.mu.Lock()
		s.days[d] = true
		s.mu.Unlock()
	}
	return nil
}

// ForgetPartitions clears the cache of known partitions, so the next
// EnsurePartitions checks the database again (after another process's
// retention run dropped some).
func (s *Store) ForgetPartitions() {
	s.mu.Lock()
	clear(s.days)
	s.mu.Unlock()
}

// IsMissingPartition reports whether err is PostgreSQL refusing a row because
// no partition accepts it.
func IsMissingPartition(err error) bool {
	var pgErr *pgconn.PgError
	// 23514 check_violation is what "no partition of relation ... found for row" uses.
	return errors.As(err, &pgErr) && pgErr.Code == "23514" && pgErr.TableName == "readings"
}

// RecordWrites must be called in the transaction that writes readings, with
// the distinct 5-minute buckets (Truncate(Bucket5m)) that the write touched.
// It logs them in rollup_invalidations, from which RefreshRollups folds late
// readings into the downsampled series, in both storage modes.
func (s *Store) RecordWrites(ctx context.Context, tx database.Querier, buckets []time.Time) error {
	if len(buckets) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO rollup_invalidations (bucket) SELECT unnest($1::timestamptz[])`, buckets); err != nil {
		return fmt.Errorf("record rollup invalidations: %w", err)
	}
	return nil
}

// PrepareAhead creates the partitions for yesterday through days ahead of now
// (postgres mode; a no-op in timescale mode).
func (s *Store) PrepareAhead(ctx context.Context, now time.Time, days int) error {
	if s.mode != Postgres {
		return nil
	}
	times := make([]time.Time, 0, days+2)
	for d := -1; d <= days; d++ {
		times = append(times, now.AddDate(0, 0, d))
	}
	return s.EnsurePartitions(ctx, times...)
}

// RefreshResult says what a rollup refresh did.
type RefreshResult struct {
	// Skipped is set when another process held the refresh lock.
	Skipped bool
	// Buckets is the number of distinct logged 5-minute buckets
	// re-aggregated.
	Buckets int
	// Watermark is the new watermark: buckets before it are materialised.
	Watermark time.Time
	// HoursBehind is set when the packed hours (reading_hours) stopped
	// short of the watermark to bound the refresh; the next one goes on.
	HoursBehind bool
}

// RefreshGrace is how long after a 5-minute bucket ends the refresh waits
// before materialising it, so readings that arrive a little late land in the
// raw tail instead of going through the invalidation log.
const RefreshGrace = time.Minute

// RefreshRollups folds new and late readings into the downsampled series, the
// same way in both storage modes: every logged 5-minute bucket that ended
// before now minus RefreshGrace is re-aggregated, with the hours and days
// holding it, and the watermark moves up to there. Postgres mode rewrites its
// rollup tables; timescale mode refreshes the continuous aggregates over
// exactly those buckets and the new tail. A refresh already running elsewhere
// makes it return Skipped.
func (s *Store) RefreshRollups(ctx context.Context, now time.Time) (RefreshResult, error) {
	return s.refresh(ctx, now.Add(-RefreshGrace).Truncate(Bucket5m), false)
}

func (s *Store) refresh(ctx context.Context, watermark time.Time, wait bool) (RefreshResult, error) {
	if s.mode == Timescale {
		return refreshTimescaleRollups(ctx, s.session, watermark, wait)
	}
	return refreshPostgresRollups(ctx, s.pool, watermark, wait)
}

// Materialize brings the downsampled series fully up to date for readings in
// [from, to), for bulk loaders that wrote readings without RecordWrites and
// for tests: it logs every bucket of the range and refreshes up to the end
// of the last bucket that has ended by both to and the wall clock (minus
// RefreshGrace), waiting for a refresh running elsewhere. A bucket still in
// progress is left to the raw tail, so readings written into it later show
// at once.
func (s *Store) Materialize(ctx context.Context, from, to time.Time) error {
	var buckets []time.Time
	for b := from.Truncate(Bucket5m); b.Before(to); b = b.Add(Bucket5m) {
		buckets = append(buckets, b)
	}
	if err := s.RecordWrites(ctx, s.pool, buckets); err != nil {
		return err
	}
	watermark := minTime(to, time.Now().Add(-RefreshGrace)).Truncate(Bucket5m)
	for {
		res, err := s.refresh(ctx, watermark, true)
		if err != nil || !res.HoursBehind {
			return err
		}
	}
}

// ApplyRetention removes raw readings older than keep. Postgres mode drops
// whole daily partitions that ended before now-keep; timescale mode keeps
// its retention policy in step with keep.
func (s *Store) ApplyRetention(ctx context.Context, now time.Time, keep time.Duration) ([]string, error) {
	if err := pruneReadingHours(ctx, s.pool, now.Add(-keep)); err != nil {
		return nil, err
	}
	if s.mode == Timescale {
		return nil, syncTimescaleRetention(ctx, s.pool, keep)
	}
	dropped, err := dropPartitionsBefore(ctx, s.pool, now.Add(-keep))
	if len(dropped) > 0 {
		s.ForgetPartitions()
	}
	return dropped, err
}
