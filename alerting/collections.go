package alerting

// This file declares the alert rules and escalation policies as collections
// of internal/crud, which builds their SQL (with the audit row, in one
// transaction); the api package mounts them and runs none of it. The
// sites, areas, units, sensors and contacts they refer to are fleet's.

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/freshtrack/freshtrack/internal/crud"
	"github.com/freshtrack/freshtrack/safety"
)

// AlertRules are the organisation's rules (see Rules in the package doc):
// a unit's own, or an organisation default for a unit kind.
var AlertRules = &crud.Collection{
	Singular: "alert rule", Table: "alert_rules", Filters: []string{"unit_id", "kind"},
	Fields: []crud.Field{
		{JSON: "unit_id", Kind: crud.Ref, Ref: "unit", Nullable: true, Doc: "the unit this rule applies to; null for an organisation default for unit_kind"},
		{JSON: "unit_kind", Kind: crud.Enum, Enum: safety.UnitKinds, Nullable: true},
		{JSON: "kind", Kind: crud.Enum, Enum: kinds, Required: true},
		{JSON: "threshold", Kind: crud.Number, Nullable: true, Min: crud.Num(-100), Max: crud.Num(1440),
			Doc: "°C for temperature rules, minutes for sensor_offline, percent for battery_low (required for those two); " +
				"null or absent: a temp_high rule follows the unit's safe_max_c and a temp_low rule its safe_min_c; sensor_fault needs none. " +
				"Food-safety kinds (required unless said): trend_warning minutes of lead time (1-240); defrost °C a recognised defrost may peak above the learned peak (0-20); " +
				"door_open minutes a door may stay open (1-1440); time_out_of_temp minutes out of range per local day (1-1440); " +
				"cooling minutes before a stage's deadline at which a projected miss alerts (0-360); manual_log_missed grace minutes past the site's cadence (0-1440); " +
				"calibration_due days of warning before a calibration is due (0-365); sensor_implausible hours a probe may repeat one value (1-168; null: 6)"},
		{JSON: "confirm_seconds", Kind: crud.Int, Min: crud.Num(0), Max: crud.Num(86400),
			Doc: "how long the condition must hold before an alert opens; for trend_warning how long the trend must be sustained, for defrost how much longer than the learned duration a defrost may run"},
		{JSON: "hysteresis", Kind: crud.Number, Min: crud.Num(0), Max: crud.Num(50)},
		{JSON: "severity", Kind: crud.Enum, Enum: []string{"info", "warning", "critical"}},
		{JSON: "auto_resolve", Kind: crud.Bool},
		{JSON: "enabled", Kind: crud.Bool},
	},
	Checks: map[string]crud.FieldError{
		"alert_rules_check": {Field: "unit_id", Reason: "set unit_id, or unit_kind for an organisation default"},
		"alert_rules_threshold_check": {Field: "threshold", Reason: "is required for sensor_offline (minutes), battery_low (percent) and the food-safety rules " +
			"(see the field's description); only temp_high, temp_low, sensor_fault and sensor_implausible rules may leave it null"},
	},
	Blocks:         []crud.Dependent{{Table: "alerts", Column: "rule_id", What: "alerts"}},
	CreateDefaults: checkFoodSafetyThreshold,
}

// foodSafetyThresholds are the thresholds the food-safety kinds accept,
// in their own units; the field's own bounds (-100 to 1440) are wider
// than any of them makes sense in.
var foodSafetyThresholds = map[string]struct {
	lo, hi   float64
	nullable bool
	unit     string
}{
	KindTrendWarning:      {1, 240, false, "minutes of lead time"},
	KindDefrost:           {0, 20, false, "°C above the learned peak"},
	KindDoorOpen:          {1, 1440, false, "minutes"},
	KindTimeOutOfTemp:     {1, 1440, false, "minutes per day"},
	KindCooling:           {0, 360, false, "minutes before a stage's deadline"},
	KindManualLogMissed:   {0, 1440, false, "grace minutes"},
	KindCalibrationDue:    {0, 365, false, "days of warning"},
	KindSensorImplausible: {1, 168, true, "hours"},
}

// checkFoodSafetyThreshold checks a new rule's threshold against its
// food-safety kind's range. A kind or threshold that is not even of the
// right type is left to the fields' own checks.
func checkFoodSafetyThreshold(body map[string]json.RawMessage) []crud.FieldError {
	var kind string
	if json.Unmarshal(body["kind"], &kind) != nil {
		return nil
	}
	r, ok := foodSafetyThresholds[kind]
	if !ok {
		return nil
	}
	raw, given := body["threshold"]
	var v *float64
	if given && json.Unmarshal(raw, &v) != nil {
		return nil
	}
	reason := fmt.Sprintf("must be from %g to %g (%s) for a %s rule", r.lo, r.hi, r.unit, kind)
	switch {
	case v == nil && r.nullable:
		return nil
	case v == nil:
		return []crud.FieldError{{Field: "threshold", Reason: "is required: " + reason}}
	case *v < r.lo || *v > r.hi:
		return []crud.FieldError{{Field: "threshold", Reason: reason}}
	}
	return nil
}

// EscalationPolicies say who is notified when, per site or as the
// organisation default; their steps follow ValidateSteps.
var EscalationPolicies = &crud.Collection{
	Singular: "escalation policy", Table: "escalation_policies", Filters: []string{"site_id"},
	Fields: []crud.Field{
		{JSON: "site_id", Kind: crud.Ref, Ref: "site", Nullable: true, Doc: "the site; null for the organisation default"},
		{JSON: "name", Kind: crud.Text, Required: true, MaxLen: 200, Doc: "policy name"},
		{JSON: "steps", Kind: crud.JSON, Required: true, Validate: validateStepsField,
			Doc: `ordered steps: [{"after_minutes":0,"channels":["sms"],"roles":["staff"],"contact_ids":[]}, ...]`},
	},
}

// validateStepsField checks an escalation policy's steps with the rules the
// escalation itself applies.
func validateStepsField(raw json.RawMessage) string {
	if err := ValidateSteps(raw); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			return ve.Field + " " + ve.Reason
		}
		return err.Error()
	}
	return ""
}
