package seedimport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/internal/database"
)

// import_runs and import_chunks (migration 0012): a run's bounds and the
// chunks of readings it has committed.

// ErrNoImport means --since (or --verify) found no finished import.
var ErrNoImport = errors.New("no finished import from FreshTrack Pro in this database")

type run struct {
	ID           int64
	Kind         string
	Unit         string
	SnapshotAt   time.Time
	ReadingsFrom *time.Time
	ReadingsTo   *time.Time
	ReceivedFrom *time.Time
	Resumed      bool
}

const runColumns = `id, kind, readings_unit, source_snapshot_at, readings_from, readings_to, received_from`

func scanRun(row pgx.Row) (*run, error) {
	r := &run{}
	err := row.Scan(&r.ID, &r.Kind, &r.Unit, &r.SnapshotAt, &r.ReadingsFrom, &r.ReadingsTo, &r.ReceivedFrom)
	return r, err
}

// openRun continues the run in progress, or starts one. kind is full or
// since; readingsTo is the newest reading of the source's snapshot.
func openRun(ctx context.Context, pool *pgxpool.Pool, o Options, kind string, src *source, readingsTo *time.Time) (*run, error) {
	open, err := scanRun(pool.QueryRow(ctx, `SELECT `+runColumns+` FROM import_runs WHERE finished_at IS NULL`))
	switch {
	case err == nil:
		if open.Kind != kind {
			flag := map[string]string{"full": "without --since", "since": "with --since"}[open.Kind]
			return nil, fmt.Errorf("import run %d (%s) was interrupted and is not finished: run it again %s first", open.ID, open.Kind, flag)
		}
		if open.Unit != o.ReadingsUnit {
			return nil, fmt.Errorf("import run %d was started with --readings-unit %s: continue it with the same unit", open.ID, open.Unit)
		}
		open.Resumed = true
		return open, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, fmt.Errorf("read import runs: %w", err)
	}
	r := &run{Kind: kind, Unit: o.ReadingsUnit, SnapshotAt: src.At, ReadingsTo: readingsTo}
	if kind == "since" {
		last, err := lastRun(ctx, pool)
		if err != nil {
			return nil, err
		}
		r.ReadingsFrom = last.ReadingsTo
		r.ReceivedFrom = ptr(last.SnapshotAt.Add(-SinceSlack))
		if r.ReadingsTo == nil || (r.ReadingsFrom != nil && r.ReadingsTo.Before(*r.ReadingsFrom)) {
			r.ReadingsTo = r.ReadingsFrom
		}
	}
	err = pool.QueryRow(ctx, `
		INSERT INTO import_runs (source, kind, readings_unit, source_snapshot_at, readings_from, readings_to, received_from)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		redactURL(o.Source), kind, o.ReadingsUnit, r.SnapshotAt, r.ReadingsFrom, r.ReadingsTo, r.ReceivedFrom).Scan(&r.ID)
	if err != nil {
		return nil, fmt.Errorf("start import run: %w", err)
	}
	return r, nil
}

// lastRun is the newest finished run.
func lastRun(ctx context.Context, db database.Querier) (*run, error) {
	r, err := scanRun(db.QueryRow(ctx, `SELECT `+runColumns+` FROM import_runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1`))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: run a full import first (without --since)", ErrNoImport)
	}
	if err != nil {
		return nil, fmt.Errorf("read import runs: %w", err)
	}
	return r, nil
}

// doneChunks lists the chunk starts a run has committed.
func doneChunks(ctx context.Context, db database.Querier, runID int64) (map[int64]bool, error) {
	rows, err := db.Query(ctx, `SELECT chunk_from FROM import_chunks WHERE run_id = $1`, runID)
	if err != nil {
		return nil, fmt.Errorf("read import chunks: %w", err)
	}
	done := map[int64]bool{}
	var t time.Time
	_, err = pgx.ForEachRow(rows, []any{&t}, func() error {
		done[t.UnixMicro()] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read import chunks: %w", err)
	}
	return done, nil
}

// chunkTotals sums a run's committed chunks.
func chunkTotals(ctx context.Context, db database.Querier, runID int64) (streamStats, int64, error) {
	var s streamStats
	var present int64
	err := db.QueryRow(ctx, `
		SELECT coalesce(sum(rows_read), 0), coalesce(sum(rows_written), 0), coalesce(sum(rows_collapsed), 0),
		       coalesce(sum(faults), 0), coalesce(sum(rows_skipped), 0), coalesce(sum(rows_present), 0)
		  FROM import_chunks WHERE run_id = $1`, runID).Scan(&s.Read, &s.Written, &s.Collapsed, &s.Faults, &s.Skipped, &present)
	if err != nil {
		return s, 0, fmt.Errorf("read import chunks: %w", err)
	}
	return s, present, nil
}

func finishRun(ctx context.Context, db database.Querier, runID int64, rep *Report) error {
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	if _, err := db.Exec(ctx, `UPDATE import_runs SET finished_at = now(), updated_at = now(), report = $2 WHERE id = $1`, runID, json.RawMessage(b)); err != nil {
		return fmt.Errorf("finish import run: %w", err)
	}
	return nil
}
