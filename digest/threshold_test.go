package digest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/query/querytest"
)

// TestExcursionLimit: an excursion shows the limit its alert opened at,
// else its rule's threshold, else (a rule following the safe range) the
// unit's side of it, so a digest still says "limit 5 °C".
func TestExcursionLimit(t *testing.T) {
	t.Parallel()
	db := querytest.New(t)
	org := db.Org("Limits")
	site := db.Site(org, "Kitchen", "Europe/Berlin")
	cold := db.Unit(org, site, "Cold", "walk_in", 1, 4)
	hot := db.Unit(org, site, "Hot", "hot_holding", 63, 90)
	rule := func(unit, kind string, threshold *float64) string {
		return one[string](t, db.Pool, `INSERT INTO alert_rules (org_id, unit_id, kind, threshold) VALUES ($1, $2, $3, $4) RETURNING id::text`,
			org, unit, kind, threshold)
	}
	v := func(x float64) *float64 { return &x }
	alert := func(unit, rule, kind string, openedAt *float64, hour int) string {
		return one[string](t, db.Pool, `
			INSERT INTO alerts (org_id, unit_id, rule_id, kind, severity, status, started_at, opened_at, resolved_at, threshold_c)
			VALUES ($1, $2, $3, $4, 'critical', 'resolved', $5, $5, $5::timestamptz + interval '1 hour', $6) RETURNING id::text`,
			org, unit, rule, kind, at(2026, 11, 25, hour, 0), openedAt)
	}
	want := map[string]float64{
		alert(cold, rule(cold, "temp_high", nil), "temp_high", nil, 8):     4,  // the safe maximum
		alert(hot, rule(hot, "temp_low", nil), "temp_low", nil, 9):         63, // the safe minimum
		alert(cold, rule(cold, "temp_high", v(3.5)), "temp_high", nil, 10): 3.5,
		alert(cold, rule(cold, "temp_high", nil), "temp_high", v(4.5), 11): 4.5, // recorded when it opened
	}
	got, err := Load(context.Background(), db.Pool, LoadParams{OrgID: org, Frequency: Daily, Period: Period{Start: dayStart, End: dayEnd},
		Location: berlin, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Excursions) != len(want) {
		t.Fatalf("excursions %+v", got.Excursions)
	}
	for _, a := range got.Excursions {
		if a.ThresholdC == nil || *a.ThresholdC != want[a.ID] {
			t.Errorf("%s %s: limit %v, want %v", a.UnitName, a.Kind, a.ThresholdC, want[a.ID])
		}
	}
	_, text, _ := Render(got)
	for _, limit := range []string{"(limit 4.0°C)", "(limit 63.0°C)", "(limit 3.5°C)", "(limit 4.5°C)"} {
		if !strings.Contains(text, limit) {
			t.Errorf("rendered digest lacks %s:\n%s", limit, text)
		}
	}
}
