package insight

import (
	"math"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/safety"
)

var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// params are a unit's detector rules as the defaults have them.
func params(kind string) *Params {
	r, _ := safety.DefaultSafeRange(kind)
	p := &Params{UnitKind: kind, Limits: safety.UnitLimits(r.MinC, r.MaxC, nil), Zone: time.UTC,
		Trend:       &TrendParams{RuleID: "trend", Lead: 30 * time.Minute, Sustain: 10 * time.Minute},
		Door:        &DoorParams{RuleID: "door", After: 10 * time.Minute},
		TimeOut:     []TimeOutParams{{RuleID: "out60", Limit: time.Hour}, {RuleID: "out240", Limit: 4 * time.Hour}},
		Implausible: &ImplausibleParams{RuleID: "implausible", Stuck: 6 * time.Hour},
	}
	switch kind {
	case "freezer":
		p.Defrost = &DefrostParams{RuleID: "defrost", PeakMargin: 3, DurationMargin: 15 * time.Minute}
	case "blast_chiller":
		p.Cooling = &CoolingParams{RuleID: "cooling", Warn: 30 * time.Minute}
		p.Trend, p.Door, p.TimeOut = nil, nil, nil
	}
	return p
}

// run feeds f's value every step from `from` to `to` (the unit's value and
// its probe 1), ticking every minute, and returns what came out.
func run(u *Unit, p *Params, from, to, step time.Duration, f func(d time.Duration) float64) Output {
	var all Output
	next := from
	for m := from.Truncate(time.Minute); m <= to; m += time.Minute {
		var out Output
		for ; next <= m && next <= to; next += step {
			v := f(next)
			if math.IsNaN(v) {
				continue // silent
			}
			u.ObserveProbe(p, Sample{T: at(next), C: v, Sensor: 1}, &out)
			u.Observe(p, Sample{T: at(next), C: v}, &out)
		}
		u.Tick(p, at(m), &out)
		merge(&all, out)
	}
	return all
}

func merge(all *Output, out Output) {
	all.Signals = append(all.Signals, out.Signals...)
	for _, e := range out.Episodes {
		upsertEpisode(all, e)
	}
	for _, c := range out.Cooling {
		all.Cooling = upsertCooling(all.Cooling, c)
	}
	if out.PatternChanged {
		all.PatternChanged = true
	}
	if out.Defrost != nil {
		all.Defrost = out.Defrost
	}
}

// signals returns the signals of a kind.
func signals(out Output, kind string) []Signal {
	var s []Signal
	for _, x := range out.Signals {
		if x.Kind == kind {
			s = append(s, x)
		}
	}
	return s
}

// saw is a compressor's cycle: amplitude a, period p, slow rise and a
// fast fall.
func saw(d time.Duration, a float64, p time.Duration) float64 {
	x := math.Mod(float64(d)/float64(p), 1)
	if x < 0.7 {
		return a * (2*x/0.7 - 1)
	}
	return a * (1 - 2*(x-0.7)/0.3)
}

// noise is a deterministic wobble of ±0.05 °C.
func noise(d time.Duration) float64 { return 0.05 * math.Sin(float64(d/time.Minute)*1.7) }

// checkPairs fails unless the signals alternate Raise, Clear per rule.
func checkPairs(t *testing.T, sigs []Signal) {
	t.Helper()
	up := map[string]bool{}
	for _, s := range sigs {
		if (s.Op == Raise) == up[s.RuleID] {
			t.Fatalf("%v for rule %s while raised=%v: %+v", s.Op, s.RuleID, up[s.RuleID], s)
		}
		up[s.RuleID] = s.Op == Raise
	}
}
