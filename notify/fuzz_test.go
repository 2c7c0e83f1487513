package notify

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/freshtrack/freshtrack/internal/httpbody"
)

func FuzzParseTelnyxEvent(f *testing.F) {
	f.Add(telnyxEventBody("message.finalized", "m1", "delivered", "2025-06-01T12:00:05Z", ""))
	f.Add(telnyxEventBody("message.finalized", "m1", "delivery_failed", "", `{"code":"40001","title":"Not routable"}`))
	f.Add(telnyxEventBody("message.sent", "m1", "sent", "", ""))
	f.Add([]byte(`{"data":{"event_type":"message.finalized","payload":{"id":"x","to":[],"errors":[{"code":40001}]}}}`))
	f.Add([]byte(`{"data":null}`))
	f.Add([]byte(`[]`))
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		u, err := parseTelnyxEvent(body, now)
		if err != nil {
			if u != nil || !errors.Is(err, ErrBadEvent) {
				t.Fatalf("update %+v with error %v", u, err)
			}
			return
		}
		if u == nil {
			return
		}
		if u.messageID == "" {
			t.Fatal("update without a message id")
		}
		switch u.status {
		case "sent", "delivered":
			if u.lastError != nil {
				t.Fatalf("%s with last_error", u.status)
			}
		case "failed":
			if u.lastError == nil || len(*u.lastError) > maxLastError {
				t.Fatalf("failed with last_error %v", u.lastError)
			}
			if utf8.ValidString(string(body)) && !utf8.ValidString(*u.lastError) {
				t.Fatalf("invalid UTF-8 in last_error %q", *u.lastError)
			}
			// The webhook applies only bodies httpbody.CheckJSON accepts:
			// from those, nothing stored may hold what PostgreSQL refuses.
			if httpbody.CheckJSON(body) == nil && strings.ContainsRune(*u.lastError, 0) {
				t.Fatalf("NUL in last_error %q", *u.lastError)
			}
		default:
			t.Fatalf("status %q", u.status)
		}
	})
}

func FuzzVerifyTelnyxSignature(f *testing.F) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1748779200, 0)
	body := []byte(`{"data":{"event_type":"message.sent"}}`)
	f.Add(signTelnyx(priv, "1748779200", body), "1748779200", body)
	f.Add("", "", []byte{})
	f.Add("====", "-1", []byte("x"))
	f.Fuzz(func(t *testing.T, sig, ts string, body []byte) {
		// Never panics; accepts only what the key signed.
		err := VerifyTelnyxSignature(pub, sig, ts, body, now)
		if err != nil && !errors.Is(err, ErrBadSignature) {
			t.Fatalf("error %v does not wrap ErrBadSignature", err)
		}
		if err == nil && !bytes.Equal(mustDecode(t, sig), ed25519.Sign(priv, []byte(ts+"|"+string(body)))) {
			t.Fatalf("accepted a signature the key did not make: %q %q %q", sig, ts, body)
		}
	})
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("accepted undecodable signature %q", s)
	}
	return b
}
