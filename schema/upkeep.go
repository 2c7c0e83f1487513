package schema

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
)

// Storage upkeep runs as River periodic jobs (scheduled by package jobs).
// River enqueues periodic jobs only on its elected leader and the jobs are
// unique while pending, and each worker is idempotent and takes a database
// lock where two runs could collide, so several serve processes on one
// database never double-apply anything.

// UpkeepConfig is what the upkeep workers need from configuration.
type UpkeepConfig struct {
	// PartitionsAhead is how many days of partitions to keep ready.
	PartitionsAhead int
	// Retention is how long raw readings are kept.
	Retention time.Duration
	// Now returns the current time. Defaults to time.Now.
	Now func() time.Time
}

func (c UpkeepConfig) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// PartitionsArgs asks for readings partitions ahead of time.
type PartitionsArgs struct{}

// Kind implements river.JobArgs.
func (PartitionsArgs) Kind() string { return "storage_partitions" }

// PartitionsWorker creates readings partitions ahead of time.
type PartitionsWorker struct {
	river.WorkerDefaults[PartitionsArgs]
	Store  *Store
	Config UpkeepConfig
}

// Work implements river.Worker.
func (w *PartitionsWorker) Work(ctx context.Context, _ *river.Job[PartitionsArgs]) error {
	return w.Store.PrepareAhead(ctx, w.Config.now(), w.Config.PartitionsAhead)
}

// RollupArgs asks for a refresh of the downsampled series.
type RollupArgs struct{}

// Kind implements river.JobArgs.
func (RollupArgs) Kind() string { return "storage_rollup" }

// RollupWorker refreshes the downsampled series (postgres mode).
type RollupWorker struct {
	river.WorkerDefaults[RollupArgs]
	Store  *Store
	Config UpkeepConfig
}

// Timeout allows for large backfills.
func (w *RollupWorker) Timeout(*river.Job[RollupArgs]) time.Duration { return 15 * time.Minute }

// Work implements river.Worker.
func (w *RollupWorker) Work(ctx context.Context, _ *river.Job[RollupArgs]) error {
	res, err := w.Store.RefreshRollups(ctx, w.Config.now())
	if err != nil {
		return err
	}
	if res.Buckets > 0 {
		w.Store.log.Debug("rollups refreshed", slog.Int("buckets", res.Buckets), slog.Time("watermark", res.Watermark))
	}
	return nil
}

// RetentionArgs asks for old readings to be removed.
type RetentionArgs struct{}

// Kind implements river.JobArgs.
func (RetentionArgs) Kind() string { return "storage_retention" }

// RetentionWorker applies the retention period.
type RetentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	Store  *Store
	Config UpkeepConfig
}

// Work implements river.Worker.
func (w *RetentionWorker) Work(ctx context.Context, _ *river.Job[RetentionArgs]) error {
	dropped, err := w.Store.ApplyRetention(ctx, w.Config.now(), w.Config.Retention)
	if len(dropped) > 0 {
		w.Store.log.Info("retention dropped readings partitions", slog.Any("partitions", dropped))
	}
	return err
}
