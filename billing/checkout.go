package billing

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/stripe/stripe-go/v76"

	"github.com/freshtrack/freshtrack/auth"
)

// PlanError is a checkout of a plan that is not configured or has no
// Stripe price.
type PlanError struct{ Plan, Reason string }

func (e *PlanError) Error() string { return fmt.Sprintf("plan %q %s", e.Plan, e.Reason) }

// ErrSubscribed refuses a checkout for an organisation whose subscription
// is live: plans are changed in the customer portal.
var ErrSubscribed = errors.New("the organisation already has a live subscription: change its plan in the billing portal")

// customer returns the organisation's Stripe customer, creating it (with
// the organisation's id in its metadata) on first need. The row lock held
// while Stripe answers keeps two first calls from making two customers;
// the idempotency key keeps a retry after a crash from doing so.
func (s *Service) customer(ctx context.Context, org string) (string, error) {
	if !s.Configured() {
		return "", ErrNotConfigured
	}
	var id string
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO subscriptions (org_id) VALUES ($1) ON CONFLICT (org_id) DO NOTHING`, org); err != nil {
			return fmt.Errorf("billing: subscription row: %w", err)
		}
		var have *string
		var name string
		if err := tx.QueryRow(ctx, `SELECT s.stripe_customer_id, o.name FROM subscriptions s JOIN organizations o ON o.id = s.org_id
			WHERE s.org_id = $1 FOR UPDATE OF s`, org).Scan(&have, &name); err != nil {
			return fmt.Errorf("billing: subscription row: %w", err)
		}
		if have != nil {
			id = *have
			return nil
		}
		p := &stripe.CustomerParams{Name: stripe.String(name), Metadata: map[string]string{"org_id": org}}
		p.SetIdempotencyKey("freshtrack-customer-" + org)
		c, err := s.api.Customers.New(p)
		if err != nil {
			return &StripeError{Op: "create the customer", Err: err}
		}
		if _, err := tx.Exec(ctx, `UPDATE subscriptions SET stripe_customer_id = $2, updated_at = now() WHERE org_id = $1`, org, c.ID); err != nil {
			return fmt.Errorf("billing: store customer: %w", err)
		}
		id = c.ID
		return auth.WriteAudit(ctx, tx, auth.AuditEntry{OrgID: org, Actor: "system", Action: "billing.customer",
			TargetType: "organization", TargetID: org, Details: map[string]string{"customer": c.ID}})
	})
	return id, err
}

// Session is a Stripe-hosted page to send an owner to.
type Session struct {
	ID  string `json:"id,omitempty"`
	URL string `json:"url"`
}

// Checkout starts a Checkout Session subscribing the organisation to plan.
func (s *Service) Checkout(ctx context.Context, org, plan, actor string) (Session, error) {
	if !s.Configured() {
		return Session{}, ErrNotConfigured
	}
	p, ok := s.Catalog().Plan(plan)
	switch {
	case !ok:
		return Session{}, &PlanError{Plan: plan, Reason: "is not one of the plans (freshtrack billing plans lists them)"}
	case p.PriceID == "":
		return Session{}, &PlanError{Plan: plan, Reason: "has no Stripe price: it is sold by contract, not through Checkout"}
	}
	row, err := loadSubscriptionRow(ctx, s.cfg.Pool, org)
	if err != nil {
		return Session{}, fmt.Errorf("billing: read subscription: %w", err)
	}
	if liveStatuses[row.status] {
		return Session{}, ErrSubscribed
	}
	cus, err := s.customer(ctx, org)
	if err != nil {
		return Session{}, err
	}
	meta := map[string]string{"org_id": org, "plan": p.Name}
	params := &stripe.CheckoutSessionParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModeSubscription)),
		Customer:          stripe.String(cus),
		ClientReferenceID: stripe.String(org),
		LineItems:         []*stripe.CheckoutSessionLineItemParams{{Price: stripe.String(p.PriceID), Quantity: stripe.Int64(1)}},
		SuccessURL:        stripe.String(s.cfg.PublicURL + "/o/" + org + "/settings/billing?checkout=done"),
		CancelURL:         stripe.String(s.cfg.PublicURL + "/o/" + org + "/settings/billing?checkout=cancelled"),
		Metadata:          meta,
		SubscriptionData:  &stripe.CheckoutSessionSubscriptionDataParams{Metadata: meta},
	}
	if s.cfg.TrialDays > 0 {
		params.SubscriptionData.TrialPeriodDays = stripe.Int64(int64(s.cfg.TrialDays))
	}
	cs, err := s.api.CheckoutSessions.New(params)
	if err != nil {
		return Session{}, &StripeError{Op: "start Checkout", Err: err}
	}
	err = auth.WriteAudit(ctx, s.cfg.Pool, auth.AuditEntry{OrgID: org, Actor: actor, Action: "billing.checkout",
		TargetType: "organization", TargetID: org, Details: map[string]string{"plan": p.Name, "session": cs.ID}})
	return Session{ID: cs.ID, URL: cs.URL}, err
}

// Portal opens a Customer Portal session for the organisation.
func (s *Service) Portal(ctx context.Context, org, actor string) (Session, error) {
	cus, err := s.customer(ctx, org)
	if err != nil {
		return Session{}, err
	}
	ps, err := s.api.BillingPortalSessions.New(&stripe.BillingPortalSessionParams{
		Customer: stripe.String(cus), ReturnURL: stripe.String(s.cfg.PublicURL + "/o/" + org + "/settings/billing")})
	if err != nil {
		return Session{}, &StripeError{Op: "open the billing portal", Err: err}
	}
	err = auth.WriteAudit(ctx, s.cfg.Pool, auth.AuditEntry{OrgID: org, Actor: actor, Action: "billing.portal",
		TargetType: "organization", TargetID: org})
	return Session{ID: ps.ID, URL: ps.URL}, err
}
