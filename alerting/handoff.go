package alerting

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/internal/database"
)

// The handoff from commit to evaluation. Every flush of the ingest writer
// adds an evaluation_backlog row in the transaction that stores its
// readings (WriterConfig.BacklogOwner), and publishes the rows in process
// (Writer.Subscribe). Run evaluates what is published and, at each
// checkpoint, stores the in-memory states and deletes the backlog rows it
// evaluated. The channel is only the fast way: a flush that did not fit in
// it, an evaluation that failed, a process that died or was stopped before
// its checkpoint all leave their backlog rows, which are read back from the
// database and evaluated. No lag loses work; overload shows as the age of
// the oldest backlog row (freshtrack_alerting_lag_seconds, /readyz).
//
// Each process owns its backlog rows through a key on which it holds a
// session advisory lock while it lives. A row whose owner holds no lock
// belongs to a process that is gone: the next Run to look takes it over.

// Owner is a process's claim on the backlog rows its writer adds.
type Owner struct {
	// Key is the evaluation_backlog.owner of this process's rows.
	Key  int64
	conn *pgxpool.Conn
}

// Claim picks a random owner key and takes a session advisory lock on it,
// on a connection of Config.Sessions held until Release. Pass Key to the
// ingest writer (WriterConfig.BacklogOwner) and the Owner to Run. Others
// test the lock with pg_try_advisory_xact_lock on Pool: advisory locks
// are the server's, whichever connection (direct or pooled) takes them.
func (e *Evaluator) Claim(ctx context.Context) (*Owner, error) {
	conn, err := e.cfg.Sessions.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("claim evaluation backlog: %w", err)
	}
	for {
		key := rand.Int64N(math.MaxInt64-1) + 1
		var got bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
			conn.Release()
			return nil, fmt.Errorf("claim evaluation backlog: %w", err)
		}
		if got {
			return &Owner{Key: key, conn: conn}, nil
		}
	}
}

// Release gives up the claim: rows still owned are then taken over by the
// next process that looks (this one's successor, or another instance).
func (o *Owner) Release() {
	if o == nil || o.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := o.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, o.Key); err != nil {
		// The lock goes with the connection.
		o.conn.Conn().Close(ctx)
	}
	o.conn.Release()
	o.conn = nil
}

// handoff is Run's bookkeeping.
type handoff struct {
	owner *Owner
	// done are backlog rows evaluated since the last checkpoint.
	done []int64
	// reload are backlog rows to read back from the database: flushes that
	// did not fit in the channel, evaluations that failed, rows taken over.
	reload []int64
	// retryAt delays a reload after a failure.
	retryAt  time.Time
	failures int
}

// maxReloadRows bounds the backlog rows read back per evaluation.
const maxReloadRows = 64

// maxMergedRows bounds the rows of one evaluation.
const maxMergedRows = 50_000

// Run evaluates the batches published on sub (ingest.Writer.Subscribe)
// until sub's channel is closed (the writer closed: everything committed
// was published) or ctx is done, checkpointing every
// Config.CheckpointInterval and once more at the end. Batches waiting in
// the channel, and those committed within Config.Coalesce of the previous
// evaluation's start, are merged into one evaluation. When ctx ends first,
// what was not checkpointed stays in the backlog for the next process.
//
// owner (from Claim) is the writer's BacklogOwner; nil runs without the
// durable handoff (tests, tools), where only the channel feeds evaluation.
//
// Every two minutes Run also checks that alerting's River jobs are being
// worked, and logs an error if some waited longer than that (no process
// works QueueAlerting).
func (e *Evaluator) Run(ctx context.Context, sub *ingest.Subscription, owner *Owner) error {
	h := &handoff{owner: owner}
	watch := time.NewTicker(2 * time.Minute)
	defer watch.Stop()
	checkpoint := time.NewTicker(e.cfg.CheckpointInterval)
	defer checkpoint.Stop()
	takeOver := time.NewTicker(e.cfg.TakeOverInterval)
	defer takeOver.Stop()
	if owner != nil {
		// What a stopped process left goes first, so that readings are
		// evaluated in about the order they were taken.
		e.takeOver(ctx, h)
		e.reloadBacklog(ctx, h)
	}
	var last time.Time // start of the previous evaluation
	for {
		var (
			c      ingest.Committed
			ok     bool
			closed bool
		)
		select {
		case <-ctx.Done():
			return nil
		case <-watch.C:
			e.checkQueue(ctx)
			continue
		case <-checkpoint.C:
			e.checkpoint(ctx, h)
			e.reloadBacklog(ctx, h)
			continue
		case <-takeOver.C:
			if owner != nil {
				e.takeOver(ctx, h)
				e.reloadBacklog(ctx, h)
			}
			continue
		case c, ok = <-sub.C:
			closed = !ok
		}
		if ok {
			// The batch is shared with other subscribers: never append into it.
			c.Rows = slices.Clip(c.Rows)
			var ids []int64
			c, ids, closed = e.gather(ctx, sub.C, c, last.Add(e.cfg.Coalesce))
			last = time.Now()
			err := e.evaluate(ctx, c)
			sub.Release(len(c.Rows))
			switch {
			case err == nil:
				h.done = append(h.done, ids...)
			case ctx.Err() != nil:
				return nil
			default:
				e.log.Error("alert evaluation failed; its readings are evaluated again from the database", "rows", len(c.Rows), "err", err)
				h.fail(ids)
			}
		}
		if ids, lost := sub.Dropped(); len(ids) > 0 || lost {
			if lost {
				e.log.Error("committed readings without a backlog row did not fit in the evaluation queue; the sweep catches them up")
			}
			h.reload = append(h.reload, ids...)
		}
		e.reloadBacklog(ctx, h)
		if closed {
			// Everything committed was published: evaluate what is left,
			// store it and stop.
			for len(h.reload) > 0 && ctx.Err() == nil && h.failures < 3 {
				h.retryAt = time.Time{}
				e.reloadBacklog(ctx, h)
			}
			e.checkpoint(ctx, h)
			return nil
		}
	}
}

func (h *handoff) fail(ids []int64) {
	h.reload = append(h.reload, ids...)
	h.failures++
	h.retryAt = time.Now().Add(min(time.Duration(h.failures)*time.Second, 30*time.Second))
}

// gather merges into c the batches waiting in sub and, until the time
// until, those arriving meanwhile, up to maxMergedRows. It returns the
// merged batch's backlog rows and whether sub was closed.
func (e *Evaluator) gather(ctx context.Context, sub <-chan ingest.Committed, c ingest.Committed, until time.Time) (ingest.Committed, []int64, bool) {
	var ids []int64
	if c.Backlog != 0 {
		ids = append(ids, c.Backlog)
	}
	merge := func(more ingest.Committed) {
		c.Rows = append(c.Rows, more.Rows...)
		if more.At.Before(c.At) {
			c.At = more.At
		}
		if more.Backlog != 0 {
			ids = append(ids, more.Backlog)
		}
	}
	var timer <-chan time.Time
	if wait := time.Until(until); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timer = t.C
	}
	for len(c.Rows) < maxMergedRows {
		if timer == nil {
			select {
			case more, ok := <-sub:
				if !ok {
					return c, ids, true
				}
				merge(more)
			default:
				return c, ids, false
			}
			continue
		}
		select {
		case more, ok := <-sub:
			if !ok {
				return c, ids, true
			}
			merge(more)
		case <-timer:
			timer = nil
		case <-ctx.Done():
			return c, ids, false
		}
	}
	return c, ids, false
}

// checkpoint stores the in-memory states, catches up the units whose
// stored state moved on meanwhile, and deletes the backlog rows evaluated
// since the last checkpoint.
func (e *Evaluator) checkpoint(ctx context.Context, h *handoff) {
	if err := e.Checkpoint(ctx); err != nil {
		if ctx.Err() == nil {
			e.log.Error("alerting checkpoint failed; it is retried", "err", err)
		}
		return
	}
	if len(h.done) > 0 {
		if _, err := e.pool.Exec(ctx, `DELETE FROM evaluation_backlog WHERE id = ANY($1)`, h.done); err != nil {
			if ctx.Err() == nil {
				e.log.Error("could not delete evaluated backlog rows; they are evaluated again", "err", err)
			}
			return
		}
		h.done = h.done[:0]
	}
	e.measureLag(ctx)
}

// Checkpoint stores the evaluation state kept in memory (see memory.go) and
// evaluates from the database the units whose stored state turned out to
// have moved on. Evaluate calls it; Run calls it every
// Config.CheckpointInterval.
func (e *Evaluator) Checkpoint(ctx context.Context) error {
	catchUp, err := e.storeMemory(ctx)
	if err != nil {
		return err
	}
	for _, w := range catchUp {
		if w.rules, err = e.effectiveFor(ctx, w.unit); err != nil {
			return err
		}
	}
	return e.evaluateUnits(ctx, catchUp)
}

// measureLag sets freshtrack_alerting_lag_seconds: the age of the oldest
// backlog row, which is how far evaluation trails ingest.
func (e *Evaluator) measureLag(ctx context.Context) {
	lag, n, err := BacklogLag(ctx, e.pool)
	if err != nil {
		return
	}
	e.mLag.Set(lag.Seconds())
	e.mBacklog.Set(float64(n))
}

// BacklogLag returns the age of the oldest evaluation_backlog row (zero
// when there is none) and an estimate of how many rows there are.
func BacklogLag(ctx context.Context, db database.DB) (time.Duration, int64, error) {
	var (
		oldest *time.Time
		lo, hi *int64
	)
	err := db.QueryRow(ctx, `
		SELECT (SELECT committed_at FROM evaluation_backlog ORDER BY id LIMIT 1),
		       (SELECT min(id) FROM evaluation_backlog), (SELECT max(id) FROM evaluation_backlog)`).Scan(&oldest, &lo, &hi)
	if err != nil {
		return 0, 0, fmt.Errorf("evaluation backlog: %w", err)
	}
	if oldest == nil {
		return 0, 0, nil
	}
	return max(0, time.Since(*oldest)), *hi - *lo + 1, nil
}

// takeOver claims the backlog rows of owners that hold no lock (their
// process is gone) for reloading.
func (e *Evaluator) takeOver(ctx context.Context, h *handoff) {
	ids, err := e.takeOverBacklog(ctx, h.owner.Key)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Error("could not take over the evaluation backlog of stopped processes", "err", err)
		}
		return
	}
	if len(ids) > 0 {
		e.log.Info("evaluating readings a stopped process committed but had not evaluated", "backlog_rows", len(ids))
		h.reload = append(h.reload, ids...)
	}
}

func (e *Evaluator) takeOverBacklog(ctx context.Context, me int64) ([]int64, error) {
	rows, err := e.pool.Query(ctx, `SELECT DISTINCT owner FROM evaluation_backlog WHERE owner <> $1`, me)
	if err != nil {
		return nil, err
	}
	owners, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, o := range owners {
		err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
			var free bool
			// Held by a live process's session: it is still working.
			if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, o).Scan(&free); err != nil || !free {
				return err
			}
			rows, err := tx.Query(ctx, `UPDATE evaluation_backlog SET owner = $1 WHERE owner = $2 RETURNING id`, me, o)
			if err != nil {
				return err
			}
			got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			ids = append(ids, got...)
			return err
		})
		if err != nil {
			return ids, err
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// reloadBacklog evaluates backlog rows from the database, oldest first, a
// chunk at a time.
func (e *Evaluator) reloadBacklog(ctx context.Context, h *handoff) {
	if len(h.reload) == 0 || time.Now().Before(h.retryAt) {
		return
	}
	slices.Sort(h.reload)
	h.reload = slices.Compact(h.reload)
	for len(h.reload) > 0 && ctx.Err() == nil {
		ids := h.reload[:min(len(h.reload), maxReloadRows)]
		c, err := e.loadBacklog(ctx, ids)
		if err == nil {
			err = e.evaluate(ctx, c)
		}
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error("evaluating backlog from the database failed; retrying", "backlog_rows", len(ids), "err", err)
				h.failures++
				h.retryAt = time.Now().Add(min(time.Duration(h.failures)*time.Second, 30*time.Second))
			}
			return
		}
		h.failures = 0
		h.done = append(h.done, ids...)
		h.reload = h.reload[len(ids):]
	}
}

// loadBacklog reads back what backlog rows cover: every reading and fault
// of their sensors in their time ranges (which may include rows of other
// flushes; evaluating a reading again changes nothing).
func (e *Evaluator) loadBacklog(ctx context.Context, ids []int64) (ingest.Committed, error) {
	rows, err := e.pool.Query(ctx, `
		WITH span AS (
			SELECT x.sensor_id, min(x.first_time) AS first_time, max(x.last_time) AS last_time
			  FROM evaluation_backlog b,
			       unnest(b.sensor_ids, b.first_times, b.last_times) AS x(sensor_id, first_time, last_time)
			 WHERE b.id = ANY($1)
			 GROUP BY x.sensor_id)
		SELECT r.time, r.sensor_id, r.temp_c, coalesce(r.battery, 'NaN'), false
		  FROM span JOIN readings r ON r.sensor_id = span.sensor_id AND r.time BETWEEN span.first_time AND span.last_time
		UNION ALL
		SELECT f.time, f.sensor_id, f.code, 'NaN', true
		  FROM span JOIN sensor_faults f ON f.sensor_id = span.sensor_id AND f.time BETWEEN span.first_time AND span.last_time`, ids)
	if err != nil {
		return ingest.Committed{}, fmt.Errorf("load evaluation backlog: %w", err)
	}
	var (
		out []ingest.Row
		t   time.Time
		r   ingest.Row
		bat float32
	)
	_, err = pgx.ForEachRow(rows, []any{&t, &r.SensorID, &r.TempC, &bat, &r.Fault}, func() error {
		r.TimeMicros, r.Battery, r.Humidity = t.UnixMicro(), float64(bat), math.NaN()
		out = append(out, r)
		return nil
	})
	if err != nil {
		return ingest.Committed{}, fmt.Errorf("load evaluation backlog: %w", err)
	}
	return ingest.Committed{Rows: out}, nil
}
