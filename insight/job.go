package insight

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/freshtrack/freshtrack/alerting"
)

// RunArgs asks for one run of the detectors over every unit that needs it
// (Runner.Run). PeriodicJob enqueues it every DefaultInterval on the River
// leader, so several serve processes run it once per period between them.
type RunArgs struct{}

// Kind implements river.JobArgs.
func (RunArgs) Kind() string { return "insight_run" }

// InsertOpts puts runs on the alerting queue (their alerts are as urgent as
// the sweep's), at most one waiting or running at a time, never retried: a
// failed run is followed by the next, which picks up where it stopped.
func (RunArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       alerting.QueueAlerting,
		MaxAttempts: 1,
		UniqueOpts: river.UniqueOpts{ByQueue: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled,
		}},
	}
}

// Worker runs RunArgs.
type Worker struct {
	river.WorkerDefaults[RunArgs]
	Runner *Runner
}

// Timeout bounds one run.
func (w *Worker) Timeout(*river.Job[RunArgs]) time.Duration { return 5 * time.Minute }

// Work implements river.Worker.
func (w *Worker) Work(ctx context.Context, _ *river.Job[RunArgs]) error {
	res, err := w.Runner.Run(ctx)
	if res.Raised > 0 || res.Cleared > 0 {
		w.Runner.cfg.Logger.Info("food-safety checks", "units", res.Units, "raised", res.Raised, "cleared", res.Cleared)
	}
	return err
}

// DefaultInterval is how often the detectors run: door and cooling alerts
// are at most this late.
const DefaultInterval = time.Minute

// PeriodicJob enqueues RunArgs every interval (DefaultInterval when zero),
// and once when the River leader starts.
func PeriodicJob(interval time.Duration) *river.PeriodicJob {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return RunArgs{}, nil },
		&river.PeriodicJobOpts{ID: RunArgs{}.Kind(), RunOnStart: true})
}
