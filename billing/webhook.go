package billing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/freshtrack/freshtrack/internal/uuids"
)

// MaxWebhookBody bounds a Stripe webhook body. Stripe's events are a few
// kilobytes; an invoice with many lines reaches a few hundred.
const MaxWebhookBody = 1 << 20

// SignatureError is a webhook whose Stripe-Signature does not verify.
type SignatureError struct{ Err error }

func (e *SignatureError) Error() string {
	switch {
	case errors.Is(e.Err, webhook.ErrNotSigned):
		return "the request has no Stripe-Signature header"
	case errors.Is(e.Err, webhook.ErrInvalidHeader):
		return "the Stripe-Signature header is not t=<unix time>,v1=<hex signature>"
	case errors.Is(e.Err, webhook.ErrTooOld):
		return "the signature's timestamp is outside the tolerance: a replayed or delayed delivery"
	case errors.Is(e.Err, webhook.ErrNoValidSignature):
		return "no v1 signature matches the body with the endpoint's signing secret"
	}
	return "the signature does not verify: " + e.Err.Error()
}

func (e *SignatureError) Unwrap() error { return e.Err }

// ErrBadEvent is a signed body that is not a Stripe event.
var ErrBadEvent = errors.New("not a Stripe event")

// Outcomes of a webhook event.
const (
	OutcomeApplied   = "applied"
	OutcomeStale     = "stale"
	OutcomeIgnored   = "ignored"
	OutcomeUnmatched = "unmatched"
	// OutcomeDuplicate is an event id processed before: nothing changed.
	OutcomeDuplicate = "duplicate"
)

// WebhookResult says what an event did.
type WebhookResult struct {
	Event   string `json:"event"`
	Type    string `json:"type"`
	Outcome string `json:"outcome"`
	Detail  string `json:"detail,omitempty"`
}

// effect is what handling one event did, recorded on its stripe_events row.
type effect struct {
	outcome, org, detail string
}

// HandleWebhook verifies a Stripe webhook delivery and applies its event
// once: the event id is recorded in the transaction of its effect, so a
// redelivery (or a replay within the tolerance) changes nothing. Events of
// types FreshTrack does not use are recorded and acknowledged.
//
// The event's API version is not required to be stripe-go's: the fields
// read here (status, customer, price, period end, metadata) are decoded by
// FreshTrack from the raw object and mean the same in every version since
// 2020; the period end is also read from the subscription item, where API
// versions from 2025-03-31 on put it.
func (s *Service) HandleWebhook(ctx context.Context, payload []byte, signature string) (WebhookResult, error) {
	if s.cfg.WebhookSecret == "" {
		return WebhookResult{}, ErrWebhookNotConfigured
	}
	ev, err := webhook.ConstructEventWithOptions(payload, signature, s.cfg.WebhookSecret,
		webhook.ConstructEventOptions{Tolerance: s.cfg.WebhookTolerance, IgnoreAPIVersionMismatch: true})
	if err != nil {
		if errors.Is(err, webhook.ErrNotSigned) || errors.Is(err, webhook.ErrInvalidHeader) || errors.Is(err, webhook.ErrTooOld) || errors.Is(err, webhook.ErrNoValidSignature) {
			return WebhookResult{}, &SignatureError{Err: err}
		}
		return WebhookResult{}, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	// stripe-go bounds a signature's age only; one from the future is a
	// clock that cannot be trusted either, and would stretch the replay
	// window.
	if at, ok := signedAt(signature); ok && at.After(time.Now().Add(s.cfg.WebhookTolerance)) {
		return WebhookResult{}, &SignatureError{Err: fmt.Errorf("%w: the signature's timestamp %s is in the future", webhook.ErrTooOld, at.UTC().Format(time.RFC3339))}
	}
	if !utf8.Valid(payload) {
		return WebhookResult{}, fmt.Errorf("%w: the body is not valid UTF-8", ErrBadEvent)
	}
	if ev.ID == "" || ev.Type == "" || ev.Created <= 0 || ev.Data == nil || len(ev.Data.Raw) == 0 {
		return WebhookResult{}, fmt.Errorf("%w: id, type, created and data.object are required", ErrBadEvent)
	}
	res := WebhookResult{Event: ev.ID, Type: string(ev.Type)}
	created := time.Unix(ev.Created, 0).UTC()
	err = pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO stripe_events (id, type, created, outcome) VALUES ($1, $2, $3, 'ignored') ON CONFLICT (id) DO NOTHING`,
			ev.ID, string(ev.Type), created)
		if err != nil {
			return fmt.Errorf("billing: record event: %w", err)
		}
		if tag.RowsAffected() == 0 {
			res.Outcome = OutcomeDuplicate
			return nil
		}
		eff, err := s.apply(ctx, tx, ev, created)
		if err != nil {
			return err
		}
		res.Outcome, res.Detail = eff.outcome, eff.detail
		var org *string
		if eff.org != "" {
			org = &eff.org
		}
		_, err = tx.Exec(ctx, `UPDATE stripe_events SET outcome = $2, org_id = $3, detail = nullif($4, '') WHERE id = $1`, ev.ID, eff.outcome, org, eff.detail)
		return err
	})
	if err != nil {
		return WebhookResult{}, err
	}
	if res.Outcome != OutcomeDuplicate {
		s.log.Info("stripe event", "event", res.Event, "type", res.Type, "outcome", res.Outcome, "detail", res.Detail)
	}
	return res, nil
}

// signedAt reads the t= timestamp of a Stripe-Signature header.
func signedAt(header string) (time.Time, bool) {
	for _, part := range strings.Split(header, ",") {
		if v, ok := strings.CutPrefix(part, "t="); ok {
			if sec, err := strconv.ParseInt(v, 10, 64); err == nil {
				return time.Unix(sec, 0), true
			}
		}
	}
	return time.Time{}, false
}

func (s *Service) apply(ctx context.Context, tx pgx.Tx, ev stripe.Event, created time.Time) (effect, error) {
	raw := ev.Data.Raw
	switch ev.Type {
	case "checkout.session.completed":
		var cs checkoutObject
		if err := json.Unmarshal(raw, &cs); err != nil {
			return effect{}, fmt.Errorf("%w: checkout session: %v", ErrBadEvent, err)
		}
		return s.checkoutCompleted(ctx, tx, cs)
	case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
		"customer.subscription.paused", "customer.subscription.resumed":
		var sub subscriptionObject
		if err := json.Unmarshal(raw, &sub); err != nil || sub.ID == "" || sub.Status == "" {
			return effect{}, fmt.Errorf("%w: subscription without id or status (%v)", ErrBadEvent, err)
		}
		return s.applySubscription(ctx, tx, sub, created)
	case "invoice.paid", "invoice.payment_failed":
		var inv invoiceObject
		if err := json.Unmarshal(raw, &inv); err != nil || inv.ID == "" {
			return effect{}, fmt.Errorf("%w: invoice without id (%v)", ErrBadEvent, err)
		}
		if ev.Type == "invoice.paid" {
			return s.invoicePaid(ctx, tx, inv, created)
		}
		return s.paymentFailed(ctx, tx, inv, created)
	}
	return effect{outcome: OutcomeIgnored, detail: "FreshTrack does not use " + string(ev.Type) + " events"}, nil
}

// idOrObject is a Stripe field that is an id, or the object when expanded.
type idOrObject string

func (v *idOrObject) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var id string
	if err := json.Unmarshal(b, &id); err == nil {
		*v = idOrObject(id)
		return nil
	}
	var obj struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	*v = idOrObject(obj.ID)
	return nil
}

type checkoutObject struct {
	ID                string            `json:"id"`
	Mode              string            `json:"mode"`
	ClientReferenceID string            `json:"client_reference_id"`
	Customer          idOrObject        `json:"customer"`
	Subscription      idOrObject        `json:"subscription"`
	Metadata          map[string]string `json:"metadata"`
}

type invoiceObject struct {
	ID               string     `json:"id"`
	Customer         idOrObject `json:"customer"`
	Subscription     idOrObject `json:"subscription"`
	AmountDue        int64      `json:"amount_due"`
	Currency         string     `json:"currency"`
	AttemptCount     int        `json:"attempt_count"`
	NextAttempt      *int64     `json:"next_payment_attempt"`
	HostedInvoiceURL string     `json:"hosted_invoice_url"`
}

// orgOf finds the organisation an object belongs to: the org_id FreshTrack
// put in its metadata (or the checkout's client reference), else the
// organisation whose customer it is.
func orgOf(ctx context.Context, tx pgx.Tx, customer string, refs ...string) (string, error) {
	for _, ref := range refs {
		if !uuids.Valid(ref) {
			continue
		}
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM organizations WHERE id = $1)`, ref).Scan(&ok); err != nil {
			return "", fmt.Errorf("billing: find organisation: %w", err)
		}
		if ok {
			return ref, nil
		}
	}
	if customer == "" {
		return "", nil
	}
	var org string
	err := tx.QueryRow(ctx, `SELECT org_id::text FROM subscriptions WHERE stripe_customer_id = $1`, customer).Scan(&org)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("billing: find organisation by customer: %w", err)
	}
	return org, nil
}

func unmatched(what, customer string) effect {
	return effect{outcome: OutcomeUnmatched, detail: fmt.Sprintf("no organisation has %s (customer %q, no org_id in its metadata)", what, customer)}
}

// checkoutCompleted links the customer and the new subscription to the
// organisation. The subscription's state comes with its own events.
func (s *Service) checkoutCompleted(ctx context.Context, tx pgx.Tx, cs checkoutObject) (effect, error) {
	if cs.Mode != "" && cs.Mode != "subscription" {
		return effect{outcome: OutcomeIgnored, detail: "a " + cs.Mode + "-mode checkout is not a subscription"}, nil
	}
	org, err := orgOf(ctx, tx, string(cs.Customer), cs.ClientReferenceID, cs.Metadata["org_id"])
	if err != nil || org == "" {
		return unmatched("this checkout", string(cs.Customer)), err
	}
	var cus, sub *string
	if cs.Customer != "" {
		c := string(cs.Customer)
		cus = &c
	}
	if cs.Subscription != "" {
		x := string(cs.Subscription)
		sub = &x
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO subscriptions (org_id, stripe_customer_id, stripe_subscription_id) VALUES ($1, $2, $3)
		ON CONFLICT (org_id) DO UPDATE SET
		       stripe_customer_id = coalesce(subscriptions.stripe_customer_id, excluded.stripe_customer_id),
		       stripe_subscription_id = CASE WHEN subscriptions.stripe_subscription_id IS NULL
		                                       OR subscriptions.status NOT IN ('trial', 'trialing', 'active', 'past_due', 'unpaid')
		                                     THEN coalesce(excluded.stripe_subscription_id, subscriptions.stripe_subscription_id)
		                                     ELSE subscriptions.stripe_subscription_id END,
		       updated_at = now()`, org, cus, sub)
	if err != nil {
		return effect{}, fmt.Errorf("billing: checkout completed: %w", err)
	}
	return effect{outcome: OutcomeApplied, org: org, detail: "checkout " + cs.ID + " completed"}, nil
}
