package billing_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/billing"
)

// TestCheckoutAndPortal against stripe-mock: the organisation gets one
// customer, with its id in the metadata, on first need; Checkout
// subscribes it to the plan's price and comes back to the web app.
func TestCheckoutAndPortal(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	ctx := context.Background()
	s, err := b.svc.Checkout(ctx, b.org, "pro", "user:test")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL, "https://") || s.ID == "" {
		t.Errorf("checkout session %+v", s)
	}
	if _, err := b.svc.Portal(ctx, b.org, "user:test"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.Checkout(ctx, b.org, "starter", "user:test"); err != nil {
		t.Fatal(err)
	}
	customers := b.stripe.Requests("/v1/customers")
	if len(customers) != 1 {
		t.Fatalf("%d customers created, want 1 for three calls", len(customers))
	}
	if c := customers[0]; c.Form.Get("metadata[org_id]") != b.org || c.Form.Get("name") != "Harbour Kitchen" || c.Header.Get("Idempotency-Key") != "freshtrack-customer-"+b.org {
		t.Errorf("customer created with %v (idempotency key %q)", c.Form, c.Header.Get("Idempotency-Key"))
	}
	var customer string
	if err := b.pool.QueryRow(ctx, `SELECT stripe_customer_id FROM subscriptions WHERE org_id = $1`, b.org).Scan(&customer); err != nil || customer == "" {
		t.Fatalf("customer not stored: %v", err)
	}
	sessions := b.stripe.Requests("/v1/checkout/sessions")
	if len(sessions) != 2 {
		t.Fatalf("%d checkout sessions", len(sessions))
	}
	f := sessions[0].Form
	for k, want := range map[string]string{
		"mode": "subscription", "customer": customer, "client_reference_id": b.org, "line_items[0][price]": proPrice,
		"line_items[0][quantity]": "1", "subscription_data[metadata][org_id]": b.org, "subscription_data[metadata][plan]": "pro",
		"success_url": "https://freshtrack.example.com/o/" + b.org + "/settings/billing?checkout=done",
	} {
		if got := f.Get(k); got != want {
			t.Errorf("checkout %s = %q, want %q", k, got, want)
		}
	}
	if p := b.stripe.Requests("/v1/billing_portal/sessions"); len(p) != 1 || p[0].Form.Get("customer") != customer ||
		p[0].Form.Get("return_url") != "https://freshtrack.example.com/o/"+b.org+"/settings/billing" {
		t.Errorf("portal sessions: %+v", p)
	}
	if n := count(t, b.pool, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action IN ('billing.customer', 'billing.checkout', 'billing.portal')`, b.org); n != 4 {
		t.Errorf("%d billing audit rows, want 4", n)
	}
}

func TestCheckoutRefusals(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	ctx := context.Background()
	var pe *billing.PlanError
	if _, err := b.svc.Checkout(ctx, b.org, "platinum", "user:test"); !errors.As(err, &pe) {
		t.Errorf("unknown plan: %v", err)
	}
	if _, err := b.svc.Checkout(ctx, b.org, "enterprise", "user:test"); !errors.As(err, &pe) || !strings.Contains(pe.Reason, "contract") {
		t.Errorf("plan without a price: %v", err)
	}
	b.linkCustomer(t, b.org, "cus_live")
	b.deliver(t, event("evt_live", "customer.subscription.created", time.Now(), subscription("sub_live", "cus_live", b.org, "active", proPrice, time.Now().Add(time.Hour))))
	if _, err := b.svc.Checkout(ctx, b.org, "starter", "user:test"); !errors.Is(err, billing.ErrSubscribed) {
		t.Errorf("checkout while subscribed: %v", err)
	}
	if len(b.stripe.Requests("")) != 0 {
		t.Errorf("refused checkouts called Stripe: %+v", b.stripe.Requests(""))
	}
	// A refusal by Stripe is a StripeError naming what it said.
	b.stripe.SetFail(func(*http.Request) (int, string, bool) {
		return 400, `{"error":{"type":"invalid_request_error","message":"No such customer: 'cus_live'"}}`, true
	})
	var se *billing.StripeError
	if _, err := b.svc.Portal(ctx, b.org, "user:test"); !errors.As(err, &se) || !strings.Contains(se.Error(), "No such customer") {
		t.Errorf("portal refused by Stripe: %v", err)
	}
}

func TestNotConfigured(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	svc, err := billing.New(billing.Config{Pool: b.pool, Limits: b.limits})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.Checkout(ctx, b.org, "pro", "x"); !errors.Is(err, billing.ErrNotConfigured) {
		t.Errorf("checkout: %v", err)
	}
	if _, err := svc.Status(ctx, b.org); !errors.Is(err, billing.ErrNotConfigured) {
		t.Errorf("status: %v", err)
	}
	if _, err := svc.HandleWebhook(ctx, []byte(`{}`), "t=1,v1=00"); !errors.Is(err, billing.ErrWebhookNotConfigured) {
		t.Errorf("webhook: %v", err)
	}
	if res, err := svc.Meter(ctx, time.Now()); err != nil || res != (billing.MeterResult{}) {
		t.Errorf("meter: %+v %v", res, err)
	}
	// The limits still hold.
	if got := b.addSensors(t, b.org, 11); got != 10 {
		t.Errorf("%d of 11 added with a free limit of 10", got)
	}
}
