package insight

import (
	"time"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/safety"
)

// unitRules are a unit's effective rules as the job uses them: the
// detectors' Params, the duties the job checks itself, and every enabled
// rule by id (to raise and clear its alert).
type unitRules struct {
	params    *Params
	manualLog *alerting.Rule
	calibrate *alerting.Rule
	byID      map[string]alerting.Rule
}

// rulesFor turns the rules that apply to a unit (alerting.EffectiveRules)
// into the detectors' parameters (ParamsFor) and the duties'. The unit's
// limits are where its temperature rules alert (safety.UnitLimits), as on
// its dashboard and HACCP record.
func rulesFor(unitKind string, safeMinC, safeMaxC float64, zone *time.Location, rules []alerting.Rule) unitRules {
	out := unitRules{byID: map[string]alerting.Rule{}}
	var temp []safety.TempRule
	for _, r := range rules {
		if !r.Enabled {
			continue
		}
		out.byID[r.ID] = r
		switch r.Kind {
		case alerting.KindTempHigh, alerting.KindTempLow:
			temp = append(temp, safety.TempRule{Kind: r.Kind, Threshold: r.Own})
		case alerting.KindManualLogMissed:
			if out.manualLog == nil {
				out.manualLog = &r
			}
		case alerting.KindCalibrationDue:
			if out.calibrate == nil {
				out.calibrate = &r
			}
		}
	}
	out.params = ParamsFor(unitKind, safety.UnitLimits(safeMinC, safeMaxC, temp), zone, rules)
	return out
}

// hotUnit reports whether a unit keeps food hot: its value is its coldest
// probe, and its danger is falling below the low limit.
func hotUnit(kind string) bool { return kind == "hot_holding" }
