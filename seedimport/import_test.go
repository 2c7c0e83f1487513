package seedimport

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

func TestImportThenVerify(t *testing.T) {
	t.Parallel()
	for _, shape := range []string{shapeFresh, shapeFrost} {
		t.Run(shape, func(t *testing.T) {
			t.Parallel()
			f := newSeed(t, shape, 2, 15*time.Minute)
			target := pgtest.NewDB(t)
			o := options(f, target)
			rep := mustImport(t, o)
			checkReport(t, f, rep)
			checkRows(t, f, target)
			res := mustVerify(t, o)
			if len(res.Readings) == 0 || len(res.Days) < 2 {
				t.Fatalf("verify compared %d unit-days over %d days", len(res.Readings), len(res.Days))
			}
			checkVerifyAudit(t, f, target)

			// Importing again changes nothing.
			before := fingerprint(t, target)
			again := mustImport(t, o)
			if after := fingerprint(t, target); after != before {
				t.Fatalf("a second import changed FreshTrack's rows:\n%s", diffLines(before, after))
			}
			if r := again.Table("readings"); r.Written != 0 || r.Present != 1737 {
				t.Fatalf("second import's readings: %+v, want 0 written and 1737 already there", r)
			}
			if a := again.Table("audit_log"); a.Written != 0 || a.Present != 3 {
				t.Fatalf("second import's audit entries: %+v, want all 3 already imported", a)
			}
			mustVerify(t, o)
		})
	}
}

// checkReport checks the report's counts against what the fixture holds.
func checkReport(t *testing.T, f *seedFixture, rep *Report) {
	t.Helper()
	f1 := func(target, from string, read, written, merged int64, skipped map[string]int64) {
		t.Helper()
		var got *TableOutcome
		for _, x := range rep.Tables {
			if x.Target == target && (from == "" || x.From == from) {
				got = x
				break
			}
		}
		if got == nil {
			t.Errorf("report has no %s line", target)
			return
		}
		if got.Read != read || got.Written != written || got.Merged != merged || fmt.Sprint(got.Skipped) != fmt.Sprint(skipped) {
			t.Errorf("report %s (%s): read %d written %d merged %d skipped %v; want %d %d %d %v",
				target, got.From, got.Read, got.Written, got.Merged, got.Skipped, read, written, merged, skipped)
		}
	}
	type m = map[string]int64
	f1("organizations", "", 3, 3, 0, nil)
	f1("users", "", 4, 4, 0, nil)
	f1("memberships", "", 5, 5, 0, nil)
	f1("subscriptions", "", 3, 2, 1, nil)
	f1("areas", "", 4, 3, 0, m{"orphan: site not imported": 1})
	f1("units", "", 9, 8, 0, m{"orphan: area not imported": 1})
	f1("sensors", "devices + lora_sensors", 12, 10, 0, m{"unassigned: no unit and no TTN application of an organisation": 1, "unit not imported": 1})
	f1("sensors", "units (readings without a device of theirs)", 2, 2, 0, nil)
	f1("contacts", "escalation_contacts", 3, 2, 0, m{"no valid phone (E.164) or email": 1})
	f1("contacts", "profiles (sms_enabled)", 2, 0, 1, m{"no E.164 phone": 1})
	// 11 seed policies: one merged into a newer one, three skipped, the
	// alarm_active and sensor_fault ones written twice (two kinds each).
	f1("notification_policies", "", 11, 10, 1, m{"no FreshTrack alert kind (temperature_excursion)": 1,
		"no email or SMS step": 1, "unit not imported": 1})
	if rep.Table("escalation_policies") != nil {
		t.Errorf("the report has an escalation_policies line: the import writes notification policies only")
	}
	for _, want := range []string{
		"2 notification policies' initial channels IN_APP_CENTER, WEB_TOAST are not FreshTrack channels",
		"1 notification policies sent nothing by email or SMS when an alert opened",
		"1 notification policies required acknowledgement without a deadline",
		"2 notification policies' reminder intervals were outside 5 to 1440 minutes",
		"1 notification policies had quiet hours on with a missing, invalid or empty (start = end) window",
		"1 notification policies did not allow warning notifications",
		"notify_site_managers (7) and notify_assigned_users (1) have no FreshTrack equivalent",
	} {
		if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, want) }) {
			t.Errorf("no report note says %q; notes:\n%s", want, strings.Join(rep.Notes, "\n"))
		}
	}
	f1("alerts", "", 11, 8, 1, m{"no FreshTrack kind (calibration_due)": 1, "no FreshTrack kind (door_open)": 1, "unit not imported": 1})
	f1("corrective_actions", "", 3, 2, 0, m{"unit not imported": 1})
	f1("notifications", "", 5, 4, 0, m{"push (FreshTrack sends SMS and email)": 1})
	f1("manual_checks", "", 3, 2, 0, m{"unit not imported": 1})
	f1("audit_log", "event_logs", 3, 3, 0, nil)
	f1("audit_log", "alert_rules_history", 2, 2, 0, nil)
	f1("digest_subscriptions", "", 2, 2, 0, nil)
	f1("legacy_secrets", "", 2, 0, 0, m{"inactive connection": 1})
	if s := rep.Table("legacy_secrets"); s.ToLegacySecrets != 1 {
		t.Errorf("legacy secrets counted %d, want 1", s.ToLegacySecrets)
	}
	orphanReadings := int64(f.days*96 + 1)
	f1("readings", "", f.readings, f.readings-orphanReadings-2-1, 2, m{"unit not imported": orphanReadings})
	f1("sensor_faults", "", 1, 1, 0, nil)
	f1("", "door_events", 1, 0, 0, m{"not migrated": 1})
	if len(rep.Implausible) != 1 || rep.Implausible[0].UnitID != f.units["odd-fridge"].id {
		t.Errorf("implausible ranges = %+v, want odd-fridge only", rep.Implausible)
	}
	if rep.RunID == 0 || rep.Resumed {
		t.Errorf("run %d resumed %v", rep.RunID, rep.Resumed)
	}
}

// checkRows checks FreshTrack's rows field by field on a sample of every
// mapped table.
func checkRows(t *testing.T, f *seedFixture, db *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	u := f.units
	check := func(want, sql string, args ...any) {
		t.Helper()
		var got *string
		if err := db.QueryRow(ctx, sql, args...).Scan(&got); err != nil {
			t.Errorf("%s: %v", sql, err)
			return
		}
		if deref(got) != want {
			t.Errorf("%s %v\n got %q\nwant %q", strings.Join(strings.Fields(sql), " "), args, deref(got), want)
		}
	}
	hyst := "0.28"
	if f.shape == shapeFrost {
		hyst = "0.56" // FrostGuard's temp_hysteresis, 1 °F
	}
	// organisations, people
	check("Bistro Alpha|{}|false", `SELECT name || '|' || settings::text || '|' || (deleted_at IS NOT NULL) FROM organizations WHERE id = $1`, f.orgA)
	check("true", `SELECT (deleted_at IS NOT NULL)::text FROM organizations WHERE id = $1`, f.orgC)
	check(testIssuer+"|"+f.uX+"|xavier@alpha.example|Xavier Ng|+14155550101",
		`SELECT issuer || '|' || subject || '|' || email || '|' || name || '|' || phone FROM users WHERE id = $1`, f.uX)
	check("|yara@beta.example", `SELECT coalesce(phone, '') || '|' || email FROM users WHERE id = $1`, f.uY)
	check("-|-", `SELECT coalesce(email, '-') || '|' || coalesce(name, '-') FROM users WHERE id = $1`, f.uZ)
	check("true", `SELECT (count(*) = 1)::text FROM users WHERE id = $1 AND subject = $1::text`, f.uW)
	check("owner,staff", `SELECT string_agg(role::text, ',' ORDER BY role DESC) FROM memberships WHERE user_id = $1`, f.uX)
	check("manager", `SELECT role::text FROM memberships WHERE user_id = $1 AND org_id = $2`, f.uY, f.orgB)
	check("pro|active|cus_A|sub_A|25", `SELECT plan || '|' || status || '|' || stripe_customer_id || '|' || stripe_subscription_id || '|' || sensor_limit FROM subscriptions WHERE org_id = $1`, f.orgA)
	check("haccp|active|10", `SELECT plan || '|' || status || '|' || sensor_limit FROM subscriptions WHERE org_id = $1`, f.orgB)
	// places
	check("Main Street|America/Los_Angeles|1 Main St, Springfield, OR, 97477, US", `SELECT name || '|' || timezone || '|' || address FROM sites WHERE id = $1`, f.siteA1)
	check("UTC", `SELECT timezone FROM sites WHERE id = $1`, f.siteA2)
	check("3", `SELECT count(*)::text FROM areas WHERE org_id IN ($1, $2)`, f.orgA, f.orgB)
	for _, c := range []struct{ unit, want string }{
		{"fridge-1", "fridge|0.56|5.00|" + f.siteA1},
		{"freezer-1", "freezer|-25.00|-15.00|" + f.siteA2},
		{"walk-in-1", "walk_in|0.00|5.00|" + f.siteA2},
		{"walk-in-freezer-1", "freezer|-23.33|-17.78|" + f.siteA2},
		{"display-1", "display|0.56|5.00|" + f.siteB1},
		{"blast-1", "blast_chiller|-40.00|3.33|" + f.siteB1},
		{"odd-fridge", "fridge|33.00|41.00|" + f.siteB1},
	} {
		check(c.want, `SELECT kind || '|' || round(safe_min_c::numeric, 2) || '|' || round(safe_max_c::numeric, 2) || '|' || site_id FROM units WHERE id = $1`, u[c.unit].id)
	}
	check("0", `SELECT count(*)::text FROM units WHERE id = $1`, u["orphan-unit"].id)
	// sensors
	// battery: the newest reading's (90), not the device row's (88)
	check("A840410000000001|"+u["fridge-1"].id+"|lht65|90|false",
		`SELECT external_id || '|' || unit_id || '|' || model || '|' || battery || '|' || (retired_at IS NOT NULL) FROM sensors WHERE public_id = $1`, u["fridge-1"].device)
	check("70B3D57ED0000206", `SELECT external_id FROM sensors WHERE public_id = $1`, u["fridge-2"].device)
	check("device:"+u["blast-1"].device, `SELECT external_id FROM sensors WHERE public_id = $1`, u["blast-1"].device)
	check(f.orgA+"|-", `SELECT org_id || '|' || coalesce(unit_id::text, '-') FROM sensors WHERE public_id = $1`, f.unassignedTTN)
	check("0", `SELECT count(*)::text FROM sensors WHERE public_id = $1`, f.unassigned)
	check("true", `SELECT (retired_at IS NOT NULL)::text FROM sensors WHERE public_id = $1`, f.inactiveDevice)
	check(u["freezer-1"].id, `SELECT unit_id::text FROM sensors WHERE public_id = $1`, f.movedDevice)
	for _, name := range []string{"walk-in-freezer-1", "fridge-2"} {
		check(u[name].id, `SELECT unit_id::text FROM sensors WHERE external_id = $1`, "unit:"+u[name].id)
	}
	// rules: fridge-1's max comes from its site's rule (40 °F), its delay
	// from the organisation's (10 min); fridge-2's min and offline rule
	// from its own.
	rule := func(unit, kind string) string { return deriveID("rule", u[unit].id, kind) }
	check("4.444|600|"+hyst+"|critical|true|false", `SELECT round(threshold::numeric, 3) || '|' || confirm_seconds || '|' || hysteresis || '|' || severity || '|' || enabled || '|' || auto_resolve FROM alert_rules WHERE id = $1`, rule("fridge-1", "temp_high"))
	check("-", `SELECT coalesce(threshold::text, '-') FROM alert_rules WHERE id = $1`, rule("fridge-1", "temp_low"))
	check("1.667|1200", `SELECT round(threshold::numeric, 3) || '|' || confirm_seconds FROM alert_rules WHERE id = $1`, rule("fridge-2", "temp_low"))
	check("35|true", `SELECT threshold || '|' || auto_resolve FROM alert_rules WHERE id = $1 AND kind = 'sensor_offline'`, rule("fridge-2", "sensor_offline"))
	if f.shape == shapeFresh {
		check("0.5", `SELECT hysteresis::text FROM alert_rules WHERE id = $1`, rule("freezer-1", "temp_high"))
	}
	check("0", `SELECT count(*)::text FROM alert_rules WHERE unit_id = $1 AND kind = 'sensor_offline'`, u["freezer-1"].id)
	// contacts, policies
	check("Xavier|+14155550100|owner|"+f.uX, `SELECT name || '|' || phone || '|' || role || '|' || user_id FROM contacts WHERE org_id = $1 AND phone IS NOT NULL`, f.orgA)
	check("Ops desk|ops@alpha.example|owner", `SELECT name || '|' || email || '|' || role FROM contacts WHERE org_id = $1 AND phone IS NULL`, f.orgA)
	checkPolicies(t, f, check)
	// alerts and their history
	a := f.alerts
	check("temp_high|resolved|true|9.00|4.444|"+rule("fridge-1", "temp_high"),
		`SELECT kind || '|' || status || '|' || auto_resolved || '|' || round(peak_c::numeric, 2) || '|' || round(threshold_c::numeric, 3) || '|' || rule_id FROM alerts WHERE id = $1`, a["resolved-high"])
	check("temp_low|acknowledged|"+f.uX+"|-0.50", `SELECT kind || '|' || status || '|' || acknowledged_by || '|' || round(peak_c::numeric, 2) FROM alerts WHERE id = $1`, a["acked-low"])
	check("temp_high|triggered|2", `SELECT kind || '|' || status || '|' || escalation_step FROM alerts WHERE id = $1`, a["current-high"])
	check("sensor_offline|triggered|2|true", `SELECT a.kind || '|' || a.status || '|' || a.escalation_step || '|' || (r.unit_id IS NULL AND r.unit_kind = 'freezer') FROM alerts a JOIN alert_rules r ON r.id = a.rule_id WHERE a.id = $1`, a["offline"])
	check("battery_low|triggered|2", `SELECT kind || '|' || status || '|' || escalation_step FROM alerts WHERE id = $1`, a["battery"])
	check("sensor_fault|resolved|false|"+f.uY, `SELECT kind || '|' || status || '|' || auto_resolved || '|' || resolved_by FROM alerts WHERE id = $1`, a["fault"])
	check("resolved|true|triggered", `SELECT o.status || '|' || (o.resolved_at = n.started_at) || '|' || n.status FROM alerts o, alerts n WHERE o.id = $1 AND n.id = $2`, a["open-old"], a["open-new"])
	check("0", `SELECT count(*)::text FROM alerts WHERE id IN ($1, $2, $3)`, a["door"], a["orphan"], a["calibration"])
	check("triggered,auto_resolved:door was left open", `SELECT string_agg(kind || coalesce(':' || (details->>'resolution'), ''), ',' ORDER BY at) FROM alert_events WHERE alert_id = $1`, a["resolved-high"])
	check("acknowledged|checking the seal|"+f.uX, `SELECT kind || '|' || (details->>'comment') || '|' || actor_id FROM alert_events WHERE alert_id = $1 AND kind = 'acknowledged'`, a["acked-low"])
	// corrective actions, notifications, checks
	check("Moved stock to the walk-in|other|"+f.uX+"|Closed the door\nPhoto: https://photos.example/1.jpg|"+a["resolved-high"],
		`SELECT action || '|' || disposition || '|' || taken_by || '|' || notes || '|' || alert_id FROM corrective_actions WHERE unit_id = $1`, u["fridge-1"].id)
	check("Fixed the door|-", `SELECT action || '|' || coalesce(alert_id::text, '-') FROM corrective_actions WHERE unit_id = $1`, u["walk-in-1"].id)
	check("sms:delivered:telnyx-msg-1:1:true,email:failed:-:3:true", `SELECT string_agg(channel || ':' || status || ':' || coalesce(provider_id, '-') || ':' || attempts || ':' || (contact_id IS NOT NULL), ',' ORDER BY channel DESC) FROM notifications WHERE alert_id = $1`, a["resolved-high"])
	check("queued|import:", `SELECT status || '|' || left(dedupe_key, 7) FROM notifications WHERE alert_id = $1`, a["offline"])
	check("email|sent|-", `SELECT channel || '|' || status || '|' || coalesce(alert_id::text, '-') FROM notifications WHERE recipient = 'ops@alpha.example'`)
	check("3.50:probe check:"+f.uX+",4.00:Photo: https://photos.example/2.jpg:-", `SELECT string_agg(round(temp_c::numeric, 2) || ':' || coalesce(notes, '') || ':' || coalesce(checked_by::text, '-'), ',' ORDER BY checked_at) FROM manual_checks WHERE unit_id = $1`, u["fridge-1"].id)
	// audit trail
	check("user:"+f.uX+"|unit|"+u["fridge-1"].id+"|temp_max|config|10.0.0.1", `SELECT actor || '|' || target_type || '|' || target_id || '|' || (details->>'field') || '|' || (details->>'category') || '|' || (details->>'ip') FROM audit_log WHERE action = 'unit.updated'`)
	check("system|[1, 2]", `SELECT actor || '|' || (details->'data')::text FROM audit_log WHERE action = 'alert.resolved'`)
	check("api|site|true", `SELECT actor || '|' || target_type || '|' || (details->'impersonation'->>'was_impersonated') FROM audit_log WHERE action = 'reading.ingested'`)
	check("user:"+f.uX+",system", `SELECT string_agg(actor, ',' ORDER BY at DESC) FROM audit_log WHERE action LIKE 'alert_rule.%'`)
	for _, org := range []string{f.orgA, f.orgB} {
		if _, _, err := auth.VerifyAudit(ctx, db, org); err != nil {
			t.Errorf("audit chain of %s: %v", org, err)
		}
	}
	// digests
	check("daily|7|1|America/New_York|xavier@alpha.example", `SELECT frequency || '|' || local_hour || '|' || weekday || '|' || timezone || '|' || email FROM digest_subscriptions WHERE user_id = $1`, f.uX)
	check("weekly|9|UTC", `SELECT frequency || '|' || local_hour || '|' || timezone FROM digest_subscriptions WHERE user_id = $1`, f.uY)
	// readings: the three at one instant are one; the error code is a fault
	check("1", `SELECT count(*)::text FROM readings r JOIN sensors s ON s.id = r.sensor_id WHERE s.public_id = $1 AND r.time = $2`, u["fridge-1"].device, f.dupAt)
	check(fmt.Sprint(f.days*96+1), `SELECT count(*)::text FROM readings r JOIN sensors s ON s.id = r.sensor_id WHERE s.external_id = $1`, "unit:"+u["walk-in-freezer-1"].id)
	check("96", `SELECT count(*)::text FROM readings r JOIN sensors s ON s.id = r.sensor_id WHERE s.external_id = $1`, "unit:"+u["fridge-2"].id)
	check("327.67", `SELECT round(code::numeric, 2)::text FROM sensor_faults`)
	var seedT, seedH float64
	var seedB int
	var at time.Time
	battery := map[string]string{shapeFresh: "battery", shapeFrost: "battery_level"}[f.shape]
	if err := f.pool.QueryRow(ctx, `SELECT recorded_at, temperature::float8, humidity::float8, `+battery+` FROM sensor_readings WHERE device_id = $1 ORDER BY recorded_at DESC LIMIT 1`,
		u["display-1"].device).Scan(&at, &seedT, &seedH, &seedB); err != nil {
		t.Fatal(err)
	}
	check(fmt.Sprintf("%.2f|%.2f|%d", toCelsius(seedT, o2u(f)), seedH, seedB),
		`SELECT round(r.temp_c::numeric, 2) || '|' || round(r.humidity::numeric, 2) || '|' || r.battery FROM readings r JOIN sensors s ON s.id = r.sensor_id WHERE s.public_id = $1 AND r.time = $2`,
		u["display-1"].device, at)
	// latest values, evaluation states, rollups
	check(at.UTC().Format(time.RFC3339Nano), `SELECT to_char(sl.time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') FROM sensor_latest sl JOIN sensors s ON s.id = sl.sensor_id WHERE s.public_id = $1`, u["display-1"].device)
	check("alerting|"+a["current-high"], `SELECT state || '|' || alert_id FROM alert_state WHERE rule_id = $1`, rule("display-1", "temp_high"))
	check("alerting|"+a["offline"], `SELECT s.state || '|' || s.alert_id FROM alert_state s JOIN alerts a ON a.rule_id = s.rule_id AND a.unit_id = s.unit_id WHERE a.id = $1`, a["offline"])
	check("ok|-", `SELECT state || '|' || coalesce(alert_id::text, '-') FROM alert_state WHERE rule_id = $1`, rule("fridge-1", "temp_high"))
	check("true", `SELECT bool_and(s.evaluated_to = (SELECT max(r.time) FROM readings r JOIN sensors x ON x.id = r.sensor_id WHERE x.unit_id = s.unit_id))::text
	               FROM alert_state s WHERE s.unit_id = $1`, u["fridge-1"].id)
	check("true", `SELECT (count(*) > 100)::text FROM readings_5m`)
}

func o2u(f *seedFixture) string {
	if f.shape == shapeFrost {
		return Fahrenheit
	}
	return Celsius
}

// checkVerifyAudit checks that verify wrote import.completed into each
// imported organisation's chain, with the readings it compared.
func checkVerifyAudit(t *testing.T, f *seedFixture, db *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	for _, org := range []string{f.orgA, f.orgB, f.orgC} {
		var result string
		var rows int64
		err := db.QueryRow(ctx, `SELECT details->>'result', (details->'readings'->>'target_rows')::bigint FROM audit_log
		                          WHERE org_id = $1 AND action = 'import.completed' ORDER BY id DESC LIMIT 1`, org).Scan(&result, &rows)
		if err != nil || result != "PASS" || (org != f.orgC && rows == 0) {
			t.Errorf("import.completed of %s: %q %d %v", org, result, rows, err)
		}
		if _, _, err := auth.VerifyAudit(ctx, db, org); err != nil {
			t.Errorf("audit chain of %s after verify: %v", org, err)
		}
	}
}

func diffLines(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, fmt.Sprintf("line %d:\n- %.400s\n+ %.400s", i, x, y))
		}
	}
	return strings.Join(out, "\n")
}

// checkPolicies checks every seed notification policy's outcome: scope,
// kind and each setting, as stored.
func checkPolicies(t *testing.T, f *seedFixture, check func(want, sql string, args ...any)) {
	t.Helper()
	p := f.policyIDs
	const row = `SELECT coalesce(site_id::text, '-') || '|' || coalesce(unit_id::text, '-') || '|' || alert_kind || '|' || initial_channels::text
	  || '|' || ack_deadline_minutes || '|' || reminder_minutes || '|' || notify_on_resolve || '|' || coalesce(quiet_start || '-' || quiet_end, '-')
	  || '|' || quiet_overridden_by_critical || '|' || min_severity FROM notification_policies WHERE id = $1 AND org_id = $2`
	const steps = `SELECT steps::text FROM notification_policies WHERE id = $1`
	// alarm_active: two policies (temp_high keeps the seed's id), the same
	// settings; the reminder interval of 2 min is clamped to 5, the quiet
	// hours normalised, the IN_APP_CENTER initial channel dropped.
	orgSteps := `[{"roles": ["staff", "manager"], "channels": ["sms"], "after_minutes": 0}, {"roles": ["manager"], "channels": ["email", "sms"], "after_minutes": 15}]`
	for kind, id := range map[string]string{"temp_high": p["org-alarm"], "temp_low": deriveID("notification_policy", p["org-alarm"], "temp_low")} {
		check("-|-|"+kind+`|["sms"]|30|5|true|22:00-07:00|true|warning`, row, id, f.orgA)
		check(orgSteps, steps, id)
	}
	check("FreshTrack Pro policy (organisation, temp_low)", `SELECT name FROM notification_policies WHERE id = $1`,
		deriveID("notification_policy", p["org-alarm"], "temp_low"))
	// site scope: WEB_TOAST dropped, so step 0 keeps its own channels; the
	// first SMS step (after 5 min) fires at once; default roles and the
	// seed's default threshold WARNING.
	for kind, id := range map[string]string{"temp_high": p["site-alarm"], "temp_low": deriveID("notification_policy", p["site-alarm"], "temp_low")} {
		check(f.siteB1+"|-|"+kind+"|[]|0|0|false|-|true|warning", row, id, f.orgB)
		check(`[{"roles": ["owner", "admin"], "channels": ["sms"], "after_minutes": 0}]`, steps, id)
	}
	// unit scope: CRITICAL threshold, reminder 2000 clamped to 1440, an
	// empty quiet window (08:00 to 8:00) dropped.
	check("-|"+f.units["fridge-1"].id+`|battery_low|["email"]|0|1440|false|-|true|critical`, row, p["unit-battery"], f.orgA)
	// allow_warning_notifications = false: critical only; requires_ack
	// without a deadline: none.
	check(`-|-|door_open|["sms"]|0|0|false|-|true|critical`, row, p["door"], f.orgB)
	check(`-|-|calibration_due|["email"]|0|0|false|-|true|warning`, row, p["calibration"], f.orgB)
	check(`-|-|manual_log_missed|["sms"]|0|0|false|-|true|warning`, row, p["manual"], f.orgB)
	check(`-|-|sensor_fault|["sms", "email"]|0|0|false|-|true|warning`, row, p["fault"], f.orgB)
	check(`-|-|sensor_implausible|["sms", "email"]|0|0|false|-|true|warning`, row, deriveID("notification_policy", p["fault"], "sensor_implausible"), f.orgB)
	// merged, in-app only, no kind, unit not imported: no rows.
	check("0", `SELECT count(*)::text FROM notification_policies WHERE id IN ($1, $2, $3, $4)`, p["org-alarm-old"], p["org-offline"], p["unknown"], p["orphan"])
	check("10", `SELECT count(*)::text FROM notification_policies`)
	check("0", `SELECT count(*)::text FROM escalation_policies`)
}
