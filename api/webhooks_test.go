package api_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/api"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/notify"
)

func TestTelnyxWebhook(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	ctx := context.Background()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	app := api.New(api.Config{Pool: pool, Logger: quiet})
	api.RegisterTelnyxWebhook(app, pool, pub, nil, quiet)
	var org string
	if err := pool.QueryRow(ctx, `INSERT INTO organizations (name) VALUES ('W') RETURNING id`).Scan(&org); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO notifications (org_id, channel, recipient, status, provider_id, dedupe_key) VALUES ($1, 'sms', '+15550002222', 'sent', 'msg-1', 'k1')`, org); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"data":{"event_type":"message.finalized","payload":{"id":"msg-1","to":[{"phone_number":"+15550002222","status":"delivered"}]}}}`)
	post := func(body []byte, ts time.Time, forge bool, headers ...string) int {
		t.Helper()
		stamp := strconv.FormatInt(ts.Unix(), 10)
		sig := ed25519.Sign(priv, []byte(stamp+"|"+string(body)))
		if forge {
			sig[0] ^= 1
		}
		req := httptest.NewRequest("POST", "/v1/webhooks/telnyx", bytes.NewReader(body))
		req.Header.Set(notify.TelnyxSignatureHeader, base64.StdEncoding.EncodeToString(sig))
		req.Header.Set(notify.TelnyxTimestampHeader, stamp)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	if code := post(body, time.Now(), true); code != 401 {
		t.Fatalf("forged webhook = %d, want 401", code)
	}
	if code := post(body, time.Now().Add(-6*time.Minute), false); code != 401 {
		t.Fatalf("stale webhook = %d, want 401", code)
	}
	if code := post([]byte(`{"data":`), time.Now(), false); code != 400 {
		t.Fatalf("signed garbage = %d, want 400", code)
	}
	if code := post([]byte("{\"data\":{\"event_type\":\"caf\xe9\"}}"), time.Now(), false); code != 400 {
		t.Fatalf("signed invalid UTF-8 = %d, want 400", code)
	}
	if code := post(body, time.Now(), false, "Content-Type", "text/plain"); code != 415 {
		t.Fatalf("a webhook that is not JSON = %d, want 415", code)
	}
	if code := post(body, time.Now(), false, "Content-Encoding", "gzip"); code != 415 {
		t.Fatalf("a compressed webhook = %d, want 415 (the signature covers the bytes as sent)", code)
	}
	if code := post(make([]byte, 300<<10), time.Now(), false); code != 413 {
		t.Fatalf("an oversized webhook = %d, want 413", code)
	}
	var status string
	_ = pool.QueryRow(ctx, `SELECT status FROM notifications WHERE provider_id = 'msg-1'`).Scan(&status)
	if status != "sent" {
		t.Fatalf("refused webhooks changed the row to %s", status)
	}
	if code := post(body, time.Now(), false); code != 200 {
		t.Fatalf("valid webhook = %d", code)
	}
	if err := pool.QueryRow(ctx, `SELECT status FROM notifications WHERE provider_id = 'msg-1'`).Scan(&status); err != nil || status != "delivered" {
		t.Fatal(fmt.Sprint("status after a valid webhook: ", status, err))
	}
}
