package api

import "github.com/freshtrack/freshtrack/alerting"

// stepsSchema is the JSON schema of a notification policy's steps, the
// shape alerting.ParseSteps accepts (the escalation policies' steps).
var stepsSchema = map[string]any{"items": map[string]any{
	"type": "object", "additionalProperties": false, "required": []string{"after_minutes", "channels"},
	"properties": map[string]any{
		"after_minutes": map[string]any{"type": "integer", "minimum": 0, "maximum": alerting.MaxAfterMinutes,
			"description": "when the step fires, from the alert's opening (never before the policy's ack_deadline_minutes); the first step's is 0, and they never decrease"},
		"channels":    map[string]any{"type": "array", "items": map[string]any{"type": "string", "enum": []string{"sms", "email"}}},
		"roles":       map[string]any{"type": []string{"array", "null"}, "items": map[string]any{"type": "string", "enum": []string{"viewer", "staff", "manager", "admin", "owner"}}, "description": "contacts with these roles who are on shift"},
		"contact_ids": map[string]any{"type": []string{"array", "null"}, "items": map[string]any{"type": "string", "format": "uuid"}},
	},
}, "minItems": 1, "maxItems": alerting.MaxSteps}
