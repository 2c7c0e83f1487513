package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/fleet"
	"github.com/freshtrack/freshtrack/internal/crud"
)

// resources are the organisation's REST collections handled generically:
// the HTTP half (path, write permission, example, what to tell after a
// write) of collections whose fields and SQL their capabilities own.
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
	// A new sensor must fit the organisation's plan.
	var sensorLimit func(org string) crud.Guard
	if r.deps.Billing != nil {
		sensorLimit = func(org string) crud.Guard { return r.deps.Billing.Limits().GuardFor(org) }
	}
	return []*resource{
		{
			Collection: fleet.Sites, path: "sites", write: auth.PermManage,
			example: func(ids map[string]string) map[string]any {
				return map[string]any{"name": "Harbour Kitchen", "timezone": "Europe/Lisbon"}
			},
		},
		{
			Collection: fleet.Areas, path: "areas", write: auth.PermManage,
			example: func(ids map[string]string) map[string]any {
				return map[string]any{"site_id": ids["site"], "name": "Cold room"}
			},
		},
		{
			Collection: fleet.Units, path: "units", write: auth.PermManage, afterWrite: rulesChanged,
			example: func(ids map[string]string) map[string]any {
				return map[string]any{"site_id": ids["site"], "name": "Line fridge", "kind": "fridge", "safe_min_c": 0, "safe_max_c": 5}
			},
		},
		{
			Collection: fleet.Sensors, path: "sensors", write: auth.PermManage, afterWrite: sensorsChanged, createGuard: sensorLimit,
			example: func(ids map[string]string) map[string]any {
				return map[string]any{"external_id": "EUI-" + ids["nonce"], "unit_id": ids["unit"], "model": "LHT65N"}
			},
		},
		{
			Collection: alerting.AlertRules, path: "alert-rules", write: auth.PermManage, afterWrite: rulesChanged,
			example: func(ids map[string]string) map[string]any {
				return map[string]any{"unit_id": ids["unit"], "kind": "temp_high", "threshold": 5, "confirm_seconds": 900}
			},
		},
		{
			Collection: alerting.EscalationPolicies, path: "escalation-policies", write: auth.PermManage,
			fieldSchemas: map[string]map[string]any{"steps": {"items": map[string]any{
				"type": "object", "additionalProperties": false, "required": []string{"after_minutes", "channels"},
				"properties": map[string]any{
					"after_minutes": map[string]any{"type": "integer", "minimum": 0, "maximum": alerting.MaxAfterMinutes,
						"description": "when the step fires, from the alert's opening; the first step's is 0, and they never decrease"},
					"channels":    map[string]any{"type": "array", "items": map[string]any{"type": "string", "enum": []string{"sms", "email"}}},
					"roles":       map[string]any{"type": []string{"array", "null"}, "items": map[string]any{"type": "string", "enum": []string{"viewer", "staff", "manager", "admin", "owner"}}, "description": "contacts with these roles who are on shift"},
					"contact_ids": map[string]any{"type": []string{"array", "null"}, "items": map[string]any{"type": "string", "format": "uuid"}},
				},
			}, "minItems": 1, "maxItems": alerting.MaxSteps}},
			example: func(ids map[string]string) map[string]any {
				return map[string]any{"site_id": ids["site"], "name": "Night shift", "steps": []any{map[string]any{"after_minutes": 0, "channels": []string{"sms"}, "roles": []string{"staff"}}}}
			},
		},
		{
			Collection: alerting.NotificationPolicies, path: "notification-policies", write: auth.PermManage,
			fieldSchemas: map[string]map[string]any{
				"steps":            stepsSchema,
				"initial_channels": {"items": map[string]any{"type": "string", "enum": []string{"sms", "email"}}, "uniqueItems": true},
				"quiet_start":      {"pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
				"quiet_end":        {"pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
			},
			example: func(ids map[string]string) map[string]any {
				return map[string]any{"site_id": ids["site"], "alert_kind": "temp_high", "name": "Freezers at night", "min_severity": "warning",
					"quiet_start": "22:00", "quiet_end": "07:00", "reminder_minutes": 30, "notify_on_resolve": true,
					"steps": []any{map[string]any{"after_minutes": 0, "channels": []string{"sms"}, "roles": []string{"staff"}}}}
			},
		},
		{
			Collection: fleet.Contacts, path: "contacts", write: auth.PermManage,
			example: func(ids map[string]string) map[string]any {
				return map[string]any{"name": "Sam Cook", "phone": "+4915112345678", "email": "sam@example.com", "role": "staff"}
			},
		},
	}
}
