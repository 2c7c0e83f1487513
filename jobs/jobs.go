package jobs

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/billing"
	"github.com/freshtrack/freshtrack/digest"
	"github.com/freshtrack/freshtrack/insight"
	"github.com/freshtrack/freshtrack/notify"
	"github.com/freshtrack/freshtrack/schema"
)

// Queues.
const (
	// QueueUpkeep runs storage upkeep, away from alert and notification work.
	QueueUpkeep = "upkeep"
)

// Config configures the River client.
type Config struct {
	// Workers is the number of concurrent jobs on the default queue. Defaults to 10.
	Workers int
	// Work starts workers; without it the client only inserts jobs (a
	// process running only the api or ingest roles).
	Work bool
	// RollupInterval is how often the downsampled series are refreshed.
	// Defaults to 5s.
	RollupInterval time.Duration
	// Upkeep configures the storage upkeep workers.
	Upkeep schema.UpkeepConfig
	// SMS and Email send notifications; nil ones make those notifications
	// fail as not configured.
	SMS, Email notify.Sender
	// SMSLimits caps SMS per number and per organisation (zero fields take
	// notify's defaults).
	SMSLimits notify.SMSLimits
	// Alerting runs the alert sweep and escalation jobs. Required with Work.
	Alerting *alerting.Evaluator
	// Insight runs the food-safety detectors every InsightInterval; nil
	// runs none.
	Insight *insight.Runner
	// InsightInterval defaults to insight.DefaultInterval.
	InsightInterval time.Duration
	// Digests sends the daily and weekly digest emails; nil sends none.
	Digests *digest.Sender
	// Billing sends the usage meters hourly when it has Stripe; nil (or
	// without Stripe) sends none.
	Billing *billing.Service
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Sessions carries River's own work: its LISTEN for new jobs and
	// leadership, fetching and completing jobs, leader election and
	// maintenance. When New's pool is a transaction pooler such as
	// PgBouncer, Sessions is PostgreSQL itself: LISTEN needs a session,
	// and River's few connections are not worth a pooler's polling mode
	// (PollOnly), which would delay every job by a poll. The workers'
	// own queries use New's pool. Defaults to New's pool.
	Sessions *pgxpool.Pool
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Workers = cmp.Or(c.Workers, 10)
	c.RollupInterval = cmp.Or(c.RollupInterval, 5*time.Second)
	return c
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Workers < 1 || c.Workers > 10_000:
		return fmt.Errorf("jobs: Config.Workers %d must be between 1 and 10000", c.Workers)
	case c.RollupInterval < 100*time.Millisecond:
		return fmt.Errorf("jobs: Config.RollupInterval %s must be at least 100ms", c.RollupInterval)
	case c.Work && c.Alerting == nil:
		return fmt.Errorf("jobs: Config.Alerting is required for a client that works jobs")
	}
	return nil
}

// New returns a River client on Config.Sessions (pool by default) with
// every FreshTrack worker registered, their queries on pool, and the
// periodic schedule set. Start it with Start; stop it with Stop.
func New(pool *pgxpool.Pool, store *schema.Store, cfg Config) (*river.Client[pgx.Tx], error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// River reports routine activity (job counts every few seconds) at info;
	// keep its warnings and errors only.
	rc := &river.Config{Logger: slog.New(minLevel{cfg.Logger.Handler(), slog.LevelWarn})}
	if cfg.Work {
		workers := river.NewWorkers()
		river.AddWorker(workers, &schema.PartitionsWorker{Store: store, Config: cfg.Upkeep})
		river.AddWorker(workers, &schema.RollupWorker{Store: store, Config: cfg.Upkeep})
		river.AddWorker(workers, &schema.RetentionWorker{Store: store, Config: cfg.Upkeep})
		river.AddWorker(workers, &notify.SendWorker{DB: pool, SMS: cfg.SMS, Email: cfg.Email, SMSLimits: cfg.SMSLimits, Logger: cfg.Logger})
		river.AddWorker(workers, &alerting.SweepWorker{Evaluator: cfg.Alerting})
		river.AddWorker(workers, &alerting.EscalateWorker{Evaluator: cfg.Alerting})
		river.AddWorker(workers, &alerting.DeferredWorker{Evaluator: cfg.Alerting})
		river.AddWorker(workers, &alerting.RemindWorker{Evaluator: cfg.Alerting})
		if cfg.Insight != nil {
			river.AddWorker(workers, &insight.Worker{Runner: cfg.Insight})
		}
		if cfg.Digests != nil {
			river.AddWorker(workers, &digest.Worker{Sender: cfg.Digests})
		}
		if cfg.Billing != nil && cfg.Billing.Configured() {
			river.AddWorker(workers, &billing.MeterWorker{Service: cfg.Billing})
		}
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{
			river.QueueDefault:     {MaxWorkers: cfg.Workers},
			QueueUpkeep:            {MaxWorkers: 2},
			notify.QueueNotify:     {MaxWorkers: 10},
			alerting.QueueAlerting: {MaxWorkers: 4},
		}
		rc.PeriodicJobs = periodic(store, cfg)
	}
	sessions := cfg.Sessions
	if sessions == nil {
		sessions = pool
	}
	client, err := river.NewClient(riverpgxv5.New(sessions), rc)
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return client, nil
}

// waiting is the job states in which a periodic job counts as already
// enqueued. Completed ones must not count, or River's default uniqueness
// would skip every run until the completed row is cleaned up a day later.
var waiting = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
	rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled}

// periodic is the schedule of recurring jobs. River enqueues them on its
// elected leader only; unique options keep at most one of each waiting.
func periodic(store *schema.Store, cfg Config) []*river.PeriodicJob {
	upkeep := &river.InsertOpts{Queue: QueueUpkeep, UniqueOpts: river.UniqueOpts{ByQueue: true, ByState: waiting}}
	every := func(d time.Duration, args river.JobArgs) *river.PeriodicJob {
		return river.NewPeriodicJob(river.PeriodicInterval(d),
			func() (river.JobArgs, *river.InsertOpts) { return args, upkeep },
			&river.PeriodicJobOpts{ID: args.Kind(), RunOnStart: true})
	}
	var jobs []*river.PeriodicJob
	if store.Mode() == schema.Postgres {
		// TimescaleDB creates its chunks itself.
		jobs = append(jobs, every(time.Hour, schema.PartitionsArgs{}))
	}
	jobs = append(jobs,
		every(time.Hour, schema.RetentionArgs{}),
		every(cfg.RollupInterval, schema.RollupArgs{}),
		alerting.SweepPeriodicJob(alerting.DefaultSweepInterval))
	if cfg.Insight != nil {
		jobs = append(jobs, insight.PeriodicJob(cfg.InsightInterval))
	}
	if cfg.Digests != nil {
		jobs = append(jobs, digest.PeriodicJob(digest.DefaultInterval))
	}
	if cfg.Billing != nil && cfg.Billing.Configured() {
		jobs = append(jobs, billing.MeterPeriodicJob())
	}
	return jobs
}

// minLevel drops records below a level before they reach the handler.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(attrs []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(attrs), h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}
