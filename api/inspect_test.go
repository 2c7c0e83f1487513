package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/api"
	"github.com/freshtrack/freshtrack/auth"
)

// doBearer calls the API with a raw bearer credential (an inspector
// link's secret).
func (w *world) doBearer(t *testing.T, method, path, token string, body any) (int, http.Header, string) {
	t.Helper()
	return w.doHeader(t, method, path, "", body, "Authorization", "Bearer "+token, "If-Match", `"1"`)
}

// inspectorViews counts the audit rows of a link's views.
func (w *world) inspectorViews(t *testing.T, org, link string) int {
	t.Helper()
	var n int
	if err := w.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE org_id = $1 AND actor = $2 AND action = 'inspector.view'`,
		org, auth.InspectorActor(link)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestInspectorRouteMatrix is the inspector column of the route matrix:
// every registered route with an in-scope inspector link answers only on
// the allowlisted reads and 403 everywhere else; another organisation is
// 404; a link of another site gets 404 for the site's objects; each read
// served is audited.
func TestInspectorRouteMatrix(t *testing.T) {
	t.Parallel()
	w := newWorld(t, withBilling(10))
	routes := w.router.Routes()
	allowed := 0
	var cases atomic.Int64
	for _, rt := range routes {
		if api.InspectorReadable(rt) {
			allowed++
		}
		if rt.Public {
			continue // needs no credential at all
		}
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			t.Parallel()
			own := w.fixture(t)
			other := w.foreign(t)
			var body any
			if rt.Example != nil {
				body = rt.Example(own)
			}
			orgScoped := strings.HasPrefix(rt.Path, "/v1/orgs/:org")
			readable := api.InspectorReadable(rt)
			want := 403
			if readable {
				want = rt.Success
			}
			before := w.inspectorViews(t, own["org"], own["inspector_link"])
			code, header, out := w.doBearer(t, rt.Method, withQuery(rt, concrete(rt.Path, own, own["org"]), own), own["inspector_token"], body)
			if code != want {
				t.Errorf("%s as inspector in scope: %d %s, want %d", rt.Method, code, out, want)
			}
			if code == rt.Success {
				checkAnswer(t, rt, header, out)
			}
			views := w.inspectorViews(t, own["org"], own["inspector_link"]) - before
			if wantViews := map[bool]int{true: 1, false: 0}[code < 400]; views != wantViews {
				t.Errorf("%s as inspector (%d) wrote %d view audit rows, want %d", rt.Method, code, views, wantViews)
			}
			cases.Add(1)
			if !orgScoped {
				return
			}
			// Another organisation does not exist for the link.
			var otherBody any
			if rt.Example != nil {
				otherBody = rt.Example(other)
			}
			code, _, out = w.doBearer(t, rt.Method, withQuery(rt, concrete(rt.Path, other, other["org"]), other), own["inspector_token"], otherBody)
			if code != 404 {
				t.Errorf("%s as inspector in another org: %d %s, want 404", rt.Method, code, out)
			}
			cases.Add(1)
			if !readable {
				return
			}
			// Another organisation's object under the link's own organisation.
			if strings.Contains(rt.Path, ":id") {
				foreign := parentParams(strings.Replace(strings.Replace(rt.Path, ":org", own["org"], 1), ":id", idFor(rt.Path, other), 1), own)
				code, _, out = w.doBearer(t, rt.Method, withQuery(rt, foreign, own), own["inspector_token"], body)
				if code != 404 {
					t.Errorf("%s as inspector with another org's id: %d %s, want 404", rt.Method, code, out)
				}
				cases.Add(1)
			}
			// A link of the organisation's other site: the fixture's site,
			// units and alert are out of its scope.
			narrow, err := auth.CreateInspectorLink(context.Background(), w.pool, auth.CreateInspectorLinkParams{OrgID: own["org"], Name: "bare site only",
				SiteIDs: []string{own["bare_site"]}, ExpiresAt: time.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			wantNarrow := 404
			switch rt.Path {
			case "/v1/orgs/:org", "/v1/orgs/:org/alerts", "/v1/orgs/:org/audit":
				wantNarrow = rt.Success // lists narrowed to the link's sites
			}
			code, _, out = w.doBearer(t, rt.Method, withQuery(rt, concrete(rt.Path, own, own["org"]), own), narrow.Token, body)
			if code != wantNarrow {
				t.Errorf("%s as an inspector of another site: %d %s, want %d", rt.Method, code, out, wantNarrow)
			}
			if rt.Path == "/v1/orgs/:org/alerts" && strings.Contains(out, own["alert"]) {
				t.Errorf("the alerts of another site were listed to an inspector: %s", out)
			}
			cases.Add(1)
		})
	}
	if allowed != 8 {
		t.Errorf("%d routes are open to inspector links, want the 8 of the allowlist (a route was renamed?)", allowed)
	}
	t.Cleanup(func() { t.Logf("inspector matrix: %d routes, %d cases", len(routes), cases.Load()) })
}

// TestInspectorLinkExpiryAndRevocation: a revoked or expired link answers
// 401 with a problem that says so, from the next request on.
func TestInspectorLinkExpiryAndRevocation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	ctx := context.Background()
	report := "/v1/orgs/" + ids["org"] + "/reports/haccp?site=" + ids["site"] + "&from=" + time.Now().UTC().Format(time.DateOnly) + "&to=" + time.Now().UTC().Format(time.DateOnly)

	code, _, out := w.doBearer(t, "GET", report, ids["inspector_token"], nil)
	if code != 200 {
		t.Fatalf("report before revocation: %d %s", code, out)
	}
	if code, out := w.do(t, "DELETE", "/v1/orgs/"+ids["org"]+"/inspector-links/"+ids["inspector_link"], "admin", nil); code != 204 {
		t.Fatalf("revoke: %d %s", code, out)
	}
	code, header, out := w.doBearer(t, "GET", report, ids["inspector_token"], nil)
	if code != 401 || !strings.Contains(out, "revoked") || header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("report after revocation: %d %s %s, want a 401 problem saying revoked", code, header.Get("Content-Type"), out)
	}
	var revocations int
	if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'inspector_link.revoke' AND target_id = $2 AND actor = $3`,
		ids["org"], ids["inspector_link"], "user:"+w.users["admin"].ID).Scan(&revocations); err != nil || revocations != 1 {
		t.Errorf("revocation audit rows: %d %v", revocations, err)
	}

	// An expired link: written as if created two days ago for one day.
	token := auth.InspectorMarker + strings.Repeat("a", 32)
	hash := sha256.Sum256([]byte(token))
	if _, err := w.pool.Exec(ctx, `INSERT INTO inspector_links (org_id, name, prefix, token_hash, site_ids, expires_at, created_at)
		VALUES ($1, 'old', 'aaaaaa', $2, ARRAY[$3::uuid], now() - interval '1 day', now() - interval '2 days')`, ids["org"], hash[:], ids["site"]); err != nil {
		t.Fatal(err)
	}
	code, _, out = w.doBearer(t, "GET", report, token, nil)
	if code != 401 || !strings.Contains(out, "expired") {
		t.Errorf("expired link: %d %s, want 401 saying expired", code, out)
	}
	// An unknown or malformed secret.
	for _, bad := range []string{auth.InspectorMarker + strings.Repeat("b", 32), auth.InspectorMarker + "short", auth.InspectorMarker + strings.Repeat("!", 32)} {
		if code, _, out := w.doBearer(t, "GET", report, bad, nil); code != 401 || !strings.Contains(out, "not valid") {
			t.Errorf("secret %q: %d %s, want 401", bad, code, out)
		}
	}
}

// TestInspectorLinkPeriod: a link limited to yesterday reads yesterday's
// report and readings only, and today's alert is not in its lists.
func TestInspectorLinkPeriod(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	// The site is in Europe/Berlin; its local yesterday.
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(berlin)
	today := now.Format(time.DateOnly)
	yesterday := now.AddDate(0, 0, -1).Format(time.DateOnly)
	code, out := w.do(t, "POST", "/v1/orgs/"+ids["org"]+"/inspector-links", "admin", map[string]any{
		"name": "Yesterday only", "site_ids": []string{ids["site"]}, "period_from": yesterday, "period_to": yesterday,
		"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	if code != 201 {
		t.Fatalf("create: %d %s", code, out)
	}
	var link struct {
		ID, Token, URL string
	}
	if err := json.Unmarshal([]byte(out), &link); err != nil || !strings.HasPrefix(link.Token, auth.InspectorMarker) ||
		link.URL != "/inspect/"+ids["org"]+"/"+link.ID+"#"+link.Token {
		t.Fatalf("created link: %v %s", err, out)
	}
	org := "/v1/orgs/" + ids["org"]
	for _, c := range []struct {
		path string
		want int
	}{
		{org + "/reports/haccp?site=" + ids["site"] + "&from=" + yesterday + "&to=" + yesterday, 200},
		{org + "/reports/haccp?site=" + ids["site"] + "&from=" + yesterday + "&to=" + today, 403},
		{org + "/units/" + ids["bare_unit"] + "/readings", 403},
		{org + "/units/" + ids["bare_unit"] + "/readings?from=" + yesterday + "T12:00:00Z&to=" + yesterday + "T18:00:00Z", 200},
		{org + "/units/" + ids["bare_unit"] + "/readings?from=" + yesterday + "T12:00:00Z&to=" + time.Now().UTC().Format(time.RFC3339), 403},
		{org + "/alerts/" + ids["alert"], 404},
	} {
		if code, _, out := w.doBearer(t, "GET", c.path, link.Token, nil); code != c.want {
			t.Errorf("GET %s: %d %s, want %d", c.path, code, out, c.want)
		}
	}
	if code, _, out := w.doBearer(t, "GET", org+"/alerts", link.Token, nil); code != 200 || strings.Contains(out, ids["alert"]) {
		t.Errorf("alerts of a yesterday-only link: %d %s, want today's alert left out", code, out)
	}
	if code, _, out := w.doBearer(t, "GET", org+"/alerts", ids["inspector_token"], nil); code != 200 || !strings.Contains(out, ids["alert"]) {
		t.Errorf("alerts of an unbounded link: %d %s, want today's alert", code, out)
	}
}

// TestInspectorLinkValidation: bad input is refused with the field named
// and writes no link.
func TestInspectorLinkValidation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := w.fixture(t)
	other := w.foreign(t)
	soon := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	valid := func() map[string]any {
		return map[string]any{"name": "EHO", "site_ids": []string{ids["site"]}, "expires_at": soon}
	}
	count := func() int {
		var n int
		if err := w.pool.QueryRow(context.Background(), `SELECT count(*) FROM inspector_links WHERE org_id = $1`, ids["org"]).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	for _, c := range []struct {
		field string
		value any
	}{
		{"name", ""}, {"name", strings.Repeat("n", 201)},
		{"site_ids", []string{}}, {"site_ids", []string{"main"}}, {"site_ids", []string{other["site"]}},
		{"expires_at", ""}, {"expires_at", "tomorrow"}, {"expires_at", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)},
		{"expires_at", time.Now().Add(91 * 24 * time.Hour).UTC().Format(time.RFC3339)},
		{"period_from", "01/02/2026"}, {"period_to", "2026-13-01"},
	} {
		body := valid()
		body[c.field] = c.value
		code, out := w.do(t, "POST", "/v1/orgs/"+ids["org"]+"/inspector-links", "admin", body)
		if code, fields := fieldErrors(t, code, out); code != 400 || fields[c.field] == "" {
			t.Errorf("%s=%v: %d %v, want 400 naming %s", c.field, c.value, code, fields, c.field)
		}
	}
	body := valid()
	body["period_from"], body["period_to"] = "2026-03-02", "2026-03-01"
	if code, out := w.do(t, "POST", "/v1/orgs/"+ids["org"]+"/inspector-links", "admin", body); !strings.Contains(out, "period_to") || code != 400 {
		t.Errorf("period_to before period_from: %d %s", code, out)
	}
	if after := count(); after != before {
		t.Errorf("refused requests wrote %d links", after-before)
	}
	// The list never shows a secret.
	code, out := w.do(t, "GET", "/v1/orgs/"+ids["org"]+"/inspector-links", "admin", nil)
	if code != 200 || strings.Contains(out, ids["inspector_token"]) || strings.Contains(out, `"token"`) {
		t.Errorf("list: %d %s", code, out)
	}
}
