package alerting

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/freshtrack/freshtrack/safety"
)

// Configuration of an Evaluator: Config with its defaults and validation,
// and the Hooks that observe it.

// JobInserter inserts River jobs inside a transaction; *river.Client[pgx.Tx]
// implements it.
type JobInserter interface {
	InsertManyTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// Config configures an Evaluator.
type Config struct {
	// Pool is the database. Required.
	Pool *pgxpool.Pool
	// Sessions is where Claim holds its session advisory lock for the
	// life of the process: PostgreSQL itself when Pool is a transaction
	// pooler such as PgBouncer, whose connections serve one transaction at
	// a time. Defaults to Pool.
	Sessions *pgxpool.Pool
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
	if c.Sessions == nil {
		c.Sessions = c.Pool
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
	// UnitState is called after a unit's locked evaluation (a transition,
	// an excursion, the sweep) committed, with the state its rules are in.
	// Live updates publish it.
	UnitState func(UnitState)
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
