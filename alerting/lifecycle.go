package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// Alert statuses (alerts.status).
const (
	StatusTriggered    = "triggered"
	StatusAcknowledged = "acknowledged"
	StatusResolved     = "resolved"
)

// dispositions are what may become of food after an excursion
// (corrective_actions.disposition).
var dispositions = []string{"kept", "moved", "reheated", "discarded", "other"}

// Alert is one alerts row with the names a person needs.
type Alert struct {
	// ID is the alert's UUID; OrgID its organisation's.
	ID    string `json:"id"`
	OrgID string `json:"org_id"`
	// UnitID, UnitName, SiteID and SiteName say where it is.
	UnitID   string `json:"unit_id"`
	UnitName string `json:"unit_name"`
	SiteID   string `json:"site_id"`
	SiteName string `json:"site_name"`
	// RuleID is the rule that opened it.
	RuleID string `json:"rule_id"`
	// SensorID is the public id of the sensor whose reading opened the
	// alert; empty for sensor_offline alerts.
	SensorID string `json:"sensor_id,omitempty"`
	// Kind is the rule kind; Severity is info, warning or critical.
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	// Status is triggered, acknowledged or resolved.
	Status string `json:"status"`
	// StartedAt is when the condition began; OpenedAt when the alert opened.
	StartedAt time.Time `json:"started_at"`
	OpenedAt  time.Time `json:"opened_at"`
	// PeakC is the worst and LastReadingC the newest temperature of the
	// excursion (temperature alerts only).
	PeakC        *float64 `json:"peak_c"`
	LastReadingC *float64 `json:"last_reading_c"`
	// Threshold is the rule's threshold (°C, minutes or percent by Kind).
	Threshold float64 `json:"threshold"`
	// Summary is a food-safety alert's one sentence, as its messages say
	// it; empty for the evaluator's own kinds.
	Summary string `json:"summary,omitempty"`
	// EscalationStep is the last escalation step sent (0: the first).
	EscalationStep int `json:"escalation_step"`
	// AcknowledgedAt and AcknowledgedBy (a user id) are set once someone
	// acknowledged it (or resolved it without acknowledging first).
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
	AcknowledgedBy string     `json:"acknowledged_by,omitempty"`
	// ResolvedAt is set once resolved; ResolvedBy is empty when it resolved
	// itself.
	ResolvedAt *time.Time `json:"resolved_at"`
	ResolvedBy string     `json:"resolved_by,omitempty"`
	// AutoResolved is set when the alert resolved itself as the condition
	// cleared.
	AutoResolved bool `json:"auto_resolved"`
}

// Event is one alert_events row: the alert's history.
type Event struct {
	// ID orders events written at the same time.
	ID int64 `json:"id"`
	// At is when it happened.
	At time.Time `json:"at"`
	// Kind is triggered, notified, escalated, acknowledged, comment,
	// resolved or auto_resolved.
	Kind string `json:"kind"`
	// ActorID is the user who acted; empty for the system.
	ActorID string `json:"actor_id,omitempty"`
	// Details depend on Kind (a comment's text, a step's recipients count).
	Details json.RawMessage `json:"details"`
}

// CorrectiveAction is what a person did about an excursion.
type CorrectiveAction struct {
	// ID is the corrective_actions row.
	ID string `json:"id"`
	// Action says what was done; Disposition what became of the food.
	Action      string `json:"action"`
	Disposition string `json:"disposition"`
	// TakenBy (a user id) took it at TakenAt.
	TakenBy string    `json:"taken_by,omitempty"`
	TakenAt time.Time `json:"taken_at"`
	// Notes are optional.
	Notes string `json:"notes,omitempty"`
}

// Notification is one delivery record of an alert's messages (written by
// the Notifier).
type Notification struct {
	// ID is the notifications row; ContactID its contact, if any.
	ID        string `json:"id"`
	ContactID string `json:"contact_id,omitempty"`
	// Channel (sms, email) and Recipient (the address) say where it went.
	Channel   string `json:"channel"`
	Recipient string `json:"recipient"`
	// Status is queued, sending, sent, delivered or failed, after Attempts
	// tries; LastError is the last failure.
	Status    string `json:"status"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"`
	// CreatedAt, SentAt and DeliveredAt trace its delivery.
	CreatedAt   time.Time  `json:"created_at"`
	SentAt      *time.Time `json:"sent_at"`
	DeliveredAt *time.Time `json:"delivered_at"`
}

// AlertDetail is an alert with its history.
type AlertDetail struct {
	Alert
	// Events are oldest first.
	Events []Event `json:"events"`
	// CorrectiveActions are the actions recorded when resolving.
	CorrectiveActions []CorrectiveAction `json:"corrective_actions"`
	// Notifications are the delivery records of every step's messages.
	Notifications []Notification `json:"notifications"`
	// Notification says which notification policy the alert followed and
	// why, and who was or was not told at each step, and why.
	Notification Recipients `json:"notification"`
}

// insertAlert opens an alert: the alerts row (INSERT ... ON CONFLICT DO
// NOTHING against alerts_one_open), its 'triggered' event, step 0 of its
// escalation policy (Notifier.NotifyTx and a 'notified' event), a River
// job per later step scheduled at opened_at + after_minutes, and (at the end
// of the transaction) an audit row. If another alert of the unit and rule is
// still open, the excursion is attached to it instead.
func (env *txEnv) insertAlert(r *Rule, x excursion) (*alertRef, error) {
	ctx, tx, u, e := env.ctx, env.tx, env.unit, env.e
	pl, err := e.planFor(ctx, tx, u.OrgID, u.SiteID, u.ID, r.Kind)
	if err != nil {
		return nil, err
	}
	policyID := pl.escalationID
	var peak, last *float64
	if isTemp(r.Kind) {
		peak, last = nullFloat(x.Peak), nullFloat(x.Value)
	}
	var sensor *int64
	if x.Sensor != 0 {
		sensor = &x.Sensor
	}
	var policy *string
	if policyID != "" {
		policy = &policyID
	}
	var npolicy *string
	if pl.policy != nil {
		npolicy = &pl.policy.ID
	}
	for attempt := 0; ; attempt++ {
		var id string
		err := tx.QueryRow(ctx, `
			INSERT INTO alerts (org_id, unit_id, rule_id, sensor_id, kind, severity, started_at, opened_at, peak_c, last_reading_c, policy_id, threshold_c, summary,
			                    notification_policy_id, notification_scope)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, nullif($13, ''), $14, nullif($15, ''))
			ON CONFLICT (unit_id, rule_id) WHERE status <> 'resolved' DO NOTHING
			RETURNING id::text`,
			u.OrgID, u.ID, r.ID, sensor, r.Kind, r.Severity, x.Started, env.now, peak, last, policy, nullFloat(r.Threshold), x.Summary,
			npolicy, pl.scope).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			// An alert of this unit and rule is still open (a person has not
			// resolved the previous excursion's): this excursion joins it.
			ref, found, err := env.attachOpen(r, x, peak, last, pl)
			switch {
			case err != nil:
				return nil, err
			case found:
				return ref, nil
			case attempt == 0:
				continue // it was resolved in between: open a new one
			}
			return nil, errors.New("open alert: the conflicting open alert vanished twice")
		}
		if err != nil {
			return nil, fmt.Errorf("insert alert: %w", err)
		}
		return env.announce(id, r, x, pl, last)
	}
}

// announce writes a new alert's events, step-0 notice, escalation jobs and
// audit entry.
func (env *txEnv) announce(id string, r *Rule, x excursion, pl plan, last *float64) (*alertRef, error) {
	ctx, tx, u := env.ctx, env.tx, env.unit
	policyID := pl.escalationID
	fields := map[string]any{
		"rule_id": r.ID, "kind": r.Kind, "threshold": jsonNum(r.Threshold), "confirm_seconds": int(r.Confirm / time.Second),
		"hysteresis": r.Hysteresis, "started_at": x.Started, "confirmed_at": x.At,
		"value": jsonNum(x.Value), "peak": jsonNum(x.Peak), "policy_id": policyID,
	}
	if x.Summary != "" {
		fields["summary"] = x.Summary
	}
	for k, v := range x.Details {
		if _, taken := fields[k]; !taken {
			fields[k] = v
		}
	}
	details, _ := json.Marshal(fields)
	if _, err := tx.Exec(ctx, `INSERT INTO alert_events (org_id, alert_id, at, kind, details) VALUES ($1, $2, $3, 'triggered', $4)`,
		u.OrgID, id, env.now, json.RawMessage(details)); err != nil {
		return nil, fmt.Errorf("record triggered event: %w", err)
	}
	if err := env.startCycle(id, r, x, last, pl, 0); err != nil {
		return nil, err
	}
	audit := map[string]any{
		"unit_id": u.ID, "rule_id": r.ID, "kind": r.Kind, "severity": r.Severity,
		"started_at": x.Started, "peak": jsonNum(x.Peak), "policy_id": policyID,
	}
	if pl.policy != nil {
		audit["notification_policy_id"], audit["notification_scope"] = pl.policy.ID, pl.scope
	}
	env.audits = append(env.audits, auditEntry{action: "alert.open", target: id, details: audit})
	env.opened = append(env.opened, AlertOpened{AlertID: id, OrgID: u.OrgID, UnitID: u.ID, RuleID: r.ID, Kind: r.Kind,
		StartedAt: x.Started, OpenedAt: env.now, CommittedAt: env.committedAt})
	return &alertRef{ID: id}, nil
}

// startCycle sends step 0 of an escalation cycle of an alert and schedules
// its later steps and, when its policy asks, its first reminder, from now.
// An alert below its policy's severity threshold schedules nothing.
func (env *txEnv) startCycle(id string, r *Rule, x excursion, last *float64, pl plan, cycle int) error {
	steps := pl.steps
	ctx, tx, u, e := env.ctx, env.tx, env.unit, env.e
	n := Notice{OrgID: u.OrgID, AlertID: id, UnitID: u.ID, SiteID: u.SiteID, UnitName: u.Name, SiteName: u.SiteName,
		Kind: r.Kind, Severity: r.Severity, Step: 0, Cycle: cycle, StartedAt: x.Started, Summary: x.Summary}
	if isTemp(r.Kind) {
		th := r.Threshold
		n.ValueC, n.ThresholdC = last, &th
	}
	if err := e.notify(ctx, tx, n, pl, steps[0], "notified", env.now); err != nil {
		return err
	}
	if pl.policy != nil && pl.policy.BelowSeverity(r.Severity) {
		return nil
	}
	if pl.policy != nil && pl.policy.ReminderMinutes > 0 {
		if _, err := e.jobs.InsertManyTx(ctx, tx, []river.InsertManyParams{{Args: RemindArgs{AlertID: id, Cycle: cycle, N: 1},
			InsertOpts: &river.InsertOpts{ScheduledAt: env.now.Add(time.Duration(pl.policy.ReminderMinutes) * time.Minute)}}}); err != nil {
			return fmt.Errorf("schedule reminders of alert %s: %w", id, err)
		}
	}
	if len(steps) > 1 {
		params := make([]river.InsertManyParams, 0, len(steps)-1)
		for k := 1; k < len(steps); k++ {
			params = append(params, river.InsertManyParams{
				Args:       EscalateArgs{AlertID: id, Step: k, Cycle: cycle},
				InsertOpts: &river.InsertOpts{ScheduledAt: env.now.Add(time.Duration(steps[k].AfterMinutes) * time.Minute)},
			})
		}
		if _, err := e.jobs.InsertManyTx(ctx, tx, params); err != nil {
			return fmt.Errorf("schedule escalation of alert %s: %w", id, err)
		}
	}
	return nil
}

// attachOpen attaches an excursion to the unit and rule's open alert,
// recording a 'retriggered' event. If a person had acknowledged the alert,
// the condition coming back is news: the alert returns to triggered and a
// new escalation cycle notifies from step 0 again. found is false when
// there is no open alert after all.
func (env *txEnv) attachOpen(r *Rule, x excursion, peak, last *float64, pl plan) (ref *alertRef, found bool, err error) {
	var (
		id    string
		cycle int
		acked bool
	)
	err = env.tx.QueryRow(env.ctx, `
		WITH cur AS (
			SELECT id, status = 'acknowledged' AS acked FROM alerts
			 WHERE unit_id = $1 AND rule_id = $2 AND status <> 'resolved' FOR UPDATE)
		UPDATE alerts a SET
		       peak_c = CASE WHEN $3::float8 IS NULL THEN a.peak_c
		                     WHEN a.kind = 'temp_high' THEN greatest(a.peak_c, $3) ELSE least(a.peak_c, $3) END,
		       last_reading_c = coalesce($4, a.last_reading_c),
		       summary = coalesce(nullif($6, ''), a.summary),
		       status = 'triggered',
		       acknowledged_at = CASE WHEN cur.acked THEN NULL ELSE a.acknowledged_at END,
		       acknowledged_by = CASE WHEN cur.acked THEN NULL ELSE a.acknowledged_by END,
		       escalation_step = CASE WHEN cur.acked THEN 0 ELSE a.escalation_step END,
		       cycle = a.cycle + CASE WHEN cur.acked THEN 1 ELSE 0 END,
		       cycle_started_at = CASE WHEN cur.acked THEN $5 ELSE a.cycle_started_at END
		  FROM cur WHERE a.id = cur.id
		RETURNING a.id::text, a.cycle, cur.acked`, env.unit.ID, r.ID, peak, last, env.now, x.Summary).Scan(&id, &cycle, &acked)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("attach to open alert: %w", err)
	}
	note := "the condition held again while this alert was still open and unacknowledged; its escalation goes on"
	if acked {
		note = "the condition held again after this alert was acknowledged: it is triggered again and a new escalation cycle notifies from the first step"
	}
	details, _ := json.Marshal(map[string]any{
		"started_at": x.Started, "confirmed_at": x.At, "value": jsonNum(x.Value), "peak": jsonNum(x.Peak),
		"cycle": cycle, "renotified": acked, "note": note,
	})
	if _, err := env.tx.Exec(env.ctx, `INSERT INTO alert_events (org_id, alert_id, at, kind, details) VALUES ($1, $2, $3, 'retriggered', $4)`,
		env.unit.OrgID, id, env.now, json.RawMessage(details)); err != nil {
		return nil, false, fmt.Errorf("record retrigger: %w", err)
	}
	if acked {
		if err := env.startCycle(id, r, x, last, pl, cycle); err != nil {
			return nil, false, err
		}
		env.audits = append(env.audits, auditEntry{action: "alert.retrigger", target: id, details: map[string]any{
			"cycle": cycle, "started_at": x.Started, "policy_id": pl.escalationID}})
	}
	return &alertRef{ID: id}, true, nil
}

// autoResolve resolves an alert whose condition cleared (at clearedAt, in
// reading time), writing an 'auto_resolved' event and an audit entry. The
// alert and its history stay.
func (env *txEnv) autoResolve(r *Rule, a *alertRef, clearedAt time.Time) error {
	a.Resolved, a.ResolvedAt = true, clearedAt
	return env.autoResolveFor(r, a.ID, clearedAt, "the condition cleared with hysteresis and stayed clear for the clear delay")
}

// autoResolveFor resolves alert id, whose condition ended at clearedAt for
// reason, unless a person resolved it meanwhile.
func (env *txEnv) autoResolveFor(r *Rule, id string, clearedAt time.Time, reason string) error {
	tag, err := env.tx.Exec(env.ctx, `
		UPDATE alerts SET status = 'resolved', resolved_at = $2, auto_resolved = true
		 WHERE id = $1 AND status <> 'resolved'`, id, env.now)
	if err != nil {
		return fmt.Errorf("auto-resolve alert: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil // a person resolved it meanwhile
	}
	details, _ := json.Marshal(map[string]any{"cleared_at": clearedAt, "rule_id": r.ID, "reason": reason})
	if _, err := env.tx.Exec(env.ctx, `INSERT INTO alert_events (org_id, alert_id, at, kind, details) VALUES ($1, $2, $3, 'auto_resolved', $4)`,
		env.unit.OrgID, id, env.now, json.RawMessage(details)); err != nil {
		return fmt.Errorf("record auto_resolved event: %w", err)
	}
	env.audits = append(env.audits, auditEntry{action: "alert.auto_resolve", target: id, details: map[string]any{"cleared_at": clearedAt}})
	env.autoResolved++
	return env.e.notifyResolved(env.ctx, env.tx, id)
}

// jsonNum is v, or nil for NaN (which JSON cannot carry).
func jsonNum(v float64) any {
	if math.IsNaN(v) {
		return nil
	}
	return v
}

// AckParams are the inputs of Acknowledge.
type AckParams struct {
	// OrgID is the caller's organisation; AlertID the alert.
	OrgID, AlertID string
	// UserID is the person acknowledging; a member of the organisation.
	UserID string
	// Comment is optional (at most 4000 characters).
	Comment string
	// At is when it happened. Defaults to the database's now().
	At time.Time
}

// Acknowledge records that a person has seen an alert: its status becomes
// acknowledged, which stops its escalation. It writes an 'acknowledged'
// event and an audit row. A resolved or already acknowledged alert gives a
// *ConflictError; another organisation's alert gives ErrNotFound.
func Acknowledge(ctx context.Context, db database.DB, p AckParams) (Alert, error) {
	if !uuids.Valid(p.OrgID) || !uuids.Valid(p.AlertID) {
		return Alert{}, ErrNotFound
	}
	comment, err := text("comment", p.Comment, false)
	if err != nil {
		return Alert{}, err
	}
	var out Alert
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		cur, err := lockAlert(ctx, tx, p.OrgID, p.AlertID)
		if err != nil {
			return err
		}
		switch cur.status {
		case StatusResolved:
			return &ConflictError{AlertID: p.AlertID, Status: cur.status, Reason: "a resolved alert cannot be acknowledged"}
		case StatusAcknowledged:
			return &ConflictError{AlertID: p.AlertID, Status: cur.status, Reason: "the alert is already acknowledged"}
		}
		if err := checkMember(ctx, tx, p.OrgID, p.UserID); err != nil {
			return err
		}
		at := nullTime(p.At)
		if _, err := tx.Exec(ctx, `
			UPDATE alerts SET status = 'acknowledged', acknowledged_at = coalesce($3, now()), acknowledged_by = $4
			 WHERE org_id = $1 AND id = $2`, p.OrgID, p.AlertID, at, p.UserID); err != nil {
			return fmt.Errorf("acknowledge: %w", err)
		}
		if _, err := userEvent(ctx, tx, p.OrgID, p.AlertID, "acknowledged", p.UserID, at, map[string]any{"comment": comment}); err != nil {
			return err
		}
		if err := userAudit(ctx, tx, p.OrgID, p.AlertID, p.UserID, "alert.acknowledge", map[string]any{"comment": comment}); err != nil {
			return err
		}
		out, err = getAlert(ctx, tx, p.OrgID, p.AlertID)
		return err
	})
	return out, err
}

// ResolveParams are the inputs of Resolve.
type ResolveParams struct {
	// OrgID is the caller's organisation; AlertID the alert.
	OrgID, AlertID string
	// UserID is the person resolving; a member of the organisation.
	UserID string
	// Action is the corrective action taken (1 to 4000 characters).
	// Required for temp_high and temp_low alerts.
	Action string
	// Disposition is what became of the food: kept, moved, reheated,
	// discarded or other. Required for temperature alerts; for other alerts
	// it defaults to "other" when an Action is given.
	Disposition string
	// Notes are optional (at most 4000 characters).
	Notes string
	// At is when it happened. Defaults to the database's now().
	At time.Time
}

// Resolve closes an alert. Temperature alerts need a corrective action (a
// *ValidationError names the missing field); for offline and battery alerts
// it is optional. It stores the corrective action, marks the alert resolved
// (and acknowledged, if it was not), and writes a 'resolved' event and an
// audit row. A resolved alert gives a *ConflictError; another
// organisation's alert gives ErrNotFound.
func Resolve(ctx context.Context, db database.DB, p ResolveParams) (Alert, error) {
	if !uuids.Valid(p.OrgID) || !uuids.Valid(p.AlertID) {
		return Alert{}, ErrNotFound
	}
	action, err := text("action", p.Action, false)
	if err != nil {
		return Alert{}, err
	}
	notes, err := text("notes", p.Notes, false)
	if err != nil {
		return Alert{}, err
	}
	disposition := strings.TrimSpace(p.Disposition)
	if disposition != "" && !slices.Contains(dispositions, disposition) {
		return Alert{}, &ValidationError{Field: "disposition", Reason: "must be one of " + strings.Join(dispositions, ", ")}
	}
	var out Alert
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		cur, err := lockAlert(ctx, tx, p.OrgID, p.AlertID)
		if err != nil {
			return err
		}
		if cur.status == StatusResolved {
			return &ConflictError{AlertID: p.AlertID, Status: cur.status, Reason: "the alert is already resolved"}
		}
		switch {
		case NeedsCorrectiveAction(cur.kind) && action == "":
			return &ValidationError{Field: "action", Reason: "a corrective action is required to resolve a temperature alert: say what was done"}
		case NeedsCorrectiveAction(cur.kind) && disposition == "":
			return &ValidationError{Field: "disposition", Reason: "required for a temperature alert: one of " + strings.Join(dispositions, ", ")}
		case action == "" && disposition != "":
			return &ValidationError{Field: "action", Reason: "required when a disposition is given"}
		case action != "" && disposition == "":
			disposition = "other"
		}
		if err := checkMember(ctx, tx, p.OrgID, p.UserID); err != nil {
			return err
		}
		at := nullTime(p.At)
		if _, err := tx.Exec(ctx, `
			UPDATE alerts SET status = 'resolved', resolved_at = coalesce($3, now()), resolved_by = $4,
			       acknowledged_at = coalesce(acknowledged_at, $3, now()), acknowledged_by = coalesce(acknowledged_by, $4)
			 WHERE org_id = $1 AND id = $2`, p.OrgID, p.AlertID, at, p.UserID); err != nil {
			return fmt.Errorf("resolve: %w", err)
		}
		details := map[string]any{}
		if action != "" {
			var caID string
			if err := tx.QueryRow(ctx, `
				INSERT INTO corrective_actions (org_id, unit_id, alert_id, action, disposition, taken_by, taken_at, notes)
				VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now()), nullif($8, ''))
				RETURNING id::text`, p.OrgID, cur.unitID, p.AlertID, action, disposition, p.UserID, at, notes).Scan(&caID); err != nil {
				return fmt.Errorf("store corrective action: %w", err)
			}
			details["corrective_action_id"] = caID
			details["disposition"] = disposition
		}
		if notes != "" {
			details["notes"] = notes
		}
		if _, err := userEvent(ctx, tx, p.OrgID, p.AlertID, "resolved", p.UserID, at, details); err != nil {
			return err
		}
		if err := userAudit(ctx, tx, p.OrgID, p.AlertID, p.UserID, "alert.resolve", details); err != nil {
			return err
		}
		out, err = getAlert(ctx, tx, p.OrgID, p.AlertID)
		return err
	})
	return out, err
}

// CommentParams are the inputs of Comment.
type CommentParams struct {
	// OrgID is the caller's organisation; AlertID the alert.
	OrgID, AlertID string
	// UserID is the author; a member of the organisation.
	UserID string
	// Text is 1 to 4000 characters.
	Text string
	// At is when it was written. Defaults to the database's now().
	At time.Time
}

// Comment adds a note to an alert's history, in any status (notes after
// resolution belong to the HACCP record too), with an audit row.
func Comment(ctx context.Context, db database.DB, p CommentParams) (Event, error) {
	if !uuids.Valid(p.OrgID) || !uuids.Valid(p.AlertID) {
		return Event{}, ErrNotFound
	}
	body, err := text("text", p.Text, true)
	if err != nil {
		return Event{}, err
	}
	var ev Event
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := lockAlert(ctx, tx, p.OrgID, p.AlertID); err != nil {
			return err
		}
		if err := checkMember(ctx, tx, p.OrgID, p.UserID); err != nil {
			return err
		}
		if ev, err = userEvent(ctx, tx, p.OrgID, p.AlertID, "comment", p.UserID, nullTime(p.At), map[string]any{"text": body}); err != nil {
			return err
		}
		return userAudit(ctx, tx, p.OrgID, p.AlertID, p.UserID, "alert.comment", map[string]any{"event_id": ev.ID})
	})
	return ev, err
}

type lockedAlert struct {
	status, unitID, kind string
}

func lockAlert(ctx context.Context, tx pgx.Tx, orgID, alertID string) (lockedAlert, error) {
	var a lockedAlert
	err := tx.QueryRow(ctx, `SELECT status, unit_id::text, kind FROM alerts WHERE org_id = $1 AND id = $2 FOR UPDATE`,
		orgID, alertID).Scan(&a.status, &a.unitID, &a.kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, ErrNotFound
	}
	if err != nil {
		return a, fmt.Errorf("lock alert: %w", err)
	}
	return a, nil
}

// checkMember requires userID to be a member of the organisation.
func checkMember(ctx context.Context, tx pgx.Tx, orgID, userID string) error {
	if !uuids.Valid(userID) {
		return &ValidationError{Field: "user_id", Reason: "must be a user id (UUID)"}
	}
	var ok bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM memberships WHERE org_id = $1 AND user_id = $2)`, orgID, userID).Scan(&ok); err != nil {
		return fmt.Errorf("check membership: %w", err)
	}
	if !ok {
		return &ValidationError{Field: "user_id", Reason: "is not a member of the organisation"}
	}
	return nil
}

func userEvent(ctx context.Context, tx pgx.Tx, orgID, alertID, kind, userID string, at *time.Time, details map[string]any) (Event, error) {
	b, err := json.Marshal(details)
	if err != nil {
		return Event{}, err
	}
	ev := Event{Kind: kind, ActorID: userID, Details: b}
	if err := tx.QueryRow(ctx, `
		INSERT INTO alert_events (org_id, alert_id, at, kind, actor_id, details)
		VALUES ($1, $2, coalesce($3, now()), $4, $5, $6) RETURNING id, at`,
		orgID, alertID, at, kind, userID, json.RawMessage(b)).Scan(&ev.ID, &ev.At); err != nil {
		return Event{}, fmt.Errorf("record %s event: %w", kind, err)
	}
	return ev, nil
}

func userAudit(ctx context.Context, tx pgx.Tx, orgID, alertID, userID, action string, details map[string]any) error {
	b, err := json.Marshal(details)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO audit_log (org_id, actor, action, target_type, target_id, details)
		VALUES ($1, $2, $3, 'alert', $4, $5)`, orgID, "user:"+userID, action, alertID, json.RawMessage(b)); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// text trims a free-text field and checks its length (at most 4000
// characters; at least 1 when required).
func text(field, s string, required bool) (string, error) {
	s = strings.TrimSpace(s)
	switch n := utf8.RuneCountInString(s); {
	case !utf8.ValidString(s):
		return "", &ValidationError{Field: field, Reason: "must be valid UTF-8"}
	case required && n == 0:
		return "", &ValidationError{Field: field, Reason: "is required"}
	case n > 4000:
		return "", &ValidationError{Field: field, Reason: fmt.Sprintf("must be at most 4000 characters, not %d", n)}
	case strings.ContainsRune(s, 0):
		return "", &ValidationError{Field: field, Reason: "must not contain NUL characters"}
	}
	return s, nil
}
