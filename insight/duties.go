package insight

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/alerting"
)

// Duties are what people owe the record rather than what the readings say:
// a manual temperature check at the site's cadence, and each sensor's
// calibration by its due date. checkDuties states each duty's condition
// now; apply turns a change into an alert or its end.
func checkDuties(ctx context.Context, tx pgx.Tx, orgID, unitID string, ur *unitRules, now time.Time) ([]Signal, error) {
	var out []Signal
	zone := ur.params.Zone
	if zone == nil {
		zone = time.UTC
	}
	if r := ur.manualLog; r != nil {
		s, err := manualLogDuty(ctx, tx, orgID, unitID, r, now, zone)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if r := ur.calibrate; r != nil {
		s, err := calibrationDuty(ctx, tx, orgID, unitID, r, now)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// manualLogDuty: a unit at a site with a manual-log cadence needs a manual
// check within the cadence of the previous one (or of the unit's creation),
// plus the rule's grace minutes.
func manualLogDuty(ctx context.Context, tx pgx.Tx, orgID, unitID string, r *alerting.Rule, now time.Time, zone *time.Location) (Signal, error) {
	var (
		cadence *int32
		last    time.Time
	)
	err := tx.QueryRow(ctx, `
		SELECT si.manual_log_cadence_minutes,
		       coalesce((SELECT max(checked_at) FROM manual_checks m WHERE m.org_id = u.org_id AND m.unit_id = u.id), u.created_at)
		  FROM units u JOIN sites si ON si.org_id = u.org_id AND si.id = u.site_id
		 WHERE u.org_id = $1 AND u.id = $2`, orgID, unitID).Scan(&cadence, &last)
	if err != nil {
		return Signal{}, fmt.Errorf("manual log duty: %w", err)
	}
	clear := Signal{Op: Clear, Kind: r.Kind, RuleID: r.ID, At: now, Reason: "a manual check was logged"}
	if cadence == nil {
		clear.Reason = "the site no longer has a manual-log cadence"
		return clear, nil
	}
	every := time.Duration(*cadence) * time.Minute
	due := last.Add(every)
	grace := time.Duration(r.Threshold * float64(time.Minute))
	if math.IsNaN(r.Threshold) {
		grace = 0
	}
	if now.Before(due.Add(grace)) {
		return clear, nil
	}
	overdue := now.Sub(due)
	return Signal{Op: Raise, Kind: r.Kind, RuleID: r.ID, Started: due, At: now, Value: overdue.Minutes(),
		Summary: fmt.Sprintf("No manual temperature check logged since %s (due every %s, overdue by %s)",
			last.In(zone).Format("Jan 2 15:04 MST"), humanMinutes(every), humanMinutes(overdue)),
		Details: map[string]any{"last_check_at": last, "cadence_minutes": *cadence, "due_at": due,
			"overdue_minutes": math.Round(overdue.Minutes())}}, nil
}

// calibrationDuty: a sensor of the unit whose newest calibration record is
// due within the rule's days (or overdue) needs calibrating. Sensors
// without a record have no due date.
func calibrationDuty(ctx context.Context, tx pgx.Tx, orgID, unitID string, r *alerting.Rule, now time.Time) (Signal, error) {
	rows, err := tx.Query(ctx, `
		SELECT s.id, coalesce(s.name, s.external_id), c.due_at
		  FROM sensors s
		  JOIN LATERAL (SELECT due_at FROM sensor_calibrations c WHERE c.org_id = s.org_id AND c.sensor_id = s.id
		                 ORDER BY calibrated_at DESC, created_at DESC LIMIT 1) c ON true
		 WHERE s.org_id = $1 AND s.unit_id = $2 AND s.retired_at IS NULL
		 ORDER BY c.due_at, s.id`, orgID, unitID)
	if err != nil {
		return Signal{}, fmt.Errorf("calibration duty: %w", err)
	}
	type due struct {
		sensor int64
		name   string
		at     time.Time
	}
	var (
		list []due
		d    due
	)
	if _, err := pgx.ForEachRow(rows, []any{&d.sensor, &d.name, &d.at}, func() error { list = append(list, d); return nil }); err != nil {
		return Signal{}, fmt.Errorf("calibration duty: %w", err)
	}
	ahead := time.Duration(r.Threshold * float64(24*time.Hour))
	var soon []due
	for _, d := range list {
		if !now.Before(d.at.Add(-ahead)) {
			soon = append(soon, d)
		}
	}
	if len(soon) == 0 {
		return Signal{Op: Clear, Kind: r.Kind, RuleID: r.ID, At: now, Reason: "every sensor's calibration is in date"}, nil
	}
	first := soon[0]
	summary := fmt.Sprintf("Calibration of sensor %s due on %s", first.name, first.at.UTC().Format("2006-01-02"))
	if !now.Before(first.at) {
		summary = fmt.Sprintf("Calibration of sensor %s overdue since %s", first.name, first.at.UTC().Format("2006-01-02"))
	}
	if len(soon) > 1 {
		summary += fmt.Sprintf(" (and %d more sensors)", len(soon)-1)
	}
	sensors := make([]map[string]any, len(soon))
	for i, d := range soon {
		sensors[i] = map[string]any{"sensor": d.name, "due_at": d.at}
	}
	return Signal{Op: Raise, Kind: r.Kind, RuleID: r.ID, Started: first.at.Add(-ahead), At: now, Sensor: first.sensor,
		Value: math.NaN(), Summary: summary, Details: map[string]any{"due": sensors}}, nil
}

// humanMinutes says a duration the way a kitchen would: "4 h", "1 h 30 min", "25 min".
func humanMinutes(d time.Duration) string {
	m := int(d.Round(time.Minute) / time.Minute)
	switch {
	case m < 60:
		return fmt.Sprintf("%d min", m)
	case m%60 == 0:
		return fmt.Sprintf("%d h", m/60)
	}
	return fmt.Sprintf("%d h %d min", m/60, m%60)
}
