package safety_test

import (
	"math"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/safety"
)

// The definition, pinned: for a walk-in (safe 0..5 °C) with the rules of
// its organisation and the records of its probes, its limits and whether it
// is in range, out of range or in a gap at a moment. Every consumer
// (alerting, the dashboard's latest values, the HACCP report) must answer
// these cases the same way.

const (
	unitID  = "unit-1"
	unitKnd = "walk_in"
)

var t0 = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

func th(v float64) *float64 { return &v }

func orgRule(unitKind, kind string, threshold *float64) safety.Rule {
	return safety.Rule{Scope: safety.Scope{UnitKind: unitKind, Kind: kind, Enabled: true}, Threshold: threshold}
}

func unitRule(unit, kind string, threshold *float64) safety.Rule {
	return safety.Rule{Scope: safety.Scope{UnitID: unit, UnitKind: unitKnd, Kind: kind, Enabled: true}, Threshold: threshold}
}

func disabled(r safety.Rule) safety.Rule { r.Enabled = false; return r }

// record is a probe's reading (or error code, fault) at t0 + at.
type record struct {
	sensor int64
	at     time.Duration
	c      float64
	fault  bool
}

func rd(sensor int64, at time.Duration, c float64) record {
	return record{sensor: sensor, at: at, c: c}
}

func fault(sensor int64, at time.Duration) record { return record{sensor: sensor, at: at, fault: true} }

// every is a probe reporting c every interval over [from, to].
func every(sensor int64, from, to, interval time.Duration, c float64) []record {
	var out []record
	for at := from; at <= to; at += interval {
		out = append(out, rd(sensor, at, c))
	}
	return out
}

func cat(rs ...[]record) []record {
	var out []record
	for _, r := range rs {
		out = append(out, r...)
	}
	return out
}

const (
	in  = "in"
	out = "out"
	gap = "gap"
)

type definitionCase struct {
	name string
	// rules are the organisation's alert_rules rows.
	rules []safety.Rule
	// low and high are the expected limits (nil: the safe range, no alert).
	low, high *safety.Side
	// records are applied in order (time order, except where a case says);
	// the unit is judged at t0 + at with maxGap (0: the default).
	records []record
	at      time.Duration
	maxGap  time.Duration
	// want is in, out or gap; live the live probes; maxC/minC and their
	// sensors the extremes (unchecked when want is gap).
	want                 string
	live                 int
	maxC, minC           float64
	maxSensor, minSensor int64
	// until is when the unit's value stops being known (0: unchecked).
	until time.Duration
}

var (
	safeLow  = &safety.Side{C: 0, Source: safety.SourceUnit}
	safeHigh = &safety.Side{C: 5, Source: safety.SourceUnit}
)

var definition = []definitionCase{
	// One probe.
	{name: "single probe in range", records: every(1, 0, 10*time.Minute, time.Minute, 3), at: 10*time.Minute + 30*time.Second,
		want: in, live: 1, maxC: 3, minC: 3, maxSensor: 1, minSensor: 1, until: 12 * time.Minute},
	{name: "single probe above", records: []record{rd(1, 0, 3), rd(1, time.Minute, 8)}, at: time.Minute,
		want: out, live: 1, maxC: 8, minC: 8, maxSensor: 1, minSensor: 1, until: 3 * time.Minute},
	{name: "single probe below", records: []record{rd(1, 0, -0.5)}, at: 0,
		want: out, live: 1, maxC: -0.5, minC: -0.5, maxSensor: 1, minSensor: 1, until: 15 * time.Minute},
	{name: "the limits are inclusive", records: []record{rd(1, 0, 5), rd(2, 0, 0)}, at: 0,
		want: in, live: 2, maxC: 5, minC: 0, maxSensor: 1, minSensor: 2},

	// Two probes that disagree: the unit is out while any live probe is.
	{name: "two probes, the warm one out", records: cat(every(1, 0, 5*time.Minute, time.Minute, 8), every(2, 0, 5*time.Minute, time.Minute, 3)),
		at: 5 * time.Minute, want: out, live: 2, maxC: 8, minC: 3, maxSensor: 1, minSensor: 2, until: 7 * time.Minute},
	{name: "two probes, the other order", records: cat(every(2, 0, 5*time.Minute, time.Minute, 8), every(1, 0, 5*time.Minute, time.Minute, 3)),
		at: 5 * time.Minute, want: out, live: 2, maxC: 8, minC: 3, maxSensor: 2, minSensor: 1},
	{name: "two probes, the cold one out", records: []record{rd(1, 0, 3), rd(2, 0, -2)}, at: time.Minute,
		want: out, live: 2, maxC: 3, minC: -2, maxSensor: 1, minSensor: 2},
	{name: "two probes, one above and one below", records: []record{rd(1, 0, 7), rd(2, 0, -2)}, at: time.Minute,
		want: out, live: 2, maxC: 7, minC: -2, maxSensor: 1, minSensor: 2},
	{name: "two probes in range", records: []record{rd(1, 0, 4.9), rd(2, 0, 0.1)}, at: time.Minute,
		want: in, live: 2, maxC: 4.9, minC: 0.1, maxSensor: 1, minSensor: 2},
	{name: "equal values: the lower sensor id", records: []record{rd(2, 0, 8), rd(1, 0, 8)}, at: 0,
		want: out, live: 2, maxC: 8, minC: 8, maxSensor: 1, minSensor: 1},

	// A dead probe: the other one decides.
	{name: "a probe stopped reporting: the other decides",
		records: cat(every(1, 0, 10*time.Minute, time.Minute, 3), every(2, 0, 2*time.Minute, time.Minute, 8)),
		at:      10 * time.Minute, want: in, live: 1, maxC: 3, minC: 3, maxSensor: 1, minSensor: 1},
	{name: "a probe's reading stands for twice its interval",
		records: cat(every(1, 0, 3*time.Minute, time.Minute, 3), every(2, 0, 2*time.Minute, time.Minute, 8)),
		at:      3*time.Minute + 59*time.Second, want: out, live: 2, maxC: 8, minC: 3, maxSensor: 2, minSensor: 1, until: 4 * time.Minute},
	{name: "and not one moment more",
		records: cat(every(2, 0, 2*time.Minute, time.Minute, 8), every(1, 0, 4*time.Minute, time.Minute, 3)),
		at:      4 * time.Minute, want: in, live: 1, maxC: 3, minC: 3, maxSensor: 1, minSensor: 1},
	{name: "a probe's error code: the other decides", records: []record{rd(1, 0, 3), rd(2, 0, 9), fault(2, time.Minute)}, at: time.Minute,
		want: in, live: 1, maxC: 3, minC: 3, maxSensor: 1, minSensor: 1, until: 15 * time.Minute},
	{name: "an error code among the readings is a fault", records: []record{rd(1, 0, 3), rd(2, 0, 4), rd(2, time.Minute, 327.67)}, at: time.Minute,
		want: in, live: 1, maxC: 3, minC: 3, maxSensor: 1, minSensor: 1},
	{name: "NaN is not a temperature", records: []record{rd(1, 0, math.NaN())}, at: time.Minute, want: gap},
	{name: "a faulty probe measuring again is live", records: []record{rd(1, 0, 3), fault(1, time.Minute), rd(1, 2*time.Minute, 7)},
		at: 2 * time.Minute, want: out, live: 1, maxC: 7, minC: 7, maxSensor: 1, minSensor: 1, until: 4 * time.Minute},
	{name: "a reading older than the probe's newest changes nothing", records: []record{rd(1, 0, 3), rd(1, time.Minute, 4), rd(1, 30*time.Second, 9)},
		at: time.Minute, want: in, live: 1, maxC: 4, minC: 4, maxSensor: 1, minSensor: 1, until: 3 * time.Minute},
	{name: "a duplicate changes nothing", records: []record{rd(1, 0, 3), rd(1, time.Minute, 4), rd(1, time.Minute, 9)},
		at: time.Minute, want: in, live: 1, maxC: 4, minC: 4, maxSensor: 1, minSensor: 1, until: 3 * time.Minute},

	// All dead: a gap, neither in nor out of range.
	{name: "every probe silent", records: cat(every(1, 0, 5*time.Minute, time.Minute, 9), every(2, 0, 5*time.Minute, time.Minute, 3)),
		at: 7 * time.Minute, want: gap},
	{name: "every probe faulty", records: []record{rd(1, 0, 9), fault(1, time.Minute), rd(2, 0, 3), fault(2, time.Minute)}, at: time.Minute, want: gap},
	{name: "nothing yet", at: 0, want: gap},
	{name: "before a probe's first reading", records: []record{rd(1, time.Minute, 3)}, at: 0, want: gap},
	{name: "the first reading stands for the maximum gap", records: []record{rd(1, 0, 3)}, at: 14*time.Minute + 59*time.Second,
		want: in, live: 1, maxC: 3, minC: 3, maxSensor: 1, minSensor: 1, until: 15 * time.Minute},
	{name: "past the maximum gap", records: []record{rd(1, 0, 9)}, at: 15 * time.Minute, want: gap},
	{name: "a slow probe's reading stands for the maximum gap at most", records: []record{rd(1, 0, 3), rd(1, 20*time.Minute, 3)},
		at: 20*time.Minute + 10*time.Minute, maxGap: 10 * time.Minute, want: gap},
	{name: "a slow probe within the maximum gap", records: []record{rd(1, 0, 3), rd(1, 20*time.Minute, 3)},
		at: 20*time.Minute + 9*time.Minute, maxGap: 10 * time.Minute, want: in, live: 1, maxC: 3, minC: 3, maxSensor: 1, minSensor: 1,
		until: 30 * time.Minute},

	// Limits: which rules apply (Applies) and what they make of the range.
	{name: "no rules: the safe range, no alerts", records: []record{rd(1, 0, 5.5)}, at: 0,
		want: out, live: 1, maxC: 5.5, minC: 5.5, maxSensor: 1, minSensor: 1},
	{name: "a rule following the safe range (threshold NULL)",
		rules: []safety.Rule{orgRule(unitKnd, safety.KindTempHigh, nil), orgRule(unitKnd, safety.KindTempLow, nil)},
		low:   &safety.Side{C: 0, Source: safety.SourceUnit, Alerts: true}, high: &safety.Side{C: 5, Source: safety.SourceUnit, Alerts: true},
		records: []record{rd(1, 0, 5.5)}, want: out, live: 1, maxC: 5.5, minC: 5.5, maxSensor: 1, minSensor: 1},
	{name: "an organisation rule with its own threshold",
		rules: []safety.Rule{orgRule(unitKnd, safety.KindTempHigh, th(4))}, high: &safety.Side{C: 4, Source: safety.SourceRule, Alerts: true},
		records: []record{rd(1, 0, 4.5)}, want: out, live: 1, maxC: 4.5, minC: 4.5, maxSensor: 1, minSensor: 1},
	{name: "a rule's own threshold replaces the safe range, even when looser",
		rules: []safety.Rule{orgRule(unitKnd, safety.KindTempHigh, th(7))}, high: &safety.Side{C: 7, Source: safety.SourceRule, Alerts: true},
		records: []record{rd(1, 0, 6)}, want: in, live: 1, maxC: 6, minC: 6, maxSensor: 1, minSensor: 1},
	{name: "another kind's organisation rule does not apply",
		rules:   []safety.Rule{orgRule("freezer", safety.KindTempHigh, th(-18)), orgRule("fridge", safety.KindTempLow, th(2))},
		records: []record{rd(1, 0, 1)}, want: in, live: 1, maxC: 1, minC: 1, maxSensor: 1, minSensor: 1},
	{name: "another unit's rule does not apply",
		rules: []safety.Rule{unitRule("unit-2", safety.KindTempHigh, th(2))}, records: []record{rd(1, 0, 3)},
		want: in, live: 1, maxC: 3, minC: 3, maxSensor: 1, minSensor: 1},
	{name: "a unit rule overrides the organisation's, kind by kind",
		rules: []safety.Rule{orgRule(unitKnd, safety.KindTempHigh, th(4)), orgRule(unitKnd, safety.KindTempLow, th(1)), unitRule(unitID, safety.KindTempHigh, th(6))},
		low:   &safety.Side{C: 1, Source: safety.SourceRule, Alerts: true}, high: &safety.Side{C: 6, Source: safety.SourceRule, Alerts: true},
		records: []record{rd(1, 0, 5.5), rd(2, 0, 0.5)}, want: out, live: 2, maxC: 5.5, minC: 0.5, maxSensor: 1, minSensor: 2},
	{name: "a disabled unit rule claims its level: no alert on that side, the safe range",
		rules: []safety.Rule{orgRule(unitKnd, safety.KindTempHigh, th(4)), disabled(unitRule(unitID, safety.KindTempHigh, th(3))),
			orgRule(unitKnd, safety.KindTempLow, nil)},
		low: &safety.Side{C: 0, Source: safety.SourceUnit, Alerts: true}, high: safeHigh,
		records: []record{rd(1, 0, 4.5)}, want: in, live: 1, maxC: 4.5, minC: 4.5, maxSensor: 1, minSensor: 1},
	{name: "a disabled and an enabled unit rule: the enabled one applies",
		rules: []safety.Rule{orgRule(unitKnd, safety.KindTempHigh, th(4)), disabled(unitRule(unitID, safety.KindTempHigh, th(3))),
			unitRule(unitID, safety.KindTempHigh, th(6))},
		high: &safety.Side{C: 6, Source: safety.SourceRule, Alerts: true}, records: []record{rd(1, 0, 5.5)},
		want: in, live: 1, maxC: 5.5, minC: 5.5, maxSensor: 1, minSensor: 1},
	{name: "a disabled organisation rule: the safe range, no alert",
		rules: []safety.Rule{disabled(orgRule(unitKnd, safety.KindTempHigh, th(4)))}, records: []record{rd(1, 0, 4.5)},
		want: in, live: 1, maxC: 4.5, minC: 4.5, maxSensor: 1, minSensor: 1},
	{name: "the strictest of several rules",
		rules: []safety.Rule{unitRule(unitID, safety.KindTempHigh, th(6)), unitRule(unitID, safety.KindTempHigh, th(4)), unitRule(unitID, safety.KindTempHigh, nil),
			unitRule(unitID, safety.KindTempLow, th(-1)), unitRule(unitID, safety.KindTempLow, th(1))},
		low: &safety.Side{C: 1, Source: safety.SourceRule, Alerts: true}, high: &safety.Side{C: 4, Source: safety.SourceRule, Alerts: true},
		records: []record{rd(1, 0, 4.2)}, want: out, live: 1, maxC: 4.2, minC: 4.2, maxSensor: 1, minSensor: 1},
	{name: "the strictest: a rule following the range beats a looser own threshold",
		rules: []safety.Rule{orgRule(unitKnd, safety.KindTempHigh, th(7)), orgRule(unitKnd, safety.KindTempHigh, nil)},
		high:  &safety.Side{C: 5, Source: safety.SourceUnit, Alerts: true}, records: []record{rd(1, 0, 6)},
		want: out, live: 1, maxC: 6, minC: 6, maxSensor: 1, minSensor: 1},
	{name: "rules of other kinds do not bound the temperature",
		rules:   []safety.Rule{orgRule(unitKnd, "sensor_offline", th(30)), orgRule(unitKnd, "battery_low", th(15)), orgRule(unitKnd, "sensor_fault", nil)},
		records: []record{rd(1, 0, 3)}, want: in, live: 1, maxC: 3, minC: 3, maxSensor: 1, minSensor: 1},
}

func TestDefinition(t *testing.T) {
	for _, c := range definition {
		t.Run(c.name, func(t *testing.T) {
			l := safety.LimitsFor(c.rules, unitID, unitKnd, 0, 5)
			wantLow, wantHigh := safeLow, safeHigh
			if c.low != nil {
				wantLow = c.low
			}
			if c.high != nil {
				wantHigh = c.high
			}
			if l.Low != *wantLow || l.High != *wantHigh {
				t.Fatalf("limits %+v, want low %+v high %+v", l, *wantLow, *wantHigh)
			}
			m := safety.NewMixer(c.maxGap)
			for _, r := range c.records {
				if r.fault {
					m.Fault(r.sensor, t0.Add(r.at))
				} else {
					m.Observe(r.sensor, t0.Add(r.at), r.c)
				}
			}
			u := m.At(t0.Add(c.at))
			got := gap
			switch {
			case u.In(l) && u.Out(l):
				t.Fatalf("both in and out of range: %+v", u)
			case u.In(l):
				got = in
			case u.Out(l):
				got = out
			}
			if got != c.want {
				t.Fatalf("%s, want %s (%+v, limits %+v)", got, c.want, u, l)
			}
			if c.want == gap {
				if u.Live != 0 || !math.IsNaN(u.MaxC) || !math.IsNaN(u.MinC) {
					t.Fatalf("a gap is no live probe and no value: %+v", u)
				}
				return
			}
			if u.Live != c.live || u.MaxC != c.maxC || u.MinC != c.minC || u.MaxSensor != c.maxSensor || u.MinSensor != c.minSensor {
				t.Fatalf("unit %+v, want live %d max %v (sensor %d) min %v (sensor %d)", u, c.live, c.maxC, c.maxSensor, c.minC, c.minSensor)
			}
			if c.until != 0 && !u.Until.Equal(t0.Add(c.until)) {
				t.Fatalf("known until %v, want %v", u.Until.Sub(t0), c.until)
			}
			// Limits.Contains is In for a single value.
			if c.live == 1 && l.Contains(u.MaxC) != u.In(l) {
				t.Fatalf("Contains(%v) = %v, In = %v", u.MaxC, l.Contains(u.MaxC), u.In(l))
			}
		})
	}
}

func TestApplies(t *testing.T) {
	rules := []safety.Scope{
		{UnitKind: unitKnd, Kind: safety.KindTempHigh, Enabled: true},                  // 0: claimed by the unit's disabled row
		{UnitKind: unitKnd, Kind: safety.KindTempLow, Enabled: true},                   // 1: applies
		{UnitKind: unitKnd, Kind: "sensor_offline", Enabled: false},                    // 2: disabled
		{UnitKind: "fridge", Kind: "battery_low", Enabled: true},                       // 3: another kind of unit
		{UnitID: unitID, UnitKind: unitKnd, Kind: safety.KindTempHigh},                 // 4: disabled, claims temp_high
		{UnitID: unitID, Kind: "sensor_offline", Enabled: true},                        // 5: applies, replaces 2
		{UnitID: "unit-2", UnitKind: unitKnd, Kind: safety.KindTempLow, Enabled: true}, // 6: another unit
		{UnitKind: unitKnd, Kind: "sensor_fault", Enabled: true},                       // 7: applies
	}
	got := safety.Applies(rules, unitID, unitKnd)
	want := []int{1, 5, 7}
	if len(got) != len(want) {
		t.Fatalf("applies %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("applies %v, want %v", got, want)
		}
	}
	if got := safety.Applies(rules, "unit-3", "fridge"); len(got) != 1 || got[0] != 3 {
		t.Fatalf("a fridge: %v, want [3]", got)
	}
}

func TestThreshold(t *testing.T) {
	for _, c := range []struct {
		kind string
		own  *float64
		want float64
	}{
		{safety.KindTempHigh, nil, 5},
		{safety.KindTempLow, nil, 0},
		{safety.KindTempHigh, th(4), 4},
		{safety.KindTempLow, th(-1), -1},
		{safety.KindTempHigh, th(0), 0}, // a threshold of 0 is a threshold, not "unset"
	} {
		if got := safety.Threshold(c.kind, c.own, 0, 5); got != c.want {
			t.Errorf("Threshold(%s, %v) = %v, want %v", c.kind, c.own, got, c.want)
		}
	}
}

func TestStand(t *testing.T) {
	for _, c := range []struct {
		interval, maxGap, want time.Duration
	}{
		{time.Minute, 15 * time.Minute, 2 * time.Minute},                     // one lost uplink tolerated
		{30 * time.Second, 0, safety.MinStand},                               // at least MinStand
		{5 * time.Second, 15 * time.Minute, safety.MinStand},                 // an alarm uplink right after a reading
		{30 * time.Second, time.Minute, time.Minute},                         // the maximum gap wins over MinStand
		{7*time.Minute + 30*time.Second, 15 * time.Minute, 15 * time.Minute}, // exactly the cap
		{10 * time.Minute, 15 * time.Minute, 15 * time.Minute},               // capped
		{time.Hour, 0, safety.DefaultMaxGap},                                 // capped by the default
		{0, 5 * time.Minute, 5 * time.Minute},                                // unknown interval
		{-time.Minute, 0, safety.DefaultMaxGap},                              // unknown interval, default
	} {
		if got := safety.Stand(c.interval, c.maxGap); got != c.want {
			t.Errorf("Stand(%v, %v) = %v, want %v", c.interval, c.maxGap, got, c.want)
		}
	}
}

func TestIsFaultCode(t *testing.T) {
	for _, c := range []struct {
		c    float64
		want bool
	}{
		{327.67, true}, {-327.68, true}, {3276.7, true}, {-3276.8, true}, {32767, true}, {-32768, true},
		{float64(float32(327.67)), true}, {float64(float32(-3276.8)), true}, // stored as real
		{0, false}, {5, false}, {-18, false}, {90, false}, {327.6, false}, {327.7, false}, {-327.67, false}, {3276, false},
		{math.NaN(), false}, {math.Inf(1), false},
	} {
		if got := safety.IsFaultCode(c.c); got != c.want {
			t.Errorf("IsFaultCode(%v) = %v, want %v", c.c, got, c.want)
		}
	}
}

func TestDefaultSafeRange(t *testing.T) {
	for kind, want := range map[string]safety.SafeRange{
		"fridge": {0, 5}, "walk_in": {0, 5}, "display": {0, 5}, "freezer": {-30, -18}, "hot_holding": {57, 90},
		"blast_chiller": {-40, 5}, "ambient": {10, 25},
	} {
		if got, ok := safety.DefaultSafeRange(kind); !ok || got != want {
			t.Errorf("DefaultSafeRange(%s) = %v, %v; want %v", kind, got, ok, want)
		}
	}
	if _, ok := safety.DefaultSafeRange("other"); ok {
		t.Error(`"other" has no default safe range`)
	}
}

// TestMixerMaxGap: a Mixer's MaxGap applies to readings already observed.
func TestMixerMaxGap(t *testing.T) {
	m := safety.NewMixer(0)
	if m.MaxGap != safety.DefaultMaxGap {
		t.Fatalf("MaxGap %v", m.MaxGap)
	}
	m.Observe(1, t0, 3)
	if u := m.At(t0.Add(10 * time.Minute)); u.Live != 1 || !u.Until.Equal(t0.Add(safety.DefaultMaxGap)) {
		t.Fatalf("default: %+v", u)
	}
	m.MaxGap = 5 * time.Minute
	if u := m.At(t0.Add(10 * time.Minute)); u.Live != 0 {
		t.Fatalf("after lowering MaxGap: %+v", u)
	}
	if p, ok := m.Probe(1); !ok || !p.At.Equal(t0) || p.C != 3 || p.Fault || !p.Live(t0, m.MaxGap) {
		t.Fatalf("probe %+v %v", p, ok)
	}
	if _, ok := m.Probe(2); ok {
		t.Fatal("an unknown probe")
	}
}

// BenchmarkMixer: one reading of a two-probe unit applied and the unit's
// state taken, as the HACCP report and alerting do per reading.
func BenchmarkMixer(b *testing.B) {
	m := safety.NewMixer(0)
	at := t0
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		at = at.Add(30 * time.Second)
		m.Observe(int64(i&1), at, 3+float64(i&7))
		if u := m.At(at); u.Live == 0 {
			b.Fatal("gap")
		}
	}
}
