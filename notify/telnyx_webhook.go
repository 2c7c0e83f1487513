package notify

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/freshtrack/freshtrack/internal/database"
)

// Headers of a Telnyx webhook request.
const (
	// TelnyxSignatureHeader carries the base64 Ed25519 signature.
	TelnyxSignatureHeader = "Telnyx-Signature-Ed25519"
	// TelnyxTimestampHeader carries the signing time in unix seconds.
	TelnyxTimestampHeader = "Telnyx-Timestamp"
)

// TelnyxWebhookTolerance is how far a webhook's timestamp may lie from the
// clock, in either direction, before the webhook is refused as a replay.
const TelnyxWebhookTolerance = 5 * time.Minute

// MaxTelnyxWebhookBody is a generous bound for a webhook body; a handler
// should refuse larger ones (413) before verifying.
const MaxTelnyxWebhookBody = 256 << 10

// ErrBadSignature is returned by [VerifyTelnyxSignature] for a webhook that
// must be refused (answer 401): missing, malformed or forged signature, or a
// timestamp outside [TelnyxWebhookTolerance].
var ErrBadSignature = errors.New("telnyx webhook signature invalid")

// ErrBadEvent is returned by [ApplyTelnyxEvent] for a body that is not a
// Telnyx event (answer 400).
var ErrBadEvent = errors.New("malformed telnyx event")

// ParseTelnyxPublicKey decodes the account's webhook public key as the
// Telnyx portal shows it: standard base64 of the 32-byte Ed25519 key.
func ParseTelnyxPublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("telnyx public key: not standard base64: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("telnyx public key: %d bytes, want %d (copy it from Mission Control, Keys & Credentials, Public Key)", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// VerifyTelnyxSignature checks a webhook: signatureB64 (the
// Telnyx-Signature-Ed25519 header, standard base64) must be publicKey's
// Ed25519 signature of "{timestamp}|{body}", and timestamp (the
// Telnyx-Timestamp header, unix seconds) must lie within
// [TelnyxWebhookTolerance] of now. body must be the raw request body, byte for
// byte. Every failure wraps [ErrBadSignature].
func VerifyTelnyxSignature(publicKey ed25519.PublicKey, signatureB64, timestamp string, body []byte, now time.Time) error {
	if len(publicKey) != ed25519.PublicKeySize {
		// ed25519.Verify panics on a key of the wrong size.
		return fmt.Errorf("%w: public key is %d bytes, want %d", ErrBadSignature, len(publicKey), ed25519.PublicKeySize)
	}
	if signatureB64 == "" || timestamp == "" {
		return fmt.Errorf("%w: missing %s or %s header", ErrBadSignature, TelnyxSignatureHeader, TelnyxTimestampHeader)
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not unix seconds", ErrBadSignature, timestamp)
	}
	age := now.Sub(time.Unix(ts, 0))
	switch {
	case age > TelnyxWebhookTolerance:
		return fmt.Errorf("%w: timestamp is %s old, more than %s", ErrBadSignature, age.Truncate(time.Second), TelnyxWebhookTolerance)
	case age < -TelnyxWebhookTolerance:
		return fmt.Errorf("%w: timestamp is %s in the future, more than %s", ErrBadSignature, (-age).Truncate(time.Second), TelnyxWebhookTolerance)
	}
	sig, err := base64.StdEncoding.DecodeString(signatureB64)
	if err != nil {
		return fmt.Errorf("%w: signature is not standard base64", ErrBadSignature)
	}
	if len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature is %d bytes, want %d", ErrBadSignature, len(sig), ed25519.SignatureSize)
	}
	msg := make([]byte, 0, len(timestamp)+1+len(body))
	msg = append(msg, timestamp...)
	msg = append(msg, '|')
	msg = append(msg, body...)
	if !ed25519.Verify(publicKey, msg, sig) {
		return fmt.Errorf("%w: signature does not match", ErrBadSignature)
	}
	return nil
}

// telnyxEvent is the envelope of a Telnyx webhook.
type telnyxEvent struct {
	Data *struct {
		EventType  string         `json:"event_type"`
		ID         string         `json:"id"`
		OccurredAt string         `json:"occurred_at"`
		Payload    *telnyxMessage `json:"payload"`
	} `json:"data"`
}

// statusRank orders notification statuses; a webhook only moves a row to a
// higher rank. delivered and failed are both final.
const statusRankSQL = `CASE %s WHEN 'queued' THEN 0 WHEN 'sending' THEN 1 WHEN 'sent' THEN 2 ELSE 3 END`

var applyTelnyxSQL = fmt.Sprintf(`
UPDATE notifications SET
    status       = $2,
    sent_at      = CASE WHEN $2 IN ('sent', 'delivered') THEN coalesce(sent_at, $3) ELSE sent_at END,
    delivered_at = CASE WHEN $2 = 'delivered' THEN coalesce(delivered_at, $3) ELSE delivered_at END,
    last_error   = CASE WHEN $2 = 'failed' THEN $4 ELSE last_error END,
    updated_at   = now()
WHERE provider_id = $1 AND channel = 'sms'
  AND %s < %s`, fmt.Sprintf(statusRankSQL, "status"), fmt.Sprintf(statusRankSQL, "$2::text"))

// ApplyTelnyxEvent records a verified delivery webhook (message.sent or
// message.finalized) on the notifications row whose provider_id is the
// event's message id: "sent" marks it sent (sent_at), "delivered" delivered
// (delivered_at), and "sending_failed", "delivery_failed" and
// "delivery_unconfirmed" failed, with last_error from the event's errors. A
// row never moves backwards: a late "sent" leaves a delivered row delivered,
// and delivered and failed are final.
//
// updated is false, with a nil error, for other event types and statuses, an
// unknown message id, or an event that would move the row backwards; the
// webhook should still be answered 2xx. A body that is not a Telnyx event
// returns an error wrapping [ErrBadEvent]. Verify the signature first.
func ApplyTelnyxEvent(ctx context.Context, db database.Querier, body []byte) (updated bool, err error) {
	u, err := parseTelnyxEvent(body, time.Now())
	if err != nil || u == nil {
		return false, err
	}
	tag, err := db.Exec(ctx, applyTelnyxSQL, u.messageID, u.status, u.at, u.lastError)
	if err != nil {
		return false, fmt.Errorf("apply telnyx %s for message %s: %w", u.eventType, u.messageID, err)
	}
	return tag.RowsAffected() > 0, nil
}

// telnyxUpdate is what a delivery webhook asks of a notifications row.
type telnyxUpdate struct {
	eventType, messageID string
	status               string // sent, delivered or failed
	at                   time.Time
	lastError            *string
}

// parseTelnyxEvent decodes a webhook body. It returns nil, nil for events and
// statuses that change no row, and an error wrapping ErrBadEvent for a body
// that is not a Telnyx event. now stands in for a missing occurred_at.
func parseTelnyxEvent(body []byte, now time.Time) (*telnyxUpdate, error) {
	var ev telnyxEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	if ev.Data == nil || ev.Data.EventType == "" {
		return nil, fmt.Errorf("%w: no data.event_type", ErrBadEvent)
	}
	if ev.Data.EventType != "message.sent" && ev.Data.EventType != "message.finalized" {
		return nil, nil
	}
	p := ev.Data.Payload
	if p == nil || p.ID == "" {
		return nil, fmt.Errorf("%w: %s without data.payload.id", ErrBadEvent, ev.Data.EventType)
	}
	var telnyxStatus string
	if len(p.To) > 0 {
		telnyxStatus = p.To[0].Status
	}
	u := &telnyxUpdate{eventType: ev.Data.EventType, messageID: p.ID, at: now}
	switch telnyxStatus {
	case "sent":
		u.status = "sent"
	case "delivered":
		u.status = "delivered"
	case "sending_failed", "delivery_failed", "delivery_unconfirmed":
		u.status = "failed"
		s := limitText(describeTelnyxErrors(telnyxStatus, p.Errors))
		u.lastError = &s
	default: // queued, sending, or a status Telnyx adds later
		return nil, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, ev.Data.OccurredAt); err == nil {
		u.at = t
	}
	return u, nil
}

// describeTelnyxErrors turns a failed message's errors into last_error text.
func describeTelnyxErrors(status string, errs []telnyxAPIError) string {
	if len(errs) == 0 {
		return "telnyx: " + status
	}
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		s := string(e.Code)
		if e.Title != "" {
			s += " " + e.Title
		}
		if e.Detail != "" && e.Detail != e.Title {
			s += ": " + e.Detail
		}
		parts = append(parts, strings.TrimSpace(s))
	}
	return "telnyx: " + status + ": " + strings.Join(parts, "; ")
}
