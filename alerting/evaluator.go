package alerting

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/freshtrack/freshtrack/ingest"
)

// The Evaluator type, its construction, and the evaluation of a committed
// batch: readings grouped by unit, then the fast path (memory.go,
// fastpath.go) or the locked path (locked.go). Run, the loop that feeds
// Evaluate, is in handoff.go.

// Evaluator turns readings into alerts. It consumes the ingest writer's
// committed batches (Run), runs the periodic sweep (Sweep, via SweepWorker)
// and escalates alerts (Escalate, via EscalateWorker). Every decision is
// taken in a database transaction holding the unit's alert_state rows, so
// several evaluators may run on one database. Safe for concurrent use.
type Evaluator struct {
	cfg      Config
	pool     *pgxpool.Pool
	jobs     JobInserter
	notifier Notifier
	now      func() time.Time
	log      *slog.Logger

	mu      sync.Mutex
	sensors map[int64]sensorEntry
	orgs    map[string]*orgEntry
	// defrosts caches units' learned defrost patterns (defrost.go).
	defrosts map[string]defrostEntry

	// memMu guards the in-memory rule states (memory.go).
	memMu sync.Mutex
	mem   map[string]*memUnit
	dirty map[string]struct{}

	mBatches, mRows, mSlow, mLate, mTooOld, mErrors *metrics.Counter
	mOpened, mAutoResolved, mEscalations            *metrics.Counter
	mEvalSeconds, mCommitToAlert, mSweepSeconds     *metrics.Histogram
	mOverdueJobs, mLag, mBacklog                    *metrics.Gauge
}

// NewEvaluator returns an evaluator. It starts nothing: call Run with the
// ingest writer's subscription, and register SweepWorker, EscalateWorker and
// SweepPeriodicJob with the River client.
func NewEvaluator(cfg Config) (*Evaluator, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Evaluator{
		cfg:      cfg,
		pool:     cfg.Pool,
		jobs:     cfg.Jobs,
		notifier: cfg.Notifier,
		now:      cfg.Now,
		log:      cfg.Logger,
		sensors:  map[int64]sensorEntry{},
		orgs:     map[string]*orgEntry{},
		defrosts: map[string]defrostEntry{},
		mem:      map[string]*memUnit{},
		dirty:    map[string]struct{}{},

		mBatches:       metrics.GetOrCreateCounter(`freshtrack_alerting_batches_total`),
		mRows:          metrics.GetOrCreateCounter(`freshtrack_alerting_rows_total`),
		mSlow:          metrics.GetOrCreateCounter(`freshtrack_alerting_locked_units_total`),
		mLate:          metrics.GetOrCreateCounter(`freshtrack_alerting_late_replays_total`),
		mTooOld:        metrics.GetOrCreateCounter(`freshtrack_alerting_rows_too_old_total`),
		mErrors:        metrics.GetOrCreateCounter(`freshtrack_alerting_errors_total`),
		mOpened:        metrics.GetOrCreateCounter(`freshtrack_alerting_alerts_opened_total`),
		mAutoResolved:  metrics.GetOrCreateCounter(`freshtrack_alerting_alerts_auto_resolved_total`),
		mEscalations:   metrics.GetOrCreateCounter(`freshtrack_alerting_escalations_total`),
		mEvalSeconds:   metrics.GetOrCreateHistogram(`freshtrack_alerting_evaluate_seconds`),
		mCommitToAlert: metrics.GetOrCreateHistogram(`freshtrack_alerting_commit_to_alert_seconds`),
		mSweepSeconds:  metrics.GetOrCreateHistogram(`freshtrack_alerting_sweep_seconds`),
		mOverdueJobs:   metrics.GetOrCreateGauge(`freshtrack_alerting_jobs_overdue`, nil),
		mLag:           metrics.GetOrCreateGauge(`freshtrack_alerting_lag_seconds`, nil),
		mBacklog:       metrics.GetOrCreateGauge(`freshtrack_alerting_backlog_rows`, nil),
	}
	if e.jobs == nil {
		client, err := river.NewClient(riverpgxv5.New(cfg.Pool), &river.Config{Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("alerting: insert-only river client: %w", err)
		}
		e.jobs = client
	}
	if e.notifier == nil {
		e.log.Warn("alerting has no notifier: alerts open and escalate, but no SMS or email is enqueued")
	}
	return e, nil
}

// checkQueue logs an error when alerting's jobs wait unworked, which means
// no River client works QueueAlerting: escalations would never be sent.
func (e *Evaluator) checkQueue(ctx context.Context) {
	var n int
	if err := e.pool.QueryRow(ctx, `
		SELECT count(*) FROM river_job
		 WHERE queue = $1 AND state IN ('available', 'scheduled') AND scheduled_at < now() - interval '2 minutes'`,
		QueueAlerting).Scan(&n); err != nil {
		if ctx.Err() == nil {
			e.log.Warn("could not check alerting's job queue", "err", err)
		}
		return
	}
	e.mOverdueJobs.Set(float64(n))
	if n > 0 {
		e.log.Error("alerting jobs (escalations, sweeps) are waiting unworked: the worker role must run a River client with the alerting queue (jobs.New)",
			"queue", QueueAlerting, "jobs", n)
	}
}

// unitWork is one unit's share of an evaluation.
type unitWork struct {
	unit    *unitInfo
	rules   []Rule
	samples []sample // time order
	mode    evalMode
	// committedAt is ingest.Committed.At of the readings (zero for the sweep).
	committedAt time.Time
	// lastSeen is the sweep's knowledge of the unit's newest reading, or
	// its newest sensor's creation when it never reported.
	lastSeen time.Time
	// offends is whether a batch reading violates a rule (offendsAny),
	// worked out once per batch.
	offends bool
}

type evalMode int

const (
	// modeBatch applies committed readings; a rule that has evaluated
	// newer readings already replays its window from the database.
	modeBatch evalMode = iota
	// modeCatchUp applies the readings stored since the unit was last
	// evaluated.
	modeCatchUp
	// modeTick only applies the passing of time.
	modeTick
)

// Evaluate evaluates one committed batch synchronously: Run calls it for
// every batch; benchmarks and tests may call it directly. Units whose
// readings change nothing (all rules ok, nothing offending) are settled with
// one statement for the whole batch; the others get a locked transaction
// each.
func (e *Evaluator) Evaluate(ctx context.Context, c ingest.Committed) error {
	if err := e.evaluate(ctx, c); err != nil {
		return err
	}
	return e.Checkpoint(ctx)
}

// evaluate evaluates a batch; the states it moves on in memory are stored
// by the next checkpoint.
func (e *Evaluator) evaluate(ctx context.Context, c ingest.Committed) error {
	start := time.Now()
	res := BatchEvaluated{Rows: len(c.Rows), CommittedAt: c.At}
	err := e.evaluateBatch(ctx, c, &res)
	res.Err = err
	e.mBatches.Inc()
	e.mRows.Add(len(c.Rows))
	e.mEvalSeconds.UpdateDuration(start)
	if err != nil {
		e.mErrors.Inc()
	}
	if h := e.cfg.Hooks.BatchEvaluated; h != nil {
		h(res)
	}
	return err
}

func (e *Evaluator) evaluateBatch(ctx context.Context, c ingest.Committed, res *BatchEvaluated) error {
	if len(c.Rows) == 0 {
		return nil
	}
	if e.cfg.Fault != nil {
		if err := e.cfg.Fault(ctx); err != nil {
			return err
		}
	}
	horizon := e.now().Add(-e.cfg.MaxLateness)
	ids := make([]int64, 0, 16)
	for i := range c.Rows {
		ids = append(ids, c.Rows[i].SensorID)
	}
	units, err := e.resolveSensors(ctx, ids)
	if err != nil {
		return err
	}
	work := map[string]*unitWork{}
	for i := range c.Rows {
		r := &c.Rows[i]
		u := units[r.SensorID]
		if u == nil {
			continue
		}
		t := time.UnixMicro(r.TimeMicros).UTC()
		if t.Before(horizon) {
			e.mTooOld.Inc()
			continue
		}
		w := work[u.ID]
		if w == nil {
			w = &unitWork{unit: u, mode: modeBatch, committedAt: c.At}
			work[u.ID] = w
		}
		w.samples = append(w.samples, sample{T: t, Sensor: r.SensorID, TempC: r.TempC, Battery: r.Battery, Fault: r.Fault})
	}
	res.Units = len(work)

	list := make([]*unitWork, 0, len(work))
	for _, w := range work {
		if w.rules, err = e.effectiveFor(ctx, w.unit); err != nil {
			return err
		}
		if len(w.rules) == 0 {
			continue
		}
		slices.SortFunc(w.samples, func(a, b sample) int {
			return cmp.Or(a.T.Compare(b.T), cmp.Compare(a.Sensor, b.Sensor), cmpBool(a.Fault, b.Fault))
		})
		w.offends = offendsAny(w.rules, w.samples)
		list = append(list, w)
	}
	slow, err := e.evaluateInMemory(ctx, list)
	if err != nil {
		return err
	}
	// Units with an offending reading go first: a new excursion must not
	// wait behind units that only replay late readings in range.
	urgent := make([]*unitWork, 0, len(slow))
	var rest []*unitWork
	for _, w := range slow {
		if w.offends {
			urgent = append(urgent, w)
		} else {
			rest = append(rest, w)
		}
	}
	slow = append(urgent, rest...)
	res.Slow = len(slow)
	return e.evaluateUnits(ctx, slow)
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}
