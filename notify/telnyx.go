package notify

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// TelnyxConfig configures the Telnyx SMS sender.
type TelnyxConfig struct {
	// APIKey is the Telnyx API v2 key, sent as a bearer token. It is never
	// logged nor included in errors. Required.
	APIKey string
	// From is the sending number (or alphanumeric sender where allowed) in
	// E.164 form, e.g. "+15550001111". Required.
	From string
	// BaseURL is the API's origin; tests point it at a local server.
	// Defaults to "https://api.telnyx.com".
	BaseURL string
	// MessagingProfileID selects the messaging profile when From belongs to
	// more than one. Defaults to none (Telnyx uses the number's profile).
	MessagingProfileID string
	// WebhookURL receives the delivery-status webhooks of every message sent.
	// Defaults to none (the messaging profile's webhook URL applies).
	WebhookURL string
	// RatePerSecond caps the API requests of this sender, retries included:
	// one request every 1/RatePerSecond, no bursts. Telnyx limits an account
	// (about 50/s) and long codes far lower, so create one Telnyx per process
	// and share it between all workers. Defaults to 10.
	RatePerSecond float64
	// Timeout bounds each HTTP attempt. Defaults to 10s.
	Timeout time.Duration
	// MaxAttempts is how many requests one Send makes before it gives up on
	// a retryable failure (429, 5xx, timeouts, connection errors), waiting
	// between them with exponential backoff and jitter from 500ms, or as long
	// as a 429's Retry-After says. Defaults to 4.
	MaxAttempts int
	// HTTPClient makes the requests. Defaults to a client of its own;
	// Timeout applies per attempt either way.
	HTTPClient *http.Client
	// Shared, when set, spaces the requests of every process on the
	// account (RedisRate) instead of this process's own limiter, which
	// stands in while Shared cannot answer.
	Shared RateReserver
}

// Telnyx defaults.
const (
	// DefaultTelnyxBaseURL is the Telnyx API origin.
	DefaultTelnyxBaseURL = "https://api.telnyx.com"
	// DefaultTelnyxRate is the default RatePerSecond.
	DefaultTelnyxRate = 10
	// DefaultTelnyxTimeout is the default per-attempt Timeout.
	DefaultTelnyxTimeout = 10 * time.Second
	// DefaultTelnyxAttempts is the default MaxAttempts.
	DefaultTelnyxAttempts = 4
)

// Retry timing inside one Send.
const (
	backoffBase = 500 * time.Millisecond
	backoffMax  = 8 * time.Second
	// maxInlineWait is the longest Retry-After that Send waits out itself;
	// beyond it Send returns the (retryable) error and the job queue retries
	// later, rather than holding a worker.
	maxInlineWait = 30 * time.Second
	// maxResponse bounds how much of a response body is read.
	maxResponse = 1 << 20
)

// WithDefaults returns c with zero values replaced by their defaults.
func (c TelnyxConfig) WithDefaults() TelnyxConfig {
	c.BaseURL = cmp.Or(c.BaseURL, DefaultTelnyxBaseURL)
	c.RatePerSecond = cmp.Or(c.RatePerSecond, DefaultTelnyxRate)
	c.Timeout = cmp.Or(c.Timeout, DefaultTelnyxTimeout)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, DefaultTelnyxAttempts)
	return c
}

// Validate returns an error naming the first field that is missing or out of
// range. It does not fill defaults; call WithDefaults first.
func (c TelnyxConfig) Validate() error {
	switch {
	case strings.TrimSpace(c.APIKey) == "":
		return errors.New("telnyx config: APIKey is empty; set it to a Telnyx API v2 key")
	case !ValidPhone(c.From):
		return fmt.Errorf("telnyx config: From %q is not an E.164 phone number (+ then 2 to 15 digits, e.g. +15550001111)", c.From)
	case !validHTTPURL(c.BaseURL):
		return fmt.Errorf("telnyx config: BaseURL %q is not an absolute http(s) URL", c.BaseURL)
	case c.WebhookURL != "" && !validHTTPURL(c.WebhookURL):
		return fmt.Errorf("telnyx config: WebhookURL %q is not an absolute http(s) URL", c.WebhookURL)
	case !(c.RatePerSecond > 0):
		return fmt.Errorf("telnyx config: RatePerSecond %v must be above 0", c.RatePerSecond)
	case c.Timeout <= 0:
		return fmt.Errorf("telnyx config: Timeout %s must be above 0", c.Timeout)
	case c.MaxAttempts < 1 || c.MaxAttempts > 20:
		return fmt.Errorf("telnyx config: MaxAttempts %d must be between 1 and 20", c.MaxAttempts)
	}
	return nil
}

// LogValue implements slog.LogValuer; it leaves out the API key.
func (c TelnyxConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.String("from", c.From),
		slog.String("messaging_profile_id", c.MessagingProfileID),
		slog.String("webhook_url", c.WebhookURL),
		slog.Float64("rate_per_second", c.RatePerSecond),
		slog.Duration("timeout", c.Timeout),
		slog.Int("max_attempts", c.MaxAttempts),
		slog.Bool("api_key_set", c.APIKey != ""),
	)
}

func validHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// Telnyx sends SMS through the Telnyx Messaging API v2. It is safe for
// concurrent use; its rate limit is shared by all its callers.
type Telnyx struct {
	cfg      TelnyxConfig
	endpoint string
	client   *http.Client
	limiter  *rate.Limiter

	// Seams for tests: the clock the limiter reads, how a wait is done, and
	// the jitter added to a backoff.
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func(d time.Duration) time.Duration
}

var _ Sender = (*Telnyx)(nil)

// NewTelnyx returns a Telnyx sender for cfg, with defaults filled in. It
// returns an error naming the field when cfg is invalid.
func NewTelnyx(cfg TelnyxConfig) (*Telnyx, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	return &Telnyx{
		cfg:      cfg,
		endpoint: strings.TrimSuffix(cfg.BaseURL, "/") + "/v2/messages",
		client:   client,
		limiter:  rate.NewLimiter(rate.Limit(cfg.RatePerSecond), 1),
		now:      time.Now,
		sleep:    sleepCtx,
		jitter: func(d time.Duration) time.Duration {
			if d <= 0 {
				return 0
			}
			return rand.N(d)
		},
	}, nil
}

// TelnyxError is a failure that Telnyx reported: an API error answer, or a
// message that an accepted answer already lists as failed. It wraps
// [ErrPermanent] when retrying cannot help.
type TelnyxError struct {
	// StatusCode is the HTTP status; 200 to 299 when an accepted answer
	// reported the message as failed.
	StatusCode int
	// Code is the first Telnyx error code, e.g. "10016" or "40001"; empty
	// when the answer had none.
	Code string
	// Title and Detail are Telnyx's description of the first error.
	Title, Detail string
	// RetryAfter is the wait a 429 or 503 asked for in Retry-After; zero
	// when absent.
	RetryAfter time.Duration

	codes []string // every error code of the answer
}

// Error implements error.
func (e *TelnyxError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "telnyx: HTTP %d", e.StatusCode)
	if e.Code != "" {
		fmt.Fprintf(&b, ", code %s", e.Code)
	}
	if e.Title != "" {
		b.WriteString(": ")
		b.WriteString(e.Title)
	}
	if e.Detail != "" && e.Detail != e.Title {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Is reports whether e matches target: e is [ErrPermanent] when Permanent.
func (e *TelnyxError) Is(target error) bool { return target == ErrPermanent && e.Permanent() }

// Permanent reports whether retrying cannot help: an error code that says so
// (10016 invalid number, 40001 not routable, 40003 blocked, 40004 rejected),
// or else a 4xx status other than 408 and 429 without a code known to be
// temporary. 429, 408, 5xx and temporary codes (10011, 40002, 40006, 40011,
// 40318) are retryable.
func (e *TelnyxError) Permanent() bool {
	codes := e.codes
	if len(codes) == 0 && e.Code != "" {
		codes = []string{e.Code}
	}
	for _, c := range codes {
		if telnyxPermanentCodes[c] {
			return true
		}
	}
	for _, c := range codes {
		if telnyxRetryableCodes[c] {
			return false
		}
	}
	switch s := e.StatusCode; {
	case s >= 200 && s < 300:
		return true // accepted, then failed for a reason not known to pass
	case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests:
		return false
	case s >= 400 && s < 500:
		return true
	}
	return false
}

var telnyxPermanentCodes = map[string]bool{
	"10016": true, // phone number not in +E.164 format
	"40001": true, // not routable (landline, non-routable number)
	"40003": true, // blocked as spam, permanent
	"40004": true, // rejected by the destination
}

var telnyxRetryableCodes = map[string]bool{
	"10011": true, // too many requests
	"40002": true, // blocked as spam, temporary
	"40006": true, // recipient unavailable
	"40011": true, // rate limit
	"40318": true, // message queue full
}

// telnyxSendRequest is the body of POST /v2/messages.
type telnyxSendRequest struct {
	From               string `json:"from"`
	To                 string `json:"to"`
	Text               string `json:"text"`
	MessagingProfileID string `json:"messaging_profile_id,omitempty"`
	WebhookURL         string `json:"webhook_url,omitempty"`
}

// telnyxCode is an error code, which Telnyx writes as a string ("10016") but
// which is accepted as a number too.
type telnyxCode string

// UnmarshalJSON accepts a JSON string or number.
func (c *telnyxCode) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*c = telnyxCode(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*c = telnyxCode(n.String())
	return nil
}

type telnyxAPIError struct {
	Code   telnyxCode `json:"code"`
	Title  string     `json:"title"`
	Detail string     `json:"detail"`
}

type telnyxRecipient struct {
	PhoneNumber string `json:"phone_number"`
	Status      string `json:"status"`
}

// telnyxMessage is the message record of a send answer and of a webhook
// payload.
type telnyxMessage struct {
	ID     string            `json:"id"`
	To     []telnyxRecipient `json:"to"`
	Errors []telnyxAPIError  `json:"errors"`
}

type telnyxSendResponse struct {
	Data   *telnyxMessage   `json:"data"`
	Errors []telnyxAPIError `json:"errors"`
}

// Send posts m to Telnyx and returns the Telnyx message id. It waits for the
// rate limiter before every request and retries retryable failures up to
// MaxAttempts requests in all. A failure that Telnyx reported is a
// *TelnyxError; see [TelnyxError.Permanent] for which are permanent.
//
// A request that timed out may still have been accepted; its retry can then
// deliver the SMS twice. That is deliberate: for an alert, a duplicate is
// better than silence.
func (t *Telnyx) Send(ctx context.Context, m Message) (Receipt, error) {
	if m.Channel != "" && m.Channel != SMS {
		return Receipt{}, permanentf("telnyx sends sms, not %s", m.Channel)
	}
	if !ValidPhone(m.To) {
		return Receipt{}, permanentf("sms recipient %q is not an E.164 phone number", m.To)
	}
	if strings.TrimSpace(m.Text) == "" {
		return Receipt{}, permanentf("sms text is empty")
	}
	body, err := json.Marshal(telnyxSendRequest{
		From:               t.cfg.From,
		To:                 m.To,
		Text:               m.Text,
		MessagingProfileID: t.cfg.MessagingProfileID,
		WebhookURL:         t.cfg.WebhookURL,
	})
	if err != nil {
		return Receipt{}, fmt.Errorf("telnyx: encode request: %w", err)
	}
	for attempt := 1; ; attempt++ {
		if err := t.wait(ctx); err != nil {
			return Receipt{}, fmt.Errorf("telnyx: wait for rate limit: %w", err)
		}
		rcpt, err := t.post(ctx, body)
		if err == nil {
			return rcpt, nil
		}
		if IsPermanent(err) || attempt >= t.cfg.MaxAttempts || ctx.Err() != nil {
			return Receipt{}, fmt.Errorf("send sms (attempt %d of %d): %w", attempt, t.cfg.MaxAttempts, err)
		}
		delay := t.backoff(attempt)
		var te *TelnyxError
		if errors.As(err, &te) && te.RetryAfter > 0 {
			if te.RetryAfter > maxInlineWait {
				return Receipt{}, fmt.Errorf("send sms (attempt %d of %d, retry after %s): %w", attempt, t.cfg.MaxAttempts, te.RetryAfter, err)
			}
			delay = te.RetryAfter
		}
		if werr := t.sleep(ctx, delay); werr != nil {
			return Receipt{}, fmt.Errorf("send sms (attempt %d of %d, no time left to retry: %v): %w", attempt, t.cfg.MaxAttempts, werr, err)
		}
	}
}

// wait takes a token from the rate limiter, waiting for it if needed: the
// account's shared one when there is one and it answers, else this
// process's.
func (t *Telnyx) wait(ctx context.Context) error {
	if t.cfg.Shared != nil {
		d, err := t.cfg.Shared.Reserve(ctx)
		if err == nil {
			if d > 0 {
				return t.sleep(ctx, d)
			}
			return nil
		}
		mSharedRateDown.Inc()
	}
	now := t.now()
	r := t.limiter.ReserveN(now, 1)
	if !r.OK() {
		return errors.New("rate limiter refused the request")
	}
	if d := r.DelayFrom(now); d > 0 {
		if err := t.sleep(ctx, d); err != nil {
			r.CancelAt(t.now())
			return err
		}
	}
	return nil
}

// backoff is the wait after a failed attempt: 500ms doubling per attempt up
// to 8s, plus up to half of it again as jitter.
func (t *Telnyx) backoff(attempt int) time.Duration {
	d := backoffBase << min(attempt-1, 10)
	d = min(d, backoffMax)
	return d + t.jitter(d/2)
}

// post makes one request.
func (t *Telnyx) post(ctx context.Context, body []byte) (Receipt, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.endpoint, bytes.NewReader(body))
	if err != nil {
		return Receipt{}, fmt.Errorf("telnyx: build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+t.cfg.APIKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "freshtrack")
	resp, err := t.client.Do(req)
	if err != nil {
		// *url.Error names the method and URL only, never the headers.
		return Receipt{}, fmt.Errorf("telnyx: %w", err)
	}
	defer resp.Body.Close()
	raw, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponse))

	var parsed telnyxSendResponse
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// Telnyx has accepted the message: whatever goes wrong from here,
		// sending it again would duplicate it. An unreadable answer yields
		// an empty ProviderID (the delivery webhooks then cannot be matched).
		if readErr != nil || json.Unmarshal(raw, &parsed) != nil || parsed.Data == nil {
			return Receipt{}, nil
		}
		for _, r := range parsed.Data.To {
			if r.Status == "sending_failed" || r.Status == "delivery_failed" {
				return Receipt{}, newTelnyxError(resp, parsed.Data.Errors)
			}
		}
		return Receipt{ProviderID: parsed.Data.ID}, nil
	}
	if readErr == nil {
		_ = json.Unmarshal(raw, &parsed) // a non-JSON error page still has its status
	}
	return Receipt{}, newTelnyxError(resp, parsed.Errors)
}

func newTelnyxError(resp *http.Response, errs []telnyxAPIError) *TelnyxError {
	e := &TelnyxError{StatusCode: resp.StatusCode}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	for i, ae := range errs {
		if i == 0 {
			e.Code, e.Title, e.Detail = string(ae.Code), ae.Title, ae.Detail
		}
		if ae.Code != "" {
			e.codes = append(e.codes, string(ae.Code))
		}
	}
	if e.Title == "" && e.Code == "" {
		e.Title = http.StatusText(resp.StatusCode)
	}
	return e
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
// It returns zero when the header is absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, 24*3600)) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil {
		if d := at.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// errNoTime is returned by sleepCtx when ctx's deadline comes before the end
// of the wait: waiting would only end in a timeout.
var errNoTime = errors.New("deadline before the end of the wait")

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		return errNoTime
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
