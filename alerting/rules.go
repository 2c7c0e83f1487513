package alerting

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/uuids"
)

// Rule kinds (alert_rules.kind, alerts.kind).
const (
	// KindTempHigh alerts when the temperature rises above Threshold °C.
	KindTempHigh = "temp_high"
	// KindTempLow alerts when the temperature falls below Threshold °C
	// (hot holding).
	KindTempLow = "temp_low"
	// KindSensorOffline alerts when none of a unit's sensors has reported
	// for Threshold minutes.
	KindSensorOffline = "sensor_offline"
	// KindBatteryLow alerts when a sensor reports a battery level below
	// Threshold percent.
	KindBatteryLow = "battery_low"
)

// kinds is every rule kind, in the order rules are listed.
var kinds = []string{KindTempHigh, KindTempLow, KindSensorOffline, KindBatteryLow}

// Rule is one alert_rules row: a condition on a unit, how long it must hold
// before an alert opens, and how it clears.
//
// Conditions ("offending") and clear conditions, with T = Threshold and
// H = Hysteresis:
//
//	temp_high       temp > T            clears at temp <= T - H
//	temp_low        temp < T            clears at temp >= T + H
//	battery_low     battery < T         clears at battery >= T + H
//	sensor_offline  no reading for T minutes; clears with the next reading
//
// An alert opens once the condition held for Confirm, and the excursion ends
// once the clear condition held for Confirm too (the clear delay), so an
// excursion flapping around the threshold keeps its one alert.
type Rule struct {
	// ID is the alert_rules row.
	ID string
	// OrgID is the owning organisation.
	OrgID string
	// UnitID is set for a rule of one unit; empty for an organisation rule.
	UnitID string
	// UnitKind is the kind of unit an organisation rule applies to.
	UnitKind string
	// Kind is one of KindTempHigh, KindTempLow, KindSensorOffline, KindBatteryLow.
	Kind string
	// Threshold is °C for temperature rules, minutes without a reading for
	// sensor_offline, and percent for battery_low.
	Threshold float64
	// Confirm is how long the condition must hold before an alert opens,
	// and how long the clear condition must hold before the excursion ends.
	Confirm time.Duration
	// Hysteresis is the margin below (temp_high) or above (temp_low,
	// battery_low) the threshold that clears the condition.
	Hysteresis float64
	// Severity is info, warning or critical.
	Severity string
	// AutoResolve resolves the alert when the excursion ends. Without it the
	// alert stays open until a person resolves it.
	AutoResolve bool
	// Enabled is false for a rule that is switched off.
	Enabled bool
}

// value is the rule's input from a reading, and whether the reading has it.
func (r *Rule) value(s sample) (float64, bool) {
	switch r.Kind {
	case KindTempHigh, KindTempLow:
		return s.TempC, !math.IsNaN(s.TempC)
	case KindBatteryLow:
		return s.Battery, !math.IsNaN(s.Battery)
	}
	return 0, false
}

// offending reports whether v violates the rule.
func (r *Rule) offending(v float64) bool {
	switch r.Kind {
	case KindTempHigh:
		return v > r.Threshold
	case KindTempLow, KindBatteryLow:
		return v < r.Threshold
	}
	return false
}

// clears reports whether v is back past the threshold by the hysteresis.
func (r *Rule) clears(v float64) bool {
	switch r.Kind {
	case KindTempHigh:
		return v <= r.Threshold-r.Hysteresis
	case KindTempLow, KindBatteryLow:
		return v >= r.Threshold+r.Hysteresis
	}
	return true
}

// worse returns the worse of two values: the excursion's peak.
func (r *Rule) worse(a, b float64) float64 {
	if r.Kind == KindTempHigh {
		return max(a, b)
	}
	return min(a, b)
}

// silence is how long a sensor_offline rule tolerates no reading.
func (r *Rule) silence() time.Duration {
	return time.Duration(r.Threshold * float64(time.Minute))
}

// isTemp reports whether the rule is about temperature (and so needs a
// corrective action to resolve, and has a threshold in °C).
func isTemp(kind string) bool { return kind == KindTempHigh || kind == KindTempLow }

// unitKinds are the kinds of unit a units row may have.
var unitKinds = []string{"fridge", "freezer", "hot_holding", "walk_in", "blast_chiller", "display", "ambient", "other"}

// DefaultRules returns the built-in rules, one per unit kind and rule kind
// (OrgID, ID and UnitID empty):
//
//   - fridge, walk_in, display: temp_high 5 °C
//   - freezer: temp_high −15 °C
//   - hot_holding: temp_low 57 °C
//   - blast_chiller, ambient, other: no temperature rule
//   - every kind: sensor_offline after 30 minutes, battery_low below 15 %
//
// Temperature rules confirm after 15 minutes, clear with 0.5 °C hysteresis,
// are critical and do not auto-resolve (a person resolves them with a
// corrective action). sensor_offline is a warning and battery_low (5 %
// hysteresis) is info; both alert at once and auto-resolve.
//
// EnsureRules stores them as organisation rules the first time an
// organisation needs them; from then on they are ordinary rows that the
// organisation may edit or disable.
func DefaultRules() []Rule {
	var out []Rule
	temp := func(unitKind, kind string, threshold float64) {
		out = append(out, Rule{UnitKind: unitKind, Kind: kind, Threshold: threshold, Confirm: 15 * time.Minute,
			Hysteresis: 0.5, Severity: "critical", Enabled: true})
	}
	for _, uk := range unitKinds {
		switch uk {
		case "fridge", "walk_in", "display":
			temp(uk, KindTempHigh, 5)
		case "freezer":
			temp(uk, KindTempHigh, -15)
		case "hot_holding":
			temp(uk, KindTempLow, 57)
		}
		out = append(out,
			Rule{UnitKind: uk, Kind: KindSensorOffline, Threshold: 30, Severity: "warning", AutoResolve: true, Enabled: true},
			Rule{UnitKind: uk, Kind: KindBatteryLow, Threshold: 15, Hysteresis: 5, Severity: "info", AutoResolve: true, Enabled: true})
	}
	return out
}

// EnsureRules stores the built-in DefaultRules as organisation rules
// (unit_id NULL, unit_kind set) for every (unit kind, rule kind) for which
// the organisation has no organisation rule yet, and returns how many rows
// it created. It is idempotent and safe to run concurrently (an advisory
// lock per organisation serialises it). The evaluator calls it lazily;
// the API may call it when an organisation is created.
//
// Because alerts.rule_id must reference a real row, built-in defaults have to
// exist as rows before they can open an alert. An organisation that deletes
// such a row gets the default back; to switch a default off, disable the row
// (enabled = false) instead.
func EnsureRules(ctx context.Context, db DB, orgID string) (int, error) {
	if !uuids.Valid(orgID) {
		return 0, ErrNotFound
	}
	defaults := DefaultRules()
	var (
		unitKind, kind, severity []string
		threshold, hysteresis    []float64
		confirm                  []int32
		autoResolve              []bool
	)
	for _, d := range defaults {
		unitKind = append(unitKind, d.UnitKind)
		kind = append(kind, d.Kind)
		severity = append(severity, d.Severity)
		threshold = append(threshold, d.Threshold)
		hysteresis = append(hysteresis, d.Hysteresis)
		confirm = append(confirm, int32(d.Confirm/time.Second))
		autoResolve = append(autoResolve, d.AutoResolve)
	}
	var created int
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('freshtrack.alert_rules:' || $1::text, 0))`, orgID); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `
			WITH ins AS (
				INSERT INTO alert_rules (org_id, unit_kind, kind, threshold, confirm_seconds, hysteresis, severity, auto_resolve)
				SELECT $1, d.unit_kind, d.kind, d.threshold, d.confirm, d.hysteresis, d.severity, d.auto_resolve
				  FROM unnest($2::text[], $3::text[], $4::float8[], $5::int4[], $6::float8[], $7::text[], $8::bool[])
				       AS d(unit_kind, kind, threshold, confirm, hysteresis, severity, auto_resolve)
				 WHERE EXISTS (SELECT 1 FROM organizations WHERE id = $1)
				   AND NOT EXISTS (SELECT 1 FROM alert_rules r
				                    WHERE r.org_id = $1 AND r.unit_id IS NULL
				                      AND r.unit_kind = d.unit_kind AND r.kind = d.kind)
				RETURNING id, unit_kind, kind
			), audit AS (
				INSERT INTO audit_log (org_id, actor, action, target_type, target_id, details)
				SELECT $1, 'system', 'alert_rules.create_defaults', 'organization', $1::text,
				       jsonb_build_object('rules', jsonb_agg(jsonb_build_object('id', id, 'unit_kind', unit_kind, 'kind', kind)))
				  FROM ins HAVING count(*) > 0
			)
			SELECT count(*) FROM ins`,
			orgID, unitKind, kind, threshold, confirm, hysteresis, severity, autoResolve).Scan(&created)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("ensure default alert rules: %w", err)
	}
	return created, nil
}

// LoadRules returns every alert rule of an organisation (enabled or not),
// organisation rules first.
func LoadRules(ctx context.Context, db DB, orgID string) ([]Rule, error) {
	if !uuids.Valid(orgID) {
		return nil, ErrNotFound
	}
	rows, err := db.Query(ctx, `
		SELECT id, org_id, coalesce(unit_id::text, ''), coalesce(unit_kind, ''), kind, threshold,
		       confirm_seconds, hysteresis, severity, auto_resolve, enabled
		  FROM alert_rules WHERE org_id = $1
		 ORDER BY unit_id NULLS FIRST, unit_kind, kind, id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("load alert rules: %w", err)
	}
	var (
		r       Rule
		confirm int32
	)
	out := []Rule{}
	_, err = pgx.ForEachRow(rows, []any{&r.ID, &r.OrgID, &r.UnitID, &r.UnitKind, &r.Kind, &r.Threshold,
		&confirm, &r.Hysteresis, &r.Severity, &r.AutoResolve, &r.Enabled}, func() error {
		r.Confirm = time.Duration(confirm) * time.Second
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load alert rules: %w", err)
	}
	return out, nil
}

// missingDefaults reports whether some built-in default has no organisation
// rule among rules.
func missingDefaults(rules []Rule) bool {
	have := map[[2]string]bool{}
	for _, r := range rules {
		if r.UnitID == "" {
			have[[2]string{r.UnitKind, r.Kind}] = true
		}
	}
	for _, d := range DefaultRules() {
		if !have[[2]string{d.UnitKind, d.Kind}] {
			return true
		}
	}
	return false
}

// Effective picks the rules that apply to a unit from its organisation's
// rules. For each rule kind the most specific level that has any row wins:
// the unit's own rows (unit_id = unitID), else the organisation's rows for the
// unit's kind (unit_id NULL, unit_kind = unitKind). All enabled rows of the
// winning level apply, so a unit may have, say, a warning and a critical
// temp_high rule; a disabled row still claims its level, which is how a unit
// or an organisation switches a kind of rule off. The result is ordered by
// rule id.
func Effective(rules []Rule, unitID, unitKind string) []Rule {
	var out []Rule
	for _, k := range kinds {
		var own, org []Rule
		for _, r := range rules {
			switch {
			case r.Kind != k:
			case r.UnitID != "":
				if r.UnitID == unitID {
					own = append(own, r)
				}
			case r.UnitKind == unitKind:
				org = append(org, r)
			}
		}
		level := org
		if len(own) > 0 {
			level = own
		}
		for _, r := range level {
			if r.Enabled {
				out = append(out, r)
			}
		}
	}
	slices.SortFunc(out, func(a, b Rule) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// EffectiveRules returns the rules that apply to one unit (see Effective),
// storing the built-in defaults first if the organisation lacks them.
func EffectiveRules(ctx context.Context, db DB, orgID, unitID string) ([]Rule, error) {
	if !uuids.Valid(orgID) || !uuids.Valid(unitID) {
		return nil, ErrNotFound
	}
	var unitKind string
	err := db.QueryRow(ctx, `SELECT kind FROM units WHERE org_id = $1 AND id = $2`, orgID, unitID).Scan(&unitKind)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("effective rules: %w", err)
	}
	rules, err := LoadRules(ctx, db, orgID)
	if err != nil {
		return nil, err
	}
	if missingDefaults(rules) {
		if _, err := EnsureRules(ctx, db, orgID); err != nil {
			return nil, err
		}
		if rules, err = LoadRules(ctx, db, orgID); err != nil {
			return nil, err
		}
	}
	return Effective(rules, unitID, unitKind), nil
}
