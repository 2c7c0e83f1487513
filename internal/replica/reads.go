package replica

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/errs"
)

// States of the replica, reported by Status and as the reason of the reads
// they route.
const (
	// StateCaughtUp: the replica has replayed everything it received.
	StateCaughtUp = "caught_up"
	// StateWithinLag: it trails, by less than MaxLag.
	StateWithinLag = "within_lag"
	// StateLagging: it trails by MaxLag or more, or by an unknown amount.
	StateLagging = "lagging"
	// StateUnreachable: it did not answer the lag check, or failed a read.
	StateUnreachable = "unreachable"
	// StateNotStandby: the server is not in recovery, so not a replica.
	StateNotStandby = "not_standby"
)

// ReasonReplicaError is the reason of a read that failed on the replica and
// was answered by the primary.
const ReasonReplicaError = "replica_error"

// Targets of a read.
const (
	TargetReplica = "replica"
	TargetPrimary = "primary"
)

// Config configures [New].
type Config struct {
	// Primary answers every read the replica does not.
	Primary *database.Pool
	// Replica is a pool on a streaming replica of Primary. Defaults to nil:
	// every read goes to Primary, and nothing is measured or counted.
	Replica *database.Pool
	// MaxLag is the replay lag under which the replica serves reads.
	// Defaults to 10s.
	MaxLag time.Duration
	// CheckEvery is how long a measured lag is trusted. Defaults to 1s.
	CheckEvery time.Duration
	// CheckTimeout bounds one measurement; a replica that takes longer is
	// unreachable until the next. Defaults to 500ms.
	CheckTimeout time.Duration
	// Metrics receives the package's metrics. Defaults to
	// metrics.GetDefaultSet() (what /metrics serves).
	Metrics *metrics.Set
	// Logger receives a line when the replica's state changes. Defaults to
	// slog.Default().
	Logger *slog.Logger
}

// Reads routes reads between the primary and a replica. It is safe for
// concurrent use.
type Reads struct {
	cfg Config

	mu      sync.Mutex
	last    check         // the newest measurement (or failed read)
	running chan struct{} // closed when the running measurement ends; nil when none

	counters    map[[2]string]*metrics.Counter // (target, reason) -> reads
	lag         *metrics.Gauge
	checks      *metrics.Counter
	checkErrors *metrics.Counter
	loggedState string
}

// check is what a measurement found.
type check struct {
	at    time.Time
	state string
	lag   time.Duration
	known bool // lag was measured
	err   error
}

// New returns the router of reads between cfg.Primary and cfg.Replica.
func New(cfg Config) *Reads {
	cfg.MaxLag = cmp.Or(cfg.MaxLag, 10*time.Second)
	cfg.CheckEvery = cmp.Or(cfg.CheckEvery, time.Second)
	cfg.CheckTimeout = cmp.Or(cfg.CheckTimeout, 500*time.Millisecond)
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.GetDefaultSet()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Reads{cfg: cfg, counters: map[[2]string]*metrics.Counter{}}
	if cfg.Replica == nil {
		return r
	}
	for _, k := range [][2]string{
		{TargetReplica, StateCaughtUp}, {TargetReplica, StateWithinLag},
		{TargetPrimary, StateLagging}, {TargetPrimary, StateUnreachable}, {TargetPrimary, StateNotStandby}, {TargetPrimary, ReasonReplicaError},
	} {
		r.counters[k] = cfg.Metrics.GetOrCreateCounter(fmt.Sprintf(`freshtrack_replica_reads_total{target=%q,reason=%q}`, k[0], k[1]))
	}
	r.lag = cfg.Metrics.GetOrCreateGauge(`freshtrack_replica_lag_seconds`, nil)
	r.checks = cfg.Metrics.GetOrCreateCounter(`freshtrack_replica_lag_checks_total`)
	r.checkErrors = cfg.Metrics.GetOrCreateCounter(`freshtrack_replica_lag_check_errors_total`)
	return r
}

// Configured reports whether there is a replica to read from.
func (r *Reads) Configured() bool { return r.cfg.Replica != nil }

// Read runs fn on the replica when it is within MaxLag, else on the primary.
// When the replica fails it because of the replica (see the package
// comment), fn runs again on the primary, so fn must keep its result only
// when it returns nil. fn must only read: the replica refuses writes, and
// one that ran on the primary instead would succeed there only sometimes.
func (r *Reads) Read(ctx context.Context, fn func(db *database.Pool) error) error {
	if r.cfg.Replica == nil {
		return fn(r.cfg.Primary)
	}
	c := r.current(ctx)
	if err := ctx.Err(); err != nil {
		return err // the caller gave up while the lag was measured
	}
	if c.state != StateCaughtUp && c.state != StateWithinLag {
		r.counters[[2]string{TargetPrimary, c.state}].Inc()
		return fn(r.cfg.Primary)
	}
	err := fn(r.cfg.Replica)
	if err == nil || ctx.Err() != nil || !replicaFailure(err) {
		r.counters[[2]string{TargetReplica, c.state}].Inc()
		return err
	}
	r.failed(err)
	r.counters[[2]string{TargetPrimary, ReasonReplicaError}].Inc()
	return fn(r.cfg.Primary)
}

// Status is the replica's state as /readyz reports it.
type Status struct {
	// State is caught_up, within_lag, lagging, unreachable or not_standby.
	State string `json:"state"`
	// LagSeconds is the measured replay lag; null when unknown.
	LagSeconds *float64 `json:"lag_s"`
	// MaxLagSeconds is the lag under which the replica serves reads.
	MaxLagSeconds float64 `json:"max_lag_s"`
	// Detail is why the replica is unreachable.
	Detail string `json:"detail,omitempty"`
}

// Status returns the replica's state, measuring it when the last
// measurement is older than CheckEvery; nil without a replica.
func (r *Reads) Status(ctx context.Context) *Status {
	if r.cfg.Replica == nil {
		return nil
	}
	c := r.current(ctx)
	s := &Status{State: c.state, MaxLagSeconds: r.cfg.MaxLag.Seconds()}
	if c.known {
		v := c.lag.Seconds()
		s.LagSeconds = &v
	}
	if c.err != nil {
		s.Detail = c.err.Error()
	}
	return s
}

// current returns a measurement at most CheckEvery old, taking one (or
// waiting for the one under way) when the last is older.
func (r *Reads) current(ctx context.Context) check {
	r.mu.Lock()
	if c := r.last; !c.at.IsZero() && time.Since(c.at) < r.cfg.CheckEvery {
		r.mu.Unlock()
		return c
	}
	done := r.running
	if done == nil {
		done = make(chan struct{})
		r.running = done
		r.mu.Unlock()
		r.measure(ctx, done)
	} else {
		r.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return check{state: StateUnreachable, err: ctx.Err()}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// lagSQL measures the replica: in recovery; WAL receiver running; replayed
// everything received; age of the last replayed transaction (NULL when none
// since start).
const lagSQL = `
	SELECT pg_is_in_recovery(),
	       EXISTS (SELECT FROM pg_stat_wal_receiver),
	       coalesce(pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn(), false),
	       extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8`

// measure takes a measurement for every read waiting on done. A caller that
// gives up does not cut it short for the others: it has its own deadline.
func (r *Reads) measure(ctx context.Context, done chan struct{}) {
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.CheckTimeout)
	defer cancel()
	var inRecovery, receiving, replayedAll bool
	var age *float64
	err := r.cfg.Replica.QueryRow(mctx, lagSQL).Scan(&inRecovery, &receiving, &replayedAll, &age)
	c := check{at: time.Now()}
	r.checks.Inc()
	switch {
	case err != nil:
		c.state, c.err = StateUnreachable, fmt.Errorf("measure replica lag: %w", err)
		r.checkErrors.Inc()
	case !inRecovery:
		c.state = StateNotStandby
		c.err = errors.New("the replica URL reaches a server that is not in recovery (a primary, or a promoted replica): reads go to the primary")
	case receiving && replayedAll:
		c.state, c.known = StateCaughtUp, true
	case age == nil:
		c.state = StateLagging // nothing replayed since it started
	default:
		c.lag, c.known = max(0, time.Duration(*age*float64(time.Second))), true
		c.state = StateLagging
		if c.lag < r.cfg.MaxLag {
			c.state = StateWithinLag
		}
	}
	if c.known {
		r.lag.Set(c.lag.Seconds())
	}
	r.mu.Lock()
	r.last, r.running = c, nil
	r.mu.Unlock()
	close(done)
	r.logChange(c)
}

// failed records that a read failed on the replica, so the reads until the
// next measurement go to the primary.
func (r *Reads) failed(err error) {
	c := check{at: time.Now(), state: StateUnreachable, err: fmt.Errorf("read on the replica: %w", err)}
	r.mu.Lock()
	r.last = c
	r.mu.Unlock()
	r.logChange(c)
}

// logChange logs the replica's state when it changes, not every second.
func (r *Reads) logChange(c check) {
	r.mu.Lock()
	changed := c.state != r.loggedState
	r.loggedState = c.state
	r.mu.Unlock()
	if !changed {
		return
	}
	switch c.state {
	case StateCaughtUp, StateWithinLag:
		r.cfg.Logger.Info("replica serves reads", "state", c.state, "lag", c.lag, "max_lag", r.cfg.MaxLag)
	case StateLagging:
		r.cfg.Logger.Warn("replica lags: reads go to the primary", "lag", c.lag, "lag_known", c.known, "max_lag", r.cfg.MaxLag)
	default:
		r.cfg.Logger.Warn("replica unavailable: reads go to the primary", "state", c.state, "err", c.err)
	}
}

// replicaFailure reports whether err is the replica's failure rather than
// the read's own answer, which the primary would give as well.
func replicaFailure(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:min(2, len(pgErr.Code))] {
		// connection exception, insufficient resources, operator
		// intervention (shutdown, cannot connect now, cancelled), system error
		case "08", "53", "57", "58":
			return true
		}
		// 40001 is how a standby cancels a statement that conflicts with
		// recovery; 25006 a write it refused.
		return pgErr.Code == "40001" || pgErr.Code == "25006"
	}
	var (
		ve *errs.ValidationError
		ce *errs.ConflictError
		fe *errs.ForbiddenError
	)
	if errors.Is(err, errs.ErrNotFound) || errors.As(err, &ve) || errors.As(err, &ce) || errors.As(err, &fe) {
		return false
	}
	// Anything else is the connection: refused, reset, closed, timed out.
	return true
}
