package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestWebRecords drives what the app shows and records of the food-safety
// records: a freezer chart's defrost cycles and door openings with its
// learned pattern, a blast chiller's cooling logs, a sensor's calibrations
// and a site's manual-check cadence.
func TestWebRecords(t *testing.T) {
	w := newWebWorld(t)
	base := w.p.base()
	bg := context.Background()
	org := w.kitchen
	now := time.Now().UTC().Truncate(time.Second)

	// A freezer with a day of readings and what the detectors recorded.
	var freezer string
	if err := w.pool.QueryRow(bg, `INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, 'Chest freezer', 'freezer', -30, -18) RETURNING id`,
		org.id, org.site).Scan(&freezer); err != nil {
		t.Fatal(err)
	}
	ext := "FREEZER-" + org.id[:8]
	if _, err := w.pool.Exec(bg, `INSERT INTO sensors (org_id, external_id, unit_id) VALUES ($1, $2, $3)`, org.id, ext, freezer); err != nil {
		t.Fatal(err)
	}
	var readings []map[string]any
	for at := now.Add(-23 * time.Hour); at.Before(now); at = at.Add(5 * time.Minute) {
		readings = append(readings, map[string]any{"sensor": ext, "time": at.Format(time.RFC3339), "temp_c": -20.0})
	}
	postReadings(t, base, org.apiKey, readings)
	// A second freezer, whose door is opened every 5 minutes.
	var busy string
	if err := w.pool.QueryRow(bg, `INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, 'Busy freezer', 'freezer', -30, -18) RETURNING id`,
		org.id, org.site).Scan(&busy); err != nil {
		t.Fatal(err)
	}
	busyExt := "BUSY-" + org.id[:8]
	if _, err := w.pool.Exec(bg, `INSERT INTO sensors (org_id, external_id, unit_id) VALUES ($1, $2, $3)`, org.id, busyExt, busy); err != nil {
		t.Fatal(err)
	}
	var rs []map[string]any
	for _, r := range readings {
		rs = append(rs, map[string]any{"sensor": busyExt, "time": r["time"], "temp_c": -21.0})
	}
	postReadings(t, base, org.apiKey, rs)
	events := map[string]string{} // class → id
	for _, e := range []struct {
		class, kind, source string
		from, to            time.Duration
		within              bool
	}{
		{"defrost", "defrost", "detected", 9 * time.Hour, 8*time.Hour + 35*time.Minute, true},
		{"door-sensor", "door_open", "sensor", 5*time.Hour + 30*time.Minute, 5*time.Hour + 20*time.Minute, true},
		{"defrost-out", "defrost", "detected", 3 * time.Hour, 2*time.Hour + 20*time.Minute, false},
		{"door-detected", "door_open", "detected", 90 * time.Minute, 80 * time.Minute, true},
	} {
		var id string
		if err := w.pool.QueryRow(bg, `INSERT INTO unit_events (org_id, unit_id, kind, source, started_at, ended_at, peak_c, within_bounds)
			VALUES ($1, $2, $3, $4, $5, $6, -11, $7) RETURNING id`, org.id, freezer, e.kind, e.source, now.Add(-e.from), now.Add(-e.to), e.within).Scan(&id); err != nil {
			t.Fatal(err)
		}
		events[e.class] = id
	}
	if _, err := w.pool.Exec(bg, `INSERT INTO defrost_patterns (unit_id, org_id, period_seconds, anchor, phase_tolerance_seconds, duration_seconds, peak_c,
			max_peak_c, max_duration_seconds, episodes) VALUES ($1, $2, 21600, $3, 600, 1500, -10, -7, 2400, 12)`, freezer, org.id, now.Add(-9*time.Hour)); err != nil {
		t.Fatal(err)
	}

	mb := newBrowser(t)
	mctx := mb.tab()
	mb.signIn(mctx, base, "/o/"+org.id+"/units/"+freezer, "manager")

	t.Run("the freezer's chart shades its defrost cycles and door openings, with a legend and the learned pattern", func(t *testing.T) {
		b := mb.in(t)
		b.run(mctx, "unit page", chromedp.Navigate(base+"/o/"+org.id+"/units/"+freezer),
			waitJS(`JSON.parse(document.getElementById('chart').dataset.bands || '[]').length === 4`, 15*time.Second))
		got := value(b, mctx, "the chart", js[struct {
			Drawn   map[string]string // class → event id
			Colours map[string]string // class → mean RGBA at the band's middle
			Legend  []string
			Pattern string
		}](`(() => {
			const chart = document.getElementById('chart');
			const canvas = chart.querySelector('canvas');
			const g = canvas.getContext('2d');
			const bands = JSON.parse(chart.dataset.bands);
			// Above the series (a flat -20 °C), where only the bands differ:
			// a column one pixel wide, inside even the narrowest band, and
			// as tall as the hatching's period.
			const y = bands[0].top + 6;
			const mean = (x) => {
				const d = g.getImageData(Math.round(x), y, 1, Math.round(8 * devicePixelRatio)).data;
				const s = [0, 0, 0, 0];
				for (let i = 0; i < d.length; i += 4) for (let k = 0; k < 4; k++) s[k] += d[i + k];
				return s.map((v) => Math.round(v / (d.length / 4))).join(',');
			};
			const Drawn = {}, Colours = {none: mean(Math.min(...bands.map((b) => b.x)) - 40)};
			for (const b of bands) { Drawn[b.cls] = b.id; Colours[b.cls] = mean(b.x + b.w / 2); }
			return {Drawn, Colours, Legend: [...document.querySelectorAll('#event-legend [data-legend]')].map((e) => e.dataset.legend + ': ' + e.textContent),
				Pattern: document.getElementById('defrost-pattern').hidden ? '' : document.getElementById('defrost-pattern').textContent};
		})()`))
		for class, id := range events {
			if got.Drawn[class] != id {
				t.Errorf("the %s event %s is drawn as %q (drawn: %v)", class, id, got.Drawn[class], got.Drawn)
			}
		}
		c := got.Colours
		for _, class := range []string{"defrost", "defrost-out", "door-sensor", "door-detected"} {
			if c[class] == c["none"] {
				t.Errorf("the %s band looks like the chart without one (%s)", class, c[class])
			}
		}
		if c["defrost"] == c["defrost-out"] || c["door-sensor"] == c["door-detected"] {
			t.Errorf("bands look alike: %v; want a defrost within bounds told from one outside, a door sensor's from a recognised opening", c)
		}
		want := []string{"defrost: defrost as learned", "defrost-out: defrost outside its learned bounds", "door-sensor: door open (door sensor)", "door-detected: door open (recognised in the readings)"}
		if strings.Join(got.Legend, "|") != strings.Join(want, "|") {
			t.Errorf("legend %q, want %q", got.Legend, want)
		}
		if !strings.Contains(got.Pattern, "every 6 h, about 25 min, peak -10.0 °C (from 12 cycles)") || !strings.Contains(got.Pattern, "-7.0 °C and last 40 min") {
			t.Errorf("the learned pattern reads %q", got.Pattern)
		}
		facts := value(b, mctx, "chart facts", js[map[string]string](`({...document.getElementById('chart').dataset})`))
		t.Logf("unit chart of 24 h with 4 events: %s readings/buckets at %s, data+draw %s ms", facts["points"], facts["resolution"], facts["loadMs"])
		b.run(mctx, "screenshot", screenshot(t, "unit-freezer-events"))
	})

	t.Run("a freezer opened every 5 minutes for a day", func(t *testing.T) {
		b := mb.in(t)
		tag, err := w.pool.Exec(bg, `INSERT INTO unit_events (org_id, unit_id, kind, source, started_at, ended_at, within_bounds)
			SELECT $1, $2, 'door_open', CASE WHEN i % 2 = 0 THEN 'sensor' ELSE 'detected' END, $3::timestamptz - i * interval '5 minutes',
			       $3::timestamptz - i * interval '5 minutes' + interval '1 minute', true
			  FROM generate_series(1, 280) AS i`, org.id, busy, now)
		if err != nil {
			t.Fatal(err)
		}
		// The day's readings reach the 5-minute rollup within seconds.
		var facts map[string]string
		for deadline := time.Now().Add(30 * time.Second); ; {
			b.run(mctx, "busy freezer", chromedp.Navigate(base+"/o/"+org.id+"/units/"+busy),
				waitJS(`JSON.parse(document.getElementById('chart').dataset.bands || '[]').length === `+strconv.FormatInt(tag.RowsAffected(), 10), 20*time.Second))
			facts = value(b, mctx, "chart facts", js[map[string]string](`({...document.getElementById('chart').dataset})`))
			if facts["points"] != "0" || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Second)
		}
		t.Logf("unit chart of 24 h with %d door openings: %s readings/buckets at %s, data+draw %s ms", tag.RowsAffected(), facts["points"], facts["resolution"], facts["loadMs"])
	})

	t.Run("a fridge without events shows no bands, no pattern and no cooling logs", func(t *testing.T) {
		b := mb.in(t)
		b.run(mctx, "fridge page", chromedp.Navigate(base+"/o/"+org.id+"/units/"+org.unit),
			waitJS(`document.getElementById('chart').dataset.bands !== undefined`, 15*time.Second))
		got := value(b, mctx, "the fridge", js[string](`document.getElementById('chart').dataset.bands + ' ' + document.querySelectorAll('#event-legend [data-legend]').length +
			' ' + document.getElementById('defrost-pattern').hidden + ' ' + !!document.getElementById('cooling')`))
		if got != "[] 0 true false" {
			t.Errorf("the fridge page: bands, legend entries, pattern hidden, cooling section = %q; want [] 0 true false", got)
		}
	})

	var chiller string
	if err := w.pool.QueryRow(bg, `INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, 'Blast chiller', 'blast_chiller', -40, 90) RETURNING id`,
		org.id, org.site).Scan(&chiller); err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct {
		status string
		failed any
		ago    time.Duration
	}{{"passed", nil, 30 * time.Hour}, {"failed", 2, 54 * time.Hour}} {
		if _, err := w.pool.Exec(bg, `INSERT INTO cooling_logs (org_id, unit_id, item, source, started_at, start_c, stage1_deadline, stage2_deadline,
				stage1_at, status, failed_stage, ended_at)
			VALUES ($1, $2, $3, 'manual', $4, 70, $4::timestamptz + interval '2 hours', $4::timestamptz + interval '6 hours',
				$4::timestamptz + interval '90 minutes', $5, $6, $4::timestamptz + interval '5 hours')`,
			org.id, chiller, "Rice "+l.status, now.Add(-l.ago), l.status, l.failed); err != nil {
			t.Fatal(err)
		}
	}
	chillerPage := base + "/o/" + org.id + "/units/" + chiller
	sb := newBrowser(t)
	sctx := sb.tab()
	sb.signIn(sctx, base, "/o/"+org.id+"/units/"+chiller, "staff")

	var logID string
	t.Run("staff start a cooling log and follow its stages", func(t *testing.T) {
		b := sb.in(t)
		b.run(sctx, "chiller page", chromedp.Navigate(chillerPage), chromedp.WaitVisible(chromedp.CSS(`#cooling-form`)))
		recent := value(b, sctx, "recent logs", js[string](`[...document.querySelectorAll('#cooling-logs tbody tr')].map((tr) => tr.dataset.status + ': ' + tr.innerText.replace(/\s+/g, ' ')).join(' | ')`))
		if !strings.Contains(recent, "passed: ") || !strings.Contains(recent, "Rice passed") || !strings.Contains(recent, "failed: ") || !strings.Contains(recent, "stage 2 missed") {
			t.Errorf("recent cooling logs read %q; want the passed one and the one that missed stage 2", recent)
		}
		b.run(sctx, "start one", do(fillAndSubmit("#cooling-form", map[string]string{"food": "Beef stock, 20 l", "start_c": "70"})),
			chromedp.WaitVisible(chromedp.CSS(`#cooling-running`)))
		var item, status, source string
		var startC float64
		var by *string
		if err := w.pool.QueryRow(bg, `SELECT id, item, status, source, start_c, started_by::text FROM cooling_logs WHERE unit_id = $1 AND status = 'running'`, chiller).
			Scan(&logID, &item, &status, &source, &startC, &by); err != nil {
			t.Fatalf("no running cooling log stored: %v", err)
		}
		if item != "Beef stock, 20 l" || source != "manual" || startC != 70 || by == nil {
			t.Errorf("stored log: %q %s %s from %v °C by %v; want Beef stock, 20 l, manual, 70 °C, by the staff member", item, status, source, startC, by)
		}
		type stageView struct{ State, Text, Progress string }
		stages := func() []stageView {
			return value(b, sctx, "stages", js[[]stageView](`[...document.querySelectorAll('#cooling-running li[data-stage]')].map((li) => ({State: li.dataset.state,
				Text: li.innerText.replace(/\s+/g, ' '), Progress: li.querySelector('progress') ? String(li.querySelector('progress').value) : ''}))`))
		}
		st := stages()
		if len(st) != 2 || st[0].State != "in progress" || !strings.Contains(st[0].Text, "Stage 1: to 21.0 °C by") || !strings.Contains(st[0].Text, "left") ||
			st[1].State != "waiting" || !strings.Contains(st[1].Text, "Stage 2: to 5.0 °C by") {
			t.Errorf("a new log's stages: %+v", st)
		}
		// The detectors follow the food down.
		if _, err := w.pool.Exec(bg, `UPDATE cooling_logs SET last_c = 45.5 WHERE id = $1`, logID); err != nil {
			t.Fatal(err)
		}
		b.run(sctx, "reload", chromedp.Navigate(chillerPage), chromedp.WaitVisible(chromedp.CSS(`#cooling-running`)))
		if st = stages(); st[0].Progress != "50" {
			t.Errorf("at 45.5 °C of 70 → 21 °C stage 1 shows progress %q, want 50", st[0].Progress)
		}
		if _, err := w.pool.Exec(bg, `UPDATE cooling_logs SET last_c = 15, stage1_at = now() WHERE id = $1`, logID); err != nil {
			t.Fatal(err)
		}
		b.run(sctx, "reload", chromedp.Navigate(chillerPage), chromedp.WaitVisible(chromedp.CSS(`#cooling-running`)))
		if st = stages(); st[0].State != "reached" || !strings.Contains(st[0].Text, "reached") || st[1].State != "in progress" || st[1].Progress != "38" {
			t.Errorf("after stage 1 at 15 °C: %+v; want stage 1 reached, stage 2 in progress at 38", st)
		}
		b.run(sctx, "screenshot", screenshot(t, "unit-cooling"))
	})

	t.Run("a viewer sees the running log but neither starts nor cancels one", func(t *testing.T) {
		needs(t, logID)
		vb := newBrowser(t)
		vctx := vb.tab()
		vb.signIn(vctx, base, "/o/"+org.id+"/units/"+chiller, "viewer")
		vb.run(vctx, "chiller page", chromedp.WaitVisible(chromedp.CSS(`#cooling-running`)))
		if n := value(vb, vctx, "actions", js[int](`document.querySelectorAll('#cooling-form, #cancel-cooling').length`)); n != 0 {
			t.Errorf("a viewer sees %d cooling actions", n)
		}
	})

	t.Run("staff cancel the running log", func(t *testing.T) {
		needs(t, logID)
		b := sb.in(t)
		b.run(sctx, "cancel", chromedp.Navigate(chillerPage), chromedp.WaitVisible(chromedp.CSS(`#cancel-cooling`)), click(`#cancel-cooling`),
			waitJS(`!document.getElementById('cooling-running') && document.querySelector('#cooling-logs tr[data-log="`+logID+`"][data-status=cancelled]') && document.getElementById('cooling-form')`, 10*time.Second))
		var status string
		var ended *time.Time
		if err := w.pool.QueryRow(bg, `SELECT status, ended_at FROM cooling_logs WHERE id = $1`, logID).Scan(&status, &ended); err != nil || status != "cancelled" || ended == nil {
			t.Fatalf("the log is %s, ended %v (%v); want cancelled", status, ended, err)
		}
	})

	t.Run("the freezer and chiller pages fit a 360-px phone", func(t *testing.T) {
		b := sb.in(t)
		b.run(sctx, "phone", phone())
		defer b.run(sctx, "desktop", desktop())
		for _, p := range []string{freezer, chiller} {
			b.run(sctx, "phone "+p, chromedp.Navigate(base+"/o/"+org.id+"/units/"+p), waitJS(`document.getElementById('chart').dataset.bands !== undefined && document.querySelector('#cooling h2, #chart canvas')`, 15*time.Second))
			if overflow := value(b, sctx, "overflow", js[float64](`document.documentElement.scrollWidth - document.documentElement.clientWidth`)); overflow > 0 {
				t.Errorf("unit %s at 360 px scrolls sideways by %v px", p, overflow)
			}
			if junk := value(b, sctx, "junk", js[string](junkText)); junk != "" {
				t.Errorf("unit %s shows %q", p, junk)
			}
		}
		b.run(sctx, "screenshot", screenshot(t, "unit-freezer-phone"))
	})

	settings := base + "/o/" + org.id + "/settings/"
	t.Run("a manager records a sensor's calibration", func(t *testing.T) {
		b := mb.in(t)
		var sensor string
		if err := w.pool.QueryRow(bg, `SELECT public_id FROM sensors WHERE external_id = $1`, org.sensor).Scan(&sensor); err != nil {
			t.Fatal(err)
		}
		row := `table[data-section=sensors] tr[data-id="` + sensor + `"]`
		b.run(mctx, "open calibrations", openSection(settings, "sensors"), click(row+` [data-action=panel]`),
			chromedp.WaitVisible(chromedp.CSS(`#calibrations[data-id="`+sensor+`"] #calibration-form`)))
		if text := value(b, mctx, "empty list", js[string](`document.getElementById('calibrations').innerText`)); !strings.Contains(text, "No calibration recorded yet") {
			t.Errorf("a sensor without calibrations shows %q", text)
		}
		b.run(mctx, "due before calibrated is refused", do(fillAndSubmit("#calibration-form", map[string]string{"due_at": time.Now().AddDate(0, 0, -3).Format(time.DateOnly)})),
			waitJS(`!document.getElementById('toast').hidden && document.getElementById('toast').className.includes('error')`, 10*time.Second))
		if toast := value(b, mctx, "the refusal", js[string](`document.getElementById('toast').textContent`)); !strings.Contains(toast, "due_at: must be after calibrated_at") {
			t.Errorf("a due date before the calibration: toast %q, want the server's reason", toast)
		}
		due := time.Now().AddDate(1, 0, 0).Format(time.DateOnly)
		b.run(mctx, "record one", do(fillAndSubmit("#calibration-form", map[string]string{"due_at": due, "reference_c": "0", "measured_c": "0.3", "offset_c": "-0.3", "method": "ice bath", "certificate": "CERT-77"})),
			waitJS(`[...document.querySelectorAll('#calibration-list tbody tr')].some((tr) => tr.textContent.includes('ice bath') && tr.textContent.includes('CERT-77') && tr.textContent.includes('-0.30 °C'))`, 10*time.Second))
		var ref, measured, offset float64
		var method string
		var dueAt, calibrated time.Time
		if err := w.pool.QueryRow(bg, `SELECT c.reference_c, c.measured_c, c.offset_c, c.method, c.due_at, c.calibrated_at
			FROM sensor_calibrations c JOIN sensors s ON s.id = c.sensor_id WHERE s.public_id = $1`, sensor).Scan(&ref, &measured, &offset, &method, &dueAt, &calibrated); err != nil {
			t.Fatalf("no calibration stored: %v", err)
		}
		b.run(mctx, "screenshot", screenshot(t, "settings-calibrations"))
		if ref != 0 || measured != 0.3 || offset != -0.3 || method != "ice bath" || time.Since(calibrated) > time.Hour || dueAt.Sub(calibrated) < 360*24*time.Hour {
			t.Errorf("stored calibration: %v / %v / %v, %q, calibrated %v, due %v", ref, measured, offset, method, calibrated, dueAt)
		}
	})

	t.Run("a manager sets a site's manual-check cadence", func(t *testing.T) {
		b := mb.in(t)
		row := `table[data-section=sites] tr[data-id="` + org.site + `"]`
		b.run(mctx, "edit the site", openSection(settings, "sites"), click(row+` [data-action=edit]`),
			chromedp.WaitVisible(chromedp.CSS(`#edit-sites input[name=manual_log_cadence_minutes]`)))
		label := value(b, mctx, "label", js[string](`document.querySelector('#edit-sites input[name=manual_log_cadence_minutes]').closest('.field').querySelector('label').textContent`))
		if label != "Manual check every (minutes)" {
			t.Errorf("the cadence field is labelled %q", label)
		}
		b.run(mctx, "save 240", chromedp.SetValue(chromedp.CSS(`#edit-sites input[name=manual_log_cadence_minutes]`), "240"), click(`#edit-sites button[type=submit]`),
			waitJS(`!document.querySelector('#edit-sites') && document.querySelector('`+row+`').textContent.includes('every 4 h')`, 10*time.Second))
		var cadence *int
		if err := w.pool.QueryRow(bg, `SELECT manual_log_cadence_minutes FROM sites WHERE id = $1`, org.site).Scan(&cadence); err != nil || cadence == nil || *cadence != 240 {
			t.Fatalf("stored cadence %v (%v), want 240", cadence, err)
		}
	})
}
