package alerting

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// SQL of the locked path: alert_state rows locked and stored, a unit's
// stored readings loaded for replay.

// lockStates locks a unit's alert_state rows of the given rules, in rule
// order, and loads them with the status of the alert each is attached to.
func lockStates(ctx context.Context, tx pgx.Tx, unitID string, ruleIDs []string) (map[string]*ruleState, error) {
	rows, err := tx.Query(ctx, `
		SELECT s.rule_id::text, s.state, s.since, s.evaluated_to, s.peak_c, s.alert_id::text,
		       a.status, a.resolved_at, s.stands_until
		  FROM alert_state s LEFT JOIN alerts a ON a.id = s.alert_id
		 WHERE s.unit_id = $1 AND s.rule_id = ANY($2::text[]::uuid[])
		 ORDER BY s.rule_id
		   FOR UPDATE OF s`, unitID, ruleIDs)
	if err != nil {
		return nil, fmt.Errorf("lock alert states: %w", err)
	}
	states := make(map[string]*ruleState, len(ruleIDs))
	var (
		ruleID, state                     string
		since, evaluated, resolve, stands *time.Time
		peak                              *float64
		alertID, status                   *string
	)
	_, err = pgx.ForEachRow(rows, []any{&ruleID, &state, &since, &evaluated, &peak, &alertID, &status, &resolve, &stands}, func() error {
		st := newState()
		st.Phase = phase(state)
		if since != nil {
			st.Since = since.UTC()
		}
		if evaluated != nil {
			st.EvaluatedTo = evaluated.UTC()
		}
		if stands != nil {
			st.StandsUntil = stands.UTC()
		}
		if peak != nil {
			st.Peak = *peak
		}
		if alertID != nil {
			a := &alertRef{ID: *alertID}
			if status == nil || *status == "resolved" {
				a.Resolved = true
				if resolve != nil {
					a.ResolvedAt = resolve.UTC()
				}
			}
			st.Alert = a
		}
		states[ruleID] = st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lock alert states: %w", err)
	}
	if len(states) != len(ruleIDs) {
		return nil, errRulesChanged
	}
	return states, nil
}

// storeStates writes the evaluated states back.
func storeStates(ctx context.Context, tx pgx.Tx, unitID string, states map[string]*ruleState) error {
	if len(states) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for ruleID, st := range states {
		b.Queue(`
			UPDATE alert_state SET state = $3, since = $4, evaluated_to = $5, peak_c = $6, alert_id = $7, stands_until = $8, updated_at = now()
			 WHERE unit_id = $1 AND rule_id = $2`,
			unitID, ruleID, string(st.Phase), nullTime(st.Since), nullTime(st.EvaluatedTo), nullFloat(st.Peak), alertIDOf(st),
			nullTime(st.StandsUntil))
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store alert states: %w", err)
	}
	return nil
}

func alertIDOf(st *ruleState) *string {
	if st.Alert == nil {
		return nil
	}
	return &st.Alert.ID
}

// maxReplay bounds the readings one unit's replay reads back; past it the
// oldest are left out.
const maxReplay = 500_000

// loadSamples reads a unit's stored readings and probe faults from a time
// on, in time order.
func loadSamples(ctx context.Context, tx pgx.Tx, u *unitInfo, from time.Time) ([]sample, error) {
	rows, err := tx.Query(ctx, `
		WITH s AS (SELECT id FROM sensors WHERE org_id = $1 AND unit_id = $2)
		SELECT * FROM (
			SELECT r.time, r.sensor_id, r.temp_c, r.battery, false AS fault
			  FROM readings r
			 WHERE r.sensor_id = ANY(ARRAY(SELECT id FROM s)) AND r.time >= $3
			UNION ALL
			SELECT f.time, f.sensor_id, f.code, NULL::real, true
			  FROM sensor_faults f
			 WHERE f.sensor_id = ANY(ARRAY(SELECT id FROM s)) AND f.time >= $3) x
		 ORDER BY time DESC, sensor_id DESC
		 LIMIT $4`, u.OrgID, u.ID, from, maxReplay)
	if err != nil {
		return nil, fmt.Errorf("load readings: %w", err)
	}
	var (
		out []sample
		s   sample
		bat *float32
	)
	_, err = pgx.ForEachRow(rows, []any{&s.T, &s.Sensor, &s.TempC, &bat, &s.Fault}, func() error {
		s.T = s.T.UTC()
		s.Battery = math.NaN()
		if bat != nil {
			s.Battery = float64(*bat)
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load readings: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func nullFloat(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}
