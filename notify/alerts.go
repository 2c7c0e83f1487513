package notify

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/internal/database"
)

// AlertNotifier turns an alert's escalation step into notifications: one
// delivery-log row and one River send job per recipient, in the
// transaction that opens or escalates the alert. The dedupe key
// (alert, step, contact, channel) makes a retried transaction harmless.
type AlertNotifier struct {
	// Jobs inserts the send jobs; an insert-only client is enough.
	Jobs *river.Client[pgx.Tx]
	// PublicURL is the base of links to the alert.
	PublicURL string
	// Unsubscribe, when set, signs the one-click unsubscribe link of each
	// alert email to a contact linked to a person's account.
	Unsubscribe *Unsubscriber
}

var _ alerting.Notifier = (*AlertNotifier)(nil)

// NotifyTx implements alerting.Notifier.
func (a *AlertNotifier) NotifyTx(ctx context.Context, tx pgx.Tx, n alerting.Notice) error {
	if len(n.Recipients) == 0 {
		return nil
	}
	var org string
	if err := tx.QueryRow(ctx, `SELECT name FROM organizations WHERE id = $1`, n.OrgID).Scan(&org); err != nil {
		return fmt.Errorf("notify: organisation of alert %s: %w", n.AlertID, err)
	}
	notice := AlertNotice{
		OrgName: org, SiteName: n.SiteName, UnitName: n.UnitName, Kind: n.Kind, Severity: n.Severity,
		ValueC: n.ValueC, ThresholdC: n.ThresholdC, StartedAt: n.StartedAt, Step: n.Step, Summary: n.Summary,
		Purpose: n.Purpose, Reminder: n.Reminder,
		AlertURL: fmt.Sprintf("%s/o/%s/alerts/%s", a.PublicURL, n.OrgID, n.AlertID),
	}
	alertID := n.AlertID
	for _, r := range n.Recipients {
		step := fmt.Sprintf("step:%d", n.Step)
		if n.Cycle > 0 {
			step = fmt.Sprintf("cycle:%d:step:%d", n.Cycle, n.Step)
		}
		switch n.Purpose {
		case alerting.PurposeReminder:
			step += fmt.Sprintf(":reminder:%d", n.Reminder)
		case alerting.PurposeResolved:
			step += ":resolved"
		}
		p := EnqueueParams{OrgID: n.OrgID, AlertID: &alertID, Channel: Channel(r.Channel), Recipient: r.Address,
			DedupeKey: fmt.Sprintf("alert:%s:%s:%s:%s:%s", n.AlertID, step, r.ContactID, r.Channel, r.Address)}
		if r.ContactID != "" {
			contact := r.ContactID
			p.ContactID = &contact
		}
		switch p.Channel {
		case SMS:
			p.Text = RenderSMS(notice)
		case Email:
			p.Subject, p.Text, p.HTML = RenderEmail(notice)
			link, err := a.unsubscribeLink(ctx, tx, n.OrgID, r.ContactID)
			if err != nil {
				return fmt.Errorf("notify: alert %s: %w", n.AlertID, err)
			}
			p.ListUnsubscribe = link
		default:
			return fmt.Errorf("notify: alert %s: unknown channel %q", n.AlertID, r.Channel)
		}
		if _, _, err := InsertNotificationTx(ctx, tx, a.Jobs, p); err != nil {
			return fmt.Errorf("notify: alert %s step %d to %s: %w", n.AlertID, n.Step, r.Channel, err)
		}
	}
	return nil
}

// unsubscribeLink returns the alert-email unsubscribe link of the person a
// contact is linked to, or "" for a contact without an account (who has no
// opt-in to turn off; a manager edits the contact instead).
func (a *AlertNotifier) unsubscribeLink(ctx context.Context, tx pgx.Tx, orgID, contactID string) (string, error) {
	return ContactUnsubscribeLink(ctx, tx, a.Unsubscribe, orgID, contactID)
}

// ContactUnsubscribeLink returns the alert-email unsubscribe link of the
// person contactID is linked to, or "" when u is nil or the contact has no
// account.
func ContactUnsubscribeLink(ctx context.Context, db database.Querier, u *Unsubscriber, orgID, contactID string) (string, error) {
	if u == nil || contactID == "" {
		return "", nil
	}
	var userID *string
	err := db.QueryRow(ctx, `SELECT user_id::text FROM contacts WHERE org_id = $1 AND id = $2`, orgID, contactID).Scan(&userID)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && userID == nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("contact %s account: %w", contactID, err)
	}
	return u.URL(UnsubscribeToken{UserID: *userID, OrgID: orgID, List: ListAlerts}), nil
}
