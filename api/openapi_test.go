package api_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/api"
	"github.com/freshtrack/freshtrack/live"
)

// documentedRoutes registers the v1 API as serve does, without a database
// (registering runs no SQL), and returns every route /v1/openapi.json
// documents: the router's and the ones mounted outside it.
func documentedRoutes(t *testing.T) (*api.Router, []api.Route) {
	t.Helper()
	hub := live.NewHub(live.HubConfig{})
	t.Cleanup(hub.Close)
	r := api.NewRouter(fiber.New(), api.Deps{Live: hub})
	api.RegisterV1(r)
	extra := append(api.OperationalRoutes(), api.TelnyxWebhookRoute)
	r.ServeOpenAPI("test", extra...)
	return r, append(append([]api.Route{}, r.Routes()...), extra...)
}

// TestSummariesReadAsEnglish: no summary says "a area" or "an unit", or
// names a collection by its URL segment ("alert-rules").
func TestSummariesReadAsEnglish(t *testing.T) {
	t.Parallel()
	_, routes := documentedRoutes(t)
	bad := []*regexp.Regexp{
		regexp.MustCompile(`\b[Aa] [aeioAEIO]`),
		regexp.MustCompile(`\b[Aa]n [b-df-hj-np-tv-zB-DF-HJ-NP-TV-Z]`),
		regexp.MustCompile(`\b[Aa]n (unit|user)`),
		regexp.MustCompile(`[a-z]-(rules|policies|keys)\b`),
	}
	for _, rt := range routes {
		for _, re := range bad {
			if m := re.FindString(rt.Summary); m != "" {
				t.Errorf("%s %s: summary %q says %q", rt.Method, rt.Path, rt.Summary, m)
			}
		}
	}
	if len(routes) < 60 {
		t.Fatalf("only %d routes: the router lost some", len(routes))
	}
}

// openAPIDoc is the document of routes as a client reads it.
func openAPIDoc(t *testing.T, r *api.Router, extra []api.Route) map[string]any {
	t.Helper()
	b, err := json.Marshal(r.OpenAPI("test", extra...))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestEveryJSONAnswerHasASchema fails when a route that answers JSON
// documents no schema of its answer, or only a placeholder: an object
// without properties or an array without items, at any depth. Routes whose
// success has no body (204) or is not JSON (an event stream, metrics) say
// so with their media types. It also keeps one list shape: no answer is a
// bare array, and a list is items and next_cursor.
func TestEveryJSONAnswerHasASchema(t *testing.T) {
	t.Parallel()
	r, _ := documentedRoutes(t)
	doc := openAPIDoc(t, r, append(api.OperationalRoutes(), api.TelnyxWebhookRoute))
	checked := 0
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			name := strings.ToUpper(method) + " " + path
			var success map[string]any
			var code string
			for c, resp := range op.(map[string]any)["responses"].(map[string]any) {
				if strings.HasPrefix(c, "2") {
					code, success = c, resp.(map[string]any)
				}
			}
			if code == "204" {
				continue
			}
			content, _ := success["content"].(map[string]any)
			if len(content) == 0 {
				t.Errorf("%s: its %s answer documents no content: give the route a Response schema, or Produces for an answer that is not JSON", name, code)
				continue
			}
			media, ok := content["application/json"].(map[string]any)
			if !ok {
				continue
			}
			checked++
			schema, _ := media["schema"].(map[string]any)
			for _, p := range placeholders(schema, "answer") {
				t.Errorf("%s: %s", name, p)
			}
			for _, p := range listShape(schema) {
				t.Errorf("%s: %s", name, p)
			}
		}
	}
	if checked < 50 {
		t.Fatalf("only %d JSON answers checked", checked)
	}
}

// placeholders lists the parts of a schema that describe nothing: an
// object without properties (or additionalProperties), an array without
// items; the top is an object or an array.
func placeholders(s map[string]any, at string) []string {
	if s == nil {
		return []string{at + " has no schema"}
	}
	var out []string
	types := schemaTypes(s)
	if at == "answer" && !slices.Contains(types, "object") && !slices.Contains(types, "array") {
		out = append(out, fmt.Sprintf("answer is %v, not an object or an array", types))
	}
	if slices.Contains(types, "object") {
		props, _ := s["properties"].(map[string]any)
		add, _ := s["additionalProperties"].(map[string]any)
		if len(props) == 0 && add == nil && s["additionalProperties"] != true {
			out = append(out, at+" is an object without properties")
		}
		for _, k := range slices.Sorted(maps.Keys(props)) {
			p, _ := props[k].(map[string]any)
			out = append(out, placeholders(p, at+"."+k)...)
		}
		if add != nil {
			out = append(out, placeholders(add, at+".*")...)
		}
	}
	if slices.Contains(types, "array") {
		items, _ := s["items"].(map[string]any)
		if items == nil {
			out = append(out, at+" is an array without items")
		} else {
			out = append(out, placeholders(items, at+"[]")...)
		}
	}
	return out
}

// listShape checks that a list answer is {"items": [...], "next_cursor"}.
func listShape(s map[string]any) []string {
	if slices.Contains(schemaTypes(s), "array") {
		return []string{`answers a bare array; a list answers {"items": [...], "next_cursor": ...}`}
	}
	props, _ := s["properties"].(map[string]any)
	required := anyStrings(s["required"])
	var arrays []string
	for k, p := range props {
		if slices.Contains(schemaTypes(p.(map[string]any)), "array") {
			arrays = append(arrays, k)
		}
	}
	switch {
	case props["items"] != nil && (props["next_cursor"] == nil || !slices.Contains(required, "items") || !slices.Contains(required, "next_cursor")):
		return []string{"a list needs items and next_cursor, both required"}
	case len(arrays) == 1 && arrays[0] != "items" && (len(props) == 1 || len(props) == 2 && props["next_cursor"] != nil):
		return []string{fmt.Sprintf("answers a list as %q; a list answers items and next_cursor", arrays[0])}
	}
	return nil
}

func schemaTypes(s map[string]any) []string {
	switch t := s["type"].(type) {
	case string:
		return []string{t}
	case []any:
		return anyStrings(t)
	}
	return nil
}

// conform checks a value decoded from JSON against a JSON Schema as the
// document gives it (types, enum, properties, required,
// additionalProperties, items, and the date-time and uuid formats); it
// returns where the value disagrees.
func conform(s map[string]any, v any, at string) []string {
	if len(s) == 0 {
		return nil
	}
	var out []string
	if types := schemaTypes(s); len(types) > 0 && !slices.Contains(types, jsonType(v)) &&
		!(jsonType(v) == "integer" && slices.Contains(types, "number")) {
		return []string{fmt.Sprintf("%s is %s %.80v, the schema says %v", at, jsonType(v), v, types)}
	}
	if enum, ok := s["enum"].([]any); ok && v != nil && !slices.Contains(enum, v) {
		out = append(out, fmt.Sprintf("%s is %v, not one of %v", at, v, enum))
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for _, k := range anyStrings(s["required"]) {
			if _, ok := v[k]; !ok {
				out = append(out, fmt.Sprintf("%s lacks the required %q", at, k))
			}
		}
		for k, x := range v {
			switch p, ok := props[k].(map[string]any); {
			case ok:
				out = append(out, conform(p, x, at+"."+k)...)
			case s["additionalProperties"] == false:
				out = append(out, fmt.Sprintf("%s has %q, which the schema does not declare", at, k))
			default:
				add, _ := s["additionalProperties"].(map[string]any)
				out = append(out, conform(add, x, at+"."+k)...)
			}
		}
	case []any:
		items, _ := s["items"].(map[string]any)
		for i, x := range v {
			out = append(out, conform(items, x, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case string:
		switch s["format"] {
		case "date-time":
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
				out = append(out, fmt.Sprintf("%s is %q, not an RFC 3339 time", at, v))
			}
		case "uuid":
			if len(v) != 36 || strings.Count(v, "-") != 4 {
				out = append(out, fmt.Sprintf("%s is %q, not a UUID", at, v))
			}
		}
	}
	return out
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		if v == float64(int64(v)) {
			return "integer"
		}
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// TestConformCanFail: the checker the route × role matrix runs on every
// successful answer refuses what it should.
func TestConformCanFail(t *testing.T) {
	t.Parallel()
	s := map[string]any{"type": "object", "additionalProperties": false, "required": []any{"id", "n"}, "properties": map[string]any{
		"id": map[string]any{"type": "string", "format": "uuid"}, "n": map[string]any{"type": "integer"},
		"at":   map[string]any{"type": []any{"string", "null"}, "format": "date-time"},
		"tags": map[string]any{"type": "array", "items": map[string]any{"type": "string", "enum": []any{"a", "b"}}},
	}}
	f := func(body string, wrong int) {
		t.Helper()
		var v any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		if got := conform(s, v, "answer"); len(got) != wrong {
			t.Errorf("%s: %d disagreements %q, want %d", body, len(got), got, wrong)
		}
	}
	f(`{"id":"9c47a3c8-5347-44e0-bc15-5f09b786a5da","n":1,"at":null,"tags":["a"]}`, 0)
	f(`{"id":"9c47a3c8-5347-44e0-bc15-5f09b786a5da","n":1,"at":"2026-03-01T10:00:00.5+01:00"}`, 0)
	f(`{"id":"x","n":1}`, 1)
	f(`{"id":"9c47a3c8-5347-44e0-bc15-5f09b786a5da"}`, 1)
	f(`{"id":"9c47a3c8-5347-44e0-bc15-5f09b786a5da","n":1.5}`, 1)
	f(`{"id":"9c47a3c8-5347-44e0-bc15-5f09b786a5da","n":1,"extra":true}`, 1)
	f(`{"id":"9c47a3c8-5347-44e0-bc15-5f09b786a5da","n":1,"at":"yesterday","tags":["c",null]}`, 3)
	f(`[]`, 1)
	if p := placeholders(map[string]any{"type": "object", "description": "an alert"}, "answer"); len(p) != 1 {
		t.Errorf("a bare object is not a placeholder: %v", p)
	}
	if p := placeholders(map[string]any{"type": "object", "properties": map[string]any{"items": map[string]any{"type": "array", "items": map[string]any{"type": "object"}}}}, "answer"); len(p) != 1 {
		t.Errorf("a list of bare objects is not a placeholder: %v", p)
	}
	if p := listShape(map[string]any{"type": "object", "properties": map[string]any{"alerts": map[string]any{"type": "array"}, "next_cursor": map[string]any{}}}); len(p) != 1 {
		t.Errorf("a list named alerts passes: %v", p)
	}
}

// TestLegacyRoutesDocumentTheirErrorShape: FreshTrack Pro's routes say
// that they answer errors as FreshTrack Pro did, and which credentials
// they take, so that clients (and the hostile-input suite) expect that.
func TestLegacyRoutesDocumentTheirErrorShape(t *testing.T) {
	t.Parallel()
	r, _ := documentedRoutes(t)
	doc := openAPIDoc(t, r, append(api.OperationalRoutes(), api.TelnyxWebhookRoute))
	paths := doc["paths"].(map[string]any)
	n := 0
	for _, rt := range api.LegacyRoutes() {
		op, _ := paths[api.OpenAPIPath(rt.Path)].(map[string]any)[strings.ToLower(rt.Method)].(map[string]any)
		if op == nil {
			t.Errorf("%s %s is not documented", rt.Method, rt.Path)
			continue
		}
		n++
		for code, resp := range op["responses"].(map[string]any) {
			content, _ := resp.(map[string]any)["content"].(map[string]any)
			if code[0] == '2' {
				continue
			}
			if _, ok := content["application/json"]; !ok || content["application/problem+json"] != nil {
				t.Errorf("%s %s: its %s answer is not documented as FreshTrack Pro's application/json error: %v", rt.Method, rt.Path, code, content)
			}
		}
		security, _ := op["security"].([]any)
		if wantPublic := rt.Public; wantPublic != (len(security) == 0) {
			t.Errorf("%s %s: security %v", rt.Method, rt.Path, security)
		} else if !rt.Public && security[0].(map[string]any)["legacySecret"] == nil {
			t.Errorf("%s %s: security %v does not name the legacy secret", rt.Method, rt.Path, security)
		}
	}
	if n != 7 {
		t.Fatalf("%d legacy routes documented, want 7", n)
	}
	if _, ok := doc["components"].(map[string]any)["schemas"].(map[string]any)["LegacyError"]; !ok {
		t.Fatal("no LegacyError schema")
	}
}

// TestDescriptionsStayWithTheirField: a field's description is its own,
// not written into a schema the whole document shares (the plain string
// schema once carried the signing grant's description everywhere).
func TestDescriptionsStayWithTheirField(t *testing.T) {
	t.Parallel()
	r, _ := documentedRoutes(t)
	doc, err := json.Marshal(r.OpenAPI("test"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(doc), "proof of a fresh sign-in"); n != 1 {
		t.Errorf("the signing grant's description appears %d times in the document, want once", n)
	}
}
