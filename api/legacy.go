package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/problem"
)

// The legacy routes (package compat) answer as FreshTrack Pro did: their
// errors are {"error":{"code","message","details"}} under application/json.
var (
	num  = map[string]any{"type": "number"}
	intg = map[string]any{"type": "integer"}
	boo  = map[string]any{"type": "boolean"}

	legacyErrorSchema = obj(map[string]any{"error": obj(map[string]any{
		"code":    map[string]any{"type": "string", "description": "BAD_REQUEST, UNAUTHORIZED, FORBIDDEN, UNPROCESSABLE_ENTITY, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, SERVICE_UNAVAILABLE, ..."},
		"message": str,
		"details": map[string]any{"type": "array", "items": obj(map[string]any{"field": str, "message": str}, "message")},
	}, "code", "message")}, "error")

	legacyReadingsRequest = map[string]any{"type": "object", "required": []string{"readings"}, "properties": map[string]any{
		"readings": map[string]any{"type": "array", "minItems": 1, "maxItems": 1000, "items": map[string]any{
			"type": "object", "required": []string{"unitId", "temperature", "recordedAt"}, "properties": map[string]any{
				"unitId":         map[string]any{"type": "string", "format": "uuid", "description": "a unit of the credential's organisation (FreshTrack Pro's units.id)"},
				"deviceId":       map[string]any{"type": "string", "format": "uuid", "description": "the sensor whose public id this is (FreshTrack Pro's devices.id), when on the unit"},
				"temperature":    map[string]any{"type": "number", "description": "°C"},
				"humidity":       num,
				"battery":        map[string]any{"type": "integer", "minimum": 0, "maximum": 100},
				"signalStrength": map[string]any{"type": "integer", "description": "checked, not stored"},
				"recordedAt":     map[string]any{"type": "string", "format": "date-time", "description": "UTC, ending in Z"},
				"source":         map[string]any{"type": "string", "enum": []string{"ttn", "manual", "api", "import"}, "description": "checked, not stored"},
				"rawPayload":     map[string]any{"type": "string", "description": "checked, not stored"}}}}}}

	legacyReadingsAnswer = obj(map[string]any{
		"success":         boo,
		"insertedCount":   map[string]any{"type": "integer", "description": "readings of the request now stored, duplicates of an earlier try included"},
		"readingIds":      map[string]any{"type": "array", "items": map[string]any{"type": "string", "format": "uuid"}, "description": "always empty: FreshTrack has no per-reading ids"},
		"alertsTriggered": map[string]any{"type": "integer", "description": "always 0: alerts are evaluated right after the commit"},
		"duplicates":      intg,
		"rejected": map[string]any{"type": "array", "description": "readings not stored, with why (a foreign unit, an implausible value)",
			"items": obj(map[string]any{"index": intg, "reason": str}, "index", "reason")},
	}, "success", "insertedCount", "readingIds", "alertsTriggered")

	legacyUplinkAnswer = obj(map[string]any{"success": map[string]any{"type": "boolean", "description": "false with 202: the device is not a sensor of the organisation; nothing was stored"},
		"message": str, "alertsTriggered": intg}, "success", "message")

	legacyUplinkRequest = map[string]any{"type": "object", "description": "a TTN v3 uplink message (end_device_ids.dev_eui or device_id, uplink_message.decoded_payload)"}

	legacyHealthCheck  = obj(map[string]any{"status": map[string]any{"type": "string", "enum": []string{"pass", "fail"}}, "latency_ms": intg, "message": str}, "status")
	legacyHealthAnswer = obj(map[string]any{
		"status": map[string]any{"type": "string", "enum": []string{"healthy", "degraded", "unhealthy"}, "description": "unhealthy answers 503"},
		"uptime": map[string]any{"type": "number", "description": "seconds"}, "timestamp": map[string]any{"type": "string", "format": "date-time"},
		"version": str, "environment": str,
		"checks": map[string]any{"type": "object", "description": "database, and redis when configured", "additionalProperties": legacyHealthCheck},
	}, "status", "uptime", "timestamp", "version", "environment", "checks")
)

// LegacyRoutes documents FreshTrack Pro's device and health routes, which
// package compat serves outside the router so that its devices, TTN
// applications and monitors keep working unchanged.
func LegacyRoutes() []Route {
	uplink := func(path, summary string) Route {
		return Route{Method: "POST", Path: path, Summary: summary, Tag: "legacy", LegacyErrors: true, Request: legacyUplinkRequest, Response: legacyUplinkAnswer}
	}
	return []Route{
		{Method: "POST", Path: "/api/ingest/readings", Tag: "legacy", LegacyErrors: true,
			Summary: "FreshTrack Pro's readings by unit; 403 when no unit is the organisation's; answered after the readings are durable",
			Request: legacyReadingsRequest, Response: legacyReadingsAnswer},
		uplink("/api/webhooks/ttn", "FreshTrack Pro's TTN webhook: a TTN v3 uplink (202 for an unknown device)"),
		uplink("/api/webhooks/ttn/:orgId/uplink", "The TTN webhook as FreshTrack Pro provisioned it; orgId must be the credential's organisation"),
		uplink("/api/webhooks/ttn/:orgId/join", "A join-accept of a TTN webhook FreshTrack Pro provisioned: answered, nothing stored"),
		{Method: "GET", Path: "/health", Summary: "FreshTrack Pro's health answer (503 when the database fails)", Tag: "legacy", Public: true, LegacyErrors: true,
			Response: legacyHealthAnswer},
		{Method: "GET", Path: "/health/ready", Summary: "FreshTrack Pro's readiness answer (503 when the database fails)", Tag: "legacy", Public: true, LegacyErrors: true,
			Response: obj(map[string]any{"ready": boo, "reason": str}, "ready")},
		{Method: "GET", Path: "/health/live", Summary: "FreshTrack Pro's liveness answer", Tag: "legacy", Public: true, LegacyErrors: true,
			Response: obj(map[string]any{"alive": boo}, "alive")},
	}
}

var legacySecretSchema = refine(schemaOf(auth.LegacySecretView{}), map[string]map[string]any{
	"id":           {"format": "uuid"},
	"source":       {"description": "the FreshTrack Pro column the secret was imported from, e.g. ttn_connections.webhook_secret"},
	"last_used_at": {"description": "when the secret last authenticated a request, to within about a minute"},
})

// registerLegacySecrets serves the FreshTrack Pro secrets an import kept
// as ingest credentials, so that an administrator can see which are still
// in use and revoke them.
func (r *Router) registerLegacySecrets() {
	base := "/v1/orgs/:org/legacy-secrets"
	find := func(c *fiber.Ctx) (auth.LegacySecret, error) {
		secrets, err := auth.ListLegacySecrets(c.UserContext(), r.deps.Pool, OrgOf(c))
		if err != nil {
			return auth.LegacySecret{}, err
		}
		for _, s := range secrets {
			if s.ID == c.Params("id") {
				return s, nil
			}
		}
		return auth.LegacySecret{}, problem.NotFound("legacy secret")
	}
	r.Handle(Route{Method: "GET", Path: base, Summary: "List the FreshTrack Pro secrets kept as ingest credentials (never the secrets)", Tag: "api-keys",
		Perm: auth.PermAdminister, Response: listSchema(legacySecretSchema)},
		func(c *fiber.Ctx) error {
			secrets, err := auth.ListLegacySecrets(c.UserContext(), r.deps.Pool, OrgOf(c))
			if err != nil {
				return err
			}
			out := make([]auth.LegacySecretView, len(secrets))
			for i, s := range secrets {
				out[i] = s.View()
			}
			return sendList(c, out)
		})
	r.Handle(Route{Method: "GET", Path: base + "/:id", Summary: "Get a FreshTrack Pro secret's record", Tag: "api-keys", Perm: auth.PermAdminister, Response: legacySecretSchema},
		func(c *fiber.Ctx) error {
			s, err := find(c)
			if err != nil {
				return err
			}
			return c.JSON(s.View())
		})
	r.Handle(Route{Method: "DELETE", Path: base + "/:id", Summary: "Revoke a FreshTrack Pro secret; devices using it are refused within seconds", Tag: "api-keys",
		Perm: auth.PermAdminister, Success: fiber.StatusNoContent},
		func(c *fiber.Ctx) error {
			if err := auth.RevokeLegacySecret(c.UserContext(), r.deps.Pool, OrgOf(c), c.Params("id"), Actor(c)); err != nil {
				return capabilityError("legacy secret", err)
			}
			return c.SendStatus(fiber.StatusNoContent)
		})
}
