package alerting

import (
	"errors"
	"math"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestEnsureRulesIsIdempotentUnderConcurrency(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var wg sync.WaitGroup
	created := make([]int, 8)
	errs := make([]error, 8)
	for i := range created {
		wg.Add(1)
		go func() {
			defer wg.Done()
			created[i], errs[i] = EnsureRules(f.ctx, f.pool, f.org)
		}()
	}
	wg.Wait()
	total := 0
	for i := range created {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		total += created[i]
	}
	want := len(DefaultRules())
	if total != want || f.count(`SELECT count(*) FROM alert_rules WHERE org_id = $1`, f.org) != want {
		t.Fatalf("created %d rules in total, want %d", total, want)
	}
	if n := f.count(`SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'alert_rules.create_defaults'`, f.org); n != 1 {
		t.Fatalf("%d audit rows", n)
	}
	// A deleted default comes back; an edited or disabled one stays as is.
	f.exec(`DELETE FROM alert_rules WHERE org_id = $1 AND unit_kind = 'freezer' AND kind = 'temp_high'`, f.org)
	f.exec(`UPDATE alert_rules SET threshold = 4 WHERE org_id = $1 AND unit_kind = 'fridge' AND kind = 'temp_high'`, f.org)
	f.exec(`UPDATE alert_rules SET enabled = false WHERE org_id = $1 AND unit_kind = 'fridge' AND kind = 'battery_low'`, f.org)
	if n, err := EnsureRules(f.ctx, f.pool, f.org); err != nil || n != 1 {
		t.Fatalf("ensure after a deletion = %d, %v", n, err)
	}
	if _, err := EnsureRules(f.ctx, f.pool, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ensure for a bad org id: %v", err)
	}
	if n, err := EnsureRules(f.ctx, f.pool, "00000000-0000-0000-0000-000000000000"); err != nil || n != 0 {
		t.Fatalf("ensure for a missing org = %d, %v", n, err)
	}

	unit, _ := f.unit("fridge")
	rules, err := EffectiveRules(f.ctx, f.pool, f.org, unit)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]float64{}
	for _, r := range rules {
		got[r.Kind] = append(got[r.Kind], r.Threshold)
	}
	wantKinds := map[string][]float64{
		KindTempHigh: {4}, KindTempLow: {0}, KindSensorOffline: {30}, KindSensorFault: {math.NaN()},
		KindTrendWarning: {30}, KindTimeOutOfTemp: {60, 240}, KindDoorOpen: {10}, KindSensorImplausible: {math.NaN()},
		KindManualLogMissed: {30}, KindCalibrationDue: {14},
	}
	for _, th := range got {
		slices.Sort(th)
	}
	same := len(got) == len(wantKinds)
	for k, w := range wantKinds {
		same = same && slices.EqualFunc(got[k], w, func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) })
	}
	if !same {
		t.Fatalf("effective rules of a fridge %v: want the edited temp_high, temp_low following the safe range (0 °C), "+
			"offline, sensor fault, the food-safety defaults (no defrost or cooling for a fridge) and no (disabled) battery rule", got)
	}
}

func TestEffective(t *testing.T) {
	t.Parallel()
	org := []Rule{
		{ID: "o1", Kind: KindTempHigh, UnitKind: "fridge", Threshold: 5, Enabled: true},
		{ID: "o2", Kind: KindTempHigh, UnitKind: "freezer", Threshold: -15, Enabled: true},
		{ID: "o3", Kind: KindSensorOffline, UnitKind: "fridge", Threshold: 30, Enabled: true},
		{ID: "o4", Kind: KindBatteryLow, UnitKind: "fridge", Threshold: 15, Enabled: true},
		{ID: "u1", Kind: KindTempHigh, UnitID: "A", Threshold: 4, Enabled: true},
		{ID: "u2", Kind: KindTempHigh, UnitID: "A", Threshold: 8, Severity: "critical", Enabled: true},
		{ID: "u3", Kind: KindBatteryLow, UnitID: "A", Threshold: 15, Enabled: false},
		{ID: "u4", Kind: KindTempLow, UnitID: "B", Threshold: 0, Enabled: true},
	}
	ids := func(rules []Rule) (out []string) {
		for _, r := range rules {
			out = append(out, r.ID)
		}
		return out
	}
	f := func(unit, kind, want string) {
		t.Helper()
		if got := joinIDs(ids(Effective(org, UnitScope{ID: unit, Kind: kind}))); got != want {
			t.Errorf("Effective(%s, %s) = %s, want %s", unit, kind, got, want)
		}
	}
	f("A", "fridge", "o3 u1 u2")    // own temp_high pair wins, disabled own battery rule switches it off
	f("B", "fridge", "o1 o3 o4 u4") // organisation rules plus its own temp_low
	f("C", "freezer", "o2")
	f("D", "hot_holding", "")
}

func joinIDs(ids []string) string {
	s := ""
	for i, id := range ids {
		if i > 0 {
			s += " "
		}
		s += id
	}
	return s
}

func TestRuleChangesApply(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unit, sensor := f.unit("fridge")
	own := f.rule(unit, KindTempHigh, 8, 15*time.Minute, 0.5, false)
	f.start()
	at := f.feed(sensor, f.clock.Now(), time.Minute, 7, 9, 9)
	if ph, _ := f.state(unit, KindTempHigh); ph != "pending" {
		t.Fatalf("state %s, want pending on the unit's own rule", ph)
	}
	// The unit rule is deleted behind the evaluator's cache: the next batch
	// reads the rules again and falls back to the organisation's 5 °C rule.
	f.exec(`DELETE FROM alert_rules WHERE id = $1`, own)
	at = f.feed(sensor, at, time.Minute, repeat(7, 16)...)
	a := f.one(unit)
	if a.Threshold != 5 {
		t.Fatalf("alert on threshold %v, want the organisation's 5", a.Threshold)
	}
	// Disabling it drops the rule's state; the open alert stays for a person.
	f.exec(`UPDATE alert_rules SET enabled = false WHERE id = $1`, a.RuleID)
	f.ev.Invalidate(f.org)
	f.feed(sensor, at, time.Minute, 9)
	f.sweep() // the sweep finds the stale active state and drops it
	if ph, _ := f.state(unit, KindTempHigh); ph != "none" {
		t.Fatalf("state of a disabled rule: %s", ph)
	}
	if a = f.one(unit); a.Status != StatusTriggered {
		t.Fatalf("alert %+v", a)
	}
}
