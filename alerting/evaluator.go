package alerting

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/safety"
)

// JobInserter inserts River jobs inside a transaction; *river.Client[pgx.Tx]
// implements it.
type JobInserter interface {
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// Config configures an Evaluator.
type Config struct {
	// Pool is the database. Required.
	Pool *pgxpool.Pool
	// Jobs inserts the escalation jobs of an alert in the transaction that
	// opens it. An insert-only River client on Pool (which needs no workers)
	// lets the Evaluator be built before the River client that runs its
	// workers. Defaults to such a client.
	Jobs JobInserter
	// Notifier enqueues the messages of each escalation step. Without one,
	// alerts still open and escalate and their events record every step,
	// but no message is enqueued (NewEvaluator logs a warning). Defaults to
	// nil.
	Notifier Notifier
	// Now returns the current time; tests inject a clock. Defaults to time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// CacheTTL is how long sensor → unit assignments and an organisation's
	// rules are cached before they are read again. Invalidate drops them at
	// once. Defaults to 30s.
	CacheTTL time.Duration
	// MaxLateness is the age beyond which a reading is not evaluated: older
	// readings (historical imports) never open alerts. At least 1m.
	// Defaults to 24h.
	MaxLateness time.Duration
	// CatchUpLag is how far a unit's evaluation may trail its newest stored
	// reading (sensor_latest) before the sweep evaluates the readings it
	// missed (an evaluator that was down, a dropped subscription batch).
	// Defaults to 1m.
	CatchUpLag time.Duration
	// EscalationGrace is how overdue an escalation step must be before the
	// sweep sends it instead of its River job. Defaults to 1m.
	EscalationGrace time.Duration
	// Concurrency is how many units are evaluated at once. Defaults to 4.
	Concurrency int
	// Coalesce is the least time between the starts of two evaluations by
	// Run: batches committed meanwhile are merged into the next one. Each
	// evaluation writes every evaluated (unit, rule) state once, however
	// many of its readings arrived, so under load this bounds those writes
	// to a few per second per unit instead of one per flush; an idle
	// evaluator starts at once. It adds at most this much to the time from
	// commit to alert. Zero takes the default; negative turns it off.
	// Defaults to 250ms.
	Coalesce time.Duration
	// MaxGap is the longest a reading stands for (safety.Stand): an
	// excursion lasts as long as its readings say, each standing for twice
	// its sensor's reporting interval at most, and never longer than this.
	// Defaults to safety.DefaultMaxGap.
	MaxGap time.Duration
	// CheckpointInterval is how often Run stores the evaluation state kept
	// in memory and deletes the backlog rows it evaluated. Defaults to 2s.
	CheckpointInterval time.Duration
	// TakeOverInterval is how often Run looks for backlog rows of stopped
	// processes (it also looks when it starts). Defaults to 10s.
	TakeOverInterval time.Duration
	// Hooks observe the evaluator (benchmarks, tests). Defaults to none.
	Hooks Hooks
	// Fault, when set, runs before each evaluation and fails it with its
	// error: fault injection for tests (see ParseFault). Defaults to nil.
	Fault func(context.Context) error
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.CacheTTL = cmp.Or(c.CacheTTL, 30*time.Second)
	c.MaxLateness = cmp.Or(c.MaxLateness, 24*time.Hour)
	c.CatchUpLag = cmp.Or(c.CatchUpLag, time.Minute)
	c.EscalationGrace = cmp.Or(c.EscalationGrace, time.Minute)
	c.Concurrency = cmp.Or(c.Concurrency, 4)
	c.Coalesce = cmp.Or(c.Coalesce, 250*time.Millisecond)
	c.MaxGap = cmp.Or(c.MaxGap, safety.DefaultMaxGap)
	c.CheckpointInterval = cmp.Or(c.CheckpointInterval, 2*time.Second)
	c.TakeOverInterval = cmp.Or(c.TakeOverInterval, 10*time.Second)
	return c
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Pool == nil:
		return errors.New("alerting: Config.Pool is required")
	case c.CacheTTL < 0:
		return fmt.Errorf("alerting: CacheTTL %s must not be negative", c.CacheTTL)
	case c.MaxLateness < time.Minute:
		return fmt.Errorf("alerting: MaxLateness %s must be at least 1m", c.MaxLateness)
	case c.CatchUpLag < time.Second:
		return fmt.Errorf("alerting: CatchUpLag %s must be at least 1s", c.CatchUpLag)
	case c.EscalationGrace < 0:
		return fmt.Errorf("alerting: EscalationGrace %s must not be negative", c.EscalationGrace)
	case c.Concurrency < 1 || c.Concurrency > 64:
		return fmt.Errorf("alerting: Concurrency %d must be between 1 and 64", c.Concurrency)
	case c.Coalesce > 5*time.Second:
		return fmt.Errorf("alerting: Coalesce %s must be at most 5s", c.Coalesce)
	case c.MaxGap < time.Minute:
		return fmt.Errorf("alerting: MaxGap %s must be at least 1m", c.MaxGap)
	case c.CheckpointInterval < 10*time.Millisecond || c.CheckpointInterval > time.Minute:
		return fmt.Errorf("alerting: CheckpointInterval %s must be between 10ms and 1m", c.CheckpointInterval)
	case c.TakeOverInterval < 10*time.Millisecond:
		return fmt.Errorf("alerting: TakeOverInterval %s must be at least 10ms", c.TakeOverInterval)
	}
	return nil
}

// Hooks are called after the fact, from the evaluating goroutine; they must
// be quick.
type Hooks struct {
	// AlertOpened is called after the transaction that opened an alert (with
	// its step-0 messages and escalation jobs) committed.
	AlertOpened func(AlertOpened)
	// BatchEvaluated is called after Run or Evaluate evaluated a committed
	// batch.
	BatchEvaluated func(BatchEvaluated)
}

// AlertOpened describes a newly opened alert.
type AlertOpened struct {
	// AlertID, OrgID, UnitID, RuleID and Kind identify the alert.
	AlertID, OrgID, UnitID, RuleID, Kind string
	// StartedAt is the excursion's start; OpenedAt is alerts.opened_at
	// (the evaluator's clock).
	StartedAt, OpenedAt time.Time
	// CommittedAt is when the readings whose evaluation opened the alert
	// were committed (ingest.Committed.At); zero when the sweep opened it.
	CommittedAt time.Time
	// Visible is when the transaction holding the alert row, its step-0
	// notification and its escalation jobs committed (wall clock).
	// Visible - CommittedAt is the commit-to-alert latency.
	Visible time.Time
}

// BatchEvaluated describes one evaluated batch of committed readings.
type BatchEvaluated struct {
	// Rows is the number of readings in the batch.
	Rows int
	// Units is the number of units they belong to, Slow of which needed a
	// locked transaction (an excursion, a transition, late readings).
	Units, Slow int
	// CommittedAt is ingest.Committed.At of the (oldest) batch.
	CommittedAt time.Time
	// Err is the evaluation's error, if any.
	Err error
}

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

	// memMu guards the in-memory rule states (memory.go).
	memMu sync.Mutex
	mem   map[string]*memUnit
	dirty map[string]struct{}

	mBatches, mRows, mSlow, mLate, mTooOld, mErrors *metrics.Counter
	mOpened, mAutoResolved, mEscalations            *metrics.Counter
	mEvalSeconds, mCommitToAlert, mSweepSeconds     *metrics.Histogram
	mOverdueJobs, mLag, mBacklog                    *metrics.Gauge
}

// unitInfo is what the evaluator knows of a unit.
type unitInfo struct {
	ID, OrgID, SiteID, Kind, Name, SiteName string
	SafeMinC, SafeMaxC                      float64
}

type sensorEntry struct {
	unit *unitInfo // nil: not assigned to a unit
	at   time.Time
}

type orgEntry struct {
	rules []Rule
	at    time.Time
	// effective caches Effective per unit ("unit id/unit kind").
	effective map[string][]Rule
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

// Invalidate forgets the cached rules and sensor assignments of an
// organisation, so changes made through the API apply at once in this
// process (other processes pick them up within CacheTTL).
func (e *Evaluator) Invalidate(orgID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.orgs, orgID)
	for id, s := range e.sensors {
		if s.unit == nil || s.unit.OrgID == orgID {
			delete(e.sensors, id)
		}
	}
	e.mu.Unlock()
	e.forgetMemory(orgID)
	e.mu.Lock()
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

// errRulesChanged means a cached rule no longer exists.
var errRulesChanged = errors.New("alert rules changed during evaluation")

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

// offendsAny reports whether any reading violates any (non-offline) rule.
func offendsAny(rules []Rule, samples []sample) bool {
	for i := range rules {
		r := &rules[i]
		if r.Kind == KindSensorOffline {
			continue
		}
		for _, s := range samples {
			if v, ok := r.value(s); ok && r.offending(v) {
				return true
			}
		}
	}
	return false
}

// settle stores the evaluated_to the memory moved on for (unit, rule) pairs
// whose state is ok (a reading that offends nothing, late or not, cannot
// change an ok state). One statement bumps them all; pairs not returned
// (the state is no longer ok, or gone) must be caught up. Rows are locked in
// (unit, rule) order, the order every evaluator transaction locks in.
func (e *Evaluator) settle(ctx context.Context, units, rules []string, times []time.Time) (map[[2]string]bool, error) {
	const q = `
		WITH v AS (
			SELECT u::uuid AS unit_id, r::uuid AS rule_id, t
			  FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS v(u, r, t)),
		l AS (
			SELECT s.unit_id, s.rule_id, v.t FROM alert_state s
			  JOIN v ON s.unit_id = v.unit_id AND s.rule_id = v.rule_id
			 WHERE s.state = 'ok'
			 ORDER BY s.unit_id, s.rule_id
			   FOR UPDATE OF s)
		UPDATE alert_state s SET evaluated_to = greatest(s.evaluated_to, l.t), updated_at = now()
		  FROM l WHERE s.unit_id = l.unit_id AND s.rule_id = l.rule_id
		RETURNING s.unit_id::text, s.rule_id::text`
	for attempt := 0; ; attempt++ {
		rows, err := e.pool.Query(ctx, q, units, rules, times)
		if err != nil {
			return nil, fmt.Errorf("settle alert states: %w", err)
		}
		settled := make(map[[2]string]bool, len(units))
		var u, r string
		_, err = pgx.ForEachRow(rows, []any{&u, &r}, func() error {
			settled[[2]string{u, r}] = true
			return nil
		})
		if err != nil && retryable(err) && attempt < 3 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("settle alert states: %w", err)
		}
		return settled, nil
	}
}

// evaluateUnits runs the locked path for each unit, Concurrency at a time.
func (e *Evaluator) evaluateUnits(ctx context.Context, list []*unitWork) error {
	if len(list) == 0 {
		return nil
	}
	e.mSlow.Add(len(list))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, e.cfg.Concurrency)
	)
	for _, w := range list {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := e.evaluateUnit(ctx, w); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("unit %s: %w", w.unit.ID, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// evaluateUnit runs one unit's transaction, retrying it when it lost a
// deadlock or serialization race against another evaluator.
func (e *Evaluator) evaluateUnit(ctx context.Context, w *unitWork) error {
	for attempt := 0; ; attempt++ {
		env, err := e.evaluateUnitTx(ctx, w)
		if errors.Is(err, errRulesChanged) && attempt < 3 {
			// A cached rule was deleted: read the rules again.
			e.Invalidate(w.unit.OrgID)
			rules, rerr := e.effectiveFor(ctx, w.unit)
			if rerr != nil {
				return rerr
			}
			w.rules = rules
			continue
		}
		if err != nil && retryable(err) && attempt < 3 {
			continue
		}
		if err != nil {
			return err
		}
		e.remember(w.unit, w.rules, env.states)
		visible := time.Now()
		for _, o := range env.opened {
			o.Visible = visible
			e.mOpened.Inc()
			if !o.CommittedAt.IsZero() {
				e.mCommitToAlert.Update(visible.Sub(o.CommittedAt).Seconds())
			}
			e.log.Info("alert opened", "alert_id", o.AlertID, "org_id", o.OrgID, "unit_id", o.UnitID, "kind", o.Kind, "started_at", o.StartedAt)
			if h := e.cfg.Hooks.AlertOpened; h != nil {
				h(o)
			}
		}
		e.mAutoResolved.Add(env.autoResolved)
		return nil
	}
}

// evaluateUnitTx is the locked path: in one transaction it creates the
// unit's missing alert_state rows, locks them (SELECT ... FOR UPDATE, in
// rule order), runs each rule's machine over the unit's readings and the
// clock, opens / auto-resolves alerts as the machines decide, and stores
// the new states.
func (e *Evaluator) evaluateUnitTx(ctx context.Context, w *unitWork) (*txEnv, error) {
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	now := e.now()
	u := w.unit
	env := &txEnv{e: e, ctx: ctx, tx: tx, unit: u, now: now, committedAt: w.committedAt}
	ids := make([]string, len(w.rules))
	for i, r := range w.rules {
		ids[i] = r.ID
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO alert_state (org_id, unit_id, rule_id) SELECT $1, $2, unnest($3::text[])::uuid
		ON CONFLICT (unit_id, rule_id) DO NOTHING`, u.OrgID, u.ID, ids); err != nil {
		if code, _ := pgCode(err); code == "23503" {
			return nil, errRulesChanged
		}
		return nil, fmt.Errorf("create alert states: %w", err)
	}
	states, err := lockStates(ctx, tx, u.ID, ids)
	if err != nil {
		return nil, err
	}
	env.states = states
	// The memory may have evaluated newer readings than the database knows
	// (until the next checkpoint): late readings are late relative to it.
	for _, id := range ids {
		if t := e.memoryEvaluatedTo(u.ID, id); t.After(states[id].EvaluatedTo) {
			states[id].EvaluatedTo = t
		}
	}
	// Rules that no longer apply to the unit (overridden, disabled) lose
	// their state; an alert they opened stays open until a person resolves it.
	if _, err := tx.Exec(ctx, `DELETE FROM alert_state WHERE unit_id = $1 AND NOT (rule_id = ANY($2::text[]::uuid[]))`, u.ID, ids); err != nil {
		return nil, fmt.Errorf("drop stale alert states: %w", err)
	}

	horizon := now.Add(-e.cfg.MaxLateness)
	// Work out which rules replay a window from the database, and from when.
	samples := w.samples
	replayFrom := map[string]time.Time{}
	var dbFrom time.Time
	needDB := false
	switch w.mode {
	case modeBatch:
		for i := range w.rules {
			r := &w.rules[i]
			st := states[r.ID]
			if r.Kind == KindSensorOffline {
				continue
			}
			var late time.Time
			for _, s := range samples {
				if _, ok := r.value(s); ok && s.T.Before(st.EvaluatedTo) {
					late = s.T
					break // samples are in time order: the first is the oldest
				}
			}
			if late.IsZero() {
				continue
			}
			from := late.Add(-2 * r.Confirm)
			if from.Before(horizon) {
				from = horizon
			}
			replayFrom[r.ID] = from
			if !needDB || from.Before(dbFrom) {
				dbFrom = from
			}
			needDB = true
		}
	case modeCatchUp:
		// From the oldest rule's evaluated_to (a rule never evaluated: the
		// whole MaxLateness window).
		needDB, dbFrom = true, horizon
		var oldest time.Time
		all := true
		for _, st := range states {
			switch {
			case st.EvaluatedTo.IsZero():
				all = false
			case oldest.IsZero() || st.EvaluatedTo.Before(oldest):
				oldest = st.EvaluatedTo
			}
		}
		if all && oldest.After(horizon) {
			dbFrom = oldest
		}
	}
	if needDB {
		stored, err := loadSamples(ctx, tx, u, dbFrom)
		if err != nil {
			return nil, err
		}
		if len(replayFrom) > 0 {
			e.mLate.Inc()
		}
		if w.mode == modeCatchUp {
			samples = stored
		} else {
			env.stored = stored
		}
	}

	for i := range w.rules {
		r := &w.rules[i]
		st := states[r.ID]
		m := &machine{rule: r, st: st, fx: env, maxGap: e.cfg.MaxGap, now: now}
		var apply []sample
		switch from, replay := replayFrom[r.ID]; {
		case replay:
			nst, err := env.replayState(r, st, from)
			if err != nil {
				return nil, err
			}
			states[r.ID], m.st = nst, nst
			env.states = states
			k, _ := slices.BinarySearchFunc(env.stored, from, func(s sample, t time.Time) int { return s.T.Compare(t) })
			apply = env.stored[k:]
		case w.mode == modeCatchUp && r.Kind != KindSensorOffline:
			k, _ := slices.BinarySearchFunc(samples, st.EvaluatedTo, func(s sample, t time.Time) int { return s.T.Compare(t) })
			for k < len(samples) && !samples[k].T.After(st.EvaluatedTo) {
				k++ // evaluated before
			}
			apply = samples[k:]
		default:
			apply = samples
		}
		if len(apply) > 0 && r.Kind != KindSensorOffline {
			// The unit's other sensors' values just before, so that the
			// unit's value is the worst of all its sensors.
			prior, err := env.priorValues(apply[0].T)
			if err != nil {
				return nil, err
			}
			for _, p := range prior {
				m.prime(p)
			}
		}
		if r.Kind == KindSensorFault {
			dead, err := env.deadProbes()
			if err != nil {
				return nil, err
			}
			m.markDead(dead)
		}
		for _, s := range apply {
			if err := m.sample(s); err != nil {
				return nil, err
			}
		}
		lastSeen, active := w.lastSeen, true
		if r.Kind == KindSensorOffline {
			last := m.st.EvaluatedTo
			if lastSeen.After(last) {
				last = lastSeen
			}
			if last.IsZero() || now.Sub(last) >= r.silence() {
				// Possibly silent: ask the database what it knows.
				if lastSeen, active, err = env.unitLastSeen(m.st.EvaluatedTo); err != nil {
					return nil, err
				}
			}
		}
		if err := m.tick(now, lastSeen, active); err != nil {
			return nil, err
		}
		if from, replay := replayFrom[r.ID]; replay {
			if err := env.withdrawContradicted(r, from, m.st.Alert); err != nil {
				return nil, err
			}
		}
	}

	if err := env.touchAlerts(w.rules, states); err != nil {
		return nil, err
	}
	if err := storeStates(ctx, tx, u.ID, states); err != nil {
		return nil, err
	}
	if err := env.flushAudit(); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	return env, nil
}

// lockStates locks a unit's alert_state rows of the given rules, in rule
// order, and loads them with the status of the alert each is attached to.
func lockStates(ctx context.Context, tx pgx.Tx, unitID string, ruleIDs []string) (map[string]*ruleState, error) {
	rows, err := tx.Query(ctx, `
		SELECT s.rule_id::text, s.state, s.since, s.evaluated_to, s.peak_c, s.alert_id::text,
		       a.status, a.resolved_at, s.stands_until
		  FROM alert_state s LEFT JOIN alerts a ON a.id = s.alert_id
		 WHERE s.unit_id = $1 AND s.rule_id = ANY($2::text[]::uuid[])
		 ORDER BY s.rule_id
		   FOR UPDATE OF s`, unitID, ruleIDs)
	if err != nil {
		return nil, fmt.Errorf("lock alert states: %w", err)
	}
	states := make(map[string]*ruleState, len(ruleIDs))
	var (
		ruleID, state                     string
		since, evaluated, resolve, stands *time.Time
		peak                              *float64
		alertID, status                   *string
	)
	_, err = pgx.ForEachRow(rows, []any{&ruleID, &state, &since, &evaluated, &peak, &alertID, &status, &resolve, &stands}, func() error {
		st := newState()
		st.Phase = phase(state)
		if since != nil {
			st.Since = since.UTC()
		}
		if evaluated != nil {
			st.EvaluatedTo = evaluated.UTC()
		}
		if stands != nil {
			st.StandsUntil = stands.UTC()
		}
		if peak != nil {
			st.Peak = *peak
		}
		if alertID != nil {
			a := &alertRef{ID: *alertID}
			if status == nil || *status == "resolved" {
				a.Resolved = true
				if resolve != nil {
					a.ResolvedAt = resolve.UTC()
				}
			}
			st.Alert = a
		}
		states[ruleID] = st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lock alert states: %w", err)
	}
	if len(states) != len(ruleIDs) {
		return nil, errRulesChanged
	}
	return states, nil
}

// storeStates writes the evaluated states back.
func storeStates(ctx context.Context, tx pgx.Tx, unitID string, states map[string]*ruleState) error {
	if len(states) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for ruleID, st := range states {
		b.Queue(`
			UPDATE alert_state SET state = $3, since = $4, evaluated_to = $5, peak_c = $6, alert_id = $7, stands_until = $8, updated_at = now()
			 WHERE unit_id = $1 AND rule_id = $2`,
			unitID, ruleID, string(st.Phase), nullTime(st.Since), nullTime(st.EvaluatedTo), nullFloat(st.Peak), alertIDOf(st),
			nullTime(st.StandsUntil))
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store alert states: %w", err)
	}
	return nil
}

func alertIDOf(st *ruleState) *string {
	if st.Alert == nil {
		return nil
	}
	return &st.Alert.ID
}

// maxReplay bounds the readings one unit's replay reads back; past it the
// oldest are left out.
const maxReplay = 500_000

// loadSamples reads a unit's stored readings and probe faults from a time
// on, in time order.
func loadSamples(ctx context.Context, tx pgx.Tx, u *unitInfo, from time.Time) ([]sample, error) {
	rows, err := tx.Query(ctx, `
		WITH s AS (SELECT id FROM sensors WHERE org_id = $1 AND unit_id = $2)
		SELECT * FROM (
			SELECT r.time, r.sensor_id, r.temp_c, r.battery, false AS fault
			  FROM readings r
			 WHERE r.sensor_id = ANY(ARRAY(SELECT id FROM s)) AND r.time >= $3
			UNION ALL
			SELECT f.time, f.sensor_id, f.code, NULL::real, true
			  FROM sensor_faults f
			 WHERE f.sensor_id = ANY(ARRAY(SELECT id FROM s)) AND f.time >= $3) x
		 ORDER BY time DESC, sensor_id DESC
		 LIMIT $4`, u.OrgID, u.ID, from, maxReplay)
	if err != nil {
		return nil, fmt.Errorf("load readings: %w", err)
	}
	var (
		out []sample
		s   sample
		bat *float32
	)
	_, err = pgx.ForEachRow(rows, []any{&s.T, &s.Sensor, &s.TempC, &bat, &s.Fault}, func() error {
		s.T = s.T.UTC()
		s.Battery = math.NaN()
		if bat != nil {
			s.Battery = float64(*bat)
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load readings: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

// resolveSensors maps sensor keys to their units, from the cache or with
// one query for the misses. Unassigned sensors map to nil.
func (e *Evaluator) resolveSensors(ctx context.Context, ids []int64) (map[int64]*unitInfo, error) {
	out := make(map[int64]*unitInfo, 8)
	var missing []int64
	wall := time.Now()
	e.mu.Lock()
	for _, id := range ids {
		if _, done := out[id]; done {
			continue
		}
		s, ok := e.sensors[id]
		if ok && wall.Sub(s.at) < e.cfg.CacheTTL {
			out[id] = s.unit
			continue
		}
		out[id] = nil
		missing = append(missing, id)
	}
	e.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	rows, err := e.pool.Query(ctx, `
		SELECT s.id, coalesce(u.id::text, ''), coalesce(u.org_id::text, ''), coalesce(u.site_id::text, ''),
		       coalesce(u.kind, ''), coalesce(u.name, ''), coalesce(si.name, ''),
		       coalesce(u.safe_min_c, 'NaN'), coalesce(u.safe_max_c, 'NaN')
		  FROM sensors s
		  LEFT JOIN units u ON u.org_id = s.org_id AND u.id = s.unit_id
		  LEFT JOIN sites si ON si.org_id = u.org_id AND si.id = u.site_id
		 WHERE s.id = ANY($1)`, missing)
	if err != nil {
		return nil, fmt.Errorf("resolve sensors: %w", err)
	}
	var (
		id int64
		ui unitInfo
	)
	units := map[string]*unitInfo{}
	found := map[int64]*unitInfo{}
	_, err = pgx.ForEachRow(rows, []any{&id, &ui.ID, &ui.OrgID, &ui.SiteID, &ui.Kind, &ui.Name, &ui.SiteName, &ui.SafeMinC, &ui.SafeMaxC}, func() error {
		if ui.ID == "" {
			found[id] = nil
			return nil
		}
		u := units[ui.ID]
		if u == nil {
			u = &unitInfo{}
			*u = ui
			units[ui.ID] = u
		}
		found[id] = u
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("resolve sensors: %w", err)
	}
	e.mu.Lock()
	for _, id := range missing {
		u := found[id]
		e.sensors[id] = sensorEntry{unit: u, at: wall}
		out[id] = u
	}
	e.mu.Unlock()
	return out, nil
}

// rulesFor returns an organisation's rules, cached, storing the built-in
// defaults first when some are missing.
func (e *Evaluator) rulesFor(ctx context.Context, orgID string) ([]Rule, error) {
	wall := time.Now()
	e.mu.Lock()
	o, ok := e.orgs[orgID]
	e.mu.Unlock()
	if ok && wall.Sub(o.at) < e.cfg.CacheTTL {
		return o.rules, nil
	}
	rules, err := LoadRules(ctx, e.pool, orgID)
	if err != nil {
		return nil, err
	}
	if missingDefaults(rules) {
		if _, err := EnsureRules(ctx, e.pool, orgID); err != nil {
			return nil, err
		}
		if rules, err = LoadRules(ctx, e.pool, orgID); err != nil {
			return nil, err
		}
	}
	e.mu.Lock()
	e.orgs[orgID] = &orgEntry{rules: rules, at: wall, effective: map[string][]Rule{}}
	e.mu.Unlock()
	return rules, nil
}

// effectiveFor returns the rules that apply to a unit (see Effective),
// cached with its organisation's rules. The slice is shared: read only.
func (e *Evaluator) effectiveFor(ctx context.Context, u *unitInfo) ([]Rule, error) {
	key := fmt.Sprintf("%s/%s/%g/%g", u.ID, u.Kind, u.SafeMinC, u.SafeMaxC)
	for range 2 {
		wall := time.Now()
		e.mu.Lock()
		if o, ok := e.orgs[u.OrgID]; ok && wall.Sub(o.at) < e.cfg.CacheTTL {
			r, ok := o.effective[key]
			if !ok {
				r = Effective(o.rules, u.scope())
				o.effective[key] = r
			}
			e.mu.Unlock()
			return r, nil
		}
		e.mu.Unlock()
		if _, err := e.rulesFor(ctx, u.OrgID); err != nil {
			return nil, err
		}
	}
	rules, err := e.rulesFor(ctx, u.OrgID)
	if err != nil {
		return nil, err
	}
	return Effective(rules, u.scope()), nil
}

func (u *unitInfo) scope() UnitScope {
	return UnitScope{ID: u.ID, Kind: u.Kind, SafeMinC: u.SafeMinC, SafeMaxC: u.SafeMaxC}
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nullFloat(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}
