package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/schema"
)

// RawConnections and RawRowsPerCopy are the configurations the raw limit
// tries: every combination, the best of which is the pair's raw limit.
var (
	RawConnections = []int{1, 2, 4}
	RawRowsPerCopy = []int{5000, 50_000}
)

// RawConfig is one configuration of a raw-limit run.
type RawConfig struct {
	Connections int     `json:"connections"`
	RowsPerCopy int     `json:"rows_per_copy"`
	Rows        int     `json:"rows"`
	Seconds     float64 `json:"seconds"`
	RowsPerSec  float64 `json:"rows_per_sec"`
	PostgresCPU float64 `json:"postgres_cpu_seconds,omitempty"`
}

// rawPayloads are a plan's rows pre-encoded for the raw limit: per rows per
// COPY, the complete binary COPY payloads (header, rows, trailer).
type rawPayloads struct {
	rows   int
	from   time.Time
	to     time.Time // after the newest row
	chunks map[int][][]byte
}

// encodeRaw encodes rows in the server's own binary COPY format
// (ingest.EncodeCopyRows), cut into payloads of each size in perCopy.
func encodeRaw(rows []ingest.Row, perCopy []int) rawPayloads {
	p := rawPayloads{rows: len(rows), chunks: map[int][][]byte{}}
	if len(rows) > 0 {
		lo, hi := rows[0].TimeMicros, rows[0].TimeMicros
		for i := range rows {
			lo, hi = min(lo, rows[i].TimeMicros), max(hi, rows[i].TimeMicros)
		}
		p.from, p.to = time.UnixMicro(lo).UTC(), time.UnixMicro(hi+1).UTC()
	}
	for _, per := range perCopy {
		var chunks [][]byte
		for lo := 0; lo < len(rows); lo += per {
			part := rows[lo:min(lo+per, len(rows))]
			chunks = append(chunks, ingest.EncodeCopyRows(make([]byte, 0, 21+46*len(part)), part))
		}
		p.chunks[per] = chunks
	}
	return p
}

// rawCopySQL is the writer's COPY statement, aimed at a scratch table.
func rawCopySQL(table string) string {
	return `COPY ` + pgx.Identifier{table}.Sanitize() + ` (time, sensor_id, temp_c, humidity, battery) FROM STDIN (FORMAT binary)`
}

// runRawLimit measures the database's own limit for the payloads: for every
// configuration of RawConnections × RawRowsPerCopy, a fresh scratch table
// shaped like readings loaded with the pre-encoded payloads, each streamed
// with PgConn().CopyFrom as its own autocommitted statement. The run's
// RowsPerSec is the best configuration's.
func runRawLimit(ctx context.Context, pool *pgxpool.Pool, store *schema.Store, p rawPayloads, pair int, o IngestOptions) (Run, error) {
	run := Run{Kind: KindRawLimit}
	for _, per := range RawRowsPerCopy {
		for _, conns := range RawConnections {
			name := fmt.Sprintf("bench_raw_%d_%d_%dx%d", os.Getpid(), pair, conns, per)
			c, err := runRawConfig(ctx, pool, store, p, name, conns, per, o)
			if err != nil {
				return Run{}, err
			}
			run.Configurations = append(run.Configurations, c)
			if c.RowsPerSec > run.RowsPerSec {
				run.Rows, run.Seconds, run.RowsPerSec, run.PostgresCPU = c.Rows, c.Seconds, c.RowsPerSec, c.PostgresCPU
				run.Best = fmt.Sprintf("%d×%d", conns, per)
			}
		}
	}
	return run, nil
}

func runRawConfig(ctx context.Context, pool *pgxpool.Pool, store *schema.Store, p rawPayloads, name string, conns, per int, o IngestOptions) (RawConfig, error) {
	cfg := RawConfig{Connections: conns, RowsPerCopy: per}
	if err := store.CreateScratchReadings(ctx, name, p.from, p.to); err != nil {
		return cfg, err
	}
	defer func() { _ = store.DropScratchReadings(context.WithoutCancel(ctx), name) }()
	copySQL := rawCopySQL(name)
	empty := ingest.EncodeCopyRows(nil, nil)

	cs := make([]*pgxpool.Conn, conns)
	for i := range cs {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return cfg, err
		}
		defer c.Release()
		// Warm the connection on this table: a fresh connection's first
		// statements are slow here, and so is a backend's first COPY into a
		// relation it has not opened yet.
		if _, err := c.Exec(ctx, `SELECT count(*) FROM `+pgx.Identifier{name}.Sanitize()); err != nil {
			return cfg, err
		}
		if _, err := c.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(empty), copySQL); err != nil {
			return cfg, fmt.Errorf("raw limit warm-up copy: %w", err)
		}
		cs[i] = c
	}
	chunks := p.chunks[per]
	var next, done atomic.Int64
	stopProgress := progress(o.Progress, fmt.Sprintf("raw %d×%d", conns, per), done.Load, int64(p.rows))
	pg := NewBackendCPU(ctx, pool)
	start := time.Now()
	errc := make(chan error, len(cs))
	for _, c := range cs {
		go func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(chunks) {
					errc <- nil
					return
				}
				tag, err := c.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(chunks[i]), copySQL)
				if err != nil {
					errc <- fmt.Errorf("raw limit copy: %w", err)
					return
				}
				done.Add(tag.RowsAffected())
			}
		}()
	}
	var firstErr error
	for range cs {
		if err := <-errc; err != nil && firstErr == nil {
			firstErr = err
		}
	}
	elapsed := time.Since(start)
	stopProgress()
	if firstErr != nil {
		return cfg, firstErr
	}
	cfg.Rows = int(done.Load())
	cfg.Seconds = round2(elapsed.Seconds())
	cfg.RowsPerSec = float64(cfg.Rows) / elapsed.Seconds()
	if s, ok := pg.Seconds(ctx); ok {
		cfg.PostgresCPU = round2(s)
	}
	return cfg, nil
}
