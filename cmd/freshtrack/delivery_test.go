package main

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/freshtrack/freshtrack/internal/deliverytest"
	"github.com/freshtrack/freshtrack/notify"
)

// TestTelnyxWebhookURLFollowsThePublicURL sends an SMS through the sender
// serve builds and checks, at a local Telnyx, that it asks for delivery
// receipts at the public URL's webhook, and that a loopback public URL
// (which Telnyx cannot reach) asks for none.
func TestTelnyxWebhookURLFollowsThePublicURL(t *testing.T) {
	t.Parallel()
	f := func(publicURL, want string) {
		t.Helper()
		srv := deliverytest.StartTelnyx(t)
		e := env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
		cfg, err := loadServeConfig(e, "--telnyx-api-key", "KEYtest0123", "--telnyx-from", "+15550001111",
			"--telnyx-base-url", srv.URL, "--public-url", publicURL)
		if err != nil {
			t.Fatal(err)
		}
		sms, _, err := senders(cfg, nil, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sms.Send(context.Background(), notify.Message{Channel: notify.SMS, To: "+15550002222", Text: "hello"}); err != nil {
			t.Fatal(err)
		}
		reqs := srv.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests", len(reqs))
		}
		got, _ := reqs[0].Body["webhook_url"].(string)
		if got != want {
			t.Errorf("public URL %s: webhook_url = %q, want %q", publicURL, got, want)
		}
	}
	f("https://freshtrack.example", "https://freshtrack.example/v1/webhooks/telnyx")
	f("https://freshtrack.example/", "https://freshtrack.example/v1/webhooks/telnyx")
	f("http://127.0.0.1:8080", "")
	f("http://localhost:8080", "")
}

func TestSMSLimitsAreConfigured(t *testing.T) {
	t.Parallel()
	e := env{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string {
		return map[string]string{"FRESHTRACK_SMS_LIMIT_PER_PERSON": "3", "FRESHTRACK_SMS_LIMIT_PER_ORG": "50"}[k]
	}}
	cfg, err := loadServeConfig(e)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SMSLimitPerPerson != 3 || cfg.SMSLimitPerOrg != 50 {
		t.Errorf("limits = %d, %d", cfg.SMSLimitPerPerson, cfg.SMSLimitPerOrg)
	}
	e.getenv = func(k string) string { return map[string]string{"FRESHTRACK_SMS_LIMIT_PER_PERSON": "-1"}[k] }
	if _, err := loadServeConfig(e); err == nil {
		t.Error("a negative limit was accepted")
	}
	e.getenv = func(k string) string { return map[string]string{"FRESHTRACK_UNSUBSCRIBE_KEY": "short"}[k] }
	if _, err := loadServeConfig(e); err == nil {
		t.Error("a short unsubscribe key was accepted")
	}
}
