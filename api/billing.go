package api

import (
	"errors"
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/billing"
	"github.com/freshtrack/freshtrack/internal/httpbody"
	"github.com/freshtrack/freshtrack/internal/problem"
)

var (
	billingStatusSchema = refine(schemaOf(billing.Status{}), map[string]map[string]any{
		"plan":   {"description": `the subscribed plan; "free" without a live subscription`},
		"status": {"enum": []string{"none", "trial", "trialing", "active", "past_due", "unpaid", "canceled", "paused", "incomplete", "incomplete_expired"}, "description": "Stripe's subscription status (none before any)"},
	})
	sessionSchema = refine(schemaOf(billing.Session{}), map[string]map[string]any{
		"url": {"format": "uri", "description": "send the owner's browser here"}})
	checkoutBody = map[string]any{"type": "object", "additionalProperties": false, "required": []string{"plan"},
		"properties": map[string]any{"plan": map[string]any{"type": "string", "description": "a plan's name, as GET /v1/orgs/{org}/billing lists them"}}}
	// StripeWebhookRoute documents POST /v1/webhooks/stripe.
	StripeWebhookRoute = Route{Method: "POST", Path: "/v1/webhooks/stripe", Summary: "Stripe webhook (Stripe-Signature, HMAC-SHA256)", Tag: "webhooks", Public: true,
		Request:  map[string]any{"type": "object", "description": "a Stripe event (checkout.session.completed, customer.subscription.*, invoice.paid, invoice.payment_failed; others are acknowledged)"},
		Response: schemaOf(billing.WebhookResult{})}
)

// billingError maps billing's errors to problems.
func billingError(err error) error {
	var pe *billing.PlanError
	var se *billing.StripeError
	switch {
	case errors.Is(err, billing.ErrNotConfigured), errors.Is(err, billing.ErrWebhookNotConfigured):
		return problem.New(fiber.StatusServiceUnavailable, "billing-not-configured", "Billing not configured", err.Error())
	case errors.As(err, &pe):
		return problem.Validation(problem.FieldError{Field: "plan", Reason: pe.Reason})
	case errors.Is(err, billing.ErrSubscribed):
		return problem.New(fiber.StatusConflict, "conflict", "Conflict", err.Error())
	case errors.As(err, &se):
		return problem.New(fiber.StatusBadGateway, "stripe", "Stripe did not do it", se.Error())
	}
	if le, ok := billing.IsLimit(err); ok {
		return limitProblem(le)
	}
	return err
}

// limitProblem refuses a sensor over the organisation's limit, with what a
// client needs to tell the person: the code, the count and the limit.
func limitProblem(le *billing.LimitError) *problem.Problem {
	p := problem.New(fiber.StatusForbidden, "sensor-limit", "Sensor limit reached", le.Error())
	var limit any
	if le.Standing.Limit != billing.Unlimited {
		limit = le.Standing.Limit
	}
	p.Extensions = map[string]any{"code": le.Code(), "current": le.Standing.Sensors, "limit": limit,
		"plan": le.Standing.Plan, "subscription_status": le.Standing.Status}
	return p
}

func (r *Router) billingService() (*billing.Service, error) {
	if r.deps.Billing == nil || !r.deps.Billing.Configured() {
		return nil, billingError(billing.ErrNotConfigured)
	}
	return r.deps.Billing, nil
}

// registerBilling mounts an organisation's billing: its state for admins,
// Checkout and the portal for owners.
func (r *Router) registerBilling() {
	base := "/v1/orgs/:org/billing"
	r.Handle(Route{Method: "GET", Path: base, Summary: "Plan, subscription status, period end and sensors against the limit", Tag: "billing",
		Perm: auth.PermAdminister, Response: billingStatusSchema},
		func(c *fiber.Ctx) error {
			b, err := r.billingService()
			if err != nil {
				return err
			}
			st, err := b.Status(c.UserContext(), OrgOf(c))
			if err != nil {
				return billingError(err)
			}
			return c.JSON(st)
		})
	r.Handle(Route{Method: "POST", Path: base + "/checkout", Summary: "Start a Stripe Checkout subscribing the organisation to a plan", Tag: "billing",
		Perm: auth.PermOwn, Request: checkoutBody, Response: sessionSchema,
		Example: func(map[string]string) map[string]any { return map[string]any{"plan": "pro"} }},
		func(c *fiber.Ctx) error {
			var in struct {
				Plan string `json:"plan"`
			}
			if err := strictBody(c, &in); err != nil {
				return err
			}
			if in.Plan == "" {
				return problem.Validation(problem.FieldError{Field: "plan", Reason: "is required"})
			}
			b, err := r.billingService()
			if err != nil {
				return err
			}
			s, err := b.Checkout(c.UserContext(), OrgOf(c), in.Plan, Actor(c))
			if err != nil {
				return billingError(err)
			}
			return c.JSON(s)
		})
	r.Handle(Route{Method: "POST", Path: base + "/portal", Summary: "Open the Stripe customer portal to change plan, payment method or cancel", Tag: "billing",
		Perm: auth.PermOwn, Response: sessionSchema},
		func(c *fiber.Ctx) error {
			b, err := r.billingService()
			if err != nil {
				return err
			}
			s, err := b.Portal(c.UserContext(), OrgOf(c), Actor(c))
			if err != nil {
				return billingError(err)
			}
			return c.JSON(s)
		})
}

// RegisterStripeWebhook mounts the Stripe webhook. The body is read
// uncompressed and bounded, and nothing is done with it before its
// Stripe-Signature verifies; a nil service, or one without a signing
// secret, answers 503.
func RegisterStripeWebhook(app *fiber.App, b *billing.Service, adm *httpbody.Admission, log *slog.Logger) {
	app.Post(StripeWebhookRoute.Path, func(c *fiber.Ctx) error {
		if b == nil {
			return billingError(billing.ErrWebhookNotConfigured)
		}
		if ct := string(c.Request().Header.ContentType()); ct != "" && !httpbody.IsJSON(ct) {
			return httpbody.WrongContentType(ct, "application/json")
		}
		body, err := httpbody.Read(c, adm, httpbody.Options{Limit: billing.MaxWebhookBody, Identity: true})
		defer body.Close()
		if err != nil {
			return err
		}
		res, err := b.HandleWebhook(c.UserContext(), body.Bytes, c.Get("Stripe-Signature"))
		var sig *billing.SignatureError
		switch {
		case errors.As(err, &sig):
			return problem.New(fiber.StatusBadRequest, "bad-signature", "Invalid signature", sig.Error())
		case errors.Is(err, billing.ErrBadEvent):
			return problem.BadRequest(err.Error())
		case errors.Is(err, billing.ErrWebhookNotConfigured):
			return billingError(err)
		case err != nil:
			log.ErrorContext(c.UserContext(), "stripe webhook", "err", err)
			return err // 500: Stripe retries
		}
		return c.JSON(res)
	})
}
