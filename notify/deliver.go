package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/freshtrack/freshtrack/internal/uuids"
)

// QueueNotify is the River queue that sends notifications, apart from
// storage upkeep and other work so that a backlog there never delays an alert.
const QueueNotify = "notify"

// SendMaxAttempts is how many times River runs a send job before it gives
// up (each run makes up to TelnyxConfig.MaxAttempts requests itself). With
// River's default backoff (attempt⁴ seconds) the last run comes about 1.3 h
// after the first, within the 4 h after which Telnyx drops queued messages.
const SendMaxAttempts = 8

// SendArgs is the River job that sends one notification (kind
// "notify_send", queue "notify"). The notifications row holds the channel and
// recipient; the job carries the rendered body, which the row has no columns
// for.
type SendArgs struct {
	// NotificationID is the notifications row to deliver.
	NotificationID string `json:"notification_id"`
	// Subject is the email subject; empty for SMS.
	Subject string `json:"subject,omitempty"`
	// Text is the SMS text or the email's plain-text part.
	Text string `json:"text"`
	// HTML is the email's HTML part; empty for SMS.
	HTML string `json:"html,omitempty"`
	// ListUnsubscribe is the email's one-click unsubscribe link, if any.
	ListUnsubscribe string `json:"list_unsubscribe,omitempty"`
}

var (
	_ river.JobArgsWithInsertOpts = SendArgs{}
	_ river.Worker[SendArgs]      = (*SendWorker)(nil)
)

// Kind implements river.JobArgs.
func (SendArgs) Kind() string { return "notify_send" }

// InsertOpts implements river.JobArgsWithInsertOpts: queue "notify", up to
// SendMaxAttempts runs.
func (SendArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueNotify, MaxAttempts: SendMaxAttempts}
}

// EnqueueParams describes a notification to record and send.
type EnqueueParams struct {
	// OrgID is the organisation the notification belongs to. Required.
	OrgID string
	// AlertID is the alert it is about, if any; a sent notification of an
	// alert adds a "notified" event to the alert's history.
	AlertID *string
	// ContactID is the contact it goes to, if any.
	ContactID *string
	// Channel is SMS or Email. Required.
	Channel Channel
	// Recipient is an E.164 phone number for SMS, an email address for
	// email. Required.
	Recipient string
	// Subject, Text and HTML are the rendered message (see RenderSMS and
	// RenderEmail). Text is required.
	Subject, Text, HTML string
	// ListUnsubscribe is an email's one-click unsubscribe link (see
	// Unsubscriber.URL); optional.
	ListUnsubscribe string
	// DedupeKey makes the notification happen once: a second insert with
	// the same key is a no-op. Build it from what makes the notification
	// unique, e.g. "alert:<alert id>:step:<n>:contact:<contact id>:<channel>".
	// Required.
	DedupeKey string
}

// ErrInvalid is wrapped by the errors InsertNotificationTx returns for
// parameters that cannot be stored; nothing is written then, and the caller's
// transaction stays usable.
var ErrInvalid = errors.New("invalid notification")

// validate checks p before any statement runs, so that a bad value never
// aborts the caller's transaction.
func (p EnqueueParams) validate() error {
	bad := func(field, reason string) error { return fmt.Errorf("%w: %s %s", ErrInvalid, field, reason) }
	switch {
	case !uuids.Valid(p.OrgID):
		return bad("OrgID", "is not a UUID")
	case p.AlertID != nil && !uuids.Valid(*p.AlertID):
		return bad("AlertID", "is not a UUID")
	case p.ContactID != nil && !uuids.Valid(*p.ContactID):
		return bad("ContactID", "is not a UUID")
	case !p.Channel.Valid():
		return bad("Channel", fmt.Sprintf("%q is not sms or email", p.Channel))
	case p.Channel == SMS && !ValidPhone(p.Recipient):
		return bad("Recipient", fmt.Sprintf("%q is not an E.164 phone number", p.Recipient))
	case strings.TrimSpace(p.Text) == "":
		return bad("Text", "is empty")
	case p.DedupeKey == "" || len(p.DedupeKey) > 500:
		return bad("DedupeKey", "must be 1 to 500 bytes")
	}
	if p.Channel == Email {
		if _, err := mail.ParseAddress(p.Recipient); err != nil {
			return bad("Recipient", fmt.Sprintf("%q is not an email address", p.Recipient))
		}
	}
	return nil
}

// InsertNotificationTx records a notification (status queued) and enqueues
// the River job that sends it, both in tx, so that they commit or roll back
// with the caller's work (opening an alert, an escalation step). When a
// notification with p.DedupeKey already exists, it returns that one's id
// with inserted false and enqueues nothing.
func InsertNotificationTx(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], p EnqueueParams) (id string, inserted bool, err error) {
	if err := p.validate(); err != nil {
		return "", false, err
	}
	if client == nil {
		return "", false, errors.New("insert notification: no River client")
	}
	err = tx.QueryRow(ctx, `
INSERT INTO notifications (org_id, alert_id, contact_id, channel, recipient, dedupe_key)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (dedupe_key) DO NOTHING
RETURNING id::text`, p.OrgID, p.AlertID, p.ContactID, string(p.Channel), p.Recipient, p.DedupeKey).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		err = tx.QueryRow(ctx, `SELECT id::text FROM notifications WHERE dedupe_key = $1 AND org_id = $2`,
			p.DedupeKey, p.OrgID).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return "", false, fmt.Errorf("%w: DedupeKey %q is taken by another organisation's notification", ErrInvalid, p.DedupeKey)
		}
		if err != nil {
			return "", false, fmt.Errorf("find notification by dedupe key: %w", err)
		}
		return id, false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("insert notification: %w", err)
	}
	args := SendArgs{NotificationID: id, Subject: p.Subject, Text: p.Text, HTML: p.HTML, ListUnsubscribe: p.ListUnsubscribe}
	if _, err := client.InsertTx(ctx, tx, args, nil); err != nil {
		return "", false, fmt.Errorf("enqueue notification %s: %w", id, err)
	}
	return id, true, nil
}

// SendWorker is the River worker of SendArgs: it delivers one notification
// and keeps its notifications row up to date.
//
// A run loads the row and does nothing if it is already sent, delivered or
// failed. Otherwise it marks the row "sending" (attempts + 1), calls the
// channel's Sender, and records the outcome at once:
//
//   - accepted: status "sent", provider_id, sent_at, and a "notified" event on
//     the alert, in one statement;
//   - permanent failure, or no Sender for the channel: status "failed" with
//     last_error, and the job is cancelled (river.JobCancel);
//   - retryable failure: status back to "queued" with last_error, and the
//     error goes to River, which retries with its backoff; on the last
//     attempt the row is marked "failed" instead.
//
// Delivery is at least once. If the process dies (or the database is
// unreachable) after the provider accepted a message and before the "sent"
// update commits, the row stays "sending" and the retry sends again: the
// recipient gets a duplicate, never silence. The window is kept to one
// statement: the update runs right after the provider answers, on a context
// that a cancelled job does not cancel, and is itself retried for a few
// seconds.
type SendWorker struct {
	river.WorkerDefaults[SendArgs]
	// DB holds the notifications and alert_events tables.
	DB *pgxpool.Pool
	// SMS sends the sms channel; nil means not configured: such
	// notifications are recorded as not_configured and their content is
	// logged, so nothing is dropped silently.
	SMS Sender
	// Email sends the email channel; nil means not configured.
	Email Sender
	// SMSLimits caps SMS per number and per organisation; zero fields take
	// their defaults (see SMSLimits).
	SMSLimits SMSLimits
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// sendJobTimeout bounds one run: a Telnyx Send makes up to 4 requests of 10s
// plus its backoff.
const sendJobTimeout = 2 * time.Minute

// recordTimeout bounds recording an outcome after the provider answered.
const recordTimeout = 15 * time.Second

// maxLastError bounds the stored last_error.
const maxLastError = 1000

// Timeout implements river.Worker: a send may take up to 2 minutes.
func (w *SendWorker) Timeout(*river.Job[SendArgs]) time.Duration { return sendJobTimeout }

// Work implements river.Worker.
func (w *SendWorker) Work(ctx context.Context, job *river.Job[SendArgs]) error {
	id := job.Args.NotificationID
	log := w.logger().With("notification_id", id, "job_id", job.ID, "attempt", job.Attempt)
	if !uuids.Valid(id) {
		return river.JobCancel(fmt.Errorf("notify_send job %d: notification id %q is not a UUID", job.ID, id))
	}

	var n struct {
		orgID, channel, recipient, status string
	}
	err := w.DB.QueryRow(ctx, `SELECT org_id::text, channel, recipient, status FROM notifications WHERE id = $1`, id).
		Scan(&n.orgID, &n.channel, &n.recipient, &n.status)
	if errors.Is(err, pgx.ErrNoRows) {
		// Deleted with its alert or organisation: nothing to send.
		log.Warn("notification to send no longer exists")
		return river.JobCancel(fmt.Errorf("notification %s: %w", id, ErrNotFound))
	}
	if err != nil {
		return fmt.Errorf("load notification %s: %w", id, err)
	}
	switch n.status {
	case "sent", "delivered", "failed", "not_configured", "cancelled", "suppressed":
		log.Debug("notification already done", "status", n.status)
		return nil
	case "sending":
		log.Warn("previous attempt was interrupted after it started sending; sending again, so the recipient may get this notification twice")
	}
	log = log.With("channel", n.channel)

	var sender Sender
	switch Channel(n.channel) {
	case SMS:
		sender = w.SMS
	case Email:
		sender = w.Email
	}
	if sender == nil {
		reason := n.channel + " not configured"
		_, err := w.DB.Exec(ctx, `
UPDATE notifications SET status = 'not_configured', last_error = $2, updated_at = now()
WHERE id = $1 AND status IN ('queued', 'sending')`, id, reason)
		if err != nil {
			return fmt.Errorf("mark notification %s not configured: %w", id, err)
		}
		// The message goes to the log instead, whole, so a person can still
		// see it (make run relies on this).
		log.Warn("notification not sent: channel not configured; its content follows",
			"recipient", n.recipient, "subject", job.Args.Subject, "text", job.Args.Text)
		return nil
	}

	if Channel(n.channel) == SMS {
		claimed, reason, err := claimSMS(ctx, w.DB, w.SMSLimits, id, n.orgID, n.recipient)
		if err != nil {
			return err
		}
		if reason != "" {
			log.Warn("sms not sent: over its rate limit", "recipient", n.recipient, "reason", reason)
			return nil
		}
		if !claimed {
			return nil // finished meanwhile by another run
		}
	} else {
		tag, err := w.DB.Exec(ctx, `
UPDATE notifications SET status = 'sending', attempts = attempts + 1, updated_at = now()
WHERE id = $1 AND status IN ('queued', 'sending')`, id)
		if err != nil {
			return fmt.Errorf("mark notification %s sending: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return nil // finished meanwhile by another run
		}
	}

	rcpt, sendErr := sender.Send(ctx, Message{
		Channel: Channel(n.channel),
		To:      n.recipient,
		Subject: job.Args.Subject,
		Text:    job.Args.Text,
		HTML:    job.Args.HTML,

		ListUnsubscribe: job.Args.ListUnsubscribe,
	})

	// Record the outcome even when the job's context has ended meanwhile:
	// after an accept, this update is what prevents a second send.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	switch {
	case sendErr == nil:
		if err := w.markSent(rctx, id, rcpt.ProviderID); err != nil {
			log.Error("notification sent but not recorded; a retry will send it again", "provider_id", rcpt.ProviderID, "error", err)
			return err
		}
		if rcpt.ProviderID == "" {
			log.Warn("provider accepted the notification without a readable id; delivery receipts cannot be matched")
		}
		log.Info("notification sent", "provider_id", rcpt.ProviderID)
		return nil
	case IsPermanent(sendErr):
		if err := w.fail(rctx, id, sendErr.Error()); err != nil {
			return err
		}
		log.Error("notification failed permanently", "error", sendErr)
		return river.JobCancel(sendErr)
	case job.Attempt >= job.MaxAttempts:
		reason := fmt.Sprintf("gave up after %d attempts: %v", job.Attempt, sendErr)
		if err := w.fail(rctx, id, reason); err != nil {
			return err
		}
		log.Error("notification failed: no attempts left", "error", sendErr)
		return sendErr
	default:
		if _, err := w.DB.Exec(rctx, `
UPDATE notifications SET status = 'queued', last_error = $2, updated_at = now()
WHERE id = $1 AND status = 'sending'`, id, limitText(sendErr.Error())); err != nil {
			return errors.Join(sendErr, fmt.Errorf("record notification %s error: %w", id, err))
		}
		log.Warn("notification not sent; River retries it", "error", sendErr)
		return sendErr
	}
}

// markSentSQL records an accepted notification and, for an alert's, appends
// the "notified" event, in one statement.
const markSentSQL = `
WITH n AS (
    UPDATE notifications
       SET status = 'sent', provider_id = nullif($2, ''), sent_at = coalesce(sent_at, now()), updated_at = now()
     WHERE id = $1 AND status IN ('queued', 'sending')
    RETURNING id, org_id, alert_id, channel, recipient, provider_id, attempts
), e AS (
    INSERT INTO alert_events (org_id, alert_id, kind, details)
    SELECT org_id, alert_id, 'notified', jsonb_build_object(
               'notification_id', id, 'channel', channel, 'recipient', recipient,
               'status', 'sent', 'provider_id', provider_id, 'attempts', attempts)
      FROM n WHERE alert_id IS NOT NULL
)
SELECT count(*) FROM n`

// markSent records an accepted notification, retrying briefly while the
// database is unreachable.
func (w *SendWorker) markSent(ctx context.Context, id, providerID string) error {
	var err error
	for wait := 100 * time.Millisecond; ; wait *= 2 {
		var n int
		if err = w.DB.QueryRow(ctx, markSentSQL, id, providerID).Scan(&n); err == nil {
			return nil
		}
		if sleepCtx(ctx, wait) != nil {
			return fmt.Errorf("mark notification %s sent (provider id %q): %w", id, providerID, err)
		}
	}
}

// fail marks a notification failed for good.
func (w *SendWorker) fail(ctx context.Context, id, reason string) error {
	_, err := w.DB.Exec(ctx, `
UPDATE notifications SET status = 'failed', last_error = $2, updated_at = now()
WHERE id = $1 AND status IN ('queued', 'sending')`, id, limitText(reason))
	if err != nil {
		return fmt.Errorf("mark notification %s failed: %w", id, err)
	}
	return nil
}

func (w *SendWorker) logger() *slog.Logger {
	if w.Logger != nil {
		return w.Logger
	}
	return slog.Default()
}

// limitText cuts s to maxLastError bytes on a rune boundary.
func limitText(s string) string {
	if len(s) <= maxLastError {
		return s
	}
	s = s[:maxLastError]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
