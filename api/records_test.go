package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// problemOf decodes a problem+json answer.
func problemOf(t *testing.T, header http.Header, body string) (typ string, fields []string) {
	t.Helper()
	if ct := header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("answer %s is %s, not problem+json", body, ct)
	}
	var p struct {
		Type   string                   `json:"type"`
		Errors []struct{ Field string } `json:"errors"`
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Errors {
		fields = append(fields, e.Field)
	}
	return p.Type, fields
}

func TestCoolingRoutesAnswerProblems(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	org := "/v1/orgs/" + ids["org"]
	// A fridge cools nothing.
	code, h, out := w.doHeader(t, "POST", org+"/units/"+ids["unit"]+"/cooling", "staff", map[string]any{"item": "Rice"})
	if _, fields := problemOf(t, h, out); code != 400 || strings.Join(fields, ",") != "unit" {
		t.Fatalf("start on a fridge = %d %s", code, out)
	}
	// The chiller starts one cycle; a second is a conflict.
	path := org + "/units/" + ids["chiller"] + "/cooling"
	code, out = w.do(t, "POST", path, "staff", nil)
	var started struct {
		ID, Status, Source string
		StartedAt          time.Time `json:"started_at"`
		Stage2Deadline     time.Time `json:"stage2_deadline"`
	}
	if err := json.Unmarshal([]byte(out), &started); code != 201 || err != nil || started.Status != "running" || started.Source != "manual" ||
		started.Stage2Deadline.Sub(started.StartedAt) != 6*time.Hour {
		t.Fatalf("start without a body = %d %s", code, out)
	}
	code, h, out = w.doHeader(t, "POST", path, "staff", map[string]any{"item": "Rice"})
	if typ, _ := problemOf(t, h, out); code != 409 || !strings.HasSuffix(typ, "conflict") {
		t.Fatalf("second cycle = %d %s", code, out)
	}
	code, h, out = w.doHeader(t, "POST", path, "staff", map[string]any{"started_at": time.Now().Add(-7 * time.Hour).Format(time.RFC3339)})
	if _, fields := problemOf(t, h, out); code != 400 || strings.Join(fields, ",") != "started_at" {
		t.Fatalf("started 7 h ago = %d %s", code, out)
	}
	cancel := org + "/units/" + ids["chiller"] + "/cooling/" + started.ID + "/cancel"
	if code, out = w.do(t, "POST", cancel, "staff", nil); code != 200 || !strings.Contains(out, `"status":"cancelled"`) {
		t.Fatalf("cancel = %d %s", code, out)
	}
	code, h, out = w.doHeader(t, "POST", cancel, "staff", nil)
	if typ, _ := problemOf(t, h, out); code != 409 || !strings.HasSuffix(typ, "conflict") {
		t.Fatalf("cancel twice = %d %s", code, out)
	}
	code, h, out = w.doHeader(t, "GET", path+"?from=noon", "viewer", nil)
	if _, fields := problemOf(t, h, out); code != 400 || strings.Join(fields, ",") != "from" {
		t.Fatalf("bad from = %d %s", code, out)
	}
	if code, out = w.do(t, "GET", path, "viewer", nil); code != 200 || !strings.Contains(out, `"status":"cancelled"`) {
		t.Fatalf("list = %d %s", code, out)
	}
}

func TestCalibrationRoutes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	path := "/v1/orgs/" + ids["org"] + "/sensors/" + ids["sensor"] + "/calibrations"
	now := time.Now().UTC()
	code, h, out := w.doHeader(t, "POST", path, "manager", map[string]any{"calibrated_at": now.Format(time.RFC3339), "due_at": now.AddDate(6, 0, 0).Format(time.RFC3339)})
	if _, fields := problemOf(t, h, out); code != 400 || strings.Join(fields, ",") != "due_at" {
		t.Fatalf("due in 6 years = %d %s", code, out)
	}
	for _, at := range []time.Time{now.AddDate(-1, 0, 0), now.Add(-time.Hour)} {
		body := map[string]any{"calibrated_at": at.Format(time.RFC3339), "due_at": at.AddDate(1, 0, 0).Format(time.RFC3339), "certificate": "C-1"}
		if code, out := w.do(t, "POST", path, "manager", body); code != 201 || !strings.Contains(out, `"performed_by":"`+w.users["manager"].ID+`"`) {
			t.Fatalf("record = %d %s", code, out)
		}
	}
	code, out = w.do(t, "GET", path, "viewer", nil)
	var list struct {
		Items []struct {
			CalibratedAt time.Time `json:"calibrated_at"`
		}
	}
	if err := json.Unmarshal([]byte(out), &list); code != 200 || err != nil || len(list.Items) != 2 || !list.Items[0].CalibratedAt.After(list.Items[1].CalibratedAt) {
		t.Fatalf("list = %d %s, want newest first", code, out)
	}
	var audits int
	if err := w.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'sensor_calibration.create'`, ids["org"]).Scan(&audits); err != nil || audits != 2 {
		t.Fatalf("%d audit rows (%v), want 2", audits, err)
	}
}

func TestUnitEventsRoute(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	ctx := context.Background()
	path := "/v1/orgs/" + ids["org"] + "/units/" + ids["bare_unit"] + "/events"
	if code, out := w.do(t, "GET", path, "viewer", nil); code != 200 || out != `{"items":[],"next_cursor":null,"defrost_pattern":null}` {
		t.Fatalf("no events = %d %s", code, out)
	}
	at := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	if _, err := w.pool.Exec(ctx, `
		INSERT INTO unit_events (org_id, unit_id, kind, source, started_at, ended_at, peak_c, details)
		VALUES ($1, $2, 'defrost', 'detected', $3, $3::timestamptz + interval '20 minutes', -6.5, '{"episode": 4}'),
		       ($1, $2, 'door_open', 'sensor', $3::timestamptz + interval '1 hour', $3::timestamptz + interval '62 minutes', NULL, '{}')`,
		ids["org"], ids["bare_unit"], at); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pool.Exec(ctx, `
		INSERT INTO defrost_patterns (unit_id, org_id, period_seconds, anchor, phase_tolerance_seconds, duration_seconds, peak_c, max_peak_c, max_duration_seconds, episodes)
		VALUES ($1, $2, 28800, $3, 1200, 1200, -6.5, -3.5, 1800, 4)`, ids["bare_unit"], ids["org"], at); err != nil {
		t.Fatal(err)
	}
	code, out := w.do(t, "GET", path+"?kind=defrost&limit=1", "viewer", nil)
	var got struct {
		Items []struct {
			Kind    string          `json:"kind"`
			Details json.RawMessage `json:"details"`
		}
		NextCursor     *string `json:"next_cursor"`
		DefrostPattern *struct {
			PeriodSeconds int `json:"period_seconds"`
		} `json:"defrost_pattern"`
	}
	if err := json.Unmarshal([]byte(out), &got); code != 200 || err != nil || len(got.Items) != 1 || got.Items[0].Kind != "defrost" ||
		string(got.Items[0].Details) != `{"episode":4}` || got.NextCursor != nil || got.DefrostPattern == nil || got.DefrostPattern.PeriodSeconds != 28800 {
		t.Fatalf("defrosts = %d %s", code, out)
	}
	code, h, out := w.doHeader(t, "GET", path+"?kind=party", "viewer", nil)
	if _, fields := problemOf(t, h, out); code != 400 || strings.Join(fields, ",") != "kind" {
		t.Fatalf("bad kind = %d %s", code, out)
	}
}

func TestSiteManualLogCadence(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	org := "/v1/orgs/" + ids["org"]
	code, out := w.do(t, "POST", org+"/sites", "manager", map[string]any{"name": "Pass", "timezone": "UTC", "manual_log_cadence_minutes": 240})
	var site struct {
		ID      string `json:"id"`
		Cadence *int   `json:"manual_log_cadence_minutes"`
	}
	if err := json.Unmarshal([]byte(out), &site); code != 201 || err != nil || site.Cadence == nil || *site.Cadence != 240 {
		t.Fatalf("create = %d %s", code, out)
	}
	if code, out := w.do(t, "PATCH", org+"/sites/"+site.ID, "manager", map[string]any{"manual_log_cadence_minutes": nil}, "If-Match", `"1"`); code != 200 ||
		!strings.Contains(out, `"manual_log_cadence_minutes":null`) {
		t.Fatalf("clear = %d %s", code, out)
	}
	var stored *int
	if err := w.pool.QueryRow(context.Background(), `SELECT manual_log_cadence_minutes FROM sites WHERE id = $1`, site.ID).Scan(&stored); err != nil || stored != nil {
		t.Fatalf("stored %v (%v), want null", stored, err)
	}
	// A site without the field has no manual-log duty.
	if code, out := w.do(t, "GET", org+"/sites/"+ids["site"], "viewer", nil); code != 200 || !strings.Contains(out, `"manual_log_cadence_minutes":null`) {
		t.Fatalf("fixture site = %d %s", code, out)
	}
}

// TestFoodSafetyRuleThresholds: a new food-safety rule's threshold is in
// its kind's unit and range.
func TestFoodSafetyRuleThresholds(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	base := "/v1/orgs/" + ids["org"] + "/alert-rules"
	for _, c := range []struct {
		kind      string
		threshold any
		want      int
	}{
		{"door_open", 10, 201},
		{"door_open", 0, 400},
		{"door_open", nil, 400},
		{"trend_warning", 30, 201},
		{"trend_warning", 600, 400},
		{"defrost", 3, 201},
		{"defrost", -1, 400},
		{"time_out_of_temp", 240, 201},
		{"cooling", 30, 201},
		{"cooling", 400, 400},
		{"manual_log_missed", 0, 201},
		{"calibration_due", 14, 201},
		{"calibration_due", 400, 400},
		{"sensor_implausible", nil, 201},
		{"sensor_implausible", 0.5, 400},
	} {
		body := map[string]any{"unit_id": ids["unit"], "kind": c.kind}
		if c.threshold != nil {
			body["threshold"] = c.threshold
		}
		code, h, out := w.doHeader(t, "POST", base, "manager", body)
		if code != c.want {
			t.Errorf("%s threshold %v = %d %s, want %d", c.kind, c.threshold, code, out, c.want)
			continue
		}
		if code == 400 {
			if _, fields := problemOf(t, h, out); strings.Join(fields, ",") != "threshold" {
				t.Errorf("%s threshold %v names %v, want threshold", c.kind, c.threshold, fields)
			}
		}
	}
}
