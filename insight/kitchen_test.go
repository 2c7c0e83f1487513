package insight

import (
	"context"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/notify"
	"github.com/freshtrack/freshtrack/safety"
	"github.com/freshtrack/freshtrack/schema"
)

var quiet = slog.New(slog.DiscardHandler)

// kitchen is an organisation with one site, a member of staff on shift
// (whom the default escalation policy's first step texts), and a runner on a
// clock the test moves.
type kitchen struct {
	t         *testing.T
	ctx       context.Context
	pool      *pgxpool.Pool
	org, site string
	now       time.Time
	runner    *Runner
	writer    *ingest.Writer
	eval      *alerting.Evaluator
	opened    []alerting.AlertOpened
}

func newKitchen(t *testing.T) *kitchen {
	t.Helper()
	k := &kitchen{t: t, ctx: context.Background(), pool: pgtest.NewDB(t), now: time.Now().UTC().Truncate(time.Minute)}
	jobs, err := river.NewClient(riverpgxv5.New(k.pool), &river.Config{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	k.must(`INSERT INTO organizations (name) VALUES ('Harbour Kitchen') RETURNING id::text`, []any{&k.org})
	k.must(`INSERT INTO sites (org_id, name, timezone) VALUES ($1, 'Quay Street', 'Europe/London') RETURNING id::text`, []any{&k.site}, k.org)
	var user string
	k.must(`INSERT INTO users (issuer, subject, email, phone) VALUES ('test', 'cook', 'cook@example.com', '+15550000002') RETURNING id::text`, []any{&user})
	k.exec(`INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, 'staff')`, k.org, user)
	k.exec(`INSERT INTO contacts (org_id, site_id, user_id, name, phone, email, role) VALUES ($1, $2, $3, 'Cook', '+15550000002', 'cook@example.com', 'staff')`,
		k.org, k.site, user)
	k.eval, err = alerting.NewEvaluator(alerting.Config{Pool: k.pool, Jobs: jobs, Logger: quiet,
		Notifier: &notify.AlertNotifier{Jobs: jobs, PublicURL: "https://freshtrack.example"},
		Now:      func() time.Time { return k.now },
		Hooks:    alerting.Hooks{AlertOpened: func(o alerting.AlertOpened) { k.opened = append(k.opened, o) }}})
	if err != nil {
		t.Fatal(err)
	}
	k.runner = NewRunner(k.pool, k.eval, Config{Logger: quiet, Now: func() time.Time { return k.now }})
	store, err := schema.OpenStore(k.ctx, k.pool, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if k.writer, err = ingest.NewWriter(k.pool, store, ingest.NewLatest(), ingest.WriterConfig{FlushDelay: time.Millisecond}, quiet); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.writer.Close)
	return k
}

// write stores one reading of sensor per step from start through the
// ingest writer, and returns the time after the last one.
func (k *kitchen) write(sensor int64, start time.Time, step time.Duration, temps ...float64) time.Time {
	k.t.Helper()
	rows := make([]ingest.Row, len(temps))
	at := start
	for i, c := range temps {
		rows[i] = ingest.Row{TimeMicros: at.UnixMicro(), SensorID: sensor, TempC: c, Humidity: math.NaN(), Battery: 90}
		at = at.Add(step)
	}
	if _, err := k.writer.Write(k.ctx, rows); err != nil {
		k.t.Fatal(err)
	}
	return at
}

// visit runs the unit's detectors at the kitchen's clock.
func (k *kitchen) visit(unit string) Result {
	k.t.Helper()
	res, err := k.runner.RunUnit(k.ctx, k.org, unit)
	if err != nil {
		k.t.Fatal(err)
	}
	return res
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func (k *kitchen) exec(sql string, args ...any) {
	k.t.Helper()
	if _, err := k.pool.Exec(k.ctx, sql, args...); err != nil {
		k.t.Fatalf("%s: %v", sql, err)
	}
}

func (k *kitchen) must(sql string, dest []any, args ...any) {
	k.t.Helper()
	if err := k.pool.QueryRow(k.ctx, sql, args...).Scan(dest...); err != nil {
		k.t.Fatalf("%s: %v", sql, err)
	}
}

func (k *kitchen) count(sql string, args ...any) int {
	k.t.Helper()
	var n int
	k.must(sql, []any{&n}, args...)
	return n
}

// safeRanges are the units' safe ranges by kind in these tests.
var safeRanges = map[string][2]float64{
	"fridge": {0, 5}, "walk_in": {0, 5}, "freezer": {-30, -18}, "hot_holding": {57, 90}, "blast_chiller": {-40, 5},
}

// unit creates a unit of a kind with one sensor, created at the kitchen's
// clock, and returns their ids.
func (k *kitchen) unit(kind, name string) (unit string, sensor int64) {
	k.t.Helper()
	r := safeRanges[kind]
	k.must(`INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c, created_at)
	        VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id::text`, []any{&unit}, k.org, k.site, name, kind, r[0], r[1], k.now)
	k.must(`INSERT INTO sensors (org_id, external_id, unit_id, name) VALUES ($1, $2, $3, $4) RETURNING id`, []any{&sensor},
		k.org, name+"-probe", unit, name+" probe")
	return unit, sensor
}

// run runs the detectors once at the kitchen's clock.
func (k *kitchen) run() Result {
	k.t.Helper()
	res, err := k.runner.Run(k.ctx)
	if err != nil {
		k.t.Fatal(err)
	}
	return res
}

// alerts returns the unit's alerts of a kind: status and summary, oldest first.
func (k *kitchen) alerts(unit, kind string) [][2]string {
	k.t.Helper()
	rows, err := k.pool.Query(k.ctx, `SELECT status, coalesce(summary, '') FROM alerts WHERE unit_id = $1 AND kind = $2 ORDER BY opened_at, id`, unit, kind)
	if err != nil {
		k.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([2]string, error) {
		var a [2]string
		return a, r.Scan(&a[0], &a[1])
	})
	if err != nil {
		k.t.Fatal(err)
	}
	return out
}

func alertingPattern(k *kitchen, unit string) (*safety.DefrostPattern, error) {
	return alerting.LoadDefrostPattern(k.ctx, k.pool, unit)
}
