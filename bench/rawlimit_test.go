package bench

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/schema"
)

// TestRawLimitSmoke runs the raw limit on a few rows in each storage mode:
// every configuration loads them all, the best is the run's rate, and the
// scratch tables are gone afterwards. It also checks that the pre-encoded
// payloads are the plan's rows, value for value.
func TestRawLimitSmoke(t *testing.T) {
	t.Parallel()
	for _, mode := range []schema.Mode{schema.Postgres, schema.Timescale} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			pool := pgtest.NewDB(t, pgtest.WithMode(mode))
			ctx := context.Background()
			store, err := schema.OpenStore(ctx, pool, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if store.Mode() != mode {
				t.Fatalf("store mode %s, want %s", store.Mode(), mode)
			}
			org, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: "raw limit", Actor: "test"})
			if err != nil {
				t.Fatal(err)
			}
			names := make([]string, 40)
			for i := range names {
				names[i] = SensorName(i)
			}
			f, err := createBareFleet(ctx, pool, org.ID, names)
			if err != nil {
				t.Fatal(err)
			}
			// Straddles midnight: two daily partitions or chunks.
			plan := Plan{Sensors: 40, Interval: time.Minute, Batch: 100, Rows: 12_000,
				Start: time.Now().UTC().Truncate(24 * time.Hour).Add(-2 * time.Hour)}
			raw := encodeRaw(plan.CopyRows(f.keys), RawRowsPerCopy)
			if len(raw.chunks[5000]) != 3 || len(raw.chunks[50_000]) != 1 {
				t.Fatalf("chunks: %d of 5000 rows, %d of 50000", len(raw.chunks[5000]), len(raw.chunks[50_000]))
			}

			// The payloads hold the plan's rows.
			const table = "raw_limit_roundtrip"
			if err := store.CreateScratchReadings(ctx, table, raw.from, raw.to); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = store.DropScratchReadings(context.Background(), table) })
			conn, err := pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range raw.chunks[5000] {
				if _, err := conn.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(c), rawCopySQL(table)); err != nil {
					t.Fatal(err)
				}
			}
			conn.Release()
			var n, nulls int
			var sum float64
			var lo, hi time.Time
			if err := pool.QueryRow(ctx, `SELECT count(*), sum(temp_c), min(time), max(time), count(*) FILTER (WHERE humidity IS NULL AND battery IS NULL) FROM `+table).
				Scan(&n, &sum, &lo, &hi, &nulls); err != nil {
				t.Fatal(err)
			}
			want := 0.0
			for i := range plan.Rows {
				_, _, temp := plan.Reading(i)
				want += temp
			}
			if n != plan.Rows || nulls != n || math.Abs(sum-want) > 1e-6 || !lo.Equal(plan.Start) || !hi.Equal(plan.Last()) {
				t.Fatalf("round trip: %d rows (%d without humidity and battery), sum %v (want %v), %s .. %s (want %s .. %s)",
					n, nulls, sum, want, lo, hi, plan.Start, plan.Last())
			}
			var sensorRows int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE sensor_id = $1 AND time = $2`, f.keys[7], plan.Start.Add(3*time.Minute)).Scan(&sensorRows); err != nil || sensorRows != 1 {
				t.Fatalf("sensor 7's fourth reading: %d rows, %v", sensorRows, err)
			}

			run, err := runRawLimit(ctx, pool, store, raw, 1, IngestOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if run.Kind != KindRawLimit || len(run.Configurations) != 6 || run.Best == "" || run.Rows != plan.Rows {
				t.Fatalf("run %+v", run)
			}
			best := 0.0
			seen := map[string]bool{}
			for _, c := range run.Configurations {
				if c.Rows != plan.Rows || c.RowsPerSec <= 0 {
					t.Fatalf("configuration %+v", c)
				}
				seen[fmt.Sprintf("%d×%d", c.Connections, c.RowsPerCopy)] = true
				best = max(best, c.RowsPerSec)
			}
			if len(seen) != 6 || !seen[run.Best] || run.RowsPerSec != best {
				t.Fatalf("configurations %v, best %s at %.0f (want %.0f)", seen, run.Best, run.RowsPerSec, best)
			}
			var left int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname LIKE 'bench\_raw\_%'`).Scan(&left); err != nil || left != 0 {
				t.Fatalf("%d scratch tables left (%v)", left, err)
			}
		})
	}
}
