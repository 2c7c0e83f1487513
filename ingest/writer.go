package ingest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/schema"
)

// Errors of Writer.Write. All three are retryable by the client.
var (
	// ErrOverloaded means the queue in front of the database is full.
	ErrOverloaded = errors.New("ingest queue full")
	// ErrNotStored means the flush holding the request failed and rolled
	// back: nothing of the request was stored.
	ErrNotStored = errors.New("readings were not stored")
	// ErrClosed means the writer is shutting down.
	ErrClosed = errors.New("ingest is shutting down")
)

// WriterConfig configures the group-commit writer.
type WriterConfig struct {
	// Writers is the number of connections draining the queue concurrently.
	// Defaults to 2.
	Writers int
	// MaxBatchRows flushes as soon as this many rows are gathered. Defaults to 5000.
	MaxBatchRows int
	// FlushDelay is the longest a flush waits for more requests once it has
	// one. Defaults to 2ms.
	FlushDelay time.Duration
	// QueueRows bounds the rows waiting for a flush; past it Write answers
	// ErrOverloaded instead of growing memory. Defaults to 100000.
	QueueRows int
	// FlushTimeout bounds one flush's database work. Defaults to 30s.
	FlushTimeout time.Duration
	// BacklogOwner, when not zero, makes every flush add an
	// evaluation_backlog row naming what it stored, in the same
	// transaction, owned by this key: the durable handoff to alert
	// evaluation, whose consumer holds a session advisory lock on the key
	// while it lives. Zero writes no backlog (nothing evaluates).
	BacklogOwner int64
}

// WithDefaults returns c with zero fields set to their defaults.
func (c WriterConfig) WithDefaults() WriterConfig {
	c.Writers = cmp.Or(c.Writers, 2)
	c.MaxBatchRows = cmp.Or(c.MaxBatchRows, 5000)
	c.FlushDelay = cmp.Or(c.FlushDelay, 2*time.Millisecond)
	c.QueueRows = cmp.Or(c.QueueRows, 100_000)
	c.FlushTimeout = cmp.Or(c.FlushTimeout, 30*time.Second)
	return c
}

// Validate reports the first invalid field.
func (c WriterConfig) Validate() error {
	switch {
	case c.Writers < 1 || c.Writers > 64:
		return fmt.Errorf("ingest: WriterConfig.Writers %d must be between 1 and 64", c.Writers)
	case c.MaxBatchRows < 1:
		return fmt.Errorf("ingest: WriterConfig.MaxBatchRows %d must be at least 1", c.MaxBatchRows)
	case c.FlushDelay < 0 || c.FlushDelay > 10*time.Second:
		return fmt.Errorf("ingest: WriterConfig.FlushDelay %s must be between 0s and 10s", c.FlushDelay)
	case c.QueueRows < 1:
		return fmt.Errorf("ingest: WriterConfig.QueueRows %d must be at least 1", c.QueueRows)
	case c.FlushTimeout < time.Millisecond:
		return fmt.Errorf("ingest: WriterConfig.FlushTimeout %s must be at least 1ms", c.FlushTimeout)
	}
	return nil
}

// Result is what happened to one request's rows.
type Result struct {
	Accepted   int
	Duplicates int
}

// Committed is published to subscribers after each flush commits: the rows
// newly stored by it (duplicates excluded), in no particular order.
type Committed struct {
	Rows []Row
	At   time.Time
	// Backlog is the flush's evaluation_backlog row (0 without one).
	Backlog int64
}

type request struct {
	rows []Row
	res  Result
	err  error
	done chan struct{}
	// state is reqQueued until a writer takes the request (reqTaken) or
	// its caller gives up first (reqCancelled): a cancelled request's rows
	// are never read, so its caller may reuse them at once, and never
	// stored.
	state atomic.Int32
}

const (
	reqQueued int32 = iota
	reqTaken
	reqCancelled
)

// Writer is the group-commit writer: requests hand it rows, a few writer
// goroutines gather them into batches and store each batch with one binary
// COPY in one transaction, and every request is answered only after the
// transaction holding its rows committed (or failed as a whole).
type Writer struct {
	pool   *pgxpool.Pool
	store  *schema.Store
	cfg    WriterConfig
	log    *slog.Logger
	latest *Latest

	mu     sync.RWMutex // guards closed and sends on queue
	closed bool
	queue  chan *request
	queued atomic.Int64
	wg     sync.WaitGroup

	subMu sync.RWMutex
	subs  map[*subscriber]struct{}

	mAccepted, mDuplicates, mOverloaded, mFlushErrors *metrics.Counter
	mCancelled                                        *metrics.Counter
	mFlushRows, mCommitSeconds                        *metrics.Histogram
}

type subscriber struct {
	ch chan Committed
	// pending is the rows sent and not yet released by the consumer.
	pending atomic.Int64
	// dropped holds the backlog ids of flushes that did not fit in ch.
	mu      sync.Mutex
	dropped []int64
	lost    bool
}

// Subscription receives committed flushes (see Writer.Subscribe).
type Subscription struct {
	// C receives the committed flushes that fit in its buffer. It is closed
	// when the writer closes, after its last flush.
	C <-chan Committed
	s *subscriber
}

// MaxSubscriberRows bounds the rows a subscription holds in its channel
// (sent and not yet released), about 50 MB: past it, flushes are not sent,
// only their backlog ids kept (see Dropped).
const MaxSubscriberRows = 1 << 20

// Release tells the writer the consumer is done with n rows it received,
// making room under MaxSubscriberRows.
func (s *Subscription) Release(n int) { s.s.pending.Add(-int64(n)) }

// Dropped returns, and forgets, the evaluation_backlog ids of the flushes
// that did not fit in C since the last call. lost reports that some flush
// without a backlog row (BacklogOwner zero) was dropped: its rows are only
// in the database.
func (s *Subscription) Dropped() (ids []int64, lost bool) {
	s.s.mu.Lock()
	defer s.s.mu.Unlock()
	ids, lost = s.s.dropped, s.s.lost
	s.s.dropped, s.s.lost = nil, false
	return ids, lost
}

// NewWriter returns a started writer. latest, when not nil, is updated with
// every committed row. Close it to drain and stop.
func NewWriter(pool *pgxpool.Pool, store *schema.Store, latest *Latest, cfg WriterConfig, log *slog.Logger) (*Writer, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	w := &Writer{
		pool:   pool,
		store:  store,
		cfg:    cfg,
		log:    log,
		latest: latest,
		// Every queued request holds at least one row, so this capacity
		// means a send never blocks while queued rows are within QueueRows.
		queue:          make(chan *request, cfg.QueueRows),
		subs:           map[*subscriber]struct{}{},
		mAccepted:      metrics.GetOrCreateCounter(`freshtrack_ingest_rows_total{result="accepted"}`),
		mDuplicates:    metrics.GetOrCreateCounter(`freshtrack_ingest_rows_total{result="duplicate"}`),
		mOverloaded:    metrics.GetOrCreateCounter(`freshtrack_ingest_overloaded_total`),
		mFlushErrors:   metrics.GetOrCreateCounter(`freshtrack_ingest_flush_errors_total`),
		mCancelled:     metrics.GetOrCreateCounter(`freshtrack_ingest_cancelled_requests_total`),
		mFlushRows:     metrics.GetOrCreateHistogram(`freshtrack_ingest_flush_rows`),
		mCommitSeconds: metrics.GetOrCreateHistogram(`freshtrack_ingest_commit_seconds`),
	}
	metrics.GetOrCreateGauge(`freshtrack_ingest_queue_rows`, func() float64 { return float64(w.queued.Load()) })
	metrics.GetOrCreateGauge(`freshtrack_ingest_queue_capacity_rows`, func() float64 { return float64(cfg.QueueRows) })
	for range cfg.Writers {
		w.wg.Add(1)
		go w.run()
	}
	return w, nil
}

// Config returns the writer's configuration, defaults filled in.
func (w *Writer) Config() WriterConfig { return w.cfg }

// Write stores rows and returns once the transaction holding them committed.
// It fails fast with ErrOverloaded when the queue is full, and returns
// ErrNotStored when the flush failed (nothing of rows was stored). If ctx ends
// while the rows still wait in the queue, Write returns ctx's error and they
// are never stored; once a writer has taken them, Write waits for their
// flush (at most FlushTimeout) and reports it, so that rows, which must stay
// untouched until Write returns, are never read after it returned.
func (w *Writer) Write(ctx context.Context, rows []Row) (Result, error) {
	if len(rows) == 0 {
		return Result{}, nil
	}
	n := int64(len(rows))
	if n > int64(w.cfg.QueueRows) {
		return Result{}, fmt.Errorf("%w: a request of %d rows exceeds the whole queue (%d rows)", ErrOverloaded, n, w.cfg.QueueRows)
	}
	if w.queued.Add(n) > int64(w.cfg.QueueRows) {
		w.queued.Add(-n)
		w.mOverloaded.Inc()
		return Result{}, ErrOverloaded
	}
	req := &request{rows: rows, done: make(chan struct{})}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		w.queued.Add(-n)
		return Result{}, ErrClosed
	}
	w.queue <- req
	w.mu.RUnlock()

	select {
	case <-req.done:
		return req.res, req.err
	case <-ctx.Done():
		if req.state.CompareAndSwap(reqQueued, reqCancelled) {
			w.mCancelled.Inc()
			return Result{}, ctx.Err()
		}
		<-req.done
		return req.res, req.err
	}
}

// Close stops taking requests, flushes everything queued, waits for the
// writers to finish and closes every subscription's channel.
func (w *Writer) Close() {
	w.mu.Lock()
	already := w.closed
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()
	w.wg.Wait()
	if already {
		return
	}
	w.subMu.Lock()
	for s := range w.subs {
		close(s.ch)
		delete(w.subs, s)
	}
	w.subMu.Unlock()
}

// Subscribe returns a subscription receiving every committed flush. A
// subscriber that falls more than buffer flushes behind does not slow
// ingest: the flushes that do not fit are not sent, and their backlog ids
// are kept for Subscription.Dropped (counted in
// freshtrack_ingest_subscriber_dropped_total), so it can read them back
// from the database. Call cancel to unsubscribe.
func (w *Writer) Subscribe(buffer int) (*Subscription, func()) {
	s := &subscriber{ch: make(chan Committed, buffer)}
	w.subMu.Lock()
	w.subs[s] = struct{}{}
	w.subMu.Unlock()
	return &Subscription{C: s.ch, s: s}, func() {
		w.subMu.Lock()
		delete(w.subs, s)
		w.subMu.Unlock()
	}
}

func (w *Writer) run() {
	defer w.wg.Done()
	fl := &flusher{w: w}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var batch []*request
	for {
		first, ok := <-w.queue
		if !ok {
			return
		}
		if !w.take(first) {
			continue
		}
		batch = append(batch[:0], first)
		rows := len(first.rows)
		timer.Reset(w.cfg.FlushDelay)
	gather:
		for rows < w.cfg.MaxBatchRows {
			select {
			case r, ok := <-w.queue:
				if !ok {
					break gather
				}
				if !w.take(r) {
					continue
				}
				batch = append(batch, r)
				rows += len(r.rows)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		fl.flush(batch, rows)
		w.queued.Add(-int64(rows))
		clear(batch)
	}
}

// take claims a queued request for a flush; false means its caller gave up
// and it is dropped unread.
func (w *Writer) take(r *request) bool {
	if r.state.CompareAndSwap(reqQueued, reqTaken) {
		return true
	}
	w.queued.Add(-int64(len(r.rows)))
	return false
}

// flusher holds one writer goroutine's reusable buffers.
type flusher struct {
	w        *Writer
	enc      copyEncoder
	days     []time.Time
	buckets  []time.Time
	accepted []bool
	// faults are the batch's probe error codes (Row.Fault), stored in
	// sensor_faults rather than readings.
	faults []*Row
	// spans is each sensor's time range in the batch, for its backlog row.
	spans    map[int64]*[2]int64
	backlog  int64
	spanIDs  []int64
	spanFrom []time.Time
	spanTo   []time.Time
}

const (
	copySQL      = `COPY readings (time, sensor_id, temp_c, humidity, battery) FROM STDIN (FORMAT binary)`
	stageSQL     = `CREATE TEMP TABLE IF NOT EXISTS readings_stage (seq int4, time timestamptz, sensor_id int8, temp_c float8, humidity float4, battery float4) ON COMMIT DELETE ROWS`
	copyStageSQL = `COPY readings_stage (seq, time, sensor_id, temp_c, humidity, battery) FROM STDIN (FORMAT binary)`
	// dedupSQL inserts the first occurrence of each (sensor, time) not yet
	// stored and returns the staging seq of every row it inserted.
	dedupSQL = `
		WITH src AS (
			SELECT DISTINCT ON (sensor_id, time) seq, time, sensor_id, temp_c, humidity, battery
			  FROM readings_stage ORDER BY sensor_id, time, seq),
		ins AS (
			INSERT INTO readings (time, sensor_id, temp_c, humidity, battery)
			SELECT time, sensor_id, temp_c, humidity, battery FROM src
			ON CONFLICT DO NOTHING RETURNING sensor_id, time)
		SELECT src.seq FROM src JOIN ins USING (sensor_id, time)`
	faultsSQL = `
		INSERT INTO sensor_faults (sensor_id, time, code)
		SELECT * FROM unnest($1::int8[], $2::timestamptz[], $3::float8[])
		ON CONFLICT DO NOTHING`
	backlogSQL = `
		INSERT INTO evaluation_backlog (owner, sensor_ids, first_times, last_times)
		VALUES ($1, $2, $3, $4) RETURNING id`
)

func (f *flusher) flush(batch []*request, nrows int) {
	w := f.w
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.FlushTimeout)
	defer cancel()

	f.days, f.buckets, f.faults = f.days[:0], f.buckets[:0], f.faults[:0]
	if f.spans == nil {
		f.spans = map[int64]*[2]int64{}
	}
	clear(f.spans)
	var lastDay, lastBucket int64 = -1 << 62, -1 << 62
	f.enc.reset()
	for _, r := range batch {
		for i := range r.rows {
			row := &r.rows[i]
			if w.cfg.BacklogOwner != 0 {
				if sp := f.spans[row.SensorID]; sp == nil {
					f.spans[row.SensorID] = &[2]int64{row.TimeMicros, row.TimeMicros}
				} else {
					sp[0], sp[1] = min(sp[0], row.TimeMicros), max(sp[1], row.TimeMicros)
				}
			}
			if row.Fault {
				f.faults = append(f.faults, row)
				continue
			}
			f.enc.row(row, 0, false)
			if d := floorDiv(row.TimeMicros, 86_400_000_000); d != lastDay {
				lastDay = d
				f.days = appendUnique(f.days, time.UnixMicro(d*86_400_000_000).UTC())
			}
			if b := floorDiv(row.TimeMicros, 300_000_000); b != lastBucket {
				lastBucket = b
				f.buckets = appendUnique(f.buckets, time.UnixMicro(b*300_000_000).UTC())
			}
		}
	}
	data := f.enc.finish()
	f.spanIDs, f.spanFrom, f.spanTo = f.spanIDs[:0], f.spanFrom[:0], f.spanTo[:0]
	for id, sp := range f.spans {
		f.spanIDs = append(f.spanIDs, id)
		f.spanFrom = append(f.spanFrom, time.UnixMicro(sp[0]).UTC())
		f.spanTo = append(f.spanTo, time.UnixMicro(sp[1]).UTC())
	}

	dedup := false
	err := w.store.EnsurePartitions(ctx, f.days...)
	if err == nil {
		err = f.commitFast(ctx, data)
		if schema.IsMissingPartition(err) {
			// Another process dropped a partition this one had cached.
			w.store.ForgetPartitions()
			if err = w.store.EnsurePartitions(ctx, f.days...); err == nil {
				err = f.commitFast(ctx, data)
			}
		}
		if isUniqueViolation(err) || isDeadlock(err) {
			// A duplicate, or a concurrent flush holding some of the same
			// (sensor, time) keys: redo the batch key-sorted through the
			// staging table, which waits for the other and skips what it
			// stored. Two unsorted COPYs can still deadlock against it;
			// PostgreSQL then aborts one, and it is simply retried.
			dedup = true
			for attempt := 1; ; attempt++ {
				err = f.commitDedup(ctx, batch, nrows)
				if !isDeadlock(err) || attempt == 4 {
					break
				}
			}
		}
	}
	elapsed := time.Since(start)
	if err != nil {
		w.mFlushErrors.Inc()
		w.log.Error("ingest flush failed; its requests get a retryable error", "rows", nrows, "requests", len(batch), "err", err)
		for _, r := range batch {
			r.err = fmt.Errorf("%w: %v", ErrNotStored, err)
			close(r.done)
		}
		return
	}
	w.mCommitSeconds.Update(elapsed.Seconds())
	w.mFlushRows.Update(float64(nrows))

	var stored []Row
	w.subMu.RLock()
	publish := len(w.subs) > 0
	w.subMu.RUnlock()
	if publish {
		stored = make([]Row, 0, nrows)
	}
	seq := 0
	total := Result{}
	for _, r := range batch {
		if !dedup {
			r.res = Result{Accepted: len(r.rows)}
			if w.latest != nil {
				w.latest.Update(r.rows)
			}
			if publish {
				stored = append(stored, r.rows...)
			}
		} else {
			for i := range r.rows {
				// Faults are not staged: a repeated one is harmless.
				if r.rows[i].Fault || f.accepted[seq+i] {
					r.res.Accepted++
					if w.latest != nil {
						w.latest.Update(r.rows[i : i+1])
					}
					if publish {
						stored = append(stored, r.rows[i])
					}
				} else {
					r.res.Duplicates++
				}
			}
		}
		seq += len(r.rows)
		total.Accepted += r.res.Accepted
		total.Duplicates += r.res.Duplicates
	}
	w.mAccepted.Add(total.Accepted)
	w.mDuplicates.Add(total.Duplicates)
	if publish {
		w.publish(Committed{Rows: stored, At: time.Now(), Backlog: f.backlog})
	}
	for _, r := range batch {
		close(r.done)
	}
}

// commitExtras writes, in the flush's transaction, what goes with the
// readings: the touched rollup buckets, the probes' error codes and the
// backlog row that hands the flush to alert evaluation.
func (f *flusher) commitExtras(ctx context.Context, tx pgx.Tx) error {
	w := f.w
	if err := w.store.RecordWrites(ctx, tx, f.buckets); err != nil {
		return err
	}
	if len(f.faults) > 0 {
		ids := make([]int64, len(f.faults))
		times := make([]time.Time, len(f.faults))
		codes := make([]float64, len(f.faults))
		for i, r := range f.faults {
			ids[i], times[i], codes[i] = r.SensorID, time.UnixMicro(r.TimeMicros).UTC(), r.TempC
		}
		if _, err := tx.Exec(ctx, faultsSQL, ids, times, codes); err != nil {
			return fmt.Errorf("store sensor faults: %w", err)
		}
	}
	f.backlog = 0
	if w.cfg.BacklogOwner != 0 {
		if err := tx.QueryRow(ctx, backlogSQL, w.cfg.BacklogOwner, f.spanIDs, f.spanFrom, f.spanTo).Scan(&f.backlog); err != nil {
			return fmt.Errorf("record evaluation backlog: %w", err)
		}
	}
	return nil
}

func (w *Writer) publish(c Committed) {
	w.subMu.RLock()
	defer w.subMu.RUnlock()
	n := int64(len(c.Rows))
	for s := range w.subs {
		if s.pending.Add(n) > MaxSubscriberRows {
			s.pending.Add(-n)
			s.drop(c)
			continue
		}
		select {
		case s.ch <- c:
		default:
			s.pending.Add(-n)
			s.drop(c)
		}
	}
}

// drop records a flush that was not sent: its backlog id, for the consumer
// to read it back.
func (s *subscriber) drop(c Committed) {
	s.mu.Lock()
	if c.Backlog != 0 {
		s.dropped = append(s.dropped, c.Backlog)
	} else {
		s.lost = true
	}
	s.mu.Unlock()
	metrics.GetOrCreateCounter(`freshtrack_ingest_subscriber_dropped_total`).Inc()
}

// commitFast is the common case: one binary COPY straight into readings.
func (f *flusher) commitFast(ctx context.Context, data []byte) error {
	w := f.w
	return pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(data), copySQL); err != nil {
			return fmt.Errorf("copy readings: %w", err)
		}
		return f.commitExtras(ctx, tx)
	})
}

// commitDedup redoes a batch that hit a unique violation through a staging
// table and INSERT ... ON CONFLICT DO NOTHING, and marks in f.accepted which
// rows (by position in the batch) were newly stored.
func (f *flusher) commitDedup(ctx context.Context, batch []*request, nrows int) error {
	w := f.w
	f.enc.reset()
	seq := int32(0)
	for _, r := range batch {
		for i := range r.rows {
			if !r.rows[i].Fault {
				f.enc.row(&r.rows[i], seq, true)
			}
			seq++
		}
	}
	data := f.enc.finish()
	if cap(f.accepted) < nrows {
		f.accepted = make([]bool, nrows)
	}
	f.accepted = f.accepted[:nrows]
	clear(f.accepted)
	return pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, stageSQL); err != nil {
			return fmt.Errorf("create staging table: %w", err)
		}
		if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(data), copyStageSQL); err != nil {
			return fmt.Errorf("copy staging rows: %w", err)
		}
		rows, err := tx.Query(ctx, dedupSQL)
		if err != nil {
			return fmt.Errorf("insert new readings: %w", err)
		}
		var s int32
		_, err = pgx.ForEachRow(rows, []any{&s}, func() error {
			f.accepted[s] = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("insert new readings: %w", err)
		}
		return f.commitExtras(ctx, tx)
	})
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

func isDeadlock(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "40P01"
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func appendUnique(s []time.Time, t time.Time) []time.Time {
	for _, v := range s {
		if v.Equal(t) {
			return s
		}
	}
	return append(s, t)
}
