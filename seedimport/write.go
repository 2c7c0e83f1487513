package seedimport

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// Storing a plan's rows (everything but readings) in one transaction, in
// dependency order. Every row is upserted by its id (or natural key), so a
// rerun updates what the seed changed and duplicates nothing; an alert a
// person resolved in FreshTrack stays resolved.

// send runs a batch and reports the first error with what it was storing.
func send(ctx context.Context, tx pgx.Tx, what string, b *pgx.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store %s: %w", what, err)
	}
	return nil
}

func writeOrgs(ctx context.Context, tx pgx.Tx, orgs []tOrg) error {
	b := &pgx.Batch{}
	for _, o := range orgs {
		b.Queue(`
			INSERT INTO organizations (id, name, deleted_at) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, deleted_at = excluded.deleted_at, updated_at = now(), version = organizations.version + 1
			 WHERE (organizations.name, organizations.deleted_at) IS DISTINCT FROM (excluded.name, excluded.deleted_at)`,
			o.ID, o.Name, o.DeletedAt)
	}
	return send(ctx, tx, "organizations", b)
}

// writePlan stores everything but organisations (writeOrgs, before the
// default rules) and readings, and returns the sensors' ids by key.
func writePlan(ctx context.Context, tx pgx.Tx, p *plan) (map[string]int64, error) {
	b := &pgx.Batch{}
	for _, u := range p.users {
		b.Queue(`
			INSERT INTO users (id, issuer, subject, email, name, phone) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO UPDATE SET email = coalesce(excluded.email, users.email), name = coalesce(excluded.name, users.name),
			       phone = coalesce(excluded.phone, users.phone), updated_at = now()`,
			u.ID, u.Issuer, u.Subject, u.Email, u.Name, u.Phone)
	}
	for _, m := range p.members {
		b.Queue(`
			INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)
			ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role, updated_at = now() WHERE memberships.role <> excluded.role`,
			m.OrgID, m.UserID, m.Role)
	}
	for _, s := range p.subs {
		b.Queue(`
			INSERT INTO subscriptions (id, org_id, stripe_customer_id, stripe_subscription_id, plan, status, sensor_limit, current_period_end)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (org_id) DO UPDATE SET stripe_customer_id = excluded.stripe_customer_id, stripe_subscription_id = excluded.stripe_subscription_id,
			       plan = excluded.plan, status = excluded.status, sensor_limit = excluded.sensor_limit,
			       current_period_end = excluded.current_period_end, updated_at = now()`,
			s.ID, s.OrgID, s.CustomerID, s.SubscriptionID, s.Plan, s.Status, s.SensorLimit, s.PeriodEnd)
	}
	for _, s := range p.sites {
		b.Queue(`
			INSERT INTO sites (id, org_id, name, timezone, address) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, timezone = excluded.timezone, address = excluded.address,
			       updated_at = now(), version = sites.version + 1
			 WHERE (sites.name, sites.timezone, sites.address) IS DISTINCT FROM (excluded.name, excluded.timezone, excluded.address)`,
			s.ID, s.OrgID, s.Name, s.Timezone, s.Address)
	}
	for _, a := range p.areas {
		b.Queue(`
			INSERT INTO areas (id, org_id, site_id, name) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO UPDATE SET site_id = excluded.site_id, name = excluded.name, updated_at = now(), version = areas.version + 1
			 WHERE (areas.site_id, areas.name) IS DISTINCT FROM (excluded.site_id, excluded.name)`,
			a.ID, a.OrgID, a.SiteID, a.Name)
	}
	for _, u := range p.units {
		b.Queue(`
			INSERT INTO units (id, org_id, site_id, area_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (id) DO UPDATE SET site_id = excluded.site_id, area_id = excluded.area_id, name = excluded.name, kind = excluded.kind,
			       safe_min_c = excluded.safe_min_c, safe_max_c = excluded.safe_max_c, updated_at = now(), version = units.version + 1
			 WHERE (units.site_id, units.area_id, units.name, units.kind, units.safe_min_c, units.safe_max_c)
			       IS DISTINCT FROM (excluded.site_id, excluded.area_id, excluded.name, excluded.kind, excluded.safe_min_c, excluded.safe_max_c)`,
			u.ID, u.OrgID, u.SiteID, u.AreaID, u.Name, u.Kind, u.SafeMinC, u.SafeMaxC)
	}
	if err := send(ctx, tx, "people and places", b); err != nil {
		return nil, err
	}
	ids, err := writeSensors(ctx, tx, p.sensors)
	if err != nil {
		return nil, err
	}
	b = &pgx.Batch{}
	for _, r := range p.rules {
		b.Queue(`
			INSERT INTO alert_rules (id, org_id, unit_id, kind, threshold, confirm_seconds, hysteresis, severity, auto_resolve, enabled)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (id) DO UPDATE SET threshold = excluded.threshold, confirm_seconds = excluded.confirm_seconds,
			       hysteresis = excluded.hysteresis, severity = excluded.severity, auto_resolve = excluded.auto_resolve,
			       enabled = excluded.enabled, updated_at = now(), version = alert_rules.version + 1
			 WHERE (alert_rules.threshold, alert_rules.confirm_seconds, alert_rules.hysteresis, alert_rules.severity, alert_rules.auto_resolve, alert_rules.enabled)
			       IS DISTINCT FROM (excluded.threshold, excluded.confirm_seconds, excluded.hysteresis, excluded.severity, excluded.auto_resolve, excluded.enabled)`,
			r.ID, r.OrgID, r.UnitID, r.Kind, r.Threshold, r.ConfirmSeconds, r.Hysteresis, r.Severity, r.AutoResolve, r.Enabled)
	}
	for _, c := range p.contacts {
		b.Queue(`
			INSERT INTO contacts (id, org_id, user_id, name, phone, email, role, on_shift) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, name = excluded.name, phone = excluded.phone, email = excluded.email,
			       role = excluded.role, on_shift = excluded.on_shift, updated_at = now(), version = contacts.version + 1`,
			c.ID, c.OrgID, c.UserID, c.Name, c.Phone, c.Email, c.Role, c.OnShift)
	}
	for _, pol := range p.policies {
		// A rerun updates what the seed changed; scope and kind stay (the
		// id is the seed's, or derived from it and the kind).
		b.Queue(`
			INSERT INTO notification_policies (id, org_id, site_id, unit_id, alert_kind, name, initial_channels, ack_deadline_minutes,
			                                   steps, reminder_minutes, notify_on_resolve, quiet_start, quiet_end, min_severity)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, initial_channels = excluded.initial_channels,
			       ack_deadline_minutes = excluded.ack_deadline_minutes, steps = excluded.steps, reminder_minutes = excluded.reminder_minutes,
			       notify_on_resolve = excluded.notify_on_resolve, quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end,
			       min_severity = excluded.min_severity, updated_at = now(), version = notification_policies.version + 1
			 WHERE (notification_policies.name, notification_policies.initial_channels, notification_policies.ack_deadline_minutes,
			        notification_policies.steps, notification_policies.reminder_minutes, notification_policies.notify_on_resolve,
			        notification_policies.quiet_start, notification_policies.quiet_end, notification_policies.min_severity)
			       IS DISTINCT FROM (excluded.name, excluded.initial_channels, excluded.ack_deadline_minutes, excluded.steps,
			        excluded.reminder_minutes, excluded.notify_on_resolve, excluded.quiet_start, excluded.quiet_end, excluded.min_severity)`,
			pol.ID, pol.OrgID, pol.SiteID, pol.UnitID, pol.Kind, pol.Name, pol.InitialChannels, pol.AckDeadline,
			pol.Steps, pol.ReminderMinutes, pol.NotifyOnResolve, pol.QuietStart, pol.QuietEnd, pol.MinSeverity)
	}
	if err := send(ctx, tx, "alert rules, contacts and policies", b); err != nil {
		return nil, err
	}
	if err := writeAlerts(ctx, tx, p); err != nil {
		return nil, err
	}
	return ids, writeRecords(ctx, tx, p)
}

// writeSensors upserts device sensors by public_id (devices.id) and the
// synthetic ones by (org, external id). A device FreshTrack already knows
// under its EUI (ingest registered it) is merged into that sensor, which
// takes the device's id as its public_id.
func writeSensors(ctx context.Context, tx pgx.Tx, sensors []tSensor) (map[string]int64, error) {
	ids := make(map[string]int64, len(sensors))
	b := &pgx.Batch{}
	for _, s := range sensors {
		key := s.Key
		scan := func(row pgx.Row) error { var id int64; err := row.Scan(&id); ids[key] = id; return err }
		if s.PublicID == "" {
			b.Queue(`
				INSERT INTO sensors (org_id, external_id, unit_id, name) VALUES ($1, $2, $3, $4)
				ON CONFLICT (org_id, external_id) DO UPDATE SET unit_id = excluded.unit_id, name = coalesce(sensors.name, excluded.name)
				RETURNING id`, s.OrgID, s.External, s.UnitID, s.Name).QueryRow(scan)
			continue
		}
		b.Queue(`
			UPDATE sensors SET public_id = $3, updated_at = now(), version = version + 1
			 WHERE org_id = $1 AND external_id = $2 AND public_id <> $3
			   AND NOT EXISTS (SELECT 1 FROM sensors o WHERE o.public_id = $3)`, s.OrgID, s.External, s.PublicID)
		b.Queue(`
			INSERT INTO sensors (public_id, org_id, external_id, unit_id, name, model, battery, last_seen_at, retired_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (public_id) DO UPDATE SET external_id = excluded.external_id, unit_id = excluded.unit_id, name = excluded.name,
			       model = excluded.model, battery = coalesce(excluded.battery, sensors.battery),
			       last_seen_at = greatest(sensors.last_seen_at, excluded.last_seen_at),
			       retired_at = CASE WHEN excluded.retired_at IS NULL THEN NULL ELSE coalesce(sensors.retired_at, excluded.retired_at) END,
			       updated_at = now(), version = sensors.version + 1
			RETURNING id`,
			s.PublicID, s.OrgID, s.External, s.UnitID, s.Name, s.Model, s.Battery, s.LastSeenAt, s.RetiredAt).QueryRow(scan)
	}
	if err := send(ctx, tx, "sensors", b); err != nil {
		return nil, err
	}
	return ids, nil
}

func writeAlerts(ctx context.Context, tx pgx.Tx, p *plan) error {
	// Resolutions first: an open alert may replace one this run resolves
	// (alerts_one_open is checked statement by statement).
	alerts := slices.Clone(p.alerts)
	slices.SortStableFunc(alerts, func(a, b tAlert) int { return b2i(a.Status != "resolved") - b2i(b.Status != "resolved") })
	b := &pgx.Batch{}
	for _, a := range alerts {
		b.Queue(`
			INSERT INTO alerts (id, org_id, unit_id, rule_id, kind, severity, status, started_at, opened_at, peak_c, last_reading_c, threshold_c,
			                    escalation_step, policy_id, acknowledged_at, acknowledged_by, resolved_at, resolved_by, auto_resolved)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $9, $10, $11, $12, $13, $14, $15, $16, $17)
			ON CONFLICT (id) DO UPDATE SET rule_id = excluded.rule_id, kind = excluded.kind, severity = excluded.severity, status = excluded.status,
			       peak_c = coalesce(alerts.peak_c, excluded.peak_c), threshold_c = excluded.threshold_c,
			       escalation_step = greatest(alerts.escalation_step, excluded.escalation_step), policy_id = excluded.policy_id,
			       acknowledged_at = excluded.acknowledged_at, acknowledged_by = excluded.acknowledged_by,
			       resolved_at = excluded.resolved_at, resolved_by = excluded.resolved_by, auto_resolved = excluded.auto_resolved
			 WHERE alerts.status <> 'resolved'`,
			a.ID, a.OrgID, a.UnitID, a.RuleID, a.Kind, a.Severity, a.Status, a.StartedAt, a.PeakC, a.ThresholdC, a.EscalationStep,
			a.PolicyID, a.AckAt, a.AckBy, a.ResolvedAt, a.ResolvedBy, a.AutoResolved)
	}
	for _, e := range p.events {
		details, _ := json.Marshal(e.Details)
		b.Queue(`
			INSERT INTO alert_events (org_id, alert_id, at, kind, actor_id, details)
			SELECT $1, $2, $3, $4, $5, $6
			 WHERE NOT EXISTS (SELECT 1 FROM alert_events WHERE alert_id = $2 AND kind = $4 AND details->>'imported' = 'true')`,
			e.OrgID, e.AlertID, e.At, e.Kind, e.ActorID, json.RawMessage(details))
	}
	return send(ctx, tx, "alerts", b)
}

func writeRecords(ctx context.Context, tx pgx.Tx, p *plan) error {
	b := &pgx.Batch{}
	for _, a := range p.actions {
		b.Queue(`
			INSERT INTO corrective_actions (id, org_id, unit_id, alert_id, action, disposition, taken_by, taken_at, notes, created_at)
			VALUES ($1, $2, $3, $4, $5, 'other', $6, $7, $8, $9)
			ON CONFLICT (id) DO UPDATE SET alert_id = excluded.alert_id, action = excluded.action, taken_by = excluded.taken_by,
			       taken_at = excluded.taken_at, notes = excluded.notes`,
			a.ID, a.OrgID, a.UnitID, a.AlertID, a.Action, a.TakenBy, a.TakenAt, a.Notes, a.CreatedAt)
	}
	for _, n := range p.notifications {
		b.Queue(`
			INSERT INTO notifications (id, org_id, alert_id, contact_id, channel, recipient, status, provider_id, attempts, last_error,
			                           dedupe_key, created_at, updated_at, sent_at, delivered_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
			ON CONFLICT (id) DO UPDATE SET alert_id = excluded.alert_id, contact_id = excluded.contact_id, status = excluded.status,
			       provider_id = excluded.provider_id, attempts = excluded.attempts, last_error = excluded.last_error,
			       updated_at = excluded.updated_at, sent_at = excluded.sent_at, delivered_at = excluded.delivered_at
			 WHERE (notifications.status, notifications.provider_id, notifications.attempts, notifications.last_error, notifications.sent_at, notifications.delivered_at)
			       IS DISTINCT FROM (excluded.status, excluded.provider_id, excluded.attempts, excluded.last_error, excluded.sent_at, excluded.delivered_at)`,
			n.ID, n.OrgID, n.AlertID, n.ContactID, n.Channel, n.Recipient, n.Status, n.ProviderID, n.Attempts, n.LastError,
			n.DedupeKey, n.CreatedAt, n.UpdatedAt, n.SentAt, n.DeliveredAt)
	}
	for _, c := range p.checks {
		b.Queue(`
			INSERT INTO manual_checks (id, org_id, unit_id, checked_at, temp_c, checked_by, notes, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at, temp_c = excluded.temp_c, checked_by = excluded.checked_by,
			       notes = excluded.notes`,
			c.ID, c.OrgID, c.UnitID, c.CheckedAt, c.TempC, c.CheckedBy, c.Notes, c.CreatedAt)
	}
	for _, d := range p.digests {
		b.Queue(`
			INSERT INTO digest_subscriptions (org_id, user_id, frequency, local_hour, weekday, timezone, email)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (org_id, user_id, frequency) DO UPDATE SET local_hour = excluded.local_hour, timezone = excluded.timezone,
			       email = excluded.email, updated_at = now()`,
			d.OrgID, d.UserID, d.Frequency, d.LocalHour, d.Weekday, d.Timezone, d.Email)
	}
	for _, a := range p.audits {
		details, _ := json.Marshal(a.Details)
		b.Queue(`INSERT INTO audit_log (org_id, at, actor, action, target_type, target_id, details) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			a.OrgID, a.At, a.Actor, a.Action, a.TargetType, a.TargetID, json.RawMessage(details))
	}
	return send(ctx, tx, "corrective actions, notifications, checks, digests and the audit trail", b)
}
