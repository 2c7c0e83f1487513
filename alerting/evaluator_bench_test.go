package alerting

import (
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/ingest"
)

// benchUnits creates n fridges with one sensor each and returns the sensors.
func benchUnits(f *fixture, n int) []int64 {
	f.t.Helper()
	rows, err := f.pool.Query(f.ctx, `
		WITH u AS (
			INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c)
			SELECT $1, $2, 'fridge ' || g, 'fridge', 0, 8 FROM generate_series(1, $3) g RETURNING id)
		INSERT INTO sensors (org_id, external_id, unit_id) SELECT $1, 'bench-' || id, id FROM u RETURNING id`,
		f.org, f.site, n)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			f.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// BenchmarkEvaluateSettled measures the common case: a committed batch of
// in-range readings of 1000 units whose rules are all ok (one statement per
// batch).
func BenchmarkEvaluateSettled(b *testing.B) {
	f := newFixture(b)
	sensors := benchUnits(f, 1000)
	ev, err := NewEvaluator(f.config())
	if err != nil {
		b.Fatal(err)
	}
	batch := func(at time.Time) ingest.Committed {
		rows := make([]ingest.Row, len(sensors))
		for i, s := range sensors {
			rows[i] = row(s, at, 3.5)
		}
		return ingest.Committed{Rows: rows, At: time.Now()}
	}
	at := f.clock.Now()
	if err := ev.Evaluate(f.ctx, batch(at)); err != nil { // creates the states
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		at = at.Add(time.Second)
		f.clock.Set(at)
		if err := ev.Evaluate(f.ctx, batch(at)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(sensors))/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkOpenAlert measures commit-to-alert: evaluating one offending
// reading of a unit whose rule has no confirm delay, up to the commit of
// the alert with its events, step-0 notice, escalation jobs and audit row.
func BenchmarkOpenAlert(b *testing.B) {
	f := newFixture(b)
	sensors := benchUnits(f, 2000)
	if _, err := f.pool.Exec(f.ctx, `UPDATE alert_rules SET confirm_seconds = 0 WHERE kind = 'temp_high'`); err != nil {
		b.Fatal(err)
	}
	if _, err := EnsureRules(f.ctx, f.pool, f.org); err != nil {
		b.Fatal(err)
	}
	if _, err := f.pool.Exec(f.ctx, `UPDATE alert_rules SET confirm_seconds = 0 WHERE kind = 'temp_high'`); err != nil {
		b.Fatal(err)
	}
	ev, err := NewEvaluator(f.config())
	if err != nil {
		b.Fatal(err)
	}
	at := f.clock.Now()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if i == len(sensors) {
			b.StopTimer()
			sensors = append(sensors, benchUnits(f, 2000)...)
			b.StartTimer()
		}
		if err := ev.Evaluate(f.ctx, ingest.Committed{Rows: []ingest.Row{row(sensors[i], at, 9)}, At: time.Now()}); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.StopTimer()
	if n := f.count(`SELECT count(*) FROM alerts`); n != i {
		b.Fatalf("%d alerts for %d excursions", n, i)
	}
}
