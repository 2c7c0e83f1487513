package seedimport

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/schema"
)

// The readings phase: the seed's sensor_readings (the parent table, so its
// default partition is included) copied chunk by chunk in time order, each
// chunk one seed COPY streamed through the streamer into one FreshTrack
// COPY, committed with its import_chunks row in one transaction.

// readingsFilter is the WHERE of a run's readings on the seed.
type readingsFilter struct {
	to            *time.Time
	from, recv    *time.Time
	hasReceived   bool
	batteryColumn string
}

func (f readingsFilter) sql() string {
	var w []string
	if f.to != nil {
		w = append(w, "recorded_at <= "+lit(*f.to))
	}
	switch {
	case f.from != nil && f.recv != nil && f.hasReceived:
		w = append(w, "(recorded_at > "+lit(*f.from)+" OR received_at >= "+lit(*f.recv)+")")
	case f.from != nil:
		w = append(w, "recorded_at > "+lit(*f.from))
	}
	if len(w) == 0 {
		return "true"
	}
	return strings.Join(w, " AND ")
}

// lit is a timestamptz literal (the seed's COPY takes no parameters).
func lit(t time.Time) string {
	return "'" + t.UTC().Format("2006-01-02 15:04:05.999999") + "+00'::timestamptz"
}

func newFilter(cat catalog, r *run) readingsFilter {
	return readingsFilter{to: r.ReadingsTo, from: r.ReadingsFrom, recv: r.ReceivedFrom,
		hasReceived: cat.col("sensor_readings", "received_at"), batteryColumn: cat.first("sensor_readings", "int", "battery", "battery_level")}
}

// prepass counts the run's readings per unit, device and UTC day, which says
// which units need a synthetic sensor, how many rows there are and which
// days have any.
func prepass(ctx context.Context, tx pgx.Tx, f readingsFilter) ([]readingGroup, error) {
	// Grouped by the uuids, cast after: grouping by their text took three
	// times as long.
	rows, err := tx.Query(ctx, `
		SELECT unit_id::text, device_id::text, day, n, lo, hi FROM (
			SELECT unit_id, device_id, date_trunc('day', recorded_at) AS day, count(*) AS n, min(recorded_at) AS lo, max(recorded_at) AS hi
			  FROM sensor_readings WHERE `+f.sql()+` GROUP BY 1, 2, 3) g`)
	if err != nil {
		return nil, fmt.Errorf("seed: count readings: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (g readingGroup, err error) {
		err = r.Scan(&g.UnitID, &g.DeviceID, &g.Day, &g.N, &g.Min, &g.Max)
		g.Day, g.Min, g.Max = g.Day.UTC(), g.Min.UTC(), g.Max.UTC()
		return
	})
	if err != nil {
		return nil, fmt.Errorf("seed: count readings: %w", err)
	}
	return out, nil
}

// newestReading is the seed snapshot's newest recorded_at.
func newestReading(ctx context.Context, tx pgx.Tx) (*time.Time, error) {
	var t *time.Time
	if err := tx.QueryRow(ctx, `SELECT max(recorded_at) FROM sensor_readings`).Scan(&t); err != nil {
		return nil, fmt.Errorf("seed: newest reading: %w", err)
	}
	if t != nil {
		*t = t.UTC()
	}
	return t, nil
}

type chunk struct {
	from, to time.Time
	// rows is the pre-pass's estimate (its day's rows, split evenly).
	rows int64
}

// chunks cuts the days that have readings into chunks of width w, oldest
// first, leaving out those already done.
func chunks(groups []readingGroup, w time.Duration, done map[int64]bool) []chunk {
	type span struct {
		lo, hi time.Time
		n      int64
	}
	days := map[time.Time]*span{}
	for _, g := range groups {
		d := days[g.Day]
		if d == nil {
			d = &span{lo: g.Min, hi: g.Max}
			days[g.Day] = d
		}
		d.lo, d.hi, d.n = minT(d.lo, g.Min), maxT(d.hi, g.Max), d.n+g.N
	}
	var out []chunk
	for _, day := range slices.SortedFunc(maps.Keys(days), func(a, b time.Time) int { return a.Compare(b) }) {
		d := days[day]
		first, last := d.lo.Truncate(w), d.hi.Truncate(w)
		parts := int64(last.Sub(first)/w) + 1
		for t := first; !t.After(last); t = t.Add(w) {
			if !done[t.UnixMicro()] {
				out = append(out, chunk{from: t, to: t.Add(w), rows: d.n / parts})
			}
		}
	}
	return out
}

// buildSensorMap is the streamer's view of the plan: units whose readings
// are imported, each device's sensor and the synthetic sensors.
func buildSensorMap(p *plan, ids map[string]int64) (*sensorMap, error) {
	m := &sensorMap{devices: map[[16]byte]devRef{}, units: map[[16]byte]int32{}}
	index := map[string]int32{}
	idx := func(key string) (int32, error) {
		if i, ok := index[key]; ok {
			return i, nil
		}
		id, ok := ids[key]
		if !ok {
			return 0, fmt.Errorf("sensor %s has no id", key)
		}
		i := int32(len(m.ids))
		m.ids = append(m.ids, id)
		index[key] = i
		return i, nil
	}
	unitOf := map[string]*string{}
	for _, s := range p.sensors {
		unitOf[s.Key] = s.UnitID
	}
	for id := range p.unitsByID {
		u, err := uuidBytes(id)
		if err != nil {
			return nil, err
		}
		m.units[u] = -1
		if _, ok := ids["unit:"+id]; ok {
			if m.units[u], err = idx("unit:" + id); err != nil {
				return nil, err
			}
		}
	}
	for dev, key := range p.deviceSensor {
		unit := unitOf[key]
		if unit == nil {
			continue // an unassigned device's readings go to their unit's synthetic sensor
		}
		d, err := uuidBytes(dev)
		if err != nil {
			return nil, err
		}
		u, _ := uuidBytes(*unit)
		i, err := idx(key)
		if err != nil {
			return nil, err
		}
		m.devices[d] = devRef{unit: u, idx: i}
	}
	return m, nil
}

func uuidBytes(s string) ([16]byte, error) {
	var b [16]byte
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 {
		return b, fmt.Errorf("not a uuid: %q", s)
	}
	_, err := hex.Decode(b[:], []byte(h))
	return b, err
}

// copier copies chunks: workers each with a seed connection in the
// import's snapshot and a FreshTrack connection.
type copier struct {
	o       Options
	src     *source
	pool    *pgxpool.Pool
	store   *schema.Store
	m       *sensorMap
	filter  readingsFilter
	run     *run
	dedupe  bool
	sensors []int64

	rows      atomic.Int64 // read so far, for progress
	committed atomic.Int64
}

const targetCopySQL = `COPY readings (time, sensor_id, temp_c, humidity, battery) FROM STDIN (FORMAT binary)`

func (c *copier) sourceSQL(ch chunk) string {
	return `COPY (SELECT recorded_at, unit_id, device_id, temperature::float8, humidity::float4, ` + c.filter.batteryColumn + `::float4
	                FROM sensor_readings
	               WHERE recorded_at >= ` + lit(ch.from) + ` AND recorded_at < ` + lit(ch.to) + ` AND ` + c.filter.sql() + `
	               ORDER BY recorded_at, id) TO STDOUT (FORMAT binary)`
}

// copyAll runs the chunks on Workers workers, oldest first; the first
// error stops them.
func (c *copier) copyAll(ctx context.Context, list []chunk) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan chunk)
	var wg sync.WaitGroup
	var once sync.Once
	fail := func(err error) { once.Do(func() { cancel(err) }) }
	for range min(c.o.Workers, max(len(list), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := c.newWorker(ctx)
			if err != nil {
				fail(err)
				return
			}
			defer w.close()
			for ch := range work {
				if err := w.chunk(ctx, ch); err != nil {
					fail(err)
					return
				}
				n := c.committed.Add(1)
				if c.o.ChunkCommitted != nil {
					c.o.ChunkCommitted(int(n))
				}
			}
		}()
	}
feed:
	for _, ch := range list {
		select {
		case work <- ch:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

type worker struct {
	c    *copier
	conn *pgx.Conn
	tx   pgx.Tx
	st   *streamer
}

func (c *copier) newWorker(ctx context.Context) (*worker, error) {
	conn, tx, err := c.src.fork(ctx)
	if err != nil {
		return nil, err
	}
	st := newStreamer(c.m, c.run.Unit == Fahrenheit)
	st.progress = func(n int64) { c.rows.Add(n) }
	return &worker{c: c, conn: conn, tx: tx, st: st}, nil
}

func (w *worker) close() {
	_ = w.tx.Rollback(context.Background())
	_ = w.conn.Close(context.Background())
}

// chunk copies one chunk and commits it with its import_chunks row.
func (w *worker) chunk(ctx context.Context, ch chunk) error {
	c := w.c
	if err := c.store.EnsurePartitions(ctx, ch.from); err != nil {
		return err
	}
	dedupe := c.dedupe
	if !dedupe {
		if err := c.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM readings WHERE time >= $1 AND time < $2 AND sensor_id = ANY($3))`,
			ch.from, ch.to, c.sensors).Scan(&dedupe); err != nil {
			return fmt.Errorf("readings %s: look for readings FreshTrack has: %w", ch.from.Format(time.RFC3339), err)
		}
	}
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return err
		}
		into := targetCopySQL
		if dedupe {
			if _, err := tx.Exec(ctx, `CREATE TEMP TABLE seedimport_stage (LIKE readings) ON COMMIT DROP`); err != nil {
				return err
			}
			into = `COPY seedimport_stage (time, sensor_id, temp_c, humidity, battery) FROM STDIN (FORMAT binary)`
		}
		if err := w.stream(ctx, tx, ch, into); err != nil {
			return err
		}
		st := w.st.stats
		var present int64
		if dedupe {
			tag, err := tx.Exec(ctx, `INSERT INTO readings SELECT * FROM seedimport_stage ON CONFLICT DO NOTHING`)
			if err != nil {
				return fmt.Errorf("insert staged readings: %w", err)
			}
			present = st.Written - tag.RowsAffected()
			st.Written = tag.RowsAffected()
		}
		if err := c.store.RecordWrites(ctx, tx, w.st.buckets); err != nil {
			return err
		}
		if len(w.st.faults) > 0 {
			ids, times, codes := make([]int64, len(w.st.faults)), make([]time.Time, len(w.st.faults)), make([]float64, len(w.st.faults))
			for i, f := range w.st.faults {
				ids[i], times[i], codes[i] = f.SensorID, time.UnixMicro(f.TimeMicros).UTC(), f.Code
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO sensor_faults (sensor_id, time, code) SELECT * FROM unnest($1::int8[], $2::timestamptz[], $3::float8[])
				ON CONFLICT DO NOTHING`, ids, times, codes); err != nil {
				return fmt.Errorf("store probe error codes: %w", err)
			}
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO import_chunks (run_id, chunk_from, chunk_to, source_snapshot_at, rows_read, rows_written, rows_collapsed,
			                           rows_present, faults, rows_skipped)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			c.run.ID, ch.from, ch.to, c.src.At, st.Read, st.Written, st.Collapsed, present, st.Faults, st.Skipped)
		return err
	})
	if err != nil {
		return fmt.Errorf("readings %s to %s: %w", ch.from.Format(time.RFC3339), ch.to.Format(time.RFC3339), err)
	}
	return nil
}

// stream runs the seed's COPY of the chunk into FreshTrack's COPY into.
func (w *worker) stream(ctx context.Context, tx pgx.Tx, ch chunk, into string) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := tx.Conn().PgConn().CopyFrom(ctx, pr, into)
		_ = pr.CloseWithError(cmpErr(err, io.ErrClosedPipe))
		done <- err
	}()
	w.st.reset(func(b []byte) error { _, err := pw.Write(b); return err })
	_, err := w.conn.PgConn().CopyTo(ctx, w.st, w.c.sourceSQL(ch))
	if err == nil {
		err = w.st.finish()
	}
	if err != nil {
		_ = pw.CloseWithError(err)
		if cerr := <-done; cerr != nil && !errors.Is(cerr, err) {
			return fmt.Errorf("%w (and FreshTrack's COPY: %v)", err, cerr)
		}
		return err
	}
	_ = pw.Close()
	if err := <-done; err != nil {
		return fmt.Errorf("copy into FreshTrack: %w", err)
	}
	return nil
}

// cmpErr is err, or def when err is nil.
func cmpErr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

func minT(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxT(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
