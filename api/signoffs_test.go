package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/auth"
)

type signoffAnswer struct {
	ID            string `json:"id"`
	Status        string `json:"status"`
	ContentSHA256 string `json:"content_sha256"`
	PrintedName   string `json:"printed_name"`
	AuditID       int64  `json:"audit_id"`
}

func (w *world) signoffs(t *testing.T, path string) []signoffAnswer {
	t.Helper()
	code, out := w.do(t, "GET", path, "viewer", nil)
	if code != 200 {
		t.Fatalf("list signatures: %d %s", code, out)
	}
	var list struct{ Items []signoffAnswer }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func (w *world) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := w.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSignoffThroughTheAPI: a manager with a fresh sign-in signs a day of
// the Berlin site; a late reading in that day and an edited corrective
// action each make the signature stale, in the list and in the report.
func TestSignoffThroughTheAPI(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	ctx := context.Background()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	day := time.Now().In(berlin).AddDate(0, 0, -2)
	d := day.Format(time.DateOnly)
	noon := time.Date(day.Year(), day.Month(), day.Day(), 12, 0, 0, 0, berlin)
	var sensor int64
	if err := w.pool.QueryRow(ctx, `SELECT id FROM sensors WHERE public_id = $1`, ids["sensor"]).Scan(&sensor); err != nil {
		t.Fatal(err)
	}
	write := func(at time.Time, temp float64) {
		t.Helper()
		if err := w.store.EnsurePartitions(ctx, at); err != nil {
			t.Fatal(err)
		}
		if _, err := w.pool.Exec(ctx, `INSERT INTO readings (time, sensor_id, temp_c) VALUES ($1, $2, $3)`, at, sensor, temp); err != nil {
			t.Fatal(err)
		}
	}
	write(noon, 3.5)
	path := "/v1/orgs/" + ids["org"] + "/sites/" + ids["site"] + "/signoffs"
	body := map[string]any{"from": d, "to": d, "meaning": "verified", "printed_name": "Dana Manager"}

	code, out := w.do(t, "POST", path, "manager", body)
	if code != 201 {
		t.Fatalf("sign: %d %s", code, out)
	}
	var s signoffAnswer
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	if s.Status != "current" || s.PrintedName != "Dana Manager" || len(s.ContentSHA256) != 64 || s.AuditID == 0 {
		t.Fatalf("signature %s", out)
	}
	report := func() map[string]any {
		t.Helper()
		code, out := w.do(t, "GET", "/v1/orgs/"+ids["org"]+"/reports/haccp?site="+ids["site"]+"&from="+d+"&to="+d, "viewer", nil)
		if code != 200 {
			t.Fatalf("report: %d %s", code, out)
		}
		var r struct {
			Header map[string]any
			Review map[string]any
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if r.Review["status"] != "stale" && r.Header["content_sha256"] != s.ContentSHA256 {
			t.Errorf("report hash %v, signed %s, review %v", r.Header["content_sha256"], s.ContentSHA256, r.Review)
		}
		return r.Review
	}
	if rv := report(); rv["status"] != "signed" {
		t.Fatalf("review after signing: %v", rv)
	}
	if list := w.signoffs(t, path); len(list) != 1 || list[0].ID != s.ID || list[0].Status != "current" {
		t.Fatalf("list: %+v", list)
	}
	// A late reading into the signed day.
	write(noon.Add(150*time.Second), 3.7)
	if list := w.signoffs(t, path); len(list) != 1 || list[0].Status != "stale" {
		t.Fatalf("after a late reading: %+v", list)
	}
	if rv := report(); rv["status"] != "stale" || !strings.Contains(rv["statement"].(string), "Not reviewed/signed") {
		t.Fatalf("review after a late reading: %v", rv)
	}

	// Signed again over the changed day, then a corrective action taken
	// that day is corrected.
	code, out = w.do(t, "POST", path, "owner", body)
	if code != 201 {
		t.Fatalf("sign again: %d %s", code, out)
	}
	var action string
	if err := w.pool.QueryRow(ctx, `
		INSERT INTO corrective_actions (org_id, unit_id, action, disposition, taken_by, taken_at) VALUES ($1, $2, 'door closed', 'kept', $3, $4) RETURNING id`,
		ids["org"], ids["unit"], w.users["staff"].ID, noon.Add(time.Hour)).Scan(&action); err != nil {
		t.Fatal(err)
	}
	code, out = w.do(t, "POST", path, "owner", body)
	if code != 201 {
		t.Fatalf("sign with the action: %d %s", code, out)
	}
	if list := w.signoffs(t, path); len(list) != 3 || list[0].Status != "current" || list[1].Status != "stale" || list[2].Status != "stale" {
		t.Fatalf("three signatures: %+v", list)
	}
	actionPath := "/v1/orgs/" + ids["org"] + "/corrective-actions/" + action
	if code, out := w.do(t, "PATCH", actionPath, "staff", map[string]any{"action": "door closed, seal checked"}); code != 403 {
		t.Fatalf("staff edits an action: %d %s", code, out)
	}
	if code, out := w.do(t, "PATCH", actionPath, "manager", map[string]any{"disposition": "burnt"}); code != 400 || !strings.Contains(out, `"disposition"`) {
		t.Fatalf("bad disposition: %d %s", code, out)
	}
	if code, out := w.do(t, "PATCH", actionPath, "manager", map[string]any{"action": "door closed, seal checked"}); code != 200 || !strings.Contains(out, "seal checked") {
		t.Fatalf("edit: %d %s", code, out)
	}
	if list := w.signoffs(t, path); list[0].Status != "stale" {
		t.Fatalf("after an edited corrective action: %+v", list)
	}
	if n := w.count(t, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'corrective_action.edit'`, ids["org"]); n != 1 {
		t.Fatalf("%d audit entries for the edit", n)
	}
	if _, _, err := auth.VerifyAudit(ctx, w.pool, ids["org"]); err != nil {
		t.Fatal(err)
	}

	// The PDF shows the signatures: its text is compressed, so check the
	// JSON twin says what it prints and the PDF is served.
	code, out = w.do(t, "GET", "/v1/orgs/"+ids["org"]+"/reports/haccp?format=csv&site="+ids["site"]+"&from="+d+"&to="+d, "viewer", nil)
	if code != 200 || strings.Count(out, "\nsignatures,Main,"+d+","+d+",verified,Dana Manager,") != 3 || !strings.Contains(out, "review_status,stale") {
		t.Fatalf("csv: %d %s", code, out)
	}
}

// TestSigningNeedsFreshReauthentication: an old sign-in, an API key, a
// used or someone else's grant cannot sign; a fresh grant can, once.
func TestSigningNeedsFreshReauthentication(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	ctx := context.Background()
	path := "/v1/orgs/" + ids["org"] + "/sites/" + ids["bare_site"] + "/signoffs"
	d := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	body := func(grant string) map[string]any {
		b := map[string]any{"from": d, "to": d, "meaning": "reviewed", "printed_name": "Dana Manager"}
		if grant != "" {
			b["reauth_grant"] = grant
		}
		return b
	}
	old, err := w.dev.MintAuthenticatedAt("sub-manager", "manager@example.com", "manager", time.Hour, time.Now().Add(-10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	code, header, out := w.doHeader(t, "POST", path, "", body(""), bearer(old)...)
	if code != 401 || !strings.Contains(out, "reauthentication-required") || !strings.Contains(out, "ago") ||
		!strings.Contains(header.Get("WWW-Authenticate"), `error="insufficient_user_authentication"`) || !strings.Contains(header.Get("WWW-Authenticate"), "max_age=300") {
		t.Fatalf("sign with a 10-minute-old sign-in: %d %v %s", code, header, out)
	}
	key, err := auth.CreateAPIKey(ctx, w.pool, auth.CreateAPIKeyParams{OrgID: ids["org"], Name: "gateway"})
	if err != nil {
		t.Fatal(err)
	}
	if code, out := w.do(t, "POST", path, "", body(""), bearer(key.Key)...); code != 401 {
		t.Fatalf("sign with an API key: %d %s", code, out)
	}
	for _, who := range []string{"viewer", "staff"} {
		if code, out := w.do(t, "POST", path, who, body("")); code != 403 {
			t.Fatalf("sign as %s: %d %s", who, code, out)
		}
	}
	// The web app's grant stands in for a fresh token, once, for its own
	// user only.
	grant, err := auth.CreateSigningGrant(ctx, w.pool, w.users["manager"].ID, time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	others, err := auth.CreateSigningGrant(ctx, w.pool, w.users["admin"].ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if code, out := w.do(t, "POST", path, "", body(others), bearer(old)...); code != 401 {
		t.Fatalf("sign with someone else's grant: %d %s", code, out)
	}
	if code, out := w.do(t, "POST", path, "", body(grant), bearer(old)...); code != 201 {
		t.Fatalf("sign with a fresh grant: %d %s", code, out)
	}
	if code, out := w.do(t, "POST", path, "", body(grant), bearer(old)...); code != 401 {
		t.Fatalf("sign with a used grant: %d %s", code, out)
	}
	if n := w.count(t, `SELECT count(*) FROM record_signoffs WHERE org_id = $1`, ids["org"]); n != 1 {
		t.Fatalf("%d signatures stored, want the one with the grant", n)
	}
}

// TestSignoffValidationNamesTheField: each bad field is named, and nothing
// is signed.
func TestSignoffValidationNamesTheField(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	path := "/v1/orgs/" + ids["org"] + "/sites/" + ids["bare_site"] + "/signoffs"
	y := time.Now().UTC().AddDate(0, 0, -1)
	d := y.Format(time.DateOnly)
	valid := func() map[string]any {
		return map[string]any{"from": d, "to": d, "meaning": "reviewed", "printed_name": "Dana Manager"}
	}
	for _, c := range []struct {
		field string
		value any
	}{
		{"meaning", nil}, {"meaning", "approved"}, {"printed_name", nil}, {"printed_name", "   "}, {"printed_name", strings.Repeat("n", 201)},
		{"from", nil}, {"from", "yesterday"}, {"to", nil}, {"to", y.AddDate(0, 0, -1).Format(time.DateOnly)},
		{"to", time.Now().UTC().Format(time.DateOnly)}, {"comment", strings.Repeat("c", 2001)},
	} {
		b := valid()
		if c.value == nil {
			delete(b, c.field)
		} else {
			b[c.field] = c.value
		}
		code, out := w.do(t, "POST", path, "manager", b)
		if code != 400 || !strings.Contains(out, `"field":"`+c.field+`"`) {
			t.Errorf("%s=%v: %d %s, want 400 naming %s", c.field, c.value, code, out, c.field)
		}
	}
	if code, out := w.do(t, "GET", path+"?limit=51", "viewer", nil); code != 400 || !strings.Contains(out, `"field":"limit"`) {
		t.Errorf("limit=51: %d %s", code, out)
	}
	if n := w.count(t, `SELECT count(*) FROM record_signoffs WHERE org_id = $1`, ids["org"]); n != 0 {
		t.Fatalf("invalid requests stored %d signatures", n)
	}
}
