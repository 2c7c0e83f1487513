package safety

import "math"

// Rule kinds that bound a unit's temperature.
const (
	KindTempHigh = "temp_high"
	KindTempLow  = "temp_low"
)

// Sources of a limit.
const (
	// SourceUnit: the unit's safe range.
	SourceUnit = "unit"
	// SourceRule: an enabled rule's own threshold.
	SourceRule = "rule"
)

// Scope is what rule selection needs of an alert_rules row.
type Scope struct {
	// UnitID is set for a rule of one unit; empty for an organisation rule.
	UnitID string
	// UnitKind is the kind of unit an organisation rule applies to.
	UnitKind string
	// Kind is the rule kind (temp_high, temp_low, sensor_offline, ...).
	Kind string
	// Enabled is false for a rule that is switched off.
	Enabled bool
}

// Applies returns the indexes (in input order) of the rules that apply to a
// unit. For each rule kind the most specific level that has any row wins:
// the unit's own rows (UnitID = unitID), else the organisation's rows for the
// unit's kind (UnitID empty, UnitKind = unitKind). All enabled rows of the
// winning level apply; a disabled row still claims its level, which is how a
// unit or an organisation switches a kind of rule off.
func Applies(rules []Scope, unitID, unitKind string) []int {
	ownKinds := map[string]bool{}
	for _, r := range rules {
		if r.UnitID != "" && r.UnitID == unitID {
			ownKinds[r.Kind] = true
		}
	}
	var out []int
	for i, r := range rules {
		if !r.Enabled {
			continue
		}
		switch {
		case r.UnitID != "":
			if r.UnitID == unitID {
				out = append(out, i)
			}
		case r.UnitKind == unitKind && !ownKinds[r.Kind]:
			out = append(out, i)
		}
	}
	return out
}

// TempRule is an enabled temperature rule that applies to a unit.
type TempRule struct {
	// Kind is KindTempHigh or KindTempLow.
	Kind string
	// Threshold is the rule's own limit in °C; nil when the rule follows
	// the unit's safe range.
	Threshold *float64
}

// Threshold is the limit a temperature rule alerts at for a unit: its own
// threshold, or the side of the unit's safe range it follows.
func Threshold(kind string, own *float64, safeMinC, safeMaxC float64) float64 {
	switch {
	case own != nil:
		return *own
	case kind == KindTempLow:
		return safeMinC
	default:
		return safeMaxC
	}
}

// Side is one bound of a unit's temperature.
type Side struct {
	// C is the limit in °C.
	C float64
	// Source is SourceUnit or SourceRule.
	Source string
	// Alerts is whether an enabled rule alerts when the limit is crossed.
	// Without one, the limit still judges the unit's status and its HACCP
	// record: the food is out of its safe range whether or not anyone is
	// told.
	Alerts bool
}

// Limits are a unit's effective temperature bounds.
type Limits struct {
	Low, High Side
}

// UnitLimits returns a unit's limits from its safe range and the enabled
// temperature rules that apply to it (see Applies). Per side, without a rule
// the safe range is the limit; with rules, the strictest threshold among them
// is (a rule following the safe range counting as the safe range), so the
// limit shown is exactly where the first alert of that side opens.
func UnitLimits(safeMinC, safeMaxC float64, rules []TempRule) Limits {
	l := Limits{Low: Side{C: safeMinC, Source: SourceUnit}, High: Side{C: safeMaxC, Source: SourceUnit}}
	for _, r := range rules {
		switch r.Kind {
		case KindTempHigh:
			v := Threshold(r.Kind, r.Threshold, safeMinC, safeMaxC)
			if !l.High.Alerts || v < l.High.C {
				l.High = Side{C: v, Source: sourceOf(r.Threshold), Alerts: true}
			}
		case KindTempLow:
			v := Threshold(r.Kind, r.Threshold, safeMinC, safeMaxC)
			if !l.Low.Alerts || v > l.Low.C {
				l.Low = Side{C: v, Source: sourceOf(r.Threshold), Alerts: true}
			}
		}
	}
	return l
}

// Rule is what a unit's limits need of an alert_rules row.
type Rule struct {
	Scope
	// Threshold is the row's threshold (alert_rules.threshold); nil (NULL)
	// for a temperature rule that follows the unit's safe range.
	Threshold *float64
}

// LimitsFor returns a unit's limits from its safe range and its
// organisation's alert rules: any rows, those that do not apply to the unit
// (Applies) and those that are not temperature rules being ignored. It is
// Applies followed by UnitLimits, the one way to get from alert_rules rows
// to a unit's limits.
func LimitsFor(rules []Rule, unitID, unitKind string, safeMinC, safeMaxC float64) Limits {
	scopes := make([]Scope, len(rules))
	for i, r := range rules {
		scopes[i] = r.Scope
	}
	var temp []TempRule
	for _, i := range Applies(scopes, unitID, unitKind) {
		if k := rules[i].Kind; k == KindTempHigh || k == KindTempLow {
			temp = append(temp, TempRule{Kind: k, Threshold: rules[i].Threshold})
		}
	}
	return UnitLimits(safeMinC, safeMaxC, temp)
}

func sourceOf(own *float64) string {
	if own != nil {
		return SourceRule
	}
	return SourceUnit
}

// Contains reports whether a temperature is within the limits (inclusive).
func (l Limits) Contains(c float64) bool { return c >= l.Low.C && c <= l.High.C }

// SafeRange is a default safe range for a kind of unit.
type SafeRange struct{ MinC, MaxC float64 }

// UnitKinds are the kinds a unit may have: the one list in Go, equal to the
// units.kind CHECK constraint of the schema (TestUnitKindsMatchTheSchema).
var UnitKinds = []string{"fridge", "freezer", "hot_holding", "walk_in", "blast_chiller", "display", "ambient", "other"}

// DefaultSafeRange returns the safe range a unit of a kind gets when none is
// given: fridges, walk-ins and displays 0..5 °C, freezers −30..−18 °C
// (common guidance alarms a freezer above −18 °C), hot holding 57..90 °C,
// blast chillers −40..5 °C and ambient storage 10..25 °C. "other" has no
// default (ok false): its range must be given.
func DefaultSafeRange(kind string) (SafeRange, bool) {
	switch kind {
	case "fridge", "walk_in", "display":
		return SafeRange{0, 5}, true
	case "freezer":
		return SafeRange{-30, -18}, true
	case "hot_holding":
		return SafeRange{57, 90}, true
	case "blast_chiller":
		return SafeRange{-40, 5}, true
	case "ambient":
		return SafeRange{10, 25}, true
	}
	return SafeRange{math.NaN(), math.NaN()}, false
}
