package digest

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/freshtrack/freshtrack/notify"
)

// DefaultInterval is how often PeriodicJob looks for due digests.
const DefaultInterval = 5 * time.Minute

// RunArgs asks for one RunDue (kind "digest_run", queue notify.QueueNotify).
type RunArgs struct{}

var (
	_ river.JobArgsWithInsertOpts = RunArgs{}
	_ river.Worker[RunArgs]       = (*Worker)(nil)
)

// Kind implements river.JobArgs.
func (RunArgs) Kind() string { return "digest_run" }

// InsertOpts implements river.JobArgsWithInsertOpts: queue notify, up to 3
// attempts, and at most one run waiting, running or retrying at a time.
// Completed runs do not count, or River's default uniqueness would skip
// every run until the completed row is cleaned up a day later.
func (RunArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       notify.QueueNotify,
		MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByQueue: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled,
		}},
	}
}

// Worker runs RunArgs jobs.
type Worker struct {
	river.WorkerDefaults[RunArgs]
	// Sender does the work.
	Sender *Sender
}

// Timeout bounds one run.
func (w *Worker) Timeout(*river.Job[RunArgs]) time.Duration { return 5 * time.Minute }

// Work implements river.Worker. A subscription that fails does not stop the
// others; the run then fails too, and River retries it, which only sends
// what is still due.
func (w *Worker) Work(ctx context.Context, _ *river.Job[RunArgs]) error {
	_, err := w.Sender.RunDue(ctx)
	return err
}

// PeriodicJob enqueues RunArgs every interval (DefaultInterval when zero or
// less) and once when the River leader starts. A digest goes out within one
// interval of its due time.
func PeriodicJob(every time.Duration) *river.PeriodicJob {
	if every <= 0 {
		every = DefaultInterval
	}
	return river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) { return RunArgs{}, nil },
		&river.PeriodicJobOpts{ID: RunArgs{}.Kind(), RunOnStart: true})
}
