package api

var ingestAnswer = map[string]any{"type": "object", "properties": map[string]any{
	"accepted": map[string]any{"type": "integer"}, "duplicates": map[string]any{"type": "integer"},
	"rejected": map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{
		"index": map[string]any{"type": "integer"}, "reason": map[string]any{"type": "string"}}}},
}}

// OperationalRoutes documents the routes registered outside the router:
// health, readiness, metrics, the device ingest endpoints and FreshTrack
// Pro's (LegacyRoutes).
func OperationalRoutes() []Route {
	return append([]Route{
		{Method: "GET", Path: "/healthz", Summary: "The process is alive", Tag: "operations", Public: true, Response: healthzSchema},
		{Method: "GET", Path: "/readyz", Summary: "Database reachable, schema current, storage mode (503 when not ready)", Tag: "operations", Public: true, Response: readyzSchema},
		{Method: "GET", Path: "/metrics", Summary: "Prometheus metrics", Tag: "operations", Public: true, Produces: []string{"text/plain"}},
		{Method: "POST", Path: "/v1/readings", Summary: "Post a batch of readings (JSON, NDJSON, gzip); answered after the readings are durable", Tag: "ingest",
			Request: map[string]any{"type": "object", "required": []string{"readings"}, "properties": map[string]any{"readings": map[string]any{"type": "array", "items": map[string]any{
				"type": "object", "required": []string{"sensor", "time", "temp_c"}, "properties": map[string]any{
					"sensor": map[string]any{"type": "string"}, "time": map[string]any{"type": []string{"string", "number"}, "description": "RFC 3339 or unix milliseconds"},
					"temp_c": map[string]any{"type": "number"}, "humidity": map[string]any{"type": "number"}, "battery": map[string]any{"type": "number"}}}}}},
			Response: ingestAnswer},
		{Method: "POST", Path: "/v1/ingest/ttn", Summary: "The Things Network v3 webhook uplink", Tag: "ingest", Response: ingestAnswer,
			Request: map[string]any{"type": "object", "description": "a TTN v3 uplink message (end_device_ids, uplink_message.decoded_payload)"}},
	}, LegacyRoutes()...)
}
