package billing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Status is an organisation's billing as its admins see it.
type Status struct {
	Plan              string     `json:"plan"`
	Status            string     `json:"status"`
	Customer          bool       `json:"customer"`
	PeriodEnd         *time.Time `json:"current_period_end"`
	TrialEnd          *time.Time `json:"trial_end"`
	CancelAtPeriodEnd bool       `json:"cancel_at_period_end"`
	PastDueSince      *time.Time `json:"past_due_since"`
	GraceEndsAt       *time.Time `json:"grace_ends_at"`
	LastInvoicePaidAt *time.Time `json:"last_invoice_paid_at"`
	LastPaymentFailed *time.Time `json:"last_payment_failed_at"`
	Sensors           Usage      `json:"sensors"`
	Plans             []Plan     `json:"plans"`
	Metering          []Metering `json:"metering"`
}

// Usage is the sensors counted against the limit.
type Usage struct {
	Used int `json:"used"`
	// Limit is nil when unlimited.
	Limit    *int `json:"limit"`
	Contract bool `json:"contract"`
	// CanAdd says whether a sensor may be added now; Blocked says why not
	// when the limit is not the reason.
	CanAdd  bool   `json:"can_add"`
	Blocked string `json:"blocked,omitempty"`
}

// Metering is where one meter stands.
type Metering struct {
	Metric string `json:"metric"`
	Event  string `json:"event_name"`
	// LastSentHour is the start of the newest hour sent.
	LastSentHour *time.Time `json:"last_sent_hour"`
	// Unsent counts hours (or ranges) that failed, could not be sent any
	// more, or may or may not have reached Stripe.
	Unsent int `json:"unsent"`
	// Pending counts hours recorded and not yet confirmed sent.
	Pending int `json:"pending"`
}

// Status returns the organisation's billing.
func (s *Service) Status(ctx context.Context, org string) (Status, error) {
	if !s.Configured() {
		return Status{}, ErrNotConfigured
	}
	st, err := s.limits.Standing(ctx, s.cfg.Pool, org)
	if err != nil {
		return Status{}, err
	}
	out := Status{Plan: st.Plan, Status: st.Status, GraceEndsAt: st.GraceEndsAt, Plans: s.Catalog().Plans,
		Sensors: Usage{Used: st.Sensors, Contract: st.Contract, CanAdd: st.Room() > 0, Blocked: st.Blocked}}
	if out.Plans == nil {
		out.Plans = []Plan{}
	}
	if st.Limit != Unlimited {
		out.Sensors.Limit = &st.Limit
	}
	var customer *string
	err = s.cfg.Pool.QueryRow(ctx, `SELECT stripe_customer_id, current_period_end, trial_end, cancel_at_period_end, past_due_since,
		       last_invoice_paid_at, last_payment_failed_at FROM subscriptions WHERE org_id = $1`, org).
		Scan(&customer, &out.PeriodEnd, &out.TrialEnd, &out.CancelAtPeriodEnd, &out.PastDueSince, &out.LastInvoicePaidAt, &out.LastPaymentFailed)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Status{}, fmt.Errorf("billing: read subscription: %w", err)
	}
	out.Customer = customer != nil
	out.Metering = []Metering{}
	for _, m := range s.meters() {
		mt := Metering{Metric: m.metric, Event: m.event}
		err := s.cfg.Pool.QueryRow(ctx, `SELECT max(period_start) FILTER (WHERE status = 'sent'),
			       count(*) FILTER (WHERE status IN ('failed', 'skipped', 'unknown')), count(*) FILTER (WHERE status = 'pending')
			  FROM usage_reports WHERE org_id = $1 AND metric = $2`, org, m.metric).Scan(&mt.LastSentHour, &mt.Unsent, &mt.Pending)
		if err != nil {
			return Status{}, fmt.Errorf("billing: read metering: %w", err)
		}
		out.Metering = append(out.Metering, mt)
	}
	return out, nil
}
