package api

import (
	"cmp"
	"encoding/json"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"
)

var fiberParam = regexp.MustCompile(`:([a-zA-Z_]+)`)

// OpenAPIPath turns a Fiber pattern into an OpenAPI path.
func OpenAPIPath(p string) string { return fiberParam.ReplaceAllString(p, "{$1}") }

var problemSchema = map[string]any{"type": "object", "properties": map[string]any{
	"type": map[string]any{"type": "string"}, "title": map[string]any{"type": "string"}, "status": map[string]any{"type": "integer"},
	"detail": map[string]any{"type": "string"},
	"errors": map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{
		"field": map[string]any{"type": "string"}, "reason": map[string]any{"type": "string"}}}},
}}

// OpenAPI builds the OpenAPI 3.1 document of every route registered
// through the router plus the extra (non-router) routes given.
func (r *Router) OpenAPI(version string, extra ...Route) map[string]any {
	paths := map[string]any{}
	for _, rt := range append(append([]Route{}, r.routes...), extra...) {
		p := OpenAPIPath(rt.Path)
		item, _ := paths[p].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[p] = item
		}
		op := map[string]any{"summary": rt.Summary, "tags": []string{rt.Tag}, "operationId": operationID(rt)}
		var params []any
		for _, m := range fiberParam.FindAllStringSubmatch(rt.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.Params {
			params = append(params, map[string]any{"name": q.Name, "in": "query", "description": q.Description, "schema": q.Schema})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.Request != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": rt.Request}}}
		}
		resp := map[string]any{"description": "success"}
		if content := answerContent(rt); len(content) > 0 {
			resp["content"] = content
		}
		problemResp := func(d string) map[string]any {
			return map[string]any{"description": d, "content": map[string]any{"application/problem+json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}}
		}
		responses := map[string]any{itoa(cmp.Or(rt.Success, fiber.StatusOK)): resp, "400": problemResp("invalid request; errors names each field")}
		if !rt.Public {
			responses["401"] = problemResp("missing or invalid credentials")
		}
		if rt.Perm != "" {
			responses["403"] = problemResp("your role lacks the permission " + string(rt.Perm))
			responses["404"] = problemResp("not found, or not in your organisation")
		}
		if rt.LegacyErrors {
			responses = legacyResponses(rt, resp)
		}
		op["responses"] = responses
		switch {
		case rt.Public:
			op["security"] = []any{}
		case rt.LegacyErrors:
			op["security"] = []any{map[string]any{"legacySecret": []any{}}, map[string]any{"apiKey": []any{}}}
		case rt.Tag == "ingest":
			op["security"] = []any{map[string]any{"apiKey": []any{}}}
		default:
			op["security"] = []any{map[string]any{"bearer": []any{}}}
		}
		if rt.Perm != "" {
			op["x-freshtrack-permission"] = rt.Perm
		}
		item[strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "FreshTrack API", "version": version,
			"description": "Cold-chain food safety: sensor ingest, alerts, dashboards and HACCP reports. Errors are RFC 9457 problem+json."},
		"paths": paths,
		"components": map[string]any{
			"schemas": map[string]any{"Problem": problemSchema, "LegacyError": legacyErrorSchema},
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "an OIDC access token (also accepted as x-stack-access-token)"},
				"apiKey": map[string]any{"type": "http", "scheme": "bearer", "description": "a device API key ftk_... (also accepted as X-API-Key)"},
				"legacySecret": map[string]any{"type": "apiKey", "in": "header", "name": "X-API-Key",
					"description": "a FreshTrack Pro secret kept by the import (also accepted as X-Webhook-Secret, X-Downlink-Apikey, or Authorization raw or Bearer); legacy routes only"},
			},
		},
	}
}

// legacyResponses are the answers of a FreshTrack Pro route: its success
// and its errors in FreshTrack Pro's shape.
func legacyResponses(rt Route, success map[string]any) map[string]any {
	legacy := func(d string) map[string]any {
		return map[string]any{"description": d, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/LegacyError"}}}}
	}
	out := map[string]any{itoa(cmp.Or(rt.Success, fiber.StatusOK)): success, "400": legacy("invalid request: the whole batch is refused; details names each field")}
	if rt.Public {
		out["503"] = legacy("the database is unreachable (the health routes answer their own body)")
		return out
	}
	out["401"] = legacy("Missing API key, or Invalid API key (unknown, revoked, or of a deleted organisation)")
	out["403"] = legacy("no reading's unit is the organisation's, the key lacks the ingest scope, or the URL names another organisation")
	out["413"] = legacy("the body is over 1 MiB once decoded")
	out["415"] = legacy("the body is not JSON")
	out["422"] = legacy("nothing could be stored: no temperature, or only implausible readings")
	out["503"] = legacy("overloaded or shutting down; retry after Retry-After")
	if strings.HasSuffix(rt.Path, "/ttn") || strings.HasSuffix(rt.Path, "/uplink") {
		out["202"] = map[string]any{"description": "the device is not a sensor of the organisation: nothing stored, and TTN keeps the webhook",
			"content": map[string]any{"application/json": map[string]any{"schema": rt.Response}}}
	}
	return out
}

// answerContent is the content of a route's success: Response under JSON,
// and a string under each other media type it produces.
func answerContent(rt Route) map[string]any {
	media := rt.Produces
	if media == nil && rt.Response != nil {
		media = []string{fiber.MIMEApplicationJSON}
	}
	content := map[string]any{}
	for _, m := range media {
		switch {
		case m == fiber.MIMEApplicationJSON:
			content[m] = map[string]any{"schema": rt.Response}
		case strings.HasPrefix(m, "text/"):
			content[m] = map[string]any{"schema": map[string]any{"type": "string"}}
		default:
			content[m] = map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}
		}
	}
	return content
}

func operationID(rt Route) string {
	s := strings.ToLower(rt.Method) + strings.NewReplacer("/v1/", "", "/", "_", ":", "", "-", "_").Replace(rt.Path)
	return strings.Trim(s, "_")
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// ServeOpenAPI registers GET /v1/openapi.json.
func (r *Router) ServeOpenAPI(version string, extra ...Route) {
	spec := Route{Method: "GET", Path: "/v1/openapi.json", Summary: "This OpenAPI document", Tag: "meta", Public: true,
		Response: map[string]any{"type": "object", "required": []string{"openapi", "info", "paths", "components"}, "description": "an OpenAPI 3.1 document",
			"properties": map[string]any{"openapi": str, "info": obj(map[string]any{"title": str, "version": str, "description": str}, "title", "version"),
				"paths":      map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "object", "additionalProperties": true, "description": "a path's operations"}},
				"components": map[string]any{"type": "object", "additionalProperties": true}}}}
	r.Handle(spec, func(c *fiber.Ctx) error {
		return c.JSON(r.OpenAPI(version, extra...))
	})
}
