package main

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/freshtrack/freshtrack/auth"
)

// settingsSections are the sections of the settings page an admin sees.
var settingsSections = []string{"organisation", "sites", "areas", "units", "sensors", "alert-rules", "escalation-policies", "contacts", "members", "api-keys", "billing"}

// TestWebSettings drives the settings page as a manager, a staff member,
// a viewer and an admin of the kitchen, and checks each change where it
// lands: in the database or in the API's answers.
func TestWebSettings(t *testing.T) {
	w := newWebWorld(t)
	base := w.p.base()
	bg := context.Background()
	org := w.kitchen
	settings := base + "/o/" + org.id + "/settings/"
	if _, err := mintDevToken(bg, w.pool, w.keyFile, w.p.addr, org.id, auth.Admin, "", "", time.Hour); err != nil {
		t.Fatal(err)
	}

	mb := newBrowser(t)
	mctx := mb.tab()
	mb.signIn(mctx, base, "/o/"+org.id+"/settings/units", "manager")

	var unitID string
	t.Run("a manager adds a unit with its safe range", func(t *testing.T) {
		b := mb.in(t)
		b.run(mctx, "units section", openSection(settings, "units"),
			chromedp.SendKeys(chromedp.CSS(`#create-units input[name=name]`), "Dessert fridge"),
			choose(`#create-units select[name=kind]`, "fridge"),
			chromedp.SendKeys(chromedp.CSS(`#create-units input[name=safe_min_c]`), "1"),
			chromedp.SendKeys(chromedp.CSS(`#create-units input[name=safe_max_c]`), "4.5"),
			click(`#create-units button[type=submit]`),
			waitJS(`[...document.querySelectorAll('table[data-section=units] tbody tr')].some(tr => tr.textContent.includes('Dessert fridge') && tr.textContent.includes('1.0 °C to 4.5 °C'))`, 10*time.Second))
		var site string
		var lo, hi float64
		if err := w.pool.QueryRow(bg, `SELECT id, site_id, safe_min_c, safe_max_c FROM units WHERE org_id = $1 AND name = 'Dessert fridge'`, org.id).Scan(&unitID, &site, &lo, &hi); err != nil {
			t.Fatalf("the new unit is not stored: %v", err)
		}
		if site != org.site || lo != 1 || hi != 4.5 {
			t.Errorf("stored unit: site %s, safe range %v to %v; want site %s, 1 to 4.5", site, lo, hi, org.site)
		}
	})

	t.Run("a manager edits the unit's safe range", func(t *testing.T) {
		needs(t, unitID)
		b := mb.in(t)
		row := `table[data-section=units] tr[data-id="` + unitID + `"]`
		b.run(mctx, "edit the unit", openSection(settings, "units"),
			click(row+` [data-action=edit]`),
			chromedp.WaitVisible(chromedp.CSS(`#edit-units[data-id="`+unitID+`"]`)),
			chromedp.SetValue(chromedp.CSS(`#edit-units input[name=safe_max_c]`), "6"),
			click(`#edit-units button[type=submit]`),
			waitJS(`!document.querySelector('#edit-units') && document.querySelector('`+row+`').textContent.includes('1.0 °C to 6.0 °C')`, 10*time.Second))
		var lo, hi float64
		var version int
		if err := w.pool.QueryRow(bg, `SELECT safe_min_c, safe_max_c, version FROM units WHERE id = $1`, unitID).Scan(&lo, &hi, &version); err != nil {
			t.Fatal(err)
		}
		if lo != 1 || hi != 6 || version != 2 {
			t.Errorf("stored unit after the edit: %v to %v, version %d; want 1 to 6, version 2", lo, hi, version)
		}
	})

	var sensorID string
	t.Run("a manager adds a sensor and assigns it to the unit", func(t *testing.T) {
		needs(t, unitID)
		b := mb.in(t)
		b.run(mctx, "add a sensor", openSection(settings, "sensors"),
			chromedp.SendKeys(chromedp.CSS(`#create-sensors input[name=external_id]`), "SETTINGS-PROBE-1"),
			chromedp.SendKeys(chromedp.CSS(`#create-sensors input[name=name]`), "Door probe"),
			click(`#create-sensors button[type=submit]`),
			waitJS(`[...document.querySelectorAll('table[data-section=sensors] tbody tr')].some(tr => tr.textContent.includes('SETTINGS-PROBE-1'))`, 10*time.Second))
		var unit *string
		if err := w.pool.QueryRow(bg, `SELECT public_id, unit_id FROM sensors WHERE org_id = $1 AND external_id = 'SETTINGS-PROBE-1'`, org.id).Scan(&sensorID, &unit); err != nil {
			t.Fatalf("the new sensor is not stored: %v", err)
		}
		if unit != nil {
			t.Fatalf("the new sensor measures unit %s, want none yet", *unit)
		}
		row := `table[data-section=sensors] tr[data-id="` + sensorID + `"]`
		b.run(mctx, "assign it", choose(row+` select[data-action=assign]`, unitID),
			click(row+` [data-action=assign-save]`),
			waitJS(`document.getElementById('toast').textContent.includes('now measures Dessert fridge')`, 10*time.Second))
		if err := w.pool.QueryRow(bg, `SELECT unit_id FROM sensors WHERE public_id = $1`, sensorID).Scan(&unit); err != nil || unit == nil || *unit != unitID {
			t.Fatalf("the sensor measures %v (%v), want the unit %s", unit, err, unitID)
		}
	})

	t.Run("a manager retires a sensor", func(t *testing.T) {
		needs(t, sensorID)
		b := mb.in(t)
		row := `table[data-section=sensors] tr[data-id="` + sensorID + `"]`
		b.run(mctx, "retire it", openSection(settings, "sensors"),
			click(row+` [data-action=delete]`),
			click(row+` [data-action=confirm]`),
			waitJS(`!document.querySelector('`+row+`') && document.getElementById('show-retired')`, 10*time.Second))
		var retired *time.Time
		if err := w.pool.QueryRow(bg, `SELECT retired_at FROM sensors WHERE public_id = $1`, sensorID).Scan(&retired); err != nil || retired == nil {
			t.Fatalf("the sensor is not retired (%v)", err)
		}
		shown := value(b, mctx, "retired sensors shown on request", js[string](`(() => {
			document.getElementById('show-retired').click();
			const tr = document.querySelector('`+row+`');
			return tr ? tr.className + ' ' + tr.querySelectorAll('button, select').length : 'missing';
		})()`))
		if shown != "retired 0" {
			t.Errorf("the retired sensor's row: %q, want class retired and no controls", shown)
		}
	})

	t.Run("a manager sees the organisation but cannot change it", func(t *testing.T) {
		b := mb.in(t)
		b.run(mctx, "organisation section", chromedp.Navigate(base+"/o/"+org.id+"/settings"), sectionReady())
		got := value(b, mctx, "organisation form", js[struct {
			Current  string
			Name     string
			Disabled bool
			Saves    int
			Unit     string
		}](`({Current: document.querySelector('.subnav a[aria-current=page]').textContent,
			Name: document.querySelector('#org-form input[name=name]').value,
			Disabled: document.querySelector('#org-form fieldset').disabled,
			Saves: document.querySelectorAll('#org-form button[type=submit]').length,
			Unit: document.querySelector('#org-form input[name=temperature_unit]:checked').value})`))
		if got.Current != "Organisation" || got.Name != "Browser Kitchen" || !got.Disabled || got.Saves != 0 || got.Unit != "C" {
			t.Errorf("a manager's organisation section: %+v; want it first, showing Browser Kitchen in °C, disabled, without a save button", got)
		}
	})

	t.Run("staff see no settings controls", func(t *testing.T) {
		sb := newBrowser(t)
		sctx := sb.tab()
		sb.signIn(sctx, base, "/o/"+org.id+"/settings/units", "staff")
		sb.run(sctx, "settings as staff", waitJS(`document.querySelector('.settings h1')`, 10*time.Second))
		got := value(sb, sctx, "what staff see", js[struct {
			Controls, Tables, Menus, NavLinks int
			Text                              string
		}](`({Controls: document.querySelectorAll('main form, main input, main select, main button').length,
			Tables: document.querySelectorAll('main table').length,
			Menus: document.querySelectorAll('main .subnav').length,
			NavLinks: document.querySelectorAll('header nav a[href*="/settings"]').length,
			Text: document.querySelector('main').innerText})`))
		if got.Controls+got.Tables+got.Menus+got.NavLinks != 0 || !strings.Contains(got.Text, "for managers and admins") {
			t.Errorf("staff see %+v; want no forms, tables, section menu or Settings link, and the explanation", got)
		}
	})

	t.Run("a viewer's direct PATCH of a unit is refused", func(t *testing.T) {
		vb := newBrowser(t)
		vctx := vb.tab()
		vb.signIn(vctx, base, "/o/"+org.id, "viewer")
		answer := value(vb, vctx, "PATCH as viewer", js[struct {
			Status int    `json:"status"`
			Type   string `json:"type"`
		}](`fetch('/v1/orgs/`+org.id+`/units/`+org.unit+`', {method: 'PATCH',
				headers: {'X-CSRF-Token': JSON.parse(document.getElementById('page-data').textContent).csrf, 'Content-Type': 'application/json'},
				body: JSON.stringify({name: 'Taken over', safe_max_c: 30, version: 1})})
			.then(async r => ({status: r.status, type: (await r.json()).type}))`))
		if answer.Status != 403 || !strings.HasSuffix(answer.Type, "/forbidden") {
			t.Errorf("viewer's PATCH of a unit: %+v, want 403 forbidden", answer)
		}
		var name string
		var hi float64
		if err := w.pool.QueryRow(bg, `SELECT name, safe_max_c FROM units WHERE id = $1`, org.unit).Scan(&name, &hi); err != nil || name != "Prep fridge" || hi != 5 {
			t.Fatalf("after the viewer's PATCH the unit is %q up to %v (%v), want Prep fridge up to 5", name, hi, err)
		}
	})

	ab := newBrowser(t)
	actx := ab.tab()
	ab.signIn(actx, base, "/o/"+org.id+"/settings/api-keys", "admin")

	t.Run("an admin creates an API key, shown once", func(t *testing.T) {
		b := ab.in(t)
		b.run(actx, "create a key", openSection(settings, "api-keys"),
			chromedp.SendKeys(chromedp.CSS(`#create-api-keys input[name=name]`), "Walk-in gateway"),
			click(`#create-api-keys button[type=submit]`),
			chromedp.WaitVisible(chromedp.CSS(`code.secret`)))
		key := value(b, actx, "the key", chromedp.Text(chromedp.CSS(`code.secret`)))
		parts := strings.Split(key, "_")
		if len(parts) != 3 || parts[0] != "ftk" || len(parts[2]) < 20 {
			t.Fatalf("the new key shown is %q, want ftk_<prefix>_<secret>", key)
		}
		var list struct {
			Items []map[string]any `json:"items"`
		}
		raw := apiGet(t, base+"/v1/orgs/"+org.id+"/api-keys", org.tokens[auth.Admin], &list)
		var found map[string]any
		for _, k := range list.Items {
			if k["name"] == "Walk-in gateway" {
				found = k
			}
		}
		if found == nil || found["prefix"] != parts[0]+"_"+parts[1] || !reflect.DeepEqual(found["scopes"], []any{"ingest"}) {
			t.Errorf("GET api-keys lists the new key as %v; want prefix %s_%s, scope ingest", found, parts[0], parts[1])
		}
		if strings.Contains(raw, parts[2]) {
			t.Errorf("GET api-keys shows the key's secret part: %s", raw)
		}
		// The key works, and the page does not show it again.
		postReadings(t, base, key, []map[string]any{{"sensor": org.sensor, "time": time.Now().UTC().Format(time.RFC3339Nano), "temp_c": 3.1}})
		again := value(b, actx, "the list after a reload", func(ctx context.Context, tg *chromedp.Target) (string, error) {
			if _, err := openSection(settings, "api-keys")(ctx, tg); err != nil {
				return "", err
			}
			return js[string](`document.querySelectorAll('code.secret').length + ' ' + document.querySelector('main').innerText.includes(`+jsString(parts[2])+`)`)(ctx, tg)
		})
		if again != "0 false" {
			t.Errorf("after a reload the page shows the key again (%s)", again)
		}
	})

	t.Run("billing says it is not configured", func(t *testing.T) {
		b := ab.in(t)
		b.run(actx, "billing", openSection(settings, "billing"))
		text := value(b, actx, "billing", js[string](`(document.getElementById('billing-off') || {}).textContent || ''`))
		if !strings.Contains(text, "Billing is not configured on this server") {
			t.Errorf("billing without Stripe shows %q", text)
		}
	})

	t.Run("an admin renames the organisation and turns on auto-registration", func(t *testing.T) {
		b := ab.in(t)
		b.run(actx, "change the organisation", openSection(settings, "organisation"),
			chromedp.SetValue(chromedp.CSS(`#org-form input[name=name]`), "Browser Kitchen Ltd"),
			click(`#org-form input[name=auto_register_sensors]`),
			click(`#org-form button[type=submit]`),
			// The page reloads for the new name.
			waitJS(`document.querySelector('.orgname').textContent === 'Browser Kitchen Ltd' && document.querySelector('#org-form input[name=auto_register_sensors]').checked`, 10*time.Second))
		var name string
		var settingsJSON []byte
		var version int
		if err := w.pool.QueryRow(bg, `SELECT name, settings, version FROM organizations WHERE id = $1`, org.id).Scan(&name, &settingsJSON, &version); err != nil {
			t.Fatal(err)
		}
		var st map[string]any
		_ = json.Unmarshal(settingsJSON, &st)
		if name != "Browser Kitchen Ltd" || st["auto_register_sensors"] != true || version != 2 {
			t.Errorf("stored organisation: %q, settings %s, version %d; want Browser Kitchen Ltd, auto-registration on, version 2", name, settingsJSON, version)
		}
	})

	t.Run("every section fits a 360-px phone", func(t *testing.T) {
		b := ab.in(t)
		b.run(actx, "units at desktop size", openSection(settings, "units"), screenshot(t, "settings-units"))
		b.run(actx, "phone", phone())
		defer b.run(actx, "desktop", desktop())
		for _, sec := range settingsSections {
			b.run(actx, "phone "+sec, openSection(settings, sec), chromedp.Sleep(100*time.Millisecond))
			overflow := value(b, actx, "overflow", js[float64](`document.documentElement.scrollWidth - document.documentElement.clientWidth`))
			if overflow > 0 {
				t.Errorf("settings/%s at 360 px scrolls sideways by %v px", sec, overflow)
			}
			if sec == "units" || sec == "organisation" {
				b.run(actx, "screenshot", screenshot(t, "settings-"+sec+"-phone"))
			}
		}
	})

	t.Run("an admin switches the organisation to °F", func(t *testing.T) {
		b := ab.in(t)
		b.run(actx, "choose °F", openSection(settings, "organisation"),
			click(`#org-form input[name=temperature_unit][value=F]`),
			click(`#org-form button[type=submit]`),
			waitJS(`FT.UNIT === '°F' && document.querySelector('#org-form input[name=temperature_unit]:checked').value === 'F'`, 10*time.Second))
		var unit string
		var auto bool
		if err := w.pool.QueryRow(bg, `SELECT settings->>'temperature_unit', (settings->>'auto_register_sensors')::boolean FROM organizations WHERE id = $1`, org.id).Scan(&unit, &auto); err != nil || unit != "F" || !auto {
			t.Fatalf("stored temperature unit %q, auto-registration %v (%v); want F, still on", unit, auto, err)
		}
		needs(t, unitID)
		b.run(actx, "units in °F", openSection(settings, "units"),
			waitJS(`document.querySelector('table[data-section=units] tr[data-id="`+unitID+`"]').textContent.includes('33.8 °F to 42.8 °F')`, 5*time.Second))
	})
}

// openSection loads a settings section and waits until it has loaded.
func openSection(settings, sec string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		return chromedp.Void{}, chromedp.Do(ctx, chromedp.Navigate(settings+sec), sectionReady())
	}
}

// sectionReady waits until the settings page shows a loaded section.
func sectionReady() chromedp.Action[chromedp.Void] {
	return waitJS(`document.readyState === 'complete' && document.getElementById('sec-h') && !document.querySelector('.settings [aria-busy]')`, 10*time.Second)
}

// click clicks an element after hiding the toast, which may cover it.
func click(sel string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		return chromedp.Void{}, chromedp.Do(ctx, do(`document.getElementById('toast').hidden = true`), chromedp.Click(chromedp.CSS(sel)))
	}
}

// choose picks a select's option as a person would (with change events).
func choose(sel, value string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		return chromedp.Void{}, chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel)), do(`const s = document.querySelector(`+jsString(sel)+`);
			s.value = `+jsString(value)+`;
			if (s.value !== `+jsString(value)+`) throw new Error('no option '+`+jsString(value)+`);
			s.dispatchEvent(new Event('input', {bubbles: true}));
			s.dispatchEvent(new Event('change', {bubbles: true}));`))
	}
}

// needs skips a subtest whose fixture an earlier subtest failed to make.
func needs(t *testing.T, id string) {
	t.Helper()
	if id == "" {
		t.Skip("needs what an earlier subtest failed to make")
	}
}

// apiGet GETs url with a bearer token, decodes the answer into out and
// returns it as text.
func apiGet(t *testing.T, url, token string, out any) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d (%v)", url, resp.StatusCode, err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
