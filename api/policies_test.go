package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestNotificationPolicies: a manager sets a freezer policy with quiet
// hours for a site, a viewer reads it and may not write, one policy per
// scope, and bad combinations answer 400 naming the field without writing.
func TestNotificationPolicies(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	base := fmt.Sprintf("/v1/orgs/%s/notification-policies", ids["org"])
	steps := []any{map[string]any{"after_minutes": 0, "channels": []string{"sms"}, "roles": []string{"staff"}}}
	body := map[string]any{"site_id": ids["site"], "alert_kind": "temp_high", "name": "Freezers at night", "steps": steps,
		"quiet_start": "22:00", "quiet_end": "07:00", "min_severity": "warning", "initial_channels": []string{"sms", "email"}}
	if code, out := w.do(t, "POST", base, "viewer", body); code != 403 {
		t.Fatalf("viewer create = %d %s", code, out)
	}
	code, out := w.do(t, "POST", base, "manager", body)
	if code != 201 {
		t.Fatalf("create = %d %s", code, out)
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatal(err)
	}
	if created["quiet_start"] != "22:00" || created["quiet_overridden_by_critical"] != true || created["reminder_minutes"] != float64(0) {
		t.Fatalf("created %s", out)
	}
	id := created["id"].(string)
	if code, out := w.do(t, "GET", base+"/"+id, "viewer", nil); code != 200 || !strings.Contains(out, "Freezers at night") {
		t.Fatalf("viewer read = %d %s", code, out)
	}
	if code, out := w.do(t, "POST", base, "manager", body); code != 409 {
		t.Fatalf("second policy for the same scope = %d %s, want 409", code, out)
	}
	var audits int
	if err := w.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action LIKE 'notification_polic%.create'`, ids["org"]).Scan(&audits); err != nil || audits != 1 {
		t.Fatalf("audit rows %d %v", audits, err)
	}
	for _, c := range []struct {
		change map[string]any
		field  string
	}{
		{map[string]any{"quiet_start": "23:00", "quiet_end": nil}, "quiet_end"},
		{map[string]any{"quiet_end": "22:00"}, "quiet_end"},
		{map[string]any{"unit_id": ids["unit"], "site_id": ids["site"]}, "unit_id"},
		{map[string]any{"reminder_minutes": 2}, "reminder_minutes"},
		{map[string]any{"steps": []any{map[string]any{"after_minutes": 5, "channels": []string{"sms"}, "roles": []string{"staff"}}}}, "steps"},
	} {
		b := map[string]any{"alert_kind": "door_open", "name": "x", "steps": steps}
		for k, v := range c.change {
			b[k] = v
		}
		code, out := w.do(t, "POST", base, "manager", b)
		code, fields := fieldErrors(t, code, out)
		if _, ok := fields[c.field]; code != 400 || !ok {
			t.Errorf("create with %v = %d %v, want 400 naming %s", c.change, code, fields, c.field)
		}
	}
	var n int
	if err := w.pool.QueryRow(context.Background(), `SELECT count(*) FROM notification_policies WHERE org_id = $1`, ids["org"]).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d policies (the fixture's and the freezer one), %v", n, err)
	}
	// The alert detail says which policy applied and lists decisions.
	code, out = w.do(t, "GET", fmt.Sprintf("/v1/orgs/%s/alerts/%s", ids["org"], ids["alert"]), "viewer", nil)
	if code != 200 || !strings.Contains(out, `"notification"`) || !strings.Contains(out, `"decisions"`) {
		t.Fatalf("alert detail = %d %s", code, out)
	}
}
