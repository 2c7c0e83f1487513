package main

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/demo"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// TestWebInspectorLink drives the inspector link in a browser: an admin
// creates one for the demo site in Settings and sees it once; in another
// browser, never signed in, the link's page shows the site, its HACCP
// report with every unit, a unit's chart, the alerts and the audit trail's
// chain check, with the secret gone from the address bar; once revoked,
// the page says so.
func TestWebInspectorLink(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary and a browser; skipped with -short")
	}
	chromiumPath(t)
	dbURL, pool := pgtest.NewDBURL(t)
	keyFile := filepath.Join(t.TempDir(), "dev.pem")
	p := startServe(t, "web-inspect", dbURL, nil, "--dev-auth", "--dev-auth-key", keyFile, "--rollup-interval", "1s")
	logOnFailure(t, p)
	base := p.base()
	ctx := context.Background()
	fleet, err := demo.Create(ctx, pool, 6)
	if err != nil {
		t.Fatal(err)
	}
	// The admin persona of the sign-in page is the demo organisation's admin.
	admin, err := mintDevToken(ctx, pool, keyFile, p.addr, fleet.OrgID, auth.Admin, auth.DevEmail(auth.Admin), "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	// The first unit has readings of the last hours, so its chart has
	// something to draw once the rollups have them.
	unit := fleet.Units[0]
	now := time.Now().UTC()
	var readings []map[string]any
	for i, temp := range []float64{3.1, 4.4, 2.9} {
		readings = append(readings, map[string]any{"sensor": unit.Sensors[0], "time": now.Add(time.Duration(i-3) * time.Hour).Format(time.RFC3339), "temp_c": temp})
	}
	postReadings(t, base, fleet.APIKey, readings)
	deadline := time.Now().Add(60 * time.Second)
	for {
		q := "?resolution=auto&from=" + now.Add(-7*24*time.Hour).Format(time.RFC3339) + "&to=" + now.Format(time.RFC3339)
		_, _, out := callWith(t, "GET", base+"/v1/orgs/"+fleet.OrgID+"/units/"+unit.ID+"/readings"+q, admin, nil)
		if strings.Contains(out, `"avg_c"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the unit's series has no buckets after 60s: %s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// An alert of the unit with the corrective action recorded for it.
	var alert string
	if err := pool.QueryRow(ctx, `
		WITH r AS (INSERT INTO alert_rules (org_id, unit_id, kind, threshold) VALUES ($1, $2, 'temp_high', 8) RETURNING id),
		     a AS (INSERT INTO alerts (org_id, unit_id, rule_id, kind, severity, started_at) SELECT $1, $2, id, 'temp_high', 'critical', now() - interval '90 minutes' FROM r RETURNING id),
		     c AS (INSERT INTO corrective_actions (org_id, unit_id, alert_id, action, disposition) SELECT $1, $2, id, 'Moved the stock to the chest freezer', 'moved' FROM a)
		SELECT id FROM a`, fleet.OrgID, unit.ID).Scan(&alert); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t)
	tab := b.tab()
	b.signIn(tab, base, "/o/"+fleet.OrgID+"/settings/inspector-links", "admin")
	b.run(tab, "inspector links section", openSection(base+"/o/"+fleet.OrgID+"/settings/", "inspector-links"),
		waitJS(`document.getElementById('create-inspector-links')`, 10*time.Second),
		do(`const f = document.getElementById('create-inspector-links'); f.querySelector('[name=name]').value = 'County EHO';`),
		click(`#create-inspector-links button[type=submit]`),
		waitJS(`document.querySelector('[data-inspector-url]')`, 10*time.Second))
	url := value(b, tab, "the new link", js[string](`document.querySelector('[data-inspector-url]').textContent`))
	if !strings.HasPrefix(url, base+"/inspect/"+fleet.OrgID+"/") || !strings.Contains(url, "#"+auth.InspectorMarker) {
		t.Fatalf("the link shown: %q", url)
	}
	listed := value(b, tab, "the list", js[string](`document.querySelector('.section').innerText`))
	if !strings.Contains(listed, "County EHO") || !strings.Contains(listed, "Valid until") || strings.Count(listed, auth.InspectorMarker) != 2 {
		// the list's prefix and the link shown once
		t.Errorf("the section after creating: %s", listed)
	}
	b.run(tab, "screenshot", screenshot(t, "settings-inspector-links"))

	ib := newBrowser(t)
	itab := ib.tab()
	ib.run(itab, "open the link", chromedp.Navigate(url), waitJS(`document.getElementById('inspect-scope')`, 10*time.Second),
		waitJS(`document.getElementById('audit-verification')`, 10*time.Second))
	type landing struct {
		Scope, Audit, Hash string
		Sites              int
		Alerts             bool
	}
	got := value(ib, itab, "the landing page", js[landing](`({Scope: document.getElementById('inspect-scope').innerText,
		Audit: document.getElementById('audit-verification').innerText, Hash: location.hash,
		Sites: document.querySelectorAll('[data-site-section]').length, Alerts: !!document.getElementById('inspect-alerts')})`))
	if !strings.Contains(got.Scope, "County EHO") || got.Sites != 1 || !got.Alerts || !strings.Contains(got.Audit, "intact") || got.Hash != "" {
		t.Errorf("the landing page: %+v", got)
	}
	ib.run(itab, "view the report", chromedp.Click(chromedp.CSS(`[data-report="`+fleet.SiteID+`"]`)),
		waitJS(`document.querySelectorAll('.report tbody tr').length === `+strconv.Itoa(len(fleet.Units)), 10*time.Second),
		chromedp.Click(chromedp.CSS(`[data-chart="`+unit.ID+`"]`)),
		waitJS(`(() => { const c = document.getElementById('unit-chart-`+fleet.SiteID+`'); return c.dataset.unit === '`+unit.ID+`' && c.querySelector('.chart, p') && !c.innerText.includes('Loading'); })()`, 10*time.Second))
	chart := value(ib, itab, "the chart", js[struct {
		Canvas bool
		Text   string
	}](`(() => { const c = document.getElementById('unit-chart-`+fleet.SiteID+`'); return {Canvas: !!c.querySelector('.chart canvas'), Text: c.innerText}; })()`))
	if !chart.Canvas {
		t.Errorf("the unit's chart was not drawn: %q", chart.Text)
	}
	ib.run(itab, "an alert's corrective actions", chromedp.Click(chromedp.CSS(`[data-alert="`+alert+`"]`)),
		waitJS(`document.querySelector('[data-alert="`+alert+`"]').nextElementSibling.innerText.includes('Moved the stock to the chest freezer')`, 10*time.Second))
	ib.run(itab, "screenshot", screenshot(t, "inspector-landing"))

	if code, _, out := callWith(t, "DELETE", base+"/v1/orgs/"+fleet.OrgID+"/inspector-links/"+strings.TrimPrefix(strings.Split(url, "#")[0], base+"/inspect/"+fleet.OrgID+"/"), admin, nil); code != 204 {
		t.Fatalf("revoke: %d %s", code, out)
	}
	ib.run(itab, "reload after revocation", chromedp.Reload(), waitJS(`document.getElementById('inspect-refused')`, 10*time.Second))
	if txt := value(ib, itab, "refused", js[string](`document.getElementById('inspect-refused').innerText`)); !strings.Contains(txt, "revoked") {
		t.Errorf("after revocation the page says %q", txt)
	}
}
