package notify

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// signTelnyx signs a webhook as Telnyx does: Ed25519 over "{ts}|{body}".
func signTelnyx(priv ed25519.PrivateKey, ts string, body []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(ts+"|"+string(body))))
}

func TestVerifyTelnyxSignature(t *testing.T) {
	t.Parallel()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"data":{"event_type":"message.finalized","id":"e1","payload":{"id":"m1","to":[{"status":"delivered"}]}}}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := signTelnyx(priv, ts, body)

	if err := VerifyTelnyxSignature(pub, sig, ts, body, now); err != nil {
		t.Fatalf("valid webhook refused: %v", err)
	}
	// Within the tolerance either way.
	if err := VerifyTelnyxSignature(pub, sig, ts, body, now.Add(4*time.Minute)); err != nil {
		t.Fatalf("4-minute-old webhook refused: %v", err)
	}
	if err := VerifyTelnyxSignature(pub, sig, ts, body, now.Add(-4*time.Minute)); err != nil {
		t.Fatalf("webhook 4 minutes ahead refused: %v", err)
	}

	flipped := append([]byte(nil), body...)
	flipped[len(flipped)/2] ^= 0x01
	sigBytes, _ := base64.StdEncoding.DecodeString(sig)
	sigBytes[0] ^= 0x80
	forgedSig := base64.StdEncoding.EncodeToString(sigBytes)
	staleTS := strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10)
	futureTS := strconv.FormatInt(now.Add(6*time.Minute).Unix(), 10)

	f := func(name string, key ed25519.PublicKey, sig, ts string, body []byte, reason string) {
		t.Helper()
		err := VerifyTelnyxSignature(key, sig, ts, body, now)
		if !errors.Is(err, ErrBadSignature) {
			t.Fatalf("%s: error %v, want ErrBadSignature", name, err)
		}
		if !strings.Contains(err.Error(), reason) {
			t.Fatalf("%s: error %q does not say %q", name, err, reason)
		}
	}
	f("body byte flipped", pub, sig, ts, flipped, "does not match")
	f("signature byte flipped", pub, forgedSig, ts, body, "does not match")
	f("other key", otherPub, sig, ts, body, "does not match")
	f("timestamp changed", pub, sig, strconv.FormatInt(now.Unix()-1, 10), body, "does not match")
	f("stale", pub, signTelnyx(priv, staleTS, body), staleTS, body, "old")
	f("future", pub, signTelnyx(priv, futureTS, body), futureTS, body, "future")
	f("bad base64", pub, "not*base64!", ts, body, "base64")
	f("short signature", pub, base64.StdEncoding.EncodeToString([]byte("short")), ts, body, "bytes")
	f("no signature", pub, "", ts, body, "missing")
	f("no timestamp", pub, sig, "", body, "missing")
	f("timestamp not a number", pub, sig, "2025-06-01T12:00:00Z", body, "unix seconds")
	f("bad key", ed25519.PublicKey([]byte{1, 2, 3}), sig, ts, body, "public key")
}

func TestParseTelnyxPublicKey(t *testing.T) {
	t.Parallel()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseTelnyxPublicKey(" " + base64.StdEncoding.EncodeToString(pub) + "\n")
	if err != nil || !got.Equal(pub) {
		t.Fatalf("ParseTelnyxPublicKey = %x, %v; want %x", got, err, pub)
	}
	for _, s := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(pub[:31]), base64.StdEncoding.EncodeToString(append(pub, 0))} {
		if _, err := ParseTelnyxPublicKey(s); err == nil {
			t.Fatalf("ParseTelnyxPublicKey(%q) accepted", s)
		}
	}
}

// insertOrg adds an organisation and returns its id.
func insertOrg(t *testing.T, db database.Querier) string {
	t.Helper()
	var id string
	if err := db.QueryRow(context.Background(), `INSERT INTO organizations (name) VALUES ('Test Kitchen') RETURNING id::text`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// insertSentSMS adds a notification in status sent with provider id pid.
func insertSentSMS(t *testing.T, db database.Querier, orgID, pid string) string {
	t.Helper()
	var id string
	err := db.QueryRow(context.Background(), `
INSERT INTO notifications (org_id, channel, recipient, status, provider_id, attempts, dedupe_key)
VALUES ($1, 'sms', '+15550002222', 'sending', $2, 1, $3) RETURNING id::text`, orgID, pid, "test:"+pid).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

type notificationRow struct {
	Status      string
	LastError   *string
	SentAt      *time.Time
	DeliveredAt *time.Time
	ProviderID  *string
	Attempts    int
}

func getNotification(t *testing.T, db database.Querier, id string) notificationRow {
	t.Helper()
	var r notificationRow
	err := db.QueryRow(context.Background(), `SELECT status, last_error, sent_at, delivered_at, provider_id, attempts FROM notifications WHERE id = $1`, id).
		Scan(&r.Status, &r.LastError, &r.SentAt, &r.DeliveredAt, &r.ProviderID, &r.Attempts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func telnyxEventBody(eventType, messageID, status, occurredAt, errs string) []byte {
	return fmt.Appendf(nil, `{"data":{"event_type":%q,"id":"0ccc7b54-4df3-4bca-a65a-3da1ecc777f0","occurred_at":%q,
"payload":{"completed_at":null,"cost":null,"direction":"outbound","errors":[%s],"from":{"carrier":"Telnyx","line_type":"VoIP","phone_number":"+15550001111"},
"id":%q,"parts":1,"record_type":"message","text":"hi","to":[{"carrier":"T-MOBILE USA, INC.","line_type":"Wireless","phone_number":"+15550002222","status":%q}],"type":"SMS"},
"record_type":"event"},"meta":{"attempt":1,"delivered_to":"https://freshtrack.example/v1/webhooks/telnyx"}}`,
		eventType, occurredAt, errs, messageID, status)
}

func TestApplyTelnyxEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx := pgtest.Tx(t)
	org := insertOrg(t, tx)

	apply := func(body []byte) bool {
		t.Helper()
		updated, err := ApplyTelnyxEvent(ctx, tx, body)
		if err != nil {
			t.Fatalf("ApplyTelnyxEvent: %v", err)
		}
		return updated
	}

	t.Run("sent then delivered, late sent ignored", func(t *testing.T) {
		id := insertSentSMS(t, tx, org, "m-delivered")
		if !apply(telnyxEventBody("message.sent", "m-delivered", "sent", "2025-06-01T12:00:01.123+00:00", "")) {
			t.Fatal("message.sent not applied")
		}
		r := getNotification(t, tx, id)
		if r.Status != "sent" || r.SentAt == nil || !r.SentAt.Equal(time.Date(2025, 6, 1, 12, 0, 1, 123e6, time.UTC)) {
			t.Fatalf("after sent: %+v", r)
		}
		if !apply(telnyxEventBody("message.finalized", "m-delivered", "delivered", "2025-06-01T12:00:05+00:00", "")) {
			t.Fatal("delivered not applied")
		}
		r = getNotification(t, tx, id)
		if r.Status != "delivered" || r.DeliveredAt == nil || !r.DeliveredAt.Equal(time.Date(2025, 6, 1, 12, 0, 5, 0, time.UTC)) {
			t.Fatalf("after delivered: %+v", r)
		}
		// Retried and out-of-order webhooks change nothing.
		if apply(telnyxEventBody("message.sent", "m-delivered", "sent", "2025-06-01T12:00:09+00:00", "")) {
			t.Fatal("late message.sent applied")
		}
		if apply(telnyxEventBody("message.finalized", "m-delivered", "delivery_failed", "2025-06-01T12:00:09+00:00", "")) {
			t.Fatal("failure after delivery applied")
		}
		if r := getNotification(t, tx, id); r.Status != "delivered" || r.LastError != nil {
			t.Fatalf("after late events: %+v", r)
		}
	})

	t.Run("delivered without sent sets both times", func(t *testing.T) {
		id := insertSentSMS(t, tx, org, "m-direct")
		if !apply(telnyxEventBody("message.finalized", "m-direct", "delivered", "2025-06-01T12:00:05Z", "")) {
			t.Fatal("not applied")
		}
		if r := getNotification(t, tx, id); r.Status != "delivered" || r.SentAt == nil || r.DeliveredAt == nil {
			t.Fatalf("%+v", r)
		}
	})

	t.Run("failed", func(t *testing.T) {
		for _, status := range []string{"delivery_failed", "sending_failed", "delivery_unconfirmed"} {
			pid := "m-" + status
			id := insertSentSMS(t, tx, org, pid)
			errs := `{"code":"40001","title":"Not routable","detail":"The destination number is a landline."}`
			if !apply(telnyxEventBody("message.finalized", pid, status, "2025-06-01T12:00:05Z", errs)) {
				t.Fatalf("%s not applied", status)
			}
			r := getNotification(t, tx, id)
			if r.Status != "failed" || r.LastError == nil || !strings.Contains(*r.LastError, "40001") || !strings.Contains(*r.LastError, status) {
				t.Fatalf("%s: %+v (last_error %v)", status, r, deref(r.LastError))
			}
			if apply(telnyxEventBody("message.finalized", pid, "delivered", "2025-06-01T12:00:05Z", "")) {
				t.Fatalf("%s: delivered after failed applied", status)
			}
		}
	})

	t.Run("ignored", func(t *testing.T) {
		id := insertSentSMS(t, tx, org, "m-ignored")
		for _, body := range [][]byte{
			telnyxEventBody("message.sent", "unknown-message-id", "sent", "", ""),
			telnyxEventBody("message.finalized", "unknown-message-id", "delivered", "", ""),
			telnyxEventBody("message.received", "m-ignored", "delivered", "", ""),
			telnyxEventBody("message.sent", "m-ignored", "queued", "", ""),
			telnyxEventBody("message.sent", "m-ignored", "sending", "", ""),
		} {
			if apply(body) {
				t.Fatalf("applied %s", body)
			}
		}
		if r := getNotification(t, tx, id); r.Status != "sending" {
			t.Fatalf("%+v", r)
		}
	})

	t.Run("email rows are not matched", func(t *testing.T) {
		var id string
		err := tx.QueryRow(ctx, `INSERT INTO notifications (org_id, channel, recipient, status, provider_id, dedupe_key)
VALUES ($1, 'email', 'a@example.com', 'sent', 'm-email', 'test:email') RETURNING id::text`, org).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		if apply(telnyxEventBody("message.finalized", "m-email", "delivered", "", "")) {
			t.Fatal("applied to an email")
		}
	})

	t.Run("malformed", func(t *testing.T) {
		for _, body := range []string{``, `not json`, `{}`, `{"data":{}}`, `{"data":{"event_type":"message.finalized"}}`, `{"data":{"event_type":"message.finalized","payload":{"to":[]}}}`} {
			if _, err := ApplyTelnyxEvent(ctx, tx, []byte(body)); !errors.Is(err, ErrBadEvent) {
				t.Fatalf("ApplyTelnyxEvent(%q) = %v, want ErrBadEvent", body, err)
			}
		}
		// The transaction is still usable: malformed bodies never reach SQL.
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
			t.Fatal(err)
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

var _ database.Querier = pgx.Tx(nil)
