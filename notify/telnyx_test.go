package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

var smsMessage = Message{Channel: SMS, To: "+15550002222", Text: "FreshTrack CRITICAL: Walk-in at 9.4°C"}

func TestNewTelnyxValidates(t *testing.T) {
	t.Parallel()
	f := func(modify func(*TelnyxConfig), field string) {
		t.Helper()
		cfg := TelnyxConfig{APIKey: testAPIKey, From: "+15550001111"}
		modify(&cfg)
		_, err := NewTelnyx(cfg)
		if field == "" {
			if err != nil {
				t.Fatalf("NewTelnyx: %v", err)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Fatalf("NewTelnyx error %v, want one naming %s", err, field)
		}
		if strings.Contains(err.Error(), testAPIKey) {
			t.Fatalf("error %q shows the API key", err)
		}
	}
	f(func(*TelnyxConfig) {}, "")
	f(func(c *TelnyxConfig) { c.APIKey = "" }, "APIKey")
	f(func(c *TelnyxConfig) { c.APIKey = "  " }, "APIKey")
	f(func(c *TelnyxConfig) { c.From = "" }, "From")
	f(func(c *TelnyxConfig) { c.From = "15550001111" }, "From")
	f(func(c *TelnyxConfig) { c.From = "+0555" }, "From")
	f(func(c *TelnyxConfig) { c.BaseURL = "api.telnyx.com" }, "BaseURL")
	f(func(c *TelnyxConfig) { c.WebhookURL = "/hooks" }, "WebhookURL")
	f(func(c *TelnyxConfig) { c.RatePerSecond = -1 }, "RatePerSecond")
	f(func(c *TelnyxConfig) { c.Timeout = -time.Second }, "Timeout")
	f(func(c *TelnyxConfig) { c.MaxAttempts = -1 }, "MaxAttempts")

	cfg := TelnyxConfig{APIKey: testAPIKey, From: "+15550001111"}.WithDefaults()
	if cfg.BaseURL != "https://api.telnyx.com" || cfg.RatePerSecond != 10 || cfg.Timeout != 10*time.Second || cfg.MaxAttempts != 4 {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestTelnyxConfigLogValueHidesKey(t *testing.T) {
	t.Parallel()
	v := TelnyxConfig{APIKey: testAPIKey, From: "+15550001111"}.LogValue().String()
	if strings.Contains(v, testAPIKey) {
		t.Fatalf("LogValue %q shows the API key", v)
	}
}

func TestTelnyxSend(t *testing.T) {
	t.Parallel()
	f := newFakeTelnyx(t)
	tel, rec := newTestTelnyx(t, f, func(c *TelnyxConfig) {
		c.MessagingProfileID = "abc85f64-5717-4562-b3fc-2c9600000000"
		c.WebhookURL = "https://freshtrack.example/v1/webhooks/telnyx"
	})
	rcpt, err := tel.Send(context.Background(), smsMessage)
	if err != nil {
		t.Fatal(err)
	}
	if want := f.Accepted(); len(want) != 1 || rcpt.ProviderID != want[0] {
		t.Fatalf("ProviderID %q, accepted %v", rcpt.ProviderID, want)
	}
	reqs := f.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/v2/messages" {
		t.Fatalf("%s %s, want POST /v2/messages", r.Method, r.Path)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testAPIKey {
		t.Fatalf("Authorization %q", got)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Fatalf("Content-Type %q", got)
	}
	want := map[string]any{
		"from":                 "+15550001111",
		"to":                   "+15550002222",
		"text":                 smsMessage.Text,
		"messaging_profile_id": "abc85f64-5717-4562-b3fc-2c9600000000",
		"webhook_url":          "https://freshtrack.example/v1/webhooks/telnyx",
	}
	if fmt.Sprint(r.Body) != fmt.Sprint(want) {
		t.Fatalf("body %v, want %v", r.Body, want)
	}
	if len(rec.Sleeps()) != 0 {
		t.Fatalf("waited %v for a first request", rec.Sleeps())
	}
}

func TestTelnyxSendOmitsOptionalFields(t *testing.T) {
	t.Parallel()
	f := newFakeTelnyx(t)
	tel, _ := newTestTelnyx(t, f, nil)
	if _, err := tel.Send(context.Background(), smsMessage); err != nil {
		t.Fatal(err)
	}
	body := f.Requests()[0].Body
	for _, k := range []string{"messaging_profile_id", "webhook_url"} {
		if _, ok := body[k]; ok {
			t.Fatalf("body has %s: %v", k, body)
		}
	}
}

func TestTelnyxRetriesTooManyRequests(t *testing.T) {
	t.Parallel()
	f := newFakeTelnyx(t,
		telnyxErrorAnswer(http.StatusTooManyRequests, "10011", "Too many requests", "Rate limit exceeded", "Retry-After", "2"),
	)
	tel, rec := newTestTelnyx(t, f, nil)
	rcpt, err := tel.Send(context.Background(), smsMessage)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Requests()) != 2 || len(f.Accepted()) != 1 || rcpt.ProviderID != f.Accepted()[0] {
		t.Fatalf("%d requests, accepted %v, receipt %+v", len(f.Requests()), f.Accepted(), rcpt)
	}
	// The 429's Retry-After is waited out rather than the backoff. (The
	// limiter's own wait, 100ms at the default rate, is recorded too.)
	if s := rec.Sleeps(); !slices.Contains(s, 2*time.Second) {
		t.Fatalf("waits %v, want one of 2s (Retry-After)", s)
	}
}

func TestTelnyxRetryAfterTooLongIsLeftToTheQueue(t *testing.T) {
	t.Parallel()
	f := newFakeTelnyx(t,
		telnyxErrorAnswer(http.StatusTooManyRequests, "10011", "Too many requests", "", "Retry-After", "3600"),
	)
	tel, _ := newTestTelnyx(t, f, nil)
	_, err := tel.Send(context.Background(), smsMessage)
	var te *TelnyxError
	if !errors.As(err, &te) || te.StatusCode != 429 || te.RetryAfter != time.Hour || IsPermanent(err) {
		t.Fatalf("error %v (%#v), want a retryable 429 with RetryAfter 1h", err, te)
	}
	if len(f.Requests()) != 1 {
		t.Fatalf("%d requests, want 1", len(f.Requests()))
	}
}

func TestTelnyxRetriesServerErrors(t *testing.T) {
	t.Parallel()
	f := newFakeTelnyx(t,
		telnyxErrorAnswer(http.StatusInternalServerError, "10007", "Unexpected error", ""),
		func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
		},
	)
	tel, rec := newTestTelnyx(t, f, func(c *TelnyxConfig) { c.RatePerSecond = 1e6 })
	if _, err := tel.Send(context.Background(), smsMessage); err != nil {
		t.Fatal(err)
	}
	if len(f.Requests()) != 3 || len(f.Accepted()) != 1 {
		t.Fatalf("%d requests, %d accepted; want 3 and 1", len(f.Requests()), len(f.Accepted()))
	}
	// Exponential backoff from 500ms (jitter is zero here).
	if s := backoffs(rec.Sleeps()); !slices.Equal(s, []time.Duration{500 * time.Millisecond, time.Second}) {
		t.Fatalf("backoffs %v, want [500ms 1s]", s)
	}
}

// backoffs drops the rate limiter's waits (under 10ms at the rates used).
func backoffs(s []time.Duration) []time.Duration {
	return slices.DeleteFunc(s, func(d time.Duration) bool { return d < 10*time.Millisecond })
}

func TestTelnyxGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	fail := telnyxErrorAnswer(http.StatusServiceUnavailable, "", "Service Unavailable", "")
	f := newFakeTelnyx(t, fail, fail, fail, fail, fail)
	tel, rec := newTestTelnyx(t, f, func(c *TelnyxConfig) { c.MaxAttempts = 3; c.RatePerSecond = 1e6 })
	_, err := tel.Send(context.Background(), smsMessage)
	var te *TelnyxError
	if !errors.As(err, &te) || te.StatusCode != 503 || IsPermanent(err) {
		t.Fatalf("error %v, want a retryable 503", err)
	}
	if len(f.Requests()) != 3 {
		t.Fatalf("%d requests, want 3", len(f.Requests()))
	}
	if s := backoffs(rec.Sleeps()); !slices.Equal(s, []time.Duration{500 * time.Millisecond, time.Second}) {
		t.Fatalf("backoffs %v", s)
	}
}

func TestTelnyxPermanentErrors(t *testing.T) {
	t.Parallel()
	f := func(name string, answer http.HandlerFunc, permanent bool, code string) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newFakeTelnyx(t, answer, answer, answer, answer)
			tel, _ := newTestTelnyx(t, srv, func(c *TelnyxConfig) { c.RatePerSecond = 1e6 })
			_, err := tel.Send(context.Background(), smsMessage)
			if err == nil {
				t.Fatal("no error")
			}
			if IsPermanent(err) != permanent {
				t.Fatalf("IsPermanent(%v) = %v, want %v", err, !permanent, permanent)
			}
			var te *TelnyxError
			if !errors.As(err, &te) || te.Code != code {
				t.Fatalf("error %v, want a *TelnyxError with code %q", err, code)
			}
			wantRequests := 4
			if permanent {
				wantRequests = 1
			}
			if n := len(srv.Requests()); n != wantRequests {
				t.Fatalf("%d requests, want %d", n, wantRequests)
			}
			if strings.Contains(err.Error(), testAPIKey) {
				t.Fatalf("error %q shows the API key", err)
			}
		})
	}
	f("invalid number", telnyxErrorAnswer(400, "10016", "Phone number must be in +E.164 format", "The 'to' parameter must be in E.164 format"), true, "10016")
	f("not routable", telnyxErrorAnswer(400, "40001", "Not routable", "The destination number is a landline"), true, "40001")
	f("blocked", telnyxErrorAnswer(400, "40003", "Blocked as spam - permanent", ""), true, "40003")
	f("rejected", telnyxErrorAnswer(400, "40004", "Rejected by destination", ""), true, "40004")
	f("authentication", telnyxErrorAnswer(401, "10009", "Authentication failed", "Could not understand the provided credentials."), true, "10009")
	f("unprocessable", telnyxErrorAnswer(422, "10005", "Resource not found", ""), true, "10005")
	f("queue full", telnyxErrorAnswer(400, "40318", "Message queue full", ""), false, "40318")
	f("request timeout", telnyxErrorAnswer(408, "", "Request Timeout", ""), false, "")
	f("accepted but failed", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"data":{"id":"x","to":[{"phone_number":"+15550002222","status":"sending_failed"}],"errors":[{"code":"40001","title":"Not routable"}]}}`)
	}, true, "40001")
}

func TestTelnyxRetriesTimeouts(t *testing.T) {
	t.Parallel()
	f := newFakeTelnyx(t)
	f.script = []http.HandlerFunc{f.hang}
	tel, rec := newTestTelnyx(t, f, func(c *TelnyxConfig) { c.Timeout = 100 * time.Millisecond; c.RatePerSecond = 1e6 })
	rcpt, err := tel.Send(context.Background(), smsMessage)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Requests()) != 2 || rcpt.ProviderID == "" {
		t.Fatalf("%d requests, receipt %+v; want 2 and an id", len(f.Requests()), rcpt)
	}
	if s := backoffs(rec.Sleeps()); !slices.Equal(s, []time.Duration{500 * time.Millisecond}) {
		t.Fatalf("backoffs %v", s)
	}
}

func TestTelnyxConnectionErrorIsRetryable(t *testing.T) {
	t.Parallel()
	f := newFakeTelnyx(t)
	url := f.URL
	f.Close()
	tel, _ := newTestTelnyx(t, &fakeTelnyx{Server: f.Server}, func(c *TelnyxConfig) { c.BaseURL = url; c.MaxAttempts = 2 })
	_, err := tel.Send(context.Background(), smsMessage)
	if err == nil || IsPermanent(err) {
		t.Fatalf("error %v, want a retryable one", err)
	}
}

func TestTelnyxRefusesBadMessages(t *testing.T) {
	t.Parallel()
	f := newFakeTelnyx(t)
	tel, _ := newTestTelnyx(t, f, nil)
	for _, m := range []Message{
		{Channel: SMS, To: "5550002222", Text: "x"},
		{Channel: SMS, To: "+15550002222", Text: " "},
		{Channel: Email, To: "+15550002222", Text: "x"},
	} {
		if _, err := tel.Send(context.Background(), m); !IsPermanent(err) {
			t.Fatalf("Send(%+v) = %v, want a permanent error", m, err)
		}
	}
	if n := len(f.Requests()); n != 0 {
		t.Fatalf("%d requests for bad messages", n)
	}
}

func TestTelnyxRateLimit(t *testing.T) {
	t.Parallel()
	f := newFakeTelnyx(t)
	tel, rec := newTestTelnyx(t, f, func(c *TelnyxConfig) { c.RatePerSecond = 2 })
	clock := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	tel.now = func() time.Time { return clock }

	// Four sends at the same instant: the first goes at once, each next one
	// waits another 1/2 s (no bursts).
	for range 4 {
		if _, err := tel.Send(context.Background(), smsMessage); err != nil {
			t.Fatal(err)
		}
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond}
	if s := rec.Sleeps(); !slices.Equal(s, want) {
		t.Fatalf("limiter waits %v, want %v", s, want)
	}

	// Long after, idle time does not build up a burst: one send is free,
	// the next waits again.
	clock = clock.Add(time.Minute)
	for range 2 {
		if _, err := tel.Send(context.Background(), smsMessage); err != nil {
			t.Fatal(err)
		}
	}
	want = append(want, 500*time.Millisecond)
	if s := rec.Sleeps(); !slices.Equal(s, want) {
		t.Fatalf("limiter waits %v, want %v", s, want)
	}
	if n := len(f.Requests()); n != 6 {
		t.Fatalf("%d requests, want 6", n)
	}
}

func TestTelnyxRateLimitWaitHonoursContext(t *testing.T) {
	t.Parallel()
	f := newFakeTelnyx(t)
	tel, err := NewTelnyx(TelnyxConfig{APIKey: testAPIKey, From: "+15550001111", BaseURL: f.URL, RatePerSecond: 0.001})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tel.Send(context.Background(), smsMessage); err != nil {
		t.Fatal(err)
	}
	// The next token is 1000 s away: a send with a shorter deadline gives up
	// at once instead of waiting into its timeout.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := tel.Send(ctx, smsMessage); err == nil || IsPermanent(err) {
		t.Fatalf("error %v, want a retryable rate-limit error", err)
	}
	if n := len(f.Requests()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	f := func(v string, want time.Duration) {
		t.Helper()
		if got := parseRetryAfter(v, now); got != want {
			t.Fatalf("parseRetryAfter(%q) = %s, want %s", v, got, want)
		}
	}
	f("", 0)
	f("3", 3*time.Second)
	f("0", 0)
	f("-5", 0)
	f("soon", 0)
	f("Wed, 01 Jan 2025 12:00:30 GMT", 30*time.Second)
	f("Wed, 01 Jan 2025 11:00:00 GMT", 0)
}

func TestTelnyxAcceptedWithUnreadableAnswerIsNotResent(t *testing.T) {
	t.Parallel()
	f := newFakeTelnyx(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, `<html>ok</html>`)
	})
	tel, _ := newTestTelnyx(t, f, nil)
	rcpt, err := tel.Send(context.Background(), smsMessage)
	if err != nil || rcpt.ProviderID != "" {
		t.Fatalf("Send = %+v, %v; want success without an id", rcpt, err)
	}
	if n := len(f.Requests()); n != 1 {
		t.Fatalf("%d requests, want 1: an accepted message is never sent again", n)
	}
}

// stubReserver answers waits in turn, or fails.
type stubReserver struct {
	waits []time.Duration
	err   error
}

func (s *stubReserver) Reserve(context.Context) (time.Duration, error) {
	if s.err != nil {
		return 0, s.err
	}
	d := s.waits[0]
	s.waits = s.waits[1:]
	return d, nil
}

// TestTelnyxSharedRate: with a shared reserver the sender waits what it
// books, not what its own limiter says; when the reserver fails, its own
// limiter spaces the sends.
func TestTelnyxSharedRate(t *testing.T) {
	t.Parallel()
	f := newFakeTelnyx(t)
	shared := &stubReserver{waits: []time.Duration{0, 700 * time.Millisecond, 1400 * time.Millisecond}}
	tel, rec := newTestTelnyx(t, f, func(c *TelnyxConfig) { c.RatePerSecond = 2; c.Shared = shared })
	clock := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	tel.now = func() time.Time { return clock }
	for range 3 {
		if _, err := tel.Send(context.Background(), smsMessage); err != nil {
			t.Fatal(err)
		}
	}
	if s := rec.Sleeps(); !slices.Equal(s, []time.Duration{700 * time.Millisecond, 1400 * time.Millisecond}) {
		t.Fatalf("waits %v, want the shared reserver's", s)
	}
	shared.err = errors.New("redis: connection refused")
	for range 2 {
		if _, err := tel.Send(context.Background(), smsMessage); err != nil {
			t.Fatal(err)
		}
	}
	if s := rec.Sleeps(); !slices.Equal(s[2:], []time.Duration{500 * time.Millisecond}) {
		t.Fatalf("waits without the shared reserver %v, want the own limiter's 500ms for the second", s[2:])
	}
}
