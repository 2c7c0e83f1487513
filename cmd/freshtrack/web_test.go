package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/demo"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// webWorld is a server with the development issuer and the organisations
// the browser tests visit: the demo kitchen, a kitchen whose fridge alerts
// at once, a 200-unit site, and an organisation the personas are not in.
type webWorld struct {
	p        *serveProc
	pool     *pgxpool.Pool
	keyFile  string
	fleet    demo.Fleet
	kitchen  *liveOrg
	big      *liveOrg
	stranger *liveOrg
}

func newWebWorld(t *testing.T) *webWorld {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary and a browser; skipped with -short")
	}
	chromiumPath(t)
	dbURL, pool := pgtest.NewDBURL(t)
	w := &webWorld{pool: pool, keyFile: filepath.Join(t.TempDir(), "dev.pem")}
	w.p = startServe(t, "web", dbURL, nil, "--dev-auth", "--dev-auth-key", w.keyFile, "--rollup-interval", "1s")
	logOnFailure(t, w.p)
	ctx := context.Background()
	var err error
	if w.fleet, err = demo.Create(ctx, pool, 6); err != nil {
		t.Fatal(err)
	}
	w.kitchen = newLiveOrg(t, pool, w.keyFile, w.p.addr, "Browser Kitchen")
	w.big = newLiveOrg(t, pool, w.keyFile, w.p.addr, "Big Site")
	w.stranger = newLiveOrg(t, pool, w.keyFile, w.p.addr, "Stranger Foods")
	// The personas of the sign-in page are members of the first three.
	for _, org := range []string{w.fleet.OrgID, w.kitchen.id, w.big.id} {
		for _, role := range []auth.Role{auth.Manager, auth.Staff, auth.Viewer} {
			if _, err := mintDevToken(ctx, pool, w.keyFile, w.p.addr, org, role, "", "", time.Hour); err != nil {
				t.Fatal(err)
			}
		}
	}
	return w
}

// openAlert waits until the kitchen's fridge has an open alert and returns its id.
func (w *webWorld) openAlert(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var id string
		err := w.pool.QueryRow(context.Background(), `SELECT id FROM alerts WHERE org_id = $1 AND status <> 'resolved'`, w.kitchen.id).Scan(&id)
		if err == nil {
			return id
		}
		if time.Now().After(deadline) {
			t.Fatalf("no alert opened: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestWebApp(t *testing.T) {
	w := newWebWorld(t)
	base := w.p.base()
	b := newBrowser(t)
	ctx := b.tab()

	// An alert's link (as the SMS carries it) asks for sign-in first and
	// comes back to the alert.
	w.kitchen.post(t, base, time.Now(), 9.5)
	alertID := w.openAlert(t)
	alertPath := "/o/" + w.kitchen.id + "/alerts/" + alertID
	b.signIn(ctx, base, alertPath, "manager")
	path := value(b, ctx, "back on the alert after sign-in", chromedp.Location())
	if !strings.HasSuffix(path, alertPath) {
		t.Fatalf("after sign-in the browser is at %s, want %s", path, alertPath)
	}

	t.Run("the overview shows the demo units and a reading arrives live", func(t *testing.T) {
		b := b.in(t)
		b.run(ctx, "organisation list", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`.orglist`)))
		b.run(ctx, "open the demo kitchen", chromedp.Click(chromedp.CSS(`a[href="/o/`+w.fleet.OrgID+`"]`)),
			chromedp.WaitVisible(chromedp.CSS(`.tile[data-unit]`)))
		names := value(b, ctx, "tiles", js[[]string](`[...document.querySelectorAll('.tile .name')].map(e => e.textContent)`))
		for _, u := range w.fleet.Units {
			if !contains(names, u.Name) {
				t.Errorf("overview lacks %q: %v", u.Name, names)
			}
		}
		if !contains(names, "Prep fridge 2") || len(names) != len(w.fleet.Units) {
			t.Errorf("tiles %v, want the %d demo units", names, len(w.fleet.Units))
		}
		// The organisation switcher lists every organisation of the manager.
		options := value(b, ctx, "switcher", js[int](`document.querySelectorAll('#org-switch option').length`))
		if options != 3 {
			t.Errorf("organisation switcher offers %d organisations, want 3", options)
		}
		// Let the stream open before the reading is committed.
		b.run(ctx, "stream open", waitJS(`document.querySelector('#live-status').className === 'live on'`, 10*time.Second))
		u := w.fleet.Units[1]
		posted := time.Now()
		postReadings(t, base, w.fleet.APIKey, []map[string]any{{"sensor": u.Sensors[0], "time": time.Now().UTC().Format(time.RFC3339Nano), "temp_c": 4.2, "battery": 77}})
		committed := time.Now()
		b.run(ctx, "the posted reading on its tile without reload",
			waitJS(`document.querySelector('.tile[data-unit="`+u.ID+`"] .temp').dataset.tempC === '4.2'`, 10*time.Second))
		shownAt := value(b, ctx, "event time", js[float64](`Number(document.getElementById('main').dataset.lastEvent)`))
		t.Logf("live update: reading committed %v after the post began, shown %v after the commit answered",
			committed.Sub(posted).Round(time.Millisecond), time.UnixMilli(int64(shownAt)).Sub(committed).Round(time.Millisecond))
		battery := value(b, ctx, "battery", chromedp.Text(chromedp.CSS(`.tile[data-unit="`+u.ID+`"] .battery`)))
		if !strings.Contains(battery, "77%") {
			t.Errorf("battery shows %q, want 77%%", battery)
		}
		b.run(ctx, "screenshot", screenshot(t, "overview"))
	})

	t.Run("an alert is acknowledged and resolved from its page", func(t *testing.T) {
		b := b.in(t)
		b.run(ctx, "alert list", chromedp.Navigate(base+"/o/"+w.kitchen.id+"/alerts"),
			chromedp.WaitVisible(chromedp.CSS(`#alerts-open a[data-alert="`+alertID+`"]`)),
			chromedp.Click(chromedp.CSS(`#alerts-open a[data-alert="`+alertID+`"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#ack`)))
		b.run(ctx, "acknowledge", chromedp.Click(chromedp.CSS(`#ack`)),
			waitJS(`document.querySelector('#alert-status [data-status]').dataset.status === 'acknowledged'`, 10*time.Second))
		// The page re-renders on its own alert events, which can replace a
		// node between chromedp finding it and typing into it: fill and
		// submit each form in one step of the page's own script.
		b.run(ctx, "comment", do(fillAndSubmit("#comment-form", map[string]string{"text": "door seal checked"})),
			waitJS(`[...document.querySelectorAll('#timeline li')].some(li => li.textContent.includes('door seal checked'))`, 10*time.Second))
		// The API requires the corrective action of a temperature alert.
		b.run(ctx, "resolve without an action is refused", do(fillAndSubmit("#resolve-form", nil)),
			waitJS(`!document.getElementById('toast').hidden && document.getElementById('toast').className.includes('error')`, 10*time.Second))
		b.run(ctx, "resolve",
			do(fillAndSubmit("#resolve-form", map[string]string{"action": "moved stock to the walk-in, called the technician", "disposition": "moved"})),
			waitJS(`document.querySelector('#alert-status [data-status]').dataset.status === 'resolved'`, 10*time.Second),
			chromedp.WaitVisible(chromedp.CSS(`#corrective-actions`)))
		var status, action string
		if err := w.pool.QueryRow(context.Background(), `
			SELECT a.status, c.action FROM alerts a JOIN corrective_actions c ON c.alert_id = a.id WHERE a.id = $1`, alertID).Scan(&status, &action); err != nil {
			t.Fatal(err)
		}
		if status != "resolved" || !strings.Contains(action, "walk-in") {
			t.Fatalf("stored alert %s with action %q", status, action)
		}
		b.run(ctx, "timeline shows the notification's delivery status", waitJS(`document.querySelectorAll('#timeline li[data-delivery]').length > 0`, 5*time.Second))
		b.run(ctx, "screenshot", screenshot(t, "alert"))
	})

	t.Run("the unit page charts the series with presets", func(t *testing.T) {
		b := b.in(t)
		// 30 days every 10 minutes, with a 6-hour gap five days ago.
		now := time.Now().UTC().Truncate(time.Minute)
		var readings []map[string]any
		for at := now.Add(-30 * 24 * time.Hour); at.Before(now.Add(-time.Minute)); at = at.Add(10 * time.Minute) {
			if age := now.Sub(at); age > 5*24*time.Hour && age < 5*24*time.Hour+6*time.Hour {
				continue
			}
			h := float64(at.Unix()%86400) / 3600
			readings = append(readings, map[string]any{"sensor": w.kitchen.sensor, "time": at.Format(time.RFC3339), "temp_c": math.Round((3+1.2*math.Sin(h/24*2*math.Pi))*100) / 100})
		}
		postReadings(t, base, w.kitchen.apiKey, readings)
		w.waitRollups(t, 600)
		unitPath := "/o/" + w.kitchen.id + "/units/" + w.kitchen.unit
		b.run(ctx, "unit page", chromedp.Navigate(base+unitPath), chromedp.WaitVisible(chromedp.CSS(`#chart canvas`)),
			waitJS(`Number(document.getElementById('chart').dataset.points) > 0`, 10*time.Second))
		rows := value(b, ctx, "latest readings", js[int](`document.querySelectorAll('#latest-readings tbody tr').length`))
		if rows == 0 {
			t.Error("no latest readings")
		}
		for _, span := range []string{"21600", "604800", "2592000"} {
			start := time.Now()
			b.run(ctx, "preset "+span, do(`document.getElementById('chart').dataset.loadMs = ''`),
				chromedp.Click(chromedp.CSS(`button[data-span="`+span+`"]`)),
				waitJS(`document.getElementById('chart').dataset.loadMs !== ''`, 10*time.Second))
			facts := value(b, ctx, "chart facts", js[map[string]string](`({...document.getElementById('chart').dataset})`))
			res, loadMs, points, gaps := facts["resolution"], facts["loadMs"], facts["points"], facts["gaps"]
			t.Logf("unit chart, last %ss: resolution %s, %s points, %s gaps, data+draw %s ms, click to drawn %v", span, res, points, gaps, loadMs, time.Since(start).Round(time.Millisecond))
			if points == "0" {
				t.Errorf("preset %s drew no points", span)
			}
			if span == "604800" && gaps == "0" {
				t.Errorf("the 7-day chart shows no gap, want the 6-hour one")
			}
		}
		b.run(ctx, "screenshot", chromedp.Click(chromedp.CSS(`button[data-span="604800"]`)), waitJS(`document.getElementById('chart').dataset.gaps !== '0'`, 10*time.Second), screenshot(t, "unit"))
	})

	t.Run("a manual check is recorded", func(t *testing.T) {
		b := b.in(t)
		b.run(ctx, "log page", chromedp.Navigate(base+"/o/"+w.kitchen.id+"/log"), chromedp.WaitVisible(chromedp.CSS(`#manual-check`)),
			chromedp.SendKeys(chromedp.CSS(`#manual-check input[name=temp]`), "3.4"),
			chromedp.Click(chromedp.CSS(`#record-check`)),
			waitJS(`[...document.querySelectorAll('#recent-checks td')].some(td => td.textContent.includes('3.4'))`, 10*time.Second))
		var n int
		if err := w.pool.QueryRow(context.Background(), `SELECT count(*) FROM manual_checks WHERE org_id = $1 AND temp_c = 3.4`, w.kitchen.id).Scan(&n); err != nil || n != 1 {
			t.Fatalf("stored manual checks of 3.4 °C: %d (%v)", n, err)
		}
	})

	t.Run("the HACCP PDF downloads", func(t *testing.T) {
		b := b.in(t)
		dir := t.TempDir()
		b.run(ctx, "reports page", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
				Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir})
			return err
		}),
			chromedp.Navigate(base+"/o/"+w.kitchen.id+"/reports"), chromedp.WaitVisible(chromedp.CSS(`#download-pdf`)),
			chromedp.Click(chromedp.CSS(`#download-pdf`)))
		deadline := time.Now().Add(20 * time.Second)
		for {
			files, _ := filepath.Glob(filepath.Join(dir, "haccp-*.pdf"))
			if len(files) == 1 {
				b, err := os.ReadFile(files[0])
				if err == nil && bytes.HasPrefix(b, []byte("%PDF-")) && bytes.Contains(b, []byte("%%EOF")) {
					t.Logf("downloaded %s (%d bytes)", filepath.Base(files[0]), len(b))
					break
				}
			}
			if time.Now().After(deadline) {
				entries, _ := os.ReadDir(dir)
				t.Fatalf("no complete haccp-*.pdf downloaded into %s: %v", dir, entries)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("a manager signs the demo week and the PDF shows it", func(t *testing.T) { signDemoWeek(t, w, b.in(t), ctx) })

	t.Run("pages of another organisation answer 404", func(t *testing.T) {
		b := b.in(t)
		for _, p := range []string{"/o/" + w.stranger.id, "/o/" + w.stranger.id + "/alerts", "/o/" + w.stranger.id + "/units/" + w.stranger.unit, "/o/not-a-uuid"} {
			status := value(b, ctx, "fetch "+p, js[int](`fetch(`+jsString(p)+`).then(r => r.status)`))
			if status != 404 {
				t.Errorf("GET %s as a manager of other organisations: %d, want 404", p, status)
			}
		}
	})

	t.Run("every page fits a 360-px phone without horizontal scroll", func(t *testing.T) {
		b := b.in(t)
		pages := []string{"", "/alerts", "/alerts/" + alertID, "/units/" + w.kitchen.unit, "/log", "/reports", "/settings"}
		b.run(ctx, "phone", phone())
		defer b.run(ctx, "desktop", desktop())
		for _, p := range pages {
			b.run(ctx, "phone "+p, chromedp.Navigate(base+"/o/"+w.kitchen.id+p), waitJS(`!document.querySelector('main .loading')`, 10*time.Second),
				chromedp.Sleep(200*time.Millisecond))
			overflow := value(b, ctx, "overflow", js[float64](`document.documentElement.scrollWidth - document.documentElement.clientWidth`))
			if junk := value(b, ctx, "junk", js[string](junkText)); junk != "" {
				t.Errorf("%s shows %q", p, junk)
			}
			if overflow > 0 {
				t.Errorf("%s at 360 px scrolls sideways by %v px", p, overflow)
			}
			if p == "" {
				b.run(ctx, "screenshot", screenshot(t, "overview-phone"))
			}
		}
	})

	t.Run("a viewer sees no acknowledge button and cannot acknowledge", func(t *testing.T) {
		w.kitchen.post(t, base, time.Now(), 3)
		w.kitchen.post(t, base, time.Now().Add(time.Second), 10)
		second := w.openAlert(t)
		vb := newBrowser(t)
		vctx := vb.tab()
		vb.signIn(vctx, base, "/o/"+w.kitchen.id+"/alerts/"+second, "viewer")
		vb.run(vctx, "alert page as viewer", chromedp.WaitVisible(chromedp.CSS(`#timeline`)))
		if junk := value(vb, vctx, "junk", js[string](junkText)); junk != "" {
			t.Errorf("the alert page shows a viewer %q", junk)
		}
		buttons := value(vb, vctx, "no actions", js[int](`document.querySelectorAll('#ack, #resolve, #alert-actions').length`))
		if buttons != 0 {
			t.Errorf("a viewer sees %d alert actions", buttons)
		}
		var answer struct {
			Status int    `json:"status"`
			Type   string `json:"type"`
		}
		call := func(withCSRF bool) {
			csrf := `''`
			if withCSRF {
				csrf = `JSON.parse(document.getElementById('page-data').textContent).csrf`
			}
			answer = value(vb, vctx, "POST ack as viewer", js[struct {
				Status int    `json:"status"`
				Type   string `json:"type"`
			}](`fetch('/v1/orgs/`+w.kitchen.id+`/alerts/`+second+`/ack', {method: 'POST', headers: {'X-CSRF-Token': `+csrf+`, 'Content-Type': 'application/json'}, body: '{}'})
				.then(async r => ({status: r.status, type: (await r.json()).type}))`))
		}
		call(true)
		if answer.Status != 403 || !strings.HasSuffix(answer.Type, "/forbidden") {
			t.Errorf("viewer's POST ack: %+v, want 403 forbidden", answer)
		}
		call(false)
		if answer.Status != 403 || !strings.HasSuffix(answer.Type, "/csrf") {
			t.Errorf("POST ack without the page's CSRF token: %+v, want 403 csrf", answer)
		}
		var status string
		if err := w.pool.QueryRow(context.Background(), `SELECT status FROM alerts WHERE id = $1`, second).Scan(&status); err != nil || status != "triggered" {
			t.Fatalf("the alert is %s after a viewer's attempts (%v), want triggered", status, err)
		}
	})

	t.Run("a 200-unit site's overview", func(t *testing.T) {
		b := b.in(t)
		ids := seedUnits(t, w.pool, w.big, 200)
		var readings []map[string]any
		for i, ext := range ids {
			readings = append(readings, map[string]any{"sensor": ext, "time": time.Now().UTC().Format(time.RFC3339Nano), "temp_c": 2 + float64(i%30)/10, "battery": 90})
		}
		postReadings(t, base, w.big.apiKey, readings)
		b.run(ctx, "big overview", chromedp.Navigate(base+"/o/"+w.big.id), waitJS(`document.getElementById('main').dataset.renderedMs !== undefined`, 15*time.Second))
		timing := value(b, ctx, "timing", js[struct {
			Page, Latest, Rendered float64
			Tiles                  int
		}](`(() => {
				const nav = performance.getEntriesByType('navigation')[0];
				const latest = performance.getEntriesByType('resource').find(e => e.name.includes('/latest'));
				return {Page: nav.responseStart - nav.requestStart, Latest: latest ? latest.responseStart - latest.requestStart : -1,
					Rendered: Number(document.getElementById('main').dataset.renderedMs), Tiles: document.querySelectorAll('.tile').length};
			})()`))
		if timing.Tiles != 201 {
			t.Errorf("big site shows %d tiles, want 201", timing.Tiles)
		}
		t.Logf("200-unit overview: page %.0f ms and /latest %.0f ms to first byte, tiles drawn %.0f ms after the script started", timing.Page, timing.Latest, timing.Rendered)
	})
}

// waitRollups waits until the kitchen unit's last 30 days have at least n
// hourly buckets: the backfill went through the rollups.
func (w *webWorld) waitRollups(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		from := time.Now().Add(-30 * 24 * time.Hour).UTC().Format(time.RFC3339)
		req, _ := http.NewRequest("GET", w.p.base()+"/v1/orgs/"+w.kitchen.id+"/units/"+w.kitchen.unit+"/readings?resolution=1h&from="+from, nil)
		req.Header.Set("Authorization", "Bearer "+w.kitchen.tokens[auth.Viewer])
		var s struct {
			Buckets []json.RawMessage `json:"buckets"`
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&s)
			resp.Body.Close()
		}
		if len(s.Buckets) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the backfill has %d hourly buckets after 60s, want %d (%v)", len(s.Buckets), n, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// fillAndSubmit is a script that sets a form's fields by name and submits
// it as its submit button would (requestSubmit runs the page's handler).
func fillAndSubmit(form string, fields map[string]string) string {
	f, _ := json.Marshal(fields)
	return `const f = document.querySelector(` + jsString(form) + `);
		for (const [k, v] of Object.entries(` + string(f) + ` || {})) f.elements[k].value = v;
		f.requestSubmit();`
}

// junkText finds what a page should never show: a value the script failed
// to format.
const junkText = `(document.querySelector('main').innerText.match(/(?<![A-Za-z])(null|undefined|NaN)|\[object Object\]/) || [''])[0]`

// seedUnits adds n fridges with a sensor each to o's site and returns the
// sensors' external ids.
func seedUnits(t *testing.T, pool *pgxpool.Pool, o *liveOrg, n int) []string {
	t.Helper()
	var ids []string
	ctx := context.Background()
	for i := range n {
		var unit string
		if err := pool.QueryRow(ctx, `INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, $3, 'fridge', 0, 5) RETURNING id`,
			o.id, o.site, fmt.Sprintf("Fridge %03d", i+1)).Scan(&unit); err != nil {
			t.Fatal(err)
		}
		ext := fmt.Sprintf("BIG-%s-%03d", o.id[:8], i)
		if _, err := pool.Exec(ctx, `INSERT INTO sensors (org_id, external_id, unit_id) VALUES ($1, $2, $3)`, o.id, ext, unit); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ext)
	}
	return ids
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }
