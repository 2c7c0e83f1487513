package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/demo"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// callWith calls the running server with a bearer credential.
func callWith(t *testing.T, method, url, token string, body any) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestInspectorLinkOpensTheDemoReportOnly: through the real binary, an
// admin of the demo organisation creates an inspector link for the demo
// site; the link's page is served, and its secret opens that site's HACCP
// report (JSON and PDF) and nothing else: not the organisation's other
// site, not another organisation, no list of units, members or keys, no
// write. Each report view is audited, and revoking the link ends it.
func TestInspectorLinkOpensTheDemoReportOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	dbURL, pool := pgtest.NewDBURL(t)
	keyFile := filepath.Join(t.TempDir(), "dev.pem")
	p := startServe(t, "inspect", dbURL, nil, "--dev-auth", "--dev-auth-key", keyFile)
	logOnFailure(t, p)
	base := p.base()
	ctx := context.Background()
	fleet, err := demo.Create(ctx, pool, 6)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := mintDevToken(ctx, pool, keyFile, p.addr, fleet.OrgID, auth.Admin, "", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var annex string
	if err := pool.QueryRow(ctx, `INSERT INTO sites (org_id, name, timezone) VALUES ($1, 'Annex', 'UTC') RETURNING id`, fleet.OrgID).Scan(&annex); err != nil {
		t.Fatal(err)
	}
	elsewhere := newLiveOrg(t, pool, keyFile, p.addr, "Elsewhere Foods")

	org := base + "/v1/orgs/" + fleet.OrgID
	code, _, out := callWith(t, "POST", org+"/inspector-links", admin, map[string]any{"name": "County EHO", "site_ids": []string{fleet.SiteID},
		"expires_at": time.Now().Add(7 * 24 * time.Hour).UTC().Format(time.RFC3339)})
	if code != 201 {
		t.Fatalf("create link: %d %s", code, out)
	}
	var link struct{ ID, Token, URL string }
	if err := json.Unmarshal([]byte(out), &link); err != nil {
		t.Fatal(err)
	}
	page, _, _ := strings.Cut(link.URL, "#")
	code, header, html := callWith(t, "GET", base+page, "", nil)
	if code != 200 || !strings.Contains(html, "inspect.js") || !strings.Contains(header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("the link's page: %d %s %.300s", code, header.Get("Content-Security-Policy"), html)
	}

	day := time.Now().UTC().Format(time.DateOnly)
	report := func(o, site, format string) string {
		return base + "/v1/orgs/" + o + "/reports/haccp?site=" + site + "&from=" + day + "&to=" + day + "&format=" + format
	}
	code, _, out = callWith(t, "GET", report(fleet.OrgID, fleet.SiteID, "json"), link.Token, nil)
	var rep struct {
		Header struct {
			SiteID string `json:"site_id"`
		} `json:"header"`
		Units []struct{} `json:"units"`
	}
	if err := json.Unmarshal([]byte(out), &rep); code != 200 || err != nil || rep.Header.SiteID != fleet.SiteID || len(rep.Units) != len(fleet.Units) {
		t.Fatalf("the demo site's report: %d %v %.300s", code, err, out)
	}
	code, header, out = callWith(t, "GET", report(fleet.OrgID, fleet.SiteID, "pdf"), link.Token, nil)
	if code != 200 || header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(out, "%PDF") {
		t.Errorf("the demo site's PDF: %d %s", code, header.Get("Content-Type"))
	}

	// Nothing else.
	for _, c := range []struct {
		method, url string
		body        any
		want        int
	}{
		{"GET", report(fleet.OrgID, annex, "json"), nil, 404},
		{"GET", report(elsewhere.id, elsewhere.site, "json"), nil, 404},
		{"GET", org + "/units", nil, 403},
		{"GET", org + "/sites", nil, 403},
		{"GET", org + "/latest", nil, 403},
		{"GET", org + "/members", nil, 403},
		{"GET", org + "/api-keys", nil, 403},
		{"GET", org + "/inspector-links", nil, 403},
		{"GET", org + "/notifications", nil, 403},
		{"PATCH", org + "/units/" + fleet.Units[0].ID, map[string]any{"name": "renamed", "version": 1}, 403},
		{"POST", org + "/inspector-links", map[string]any{"name": "me again", "site_ids": []string{annex}, "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, 403},
		{"DELETE", org, nil, 403},
		{"GET", base + "/v1/orgs", nil, 403},
	} {
		if code, _, out := callWith(t, c.method, c.url, link.Token, c.body); code != c.want {
			t.Errorf("%s %s with the inspector link: %d %.200s, want %d", c.method, strings.TrimPrefix(c.url, base), code, out, c.want)
		}
	}
	var views int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND actor = $2 AND action = 'inspector.view'`,
		fleet.OrgID, "inspector:"+link.ID).Scan(&views); err != nil || views != 2 {
		t.Errorf("%d audited views (%v), want the 2 reports", views, err)
	}
	var renamed int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM units WHERE org_id = $1 AND name = 'renamed'`, fleet.OrgID).Scan(&renamed); err != nil || renamed != 0 {
		t.Errorf("the refused write changed %d units (%v)", renamed, err)
	}
	if code, _, out := callWith(t, "DELETE", org+"/inspector-links/"+link.ID, admin, nil); code != 204 {
		t.Fatalf("revoke: %d %s", code, out)
	}
	if code, _, out := callWith(t, "GET", report(fleet.OrgID, fleet.SiteID, "json"), link.Token, nil); code != 401 || !strings.Contains(out, "revoked") {
		t.Errorf("the report after revocation: %d %s, want 401 saying revoked", code, out)
	}
}
