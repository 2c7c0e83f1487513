package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/query/querytest"
	"github.com/freshtrack/freshtrack/schema"
)

// TestWriterIntoCompressedChunks (timescale mode): chunks older than the
// columnstore policy's age are compressed when the policy runs; resending
// their readings is counted as duplicates exactly, late readings between
// them are stored, nothing else changes, and after a refresh every
// resolution over the compressed chunks equals aggregates of the raw rows.
func TestWriterIntoCompressedChunks(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t, pgtest.WithMode(schema.Timescale))
	w, _ := newWriter(t, pool, ingest.WriterConfig{})
	ctx := context.Background()
	now := time.Now().UTC()
	base := now.AddDate(0, 0, -12).Truncate(time.Hour)

	old := append(rowsAt(base, 1, 600, time.Minute), rowsAt(base, 2, 600, time.Minute)...)
	if res, err := w.Write(ctx, old); err != nil || res != (ingest.Result{Accepted: 1200}) {
		t.Fatalf("first write = %+v, %v", res, err)
	}
	var job int
	if err := pool.QueryRow(ctx, `
		SELECT job_id FROM timescaledb_information.jobs
		 WHERE proc_name = 'policy_compression' AND hypertable_name = 'readings'`).Scan(&job); err != nil {
		t.Fatalf("columnstore policy: %v", err)
	}
	if _, err := pool.Exec(ctx, `CALL run_job($1)`, job); err != nil {
		t.Fatalf("run the columnstore policy: %v", err)
	}
	compressed := func() (int, int) {
		t.Helper()
		var yes, no int
		if err := pool.QueryRow(ctx, `
			SELECT count(*) FILTER (WHERE is_compressed), count(*) FILTER (WHERE NOT is_compressed)
			  FROM timescaledb_information.chunks
			 WHERE hypertable_name = 'readings' AND range_end < now() - interval '7 days'`).Scan(&yes, &no); err != nil {
			t.Fatal(err)
		}
		return yes, no
	}
	if yes, no := compressed(); yes == 0 || no != 0 {
		t.Fatalf("after the policy: %d chunks older than 7 days compressed, %d not", yes, no)
	}

	// A resend, whole: every row a duplicate.
	if res, err := w.Write(ctx, old); err != nil || res != (ingest.Result{Duplicates: 1200}) {
		t.Fatalf("resend into compressed chunks = %+v, %v", res, err)
	}
	// Late readings 30 s after each old one, with a quarter of the old ones
	// resent in the same batch.
	late := append(rowsAt(base.Add(30*time.Second), 1, 600, time.Minute), old[:300]...)
	for i := range 600 {
		late[i].TempC = 9 + float64(i%7)
	}
	if res, err := w.Write(ctx, late); err != nil || res != (ingest.Result{Accepted: 600, Duplicates: 300}) {
		t.Fatalf("late write into compressed chunks = %+v, %v", res, err)
	}
	if n := count(t, pool, "true"); n != 1800 {
		t.Fatalf("stored %d readings, want 1800", n)
	}
	if n := count(t, pool, "sensor_id = 1 AND temp_c >= 9"); n != 600 {
		t.Fatalf("%d late readings stored as sent, want 600", n)
	}

	store, err := schema.OpenStore(ctx, pool, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.RefreshRollups(ctx, now); err != nil {
		t.Fatal(err)
	}
	querytest.SameAsReadings(t, pool)
	// The policy compresses what the late write decompressed again.
	if _, err := pool.Exec(ctx, `CALL run_job($1)`, job); err != nil {
		t.Fatalf("run the columnstore policy again: %v", err)
	}
	if n := count(t, pool, "true"); n != 1800 {
		t.Fatalf("stored %d readings after recompression, want 1800", n)
	}
	querytest.SameAsReadings(t, pool)
}
