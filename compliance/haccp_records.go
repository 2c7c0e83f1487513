package compliance

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/database"
)

// person builds a Person from a LEFT JOIN on users: nil when nobody.
func person(known bool, name, email string) *Person {
	if !known {
		return nil
	}
	return &Person{Name: name, Email: email}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// loadAlerts reads the units' temperature alerts whose lifetime overlaps the
// time whose readings the report reads (window.readSpan: excursions are seen
// that far around the period), by unit.
func loadAlerts(ctx context.Context, db database.Querier, orgID string, unitIDs []string, w window) (map[string][]AlertRecord, error) {
	out := map[string][]AlertRecord{}
	if len(unitIDs) == 0 {
		return out, nil
	}
	from, to := w.readSpan()
	rows, err := db.Query(ctx, `
		SELECT a.id::text, a.unit_id::text, a.kind, a.severity, a.status, a.started_at, a.resolved_at,
		       a.acknowledged_at, us.id IS NOT NULL, coalesce(us.name, ''), coalesce(us.email, '')
		  FROM alerts a
		  LEFT JOIN users us ON us.id = a.acknowledged_by
		 WHERE a.org_id = $1 AND a.unit_id = ANY($2::uuid[]) AND a.kind IN ('temp_high', 'temp_low')
		   AND a.started_at < $4 AND (a.resolved_at IS NULL OR a.resolved_at > $3)
		 ORDER BY a.started_at, a.id`, orgID, unitIDs, from, to)
	if err != nil {
		return nil, fmt.Errorf("haccp report: alerts: %w", err)
	}
	var (
		a           AlertRecord
		unit        string
		acked       bool
		name, email string
	)
	_, err = pgx.ForEachRow(rows, []any{&a.ID, &unit, &a.Kind, &a.Severity, &a.Status, &a.StartedAt, &a.ResolvedAt,
		&a.AcknowledgedAt, &acked, &name, &email}, func() error {
		rec := a
		rec.Name = AlertName(rec.Kind)
		rec.StartedAt = rec.StartedAt.UTC()
		rec.ResolvedAt, rec.AcknowledgedAt = utcPtr(rec.ResolvedAt), utcPtr(rec.AcknowledgedAt)
		rec.AcknowledgedBy = person(acked, name, email)
		out[unit] = append(out[unit], rec)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("haccp report: alerts: %w", err)
	}
	return out, nil
}

// actionSet holds corrective actions by alert and, for those taken in the
// period, by unit.
type actionSet struct {
	byAlert map[string][]CorrectiveAction
	byUnit  map[string][]CorrectiveAction
}

// loadActions reads the corrective actions of the alerts and those taken on
// the units during the period.
func loadActions(ctx context.Context, db database.Querier, orgID string, unitIDs []string, alerts map[string][]AlertRecord, w window) (actionSet, error) {
	set := actionSet{byAlert: map[string][]CorrectiveAction{}, byUnit: map[string][]CorrectiveAction{}}
	if len(unitIDs) == 0 {
		return set, nil
	}
	alertIDs := []string{}
	for _, as := range alerts {
		for _, a := range as {
			alertIDs = append(alertIDs, a.ID)
		}
	}
	rows, err := db.Query(ctx, `
		SELECT ca.alert_id::text, ca.unit_id::text, ca.action, ca.disposition, ca.notes, ca.taken_at,
		       us.id IS NOT NULL, coalesce(us.name, ''), coalesce(us.email, '')
		  FROM corrective_actions ca
		  LEFT JOIN users us ON us.id = ca.taken_by
		 WHERE ca.org_id = $1
		   AND (ca.alert_id = ANY($3::uuid[])
		        OR (ca.unit_id = ANY($2::uuid[]) AND ca.taken_at >= $4 AND ca.taken_at < $5))
		 ORDER BY ca.taken_at, ca.id`, orgID, unitIDs, alertIDs, w.p0, w.p1)
	if err != nil {
		return set, fmt.Errorf("haccp report: corrective actions: %w", err)
	}
	var (
		c           CorrectiveAction
		unit        string
		known       bool
		name, email string
	)
	_, err = pgx.ForEachRow(rows, []any{&c.AlertID, &unit, &c.Action, &c.Disposition, &c.Notes, &c.TakenAt, &known, &name, &email}, func() error {
		rec := c
		rec.TakenAt = rec.TakenAt.UTC()
		rec.TakenBy = person(known, name, email)
		if rec.AlertID != nil {
			set.byAlert[*rec.AlertID] = append(set.byAlert[*rec.AlertID], rec)
		}
		if !rec.TakenAt.Before(w.p0) && rec.TakenAt.Before(w.p1) {
			set.byUnit[unit] = append(set.byUnit[unit], rec)
		}
		return nil
	})
	if err != nil {
		return set, fmt.Errorf("haccp report: corrective actions: %w", err)
	}
	return set, nil
}

// loadChecks reads the units' manual checks in the period, by unit.
func loadChecks(ctx context.Context, db database.Querier, orgID string, unitIDs []string, w window) (map[string][]ManualCheck, error) {
	out := map[string][]ManualCheck{}
	if len(unitIDs) == 0 {
		return out, nil
	}
	rows, err := db.Query(ctx, `
		SELECT mc.unit_id::text, mc.checked_at, mc.temp_c, mc.notes,
		       us.id IS NOT NULL, coalesce(us.name, ''), coalesce(us.email, '')
		  FROM manual_checks mc
		  LEFT JOIN users us ON us.id = mc.checked_by
		 WHERE mc.org_id = $1 AND mc.unit_id = ANY($2::uuid[]) AND mc.checked_at >= $3 AND mc.checked_at < $4
		 ORDER BY mc.checked_at, mc.id`, orgID, unitIDs, w.p0, w.p1)
	if err != nil {
		return nil, fmt.Errorf("haccp report: manual checks: %w", err)
	}
	var (
		m           ManualCheck
		unit        string
		known       bool
		name, email string
	)
	_, err = pgx.ForEachRow(rows, []any{&unit, &m.CheckedAt, &m.Temp, &m.Notes, &known, &name, &email}, func() error {
		rec := m
		rec.CheckedAt = rec.CheckedAt.UTC()
		rec.CheckedBy = person(known, name, email)
		out[unit] = append(out[unit], rec)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("haccp report: manual checks: %w", err)
	}
	return out, nil
}

// attachAlerts gives each excursion the alerts whose lifetime overlaps it
// as the readings show it, with their corrective actions.
func attachAlerts(ur *UnitReport, alerts []AlertRecord, actions actionSet) {
	for i := range ur.Excursions {
		e := &ur.Excursions[i]
		for _, a := range alerts {
			endsBefore := a.ResolvedAt != nil && a.ResolvedAt.Before(e.seenFrom)
			startsAfter := !e.seenTo.IsZero() && a.StartedAt.After(e.seenTo)
			if endsBefore || startsAfter {
				continue
			}
			rec := a
			rec.CorrectiveActions = nonNil(actions.byAlert[a.ID])
			e.Alerts = append(e.Alerts, rec)
		}
	}
}
