package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/alerting"
)

// TestWebFoodSafety drives what the app shows of the food-safety rules and
// alerts: the rule form's wording per kind, and an alert raised the way the
// detectors raise one (alerting.RaiseTx) on the list and its page.
func TestWebFoodSafety(t *testing.T) {
	w := newWebWorld(t)
	base := w.p.base()
	bg := context.Background()
	org := w.kitchen
	settings := base + "/o/" + org.id + "/settings/"
	if _, err := alerting.EnsureRules(bg, w.pool, org.id); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t)
	ctx := b.tab()
	b.signIn(ctx, base, "/o/"+org.id+"/settings/alert-rules", "manager")

	t.Run("the rule form labels threshold and confirm delay per kind", func(t *testing.T) {
		b := b.in(t)
		b.run(ctx, "alert rules", openSection(settings, "alert-rules"), chromedp.WaitVisible(chromedp.CSS(`#create-alert-rules select[name=kind]`)))
		type labels struct{ Threshold, ThresholdHint, Confirm, ConfirmHint, Option string }
		want := map[string]labels{
			"trend_warning":      {"Lead time (minutes)", "within this many minutes", "Sustained for (seconds)", "must hold", "Trend heading out of range"},
			"defrost":            {"Peak allowance (°C above the learned peak)", "above its learned peak", "Longer than learned by (seconds)", "learned duration", "Defrost outside its learned pattern"},
			"door_open":          {"Open for (minutes)", "door may stay open", "Confirm after (seconds)", "Not used", "Door left open"},
			"time_out_of_temp":   {"Out of range (minutes a day)", "per local day", "Confirm after (seconds)", "Not used", "Time out of range per day"},
			"cooling":            {"Warn before the deadline (minutes)", "projected miss", "Confirm after (seconds)", "Not used", "Cooling behind schedule"},
			"manual_log_missed":  {"Grace (minutes)", "cadence", "Confirm after (seconds)", "Not used", "Manual check missed"},
			"calibration_due":    {"Warn ahead (days)", "calibration is due", "Confirm after (seconds)", "Not used", "Calibration due"},
			"sensor_implausible": {"Stuck for (hours)", "empty: 6", "Confirm after (seconds)", "Not used", "Implausible readings"},
			"temp_high":          {"Threshold (°C)", "safe maximum", "Confirm after (seconds)", "must hold before an alert opens", "Temperature too high"},
		}
		for kind, wl := range want {
			b.run(ctx, "choose "+kind, choose(`#create-alert-rules select[name=kind]`, kind))
			got := value(b, ctx, "labels of "+kind, js[labels](`(() => {
				const f = (n) => document.querySelector('#create-alert-rules [name=' + n + ']').closest('.field');
				const hint = (el) => (el.querySelector('small') || {}).textContent || '';
				const s = document.querySelector('#create-alert-rules select[name=kind]');
				return {Threshold: f('threshold').querySelector('label').textContent, ThresholdHint: hint(f('threshold')),
					Confirm: f('confirm_seconds').querySelector('label').textContent, ConfirmHint: hint(f('confirm_seconds')),
					Option: s.options[s.selectedIndex].textContent};
			})()`))
			if got.Threshold != wl.Threshold || got.Confirm != wl.Confirm || !strings.Contains(got.ThresholdHint, wl.ThresholdHint) ||
				!strings.Contains(got.ConfirmHint, wl.ConfirmHint) || !strings.HasPrefix(got.Option, wl.Option) {
				t.Errorf("%s: the form shows %+v; want %+v", kind, got, wl)
			}
		}
	})

	t.Run("a door rule without a threshold is refused in the server's words, with one it is stored", func(t *testing.T) {
		b := b.in(t)
		b.run(ctx, "alert rules", openSection(settings, "alert-rules"),
			choose(`#create-alert-rules select[name=unit_id]`, org.unit),
			choose(`#create-alert-rules select[name=kind]`, "door_open"),
			click(`#create-alert-rules button[type=submit]`),
			waitJS(`!document.getElementById('toast').hidden && document.getElementById('toast').className.includes('error')`, 10*time.Second))
		toast := value(b, ctx, "the refusal", js[string](`document.getElementById('toast').textContent`))
		if !strings.Contains(toast, "threshold: is required") {
			t.Errorf("a door rule without a threshold: the toast says %q, want the server's reason for threshold", toast)
		}
		b.run(ctx, "with a threshold", chromedp.SendKeys(chromedp.CSS(`#create-alert-rules input[name=threshold]`), "12"),
			click(`#create-alert-rules button[type=submit]`),
			waitJS(`[...document.querySelectorAll('table[data-section=alert-rules] tbody tr')].some(tr => tr.textContent.includes('Prep fridge') && tr.textContent.includes('Door left open') && tr.textContent.includes('12 min open'))`, 10*time.Second))
		var threshold float64
		if err := w.pool.QueryRow(bg, `SELECT threshold FROM alert_rules WHERE unit_id = $1 AND kind = 'door_open'`, org.unit).Scan(&threshold); err != nil || threshold != 12 {
			t.Fatalf("stored door rule: threshold %v (%v), want 12", threshold, err)
		}
		// The defaults read in their own units too.
		rows := value(b, ctx, "default rows", js[[]string](`[...document.querySelectorAll('table[data-section=alert-rules] tbody tr')].map(tr => tr.innerText.replace(/\s+/g, ' '))`))
		for _, want := range []string{"30 min ahead of the limit", "240 min a day", "14 days ahead", "6 h (built-in)", "3.0 °C above the learned peak", "30 min before a stage’s deadline", "30 min past the site’s cadence"} {
			found := false
			for _, r := range rows {
				found = found || strings.Contains(r, want)
			}
			if !found {
				t.Errorf("no default rule reads %q; rows: %q", want, rows)
			}
		}
	})

	// An alert raised as the detectors raise one.
	ev, err := alerting.NewEvaluator(alerting.Config{Pool: w.pool, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := alerting.EffectiveRules(bg, w.pool, org.id, org.unit)
	if err != nil {
		t.Fatal(err)
	}
	var trend alerting.Rule
	for _, r := range rules {
		if r.Kind == alerting.KindTrendWarning {
			trend = r
		}
	}
	if trend.ID == "" {
		t.Fatalf("the fridge has no trend_warning rule among %+v", rules)
	}
	now := time.Now().UTC().Truncate(time.Second)
	cross := now.Add(24 * time.Minute)
	const summary = "Temperature trending up at 1.2 °C/h: it will pass 5.0 °C around 14:26 unless something changes."
	var alertID string
	if err := pgx.BeginFunc(bg, w.pool, func(tx pgx.Tx) error {
		o, _, err := ev.RaiseTx(bg, tx, org.unit, trend, alerting.Condition{Started: now.Add(-10 * time.Minute), At: now, Value: 4.52, Summary: summary,
			Details: map[string]any{"slope_c_per_h": 1.2, "level_c": 4.52, "limit_c": 5.0, "predicted_cross": cross, "minutes_to_limit": 24}})
		alertID = o.AlertID
		return err
	}); err != nil || alertID == "" {
		t.Fatalf("raise a trend warning: %q, %v", alertID, err)
	}

	t.Run("the alert list names the kind and shows the summary, no peak", func(t *testing.T) {
		b := b.in(t)
		item := `#alerts-open a[data-alert="` + alertID + `"]`
		b.run(ctx, "alert list", chromedp.Navigate(base+"/o/"+org.id+"/alerts"), chromedp.WaitVisible(chromedp.CSS(item)))
		text := value(b, ctx, "the item", js[string](`document.querySelector('`+item+`').innerText`))
		if !strings.Contains(text, "Prep fridge · heading out of range") || !strings.Contains(text, summary) || strings.Contains(text, "peak") {
			t.Errorf("the listed trend warning reads %q; want its kind's name, its summary and no peak", text)
		}
		// The overview's open alerts too.
		item = `#main a[data-alert="` + alertID + `"]`
		b.run(ctx, "overview", chromedp.Navigate(base+"/o/"+org.id), chromedp.WaitVisible(chromedp.CSS(item)))
		if text := value(b, ctx, "the overview's item", js[string](`document.querySelector('`+item+`').innerText`)); !strings.Contains(text, "heading out of range") || !strings.Contains(text, summary) || strings.Contains(text, "peak") {
			t.Errorf("the overview lists the trend warning as %q; want its kind's name, its summary and no peak", text)
		}
	})

	t.Run("the alert page shows the summary, the limit in minutes and the details readably", func(t *testing.T) {
		b := b.in(t)
		b.run(ctx, "alert page", chromedp.Navigate(base+"/o/"+org.id+"/alerts/"+alertID), chromedp.WaitVisible(chromedp.CSS(`#timeline li[data-event=triggered]`)))
		got := value(b, ctx, "the page", js[struct {
			Title, Summary, Table string
			Details               map[string]string
			Raw                   bool
		}](`(() => {
			const d = {};
			for (const div of document.querySelectorAll('#timeline li[data-event=triggered] dl[data-details] > div')) d[div.dataset.key] = div.querySelector('dt').textContent + ': ' + div.querySelector('dd').textContent;
			return {Title: document.querySelector('h1').textContent, Summary: (document.getElementById('alert-summary') || {}).textContent || '',
				Table: document.querySelector('.card table').innerText.replace(/\s+/g, ' '), Details: d,
				Raw: /[{}"]|rule_id|T\d\d:\d\d:\d\d/.test(document.getElementById('timeline').innerText)};
		})()`))
		if got.Title != "Prep fridge: heading out of range" || got.Summary != summary {
			t.Errorf("title %q, summary %q; want the kind's name and %q", got.Title, got.Summary, summary)
		}
		if !strings.Contains(got.Table, "Lead time 30 min ahead of the limit") || strings.Contains(got.Table, "Worst") {
			t.Errorf("the alert's facts read %q; want the lead time in minutes and no worst temperature", got.Table)
		}
		for key, want := range map[string]string{"slope_c_per_h": "Trend: +1.2 °C/h", "level_c": "Temperature now: 4.5 °C", "limit_c": "Limit: 5.0 °C", "minutes_to_limit": "Time to the limit: 24 min"} {
			if got.Details[key] != want {
				t.Errorf("detail %s reads %q, want %q (all: %v)", key, got.Details[key], want, got.Details)
			}
		}
		if p := got.Details["predicted_cross"]; !strings.HasPrefix(p, "Expected to cross the limit: ") || strings.Contains(p, cross.Format("15:04:05")) {
			t.Errorf("the predicted crossing reads %q, want a local date and time", p)
		}
		if got.Raw {
			t.Error("the timeline shows raw JSON or ids")
		}
		if junk := value(b, ctx, "junk", js[string](junkText)); junk != "" {
			t.Errorf("the alert page shows %q", junk)
		}
	})

	t.Run("an alert about one probe names it", func(t *testing.T) {
		b := b.in(t)
		var rule alerting.Rule
		for _, r := range rules {
			if r.Kind == alerting.KindSensorImplausible {
				rule = r
			}
		}
		var sensor int64
		if err := w.pool.QueryRow(bg, `SELECT id FROM sensors WHERE external_id = $1`, org.sensor).Scan(&sensor); err != nil {
			t.Fatal(err)
		}
		var id string
		if err := pgx.BeginFunc(bg, w.pool, func(tx pgx.Tx) error {
			o, _, err := ev.RaiseTx(bg, tx, org.unit, rule, alerting.Condition{Started: now.Add(-6 * time.Hour), At: now, SensorID: sensor, Value: 3.1,
				Summary: "The probe has read exactly 3.1 °C for 6 hours: check it.",
				Details: map[string]any{"sensor": sensor, "stuck": true, "jump": false, "c": 3.1, "stuck_hours": 6}})
			id = o.AlertID
			return err
		}); err != nil || id == "" {
			t.Fatalf("raise an implausible reading: %q, %v", id, err)
		}
		b.run(ctx, "alert page", chromedp.Navigate(base+"/o/"+org.id+"/alerts/"+id), chromedp.WaitVisible(chromedp.CSS(`#timeline dl[data-details]`)))
		got := value(b, ctx, "the page", js[string](`document.querySelector('.card table').innerText.replace(/\s+/g, ' ') + ' | ' +
			[...document.querySelectorAll('#timeline dl[data-details] > div')].map((d) => d.innerText.replace(/\s+/g, ' ')).join(' | ')`))
		for _, want := range []string{"Sensor " + org.sensor, "Stuck for 6 h (built-in)", "Repeating one value Yes", "Jumped No", "Reading 3.1 °C", "Allowed to repeat one value 6 h"} {
			if !strings.Contains(got, want) {
				t.Errorf("the implausible-reading alert reads %q; want %q in it", got, want)
			}
		}
	})

	t.Run("a cleared food-safety alert says why it resolved itself", func(t *testing.T) {
		b := b.in(t)
		if err := pgx.BeginFunc(bg, w.pool, func(tx pgx.Tx) error {
			_, err := ev.ClearTx(bg, tx, org.unit, trend, time.Now(), "the trend reversed")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		b.run(ctx, "alert page", chromedp.Navigate(base+"/o/"+org.id+"/alerts/"+alertID),
			waitJS(`document.querySelector('#timeline li[data-event=auto_resolved]')`, 10*time.Second))
		text := value(b, ctx, "the event", js[string](`document.querySelector('#timeline li[data-event=auto_resolved] strong').textContent`))
		if text != "Resolved itself: the trend reversed" {
			t.Errorf("the auto-resolved event reads %q, want the detector's reason", text)
		}
		b.run(ctx, "screenshot", screenshot(t, "alert-trend"))
	})

	t.Run("in °F a defrost's allowance is a °F difference, stored as °C", func(t *testing.T) {
		b := b.in(t)
		if _, err := w.pool.Exec(bg, `UPDATE organizations SET settings = settings || '{"temperature_unit": "F"}' WHERE id = $1`, org.id); err != nil {
			t.Fatal(err)
		}
		b.run(ctx, "alert rules in °F", openSection(settings, "alert-rules"),
			choose(`#create-alert-rules select[name=unit_id]`, org.unit),
			choose(`#create-alert-rules select[name=kind]`, "defrost"))
		label := value(b, ctx, "label", js[string](`document.querySelector('#create-alert-rules [name=threshold]').closest('.field').querySelector('label').textContent`))
		if label != "Peak allowance (°F above the learned peak)" {
			t.Errorf("the defrost threshold in °F is labelled %q", label)
		}
		b.run(ctx, "add one", chromedp.SendKeys(chromedp.CSS(`#create-alert-rules input[name=threshold]`), "9"),
			click(`#create-alert-rules button[type=submit]`),
			waitJS(`[...document.querySelectorAll('table[data-section=alert-rules] tbody tr')].some(tr => tr.textContent.includes('Prep fridge') && tr.textContent.includes('9.0 °F above the learned peak'))`, 10*time.Second))
		var threshold float64
		if err := w.pool.QueryRow(bg, `SELECT threshold FROM alert_rules WHERE unit_id = $1 AND kind = 'defrost'`, org.unit).Scan(&threshold); err != nil || threshold != 5 {
			t.Fatalf("stored defrost allowance %v (%v), want 5 (°C)", threshold, err)
		}
		b.run(ctx, "the freezer default in °F", waitJS(`[...document.querySelectorAll('table[data-section=alert-rules] tbody tr')].some(tr => tr.textContent.includes('5.4 °F above the learned peak'))`, 5*time.Second))
	})
}
