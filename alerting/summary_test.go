package alerting

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// A food-safety alert's summary is what the alert page and the list show
// under its kind: both the list and the detail carry it, and an evaluator
// alert, which has none, carries none.
func TestAlertCarriesItsSummary(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ev, err := NewEvaluator(f.config())
	if err != nil {
		t.Fatal(err)
	}
	unit, _ := f.unit("fridge")
	ruleID := f.rule(unit, KindDoorOpen, 10, 0, 0, true)
	rules, err := LoadRules(f.ctx, f.pool, f.org)
	if err != nil {
		t.Fatal(err)
	}
	var rule Rule
	for _, r := range rules {
		if r.ID == ruleID {
			rule = r
		}
	}
	const summary = "The door has been open since 14:02 (12 min): close it."
	at := f.clock.Now()
	err = pgx.BeginFunc(f.ctx, f.pool, func(tx pgx.Tx) error {
		_, _, err := ev.RaiseTx(f.ctx, tx, unit, rule, Condition{Started: at.Add(-12 * time.Minute), At: at, Value: 12,
			Summary: summary, Details: map[string]any{"after_minutes": 10}})
		return err
	})
	if err != nil {
		t.Fatalf("raise: %v", err)
	}
	listed := f.one(unit)
	if listed.Summary != summary {
		t.Errorf("the listed alert's summary is %q, want %q", listed.Summary, summary)
	}
	if listed.PeakC != nil {
		t.Errorf("a door alert has a peak of %v °C, want none", *listed.PeakC)
	}
	d, err := GetAlert(f.ctx, f.pool, f.org, listed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Summary != summary {
		t.Errorf("the alert's detail has summary %q, want %q", d.Summary, summary)
	}

	other, sensor := f.unit("fridge")
	f.rule(other, KindTempHigh, 5, 0, 0.5, false)
	f.start()
	f.feed(sensor, at, time.Minute, 9)
	if s := f.one(other).Summary; s != "" {
		t.Errorf("a temp_high alert has summary %q, want none", s)
	}
}
