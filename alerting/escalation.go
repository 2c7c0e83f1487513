package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// Step is one escalation step of a policy (escalation_policies.steps):
//
//	[{"after_minutes":0,"channels":["sms"],"roles":["staff"],"contact_ids":["…"]}, …]
//
// A step reaches the contacts of the alert's site, and the organisation-wide
// contacts (contacts.site_id NULL), whose role is one of Roles and who are on
// shift, plus the contacts named in ContactIDs (on shift or not), on each of
// Channels for which the contact has an address.
type Step struct {
	// AfterMinutes is when the step fires, counted from the alert's opening.
	// Step 0 fires at 0, when the alert opens.
	AfterMinutes int `json:"after_minutes"`
	// Channels are "sms" and/or "email".
	Channels []string `json:"channels"`
	// Roles are contact roles: viewer, staff, manager, admin, owner.
	Roles []string `json:"roles,omitempty"`
	// ContactIDs name contacts directly.
	ContactIDs []string `json:"contact_ids,omitempty"`
}

// Limits of a policy's steps.
const (
	// MaxSteps is the most steps a policy may have.
	MaxSteps = 10
	// MaxAfterMinutes is the latest a step may fire: 7 days.
	MaxAfterMinutes = 7 * 24 * 60
)

var (
	channels = []string{"sms", "email"}
	roles    = []string{"viewer", "staff", "manager", "admin", "owner"}
)

// DefaultSteps is the built-in policy, used for a site that has no policy
// of its own when the organisation has no default policy either: SMS to the
// site's staff on shift at once, SMS and email to managers after 15 minutes,
// SMS to owners after 30 minutes.
func DefaultSteps() []Step {
	return []Step{
		{AfterMinutes: 0, Channels: []string{"sms"}, Roles: []string{"staff"}},
		{AfterMinutes: 15, Channels: []string{"sms", "email"}, Roles: []string{"manager"}},
		{AfterMinutes: 30, Channels: []string{"sms"}, Roles: []string{"owner"}},
	}
}

// ValidateSteps checks an escalation policy's steps as the API receives them
// and returns a *ValidationError naming the bad step and field
// ("steps[1].channels"), or nil. Rules: a JSON array of 1 to MaxSteps
// objects with no unknown keys; step 0 fires at 0 minutes and after_minutes
// never decreases (at most MaxAfterMinutes); channels is a non-empty set of
// "sms" and "email"; each step names roles or contact_ids (UUIDs), and
// roles are contact roles.
func ValidateSteps(raw json.RawMessage) error {
	_, err := ParseSteps(raw)
	return err
}

// ParseSteps validates steps as ValidateSteps does and returns them.
func ParseSteps(raw []byte) ([]Step, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '[' {
		return nil, &ValidationError{Field: "steps", Reason: "must be a JSON array of steps"}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, &ValidationError{Field: "steps", Reason: "must be a JSON array of steps: " + err.Error()}
	}
	if len(items) == 0 || len(items) > MaxSteps {
		return nil, &ValidationError{Field: "steps", Reason: fmt.Sprintf("must hold 1 to %d steps, not %d", MaxSteps, len(items))}
	}
	steps := make([]Step, len(items))
	for i, item := range items {
		field := func(name string) string {
			if name == "" {
				return fmt.Sprintf("steps[%d]", i)
			}
			return fmt.Sprintf("steps[%d].%s", i, name)
		}
		dec := json.NewDecoder(bytes.NewReader(item))
		dec.DisallowUnknownFields()
		var s struct {
			AfterMinutes *json.Number `json:"after_minutes"`
			Channels     []string     `json:"channels"`
			Roles        []string     `json:"roles"`
			ContactIDs   []string     `json:"contact_ids"`
		}
		if err := dec.Decode(&s); err != nil {
			return nil, &ValidationError{Field: field(""), Reason: "must be an object with after_minutes, channels, roles and contact_ids: " + err.Error()}
		}
		if s.AfterMinutes == nil {
			return nil, &ValidationError{Field: field("after_minutes"), Reason: "is required"}
		}
		after, err := s.AfterMinutes.Int64()
		if err != nil || after < 0 || after > MaxAfterMinutes {
			return nil, &ValidationError{Field: field("after_minutes"), Reason: fmt.Sprintf("must be a whole number of minutes from 0 to %d", MaxAfterMinutes)}
		}
		switch {
		case i == 0 && after != 0:
			return nil, &ValidationError{Field: field("after_minutes"), Reason: "the first step fires when the alert opens: must be 0"}
		case i > 0 && int(after) < steps[i-1].AfterMinutes:
			return nil, &ValidationError{Field: field("after_minutes"), Reason: fmt.Sprintf("must not be earlier than the previous step (%d)", steps[i-1].AfterMinutes)}
		}
		if len(s.Channels) == 0 {
			return nil, &ValidationError{Field: field("channels"), Reason: `must name at least one of "sms", "email"`}
		}
		for j, c := range s.Channels {
			if !slices.Contains(channels, c) {
				return nil, &ValidationError{Field: fmt.Sprintf("%s[%d]", field("channels"), j), Reason: fmt.Sprintf(`unknown channel %q: use "sms" or "email"`, c)}
			}
			if slices.Contains(s.Channels[:j], c) {
				return nil, &ValidationError{Field: fmt.Sprintf("%s[%d]", field("channels"), j), Reason: fmt.Sprintf("channel %q is listed twice", c)}
			}
		}
		for j, r := range s.Roles {
			if !slices.Contains(roles, r) {
				return nil, &ValidationError{Field: fmt.Sprintf("%s[%d]", field("roles"), j), Reason: fmt.Sprintf("unknown role %q: use one of %s", r, strings.Join(roles, ", "))}
			}
		}
		for j, id := range s.ContactIDs {
			if !uuids.Valid(id) {
				return nil, &ValidationError{Field: fmt.Sprintf("%s[%d]", field("contact_ids"), j), Reason: "must be a contact id (UUID)"}
			}
		}
		if len(s.Roles) == 0 && len(s.ContactIDs) == 0 {
			return nil, &ValidationError{Field: field("roles"), Reason: "a step must name roles or contact_ids, or it reaches nobody"}
		}
		steps[i] = Step{AfterMinutes: int(after), Channels: s.Channels, Roles: s.Roles, ContactIDs: s.ContactIDs}
	}
	return steps, nil
}

// policyFor returns the escalation policy of a site: its own, else the
// organisation's default, else the built-in DefaultSteps (policyID empty).
// A stored policy whose steps no longer validate falls back to the built-in
// steps, so an alert always reaches someone.
func (e *Evaluator) policyFor(ctx context.Context, q database.DB, orgID, siteID string) (string, []Step, error) {
	var (
		id  string
		raw []byte
	)
	err := q.QueryRow(ctx, `
		SELECT id, steps FROM escalation_policies
		 WHERE org_id = $1 AND (site_id = $2 OR site_id IS NULL)
		 ORDER BY site_id NULLS LAST LIMIT 1`, orgID, siteID).Scan(&id, &raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", DefaultSteps(), nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("load escalation policy: %w", err)
	}
	steps, err := ParseSteps(raw)
	if err != nil {
		e.log.Warn("escalation policy is invalid; using the built-in steps", "policy_id", id, "org_id", orgID, "err", err)
		return id, DefaultSteps(), nil
	}
	return id, steps, nil
}

// stepsOf returns the steps an open alert escalates by: those of the policy
// it opened with (policyID), or the site's current policy if that one was
// deleted since, or the built-in steps when it opened with them.
func (e *Evaluator) stepsOf(ctx context.Context, q database.DB, orgID, siteID, policyID string) ([]Step, error) {
	if policyID == "" {
		return DefaultSteps(), nil
	}
	var raw []byte
	err := q.QueryRow(ctx, `SELECT steps FROM escalation_policies WHERE org_id = $1 AND id = $2`, orgID, policyID).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		_, steps, err := e.policyFor(ctx, q, orgID, siteID)
		return steps, err
	}
	if err != nil {
		return nil, fmt.Errorf("load escalation policy: %w", err)
	}
	steps, err := ParseSteps(raw)
	if err != nil {
		e.log.Warn("escalation policy is invalid; using the built-in steps", "policy_id", policyID, "org_id", orgID, "err", err)
		return DefaultSteps(), nil
	}
	return steps, nil
}

// notify records and sends one step of an alert (see notifyAs) as an
// alert event of kind eventKind ("notified" for step 0, "escalated" for
// later steps).
func (e *Evaluator) notify(ctx context.Context, tx pgx.Tx, n Notice, pl plan, s Step, eventKind string, at time.Time) error {
	_, err := e.notifyAs(ctx, tx, n, pl, s, eventKind, "notify", at)
	return err
}

// notifyAs decides for each contact and channel of step s whether they are
// told (policy threshold, shift, address, opt-ins, quiet hours), hands the
// notified ones to the Notifier, records every decision (purpose notify,
// deferred or reminder) and, unless eventKind is empty, an alert event. A
// step in quiet hours is deferred to their end (a DeferredArgs job); a
// reminder in quiet hours is skipped. It returns how many messages it
// handed to the Notifier.
func (e *Evaluator) notifyAs(ctx context.Context, tx pgx.Tx, n Notice, pl plan, s Step, eventKind, purpose string, at time.Time) (int, error) {
	var (
		ds    []Decision
		until time.Time
	)
	if p := pl.policy; p != nil && p.BelowSeverity(n.Severity) {
		ds = []Decision{{Decision: DecisionBelowSeverity,
			Reason: fmt.Sprintf("the alert is %s, below the policy's threshold %s: nobody is notified", n.Severity, p.MinSeverity)}}
	} else {
		zone := ""
		if p != nil && p.QuietStart != "" {
			loc, name, err := siteZone(ctx, tx, n.OrgID, n.SiteID)
			if err != nil {
				return 0, err
			}
			until, _ = p.QuietUntil(at, loc, n.Severity)
			zone = name
		}
		cands, err := candidates(ctx, tx, n.OrgID, n.SiteID, s)
		if err != nil {
			return 0, err
		}
		ds = decide(cands, s, until, zone)
	}
	deferred := false
	n.Recipients = nil
	for i, d := range ds {
		switch d.Decision {
		case DecisionNotified:
			n.Recipients = append(n.Recipients, Recipient{ContactID: d.ContactID, Channel: d.Channel, Address: d.address})
		case DecisionQuietHours:
			if purpose == "reminder" {
				ds[i].Reason = "quiet hours until " + until.Format(time.RFC3339) + ": this reminder is skipped"
			} else {
				deferred = true
			}
		}
	}
	if deferred {
		if _, err := e.jobs.InsertManyTx(ctx, tx, []river.InsertManyParams{{
			Args:       DeferredArgs{AlertID: n.AlertID, Cycle: n.Cycle, Step: n.Step, Until: until.UTC()},
			InsertOpts: &river.InsertOpts{ScheduledAt: until}}}); err != nil {
			return 0, fmt.Errorf("defer step %d of alert %s: %w", n.Step, n.AlertID, err)
		}
	}
	if len(n.Recipients) == 0 && !deferred {
		e.log.Warn("notification step reaches nobody: no contact matches its roles and channels, or the policy holds it back",
			"alert_id", n.AlertID, "step", n.Step, "roles", s.Roles, "site_id", n.SiteID)
	}
	if e.notifier != nil && len(n.Recipients) > 0 {
		if err := e.notifier.NotifyTx(ctx, tx, n); err != nil {
			return 0, fmt.Errorf("notify step %d of alert %s: %w", n.Step, n.AlertID, err)
		}
	}
	if err := recordDecisions(ctx, tx, n, purpose, at, ds); err != nil {
		return 0, err
	}
	if eventKind == "" {
		return len(n.Recipients), nil
	}
	fields := map[string]any{
		"step": n.Step, "after_minutes": s.AfterMinutes, "channels": s.Channels, "roles": s.Roles,
		"recipients": len(n.Recipients),
	}
	if pl.policy != nil {
		fields["notification_policy_id"] = pl.policy.ID
	}
	if deferred {
		fields["deferred_until"] = until.UTC()
	}
	details, _ := json.Marshal(fields)
	if _, err := tx.Exec(ctx, `INSERT INTO alert_events (org_id, alert_id, at, kind, details) VALUES ($1, $2, $3, $4, $5)`,
		n.OrgID, n.AlertID, at, eventKind, json.RawMessage(details)); err != nil {
		return 0, fmt.Errorf("record %s event: %w", eventKind, err)
	}
	return len(n.Recipients), nil
}

// QueueAlerting is the River queue of alerting's jobs (sweeps and
// escalations), kept apart so notification or upkeep backlogs never delay
// an escalation.
const QueueAlerting = "alerting"

// EscalateArgs asks for escalation step Step of an alert. One job per later
// step is inserted, in the transaction that opens the alert, scheduled at
// opened_at + the step's after_minutes. Jobs are unique by args.
type EscalateArgs struct {
	// AlertID is the alert to escalate.
	AlertID string `json:"alert_id"`
	// Step is the escalation step, from 1.
	Step int `json:"step"`
	// Cycle is the alert's escalation cycle the step belongs to: a job of
	// an earlier cycle does nothing.
	Cycle int `json:"cycle,omitempty"`
}

// Kind implements river.JobArgs.
func (EscalateArgs) Kind() string { return "alerting_escalate" }

// InsertOpts puts escalations on QueueAlerting, unique by args in every
// state but cancelled and discarded: a step is never enqueued twice.
func (EscalateArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueAlerting, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// EscalateWorker runs escalation steps.
type EscalateWorker struct {
	river.WorkerDefaults[EscalateArgs]
	// Evaluator provides the database, the notifier and the clock.
	Evaluator *Evaluator
}

// Work implements river.Worker: see Evaluator.Escalate.
func (w *EscalateWorker) Work(ctx context.Context, job *river.Job[EscalateArgs]) error {
	_, err := w.Evaluator.escalate(ctx, job.Args.AlertID, job.Args.Cycle, job.Args.Step)
	return err
}

// Escalate sends escalation step (and any earlier step not sent yet, in
// order) of an alert that is still unacknowledged, and reports whether it
// sent anything. In one transaction it locks the alert row, checks the
// alert is still triggered and alerts.escalation_step < step, calls
// Notifier.NotifyTx per step, writes an 'escalated' event per step and
// bumps escalation_step. Once the alert is acknowledged or resolved, or the
// step was already sent, it does nothing, so a re-run or a duplicate job
// never sends a step twice.
func (e *Evaluator) Escalate(ctx context.Context, alertID string, step int) (bool, error) {
	return e.escalate(ctx, alertID, -1, step)
}

// escalate is Escalate for one escalation cycle (-1: the current one).
func (e *Evaluator) escalate(ctx context.Context, alertID string, cycle, step int) (bool, error) {
	if !uuids.Valid(alertID) || step < 1 {
		return false, nil
	}
	var sent bool
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		sent = false
		var (
			n                       Notice
			status, policy, npolicy string
			current, cyc            int
			last, peak              *float64
			threshold               float64
		)
		err := tx.QueryRow(ctx, `
			SELECT a.org_id, a.unit_id, u.site_id, u.name, si.name, a.kind, a.severity, a.status,
			       a.escalation_step, coalesce(a.policy_id::text, ''), coalesce(a.notification_policy_id::text, ''), a.started_at,
			       a.last_reading_c, a.peak_c, `+alertThresholdSQL+`, a.cycle, coalesce(a.summary, '')
			  FROM alerts a
			  JOIN units u ON u.org_id = a.org_id AND u.id = a.unit_id
			  JOIN sites si ON si.org_id = u.org_id AND si.id = u.site_id
			  JOIN alert_rules r ON r.org_id = a.org_id AND r.id = a.rule_id
			 WHERE a.id = $1
			   FOR UPDATE OF a`, alertID).Scan(&n.OrgID, &n.UnitID, &n.SiteID, &n.UnitName, &n.SiteName,
			&n.Kind, &n.Severity, &status, &current, &policy, &npolicy, &n.StartedAt, &last, &peak, &threshold, &cyc, &n.Summary)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // deleted with its unit: nothing to escalate
		}
		if err != nil {
			return fmt.Errorf("lock alert: %w", err)
		}
		if status != "triggered" || current >= step || cycle >= 0 && cycle != cyc {
			return nil
		}
		n.Cycle = cyc
		pl, err := e.planOf(ctx, tx, n.OrgID, n.SiteID, npolicy, policy)
		if err != nil {
			return err
		}
		steps := pl.steps
		n.AlertID = alertID
		if isTemp(n.Kind) {
			n.ValueC, n.ThresholdC = cmpOr(last, peak), &threshold
		}
		now := e.now()
		for k := current + 1; k <= step && k < len(steps); k++ {
			n.Step = k
			if err := e.notify(ctx, tx, n, pl, steps[k], "escalated", now); err != nil {
				return err
			}
			current, sent = k, true
		}
		if !sent {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE alerts SET escalation_step = $2 WHERE id = $1`, alertID, current)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("escalate alert %s to step %d: %w", alertID, step, err)
	}
	if sent {
		e.mEscalations.Inc()
	}
	return sent, nil
}

// escalateOverdue is the sweep's backstop for escalation jobs that were lost
// (discarded after failing, or deleted): it sends the steps of triggered
// alerts that are overdue by more than the grace period. The scheduled jobs
// normally get there first; Escalate's checks make the two never send a
// step twice.
func (e *Evaluator) escalateOverdue(ctx context.Context, now time.Time) (int, error) {
	rows, err := e.pool.Query(ctx, `
		SELECT a.id, a.org_id, u.site_id, coalesce(a.policy_id::text, ''), coalesce(a.notification_policy_id::text, ''),
		       a.escalation_step, coalesce(a.cycle_started_at, a.opened_at)
		  FROM alerts a JOIN units u ON u.org_id = a.org_id AND u.id = a.unit_id
		 WHERE a.status = 'triggered'`)
	if err != nil {
		return 0, fmt.Errorf("list unacknowledged alerts: %w", err)
	}
	type open struct {
		id, org, site, policy, npolicy string
		step                           int
		opened                         time.Time
	}
	var list []open
	var o open
	if _, err := pgx.ForEachRow(rows, []any{&o.id, &o.org, &o.site, &o.policy, &o.npolicy, &o.step, &o.opened}, func() error {
		list = append(list, o)
		return nil
	}); err != nil {
		return 0, fmt.Errorf("list unacknowledged alerts: %w", err)
	}
	cache := map[[4]string][]Step{}
	escalated := 0
	for _, a := range list {
		key := [4]string{a.org, a.site, a.policy, a.npolicy}
		steps, ok := cache[key]
		if !ok {
			pl, err := e.planOf(ctx, e.pool, a.org, a.site, a.npolicy, a.policy)
			if err != nil {
				return escalated, err
			}
			steps = pl.steps
			cache[key] = steps
		}
		due := 0
		for k, s := range steps {
			if !now.Before(a.opened.Add(time.Duration(s.AfterMinutes)*time.Minute + e.cfg.EscalationGrace)) {
				due = k
			}
		}
		if due <= a.step {
			continue
		}
		sent, err := e.Escalate(ctx, a.id, due)
		if err != nil {
			return escalated, err
		}
		if sent {
			e.log.Warn("escalation step was overdue; the sweep sent it (was its job lost?)", "alert_id", a.id, "step", due)
			escalated++
		}
	}
	return escalated, nil
}

// cmpOr returns the first non-nil, non-NaN value.
func cmpOr(vs ...*float64) *float64 {
	for _, v := range vs {
		if v != nil && !math.IsNaN(*v) {
			return v
		}
	}
	return nil
}
