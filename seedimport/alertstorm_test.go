package seedimport

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/schema"
)

// countingNotifier counts the escalation steps the evaluator sends.
type countingNotifier struct{ calls atomic.Int64 }

func (n *countingNotifier) NotifyTx(context.Context, pgx.Tx, alerting.Notice) error {
	n.calls.Add(1)
	return nil
}

type alertCounts struct{ alerts, open, events, notifications int }

func countAlerts(t *testing.T, db *pgxpool.Pool) alertCounts {
	t.Helper()
	var c alertCounts
	err := db.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM alerts), (SELECT count(*) FROM alerts WHERE status <> 'resolved'),
		       (SELECT count(*) FROM alert_events), (SELECT count(*) FROM notifications)`).Scan(&c.alerts, &c.open, &c.events, &c.notifications)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newEvaluator(t *testing.T, db *pgxpool.Pool, n alerting.Notifier) *alerting.Evaluator {
	t.Helper()
	ev, err := alerting.NewEvaluator(alerting.Config{Pool: db, Notifier: n, Logger: quiet, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// After an import, neither the sweep nor new readings open, escalate or
// notify anything for what the seed already handled: its resolved
// excursion of six hours ago, its open alerts (one still in excursion),
// its escalated offline alert.
func TestImportOpensAndNotifiesNothingTheSeedHandled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSeed(t, shapeFresh, 2, 15*time.Minute)
	target := pgtest.NewDB(t)
	mustImport(t, options(f, target))
	before := countAlerts(t, target)
	notes := &countingNotifier{}
	ev := newEvaluator(t, target, notes)

	res, err := ev.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.CaughtUp != 0 || res.Escalated != 0 {
		t.Fatalf("the sweep after the import caught up %d units and escalated %d alerts", res.CaughtUp, res.Escalated)
	}
	if after := countAlerts(t, target); after != before || notes.calls.Load() != 0 {
		t.Fatalf("the sweep after the import: %+v → %+v, %d notifications", before, after, notes.calls.Load())
	}

	// New readings: fridge-1 in range; display-1 still high (its open
	// alert goes on); and a late reading in the middle of fridge-1's
	// excursion that the seed resolved.
	store, err := schema.OpenStore(ctx, target, quiet)
	if err != nil {
		t.Fatal(err)
	}
	w, err := ingest.NewWriter(target, store, nil, ingest.WriterConfig{}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	sensor := func(device string) int64 {
		var id int64
		if err := target.QueryRow(ctx, `SELECT id FROM sensors WHERE public_id = $1`, device).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	now := time.Now().UTC()
	exc := f.end.Add(-f.units["fridge-1"].excursionAgo)
	rows := []ingest.Row{
		{TimeMicros: now.UnixMicro(), SensorID: sensor(f.units["fridge-1"].device), TempC: 3, Humidity: math.NaN(), Battery: math.NaN()},
		{TimeMicros: now.UnixMicro(), SensorID: sensor(f.units["display-1"].device), TempC: 9.5, Humidity: math.NaN(), Battery: math.NaN()},
		{TimeMicros: exc.Add(31 * time.Minute).UnixMicro(), SensorID: sensor(f.units["fridge-1"].device), TempC: 9.2, Humidity: math.NaN(), Battery: math.NaN()},
	}
	if _, err := w.Write(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := ev.Evaluate(ctx, ingest.Committed{Rows: rows, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	after := countAlerts(t, target)
	if after.alerts != before.alerts || after.open != before.open || notes.calls.Load() != 0 || after.notifications != before.notifications {
		t.Fatalf("readings after the import: %+v → %+v, %d notifications", before, after, notes.calls.Load())
	}
	var state, alert string
	if err := target.QueryRow(ctx, `SELECT state, alert_id FROM alert_state WHERE rule_id = $1`, deriveID("rule", f.units["display-1"].id, "temp_high")).Scan(&state, &alert); err != nil || state != "alerting" || alert != f.alerts["current-high"] {
		t.Fatalf("display-1 is %q with alert %s (%v), want alerting with the imported alert", state, alert, err)
	}
}

// Without the alert states the import writes, the same sweep catches up
// the last day of imported readings and alerts: the guard is what stops it.
func TestWithoutAlertStatesTheSweepWouldAlert(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSeed(t, shapeFresh, 2, 15*time.Minute)
	target := pgtest.NewDB(t)
	mustImport(t, options(f, target))
	if _, err := target.Exec(ctx, `DELETE FROM alert_state`); err != nil {
		t.Fatal(err)
	}
	before := countAlerts(t, target)
	notes := &countingNotifier{}
	res, err := newEvaluator(t, target, notes).Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after := countAlerts(t, target)
	t.Logf("without alert states: caught up %d units; %+v → %+v, %d notifications", res.CaughtUp, before, after, notes.calls.Load())
	if res.CaughtUp == 0 || after == before {
		t.Fatalf("the sweep without alert states changed nothing: the control does not show what the guard prevents")
	}
}
