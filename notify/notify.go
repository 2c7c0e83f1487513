package notify

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/freshtrack/freshtrack/internal/errs"
)

// Channel is the medium a notification is delivered over. Its values are the
// ones the notifications.channel column allows.
type Channel string

// Channels.
const (
	// SMS is a text message sent through Telnyx to an E.164 phone number.
	SMS Channel = "sms"
	// Email is a message sent over SMTP to an email address.
	Email Channel = "email"
)

// Valid reports whether c is one of the known channels.
func (c Channel) Valid() bool { return c == SMS || c == Email }

// Message is one notification to one recipient.
type Message struct {
	// Channel selects the medium; a Sender handles one channel.
	Channel Channel
	// To is an E.164 phone number ("+15550002222") for SMS, or an email
	// address for email.
	To string
	// Subject is the email subject; SMS ignores it.
	Subject string
	// Text is the plain-text body: the whole SMS, or the text/plain part of
	// an email.
	Text string
	// HTML is the text/html part of an email; SMS ignores it. Empty means a
	// plain-text email.
	HTML string
	// ListUnsubscribe is the one-click unsubscribe link of an email (see
	// Unsubscriber.URL); the email then carries List-Unsubscribe and
	// List-Unsubscribe-Post (RFC 8058) and shows the link in its body.
	// Empty for SMS and for email to people without an account.
	ListUnsubscribe string
}

// Receipt is what a provider answers when it accepts a message.
type Receipt struct {
	// ProviderID identifies the message at the provider: the Telnyx message
	// id (which delivery webhooks carry), or the email's Message-ID (without
	// angle brackets).
	ProviderID string
}

// Sender delivers a message over one channel.
//
// Send returns an error wrapping [ErrPermanent] for failures that must not be
// retried (an invalid or unroutable number, a blocked or rejected message, a
// 4xx answer other than 408 and 429, a bad or unknown address). Any other error
// (429, 5xx, timeouts, connection errors) is retryable. Senders are safe for
// concurrent use.
type Sender interface {
	Send(ctx context.Context, m Message) (Receipt, error)
}

// ErrPermanent marks a delivery failure that retrying cannot fix. Test for it
// with [IsPermanent] or errors.Is.
var ErrPermanent = errors.New("permanent delivery failure")

// ErrNotFound is returned when a notification does not exist.
var ErrNotFound = errs.ErrNotFound

// IsPermanent reports whether err is a delivery failure that must not be
// retried. A nil error is not permanent.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// permanentf returns an error that wraps ErrPermanent with a message.
func permanentf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrPermanent, fmt.Sprintf(format, args...))
}

// e164 is the phone number form Telnyx accepts and the schema's CHECK
// constraints enforce.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

// ValidPhone reports whether s is an E.164 phone number ("+15550002222").
func ValidPhone(s string) bool { return e164.MatchString(s) }
