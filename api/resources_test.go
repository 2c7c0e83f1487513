package api_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// fieldErrors returns the status, the fields a validation problem names and
// the body.
func fieldErrors(t *testing.T, code int, out string) (int, map[string]string) {
	t.Helper()
	var p struct {
		Errors []struct{ Field, Reason string } `json:"errors"`
	}
	_ = json.Unmarshal([]byte(out), &p)
	fields := map[string]string{}
	for _, e := range p.Errors {
		fields[e.Field] = e.Reason
	}
	return code, fields
}

// TestAlertRuleThresholdNullable: a temperature rule may leave its threshold
// null (it follows the unit's safe range), a sensor_fault rule needs none,
// and sensor_offline and battery_low rules still need one, on create and on
// update, with a validation error naming threshold.
func TestAlertRuleThresholdNullable(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	base := fmt.Sprintf("/v1/orgs/%s/alert-rules", ids["org"])
	create := func(body map[string]any) (int, map[string]any, string) {
		t.Helper()
		code, out := w.do(t, "POST", base, "manager", body)
		var m map[string]any
		_ = json.Unmarshal([]byte(out), &m)
		return code, m, out
	}
	for _, body := range []map[string]any{
		{"unit_id": ids["unit"], "kind": "temp_high"},
		{"unit_id": ids["unit"], "kind": "temp_low", "threshold": nil},
		{"unit_kind": "fridge", "kind": "temp_high", "threshold": nil},
		{"unit_id": ids["unit"], "kind": "sensor_fault"},
		{"unit_id": ids["unit"], "kind": "temp_high", "threshold": 4},
	} {
		code, m, out := create(body)
		if code != 201 {
			t.Fatalf("create %v = %d %s", body, code, out)
		}
		if want, given := body["threshold"]; given && want != nil {
			if m["threshold"] != float64(want.(int)) {
				t.Fatalf("create %v: threshold %v", body, m["threshold"])
			}
		} else if v, ok := m["threshold"]; !ok || v != nil {
			t.Fatalf("create %v: threshold %v, want null", body, m["threshold"])
		}
	}
	for _, body := range []map[string]any{
		{"unit_id": ids["unit"], "kind": "sensor_offline"},
		{"unit_id": ids["unit"], "kind": "battery_low", "threshold": nil},
		{"unit_kind": "freezer", "kind": "sensor_offline", "threshold": nil},
	} {
		code, _, out := create(body)
		code, fields := fieldErrors(t, code, out)
		if code != 400 || !strings.Contains(fields["threshold"], "is required for sensor_offline") {
			t.Errorf("create %v = %d %s, want a validation error naming threshold", body, code, out)
		}
	}

	// Update: an offline rule cannot lose its threshold, nor can a rule
	// without one become an offline rule.
	code, m, out := create(map[string]any{"unit_id": ids["unit"], "kind": "sensor_offline", "threshold": 30})
	if code != 201 {
		t.Fatalf("offline rule: %d %s", code, out)
	}
	code, out = w.do(t, "PATCH", base+"/"+m["id"].(string), "manager", map[string]any{"threshold": nil}, "If-Match", `"1"`)
	if code, fields := fieldErrors(t, code, out); code != 400 || fields["threshold"] == "" {
		t.Errorf("offline rule without threshold = %d %s", code, out)
	}
	code, m, _ = create(map[string]any{"unit_id": ids["unit"], "kind": "temp_low"})
	if code != 201 {
		t.Fatal(code)
	}
	code, out = w.do(t, "PATCH", base+"/"+m["id"].(string), "manager", map[string]any{"kind": "battery_low"}, "If-Match", `"1"`)
	if code, fields := fieldErrors(t, code, out); code != 400 || fields["threshold"] == "" {
		t.Errorf("null-threshold rule made battery_low = %d %s", code, out)
	}
	code, out = w.do(t, "PATCH", base+"/"+m["id"].(string), "manager", map[string]any{"kind": "battery_low", "threshold": 20}, "If-Match", `"1"`)
	if code != 200 {
		t.Errorf("battery_low with a threshold = %d %s", code, out)
	}

	// A food-safety rule's threshold keeps to its kind's range on update
	// as on create, and a refused update changes nothing.
	code, m, out = create(map[string]any{"unit_id": ids["unit"], "kind": "trend_warning", "threshold": 30})
	if code != 201 {
		t.Fatalf("trend rule: %d %s", code, out)
	}
	trend := base + "/" + m["id"].(string)
	code, out = w.do(t, "PATCH", trend, "manager", map[string]any{"threshold": 300}, "If-Match", `"1"`)
	if code, fields := fieldErrors(t, code, out); code != 400 || !strings.Contains(fields["threshold"], "must be from 1 to 240") {
		t.Errorf("trend rule of 300 minutes' lead = %d %s", code, out)
	}
	code, out = w.do(t, "PATCH", trend, "manager", map[string]any{"kind": "defrost"}, "If-Match", `"1"`)
	if code, fields := fieldErrors(t, code, out); code != 400 || !strings.Contains(fields["threshold"], "for a defrost rule") {
		t.Errorf("trend rule of 30 made a defrost rule (30 °C over the peak) = %d %s", code, out)
	}
	code, out = w.do(t, "GET", trend, "manager", nil)
	if code != 200 || !strings.Contains(out, `"threshold":30,`) || !strings.Contains(out, `"version":1,`) {
		t.Errorf("after refused updates: %d %s", code, out)
	}
	if code, out = w.do(t, "PATCH", trend, "manager", map[string]any{"threshold": 60}, "If-Match", `"1"`); code != 200 {
		t.Errorf("trend rule of 60 minutes' lead = %d %s", code, out)
	}

	// The document says so.
	code, out = w.do(t, "GET", "/v1/openapi.json", "", nil)
	if code != 200 {
		t.Fatal(code)
	}
	schema := openAPIRequest(t, out, "/v1/orgs/{org}/alert-rules", "post")
	th := schema["properties"].(map[string]any)["threshold"].(map[string]any)
	kinds := schema["properties"].(map[string]any)["kind"].(map[string]any)["enum"].([]any)
	if !slices.Contains(th["type"].([]any), "null") || !strings.Contains(th["description"].(string), "safe_max_c") ||
		slices.Contains(anyStrings(schema["required"]), "threshold") || !slices.Contains(kinds, any("sensor_fault")) {
		t.Errorf("alert rule create schema: threshold %v, kinds %v, required %v", th, kinds, schema["required"])
	}
}

// TestUnitDefaultSafeRange: a unit's safe range defaults by kind on create
// (safety.DefaultSafeRange); kind other has none, so it needs both sides.
func TestUnitDefaultSafeRange(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	base := fmt.Sprintf("/v1/orgs/%s/units", ids["org"])
	for _, c := range []struct {
		body     map[string]any
		min, max float64
	}{
		{map[string]any{"kind": "fridge"}, 0, 5},
		{map[string]any{"kind": "freezer"}, -30, -18},
		{map[string]any{"kind": "hot_holding"}, 57, 90},
		{map[string]any{"kind": "freezer", "safe_max_c": -20}, -30, -20},
		{map[string]any{"kind": "walk_in", "safe_min_c": 1}, 1, 5},
		{map[string]any{"kind": "other", "safe_min_c": 12, "safe_max_c": 14}, 12, 14},
	} {
		c.body["site_id"], c.body["name"] = ids["site"], "Unit"
		code, out := w.do(t, "POST", base, "manager", c.body)
		var m map[string]any
		_ = json.Unmarshal([]byte(out), &m)
		if code != 201 || m["safe_min_c"] != c.min || m["safe_max_c"] != c.max {
			t.Errorf("create %v = %d %s, want %v..%v", c.body, code, out, c.min, c.max)
		}
	}
	for _, c := range []struct {
		body   map[string]any
		fields []string
	}{
		{map[string]any{"kind": "other"}, []string{"safe_min_c", "safe_max_c"}},
		{map[string]any{"kind": "other", "safe_max_c": 20}, []string{"safe_min_c"}},
		{map[string]any{"kind": "fridge", "safe_min_c": 6}, []string{"safe_max_c"}}, // the default 5 is below it
		{map[string]any{"kind": "sauna"}, []string{"kind"}},
	} {
		c.body["site_id"], c.body["name"] = ids["site"], "Unit"
		code, out := w.do(t, "POST", base, "manager", c.body)
		code, fields := fieldErrors(t, code, out)
		for _, f := range c.fields {
			if code != 400 || fields[f] == "" {
				t.Errorf("create %v = %d %s, want a validation error naming %s", c.body, code, out, f)
			}
		}
		if c.body["kind"] == "other" && !strings.Contains(out, "no default safe range") {
			t.Errorf("create %v: %s does not say why", c.body, out)
		}
	}
	code, out := w.do(t, "GET", "/v1/openapi.json", "", nil)
	if code != 200 {
		t.Fatal(code)
	}
	schema := openAPIRequest(t, out, "/v1/orgs/{org}/units", "post")
	req := anyStrings(schema["required"])
	desc := schema["properties"].(map[string]any)["safe_max_c"].(map[string]any)["description"].(string)
	if slices.Contains(req, "safe_min_c") || slices.Contains(req, "safe_max_c") || !strings.Contains(desc, "freezer -18") || !strings.Contains(desc, "other") {
		t.Errorf("unit create schema: required %v, safe_max_c %q", req, desc)
	}
}

func openAPIRequest(t *testing.T, doc, path, method string) map[string]any {
	t.Helper()
	var d struct {
		Paths map[string]map[string]struct {
			RequestBody struct {
				Content map[string]struct {
					Schema map[string]any `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatal(err)
	}
	s := d.Paths[path][method].RequestBody.Content["application/json"].Schema
	if s == nil {
		t.Fatalf("no request schema for %s %s", method, path)
	}
	return s
}

func anyStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
