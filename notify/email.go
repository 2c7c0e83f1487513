package notify

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	htmlstd "html"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTP TLS modes.
const (
	// TLSStartTLS connects in plain text and requires STARTTLS before
	// anything else is sent (submission, port 587).
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (submissions, port 465).
	TLSImplicit = "tls"
	// TLSNone never encrypts; for a relay on localhost or a test server.
	TLSNone = "none"
)

// SMTPConfig configures the email sender.
type SMTPConfig struct {
	// Host is the SMTP server's host name. Required.
	Host string
	// Port is the SMTP server's port. Defaults to 587 (465 when TLS is "tls").
	Port int
	// Username and Password authenticate with SMTP AUTH (the strongest
	// mechanism the server offers; PLAIN and LOGIN only over TLS). Empty
	// Username means no authentication. Password is never logged.
	Username, Password string
	// From is the sender address, optionally with a name
	// ("FreshTrack <alerts@example.com>"). Required.
	From string
	// TLS is "starttls", "tls" or "none". Defaults to "starttls".
	TLS string
	// Timeout bounds connecting and each SMTP command. Defaults to 15s.
	Timeout time.Duration
}

// DefaultSMTPTimeout is the default SMTPConfig.Timeout.
const DefaultSMTPTimeout = 15 * time.Second

// WithDefaults returns c with zero values replaced by their defaults.
func (c SMTPConfig) WithDefaults() SMTPConfig {
	c.TLS = cmp.Or(strings.ToLower(c.TLS), TLSStartTLS)
	if c.Port == 0 {
		c.Port = 587
		if c.TLS == TLSImplicit {
			c.Port = 465
		}
	}
	c.Timeout = cmp.Or(c.Timeout, DefaultSMTPTimeout)
	return c
}

// Validate returns an error naming the first field that is missing or out of
// range. It does not fill defaults; call WithDefaults first.
func (c SMTPConfig) Validate() error {
	switch {
	case strings.TrimSpace(c.Host) == "":
		return errors.New("smtp config: Host is empty; set it to the SMTP server's host name")
	case c.Port < 1 || c.Port > 65535:
		return fmt.Errorf("smtp config: Port %d must be between 1 and 65535", c.Port)
	case c.TLS != TLSStartTLS && c.TLS != TLSImplicit && c.TLS != TLSNone:
		return fmt.Errorf("smtp config: TLS %q must be one of starttls, tls, none", c.TLS)
	case c.Timeout <= 0:
		return fmt.Errorf("smtp config: Timeout %s must be above 0", c.Timeout)
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return fmt.Errorf("smtp config: From %q is not an email address: %w", c.From, err)
	}
	return nil
}

// LogValue implements slog.LogValuer; it leaves out the password.
func (c SMTPConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("host", c.Host),
		slog.Int("port", c.Port),
		slog.String("username", c.Username),
		slog.String("from", c.From),
		slog.String("tls", c.TLS),
		slog.Duration("timeout", c.Timeout),
		slog.Bool("password_set", c.Password != ""),
	)
}

// SMTP sends email through an SMTP server, one connection per message. It is
// safe for concurrent use.
type SMTP struct {
	cfg    SMTPConfig
	from   *mail.Address
	domain string // of From, for Message-IDs
	opts   []gomail.Option
}

var _ Sender = (*SMTP)(nil)

// NewSMTP returns an email sender for cfg, with defaults filled in. It
// returns an error naming the field when cfg is invalid.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	from, _ := mail.ParseAddress(cfg.From) // validated
	domain := "freshtrack.invalid"
	if i := strings.LastIndexByte(from.Address, '@'); i >= 0 && i < len(from.Address)-1 {
		domain = from.Address[i+1:]
	}
	opts := []gomail.Option{
		gomail.WithPort(cfg.Port),
		gomail.WithTimeout(cfg.Timeout),
	}
	switch cfg.TLS {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if cfg.Username != "" {
		opts = append(opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.Username),
			gomail.WithPassword(cfg.Password))
	}
	// Fail on a bad option now rather than on the first alert.
	if _, err := gomail.NewClient(cfg.Host, opts...); err != nil {
		return nil, fmt.Errorf("smtp config: %w", err)
	}
	return &SMTP{cfg: cfg, from: from, domain: domain, opts: opts}, nil
}

// Send delivers m as a multipart/alternative email (plain text and, when
// m.HTML is set, HTML) and returns its Message-ID. A 5xx reply (550 no such
// user, 554 rejected) and an unparseable address are permanent; 4xx replies
// and connection, TLS and authentication failures are retryable.
//
// Once the server has accepted the message (250 after DATA), Send reports
// success even if closing the connection fails, so that a retry does not
// send the email twice.
func (s *SMTP) Send(ctx context.Context, m Message) (Receipt, error) {
	if m.Channel != "" && m.Channel != Email {
		return Receipt{}, permanentf("smtp sends email, not %s", m.Channel)
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil {
		return Receipt{}, permanentf("email recipient %q is not an address: %v", m.To, err)
	}
	msg := gomail.NewMsg()
	msg.FromMailAddress(s.from)
	msg.ToMailAddress(to)
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageIDWithValue(s.newMessageID())
	text, html := m.Text, m.HTML
	if m.ListUnsubscribe != "" {
		if !validHTTPURL(m.ListUnsubscribe) {
			return Receipt{}, permanentf("email unsubscribe link %q is not an absolute http(s) URL", m.ListUnsubscribe)
		}
		// RFC 8058: a mail client offers one-click unsubscribe by POSTing
		// List-Unsubscribe=One-Click to the link; the header is
		// preformatted so that the URL is never encoded or folded apart.
		msg.SetGenHeaderPreformatted("List-Unsubscribe", "<"+m.ListUnsubscribe+">")
		msg.SetGenHeaderPreformatted("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
		text, html = withUnsubscribeLink(text, html, m.ListUnsubscribe)
	}
	msg.SetBodyString(gomail.TypeTextPlain, text)
	if html != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, html)
	}
	id := strings.Trim(msg.GetMessageID(), "<>")

	client, err := gomail.NewClient(s.cfg.Host, s.opts...)
	if err != nil {
		return Receipt{}, fmt.Errorf("smtp client: %w", err)
	}
	conn, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		// Connection, TLS and AUTH failures: retryable (a wrong password
		// is fixed by the operator, and the queue retries meanwhile).
		return Receipt{}, fmt.Errorf("smtp connect to %s:%d: %w", s.cfg.Host, s.cfg.Port, err)
	}
	sendErr := client.SendWithSMTPClient(conn, msg)
	_ = client.CloseWithSMTPClient(conn) // the outcome is known; QUIT is a courtesy
	if sendErr != nil {
		return Receipt{}, classifySMTP(fmt.Errorf("smtp send to %s: %w", to.Address, sendErr))
	}
	return Receipt{ProviderID: id}, nil
}

// SMTPError is an SMTP reply that refused a message. It wraps [ErrPermanent]
// for 5xx replies.
type SMTPError struct {
	// Code is the SMTP reply code, e.g. 550 or 451.
	Code int
	// EnhancedCode is the RFC 3463 status ("5.1.1") when the server sends one.
	EnhancedCode string
	err          error
}

// Error implements error.
func (e *SMTPError) Error() string { return e.err.Error() }

// Unwrap returns the underlying error.
func (e *SMTPError) Unwrap() error { return e.err }

// Is reports whether e matches target: e is [ErrPermanent] for 5xx replies.
func (e *SMTPError) Is(target error) bool { return target == ErrPermanent && e.Code >= 500 }

// classifySMTP wraps a go-mail send error in an *SMTPError carrying the
// server's reply code, so that callers classify by code.
func classifySMTP(err error) error {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return err
	}
	code := se.ErrorCode()
	if code == 0 {
		return err // not a server reply: connection trouble, retryable
	}
	return &SMTPError{Code: code, EnhancedCode: se.EnhancedStatusCode(), err: err}
}

// newMessageID returns a unique Message-ID local part and domain.
func (s *SMTP) newMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "ft." + hex.EncodeToString(b[:]) + "@" + s.domain
}

// withUnsubscribeLink adds the unsubscribe link to both parts of an email,
// so a person whose mail client hides List-Unsubscribe can still leave.
func withUnsubscribeLink(text, html, link string) (string, string) {
	text = strings.TrimRight(text, "\n") + "\n\nUnsubscribe from these emails: " + link + "\n"
	if html != "" {
		p := `<p style="font-size:12px;color:#666"><a href="` + htmlstd.EscapeString(link) + `">Unsubscribe from these emails</a></p>`
		if i := strings.LastIndex(strings.ToLower(html), "</body>"); i >= 0 {
			html = html[:i] + p + html[i:]
		} else {
			html += p
		}
	}
	return text, html
}
