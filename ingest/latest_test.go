package ingest_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

func TestLatestPersistsAndReloads(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	ctx := context.Background()
	var ids [3]int64
	err := pool.QueryRow(ctx, `
		WITH o AS (INSERT INTO organizations (name) VALUES ('L') RETURNING id),
		     s AS (INSERT INTO sensors (org_id, external_id) SELECT id, x FROM o, unnest(ARRAY['a','b','c']) x RETURNING id, external_id)
		SELECT (SELECT id FROM s WHERE external_id = 'a'), (SELECT id FROM s WHERE external_id = 'b'), (SELECT id FROM s WHERE external_id = 'c')`).
		Scan(&ids[0], &ids[1], &ids[2])
	if err != nil {
		t.Fatal(err)
	}
	w, latest := newWriter(t, pool, ingest.WriterConfig{})
	base := time.Now().UTC().Add(-30 * time.Minute).Truncate(time.Second)
	for _, rows := range [][]ingest.Row{rowsAt(base, ids[0], 10, time.Minute), rowsAt(base, ids[1], 5, time.Minute)} {
		if _, err := w.Write(ctx, rows); err != nil {
			t.Fatal(err)
		}
	}
	n, err := latest.Persist(ctx, pool)
	if err != nil || n != 2 {
		t.Fatalf("persist = %d, %v; want the two sensors that changed", n, err)
	}
	if n, _ := latest.Persist(ctx, pool); n != 0 {
		t.Fatalf("second persist wrote %d, want nothing (coalesced)", n)
	}
	var seen time.Time
	if err := pool.QueryRow(ctx, `SELECT last_seen_at FROM sensors WHERE id = $1`, ids[0]).Scan(&seen); err != nil || !seen.Equal(base.Add(9*time.Minute)) {
		t.Fatalf("sensors.last_seen_at = %v (%v)", seen, err)
	}
	// Sensor c gets a reading that is committed but never persisted (a crash
	// before the next persist): a fresh cache still finds it through readings.
	if _, err := pool.Exec(ctx, `INSERT INTO readings (time, sensor_id, temp_c, humidity) VALUES ($1, $2, 7.5, 40)`, base, ids[2]); err != nil {
		t.Fatal(err)
	}
	// And sensor a got a newer reading after its persisted one.
	if _, err := pool.Exec(ctx, `INSERT INTO readings (time, sensor_id, temp_c) VALUES ($1, $2, 9.25)`, base.Add(20*time.Minute), ids[0]); err != nil {
		t.Fatal(err)
	}
	fresh := ingest.NewLatest()
	if err := fresh.Load(ctx, pool, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	want := map[int64]struct {
		at   time.Time
		temp float64
		hum  float64
	}{
		ids[0]: {base.Add(20 * time.Minute), 9.25, math.NaN()},
		ids[1]: {base.Add(4 * time.Minute), 3.4, math.NaN()},
		ids[2]: {base, 7.5, 40},
	}
	for id, wv := range want {
		v, ok := fresh.Get(id)
		if !ok || !v.Time().Equal(wv.at) || v.TempC != wv.temp || (math.IsNaN(wv.hum) != math.IsNaN(v.Humidity)) {
			t.Errorf("sensor %d after reload = %+v (%v), want %+v", id, v, ok, wv)
		}
	}
}
