package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/freshtrack/freshtrack/auth"
)

type auditAnswer struct {
	Items []struct {
		ID         int64  `json:"id"`
		Actor      string `json:"actor"`
		Action     string `json:"action"`
		TargetType string `json:"target_type"`
		TargetID   string `json:"target_id"`
	} `json:"items"`
	NextCursor   *string `json:"next_cursor"`
	Verification struct {
		Scope         string `json:"scope"`
		OK            bool   `json:"ok"`
		RowsChecked   int    `json:"rows_checked"`
		FirstBrokenID *int64 `json:"first_broken_id"`
	} `json:"verification"`
}

// audit reads the audit trail API as a role or an inspector link.
func (w *world) audit(t *testing.T, path, who string) auditAnswer {
	t.Helper()
	code, out := w.doAudit(t, path, who)
	var a auditAnswer
	if err := json.Unmarshal([]byte(out), &a); code != 200 || err != nil {
		t.Fatalf("audit: %d %v %s", code, err, out)
	}
	return a
}

func (a auditAnswer) actions() string {
	var s []string
	for _, it := range a.Items {
		s = append(s, it.Action)
	}
	return strings.Join(s, ",")
}

// TestAuditTrailAPI: filters, paging, the page's chain check, what an
// inspector link sees, and a tampered row reported by its id.
func TestAuditTrailAPI(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	org := "/v1/orgs/" + ids["org"]
	if code, out := w.do(t, "PATCH", org+"/units/"+ids["unit"], "manager", map[string]any{"name": "Walk-in"}, "If-Match", `"1"`); code != 200 {
		t.Fatalf("edit unit: %d %s", code, out)
	}
	if code, out := w.do(t, "POST", org+"/api-keys", "admin", map[string]any{"name": "gateway"}); code != 201 {
		t.Fatalf("create key: %d %s", code, out)
	}

	all := w.audit(t, org+"/audit", "admin")
	if !strings.Contains(all.actions(), "unit.update") || !strings.Contains(all.actions(), "api_key.create") {
		t.Fatalf("admin's trail lacks the edits: %s", all.actions())
	}
	if v := all.Verification; !v.OK || v.Scope != "page" || v.RowsChecked != len(all.Items) || v.FirstBrokenID != nil {
		t.Errorf("verification of an intact page: %+v (%d rows)", v, len(all.Items))
	}
	for i := 1; i < len(all.Items); i++ {
		if all.Items[i].ID >= all.Items[i-1].ID {
			t.Fatalf("not newest first: %d after %d", all.Items[i].ID, all.Items[i-1].ID)
		}
	}
	only := w.audit(t, org+"/audit?action=unit.update&target_id="+ids["unit"], "admin")
	if len(only.Items) != 1 || only.Items[0].Actor != "user:"+w.users["manager"].ID {
		t.Errorf("filtered: %+v", only.Items)
	}
	first := w.audit(t, org+"/audit?limit=1&order=asc", "admin")
	if len(first.Items) != 1 || first.NextCursor == nil {
		t.Fatalf("first page: %+v", first)
	}
	second := w.audit(t, org+"/audit?limit=1&order=asc&cursor="+*first.NextCursor, "admin")
	if len(second.Items) != 1 || second.Items[0].ID <= first.Items[0].ID {
		t.Errorf("second page: %+v after %+v", second.Items, first.Items)
	}
	full := w.audit(t, org+"/audit?verify=full", "admin")
	if !full.Verification.OK || full.Verification.Scope != "full" || full.Verification.RowsChecked < len(all.Items) {
		t.Errorf("full verification: %+v", full.Verification)
	}
	for _, q := range []string{"order=sideways", "verify=half", "cursor=abc", "from=yesterday", "limit=0"} {
		code, out := w.do(t, "GET", org+"/audit?"+q, "admin", nil)
		if code, fields := fieldErrors(t, code, out); code != 400 || len(fields) != 1 {
			t.Errorf("?%s: %d %v, want 400 naming the parameter", q, code, fields)
		}
	}

	// The inspector link of the unit's site sees the unit's edit and its own
	// views, not the organisation's API keys.
	seen := w.audit(t, org+"/audit", ids["inspector_token"])
	if acts := seen.actions(); !strings.Contains(acts, "unit.update") || strings.Contains(acts, "api_key") || strings.Contains(acts, "organization") {
		t.Errorf("inspector's trail: %s", acts)
	}
	seen = w.audit(t, org+"/audit", ids["inspector_token"])
	if !strings.Contains(seen.actions(), "inspector.view") || !seen.Verification.OK {
		t.Errorf("inspector's trail after a view: %s %+v", seen.actions(), seen.Verification)
	}
	// Rows about each kind of object: those at the link's site are seen,
	// those at the other site, or about no object that can be placed, not.
	ctx0 := context.Background()
	for _, e := range []struct{ targetType, id, action string }{
		{"site", ids["site"], "seen.site"}, {"area", ids["area"], "seen.area"}, {"sensor", ids["sensor"], "seen.sensor"},
		{"alert", ids["alert"], "seen.alert"}, {"alert rule", ids["bare_rule"], "seen.rule"}, {"unit", ids["bare_unit"], "seen.unit"},
		{"site", ids["bare_site"], "hidden.site"}, {"unit", "not-a-uuid", "hidden.garbage"}, {"contact", ids["contact"], "hidden.contact"},
	} {
		if err := auth.WriteAudit(ctx0, w.pool, auth.AuditEntry{OrgID: ids["org"], Actor: "system", Action: e.action, TargetType: e.targetType, TargetID: e.id}); err != nil {
			t.Fatal(err)
		}
	}
	acts := w.audit(t, org+"/audit?actor=system&limit=200", ids["inspector_token"]).actions()
	if strings.Count(acts, "seen.") != 6 || strings.Contains(acts, "hidden.") {
		t.Errorf("inspector's rows by target: %s, want the 6 seen.* rows only", acts)
	}
	if code, out := w.doAudit(t, org+"/audit?verify=full", ids["inspector_token"]); code != 400 {
		t.Errorf("inspector verify=full: %d %s, want 400", code, out)
	}

	// A superuser edits the unit's audit row behind the trigger's back.
	ctx := context.Background()
	if _, err := w.pool.Exec(ctx, `ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update`); err != nil {
		t.Fatal(err)
	}
	edited := only.Items[0].ID
	if _, err := w.pool.Exec(ctx, `UPDATE audit_log SET details = '{"name":"nothing happened"}' WHERE id = $1`, edited); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"admin", ids["inspector_token"]} {
		a := w.audit(t, org+"/audit?limit=200", who)
		if v := a.Verification; v.OK || v.FirstBrokenID == nil || *v.FirstBrokenID != edited {
			t.Errorf("tampered trail as %.8s: %+v, want the break at %d", who, v, edited)
		}
	}
}

// doAudit calls a path as a role or with an inspector link's secret.
func (w *world) doAudit(t *testing.T, path, who string) (int, string) {
	t.Helper()
	if _, ok := w.tokens[who]; ok {
		return w.do(t, "GET", path, who, nil)
	}
	code, _, out := w.doBearer(t, "GET", path, who, nil)
	return code, out
}
