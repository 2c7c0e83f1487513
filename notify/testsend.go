package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// TestParams asks for a test message to a contact.
type TestParams struct {
	OrgID, ContactID string
	// Channel is sms or email.
	Channel Channel
	// Actor is who asked ("user:<id>"), for the audit trail.
	Actor string
}

// SendTest records a test message to a contact and enqueues it through the
// same path as an alert (notifications row, River send job, rate limits,
// the provider), so a manager sees whether alerts would reach the person.
// It returns the notification id, whose status the delivery log shows.
func (s *Service) SendTest(ctx context.Context, p TestParams) (string, error) {
	if !p.Channel.Valid() {
		return "", &ValidationError{Field: "channel", Reason: fmt.Sprintf("must be sms or email, not %q", p.Channel)}
	}
	if !uuids.Valid(p.OrgID) || !uuids.Valid(p.ContactID) {
		return "", ErrNotFound
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	var id string
	err := pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		var name, org string
		var phone, email *string
		err := tx.QueryRow(ctx, `SELECT c.name, c.phone, c.email, o.name FROM contacts c JOIN organizations o ON o.id = c.org_id
WHERE c.org_id = $1 AND c.id = $2`, p.OrgID, p.ContactID).Scan(&name, &phone, &email, &org)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("load contact: %w", err)
		}
		ep := EnqueueParams{OrgID: p.OrgID, ContactID: &p.ContactID, Channel: p.Channel,
			DedupeKey: fmt.Sprintf("test:%s:%s:%s", p.ContactID, p.Channel, hex.EncodeToString(b[:]))}
		text := fmt.Sprintf("FreshTrack test message for %s (%s). If you got this, alerts reach you here.", name, org)
		switch p.Channel {
		case SMS:
			if phone == nil {
				return &ValidationError{Field: "channel", Reason: "this contact has no phone number"}
			}
			ep.Recipient, ep.Text = *phone, text
		case Email:
			if email == nil {
				return &ValidationError{Field: "channel", Reason: "this contact has no email address"}
			}
			ep.Recipient, ep.Subject, ep.Text = *email, "FreshTrack test message", text
			if ep.ListUnsubscribe, err = ContactUnsubscribeLink(ctx, tx, s.Unsubscribe, p.OrgID, p.ContactID); err != nil {
				return err
			}
		}
		if id, _, err = InsertNotificationTx(ctx, tx, s.Jobs, ep); err != nil {
			return err
		}
		return auth.WriteAudit(ctx, tx, auth.AuditEntry{OrgID: p.OrgID, Actor: p.Actor, Action: "contact.test_message",
			TargetType: "contact", TargetID: p.ContactID, Details: map[string]any{"channel": p.Channel, "notification_id": id}})
	})
	return id, err
}
