package alerting

// This file declares the alert rules and escalation policies as collections
// of internal/crud, which builds their SQL (with the audit row, in one
// transaction); the api package mounts them and runs none of it. The
// sites, areas, units, sensors and contacts they refer to are fleet's.

import (
	"encoding/json"
	"errors"

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
				"null or absent: a temp_high rule follows the unit's safe_max_c and a temp_low rule its safe_min_c; sensor_fault needs none"},
		{JSON: "confirm_seconds", Kind: crud.Int, Min: crud.Num(0), Max: crud.Num(86400), Doc: "how long the condition must hold before an alert opens"},
		{JSON: "hysteresis", Kind: crud.Number, Min: crud.Num(0), Max: crud.Num(50)},
		{JSON: "severity", Kind: crud.Enum, Enum: []string{"info", "warning", "critical"}},
		{JSON: "auto_resolve", Kind: crud.Bool},
		{JSON: "enabled", Kind: crud.Bool},
	},
	Checks: map[string]crud.FieldError{
		"alert_rules_check": {Field: "unit_id", Reason: "set unit_id, or unit_kind for an organisation default"},
		"alert_rules_threshold_check": {Field: "threshold", Reason: "is required for sensor_offline (minutes) and battery_low (percent) rules; " +
			"only temp_high, temp_low and sensor_fault rules may leave it null"},
	},
	Blocks: []crud.Dependent{{Table: "alerts", Column: "rule_id", What: "alerts"}},
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
