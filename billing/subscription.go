package billing

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/auth"
)

type subscriptionObject struct {
	ID                string            `json:"id"`
	Customer          idOrObject        `json:"customer"`
	Status            string            `json:"status"`
	CurrentPeriodEnd  int64             `json:"current_period_end"`
	TrialEnd          *int64            `json:"trial_end"`
	CancelAtPeriodEnd bool              `json:"cancel_at_period_end"`
	Metadata          map[string]string `json:"metadata"`
	Items             struct {
		Data []struct {
			Price struct {
				ID string `json:"id"`
			} `json:"price"`
			CurrentPeriodEnd int64 `json:"current_period_end"`
		} `json:"data"`
	} `json:"items"`
}

// knownStatuses are Stripe's subscription statuses.
var knownStatuses = map[string]bool{"trialing": true, "active": true, "past_due": true, "unpaid": true, "canceled": true,
	"paused": true, "incomplete": true, "incomplete_expired": true}

// ended reports whether a subscription in this status can never be live
// again (Stripe does not revive canceled or expired subscriptions).
func ended(status string) bool { return status == "canceled" || status == "incomplete_expired" }

// planOf tells a subscription's plan by its price, else by the plan name
// FreshTrack put in its metadata at checkout.
func (s *Service) planOf(sub subscriptionObject) (name string, limit *int) {
	for _, it := range sub.Items.Data {
		if p, ok := s.Catalog().ByPrice(it.Price.ID); ok {
			return p.Name, &p.Sensors
		}
	}
	if p, ok := s.Catalog().Plan(sub.Metadata["plan"]); ok {
		return p.Name, &p.Sensors
	}
	var prices []string
	for _, it := range sub.Items.Data {
		prices = append(prices, it.Price.ID)
	}
	s.log.Warn("stripe subscription has no configured plan's price: the free limit applies (add the price to FRESHTRACK_BILLING_PLANS)",
		"subscription", sub.ID, "prices", strings.Join(prices, ","))
	return "unknown", nil
}

func periodEnd(sub subscriptionObject) *time.Time {
	end := sub.CurrentPeriodEnd
	for _, it := range sub.Items.Data {
		end = max(end, it.CurrentPeriodEnd)
	}
	if end <= 0 {
		return nil
	}
	t := time.Unix(end, 0).UTC()
	return &t
}

// applySubscription stores a subscription's state unless a newer one is
// stored: events carry their state as of their creation, and Stripe
// delivers them in no particular order. An event older than the stored
// state's is stale; so is any event of a subscription that ended; and an
// ended subscription does not replace another that is live. Events of the
// same second apply in arrival order.
func (s *Service) applySubscription(ctx context.Context, tx pgx.Tx, sub subscriptionObject, created time.Time) (effect, error) {
	if !knownStatuses[sub.Status] {
		return effect{}, fmt.Errorf("%w: subscription status %q", ErrBadEvent, sub.Status)
	}
	org, err := orgOf(ctx, tx, string(sub.Customer), sub.Metadata["org_id"])
	if err != nil || org == "" {
		return unmatched("subscription "+sub.ID, string(sub.Customer)), err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO subscriptions (org_id) VALUES ($1) ON CONFLICT (org_id) DO NOTHING`, org); err != nil {
		return effect{}, fmt.Errorf("billing: subscription row: %w", err)
	}
	var (
		curSub                         *string
		curStatus                      string
		stateAt, pastDue, meteredSince *time.Time
	)
	if err := tx.QueryRow(ctx, `SELECT stripe_subscription_id, status, state_at, past_due_since, metered_from FROM subscriptions WHERE org_id = $1 FOR UPDATE`, org).
		Scan(&curSub, &curStatus, &stateAt, &pastDue, &meteredSince); err != nil {
		return effect{}, fmt.Errorf("billing: subscription row: %w", err)
	}
	same := curSub != nil && *curSub == sub.ID
	switch {
	case stateAt != nil && created.Before(*stateAt):
		return effect{outcome: OutcomeStale, org: org, detail: fmt.Sprintf("state of %s newer than this event (%s) is stored", stateAt.Format(time.RFC3339), created.Format(time.RFC3339))}, nil
	case same && ended(curStatus):
		return effect{outcome: OutcomeStale, org: org, detail: "subscription " + sub.ID + " has ended"}, nil
	case curSub != nil && !same && liveStatuses[curStatus] && !liveStatuses[sub.Status]:
		return effect{outcome: OutcomeIgnored, org: org, detail: fmt.Sprintf("subscription %s is %s but %s is the organisation's live one", sub.ID, sub.Status, *curSub)}, nil
	}
	plan, limit := s.planOf(sub)
	if isPastDue(sub.Status) {
		if !isPastDue(curStatus) || pastDue == nil {
			pastDue = &created
		}
	} else {
		pastDue = nil
	}
	if liveStatuses[sub.Status] && meteredSince == nil {
		meteredSince = &created
	}
	var trialEnd *time.Time
	if sub.TrialEnd != nil && *sub.TrialEnd > 0 {
		t := time.Unix(*sub.TrialEnd, 0).UTC()
		trialEnd = &t
	}
	var cus *string
	if sub.Customer != "" {
		c := string(sub.Customer)
		cus = &c
	}
	_, err = tx.Exec(ctx, `
		UPDATE subscriptions SET stripe_subscription_id = $2, stripe_customer_id = coalesce(stripe_customer_id, $3), plan = $4, status = $5,
		       sensor_limit = $6, current_period_end = $7, trial_end = $8, cancel_at_period_end = $9, past_due_since = $10,
		       metered_from = $11, state_at = $12, updated_at = now()
		 WHERE org_id = $1`,
		org, sub.ID, cus, plan, sub.Status, limit, periodEnd(sub), trialEnd, sub.CancelAtPeriodEnd, pastDue, meteredSince, created)
	if err != nil {
		return effect{}, fmt.Errorf("billing: store subscription: %w", err)
	}
	detail := fmt.Sprintf("%s: %s → %s (%s)", sub.ID, curStatus, sub.Status, plan)
	err = auth.WriteAudit(ctx, tx, auth.AuditEntry{OrgID: org, Actor: "stripe", Action: "billing.subscription", TargetType: "organization", TargetID: org,
		Details: map[string]string{"subscription": sub.ID, "from": curStatus, "to": sub.Status, "plan": plan}})
	return effect{outcome: OutcomeApplied, org: org, detail: detail}, err
}

// invoicePaid records the payment; the subscription's own event turns a
// past-due subscription active again.
func (s *Service) invoicePaid(ctx context.Context, tx pgx.Tx, inv invoiceObject, created time.Time) (effect, error) {
	org, err := orgOf(ctx, tx, string(inv.Customer))
	if err != nil || org == "" {
		return unmatched("invoice "+inv.ID, string(inv.Customer)), err
	}
	_, err = tx.Exec(ctx, `UPDATE subscriptions SET last_invoice_paid_at = greatest(last_invoice_paid_at, $2), updated_at = now() WHERE org_id = $1`, org, created)
	if err != nil {
		return effect{}, fmt.Errorf("billing: invoice paid: %w", err)
	}
	return effect{outcome: OutcomeApplied, org: org, detail: "invoice " + inv.ID + " paid"}, nil
}
