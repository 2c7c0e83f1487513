package alerting

// This file declares the alert rules and escalation policies as collections
// of internal/crud, which builds their SQL (with the audit row, in one
// transaction); the api package mounts them and runs none of it. The
// sites, areas, units, sensors and contacts they refer to are fleet's.

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

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
	// A PATCH of the threshold (or the kind) alone must keep the pair in
	// the kind's range too.
	UpdateCheck: checkFoodSafetyThreshold,
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

// checkFoodSafetyThreshold checks a rule's threshold against its
// food-safety kind's range: a new rule's body, or an updated rule as stored. A kind or threshold that is not even of the
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

// NotificationPolicies say how an organisation, site or unit is told of its
// alerts, per alert kind (migration 0016_notification_policies documents
// the fields); the most specific applies (ChoosePolicy).
var NotificationPolicies = &crud.Collection{
	Singular: "notification policy", Table: "notification_policies", Filters: []string{"site_id", "unit_id", "alert_kind"},
	Fields: []crud.Field{
		{JSON: "site_id", Kind: crud.Ref, Ref: "site", Nullable: true, Doc: "the site this policy covers; null for the organisation or a unit policy"},
		{JSON: "unit_id", Kind: crud.Ref, Ref: "unit", Nullable: true, Doc: "the unit this policy covers (then site_id is null); null for a site or organisation policy"},
		{JSON: "alert_kind", Kind: crud.Enum, Enum: kinds, Nullable: true, Doc: "the alert kind it covers; null for any kind"},
		{JSON: "name", Kind: crud.Text, Required: true, MaxLen: 200, Doc: "policy name, shown on the alert page"},
		{JSON: "initial_channels", Kind: crud.JSON, Validate: validateChannelsField,
			Doc: `channels of the first notification, replacing step 0's: ["sms","email"]; [] keeps step 0's own`},
		{JSON: "ack_deadline_minutes", Kind: crud.Int, Min: crud.Num(0), Max: crud.Num(10080),
			Doc: "minutes the first recipients have to acknowledge: no later step fires before it (0: the steps' own times)"},
		{JSON: "steps", Kind: crud.JSON, Required: true, Validate: validateStepsField,
			Doc: `escalation steps, as for escalation policies: [{"after_minutes":0,"channels":["sms"],"roles":["staff"],"contact_ids":[]}, ...]`},
		{JSON: "reminder_minutes", Kind: crud.Int, Min: crud.Num(0), Max: crud.Num(1440),
			Doc: "remind the latest step's recipients every so many minutes until acknowledged (0: never; else 5 to 1440)"},
		{JSON: "notify_on_resolve", Kind: crud.Bool, Doc: "tell everyone notified when the alert resolves"},
		{JSON: "quiet_start", Kind: crud.Text, MaxLen: 5, Nullable: true,
			Doc: "start of the quiet hours, HH:MM in the site's time zone (with quiet_end; both null: none)"},
		{JSON: "quiet_end", Kind: crud.Text, MaxLen: 5, Nullable: true,
			Doc: "end of the quiet hours, HH:MM; before quiet_start for a window across midnight. Messages due inside are deferred to the end"},
		{JSON: "quiet_overridden_by_critical", Kind: crud.Bool, Doc: "critical alerts ignore the quiet hours (default true)"},
		{JSON: "min_severity", Kind: crud.Enum, Enum: []string{"info", "warning", "critical"}, Doc: "alerts below it notify nobody (default info)"},
	},
	Checks: map[string]crud.FieldError{
		"notification_policies_scope_check":            {Field: "unit_id", Reason: "a policy covers a site or a unit, not both: leave site_id null for a unit policy"},
		"notification_policies_quiet_check":            {Field: "quiet_end", Reason: "set both quiet_start and quiet_end (different times), or neither"},
		"notification_policies_quiet_start_check":      {Field: "quiet_start", Reason: "must be a time of day HH:MM, 00:00 to 23:59"},
		"notification_policies_quiet_end_check":        {Field: "quiet_end", Reason: "must be a time of day HH:MM, 00:00 to 23:59"},
		"notification_policies_reminder_minutes_check": {Field: "reminder_minutes", Reason: "must be 0 (no reminders) or 5 to 1440 minutes"},
	},
}

// validateChannelsField checks initial_channels: a JSON array of distinct
// "sms" and "email".
func validateChannelsField(raw json.RawMessage) string {
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil || list == nil {
		return `must be an array of "sms" and "email"`
	}
	for i, c := range list {
		if !slices.Contains(channels, c) {
			return fmt.Sprintf(`[%d] unknown channel %q: use "sms" or "email"`, i, c)
		}
		if slices.Contains(list[:i], c) {
			return fmt.Sprintf("[%d] channel %q is listed twice", i, c)
		}
	}
	return ""
}
