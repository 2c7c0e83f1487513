package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/deliverytest"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// TestWebProfile drives My profile and the contacts' test button in
// Chromium against the real binary, whose SMS go to a local Telnyx: a
// manager renames themself, verifies a new phone with the code the SMS
// carried, and sends a contact a test SMS whose delivery status the page
// shows.
func TestWebProfile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary and a browser; skipped with -short")
	}
	chromiumPath(t)
	tel := deliverytest.StartTelnyx(t)
	dbURL, pool := pgtest.NewDBURL(t)
	keyFile := filepath.Join(t.TempDir(), "dev.pem")
	p := startServe(t, "web-profile", dbURL, nil, "--dev-auth", "--dev-auth-key", keyFile,
		"--telnyx-api-key", "KEYtest0123", "--telnyx-from", "+15550001111", "--telnyx-base-url", tel.URL)
	logOnFailure(t, p)
	bg := context.Background()
	org := newLiveOrg(t, pool, keyFile, p.addr, "Profile Kitchen")
	if _, err := mintDevToken(bg, pool, keyFile, p.addr, org.id, auth.Manager, "", "", time.Hour); err != nil {
		t.Fatal(err)
	}
	var manager, contact string
	if err := pool.QueryRow(bg, `SELECT m.user_id FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND u.email = $2`,
		org.id, auth.DevEmail(auth.Manager)).Scan(&manager); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(bg, `INSERT INTO contacts (org_id, user_id, name, phone) VALUES ($1, $2, 'Me', '+15550004444') RETURNING id`, org.id, manager).Scan(&contact); err != nil {
		t.Fatal(err)
	}
	base := p.base()
	b := newBrowser(t)
	ctx := b.tab()
	b.signIn(ctx, base, "/o/"+org.id, "manager")

	b.run(ctx, "open My profile from the header", click(`#my-profile`),
		waitJS(`document.querySelector('#profile-form') !== null`, 10*time.Second))
	b.run(ctx, "rename", chromedp.SetValue(chromedp.CSS(`#profile-form input[type=text]`), "Morgan Manager"),
		click(`#profile-form button[type=submit]`),
		waitJS(`document.getElementById('toast').textContent === 'Profile saved.'`, 10*time.Second))
	var name string
	if err := pool.QueryRow(bg, `SELECT name FROM users WHERE id = $1`, manager).Scan(&name); err != nil || name != "Morgan Manager" {
		t.Errorf("stored name = %q, %v", name, err)
	}

	const phone = "+15550006666"
	b.run(ctx, "set a new phone", chromedp.SetValue(chromedp.CSS(`#profile-phone input[type=tel]`), phone),
		click(`#profile-phone form button[type=submit]`),
		waitJS(`document.querySelector('#phone-confirm') !== null`, 15*time.Second))
	texts := tel.Texts(phone)
	if len(texts) != 1 {
		t.Fatalf("the local Telnyx got %d texts for %s", len(texts), phone)
	}
	i := strings.Index(texts[0], "code is ")
	code := texts[0][i+8 : i+14]
	b.run(ctx, "confirm the code", chromedp.SendKeys(chromedp.CSS(`#phone-confirm input`), code),
		click(`#phone-confirm button[type=submit]`),
		waitJS(`document.getElementById('phone-state').textContent.includes('(verified)')`, 10*time.Second))
	var contactPhone string
	if err := pool.QueryRow(bg, `SELECT phone FROM contacts WHERE id = $1`, contact).Scan(&contactPhone); err != nil || contactPhone != phone {
		t.Errorf("linked contact's phone = %q, %v; want the verified %s", contactPhone, err, phone)
	}

	b.run(ctx, "send the contact a test SMS", openSection(base+"/o/"+org.id+"/settings/", "contacts"),
		click(`table[data-section=contacts] tr[data-id="`+contact+`"] [data-action=test-sms]`),
		waitJS(`document.querySelector('table[data-section=contacts] tr[data-id="`+contact+`"] .test-status').dataset.status === 'sent'`, 20*time.Second))
	if texts := tel.Texts(phone); len(texts) != 2 || !strings.Contains(texts[1], "test message") {
		t.Errorf("texts to %s = %q", phone, texts)
	}
	if errs := b.jsErrors(); len(errs) > 0 {
		t.Errorf("JavaScript errors: %v", errs)
	}
}
