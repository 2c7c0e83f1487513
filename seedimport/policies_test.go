package seedimport

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

func TestQuietTime(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"22:00": "22:00", "7:00": "07:00", "07:05:00": "07:05", " 23:59 ": "23:59", "0:00": "00:00",
		"24:00": "", "7:60": "", "7": "", "7:0": "", "07:00:61": "", "": "", "seven": "", "07:00 pm": "", "-1:00": "", "007:00": ""} {
		got, ok := quietTime(in)
		if ok != (want != "") || got != want {
			t.Errorf("quietTime(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestMinSeverity(t *testing.T) {
	t.Parallel()
	f := func(threshold *string, allowWarnings bool, want string, wantKnown bool) {
		t.Helper()
		if got, known := minSeverity(threshold, allowWarnings); got != want || known != wantKnown {
			t.Errorf("minSeverity(%v, %v) = %s, %v; want %s, %v", deref(threshold), allowWarnings, got, known, want, wantKnown)
		}
	}
	f(ptr("INFO"), true, "info", true)
	f(ptr("WARNING"), true, "warning", true)
	f(ptr("critical"), true, "critical", true)
	f(ptr("INFO"), false, "critical", true)
	f(nil, true, "info", true)
	f(ptr("LOUD"), true, "info", false)
}

// Every seed alert type has FreshTrack kinds, and they are real kinds.
func TestPolicyKindsAreFreshTrackKinds(t *testing.T) {
	t.Parallel()
	// The seed's alert_type enum (testdata/seed_freshstaged.sql).
	for _, typ := range []string{"alarm_active", "monitoring_interrupted", "missed_manual_entry", "low_battery", "sensor_fault", "door_open", "calibration_due"} {
		kinds := policyKinds[typ]
		if len(kinds) == 0 {
			t.Errorf("seed alert type %s has no FreshTrack kind", typ)
		}
		for _, k := range kinds {
			if !slices.Contains(alerting.Kinds(), k) {
				t.Errorf("seed alert type %s maps to %q, not a FreshTrack kind", typ, k)
			}
		}
	}
}

// A seed whose notification_policies lack the newer columns still imports
// (with the defaults those columns had), and a policy FreshTrack already has
// on a scope is left as it is and reported.
func TestOlderSeedPoliciesAndOnesFreshTrackHas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSeed(t, shapeFresh, 1, time.Hour)
	f.exec(`ALTER TABLE notification_policies DROP COLUMN ack_deadline_minutes, DROP COLUMN reminder_interval_minutes,
	        DROP COLUMN send_resolved_notifications, DROP COLUMN quiet_hours_start_local, DROP COLUMN quiet_hours_end_local,
	        DROP COLUMN severity_threshold, DROP COLUMN allow_warning_notifications, DROP COLUMN notify_site_managers,
	        DROP COLUMN notify_assigned_users`)
	target := pgtest.NewDB(t)
	const mine = "11111111-2222-4333-8444-555555555555"
	for _, q := range []string{
		`INSERT INTO organizations (id, name) VALUES ('` + f.orgB + `', 'Beta Foods')`,
		`INSERT INTO notification_policies (id, org_id, alert_kind, name, steps)
		 VALUES ('` + mine + `', '` + f.orgB + `', 'door_open', 'Our own door policy', '[{"after_minutes":0,"channels":["email"],"roles":["owner"]}]')`,
	} {
		if _, err := target.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	o := options(f, target)
	rep := mustImport(t, o)
	pt := rep.Table("notification_policies")
	if pt.Read != 11 || pt.Written != 9 || pt.Merged != 1 || pt.Skipped["FreshTrack already has a policy there"] != 1 {
		t.Errorf("notification policies in the report: %+v", pt)
	}
	for _, want := range []string{
		"1 imported notification policies were not written: FreshTrack already has a policy for that scope and kind",
		"2 notification policies had reminders on without an interval",
		"2 notification policies had quiet hours on with a missing, invalid or empty (start = end) window",
		"2 notification policies required acknowledgement without a deadline",
	} {
		if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, want) }) {
			t.Errorf("no report note says %q; notes:\n%s", want, strings.Join(rep.Notes, "\n"))
		}
	}
	var got string
	if err := target.QueryRow(ctx, `SELECT ack_deadline_minutes || '|' || reminder_minutes || '|' || notify_on_resolve || '|' || (quiet_start IS NULL)
	        || '|' || min_severity || '|' || initial_channels::text FROM notification_policies WHERE id = $1`, f.policyIDs["org-alarm"]).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := `0|0|false|true|info|["sms"]`; got != want {
		t.Errorf("the older seed's organisation policy: %s, want %s", got, want)
	}
	if err := target.QueryRow(ctx, `SELECT string_agg(id::text || ' ' || name, ',') FROM notification_policies WHERE org_id = $1 AND alert_kind = 'door_open'`,
		f.orgB).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := mine + " Our own door policy"; got != want {
		t.Errorf("organisation B's door policies: %s, want only its own %s", got, want)
	}
	mustVerify(t, o)
}
