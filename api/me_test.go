package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/freshtrack/freshtrack/api"
	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/digest"
	"github.com/freshtrack/freshtrack/internal/deliverytest"
	"github.com/freshtrack/freshtrack/notify"
)

// deliver starts a River client that works the notify queue with the real
// senders given.
func (w *world) deliver(t *testing.T, sms, email notify.Sender) {
	t.Helper()
	workers := river.NewWorkers()
	river.AddWorker(workers, &notify.SendWorker{DB: w.pool, SMS: sms, Email: email, Logger: quiet})
	client, err := river.NewClient(riverpgxv5.New(w.pool), &river.Config{
		Queues: map[string]river.QueueConfig{notify.QueueNotify: {MaxWorkers: 2}}, Workers: workers, Logger: quiet,
		FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond, TestOnly: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(ctx)
	})
}

// eventually polls cond until it holds, failing after 15s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func problemField(t *testing.T, out string) string {
	t.Helper()
	var p struct {
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	_ = json.Unmarshal([]byte(out), &p)
	if len(p.Errors) == 0 {
		return ""
	}
	return p.Errors[0].Field
}

func TestMePatchValidationNamesTheField(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	own, other := w.fixture(t), w.foreign(t)
	f := func(body map[string]any, field string) {
		t.Helper()
		code, out := w.do(t, "PATCH", "/v1/me", "staff", body)
		if code != 400 || problemField(t, out) != field {
			t.Errorf("PATCH %v = %d %s, want 400 naming %s", body, code, out, field)
		}
	}
	f(map[string]any{"timezone": "Mars/Olympus"}, "timezone")
	f(map[string]any{"timezone": "Local"}, "timezone")
	f(map[string]any{"name": "   "}, "name")
	f(map[string]any{"phone": "0155 123"}, "phone")
	f(map[string]any{"digests": []map[string]any{{"org_id": other["org"], "frequency": "daily"}}}, "digests[0].org_id")
	f(map[string]any{"digests": []map[string]any{{"org_id": own["org"], "frequency": "daily", "site_ids": []string{other["site"]}}}}, "digests[0].site_ids")
	f(map[string]any{"digests": []map[string]any{{"org_id": own["org"], "frequency": "hourly"}}}, "digests[0].frequency")
	f(map[string]any{"digests": []map[string]any{{"org_id": own["org"], "frequency": "daily", "local_hour": 25}}}, "digests[0].local_hour")
	if code, out := w.do(t, "PATCH", "/v1/me", "staff", map[string]any{"shoe_size": 9}); code != 400 {
		t.Errorf("unknown field: %d %s", code, out)
	}

	// A bad digest leaves the name, sent in the same body, unchanged.
	f(map[string]any{"name": "Changed", "digests": []map[string]any{{"org_id": other["org"], "frequency": "daily"}}}, "digests[0].org_id")
	_, out := w.do(t, "GET", "/v1/me", "staff", nil)
	if strings.Contains(out, "Changed") {
		t.Errorf("a refused PATCH changed the name: %s", out)
	}

	// A good one: opt-outs, zone, a weekly digest of one site.
	code, out := w.do(t, "PATCH", "/v1/me", "staff", map[string]any{"name": "Sam Cook", "sms_opt_in": false, "timezone": "Europe/Berlin",
		"digests": []map[string]any{{"org_id": own["org"], "frequency": "weekly", "local_hour": 8, "weekday": 5, "site_ids": []string{own["site"]}}}})
	if code != 200 {
		t.Fatalf("PATCH = %d %s", code, out)
	}
	var me struct {
		Name     string `json:"name"`
		SMSOptIn bool   `json:"sms_opt_in"`
		Timezone string `json:"timezone"`
		Digests  []struct {
			OrgID, Frequency string
			SiteIDs          []string `json:"site_ids"`
		} `json:"digests"`
	}
	if err := json.Unmarshal([]byte(out), &me); err != nil {
		t.Fatal(err)
	}
	var weekly []string
	for _, d := range me.Digests {
		if d.Frequency == "weekly" {
			weekly = d.SiteIDs
		}
	}
	if me.Name != "Sam Cook" || me.SMSOptIn || me.Timezone != "Europe/Berlin" || len(weekly) != 1 || weekly[0] != own["site"] {
		t.Errorf("after PATCH: %s", out)
	}
	// The next sign-in carries the provider's name ("staff"); the chosen
	// one stays.
	if u, err := auth.UpsertUser(context.Background(), w.pool, w.dev.Issuer(), "sub-staff", "staff@example.com", "staff"); err != nil || u.Name != "Sam Cook" {
		t.Errorf("a sign-in after the PATCH renamed the user %q (%v)", u.Name, err)
	}
}

func TestMePhoneVerificationThroughTelnyx(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	own := w.fixture(t)
	ctx := context.Background()
	srv := deliverytest.StartTelnyx(t)
	tel, err := notify.NewTelnyx(notify.TelnyxConfig{APIKey: "KEYtest", From: "+15550001111", BaseURL: srv.URL, RatePerSecond: 1000})
	if err != nil {
		t.Fatal(err)
	}
	w.notify.SMS = tel
	var contact string
	if err := w.pool.QueryRow(ctx, `INSERT INTO contacts (org_id, user_id, name, phone) VALUES ($1, $2, 'Staff', '+15550001234') RETURNING id`,
		own["org"], w.users["staff"].ID).Scan(&contact); err != nil {
		t.Fatal(err)
	}
	contactPhone := func() (p string) {
		if err := w.pool.QueryRow(ctx, `SELECT phone FROM contacts WHERE id = $1`, contact).Scan(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const phone = "+15550007777"
	code, out := w.do(t, "PATCH", "/v1/me", "staff", map[string]any{"phone": phone})
	if code != 200 || !strings.Contains(out, `"phone_verified":false`) || !strings.Contains(out, `"phone_pending":true`) {
		t.Fatalf("PATCH phone = %d %s", code, out)
	}
	texts := srv.Texts(phone)
	if len(texts) != 1 {
		t.Fatalf("Telnyx got %d texts for %s", len(texts), phone)
	}
	i := strings.Index(texts[0], "code is ")
	sent := texts[0][i+8 : i+14]
	if contactPhone() != "+15550001234" {
		t.Fatal("the linked contact took the unverified phone")
	}
	wrong := "000000"
	if sent == wrong {
		wrong = "999999"
	}
	if code, out := w.do(t, "POST", "/v1/me/phone/confirm", "staff", map[string]any{"code": wrong}); code != 400 || problemField(t, out) != "code" {
		t.Errorf("wrong code = %d %s", code, out)
	}
	if code, out := w.do(t, "POST", "/v1/me/phone/confirm", "staff", map[string]any{"code": "12"}); code != 400 {
		t.Errorf("short code = %d %s", code, out)
	}
	code, out = w.do(t, "POST", "/v1/me/phone/confirm", "staff", map[string]any{"code": sent})
	if code != 200 || !strings.Contains(out, `"phone_verified":true`) || !strings.Contains(out, `"phone":"`+phone+`"`) {
		t.Fatalf("confirm = %d %s", code, out)
	}
	if contactPhone() != phone {
		t.Errorf("contact phone = %s after verification, want %s", contactPhone(), phone)
	}
	// Asking again at once is refused, not sent.
	if code, out := w.do(t, "PATCH", "/v1/me", "staff", map[string]any{"phone": "+15550008888"}); code != 200 {
		t.Fatalf("second phone = %d %s", code, out)
	}
	if code, h, _ := w.doHeader(t, "PATCH", "/v1/me", "staff", map[string]any{"phone": "+15550008889"}); code != 429 || h.Get("Retry-After") == "" {
		t.Errorf("third phone within a minute = %d (Retry-After %q), want 429 with Retry-After", code, h.Get("Retry-After"))
	}
	if n := len(srv.Requests()); n != 2 {
		t.Errorf("Telnyx got %d requests, want 2", n)
	}
}

func TestUnsubscribeWithoutSigningIn(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	own := w.fixture(t)
	ctx := context.Background()
	mails := deliverytest.StartSMTP(t, nil)
	smtp, err := notify.NewSMTP(notify.SMTPConfig{Host: "127.0.0.1", Port: mails.Port(), From: "digest@freshtrack.example", TLS: notify.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	w.deliver(t, nil, smtp)
	app := api.New(api.Config{Pool: w.pool, Logger: quiet})
	api.RegisterUnsubscribe(app, w.pool, w.unsub, nil, quiet)
	call := func(method, target, contentType, body string) (int, string) {
		t.Helper()
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// The fixture subscribed every role to the daily digest; tomorrow 08:00
	// UTC it is due.
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(32 * time.Hour)
	var jobs *river.Client[pgx.Tx] = w.notify.Jobs
	sender, err := digest.New(digest.Config{Pool: w.pool, Jobs: jobs, PublicURL: "https://freshtrack.example", Unsubscribe: w.unsub,
		Now: func() time.Time { return day }, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	first, err := sender.RunDue(ctx)
	if err != nil || first == 0 {
		t.Fatalf("RunDue = %d, %v", first, err)
	}
	eventually(t, "the first digests", func() bool { return len(mails.Mails()) == first })
	var staffMail *mail.Message
	eventually(t, "the staff digest", func() bool {
		for _, m := range mails.Mails() {
			if len(m.To) == 1 && m.To[0] == "staff@example.com" {
				staffMail, err = mail.ReadMessage(strings.NewReader(string(m.Data)))
				return err == nil
			}
		}
		return false
	})
	if got := staffMail.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", got)
	}
	link, err := url.Parse(strings.Trim(staffMail.Header.Get("List-Unsubscribe"), "<>"))
	if err != nil || link.Path != notify.UnsubscribePath || link.Query().Get("token") == "" {
		t.Fatalf("List-Unsubscribe = %q (%v)", staffMail.Header.Get("List-Unsubscribe"), err)
	}
	enabled := func() (on bool) {
		if err := w.pool.QueryRow(ctx, `SELECT enabled FROM digest_subscriptions WHERE org_id = $1 AND user_id = $2 AND frequency = 'daily'`,
			own["org"], w.users["staff"].ID).Scan(&on); err != nil {
			t.Fatal(err)
		}
		return on
	}

	// GET shows a page with the button and changes nothing.
	code, page := call("GET", link.RequestURI(), "", "")
	if code != 200 || !strings.Contains(page, `<form method="post"`) || !enabled() {
		t.Fatalf("GET = %d, still enabled %v: %s", code, enabled(), page)
	}
	// Tampered, missing and wrong bodies are refused.
	tok := link.Query().Get("token")
	bad := []byte(tok)
	bad[3] ^= 2
	if code, out := call("POST", notify.UnsubscribePath+"?token="+url.QueryEscape(string(bad)), "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click"); code != 403 {
		t.Errorf("tampered token = %d %s", code, out)
	}
	if code, out := call("POST", notify.UnsubscribePath, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click"); code != 400 || problemField(t, out) != "token" {
		t.Errorf("no token = %d %s", code, out)
	}
	if code, _ := call("POST", link.RequestURI(), "application/x-www-form-urlencoded", "List-Unsubscribe=Maybe"); code != 400 || !enabled() {
		t.Errorf("wrong body = %d", code)
	}
	// The one-click POST, as a mail client sends it, with no sign-in.
	code, out := call("POST", link.RequestURI(), "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
	if code != 200 || !strings.Contains(out, `"changed":true`) || enabled() {
		t.Fatalf("POST = %d %s, enabled %v", code, out, enabled())
	}
	if code, out := call("POST", link.RequestURI(), "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click"); code != 200 || !strings.Contains(out, `"changed":false`) {
		t.Errorf("second POST = %d %s", code, out)
	}
	var audits int
	if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'notify.unsubscribe'`, own["org"]).Scan(&audits); err != nil || audits != 1 {
		t.Errorf("%d unsubscribe audit rows, %v", audits, err)
	}

	// The next day's digests go to the others, not to staff.
	before := len(mails.Mails())
	day = day.Add(24 * time.Hour)
	sent, err := sender.RunDue(ctx)
	if err != nil || sent == 0 {
		t.Fatalf("next RunDue = %d, %v", sent, err)
	}
	eventually(t, "the next digests", func() bool { return len(mails.Mails()) == before+sent })
	for _, m := range mails.Mails()[before:] {
		if m.To[0] == "staff@example.com" {
			t.Error("staff got a digest after unsubscribing")
		}
	}

	// The alert-email list turns the person's email opt-in off.
	alertsLink := w.unsub.URL(notify.UnsubscribeToken{UserID: w.users["viewer"].ID, OrgID: own["org"], List: notify.ListAlerts})
	u, _ := url.Parse(alertsLink)
	req := httptest.NewRequest("POST", u.RequestURI(), strings.NewReader("List-Unsubscribe=One-Click"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	resp, err := app.Test(req, -1)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("alerts unsubscribe = %v %v", resp, err)
	}
	var optIn bool
	if err := w.pool.QueryRow(ctx, `SELECT email_opt_in FROM users WHERE id = $1`, w.users["viewer"].ID).Scan(&optIn); err != nil || optIn {
		t.Errorf("email_opt_in = %v, %v after unsubscribing from alerts", optIn, err)
	}
}

func TestContactTestMessageIsDelivered(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	own := w.fixture(t)
	srv := deliverytest.StartTelnyx(t)
	tel, err := notify.NewTelnyx(notify.TelnyxConfig{APIKey: "KEYtest", From: "+15550001111", BaseURL: srv.URL, RatePerSecond: 1000})
	if err != nil {
		t.Fatal(err)
	}
	w.deliver(t, tel, nil)
	code, out := w.do(t, "POST", "/v1/orgs/"+own["org"]+"/contacts/"+own["contact"]+"/test", "manager", map[string]any{"channel": "sms"})
	if code != 202 {
		t.Fatalf("test = %d %s", code, out)
	}
	var ans struct {
		ID string `json:"notification_id"`
	}
	_ = json.Unmarshal([]byte(out), &ans)
	eventually(t, "the test SMS sent", func() bool {
		_, list := w.do(t, "GET", "/v1/orgs/"+own["org"]+"/notifications", "manager", nil)
		return strings.Contains(list, `"id":"`+ans.ID+`"`) && strings.Contains(list, `"status":"sent"`)
	})
	if texts := srv.Texts("+15550001111"); len(texts) != 1 || !strings.Contains(texts[0], "test message") {
		t.Errorf("Telnyx texts = %q", texts)
	}
	if code, out := w.do(t, "POST", "/v1/orgs/"+own["org"]+"/contacts/"+own["contact"]+"/test", "manager", map[string]any{"channel": "email"}); code != 400 || problemField(t, out) != "channel" {
		t.Errorf("email to a contact without one = %d %s", code, out)
	}
}
