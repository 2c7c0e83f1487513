package alerting

// This file loads notification policies, decides per contact and channel
// who is told (recording each decision in alert_recipient_decisions), and
// runs the River jobs of deferred steps and reminders and the "resolved"
// messages. Semantics: migration 0016_notification_policies.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// plan is what an alert notifies by: a notification policy (policy set),
// or an escalation policy (escalationID, empty for the built-in steps).
type plan struct {
	policy       *NotificationPolicy
	scope        string
	escalationID string
	steps        []Step
}

const policyColumns = `id::text, name, coalesce(site_id::text, ''), coalesce(unit_id::text, ''), coalesce(alert_kind, ''),
	initial_channels, ack_deadline_minutes, steps, reminder_minutes, notify_on_resolve,
	coalesce(quiet_start, ''), coalesce(quiet_end, ''), quiet_overridden_by_critical, min_severity`

// scanPolicy scans policyColumns; a policy whose steps no longer validate
// keeps the built-in steps, so an alert always reaches someone.
func (e *Evaluator) scanPolicy(row pgx.Row) (NotificationPolicy, error) {
	var (
		p             NotificationPolicy
		chans, rawStp []byte
	)
	if err := row.Scan(&p.ID, &p.Name, &p.SiteID, &p.UnitID, &p.AlertKind, &chans, &p.AckDeadlineMinutes, &rawStp,
		&p.ReminderMinutes, &p.NotifyOnResolve, &p.QuietStart, &p.QuietEnd, &p.QuietOverriddenByCritical, &p.MinSeverity); err != nil {
		return p, err
	}
	if err := json.Unmarshal(chans, &p.InitialChannels); err != nil {
		p.InitialChannels = nil
	}
	steps, err := ParseSteps(rawStp)
	if err != nil {
		e.log.Warn("notification policy steps are invalid; using the built-in steps", "policy_id", p.ID, "err", err)
		steps = DefaultSteps()
	}
	p.Steps = steps
	return p, nil
}

// planFor chooses what a new alert of kind on unit (at site) notifies by:
// the most specific notification policy, else the escalation policy.
func (e *Evaluator) planFor(ctx context.Context, q database.DB, orgID, siteID, unitID, kind string) (plan, error) {
	rows, err := q.Query(ctx, `SELECT `+policyColumns+` FROM notification_policies
		 WHERE org_id = $1 AND (site_id IS NULL OR site_id = $2) AND (unit_id IS NULL OR unit_id = $3)`, orgID, siteID, unitID)
	if err != nil {
		return plan{}, fmt.Errorf("load notification policies: %w", err)
	}
	var list []NotificationPolicy
	for rows.Next() {
		p, err := e.scanPolicy(rows)
		if err != nil {
			rows.Close()
			return plan{}, fmt.Errorf("load notification policies: %w", err)
		}
		list = append(list, p)
	}
	if err := rows.Err(); err != nil {
		return plan{}, fmt.Errorf("load notification policies: %w", err)
	}
	if p, scope, ok := ChoosePolicy(list, Target{UnitID: unitID, SiteID: siteID, Kind: kind}); ok {
		return plan{policy: &p, scope: scope, steps: p.EffectiveSteps()}, nil
	}
	id, steps, err := e.policyFor(ctx, q, orgID, siteID)
	return plan{escalationID: id, steps: steps}, err
}

// planOf is the plan of an open alert: the notification policy it opened
// with (if it still exists), else its escalation policy (stepsOf).
func (e *Evaluator) planOf(ctx context.Context, q database.DB, orgID, siteID, notificationID, escalationID string) (plan, error) {
	if notificationID != "" {
		p, err := e.scanPolicy(q.QueryRow(ctx, `SELECT `+policyColumns+` FROM notification_policies WHERE org_id = $1 AND id = $2`, orgID, notificationID))
		if err == nil {
			return plan{policy: &p, steps: p.EffectiveSteps()}, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return plan{}, fmt.Errorf("load notification policy: %w", err)
		}
	}
	steps, err := e.stepsOf(ctx, q, orgID, siteID, escalationID)
	return plan{escalationID: escalationID, steps: steps}, err
}

// Decisions about one contact and channel (alert_recipient_decisions).
const (
	DecisionNotified      = "notified"
	DecisionQuietHours    = "quiet_hours"
	DecisionOptedOut      = "opted_out"
	DecisionNoAddress     = "no_address"
	DecisionOffShift      = "off_shift"
	DecisionBelowSeverity = "below_severity"
)

// Decision is whether one contact was told on one channel, and why.
type Decision struct {
	At        time.Time `json:"at"`
	Cycle     int       `json:"cycle"`
	Step      int       `json:"step"`
	Purpose   string    `json:"purpose"`
	ContactID string    `json:"contact_id,omitempty"`
	Name      string    `json:"name"`
	Channel   string    `json:"channel"`
	Decision  string    `json:"decision"`
	Reason    string    `json:"reason"`
	address   string
}

// candidate is a contact a step considers.
type candidate struct {
	id, name, phone, email string
	roleMatch, onShift     bool
	named                  bool // listed in the step's contact_ids
	smsOptIn, emailOptIn   bool
}

// decide turns a step's candidates into per-channel decisions; quietUntil
// (non-zero) defers every deliverable message to then.
func decide(cands []candidate, s Step, quietUntil time.Time, zone string) []Decision {
	var out []Decision
	for _, c := range cands {
		for _, ch := range s.Channels {
			d := Decision{ContactID: c.id, Name: c.name, Channel: ch}
			addr, optIn := c.phone, c.smsOptIn
			if ch == "email" {
				addr, optIn = c.email, c.emailOptIn
			}
			switch {
			case !c.named && !c.onShift:
				d.Decision, d.Reason = DecisionOffShift, "their role is in the step but they are off shift"
			case addr == "":
				d.Decision, d.Reason = DecisionNoAddress, "the contact has no "+map[string]string{"sms": "phone number", "email": "email address"}[ch]
			case !optIn:
				d.Decision, d.Reason = DecisionOptedOut, "the person opted out of "+ch+" in their profile"
			case !quietUntil.IsZero():
				d.Decision, d.Reason = DecisionQuietHours, "quiet hours: deferred to "+quietUntil.Format("15:04")+" "+zone
				d.address = addr
			default:
				d.Decision, d.Reason, d.address = DecisionNotified, "notified by "+ch, addr
			}
			out = append(out, d)
		}
	}
	return out
}

// candidates loads the contacts a step considers: the site's and the
// organisation-wide contacts with one of its roles (on shift or not, so
// the off-shift ones are recorded), and the contacts it names.
func candidates(ctx context.Context, q database.DB, orgID, siteID string, s Step) ([]candidate, error) {
	ids := make([]string, 0, len(s.ContactIDs))
	for _, id := range s.ContactIDs {
		if uuids.Valid(id) {
			ids = append(ids, id)
		}
	}
	rows, err := q.Query(ctx, `
		SELECT c.id::text, c.name, coalesce(c.phone, ''), coalesce(c.email, ''), coalesce(c.role::text = ANY($3::text[]), false), c.on_shift,
		       coalesce(c.id = ANY($4::text[]::uuid[]), false), coalesce(u.sms_opt_in, true), coalesce(u.email_opt_in, true)
		  FROM contacts c LEFT JOIN users u ON u.id = c.user_id
		 WHERE c.org_id = $1 AND (c.site_id = $2 OR c.site_id IS NULL)
		   AND (c.role::text = ANY($3::text[]) OR c.id = ANY($4::text[]::uuid[]))
		 ORDER BY c.name, c.id`, orgID, siteID, s.Roles, ids)
	if err != nil {
		return nil, fmt.Errorf("load contacts: %w", err)
	}
	var (
		out []candidate
		c   candidate
	)
	_, err = pgx.ForEachRow(rows, []any{&c.id, &c.name, &c.phone, &c.email, &c.roleMatch, &c.onShift, &c.named, &c.smsOptIn, &c.emailOptIn}, func() error {
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load contacts: %w", err)
	}
	return out, nil
}

// siteZone is the IANA zone of a site (UTC when unset or unknown).
func siteZone(ctx context.Context, q database.DB, orgID, siteID string) (*time.Location, string, error) {
	var name string
	err := q.QueryRow(ctx, `SELECT timezone FROM sites WHERE org_id = $1 AND id = $2`, orgID, siteID).Scan(&name)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, "", fmt.Errorf("load site time zone: %w", err)
	}
	loc, lerr := time.LoadLocation(name)
	if name == "" || lerr != nil {
		return time.UTC, "UTC", nil
	}
	return loc, name, nil
}

// recordDecisions stores decisions of one step of an alert.
func recordDecisions(ctx context.Context, tx pgx.Tx, n Notice, purpose string, at time.Time, ds []Decision) error {
	for _, d := range ds {
		if _, err := tx.Exec(ctx, `
			INSERT INTO alert_recipient_decisions (org_id, alert_id, at, cycle, step, purpose, contact_id, name, channel, address, decision, reason)
			VALUES ($1, $2, $3, $4, $5, $6, nullif($7, '')::uuid, $8, $9, $10, $11, $12)`,
			n.OrgID, n.AlertID, at, n.Cycle, n.Step, purpose, d.ContactID, d.Name, d.Channel, d.address, d.Decision, d.Reason); err != nil {
			return fmt.Errorf("record recipient decision: %w", err)
		}
	}
	return nil
}

// DeferredArgs sends a step that fell in quiet hours, at their end, if the
// alert is still unacknowledged in that cycle. Unique by args.
type DeferredArgs struct {
	AlertID string `json:"alert_id"`
	Cycle   int    `json:"cycle"`
	Step    int    `json:"step"`
	// Until is the end of the quiet hours it waits for.
	Until time.Time `json:"until"`
}

// Kind implements river.JobArgs.
func (DeferredArgs) Kind() string { return "alerting_deferred_step" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (DeferredArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueAlerting, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// RemindArgs is reminder N of an alert's cycle: it re-notifies the
// recipients of the alert's latest step if the alert is still
// unacknowledged, and schedules reminder N+1. Unique by args.
type RemindArgs struct {
	AlertID string `json:"alert_id"`
	Cycle   int    `json:"cycle"`
	N       int    `json:"n"`
}

// Kind implements river.JobArgs.
func (RemindArgs) Kind() string { return "alerting_remind" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (RemindArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueAlerting, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// DeferredWorker runs DeferredArgs jobs.
type DeferredWorker struct {
	river.WorkerDefaults[DeferredArgs]
	Evaluator *Evaluator
}

// Work implements river.Worker.
func (w *DeferredWorker) Work(ctx context.Context, job *river.Job[DeferredArgs]) error {
	_, err := w.Evaluator.SendDeferred(ctx, job.Args)
	return err
}

// RemindWorker runs RemindArgs jobs.
type RemindWorker struct {
	river.WorkerDefaults[RemindArgs]
	Evaluator *Evaluator
}

// Work implements river.Worker.
func (w *RemindWorker) Work(ctx context.Context, job *river.Job[RemindArgs]) error {
	_, err := w.Evaluator.Remind(ctx, job.Args)
	return err
}

// openAlert is an alert locked for a deferred step, a reminder or its
// resolved messages.
type openAlert struct {
	n                   Notice
	status              string
	step, cycle         int
	notification, escal string
	resolvedNotified    bool
}

// lockForNotice locks an alert and loads its notice.
func lockForNotice(ctx context.Context, tx pgx.Tx, alertID string) (openAlert, bool, error) {
	var (
		a          openAlert
		last, peak *float64
		threshold  float64
	)
	err := tx.QueryRow(ctx, `
		SELECT a.org_id, a.unit_id, u.site_id, u.name, si.name, a.kind, a.severity, a.status,
		       a.escalation_step, coalesce(a.notification_policy_id::text, ''), coalesce(a.policy_id::text, ''), a.started_at,
		       a.last_reading_c, a.peak_c, `+alertThresholdSQL+`, a.cycle, coalesce(a.summary, ''), a.resolved_notified_at IS NOT NULL
		  FROM alerts a
		  JOIN units u ON u.org_id = a.org_id AND u.id = a.unit_id
		  JOIN sites si ON si.org_id = u.org_id AND si.id = u.site_id
		  JOIN alert_rules r ON r.org_id = a.org_id AND r.id = a.rule_id
		 WHERE a.id = $1
		   FOR UPDATE OF a`, alertID).Scan(&a.n.OrgID, &a.n.UnitID, &a.n.SiteID, &a.n.UnitName, &a.n.SiteName,
		&a.n.Kind, &a.n.Severity, &a.status, &a.step, &a.notification, &a.escal, &a.n.StartedAt, &last, &peak, &threshold,
		&a.cycle, &a.n.Summary, &a.resolvedNotified)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, false, nil
	}
	if err != nil {
		return a, false, fmt.Errorf("lock alert: %w", err)
	}
	a.n.AlertID, a.n.Cycle = alertID, a.cycle
	if isTemp(a.n.Kind) {
		a.n.ValueC, a.n.ThresholdC = cmpOr(last, peak), &threshold
	}
	return a, true, nil
}

// SendDeferred sends a step deferred by quiet hours, unless the alert was
// acknowledged or resolved meanwhile or moved to a new cycle. Run before
// the quiet hours end (it should not be), it defers the step again. It
// reports whether it sent anything.
func (e *Evaluator) SendDeferred(ctx context.Context, args DeferredArgs) (bool, error) {
	if !uuids.Valid(args.AlertID) {
		return false, nil
	}
	var sent bool
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		a, ok, err := lockForNotice(ctx, tx, args.AlertID)
		if err != nil || !ok || a.status != StatusTriggered || a.cycle != args.Cycle {
			return err
		}
		pl, err := e.planOf(ctx, tx, a.n.OrgID, a.n.SiteID, a.notification, a.escal)
		if err != nil || args.Step >= len(pl.steps) {
			return err
		}
		a.n.Step = args.Step
		event := "escalated"
		if args.Step == 0 {
			event = "notified"
		}
		n, err := e.notifyAs(ctx, tx, a.n, pl, pl.steps[args.Step], event, "deferred", e.now())
		sent = n > 0
		return err
	})
	if err != nil {
		return false, fmt.Errorf("send deferred step %d of alert %s: %w", args.Step, args.AlertID, err)
	}
	return sent, nil
}

// Remind sends reminder args.N of an unacknowledged alert to the
// recipients of its latest step and schedules the next one; once the alert
// is acknowledged, resolved or in a new cycle it does nothing and the
// reminders stop. A reminder due in quiet hours is skipped (recorded), the
// next one is still scheduled. It reports whether it sent anything.
func (e *Evaluator) Remind(ctx context.Context, args RemindArgs) (bool, error) {
	if !uuids.Valid(args.AlertID) || args.N < 1 {
		return false, nil
	}
	var sent bool
	err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error {
		a, ok, err := lockForNotice(ctx, tx, args.AlertID)
		if err != nil || !ok || a.status != StatusTriggered || a.cycle != args.Cycle {
			return err
		}
		pl, err := e.planOf(ctx, tx, a.n.OrgID, a.n.SiteID, a.notification, a.escal)
		if err != nil || pl.policy == nil || pl.policy.ReminderMinutes <= 0 {
			return err
		}
		now := e.now()
		step := min(a.step, len(pl.steps)-1)
		a.n.Step, a.n.Purpose, a.n.Reminder = step, PurposeReminder, args.N
		n, err := e.notifyAs(ctx, tx, a.n, pl, pl.steps[step], "", "reminder", now)
		if err != nil {
			return err
		}
		sent = n > 0
		next := RemindArgs{AlertID: args.AlertID, Cycle: args.Cycle, N: args.N + 1}
		_, err = e.jobs.InsertManyTx(ctx, tx, []river.InsertManyParams{{Args: next,
			InsertOpts: &river.InsertOpts{ScheduledAt: now.Add(time.Duration(pl.policy.ReminderMinutes) * time.Minute)}}})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("remind alert %s: %w", args.AlertID, err)
	}
	return sent, nil
}

// notifyResolved sends the "resolved" messages of a resolved alert whose
// notification policy asks for them, once: to every contact and channel
// that was notified of it. The sweep calls it for alerts a person
// resolved; an automatic resolution calls it in its own transaction.
func (e *Evaluator) notifyResolved(ctx context.Context, tx pgx.Tx, alertID string) error {
	a, ok, err := lockForNotice(ctx, tx, alertID)
	if err != nil || !ok || a.status != StatusResolved || a.resolvedNotified || a.notification == "" {
		return err
	}
	pl, err := e.planOf(ctx, tx, a.n.OrgID, a.n.SiteID, a.notification, a.escal)
	if err != nil || pl.policy == nil || !pl.policy.NotifyOnResolve {
		return err
	}
	rows, err := tx.Query(ctx, `
		SELECT DISTINCT ON (contact_id, channel, address) coalesce(contact_id::text, ''), name, channel, address
		  FROM alert_recipient_decisions
		 WHERE alert_id = $1 AND decision = 'notified' AND purpose <> 'resolved'
		 ORDER BY contact_id, channel, address, id`, alertID)
	if err != nil {
		return fmt.Errorf("load notified recipients: %w", err)
	}
	var (
		ds []Decision
		d  Decision
	)
	if _, err := pgx.ForEachRow(rows, []any{&d.ContactID, &d.Name, &d.Channel, &d.address}, func() error {
		d.Decision, d.Reason = DecisionNotified, "told that the alert is resolved: they were notified of it"
		ds = append(ds, d)
		return nil
	}); err != nil {
		return fmt.Errorf("load notified recipients: %w", err)
	}
	now := e.now()
	n := a.n
	n.Step, n.Purpose = a.step, PurposeResolved
	for _, d := range ds {
		n.Recipients = append(n.Recipients, Recipient{ContactID: d.ContactID, Channel: d.Channel, Address: d.address})
	}
	if e.notifier != nil && len(n.Recipients) > 0 {
		if err := e.notifier.NotifyTx(ctx, tx, n); err != nil {
			return fmt.Errorf("notify resolution of alert %s: %w", alertID, err)
		}
	}
	if err := recordDecisions(ctx, tx, n, "resolved", now, ds); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE alerts SET resolved_notified_at = $2 WHERE id = $1`, alertID, now)
	return err
}

// notifyResolvedPending is the sweep's pass over alerts resolved in the
// last day whose policy wants a resolved message not sent yet (a person
// resolved them: Resolve has no notifier).
func (e *Evaluator) notifyResolvedPending(ctx context.Context, now time.Time) (int, error) {
	rows, err := e.pool.Query(ctx, `
		SELECT a.id::text FROM alerts a
		  JOIN notification_policies p ON p.org_id = a.org_id AND p.id = a.notification_policy_id
		 WHERE a.status = 'resolved' AND a.resolved_notified_at IS NULL AND p.notify_on_resolve
		   AND a.resolved_at > $1`, now.Add(-24*time.Hour))
	if err != nil {
		return 0, fmt.Errorf("list resolved alerts to announce: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("list resolved alerts to announce: %w", err)
	}
	for _, id := range ids {
		if err := pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error { return e.notifyResolved(ctx, tx, id) }); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// NotifyResolved sends alertID's resolved messages now if its policy wants
// them and they were not sent (what the sweep does for each).
func (e *Evaluator) NotifyResolved(ctx context.Context, alertID string) error {
	if !uuids.Valid(alertID) {
		return nil
	}
	return pgx.BeginFunc(ctx, e.pool, func(tx pgx.Tx) error { return e.notifyResolved(ctx, tx, alertID) })
}

// Recipients of an alert: the policy it followed and why, and every
// recipient decision, oldest first.
type Recipients struct {
	Policy    *PolicyRef `json:"policy"`
	Why       string     `json:"why"`
	Decisions []Decision `json:"decisions"`
}

// PolicyRef names the notification policy an alert followed.
type PolicyRef struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Scope string `json:"scope"`
}

// loadRecipients reads an alert's Recipients.
func loadRecipients(ctx context.Context, q database.DB, orgID, alertID, kind string) (Recipients, error) {
	var (
		out         Recipients
		id, name, s string
	)
	err := q.QueryRow(ctx, `
		SELECT coalesce(a.notification_policy_id::text, ''), coalesce(p.name, ''), coalesce(a.notification_scope, '')
		  FROM alerts a LEFT JOIN notification_policies p ON p.org_id = a.org_id AND p.id = a.notification_policy_id
		 WHERE a.org_id = $1 AND a.id = $2`, orgID, alertID).Scan(&id, &name, &s)
	if err != nil {
		return out, fmt.Errorf("load alert policy: %w", err)
	}
	if id != "" {
		out.Policy = &PolicyRef{ID: id, Name: name, Scope: s}
	}
	out.Why = Why(s, kind)
	if id == "" && s != "" {
		out.Why = Why(s, kind) + "; that policy has since been deleted"
	}
	rows, err := q.Query(ctx, `
		SELECT at, cycle, step, purpose, coalesce(contact_id::text, ''), name, channel, decision, reason
		  FROM alert_recipient_decisions WHERE org_id = $1 AND alert_id = $2 ORDER BY id`, orgID, alertID)
	if err != nil {
		return out, fmt.Errorf("load recipient decisions: %w", err)
	}
	var d Decision
	out.Decisions = []Decision{}
	if _, err := pgx.ForEachRow(rows, []any{&d.At, &d.Cycle, &d.Step, &d.Purpose, &d.ContactID, &d.Name, &d.Channel, &d.Decision, &d.Reason}, func() error {
		out.Decisions = append(out.Decisions, d)
		return nil
	}); err != nil {
		return out, fmt.Errorf("load recipient decisions: %w", err)
	}
	return out, nil
}
