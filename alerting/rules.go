package alerting

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
	"github.com/freshtrack/freshtrack/safety"
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
	// KindSensorFault alerts when a probe reports an error code (a
	// disconnected probe's 327.67 °C, see safety.IsFaultCode) instead of a
	// temperature. It clears when that probe measures again.
	KindSensorFault = "sensor_fault"
)

// Food-safety rule kinds: conditions the food-safety detectors (package
// insight) recognise in a unit's history and report through Raise and
// Clear, rather than the per-reading state machine. Their Threshold is:
const (
	// KindTrendWarning warns when the unit's sustained trend will cross its
	// limit within Threshold minutes; Confirm is how long the trend must be
	// sustained. Withdrawn when the trend reverses.
	KindTrendWarning = "trend_warning"
	// KindDefrost is not an alert: an enabled defrost rule lets a freezer's
	// recognised defrost cycle run without a temp_high alert while it peaks
	// at most Threshold °C above the learned peak and lasts at most Confirm
	// longer than the learned duration.
	KindDefrost = "defrost"
	// KindDoorOpen alerts when a door stayed open for Threshold minutes.
	KindDoorOpen = "door_open"
	// KindTimeOutOfTemp alerts when a unit's time out of range in one local
	// day reaches Threshold minutes, however short each excursion was.
	KindTimeOutOfTemp = "time_out_of_temp"
	// KindCooling alerts when a cooling cycle is projected to miss a stage
	// of the two-stage rule Threshold minutes before its deadline, or
	// missed it.
	KindCooling = "cooling"
	// KindManualLogMissed alerts when no manual temperature check was
	// logged for a unit within its site's cadence plus Threshold minutes.
	KindManualLogMissed = "manual_log_missed"
	// KindCalibrationDue alerts Threshold days before a sensor's
	// calibration is due, and while it is overdue.
	KindCalibrationDue = "calibration_due"
	// KindSensorImplausible alerts when a probe repeats one value for
	// Threshold hours (NaN: 6) or jumps faster than food can change.
	KindSensorImplausible = "sensor_implausible"
)

// kinds is every rule kind, in the order rules are listed.
var kinds = []string{KindTempHigh, KindTempLow, KindSensorOffline, KindBatteryLow, KindSensorFault,
	KindTrendWarning, KindDefrost, KindDoorOpen, KindTimeOutOfTemp, KindCooling,
	KindManualLogMissed, KindCalibrationDue, KindSensorImplausible}

// Kinds returns every rule kind.
func Kinds() []string { return slices.Clone(kinds) }

// Evaluated reports whether the evaluator runs a kind's state machine over
// readings; the other kinds are the food-safety detectors' (Raise, Clear).
func Evaluated(kind string) bool {
	switch kind {
	case KindTempHigh, KindTempLow, KindSensorOffline, KindBatteryLow, KindSensorFault:
		return true
	}
	return false
}

// NeedsCorrectiveAction reports whether resolving an alert of a kind needs
// a corrective action and a disposition: the food was, or may have been,
// out of temperature.
func NeedsCorrectiveAction(kind string) bool {
	switch kind {
	case KindTempHigh, KindTempLow, KindCooling, KindTimeOutOfTemp:
		return true
	}
	return false
}

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
//	sensor_fault    a probe's newest record is an error code; clears when
//	                every probe measures again (no threshold)
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
	// sensor_offline, and percent for battery_low. For a temperature rule
	// that follows its unit's safe range (Own nil), Effective sets it to the
	// unit's side of the range; NaN until then.
	Threshold float64
	// Own is the rule's stored threshold (alert_rules.threshold); nil for a
	// temperature rule that follows the unit's safe range.
	Own *float64
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

// value is the rule's input from one probe's reading, and whether the
// reading has it: a fault (a probe's error code) has no temperature, and is
// a 1 for sensor_fault (a measurement is a 0).
func (r *Rule) value(s sample) (float64, bool) {
	switch r.Kind {
	case KindTempHigh, KindTempLow:
		return s.TempC, !s.Fault && !math.IsNaN(s.TempC)
	case KindBatteryLow:
		return s.Battery, !math.IsNaN(s.Battery)
	case KindSensorFault:
		if s.Fault {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// offending reports whether v violates the rule.
func (r *Rule) offending(v float64) bool {
	switch r.Kind {
	case KindSensorFault:
		return v > 0
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
	case KindSensorFault:
		return v == 0
	case KindTempHigh:
		return v <= r.Threshold-r.Hysteresis
	case KindTempLow, KindBatteryLow:
		return v >= r.Threshold+r.Hysteresis
	}
	return true
}

// worse returns the worse of two values: the excursion's peak.
func (r *Rule) worse(a, b float64) float64 {
	if r.Kind == KindTempHigh || r.Kind == KindSensorFault {
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

// DefaultRules returns the built-in rules, per unit kind and rule kind
// (OrgID, ID and UnitID empty):
//
//   - fridge, walk_in, display, freezer, hot_holding: temp_high and
//     temp_low following each unit's own safe range (Own nil), so a unit
//     alerts exactly where its HACCP record and dashboard say it is out of
//     range (a freezer's default safe range tops out at −18 °C, see
//     safety.DefaultSafeRange); trend_warning 30 minutes ahead of the
//     limit, sustained for 10 minutes (warning); time_out_of_temp at 60
//     minutes a day (warning) and at 240 (critical: Food Code's 4-hour
//     rule for TCS food out of temperature control); door_open after 10
//     minutes (warning)
//   - freezer: defrost recognition, a learned cycle allowed 3 °C above its
//     learned peak and 15 minutes beyond its learned duration
//   - blast_chiller, hot_holding: cooling, a stage projected to be missed
//     30 minutes before its deadline (critical)
//   - blast_chiller, ambient, other: no temperature rule
//   - every kind: sensor_offline after 30 minutes, battery_low below 15 %,
//     sensor_fault on a probe's error code, sensor_implausible (a value
//     stuck for 6 hours, an impossible jump), manual_log_missed 30 minutes
//     past the site's cadence (sites without one have no duty) and
//     calibration_due 14 days ahead (sensors without a calibration record
//     have no due date)
//
// Temperature rules confirm after 15 minutes, clear with 0.5 °C hysteresis,
// are critical and do not auto-resolve (a person resolves them with a
// corrective action). sensor_offline and sensor_fault are warnings and
// battery_low (5 % hysteresis) is info; they alert at once and auto-resolve.
// The food-safety kinds auto-resolve when their condition ends, except
// cooling and the 4-hour rule, which need a person's corrective action.
//
// EnsureRules stores them as organisation rules the first time an
// organisation needs them; from then on they are ordinary rows that the
// organisation may edit or disable.
func DefaultRules() []Rule {
	var out []Rule
	temp := func(unitKind, kind string) {
		out = append(out, Rule{UnitKind: unitKind, Kind: kind, Threshold: math.NaN(), Confirm: 15 * time.Minute,
			Hysteresis: 0.5, Severity: "critical", Enabled: true})
	}
	own := func(unitKind, kind string, threshold float64, confirm time.Duration, severity string, autoResolve bool) {
		out = append(out, Rule{UnitKind: unitKind, Kind: kind, Threshold: threshold, Own: ptr(threshold), Confirm: confirm,
			Severity: severity, AutoResolve: autoResolve, Enabled: true})
	}
	for _, uk := range safety.UnitKinds {
		switch uk {
		case "fridge", "walk_in", "display", "freezer", "hot_holding":
			temp(uk, KindTempHigh)
			temp(uk, KindTempLow)
			own(uk, KindTrendWarning, 30, 10*time.Minute, "warning", true)
			own(uk, KindTimeOutOfTemp, 60, 0, "warning", true)
			own(uk, KindTimeOutOfTemp, 240, 0, "critical", false)
			own(uk, KindDoorOpen, 10, 0, "warning", true)
		}
		switch uk {
		case "freezer":
			own(uk, KindDefrost, 3, 15*time.Minute, "info", true)
		case "blast_chiller", "hot_holding":
			own(uk, KindCooling, 30, 0, "critical", false)
		}
		out = append(out,
			Rule{UnitKind: uk, Kind: KindSensorOffline, Threshold: 30, Own: ptr(30.0), Severity: "warning", AutoResolve: true, Enabled: true},
			Rule{UnitKind: uk, Kind: KindBatteryLow, Threshold: 15, Own: ptr(15.0), Hysteresis: 5, Severity: "info", AutoResolve: true, Enabled: true},
			Rule{UnitKind: uk, Kind: KindSensorFault, Threshold: math.NaN(), Severity: "warning", AutoResolve: true, Enabled: true},
			Rule{UnitKind: uk, Kind: KindSensorImplausible, Threshold: math.NaN(), Severity: "warning", AutoResolve: true, Enabled: true})
		own(uk, KindManualLogMissed, 30, 0, "warning", true)
		own(uk, KindCalibrationDue, 14, 0, "info", true)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

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
func EnsureRules(ctx context.Context, db database.DB, orgID string) (int, error) {
	if !uuids.Valid(orgID) {
		return 0, ErrNotFound
	}
	defaults := DefaultRules()
	var (
		unitKind, kind, severity []string
		threshold                []*float64
		hysteresis               []float64
		confirm                  []int32
		autoResolve              []bool
	)
	for _, d := range defaults {
		unitKind = append(unitKind, d.UnitKind)
		kind = append(kind, d.Kind)
		severity = append(severity, d.Severity)
		threshold = append(threshold, d.Own)
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
func LoadRules(ctx context.Context, db database.DB, orgID string) ([]Rule, error) {
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
		own     *float64
	)
	out := []Rule{}
	_, err = pgx.ForEachRow(rows, []any{&r.ID, &r.OrgID, &r.UnitID, &r.UnitKind, &r.Kind, &own,
		&confirm, &r.Hysteresis, &r.Severity, &r.AutoResolve, &r.Enabled}, func() error {
		r.Confirm = time.Duration(confirm) * time.Second
		r.Own, r.Threshold = own, math.NaN()
		if own != nil {
			r.Own, r.Threshold = ptr(*own), *own
		}
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

// UnitScope is what rule selection needs to know of a unit.
type UnitScope struct {
	ID, Kind           string
	SafeMinC, SafeMaxC float64
}

// Effective picks the rules that apply to a unit from its organisation's
// rules, by safety.Applies: for each rule kind the unit's own rows if it
// has any, else the organisation's rows for the unit's kind; all enabled
// rows of that level apply (a unit may have a warning and a critical
// temp_high rule), and a disabled row still claims its level, which is how
// a unit or an organisation switches a kind of rule off. A temperature rule
// that follows the safe range gets the unit's side of it as its Threshold.
// The result is ordered by rule id.
func Effective(rules []Rule, u UnitScope) []Rule {
	scopes := make([]safety.Scope, len(rules))
	for i, r := range rules {
		scopes[i] = safety.Scope{UnitID: r.UnitID, UnitKind: r.UnitKind, Kind: r.Kind, Enabled: r.Enabled}
	}
	var out []Rule
	for _, i := range safety.Applies(scopes, u.ID, u.Kind) {
		r := rules[i]
		if isTemp(r.Kind) {
			r.Threshold = safety.Threshold(r.Kind, r.Own, u.SafeMinC, u.SafeMaxC)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Rule) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// EffectiveRules returns the rules that apply to one unit (see Effective),
// storing the built-in defaults first if the organisation lacks them.
func EffectiveRules(ctx context.Context, db database.DB, orgID, unitID string) ([]Rule, error) {
	if !uuids.Valid(orgID) || !uuids.Valid(unitID) {
		return nil, ErrNotFound
	}
	u := UnitScope{ID: unitID}
	err := db.QueryRow(ctx, `SELECT kind, safe_min_c, safe_max_c FROM units WHERE org_id = $1 AND id = $2`, orgID, unitID).
		Scan(&u.Kind, &u.SafeMinC, &u.SafeMaxC)
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
	return Effective(rules, u), nil
}
