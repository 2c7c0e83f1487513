package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/internal/stripetest"
)

// TestWebBilling drives Settings → Billing with Stripe on (a stripe-mock):
// an owner sees the plans, subscribes through Checkout, and once Stripe's
// webhook says the subscription is active manages it in the portal; an
// admin sees the state without the buttons.
func TestWebBilling(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary and a browser; skipped with -short")
	}
	chromiumPath(t)
	stripeURL := stripetest.Start(t)
	dbURL, pool := pgtest.NewDBURL(t)
	keyFile := filepath.Join(t.TempDir(), "dev.pem")
	const secret = "whsec_web"
	p := startServe(t, "web-billing", dbURL, []string{"FRESHTRACK_STRIPE_SECRET_KEY=sk_test_web", "FRESHTRACK_STRIPE_WEBHOOK_SECRET=" + secret,
		"FRESHTRACK_STRIPE_API_URL=" + stripeURL, "FRESHTRACK_BILLING_PLANS=starter=price_starter:5,pro=price_pro:25,enterprise=:500"},
		"--dev-auth", "--dev-auth-key", keyFile)
	logOnFailure(t, p)
	base := p.base()
	ctx := context.Background()
	org := newLiveOrg(t, pool, keyFile, p.addr, "Billing Bistro")
	// The admin persona of the sign-in page is this organisation's owner.
	if _, err := mintDevToken(ctx, pool, keyFile, p.addr, org.id, auth.Owner, auth.DevEmail(auth.Admin), "", time.Hour); err != nil {
		t.Fatal(err)
	}
	hosted := &hostedPages{}
	b := newBrowserWith(t, hosted.options(t)...)
	tab := b.tab()
	b.signIn(tab, base, "/o/"+org.id+"/settings/billing", "admin")

	type view struct {
		Summary string
		Plans   []string
		Portal  bool
	}
	read := `({Summary: (document.getElementById('billing-summary') || {}).innerText || '',
		Plans: [...document.querySelectorAll('ul.plans button[data-plan]')].map(b => b.dataset.plan),
		Portal: !!document.getElementById('billing-portal')})`
	b.run(tab, "billing page", openSection(base+"/o/"+org.id+"/settings/", "billing"), waitJS(`document.getElementById('billing-summary')`, 10*time.Second))
	got := value(b, tab, "billing before a plan", js[view](read))
	if !strings.Contains(got.Summary, "No subscription") || !strings.Contains(got.Summary, "1 of 10 sensors") ||
		fmt.Sprint(got.Plans) != "[starter pro]" || got.Portal {
		t.Errorf("before a plan: %+v; want no subscription, 1 of 10 sensors, starter and pro to buy (enterprise has no price)", got)
	}

	b.run(tab, "screenshot", screenshot(t, "settings-billing-plans"))
	// Subscribing sends the browser to Stripe's Checkout page.
	b.run(tab, "subscribe to pro", click(`ul.plans button[data-plan=pro]`),
		waitJS(`location.href.startsWith('https://checkout.stripe.com/') && document.body.textContent === 'stripe-hosted page'`, 10*time.Second))
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'billing.checkout' AND details->>'plan' = 'pro'`, org.id).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d checkout audit rows (%v)", n, err)
	}

	// Stripe says the subscription is active.
	var customer string
	if err := pool.QueryRow(ctx, `SELECT stripe_customer_id FROM subscriptions WHERE org_id = $1`, org.id).Scan(&customer); err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{"id": "evt_web_1", "object": "event", "type": "customer.subscription.created", "api_version": "2023-10-16",
		"created": time.Now().Unix(), "data": map[string]any{"object": map[string]any{"id": "sub_web", "customer": customer, "status": "active",
			"current_period_end": time.Now().Add(30 * 24 * time.Hour).Unix(), "metadata": map[string]any{"org_id": org.id},
			"items": map[string]any{"data": []any{map[string]any{"price": map[string]any{"id": "price_pro"}}}}}}})
	if code, out := deliverStripe(t, base, payload, stripetest.Sign(secret, payload, time.Now())); code != 200 || out["outcome"] != "applied" {
		t.Fatalf("webhook: %d %v", code, out)
	}
	b.run(tab, "billing page again", openSection(base+"/o/"+org.id+"/settings/", "billing"), waitJS(`document.getElementById('billing-summary')`, 10*time.Second))
	got = value(b, tab, "billing on pro", js[view](read))
	if !strings.Contains(got.Summary, "Pro") || !strings.Contains(got.Summary, "Active") || !strings.Contains(got.Summary, "1 of 25 sensors") ||
		!strings.Contains(got.Summary, "Renews") || len(got.Plans) != 0 || !got.Portal {
		t.Errorf("on pro: %+v; want Pro, Active, 1 of 25 sensors, the renewal date and the portal button", got)
	}
	b.run(tab, "screenshot", screenshot(t, "settings-billing"))
	b.run(tab, "open the portal", click(`#billing-portal`), waitJS(`!location.href.startsWith('`+base+`') && document.body.textContent === 'stripe-hosted page'`, 10*time.Second))
	if hosts := hosted.seen(); len(hosts) != 2 || hosts[0] != "checkout.stripe.com" {
		t.Errorf("the browser went to %v; want Checkout, then the portal", hosts)
	}

	// An admin sees the state, not the buttons: the manager persona is an
	// admin here.
	if _, err := mintDevToken(ctx, pool, keyFile, p.addr, org.id, auth.Admin, auth.DevEmail(auth.Manager), "", time.Hour); err != nil {
		t.Fatal(err)
	}
	ab := newBrowser(t)
	actx := ab.tab()
	ab.signIn(actx, base, "/o/"+org.id+"/settings/billing", "manager")
	ab.run(actx, "billing as admin", openSection(base+"/o/"+org.id+"/settings/", "billing"), waitJS(`document.getElementById('billing-summary')`, 10*time.Second))
	adm := value(ab, actx, "billing as admin", js[struct {
		Buttons int
		Text    string
	}](`({Buttons: document.querySelectorAll('.section button').length, Text: document.querySelector('.section').innerText})`))
	if adm.Buttons != 0 || !strings.Contains(adm.Text, "1 of 25 sensors") || !strings.Contains(adm.Text, "Only owners") {
		t.Errorf("an admin's billing section: %+v", adm)
	}
}

// hostedPages stands in for Stripe's hosted pages (Checkout, the portal):
// the browser resolves Stripe's host names to it and trusts its
// certificate, and it records which host each visit was for.
type hostedPages struct {
	mu    sync.Mutex
	hosts []string
}

func (h *hostedPages) options(t *testing.T) []chromedp.ExecAllocatorOption {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r)
			return
		}
		h.mu.Lock()
		h.hosts = append(h.hosts, strings.Split(r.Host, ":")[0])
		h.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("stripe-hosted page"))
	}))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "https://")
	return []chromedp.ExecAllocatorOption{
		chromedp.Flag("host-resolver-rules", "MAP *.stripe.com "+addr+", MAP *.stripe.me "+addr),
		chromedp.Flag("ignore-certificate-errors", true),
	}
}

func (h *hostedPages) seen() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.hosts...)
}
