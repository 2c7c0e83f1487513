package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/problem"
	"github.com/freshtrack/freshtrack/safety"
)

var unitKinds = []string{"fridge", "freezer", "hot_holding", "walk_in", "blast_chiller", "display", "ambient", "other"}

func name(doc string) field {
	return field{json: "name", kind: kText, required: true, maxLen: 200, doc: doc}
}

// resources are the organisation's REST collections handled generically.
func (r *Router) resources() []*resource {
	rulesChanged := func(c *fiber.Ctx, org string) {
		if r.deps.Alerts != nil {
			r.deps.Alerts.Invalidate(org)
		}
	}
	sensorsChanged := func(c *fiber.Ctx, org string) {
		if r.deps.SensorsChanged != nil {
			r.deps.SensorsChanged(org)
		}
		rulesChanged(c, org)
	}
	return []*resource{
		{
			path: "sites", singular: "site", table: "sites", write: auth.PermManage,
			fields: []field{
				name("site name"),
				{json: "timezone", kind: kTimezone, required: true, doc: "the site's IANA time zone; reports use its local days"},
				{json: "address", kind: kText, maxLen: 500, nullable: true},
			},
			blocks: []dependent{{"units", "site_id", "units"}, {"areas", "site_id", "areas"}},
			example: func(ids map[string]string) map[string]any {
				return map[string]any{"name": "Harbour Kitchen", "timezone": "Europe/Lisbon"}
			},
		},
		{
			path: "areas", singular: "area", table: "areas", write: auth.PermManage, filters: []string{"site_id"},
			fields: []field{
				{json: "site_id", kind: kRef, ref: "site", required: true},
				name("area name, e.g. Kitchen or Storage"),
			},
			example: func(ids map[string]string) map[string]any {
				return map[string]any{"site_id": ids["site"], "name": "Cold room"}
			},
		},
		{
			path: "units", singular: "unit", table: "units", write: auth.PermManage, filters: []string{"site_id", "area_id", "kind"},
			fields: []field{
				{json: "site_id", kind: kRef, ref: "site", required: true},
				{json: "area_id", kind: kRef, ref: "area", nullable: true},
				name("unit name, e.g. Prep fridge 2"),
				{json: "kind", kind: kEnum, enum: unitKinds, required: true},
				{json: "safe_min_c", kind: kNumber, min: num(-100), max: num(200),
					doc: "lowest safe temperature, °C; on create it defaults by kind (" + safeRangeDefaults(func(r safety.SafeRange) float64 { return r.MinC }) + "), and a unit of kind other needs it"},
				{json: "safe_max_c", kind: kNumber, min: num(-100), max: num(200),
					doc: "highest safe temperature, °C; on create it defaults by kind (" + safeRangeDefaults(func(r safety.SafeRange) float64 { return r.MaxC }) + "), and a unit of kind other needs it"},
			},
			checks:         map[string]problem.FieldError{"units_check": {Field: "safe_max_c", Reason: "must be greater than safe_min_c"}},
			blocks:         []dependent{{"alerts", "unit_id", "alerts"}},
			afterWrite:     rulesChanged,
			createDefaults: defaultSafeRange,
			example: func(ids map[string]string) map[string]any {
				return map[string]any{"site_id": ids["site"], "name": "Line fridge", "kind": "fridge", "safe_min_c": 0, "safe_max_c": 5}
			},
		},
		{
			path: "sensors", singular: "sensor", table: "sensors", idCol: "public_id", keyCol: "id", write: auth.PermManage,
			filters: []string{"unit_id"}, softDelete: "retired_at", afterWrite: sensorsChanged,
			fields: []field{
				{json: "external_id", kind: kText, required: true, maxLen: 128, doc: "the device's serial or TTN dev_eui, unique in the organisation"},
				{json: "unit_id", kind: kRef, ref: "unit", nullable: true, doc: "the unit it measures; null while unassigned"},
				{json: "name", kind: kText, maxLen: 200, nullable: true},
				{json: "model", kind: kText, maxLen: 200, nullable: true},
				{json: "last_seen_at", kind: kTime, readOnly: true},
				{json: "battery", kind: kNumber, readOnly: true},
			},
			example: func(ids map[string]string) map[string]any {
				return map[string]any{"external_id": "EUI-" + ids["nonce"], "unit_id": ids["unit"], "model": "LHT65N"}
			},
		},
		{
			path: "alert-rules", singular: "alert rule", table: "alert_rules", write: auth.PermManage, filters: []string{"unit_id", "kind"},
			fields: []field{
				{json: "unit_id", kind: kRef, ref: "unit", nullable: true, doc: "the unit this rule applies to; null for an organisation default for unit_kind"},
				{json: "unit_kind", kind: kEnum, enum: unitKinds, nullable: true},
				{json: "kind", kind: kEnum, enum: []string{"temp_high", "temp_low", "sensor_offline", "battery_low", "sensor_fault"}, required: true},
				{json: "threshold", kind: kNumber, nullable: true, min: num(-100), max: num(1440),
					doc: "°C for temperature rules, minutes for sensor_offline, percent for battery_low (required for those two); " +
						"null or absent: a temp_high rule follows the unit's safe_max_c and a temp_low rule its safe_min_c; sensor_fault needs none"},
				{json: "confirm_seconds", kind: kInt, min: num(0), max: num(86400), doc: "how long the condition must hold before an alert opens"},
				{json: "hysteresis", kind: kNumber, min: num(0), max: num(50)},
				{json: "severity", kind: kEnum, enum: []string{"info", "warning", "critical"}},
				{json: "auto_resolve", kind: kBool},
				{json: "enabled", kind: kBool},
			},
			checks: map[string]problem.FieldError{
				"alert_rules_check": {Field: "unit_id", Reason: "set unit_id, or unit_kind for an organisation default"},
				"alert_rules_threshold_check": {Field: "threshold", Reason: "is required for sensor_offline (minutes) and battery_low (percent) rules; " +
					"only temp_high, temp_low and sensor_fault rules may leave it null"},
			},
			blocks:     []dependent{{"alerts", "rule_id", "alerts"}},
			afterWrite: rulesChanged,
			example: func(ids map[string]string) map[string]any {
				return map[string]any{"unit_id": ids["unit"], "kind": "temp_high", "threshold": 5, "confirm_seconds": 900}
			},
		},
		{
			path: "escalation-policies", singular: "escalation policy", table: "escalation_policies", write: auth.PermManage, filters: []string{"site_id"},
			fields: []field{
				{json: "site_id", kind: kRef, ref: "site", nullable: true, doc: "the site; null for the organisation default"},
				name("policy name"),
				{json: "steps", kind: kJSON, required: true, validate: validateSteps,
					doc: `ordered steps: [{"after_minutes":0,"channels":["sms"],"roles":["staff"],"contact_ids":[]}, ...]`},
			},
			example: func(ids map[string]string) map[string]any {
				return map[string]any{"site_id": ids["site"], "name": "Night shift", "steps": []any{map[string]any{"after_minutes": 0, "channels": []string{"sms"}, "roles": []string{"staff"}}}}
			},
		},
		{
			path: "contacts", singular: "contact", table: "contacts", write: auth.PermManage, filters: []string{"site_id"},
			fields: []field{
				name("contact name"),
				{json: "site_id", kind: kRef, ref: "site", nullable: true},
				{json: "phone", kind: kPhone, nullable: true},
				{json: "email", kind: kEmail, nullable: true},
				{json: "role", kind: kEnum, enum: []string{"viewer", "staff", "manager", "admin", "owner"}, doc: "who this contact is for escalation steps"},
				{json: "on_shift", kind: kBool},
			},
			checks: map[string]problem.FieldError{"contacts_check": {Field: "phone", Reason: "a contact needs a phone or an email"}},
			example: func(ids map[string]string) map[string]any {
				return map[string]any{"name": "Sam Cook", "phone": "+4915112345678", "email": "sam@example.com", "role": "staff"}
			},
		},
	}
}

// defaultSafeRange completes a unit's create body with its kind's default
// safe range (safety.DefaultSafeRange) where safe_min_c or safe_max_c is
// absent; a kind without one (other) needs both.
func defaultSafeRange(body map[string]json.RawMessage) []problem.FieldError {
	var kind string
	if raw, ok := body["kind"]; !ok || json.Unmarshal(raw, &kind) != nil || !slices.Contains(unitKinds, kind) {
		return nil // values reports the kind
	}
	r, ok := safety.DefaultSafeRange(kind)
	var errs []problem.FieldError
	for _, side := range []struct {
		field string
		c     float64
	}{{"safe_min_c", r.MinC}, {"safe_max_c", r.MaxC}} {
		if _, given := body[side.field]; given {
			continue
		}
		if !ok {
			errs = append(errs, problem.FieldError{Field: side.field, Reason: "is required for a unit of kind " + kind + ", which has no default safe range"})
			continue
		}
		body[side.field] = json.RawMessage(strconv.FormatFloat(side.c, 'g', -1, 64))
	}
	return errs
}

// safeRangeDefaults lists one side of each unit kind's default safe range.
func safeRangeDefaults(side func(safety.SafeRange) float64) string {
	var parts []string
	for _, k := range unitKinds {
		if r, ok := safety.DefaultSafeRange(k); ok {
			parts = append(parts, fmt.Sprintf("%s %g", k, side(r)))
		}
	}
	return strings.Join(parts, ", ")
}

// validateSteps checks an escalation policy's steps with the rules the
// escalation itself applies.
func validateSteps(raw json.RawMessage) string {
	if err := alerting.ValidateSteps(raw); err != nil {
		var ve *alerting.ValidationError
		if errors.As(err, &ve) {
			return ve.Field + " " + ve.Reason
		}
		return err.Error()
	}
	return ""
}
