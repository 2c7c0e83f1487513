package seedimport

import (
	"context"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// Verify fails, on exactly the lines concerned, when FreshTrack lost a
// reading, holds a changed one, lost a row of a table, or holds a changed
// notification policy.
func TestVerifyFindsWhatIsMissingOrChanged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newSeed(t, shapeFresh, 1, 30*time.Minute)
	target := pgtest.NewDB(t)
	o := options(f, target)
	mustImport(t, o)
	mustVerify(t, o)

	fridge, display := f.units["fridge-1"], f.units["display-1"]
	for _, q := range []string{
		`DELETE FROM readings WHERE (sensor_id, time) IN (SELECT r.sensor_id, max(r.time) FROM readings r JOIN sensors s ON s.id = r.sensor_id WHERE s.public_id = '` + fridge.device + `' GROUP BY 1)`,
		`UPDATE readings SET temp_c = temp_c + 0.01 WHERE (sensor_id, time) IN (SELECT r.sensor_id, min(r.time) FROM readings r JOIN sensors s ON s.id = r.sensor_id WHERE s.public_id = '` + display.device + `' GROUP BY 1)`,
		`DELETE FROM corrective_actions WHERE unit_id = '` + fridge.id + `'`,
		`UPDATE notification_policies SET reminder_minutes = 0 WHERE id = '` + f.policyIDs["org-alarm"] + `'`,
	} {
		if _, err := target.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Verify(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Result != "FAIL" {
		t.Fatalf("verify after tampering = %s", res.Result)
	}
	failing := map[string]bool{}
	for _, l := range res.Readings {
		if l.Result == "FAIL" {
			failing[l.UnitID] = true
		}
	}
	if len(failing) != 2 || !failing[fridge.id] || !failing[display.id] {
		t.Fatalf("failing units %v, want fridge-1 and display-1", failing)
	}
	for _, l := range res.Tables {
		want := "PASS"
		if l.Table == "corrective_actions" || l.Table == "readings" || l.Table == "notification_policies" {
			want = "FAIL"
		}
		if l.Result != want {
			t.Errorf("table %s: %s, want %s (%+v)", l.Table, l.Result, want, l)
		}
	}
	var result string
	if err := target.QueryRow(ctx, `SELECT details->>'result' FROM audit_log WHERE org_id = $1 AND action = 'import.completed' ORDER BY id DESC LIMIT 1`, f.orgA).Scan(&result); err != nil || result != "FAIL" {
		t.Fatalf("the failed verification was recorded as %q (%v)", result, err)
	}
}

// A reading the live seed receives after the import is the next --since
// run's: verify compares each day as of the snapshot it was imported in.
func TestVerifyIgnoresWhatArrivedAfterTheImport(t *testing.T) {
	t.Parallel()
	f := newSeed(t, shapeFresh, 1, 30*time.Minute)
	o := options(f, pgtest.NewDB(t))
	mustImport(t, o)
	f.addReadings(3)
	mustVerify(t, o)
}
