package insight

import (
	"math"
	"time"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/safety"
)

// defaultStuck is sensor_implausible's stuck time when its rule has no
// threshold.
const defaultStuck = 6 * time.Hour

// ParamsFor builds a unit's Params from the rules that apply to it
// (alerting.Effective's result): enabled rules of the detectors' kinds, with
// each kind's threshold and confirm delay read as alerting/rules.go
// documents them. The thresholds' units are the schema's (minutes, °C,
// hours).
func ParamsFor(unitKind string, limits safety.Limits, zone *time.Location, rules []alerting.Rule) *Params {
	p := &Params{UnitKind: unitKind, Limits: limits, Zone: zone}
	mins := func(v float64) time.Duration { return time.Duration(v * float64(time.Minute)) }
	for _, r := range rules {
		if !r.Enabled {
			continue
		}
		switch r.Kind {
		case alerting.KindTrendWarning:
			p.Trend = &TrendParams{RuleID: r.ID, Lead: mins(r.Threshold), Sustain: r.Confirm}
		case alerting.KindDefrost:
			p.Defrost = &DefrostParams{RuleID: r.ID, PeakMargin: r.Threshold, DurationMargin: r.Confirm}
		case alerting.KindDoorOpen:
			p.Door = &DoorParams{RuleID: r.ID, After: mins(r.Threshold)}
		case alerting.KindTimeOutOfTemp:
			p.TimeOut = append(p.TimeOut, TimeOutParams{RuleID: r.ID, Limit: mins(r.Threshold)})
		case alerting.KindCooling:
			p.Cooling = &CoolingParams{RuleID: r.ID, Warn: mins(r.Threshold)}
		case alerting.KindSensorImplausible:
			stuck := defaultStuck
			if !math.IsNaN(r.Threshold) && r.Threshold > 0 {
				stuck = time.Duration(r.Threshold * float64(time.Hour))
			}
			p.Implausible = &ImplausibleParams{RuleID: r.ID, Stuck: stuck}
		}
	}
	return p
}
