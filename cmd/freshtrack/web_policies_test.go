package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestWebNotificationPolicies: a manager sets quiet hours for a site and a
// policy for its freezer in the settings, both through the real forms;
// then a warning on the site's fridge (in the quiet hours) and an alert on
// the freezer open through the real binary, and each alert's page says
// which policy applied and who was told, or why not.
func TestWebNotificationPolicies(t *testing.T) {
	w := newWebWorld(t)
	base := w.p.base()
	bg := context.Background()
	org := w.kitchen
	settings := base + "/o/" + org.id + "/settings/"

	// The kitchen's fridge alerts with a warning; a freezer beside it.
	// The site is in London, and its quiet hours run from an hour ago to
	// two hours from now there.
	var freezer string
	for _, q := range []struct {
		sql  string
		args []any
		dest []any
	}{
		{`UPDATE alert_rules SET severity = 'warning' WHERE org_id = $1`, []any{org.id}, nil},
		{`UPDATE sites SET timezone = 'Europe/London' WHERE id = $1`, []any{org.site}, nil},
		{`INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, 'Chest freezer', 'freezer', -30, -15) RETURNING id`, []any{org.id, org.site}, []any{&freezer}},
	} {
		var err error
		if q.dest != nil {
			err = w.pool.QueryRow(bg, q.sql, q.args...).Scan(q.dest...)
		} else {
			_, err = w.pool.Exec(bg, q.sql, q.args...)
		}
		if err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	freezerSensor := "FRZ-" + org.id[:8]
	if _, err := w.pool.Exec(bg, `INSERT INTO sensors (org_id, external_id, unit_id) VALUES ($1, $2, $3)`, org.id, freezerSensor, freezer); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pool.Exec(bg, `INSERT INTO alert_rules (org_id, unit_id, kind, threshold, confirm_seconds, severity) VALUES ($1, $2, 'temp_high', -15, 0, 'warning')`, org.id, freezer); err != nil {
		t.Fatal(err)
	}
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(london)
	quietFrom, quietTo := now.Add(-time.Hour).Format("15:04"), now.Add(2*time.Hour).Format("15:04")

	mb := newBrowser(t)
	mctx := mb.tab()
	mb.signIn(mctx, base, "/o/"+org.id+"/settings/notification-policies", "manager")
	rows := `table[data-section="notification-policies"] tbody tr`

	t.Run("a manager sets quiet hours for the site", func(t *testing.T) {
		b := mb.in(t)
		b.run(mctx, "site policy", openSection(settings, "notification-policies"),
			chromedp.SendKeys(chromedp.CSS(`#create-notification-policies input[name=name]`), "Kitchen nights"),
			choose(`#create-notification-policies select[name=site_id]`, org.site),
			chromedp.SendKeys(chromedp.CSS(`#create-notification-policies input[name=quiet_start]`), quietFrom),
			chromedp.SendKeys(chromedp.CSS(`#create-notification-policies input[name=quiet_end]`), quietTo),
			click(`#create-notification-policies button[type=submit]`),
			waitJS(`[...document.querySelectorAll('`+rows+`')].some(tr => tr.textContent.includes('Kitchen nights') && tr.textContent.includes('`+quietFrom+`–`+quietTo+`'))`, 10*time.Second))
	})
	t.Run("a manager sets a policy for the freezer", func(t *testing.T) {
		b := mb.in(t)
		b.run(mctx, "freezer policy", openSection(settings, "notification-policies"),
			chromedp.SendKeys(chromedp.CSS(`#create-notification-policies input[name=name]`), "Freezers"),
			choose(`#create-notification-policies select[name=unit_id]`, freezer),
			click(`#create-notification-policies input[name=notify_on_resolve]`),
			click(`#create-notification-policies button[type=submit]`),
			waitJS(`[...document.querySelectorAll('`+rows+`')].some(tr => tr.textContent.includes('Freezers') && tr.textContent.includes('Chest freezer'))`, 10*time.Second))
	})
	var stored int
	if err := w.pool.QueryRow(bg, `SELECT count(*) FROM notification_policies WHERE org_id = $1`, org.id).Scan(&stored); err != nil || stored != 2 {
		t.Fatalf("%d policies stored (%v), want 2", stored, err)
	}

	alertOf := func(unit string) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			var id string
			if err := w.pool.QueryRow(bg, `SELECT id FROM alerts WHERE unit_id = $1 AND status <> 'resolved'`, unit).Scan(&id); err == nil {
				return id
			}
			if time.Now().After(deadline) {
				t.Fatalf("no alert opened on unit %s", unit)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	org.post(t, base, time.Now(), 9.5)
	postReadings(t, base, org.apiKey, []map[string]any{{"sensor": freezerSensor, "time": time.Now().UTC().Format(time.RFC3339Nano), "temp_c": -5.0}})
	fridgeAlert, freezerAlert := alertOf(org.unit), alertOf(freezer)

	panel := func(b *browser, alert string) (why string, decisions []string) {
		b.run(mctx, "alert page", chromedp.Navigate(base+"/o/"+org.id+"/alerts/"+alert),
			waitJS(`document.querySelector('#who-was-told tbody tr')`, 10*time.Second))
		why = value(b, mctx, "policy line", chromedp.Text(chromedp.CSS(`#notification-policy`)))
		decisions = value(b, mctx, "decisions", js[[]string](`[...document.querySelectorAll('#who-was-told tbody tr')].map(tr => tr.cells[2].textContent + '/' + tr.cells[3].textContent + '=' + tr.dataset.decision + ': ' + tr.cells[5].textContent)`))
		return why, decisions
	}
	t.Run("the fridge's warning waits for the end of the quiet hours", func(t *testing.T) {
		b := mb.in(t)
		why, decisions := panel(b, fridgeAlert)
		if !strings.Contains(why, "Kitchen nights") || !strings.Contains(why, "site policy") {
			t.Errorf("policy line %q", why)
		}
		if len(decisions) != 1 || !strings.HasPrefix(decisions[0], "Line cook/SMS=quiet_hours: quiet hours: deferred to "+quietTo+" Europe/London") {
			t.Errorf("decisions %q", decisions)
		}
		b.run(mctx, "screenshot", screenshot(t, "who-was-told-quiet"))
	})
	t.Run("the freezer's alert follows the freezer policy", func(t *testing.T) {
		b := mb.in(t)
		why, decisions := panel(b, freezerAlert)
		if !strings.Contains(why, "Freezers") || !strings.Contains(why, "unit policy") {
			t.Errorf("policy line %q", why)
		}
		if len(decisions) != 1 || !strings.HasPrefix(decisions[0], "Line cook/SMS=notified") {
			t.Errorf("decisions %q", decisions)
		}
		if junk := value(b, mctx, "junk", js[string](junkText)); junk != "" {
			t.Errorf("the alert page shows %q", junk)
		}
		// Resolved from its page, the alert tells the cook so at once.
		b.run(mctx, "resolve",
			chromedp.SendKeys(chromedp.CSS(`#resolve-form textarea[name=action]`), "Moved the stock to the walk-in"),
			choose(`#resolve-form select[name=disposition]`, "moved"),
			click(`#resolve`),
			waitJS(`[...document.querySelectorAll('#who-was-told tbody tr')].some(tr => tr.cells[1].textContent === 'Resolved notice' && tr.dataset.decision === 'notified')`, 10*time.Second))
	})
}
