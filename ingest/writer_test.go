package ingest_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/schema"
)

var quiet = slog.New(slog.DiscardHandler)

func newWriter(t *testing.T, pool *pgxpool.Pool, cfg ingest.WriterConfig) (*ingest.Writer, *ingest.Latest) {
	t.Helper()
	store, err := schema.OpenStore(context.Background(), pool, quiet)
	if err != nil {
		t.Fatal(err)
	}
	latest := ingest.NewLatest()
	w, err := ingest.NewWriter(pool, store, latest, cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w, latest
}

func rowsAt(base time.Time, sensor int64, n int, step time.Duration) []ingest.Row {
	rows := make([]ingest.Row, n)
	for i := range rows {
		rows[i] = ingest.Row{
			TimeMicros: base.Add(time.Duration(i) * step).UnixMicro(),
			SensorID:   sensor,
			TempC:      3 + float64(i%10)/10,
			Humidity:   math.NaN(),
			Battery:    90,
		}
	}
	return rows
}

func count(t *testing.T, pool *pgxpool.Pool, where string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM readings WHERE `+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWriterStoresAndCountsDuplicates(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	w, latest := newWriter(t, pool, ingest.WriterConfig{})
	ctx := context.Background()
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)

	first := rowsAt(base, 1, 100, time.Second)
	res, err := w.Write(ctx, first)
	if err != nil || res != (ingest.Result{Accepted: 100}) {
		t.Fatalf("first write = %+v, %v", res, err)
	}
	// The same batch again: nothing new, every row a duplicate.
	res, err = w.Write(ctx, first)
	if err != nil || res != (ingest.Result{Duplicates: 100}) {
		t.Fatalf("resend = %+v, %v", res, err)
	}
	// Half old, half new, plus a duplicate inside the batch itself.
	mixed := append(rowsAt(base.Add(50*time.Second), 1, 100, time.Second), rowsAt(base.Add(149*time.Second), 1, 1, 0)...)
	res, err = w.Write(ctx, mixed)
	if err != nil || res != (ingest.Result{Accepted: 50, Duplicates: 51}) {
		t.Fatalf("mixed write = %+v, %v", res, err)
	}
	if n := count(t, pool, "sensor_id = 1"); n != 150 {
		t.Fatalf("stored %d rows, want 150", n)
	}
	// Values are stored exactly, NULL for absent humidity.
	var temp float64
	var hum, bat *float32
	if err := pool.QueryRow(ctx, `SELECT temp_c, humidity, battery FROM readings WHERE sensor_id = 1 AND time = $1`, base.Add(3*time.Second)).Scan(&temp, &hum, &bat); err != nil {
		t.Fatal(err)
	}
	if temp != 3.3 || hum != nil || bat == nil || *bat != 90 {
		t.Fatalf("stored row = %v %v %v", temp, hum, bat)
	}
	v, ok := latest.Get(1)
	if !ok || v.Time() != base.Add(149*time.Second) {
		t.Fatalf("latest = %+v %v, want the newest reading", v, ok)
	}
	// Rollup invalidations were written with the readings.
	var inv int
	if err := pool.QueryRow(ctx, `SELECT count(DISTINCT bucket) FROM rollup_invalidations`).Scan(&inv); err != nil || inv == 0 {
		t.Fatalf("rollup invalidations = %d (%v)", inv, err)
	}
}

func TestWriterConcurrentRequestsShareFlushes(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	w, _ := newWriter(t, pool, ingest.WriterConfig{FlushDelay: 20 * time.Millisecond})
	sub, cancel := w.Subscribe(1000)
	defer cancel()
	ctx := context.Background()
	base := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	var wg sync.WaitGroup
	results := make([]ingest.Result, 40)
	errs := make([]error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Requests 0-19 and 20-39 send the same rows: across requests,
			// each row is stored once.
			results[i], errs[i] = w.Write(ctx, rowsAt(base, int64(i%20+1), 50, time.Second))
		}()
	}
	wg.Wait()
	accepted, dups := 0, 0
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		accepted += results[i].Accepted
		dups += results[i].Duplicates
	}
	if accepted != 1000 || dups != 1000 {
		t.Fatalf("accepted %d, duplicates %d; want 1000 and 1000", accepted, dups)
	}
	if n := count(t, pool, "true"); n != 1000 {
		t.Fatalf("stored %d, want 1000", n)
	}
	published := 0
	for published < 1000 {
		select {
		case c := <-sub.C:
			published += len(c.Rows)
		case <-time.After(10 * time.Second):
			t.Fatalf("subscriber saw %d of 1000 committed rows", published)
		}
	}
	if published != 1000 {
		t.Fatalf("subscriber saw %d rows, want 1000 (duplicates are not published)", published)
	}
}

func TestWriterFailedFlushStoresNothing(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	ctx := context.Background()
	// A trigger that refuses one poisoned value makes the whole flush fail.
	if _, err := pool.Exec(ctx, `
		CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.temp_c = 666 THEN RAISE EXCEPTION 'poisoned reading'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER poison BEFORE INSERT ON readings FOR EACH ROW EXECUTE FUNCTION poison();`); err != nil {
		t.Fatal(err)
	}
	w, latest := newWriter(t, pool, ingest.WriterConfig{FlushDelay: 50 * time.Millisecond, Writers: 1})
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	good := rowsAt(base, 1, 10, time.Second)
	bad := rowsAt(base, 2, 10, time.Second)
	bad[5].TempC = 666
	var wg sync.WaitGroup
	var errGood, errBad error
	wg.Add(2)
	go func() { defer wg.Done(); _, errGood = w.Write(ctx, good) }()
	go func() { defer wg.Done(); _, errBad = w.Write(ctx, bad) }()
	wg.Wait()
	if !errors.Is(errBad, ingest.ErrNotStored) {
		t.Fatalf("poisoned request = %v, want ErrNotStored", errBad)
	}
	stored := count(t, pool, "true")
	switch {
	case errGood == nil && stored == 10:
		// The good request happened to commit in a flush of its own.
	case errors.Is(errGood, ingest.ErrNotStored) && stored == 0:
		// It shared the failed flush: nothing of it is stored either.
	default:
		t.Fatalf("good request = %v with %d rows stored: a flush was half-written", errGood, stored)
	}
	if count(t, pool, "sensor_id = 2") != 0 {
		t.Fatal("rows of the failed request were stored")
	}
	if _, ok := latest.Get(2); ok {
		t.Fatal("latest values show a reading that was not stored")
	}
	// The writer keeps working after a failed flush.
	if res, err := w.Write(ctx, rowsAt(base, 3, 5, time.Second)); err != nil || res.Accepted != 5 {
		t.Fatalf("write after a failed flush = %+v %v", res, err)
	}
}

func TestWriterOverloadAnswersInsteadOfGrowing(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	ctx := context.Background()
	// Hold the readings table so flushes block, then fill the tiny queue.
	blocker, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := blocker.Exec(ctx, `LOCK TABLE readings IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	w, _ := newWriter(t, pool, ingest.WriterConfig{QueueRows: 100, Writers: 1, MaxBatchRows: 10})
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	type outcome struct {
		res ingest.Result
		err error
	}
	out := make(chan outcome, 30)
	for i := range 30 {
		go func() {
			res, err := w.Write(ctx, rowsAt(base, int64(i+1), 10, time.Second))
			out <- outcome{res, err}
		}()
	}
	// Requests beyond the queue's 100 rows fail fast while the table is locked.
	overloaded := 0
	for range 20 {
		select {
		case o := <-out:
			if !errors.Is(o.err, ingest.ErrOverloaded) {
				t.Fatalf("while blocked: %+v %v, want ErrOverloaded", o.res, o.err)
			}
			overloaded++
		case <-time.After(15 * time.Second):
			t.Fatalf("only %d requests were refused; the queue grew past its bound", overloaded)
		}
	}
	if err := blocker.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for range 10 {
		o := <-out
		if o.err != nil {
			t.Fatalf("queued request: %v", o.err)
		}
		accepted += o.res.Accepted
	}
	if accepted != 100 || count(t, pool, "true") != 100 {
		t.Fatalf("accepted %d, stored %d; want exactly the 100 queued rows", accepted, count(t, pool, "true"))
	}
}

func TestWriterCreatesMissingPartitions(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	w, _ := newWriter(t, pool, ingest.WriterConfig{})
	far := time.Date(2035, 6, 1, 12, 0, 0, 0, time.UTC)
	rows := append(rowsAt(far, 1, 3, time.Hour), rowsAt(time.Date(2012, 1, 1, 0, 0, 0, 0, time.UTC), 1, 3, 24*time.Hour)...)
	res, err := w.Write(context.Background(), rows)
	if err != nil || res.Accepted != 6 {
		t.Fatalf("write to days without partitions = %+v, %v", res, err)
	}
}

// A request whose caller gives up while it still waits in the queue is
// never stored, and its rows are never read after Write returned (the
// caller recycles them); one a writer already took is waited for.
func TestWriterCancelledRequestIsNeverStoredOrRead(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	w, _ := newWriter(t, pool, ingest.WriterConfig{Writers: 1, FlushDelay: time.Millisecond})
	ctx := context.Background()
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	// Hold the one writer inside its flush: COPY waits for this lock.
	lock, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(ctx, `LOCK TABLE readings IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		_, err := w.Write(ctx, rowsAt(base, 1, 10, time.Second))
		first <- err
	}()
	time.Sleep(200 * time.Millisecond) // the writer takes the first request and blocks
	cancelled := rowsAt(base.Add(time.Minute), 2, 10, time.Second)
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := w.Write(cctx, cancelled); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a queued request whose context ended: %v", err)
	}
	// The caller reuses its rows at once, as the HTTP handler does.
	for i := range cancelled {
		cancelled[i].SensorID, cancelled[i].TempC = 3, 99
	}
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	// A later write flushes after the dropped request would have.
	if _, err := w.Write(ctx, rowsAt(base.Add(2*time.Minute), 4, 1, time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool, "sensor_id IN (2, 3) OR temp_c = 99"); n != 0 {
		t.Fatalf("%d rows of the cancelled request stored", n)
	}
	if n := count(t, pool, "sensor_id IN (1, 4)"); n != 11 {
		t.Fatalf("%d rows of the other requests stored, want 11", n)
	}
}

// A subscriber that stops reading holds at most MaxSubscriberRows rows: past
// them flushes are not sent, and their backlog ids are kept for it.
func TestWriterStalledSubscriberIsBoundedInRows(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	w, _ := newWriter(t, pool, ingest.WriterConfig{Writers: 1, FlushDelay: time.Millisecond, MaxBatchRows: 50_000,
		QueueRows: 200_000, BacklogOwner: 7})
	sub, cancel := w.Subscribe(1000)
	defer cancel()
	ctx := context.Background()
	base := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	const perWrite = 50_000
	writes := ingest.MaxSubscriberRows/perWrite + 3
	for i := range writes {
		if _, err := w.Write(ctx, rowsAt(base.Add(time.Duration(i)*time.Minute), int64(i+1), perWrite, time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	held := 0
	for len(sub.C) > 0 {
		held += len((<-sub.C).Rows)
	}
	ids, lost := sub.Dropped()
	if held > ingest.MaxSubscriberRows || len(ids) == 0 || lost {
		t.Fatalf("held %d rows (cap %d), %d flushes dropped with backlog ids (lost %v)", held, ingest.MaxSubscriberRows, len(ids), lost)
	}
	if held+len(ids)*perWrite != writes*perWrite {
		t.Fatalf("held %d rows and dropped %d flushes of %d: %d rows unaccounted", held, len(ids), perWrite, writes*perWrite-held-len(ids)*perWrite)
	}
	var backlog int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM evaluation_backlog WHERE id = ANY($1)`, ids).Scan(&backlog); err != nil || backlog != len(ids) {
		t.Fatalf("%d of the dropped flushes' backlog rows exist (%v)", backlog, err)
	}
}
