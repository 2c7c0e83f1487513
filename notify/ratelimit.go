package notify

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SMSLimits caps how many SMS go out in a sliding window, so that a flapping
// sensor or a misconfigured rule cannot flood a person's phone or run up an
// organisation's bill. An SMS over a limit is not sent: its notifications
// row becomes "suppressed" with the reason, and
// freshtrack_notifications_suppressed_total counts it.
//
// The check is atomic across instances without Redis: the send worker takes
// transaction advisory locks on the organisation and on the number, counts
// the SMS started in the window, and marks the row "sending" in that same
// transaction, so two workers can never both take the last slot.
//
// A critical alert's SMS gets twice the limits as headroom: the limits
// exist to stop noise, and the one message that says food is at risk now
// should not be the one dropped because warnings used up the budget.
type SMSLimits struct {
	// PerPerson is the most SMS to one number (across organisations) in
	// Window (FRESHTRACK_SMS_LIMIT_PER_PERSON). Defaults to 10.
	PerPerson int
	// PerOrg is the most SMS of one organisation in Window
	// (FRESHTRACK_SMS_LIMIT_PER_ORG). Defaults to 200.
	PerOrg int
	// Window is the sliding window. Defaults to 1h.
	Window time.Duration
}

// SMS limit defaults.
const (
	DefaultSMSLimitPerPerson = 10
	DefaultSMSLimitPerOrg    = 200
	DefaultSMSLimitWindow    = time.Hour
)

// Suppression reasons stored in notifications.suppressed_reason.
const (
	SuppressedPersonLimit = "person_limit"
	SuppressedOrgLimit    = "org_limit"
)

// WithDefaults fills zero fields.
func (l SMSLimits) WithDefaults() SMSLimits {
	l.PerPerson = cmp.Or(l.PerPerson, DefaultSMSLimitPerPerson)
	l.PerOrg = cmp.Or(l.PerOrg, DefaultSMSLimitPerOrg)
	l.Window = cmp.Or(l.Window, DefaultSMSLimitWindow)
	return l
}

// Validate names the first field out of range.
func (l SMSLimits) Validate() error {
	switch {
	case l.PerPerson < 1 || l.PerPerson > 100000:
		return fmt.Errorf("sms limits: PerPerson %d must be between 1 and 100000 (FRESHTRACK_SMS_LIMIT_PER_PERSON)", l.PerPerson)
	case l.PerOrg < 1 || l.PerOrg > 10000000:
		return fmt.Errorf("sms limits: PerOrg %d must be between 1 and 10000000 (FRESHTRACK_SMS_LIMIT_PER_ORG)", l.PerOrg)
	case l.Window < time.Minute:
		return fmt.Errorf("sms limits: Window %s must be at least 1m", l.Window)
	}
	return nil
}

// startedSMSSQL counts the SMS that were handed (or are being handed) to
// the provider in the window. Suppressed, failed before sending and
// not_configured rows do not count: they never reached a phone.
const startedSMSSQL = `
SELECT count(*) FILTER (WHERE org_id = $1), count(*) FILTER (WHERE recipient = $2)
  FROM notifications
 WHERE channel = 'sms' AND id <> $3
   AND status IN ('sending', 'sent', 'delivered')
   AND coalesce(sent_at, updated_at) > now() - make_interval(secs => $4::float8)
   AND (org_id = $1 OR recipient = $2)`

// claimSMS marks an SMS notification "sending" if the limits allow it, or
// "suppressed" with the reason if not, atomically (see SMSLimits). It
// reports whether the caller may send, and the suppression reason.
func claimSMS(ctx context.Context, db *pgxpool.Pool, limits SMSLimits, id, orgID, recipient string) (claimed bool, reason string, err error) {
	limits = limits.WithDefaults()
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		// Always the organisation first, then the number: a fixed order
		// cannot deadlock.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('freshtrack.sms.org:' || $1, 0)),
       pg_advisory_xact_lock(hashtextextended('freshtrack.sms.to:' || $2, 0))`, orgID, recipient); err != nil {
			return fmt.Errorf("lock sms limits: %w", err)
		}
		var critical bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM notifications n JOIN alerts a ON a.org_id = n.org_id AND a.id = n.alert_id
WHERE n.id = $1 AND a.severity = 'critical')`, id).Scan(&critical); err != nil {
			return fmt.Errorf("read alert severity: %w", err)
		}
		perOrg, perPerson := limits.PerOrg, limits.PerPerson
		if critical {
			perOrg, perPerson = 2*perOrg, 2*perPerson
		}
		var orgCount, personCount int
		if err := tx.QueryRow(ctx, startedSMSSQL, orgID, recipient, id, limits.Window.Seconds()).Scan(&orgCount, &personCount); err != nil {
			return fmt.Errorf("count sms: %w", err)
		}
		switch {
		case personCount >= perPerson:
			reason = fmt.Sprintf("%s: %d SMS to this number in the last %s (limit %d)", SuppressedPersonLimit, personCount, limits.Window, perPerson)
		case orgCount >= perOrg:
			reason = fmt.Sprintf("%s: %d SMS of this organisation in the last %s (limit %d)", SuppressedOrgLimit, orgCount, limits.Window, perOrg)
		}
		if reason != "" {
			_, err := tx.Exec(ctx, `UPDATE notifications SET status = 'suppressed', suppressed_reason = $2, last_error = $2, updated_at = now()
WHERE id = $1 AND status IN ('queued', 'sending')`, id, reason)
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE notifications SET status = 'sending', attempts = attempts + 1, updated_at = now()
WHERE id = $1 AND status IN ('queued', 'sending')`, id)
		claimed = err == nil && tag.RowsAffected() > 0
		return err
	})
	if err != nil {
		return false, "", fmt.Errorf("claim sms notification %s: %w", id, err)
	}
	if reason != "" {
		kind := SuppressedPersonLimit
		if strings.HasPrefix(reason, SuppressedOrgLimit) {
			kind = SuppressedOrgLimit
		}
		metrics.GetOrCreateCounter(`freshtrack_notifications_suppressed_total{reason="` + kind + `"}`).Inc()
	}
	return claimed, reason, nil
}
