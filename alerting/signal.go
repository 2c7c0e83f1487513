package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
)

// The food-safety kinds (those Evaluated is false for) have no state machine
// here: the detectors of package insight recognise their conditions in a
// unit's history and report each one's beginning (RaiseTx) and end
// (ClearTx). Their alerts are otherwise ordinary: the same row, events,
// escalation, notifications, audit entries and one open alert per unit and
// rule.

// Condition is a food-safety rule's condition for RaiseTx.
type Condition struct {
	// Started is when the condition began; At when it was confirmed.
	Started, At time.Time
	// SensorID is the probe concerned (sensors.id); 0 for the unit.
	SensorID int64
	// Value is the figure the alert is about (NaN: none). It is stored
	// as the alert's reading for the kinds measured in °C (cooling).
	Value float64
	// Summary is one sentence for the person told; Details are recorded
	// on the alert's 'triggered' event.
	Summary string
	Details map[string]any
}

// RaiseTx opens the alert of a food-safety condition of a unit under rule r
// in tx, with its step-0 notification, escalation jobs and audit entry, or
// attaches it to the unit and rule's alert that is still open. It returns
// the alert and whether it was opened now; report an opened alert with
// Opened once tx has committed. Run it after the transaction's other writes:
// its audit entry takes the organisation's audit lock.
func (e *Evaluator) RaiseTx(ctx context.Context, tx pgx.Tx, unitID string, r Rule, c Condition) (AlertOpened, bool, error) {
	if Evaluated(r.Kind) {
		return AlertOpened{}, false, fmt.Errorf("raise: %s is the evaluator's own kind", r.Kind)
	}
	env, err := e.signalEnv(ctx, tx, unitID)
	if err != nil {
		return AlertOpened{}, false, err
	}
	x := excursion{Started: c.Started, At: c.At, Peak: math.NaN(), Value: c.Value, Sensor: c.SensorID,
		Summary: c.Summary, Details: c.Details}
	if x.At.IsZero() {
		x.At = env.now
	}
	if _, err := env.insertAlert(&r, x); err != nil {
		return AlertOpened{}, false, fmt.Errorf("raise %s: %w", r.Kind, err)
	}
	if err := env.flushAudit(); err != nil {
		return AlertOpened{}, false, err
	}
	if len(env.opened) == 0 {
		return AlertOpened{}, false, nil
	}
	return env.opened[0], true, nil
}

// ClearTx ends a food-safety condition of a unit under rule r: the unit and
// rule's open alert is resolved, with an 'auto_resolved' event giving the
// reason, when the rule auto-resolves; otherwise it stays open for a person
// (a cooling log that failed, the 4-hour rule: food may have to be thrown
// away) and a comment records that the condition ended. It returns the
// alert id, or "" when none was open.
func (e *Evaluator) ClearTx(ctx context.Context, tx pgx.Tx, unitID string, r Rule, at time.Time, reason string) (string, error) {
	env, err := e.signalEnv(ctx, tx, unitID)
	if err != nil {
		return "", err
	}
	var id string
	err = tx.QueryRow(ctx, `SELECT id::text FROM alerts WHERE unit_id = $1 AND rule_id = $2 AND status <> 'resolved' FOR UPDATE`,
		unitID, r.ID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("clear %s: %w", r.Kind, err)
	}
	if r.AutoResolve {
		if err := env.autoResolveFor(&r, id, at, reason); err != nil {
			return "", err
		}
	} else {
		details, _ := json.Marshal(map[string]any{"comment": "The condition ended: " + reason +
			". The alert stays open until a person records what was done with the food.", "cleared_at": at})
		if _, err := tx.Exec(ctx, `INSERT INTO alert_events (org_id, alert_id, at, kind, details) VALUES ($1, $2, $3, 'comment', $4)`,
			env.unit.OrgID, id, env.now, json.RawMessage(details)); err != nil {
			return "", fmt.Errorf("clear %s: %w", r.Kind, err)
		}
	}
	return id, env.flushAudit()
}

// Opened reports alerts opened by RaiseTx once their transaction has
// committed: the log line, metrics and hooks the evaluator's own alerts get.
func (e *Evaluator) Opened(list ...AlertOpened) {
	visible := time.Now()
	for _, o := range list {
		o.Visible = visible
		e.mOpened.Inc()
		e.log.Info("alert opened", "alert_id", o.AlertID, "org_id", o.OrgID, "unit_id", o.UnitID, "kind", o.Kind, "started_at", o.StartedAt)
		if h := e.cfg.Hooks.AlertOpened; h != nil {
			h(o)
		}
	}
}

// signalEnv is a unit's transaction environment for RaiseTx and ClearTx.
func (e *Evaluator) signalEnv(ctx context.Context, tx pgx.Tx, unitID string) (*txEnv, error) {
	u := &unitInfo{ID: unitID}
	err := tx.QueryRow(ctx, `
		SELECT u.org_id, u.site_id, u.kind, u.name, si.name, u.safe_min_c, u.safe_max_c
		  FROM units u JOIN sites si ON si.org_id = u.org_id AND si.id = u.site_id
		 WHERE u.id = $1`, unitID).Scan(&u.OrgID, &u.SiteID, &u.Kind, &u.Name, &u.SiteName, &u.SafeMinC, &u.SafeMaxC)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("unit of a food-safety alert: %w", err)
	}
	return &txEnv{e: e, ctx: ctx, tx: tx, unit: u, now: e.now()}, nil
}
