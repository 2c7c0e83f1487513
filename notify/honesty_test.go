package notify

import (
	"context"
	"errors"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/internal/deliverytest"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

var testUnsubKey = []byte("notify-test-unsubscribe-key-0123456789abcdef")

func testUnsubscriber(t *testing.T) *Unsubscriber {
	t.Helper()
	u, err := NewUnsubscriber(testUnsubKey, "https://freshtrack.example/")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestUnsubscribeTokenRefusesForgedAndAltered(t *testing.T) {
	t.Parallel()
	u := testUnsubscriber(t)
	want := UnsubscribeToken{UserID: "6f1c3c1e-8a7b-4e34-9a53-0d3b8f0c2a11", OrgID: "0b7e2d4c-1f3a-4c5b-8d6e-7f8091a2b3c4", List: ListWeekly}
	tok, err := u.Token(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := u.Parse(tok)
	if err != nil || got != want {
		t.Fatalf("Parse(Token(%+v)) = %+v, %v", want, got, err)
	}
	if link := u.URL(want); link != "https://freshtrack.example/v1/unsubscribe?token="+tok {
		t.Errorf("URL = %q", link)
	}
	other, _ := NewUnsubscriber([]byte("another-server-key-0123456789abcdefghij"), "")
	forged, _ := other.Token(want)
	altered := []byte(tok)
	altered[5] ^= 1 // a bit of the user id: another person
	for name, bad := range map[string]string{
		"other key": forged, "altered user": string(altered), "cut short": tok[:len(tok)-4],
		"empty": "", "not base64": "%%%", "appended": tok + "AA",
	} {
		if _, err := u.Parse(bad); !errors.Is(err, ErrBadToken) {
			t.Errorf("%s: Parse = %v, want ErrBadToken", name, err)
		}
	}
	if _, err := u.Token(UnsubscribeToken{UserID: "x", OrgID: want.OrgID, List: ListAlerts}); !errors.Is(err, ErrBadToken) {
		t.Errorf("Token of a bad user id = %v", err)
	}
	if _, err := NewUnsubscriber([]byte("short"), ""); err == nil {
		t.Error("a 5-byte key was accepted")
	}
}

func TestLoadUnsubscribeKeyIsGeneratedOncePerDatabase(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	ctx := context.Background()
	a, err := LoadUnsubscribeKey(ctx, pool, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadUnsubscribeKey(ctx, pool, "")
	if err != nil || string(a) != string(b) || len(a) < 32 {
		t.Fatalf("second load = %x, %v; first %x", b, err, a)
	}
	if c, err := LoadUnsubscribeKey(ctx, pool, "configured-key-configured-key-0123"); err != nil || string(c) != "configured-key-configured-key-0123" {
		t.Errorf("configured key = %q, %v", c, err)
	}
	if _, err := LoadUnsubscribeKey(ctx, pool, "short"); err == nil {
		t.Error("a short configured key was accepted")
	}
}

func TestEmailCarriesOneClickUnsubscribe(t *testing.T) {
	t.Parallel()
	srv := startSMTPServer(t, nil)
	s, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: srv.Port(), From: "FreshTrack <alerts@freshtrack.example>", TLS: TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	link := "https://freshtrack.example/v1/unsubscribe?token=" + strings.Repeat("A", 87)
	if _, err := s.Send(context.Background(), Message{Channel: Email, To: "ana@example.com", Subject: "Digest",
		Text: "All fine.", HTML: "<html><body><p>All fine.</p></body></html>", ListUnsubscribe: link}); err != nil {
		t.Fatal(err)
	}
	mails := srv.Mails()
	if len(mails) != 1 {
		t.Fatalf("%d mails", len(mails))
	}
	m, err := mail.ReadMessage(strings.NewReader(string(mails[0].Data)))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Header.Get("List-Unsubscribe"); got != "<"+link+">" {
		t.Errorf("List-Unsubscribe = %q", got)
	}
	if got := m.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", got)
	}
	// Undo quoted-printable (soft breaks, =3D) to find the link in both parts.
	body := strings.NewReplacer("=\r\n", "", "=\n", "", "=3D", "=").Replace(string(mails[0].Data))
	if strings.Count(body, link) != 3 {
		t.Errorf("the link is not in the header and both body parts:\n%s", body)
	}

	if _, err := s.Send(context.Background(), Message{Channel: Email, To: "ana@example.com", Subject: "x", Text: "x",
		ListUnsubscribe: "javascript:alert(1)"}); !IsPermanent(err) {
		t.Errorf("a non-http unsubscribe link: %v, want a permanent error", err)
	}
}

// newTelnyxSender is a real Telnyx sender pointed at the local server.
func newTelnyxSender(t *testing.T, srv *deliverytest.Telnyx, webhook string) *Telnyx {
	t.Helper()
	tel, err := NewTelnyx(TelnyxConfig{APIKey: testAPIKey, From: "+15550001111", BaseURL: srv.URL, WebhookURL: webhook, RatePerSecond: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return tel
}

func TestSMSRateLimitsSuppressAndSayWhy(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	srv := deliverytest.StartTelnyx(t)
	worker := &SendWorker{DB: pool, SMS: newTelnyxSender(t, srv, ""), SMSLimits: SMSLimits{PerPerson: 2, PerOrg: 3}}
	client := newRiver(t, pool, worker)
	startRiver(t, client)
	f := insertAlert(t, pool)
	send := func(key, to string) string {
		id, _ := enqueue(t, pool, client, EnqueueParams{OrgID: f.OrgID, Channel: SMS, Recipient: to, Text: "test " + key, DedupeKey: key})
		return id
	}
	// One at a time, so which one is over the limit is known.
	sent := func(id string) { t.Helper(); waitStatus(t, pool, id, "sent") }
	sent(send("a1", "+15550002222"))
	sent(send("a2", "+15550002222"))
	third := send("a3", "+15550002222")
	row := waitStatus(t, pool, third, "suppressed")
	var reason *string
	if err := pool.QueryRow(context.Background(), `SELECT suppressed_reason FROM notifications WHERE id = $1`, third).Scan(&reason); err != nil {
		t.Fatal(err)
	}
	if reason == nil || !strings.HasPrefix(*reason, SuppressedPersonLimit) || row.Attempts != 0 {
		t.Errorf("person limit: reason %v, attempts %d", reason, row.Attempts)
	}
	sent(send("b1", "+15550003333"))
	fifth := send("b2", "+15550004444")
	waitStatus(t, pool, fifth, "suppressed")
	if err := pool.QueryRow(context.Background(), `SELECT suppressed_reason FROM notifications WHERE id = $1`, fifth).Scan(&reason); err != nil {
		t.Fatal(err)
	}
	if reason == nil || !strings.HasPrefix(*reason, SuppressedOrgLimit) {
		t.Errorf("org limit: reason %v", reason)
	}
	if n := len(srv.Requests()); n != 3 {
		t.Errorf("Telnyx got %d requests, want 3: suppressed messages must not be sent", n)
	}
	// A critical alert has twice the limits as headroom.
	crit, _ := enqueue(t, pool, client, EnqueueParams{OrgID: f.OrgID, AlertID: &f.AlertID, Channel: SMS, Recipient: "+15550002222", Text: "critical", DedupeKey: "c1"})
	sent(crit)
}

func seedUser(t *testing.T, pool *pgxpool.Pool, orgID string) (userID, contactID string) {
	t.Helper()
	ctx := context.Background()
	if err := pool.QueryRow(ctx, `INSERT INTO users (issuer, subject, email, name, phone, phone_verified_at)
VALUES ('test', gen_random_uuid()::text, 'sam@example.com', 'Sam', '+15550005555', now()) RETURNING id`).Scan(&userID); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, 'staff')`, orgID, userID); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO contacts (org_id, user_id, name, phone, email) VALUES ($1, $2, 'Sam', '+15550005555', 'sam@example.com') RETURNING id`,
		orgID, userID).Scan(&contactID); err != nil {
		t.Fatal(err)
	}
	return userID, contactID
}

func TestPhoneVerification(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	ctx := context.Background()
	srv := deliverytest.StartTelnyx(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	svc := &Service{DB: pool, SMS: newTelnyxSender(t, srv, ""), Unsubscribe: testUnsubscriber(t), Now: func() time.Time { return now }}
	f := insertAlert(t, pool)
	user, contact := seedUser(t, pool, f.OrgID)
	const newPhone = "+15550006666"
	code := func() string {
		t.Helper()
		texts := srv.Texts(newPhone)
		if len(texts) == 0 {
			t.Fatal("no code was sent")
		}
		i := strings.Index(texts[len(texts)-1], "code is ")
		return texts[len(texts)-1][i+8 : i+14]
	}
	contactPhone := func() string {
		var p string
		if err := pool.QueryRow(ctx, `SELECT phone FROM contacts WHERE id = $1`, contact).Scan(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}

	if _, err := svc.StartPhoneVerification(ctx, user, "0155 5000"); err == nil {
		t.Error("a non-E.164 phone was accepted")
	}
	if sent, err := svc.StartPhoneVerification(ctx, user, newPhone); err != nil || !sent {
		t.Fatalf("start = %v, %v", sent, err)
	}
	p, _ := GetProfile(ctx, pool, user)
	if p.Phone == nil || *p.Phone != newPhone || p.PhoneVerified || !p.PhonePending {
		t.Errorf("after start: %+v", p)
	}
	if contactPhone() != "+15550005555" {
		t.Error("the contact took the unverified phone")
	}
	// Resend spacing.
	var soon *ResendTooSoonError
	if _, err := svc.StartPhoneVerification(ctx, user, newPhone); !errors.As(err, &soon) {
		t.Errorf("second code at once: %v", err)
	}
	good := code()
	wrong := "000000"
	if good == wrong {
		wrong = "111111"
	}
	if _, err := svc.ConfirmPhone(ctx, user, wrong); !errors.Is(err, ErrWrongCode) {
		t.Errorf("wrong code: %v", err)
	}
	if _, err := svc.ConfirmPhone(ctx, user, "12ab56"); err == nil {
		t.Error("a non-digit code was accepted")
	}
	// Expiry.
	now = now.Add(PhoneCodeTTL)
	if _, err := svc.ConfirmPhone(ctx, user, good); !errors.Is(err, ErrCodeExpired) {
		t.Errorf("expired code: %v", err)
	}
	// A new code; attempts are limited even for the right code afterwards.
	if _, err := svc.StartPhoneVerification(ctx, user, newPhone); err != nil {
		t.Fatal(err)
	}
	good = code()
	for i := 0; i < PhoneCodeAttempts; i++ {
		_, err := svc.ConfirmPhone(ctx, user, wrong)
		if i < PhoneCodeAttempts-1 && !errors.Is(err, ErrWrongCode) || i == PhoneCodeAttempts-1 && !errors.Is(err, ErrTooManyAttempts) {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	if _, err := svc.ConfirmPhone(ctx, user, good); !errors.Is(err, ErrTooManyAttempts) {
		t.Errorf("right code after the limit: %v", err)
	}
	if contactPhone() != "+15550005555" {
		t.Error("the contact took the unverified phone")
	}
	// And a fresh code confirms.
	now = now.Add(PhoneResendSpacing)
	if _, err := svc.StartPhoneVerification(ctx, user, newPhone); err != nil {
		t.Fatal(err)
	}
	if got, err := svc.ConfirmPhone(ctx, user, code()); err != nil || got != newPhone {
		t.Fatalf("confirm = %q, %v", got, err)
	}
	p, _ = GetProfile(ctx, pool, user)
	if !p.PhoneVerified || p.PhonePending || contactPhone() != newPhone {
		t.Errorf("after confirm: %+v, contact %s", p, contactPhone())
	}
	if _, err := svc.ConfirmPhone(ctx, user, code()); !errors.Is(err, ErrNoPendingPhone) {
		t.Errorf("a used code again: %v", err)
	}
	var audits int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action LIKE 'profile.phone%'`, f.OrgID).Scan(&audits); err != nil || audits < 2 {
		t.Errorf("%d phone audit rows, %v", audits, err)
	}
	var pending int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM phone_verifications WHERE user_id = $1`, user).Scan(&pending); err != nil || pending != 0 {
		t.Errorf("%d verifications left after confirming, %v", pending, err)
	}
}

func TestSendTestMessage(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	ctx := context.Background()
	tel := deliverytest.StartTelnyx(t)
	mails := startSMTPServer(t, nil)
	smtp, err := NewSMTP(SMTPConfig{Host: "127.0.0.1", Port: mails.Port(), From: "alerts@freshtrack.example", TLS: TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	client := newRiver(t, pool, &SendWorker{DB: pool, SMS: newTelnyxSender(t, tel, ""), Email: smtp})
	startRiver(t, client)
	f := insertAlert(t, pool)
	user, contact := seedUser(t, pool, f.OrgID)
	svc := &Service{DB: pool, Jobs: client, Unsubscribe: testUnsubscriber(t)}

	id, err := svc.SendTest(ctx, TestParams{OrgID: f.OrgID, ContactID: contact, Channel: SMS, Actor: "user:" + user})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, pool, id, "sent")
	if texts := tel.Texts("+15550005555"); len(texts) != 1 || !strings.Contains(texts[0], "test message") {
		t.Errorf("Telnyx texts = %q", texts)
	}
	id, err = svc.SendTest(ctx, TestParams{OrgID: f.OrgID, ContactID: contact, Channel: Email, Actor: "user:" + user})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, pool, id, "sent")
	if got := mails.Mails(); len(got) != 1 || !strings.Contains(string(got[0].Data), "List-Unsubscribe: <https://freshtrack.example/v1/unsubscribe?token=") {
		t.Errorf("test email lacks its unsubscribe link: %d mails", len(got))
	}
	var audits int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'contact.test_message'`, f.OrgID).Scan(&audits); err != nil || audits != 2 {
		t.Errorf("%d test-message audit rows, %v", audits, err)
	}
	var ve *ValidationError
	if _, err := svc.SendTest(ctx, TestParams{OrgID: f.OrgID, ContactID: contact, Channel: "fax"}); !errors.As(err, &ve) || ve.Field != "channel" {
		t.Errorf("fax: %v", err)
	}
	if _, err := svc.SendTest(ctx, TestParams{OrgID: insertAlert(t, pool).OrgID, ContactID: contact, Channel: SMS}); !errors.Is(err, ErrNotFound) {
		t.Errorf("another organisation's contact: %v", err)
	}
}

func TestAlertEmailsCarryTheLinkedPersonsUnsubscribe(t *testing.T) {
	t.Parallel()
	pool := pgtest.NewDB(t)
	ctx := context.Background()
	f := insertAlert(t, pool)
	user, linked := seedUser(t, pool, f.OrgID)
	var unlinked string
	if err := pool.QueryRow(ctx, `INSERT INTO contacts (org_id, name, email) VALUES ($1, 'Temp', 'temp@example.com') RETURNING id`, f.OrgID).Scan(&unlinked); err != nil {
		t.Fatal(err)
	}
	u := testUnsubscriber(t)
	client := newRiver(t, pool, &SendWorker{DB: pool})
	n := &AlertNotifier{Jobs: client, PublicURL: "https://freshtrack.example", Unsubscribe: u}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return n.NotifyTx(ctx, tx, alerting.Notice{OrgID: f.OrgID, AlertID: f.AlertID, UnitName: "Walk-in", SiteName: "Main", Kind: "temp_high",
			Severity: "critical", StartedAt: time.Now(), Recipients: []alerting.Recipient{
				{ContactID: linked, Channel: "email", Address: "sam@example.com"},
				{ContactID: unlinked, Channel: "email", Address: "temp@example.com"},
				{ContactID: linked, Channel: "sms", Address: "+15550005555"},
			}})
	})
	if err != nil {
		t.Fatal(err)
	}
	links := map[string]string{}
	rows, err := pool.Query(ctx, `SELECT n.recipient, coalesce(j.args->>'list_unsubscribe', '') FROM river_job j JOIN notifications n ON n.id::text = j.args->>'notification_id'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var to, link string
		if err := rows.Scan(&to, &link); err != nil {
			t.Fatal(err)
		}
		links[to] = link
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	tok, _ := strings.CutPrefix(links["sam@example.com"], "https://freshtrack.example/v1/unsubscribe?token=")
	got, err := u.Parse(tok)
	if err != nil || got != (UnsubscribeToken{UserID: user, OrgID: f.OrgID, List: ListAlerts}) {
		t.Errorf("linked contact's link %q: %+v, %v", links["sam@example.com"], got, err)
	}
	if links["temp@example.com"] != "" || links["+15550005555"] != "" {
		t.Errorf("links for a contact without an account or an SMS: %q", links)
	}
}
