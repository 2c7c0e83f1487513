package insight

import (
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/alerting"
)

func TestManualLogMissedAlertsPastCadenceAndGraceAndClearsWithACheck(t *testing.T) {
	t.Parallel()
	k := newKitchen(t)
	unit, _ := k.unit("fridge", "Prep fridge")
	k.exec(`UPDATE sites SET manual_log_cadence_minutes = 240 WHERE id = $1`, k.site)
	start := k.now

	k.run()
	k.now = start.Add(4*time.Hour + 29*time.Minute) // inside the 30-minute grace
	k.run()
	if got := k.alerts(unit, "manual_log_missed"); len(got) != 0 {
		t.Fatalf("alerts within the grace period: %v", got)
	}
	k.now = start.Add(4*time.Hour + 31*time.Minute)
	k.run()
	got := k.alerts(unit, "manual_log_missed")
	if len(got) != 1 || got[0][0] != "triggered" || !strings.Contains(got[0][1], "No manual temperature check logged since") {
		t.Fatalf("alerts past cadence + grace: %v", got)
	}
	if n := k.count(`SELECT count(*) FROM notifications n JOIN alerts a ON a.id = n.alert_id WHERE a.unit_id = $1 AND a.kind = 'manual_log_missed'`, unit); n != 1 {
		t.Fatalf("%d notifications, want the escalation policy's first step: an SMS to the staff on shift", n)
	}
	var text string
	k.must(`SELECT j.args->>'text' FROM river_job j JOIN notifications n ON n.id::text = j.args->>'notification_id'
	          JOIN alerts a ON a.id = n.alert_id WHERE a.unit_id = $1 AND n.channel = 'sms'`, []any{&text}, unit)
	if !strings.Contains(text, "No manual temperature check logged since") {
		t.Fatalf("SMS %q does not carry the alert's summary", text)
	}
	// Still overdue a minute later: the same alert, nothing new.
	k.now = k.now.Add(time.Minute)
	k.run()
	if got := k.alerts(unit, "manual_log_missed"); len(got) != 1 {
		t.Fatalf("alerts after another run: %v", got)
	}

	k.exec(`INSERT INTO manual_checks (org_id, unit_id, checked_at, temp_c) VALUES ($1, $2, $3, 3.4)`, k.org, unit, k.now)
	k.now = k.now.Add(time.Minute)
	k.run()
	got = k.alerts(unit, "manual_log_missed")
	if len(got) != 1 || got[0][0] != "resolved" {
		t.Fatalf("alerts after a check was logged: %v", got)
	}
	var reason string
	k.must(`SELECT e.details->>'reason' FROM alert_events e JOIN alerts a ON a.id = e.alert_id WHERE a.unit_id = $1 AND e.kind = 'auto_resolved'`, []any{&reason}, unit)
	if reason != "a manual check was logged" {
		t.Fatalf("auto_resolved reason %q", reason)
	}

	// The next check is due 4 h after the one logged.
	k.now = k.now.Add(4*time.Hour + 31*time.Minute)
	k.run()
	if got := k.alerts(unit, "manual_log_missed"); len(got) != 2 || got[1][0] != "triggered" {
		t.Fatalf("alerts when the next check is overdue: %v", got)
	}
	// A site that drops its cadence has no duty: the alert ends.
	k.exec(`UPDATE sites SET manual_log_cadence_minutes = NULL WHERE id = $1`, k.site)
	k.now = k.now.Add(time.Minute)
	k.run()
	if got := k.alerts(unit, "manual_log_missed"); len(got) != 2 || got[1][0] != "resolved" {
		t.Fatalf("alerts after the cadence was removed: %v", got)
	}
}

func TestManualLogMissedRespectsAnEditedGraceAndADisabledRule(t *testing.T) {
	t.Parallel()
	k := newKitchen(t)
	unit, _ := k.unit("walk_in", "Walk-in")
	k.exec(`UPDATE sites SET manual_log_cadence_minutes = 60 WHERE id = $1`, k.site)
	start := k.now
	if _, err := alerting.EnsureRules(k.ctx, k.pool, k.org); err != nil {
		t.Fatal(err)
	}
	k.exec(`UPDATE alert_rules SET threshold = 120 WHERE org_id = $1 AND kind = 'manual_log_missed' AND unit_kind = 'walk_in'`, k.org)
	k.eval.Invalidate(k.org)
	k.now = start.Add(2*time.Hour + 59*time.Minute)
	k.run()
	if got := k.alerts(unit, "manual_log_missed"); len(got) != 0 {
		t.Fatalf("alerts inside an edited 120-minute grace: %v", got)
	}
	k.exec(`UPDATE alert_rules SET enabled = false WHERE org_id = $1 AND kind = 'manual_log_missed' AND unit_kind = 'walk_in'`, k.org)
	k.now = start.Add(5 * time.Hour)
	k.run()
	if got := k.alerts(unit, "manual_log_missed"); len(got) != 0 {
		t.Fatalf("alerts with the rule disabled: %v", got)
	}
}

func TestCalibrationDueAlertsAheadAndClearsWithANewRecord(t *testing.T) {
	t.Parallel()
	k := newKitchen(t)
	unit, sensor := k.unit("fridge", "Dairy fridge")
	other, _ := k.unit("fridge", "Drinks fridge") // no calibration record: no due date
	start := k.now
	k.exec(`INSERT INTO sensor_calibrations (org_id, sensor_id, calibrated_at, due_at, reference_c, measured_c, offset_c)
	        VALUES ($1, $2, $3, $4, 0, 0.2, -0.2)`, k.org, sensor, start.AddDate(0, -11, 0), start.AddDate(0, 0, 20))
	k.run()
	if got := k.alerts(unit, "calibration_due"); len(got) != 0 {
		t.Fatalf("alerts 20 days before the due date: %v", got)
	}
	k.now = start.AddDate(0, 0, 7) // 13 days before: inside the 14-day warning
	k.run()
	got := k.alerts(unit, "calibration_due")
	if len(got) != 1 || got[0][0] != "triggered" || !strings.Contains(got[0][1], "Dairy fridge probe due on") {
		t.Fatalf("alerts 13 days before the due date: %v", got)
	}
	k.now = start.AddDate(0, 0, 21)
	k.run()
	if got := k.alerts(unit, "calibration_due"); len(got) != 1 {
		t.Fatalf("alerts once overdue: %v (one alert, kept)", got)
	}
	k.exec(`INSERT INTO sensor_calibrations (org_id, sensor_id, calibrated_at, due_at) VALUES ($1, $2, $3, $4)`,
		k.org, sensor, k.now.Add(-time.Hour), k.now.AddDate(1, 0, 0))
	k.run()
	if got := k.alerts(unit, "calibration_due"); len(got) != 1 || got[0][0] != "resolved" {
		t.Fatalf("alerts after a new calibration: %v", got)
	}
	if got := k.alerts(other, "calibration_due"); len(got) != 0 {
		t.Fatalf("a sensor without records alerted: %v", got)
	}
}
