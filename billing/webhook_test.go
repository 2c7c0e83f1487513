package billing_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/freshtrack/freshtrack/billing"
	"github.com/freshtrack/freshtrack/internal/stripetest"
)

// TestWebhookRefusesWhatStripeDidNotSign: a wrong secret, a tampered body,
// a stale timestamp (a replay outside the tolerance), a missing or
// malformed header are refused, and none of them records anything.
func TestWebhookRefusesWhatStripeDidNotSign(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	ctx := context.Background()
	payload := event("evt_sig", "customer.subscription.updated", time.Now(),
		subscription("sub_sig", "cus_sig", b.org, "active", proPrice, time.Now().Add(720*time.Hour)))
	tampered := []byte(strings.Replace(string(payload), `"active"`, `"canceled"`, 1))
	for _, c := range []struct {
		name, header string
		body         []byte
		want         error
	}{
		{"no header", "", payload, webhook.ErrNotSigned},
		{"malformed header", "t=yesterday,v1=abc", payload, webhook.ErrInvalidHeader},
		{"another secret", stripetest.Sign("whsec_someone_else", payload, time.Now()), payload, webhook.ErrNoValidSignature},
		{"tampered body", stripetest.Sign(webhookSecret, payload, time.Now()), tampered, webhook.ErrNoValidSignature},
		{"stale timestamp", stripetest.Sign(webhookSecret, payload, time.Now().Add(-6*time.Minute)), payload, webhook.ErrTooOld},
		{"future timestamp", stripetest.Sign(webhookSecret, payload, time.Now().Add(6*time.Minute)), payload, webhook.ErrTooOld},
	} {
		_, err := b.svc.HandleWebhook(ctx, c.body, c.header)
		var se *billing.SignatureError
		if !errors.As(err, &se) || !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want a signature error wrapping %v", c.name, err, c.want)
		}
	}
	if n := count(t, b.pool, `SELECT count(*) FROM stripe_events`); n != 0 {
		t.Errorf("%d events recorded from unsigned deliveries", n)
	}
	if n := count(t, b.pool, `SELECT count(*) FROM subscriptions WHERE status <> 'none'`); n != 0 {
		t.Errorf("an unsigned delivery changed %d subscriptions", n)
	}
	// A signed body that is not an event is refused as such.
	junk := []byte(`{"hello":"world"}`)
	if _, err := b.svc.HandleWebhook(ctx, junk, stripetest.Sign(webhookSecret, junk, time.Now())); !errors.Is(err, billing.ErrBadEvent) {
		t.Errorf("signed junk: %v, want ErrBadEvent", err)
	}
}

// TestWebhookAppliesAnEventOnce: a redelivered event id changes nothing,
// even its payment-failed email goes out once.
func TestWebhookAppliesAnEventOnce(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	b.linkCustomer(t, b.org, "cus_once")
	now := time.Now()
	sub := b.deliver(t, event("evt_sub", "customer.subscription.created", now,
		subscription("sub_once", "cus_once", b.org, "active", proPrice, now.Add(720*time.Hour))))
	if sub.Outcome != billing.OutcomeApplied {
		t.Fatalf("first delivery: %+v", sub)
	}
	failed := event("evt_fail", "invoice.payment_failed", now, map[string]any{"id": "in_1", "object": "invoice", "customer": "cus_once",
		"subscription": "sub_once", "amount_due": 7900, "currency": "usd", "attempt_count": 1, "hosted_invoice_url": "https://invoice.stripe.com/i/acct/in_1"})
	for i := range 3 {
		res := b.deliver(t, failed)
		want := billing.OutcomeApplied
		if i > 0 {
			want = billing.OutcomeDuplicate
		}
		if res.Outcome != want {
			t.Errorf("delivery %d: %s, want %s", i+1, res.Outcome, want)
		}
	}
	if again := b.deliver(t, event("evt_sub", "customer.subscription.created", now,
		subscription("sub_once", "cus_once", b.org, "active", proPrice, now.Add(720*time.Hour)))); again.Outcome != billing.OutcomeDuplicate {
		t.Errorf("redelivered subscription event: %s", again.Outcome)
	}
	if n := count(t, b.pool, `SELECT count(*) FROM audit_log WHERE org_id = $1 AND action = 'billing.subscription'`, b.org); n != 1 {
		t.Errorf("%d subscription audit rows, want 1", n)
	}
	var subject, recipient string
	if err := b.pool.QueryRow(context.Background(), `SELECT n.recipient, j.args->>'subject' FROM notifications n
		JOIN river_job j ON j.args->>'notification_id' = n.id::text WHERE n.org_id = $1 AND n.channel = 'email'`, b.org).Scan(&recipient, &subject); err != nil {
		t.Fatalf("payment-failed email: %v (%d notifications)", err, count(t, b.pool, `SELECT count(*) FROM notifications`))
	}
	if !strings.HasPrefix(recipient, "owner-") || !strings.Contains(subject, "Payment failed") {
		t.Errorf("email to %s, subject %q", recipient, subject)
	}
	if n := count(t, b.pool, `SELECT count(*) FROM notifications WHERE org_id = $1`, b.org); n != 1 {
		t.Errorf("%d payment-failed emails, want 1 for one owner and one attempt", n)
	}
	// Unknown event types are acknowledged and recorded.
	if res := b.deliver(t, event("evt_other", "customer.updated", now, map[string]any{"id": "cus_once", "object": "customer"})); res.Outcome != billing.OutcomeIgnored {
		t.Errorf("unknown type: %s", res.Outcome)
	}
}

// TestWebhookOutOfOrder: Stripe delivers in no particular order; the
// newest state wins and an ended subscription stays ended.
func TestWebhookOutOfOrder(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	b.linkCustomer(t, b.org, "cus_ooo")
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	end := t0.Add(720 * time.Hour)
	state := func() (string, string) {
		var status, plan string
		if err := b.pool.QueryRow(context.Background(), `SELECT status, plan FROM subscriptions WHERE org_id = $1`, b.org).Scan(&status, &plan); err != nil {
			t.Fatal(err)
		}
		return status, plan
	}
	steps := []struct {
		id, typ, sub, status, price string
		at                          time.Duration
		outcome, wantStatus         string
	}{
		// The update to active was sent after the creation, but arrives first.
		{"evt_2", "customer.subscription.updated", "sub_a", "active", proPrice, 2 * time.Second, billing.OutcomeApplied, "active"},
		{"evt_1", "customer.subscription.created", "sub_a", "trialing", proPrice, time.Second, billing.OutcomeStale, "active"},
		// Canceled, then an older update arrives: still canceled.
		{"evt_4", "customer.subscription.deleted", "sub_a", "canceled", proPrice, 4 * time.Second, billing.OutcomeApplied, "canceled"},
		{"evt_3", "customer.subscription.updated", "sub_a", "past_due", proPrice, 3 * time.Second, billing.OutcomeStale, "canceled"},
		// A newer event of the ended subscription does not revive it.
		{"evt_5", "customer.subscription.updated", "sub_a", "active", proPrice, 5 * time.Second, billing.OutcomeStale, "canceled"},
		// A new subscription replaces it.
		{"evt_6", "customer.subscription.created", "sub_b", "active", starterPrice, 6 * time.Second, billing.OutcomeApplied, "active"},
		// The old one's late cancellation does not cancel the new one.
		{"evt_7", "customer.subscription.deleted", "sub_c", "canceled", proPrice, 7 * time.Second, billing.OutcomeIgnored, "active"},
	}
	for _, s := range steps {
		res := b.deliver(t, event(s.id, s.typ, t0.Add(s.at), subscription(s.sub, "cus_ooo", b.org, s.status, s.price, end)))
		status, plan := state()
		if res.Outcome != s.outcome || status != s.wantStatus {
			t.Errorf("%s %s %s: outcome %s (%s), status %s; want %s, %s", s.id, s.sub, s.status, res.Outcome, res.Detail, status, s.outcome, s.wantStatus)
		}
		if s.id == "evt_6" && plan != "starter" {
			t.Errorf("after sub_b: plan %s, want starter", plan)
		}
	}
	if n := count(t, b.pool, `SELECT count(*) FROM stripe_events WHERE org_id = $1`, b.org); n != len(steps) {
		t.Errorf("%d events recorded, want %d", n, len(steps))
	}
}

// TestSubscriptionLifecycleLimits walks an organisation from trial to
// active on pro, past due (within and after the grace period) and
// canceled; its sensor limit follows at every step.
func TestSubscriptionLifecycleLimits(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	b.linkCustomer(t, b.org, "cus_life")
	if got := b.addSensors(t, b.org, 12); got != 10 {
		t.Fatalf("without a plan %d of 12 sensors were added, want the free 10", got)
	}
	t0 := time.Now().Add(-time.Minute).Truncate(time.Second)
	end := t0.Add(30 * 24 * time.Hour)
	deliver := func(id, typ, status string, at time.Duration) {
		t.Helper()
		res := b.deliver(t, event(id, typ, t0.Add(at), subscription("sub_life", "cus_life", b.org, status, proPrice, end)))
		if res.Outcome != billing.OutcomeApplied {
			t.Fatalf("%s: %+v", id, res)
		}
	}
	checkout := event("evt_cs", "checkout.session.completed", t0, map[string]any{"id": "cs_1", "object": "checkout.session", "mode": "subscription",
		"client_reference_id": b.org, "customer": "cus_life", "subscription": "sub_life", "metadata": map[string]any{"org_id": b.org, "plan": "pro"}})
	if res := b.deliver(t, checkout); res.Outcome != billing.OutcomeApplied {
		t.Fatalf("checkout completed: %+v", res)
	}

	deliver("evt_trial", "customer.subscription.created", "trialing", time.Second)
	if s := b.standing(t, b.org); s.Plan != "pro" || s.Status != "trialing" || s.Limit != 25 {
		t.Fatalf("trial: %+v", s)
	}
	if got := b.addSensors(t, b.org, 5); got != 5 {
		t.Errorf("trial on pro: %d of 5 added", got)
	}

	deliver("evt_active", "customer.subscription.updated", "active", 2*time.Second)
	if got := b.addSensors(t, b.org, 20); got != 10 {
		t.Errorf("active on pro: %d of 20 added, want 10 up to 25", got)
	}
	if s := b.standing(t, b.org); s.Sensors != 25 || s.Room() != 0 {
		t.Errorf("active at the limit: %+v", s)
	}
	var le *billing.LimitError
	if err := b.tryAdd(t, b.org); !errors.As(err, &le) || le.Code() != billing.CodeSensorLimit || le.Standing.Limit != 25 || le.Standing.Sensors != 25 {
		t.Errorf("26th sensor: %v", err)
	}

	// Past due: the grace period still lets a retired sensor's slot be used.
	if _, err := b.pool.Exec(context.Background(), `UPDATE sensors SET retired_at = now() WHERE id = (SELECT min(id) FROM sensors WHERE org_id = $1)`, b.org); err != nil {
		t.Fatal(err)
	}
	deliver("evt_pastdue", "customer.subscription.updated", "past_due", 3*time.Second)
	s := b.standing(t, b.org)
	if s.Status != "past_due" || s.Blocked != "" || s.GraceEndsAt == nil || !s.GraceEndsAt.Equal(t0.Add(3*time.Second).Add(72*time.Hour)) {
		t.Fatalf("past due within grace: %+v", s)
	}
	if got := b.addSensors(t, b.org, 1); got != 1 {
		t.Errorf("past due within grace: %d of 1 added", got)
	}
	// A later past_due update does not restart the grace period.
	deliver("evt_pastdue2", "customer.subscription.updated", "past_due", 4*time.Second)
	if s := b.standing(t, b.org); !s.GraceEndsAt.Equal(t0.Add(3 * time.Second).Add(72 * time.Hour)) {
		t.Errorf("grace restarted: %v", s.GraceEndsAt)
	}
	b.now = time.Now().Add(73 * time.Hour)
	if _, err := b.pool.Exec(context.Background(), `UPDATE sensors SET retired_at = now() WHERE id = (SELECT min(id) FROM sensors WHERE org_id = $1 AND retired_at IS NULL)`, b.org); err != nil {
		t.Fatal(err)
	}
	if err := b.tryAdd(t, b.org); !errors.As(err, &le) || le.Code() != billing.CodePaymentOverdue {
		t.Errorf("past due after grace, under the limit: %v, want payment_overdue", err)
	}

	// Paid again: active, sensors can be added.
	b.deliver(t, event("evt_paid", "invoice.paid", t0.Add(5*time.Second), map[string]any{"id": "in_2", "object": "invoice", "customer": "cus_life"}))
	deliver("evt_reactivated", "customer.subscription.updated", "active", 6*time.Second)
	if got := b.addSensors(t, b.org, 1); got != 1 {
		t.Errorf("active again: %d of 1 added", got)
	}

	// Canceled: back to the free limit; nothing is retired.
	deliver("evt_canceled", "customer.subscription.deleted", "canceled", 7*time.Second)
	s = b.standing(t, b.org)
	if s.Plan != "free" || s.Limit != 10 || s.Sensors != 25 || s.Room() != 0 {
		t.Errorf("canceled: %+v", s)
	}
	if n := count(t, b.pool, `SELECT count(*) FROM sensors WHERE org_id = $1 AND retired_at IS NULL`, b.org); n != 25 {
		t.Errorf("canceling retired sensors: %d left", n)
	}
}

func (b *bench) tryAdd(t *testing.T, org string) error {
	t.Helper()
	ctx := context.Background()
	tx, err := b.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	return b.limits.Guard(ctx, tx, org)
}

// TestConcurrentRegistrationsStayWithinTheLimit: many transactions adding
// sensors at once never pass the limit together.
func TestConcurrentRegistrationsStayWithinTheLimit(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	done := make(chan int)
	for range 8 {
		go func() { done <- b.addSensors(t, b.org, 3) }()
	}
	total := 0
	for range 8 {
		total += <-done
	}
	if n := count(t, b.pool, `SELECT count(*) FROM sensors WHERE org_id = $1`, b.org); total != 10 || n != 10 {
		t.Errorf("8×3 concurrent adds with room for 10: %d added, %d stored", total, n)
	}
}

// TestNewerAPIVersionEventsAreRead: from API version 2025-03-31 the period
// end is on the subscription item; FreshTrack reads it there.
func TestNewerAPIVersionEventsAreRead(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	b.linkCustomer(t, b.org, "cus_new")
	end := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second).UTC()
	obj := subscription("sub_new", "cus_new", b.org, "active", proPrice, end)
	delete(obj, "current_period_end")
	obj["items"].(map[string]any)["data"].([]any)[0].(map[string]any)["current_period_end"] = end.Unix()
	payload := []byte(strings.Replace(string(event("evt_new", "customer.subscription.created", time.Now(), obj)), "2023-10-16", "2025-03-31.basil", 1))
	if res := b.deliver(t, payload); res.Outcome != billing.OutcomeApplied {
		t.Fatalf("%+v", res)
	}
	var got time.Time
	if err := b.pool.QueryRow(context.Background(), `SELECT current_period_end FROM subscriptions WHERE org_id = $1`, b.org).Scan(&got); err != nil || !got.Equal(end) {
		t.Errorf("period end %v (%v), want %v", got, err, end)
	}
}

// TestUnmatchedEventsAreAcknowledged: an event of a customer no
// organisation has is recorded as unmatched and changes nothing.
func TestUnmatchedEventsAreAcknowledged(t *testing.T) {
	t.Parallel()
	b := newBench(t)
	obj := subscription("sub_x", "cus_nobody", "not-a-uuid", "active", proPrice, time.Now())
	if res := b.deliver(t, event("evt_x", "customer.subscription.created", time.Now(), obj)); res.Outcome != billing.OutcomeUnmatched {
		t.Errorf("%+v", res)
	}
	if n := count(t, b.pool, `SELECT count(*) FROM subscriptions`); n != 0 {
		t.Errorf("%d subscriptions rows", n)
	}
}
