package billing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/database"
)

// Standing is what an organisation's billing allows at one moment.
type Standing struct {
	// Plan is the subscribed plan, "free" without a live subscription.
	Plan string `json:"plan"`
	// Status is Stripe's subscription status, "none" before any.
	Status string `json:"status"`
	// Sensors is how many sensors count against the limit: registered and
	// not retired (FreshTrack Pro's per-unit stand-ins do not count).
	Sensors int `json:"sensors"`
	// Limit is the most sensors allowed, or Unlimited.
	Limit int `json:"limit"`
	// Contract says the limit is an operator's, by contract.
	Contract bool `json:"contract"`
	// GraceEndsAt is when a past-due subscription stops adding sensors.
	GraceEndsAt *time.Time `json:"grace_ends_at"`
	// Blocked, when set, says why no sensor may be added whatever the limit.
	Blocked string `json:"blocked,omitempty"`
}

// Room is how many more sensors may be registered now.
func (s Standing) Room() int {
	switch {
	case s.Blocked != "":
		return 0
	case s.Limit == Unlimited:
		return int(^uint(0) >> 1)
	}
	return max(0, s.Limit-s.Sensors)
}

// Limit codes of a LimitError.
const (
	CodeSensorLimit    = "sensor_limit_reached"
	CodePaymentOverdue = "payment_overdue"
)

// LimitError refuses a new sensor: the plan's limit is reached, or a
// past-due subscription's grace period is over.
type LimitError struct {
	Standing Standing
}

// Code is CodeSensorLimit or CodePaymentOverdue.
func (e *LimitError) Code() string {
	if e.Standing.Blocked != "" {
		return CodePaymentOverdue
	}
	return CodeSensorLimit
}

func (e *LimitError) Error() string {
	s := e.Standing
	if s.Blocked != "" {
		return s.Blocked
	}
	what := "the " + s.Plan + " plan allows"
	switch {
	case s.Contract:
		what = "the organisation's contract allows"
	case s.Plan == "free":
		what = "without a subscription an organisation may have"
	}
	return fmt.Sprintf("sensor limit reached: %s %d sensors and %d are registered; upgrade the plan or retire a sensor (readings of registered sensors keep being stored)",
		what, s.Limit, s.Sensors)
}

// IsLimit reports whether err is a *LimitError and returns it.
func IsLimit(err error) (*LimitError, bool) {
	var le *LimitError
	ok := errors.As(err, &le)
	return le, ok
}

// Limits decides how many sensors organisations may have, from their
// subscriptions row and the configured catalog.
type Limits struct {
	Catalog Catalog
	// Grace is how long a past-due subscription may still add sensors.
	Grace time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
}

func (l *Limits) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// liveStatuses are the subscription statuses that grant the plan's limit
// ("trial" is FreshTrack Pro's trialing). Canceled, paused, incomplete and
// incomplete_expired ones fall back to the free limit.
var liveStatuses = map[string]bool{"trial": true, "trialing": true, "active": true, "past_due": true, "unpaid": true}

func isPastDue(status string) bool { return status == "past_due" || status == "unpaid" }

// subscriptionRow is what the limits read from subscriptions.
type subscriptionRow struct {
	plan, status  string
	planLimit     *int
	contractLimit *int
	pastDueSince  *time.Time
}

const subscriptionRowSQL = `SELECT plan, status, sensor_limit, contract_sensor_limit, past_due_since FROM subscriptions WHERE org_id = $1`

// countedSensors is the condition on an organisation's ($1) sensors that
// the limits and the active-sensor meter count: devices, without FreshTrack
// Pro's per-unit stand-ins ("unit:<id>", made by the compat routes for
// devices that name a unit).
const countedSensors = `org_id = $1 AND external_id NOT LIKE 'unit:%'`

// countSensorsSQL counts the sensors registered now (not retired).
const countSensorsSQL = `SELECT count(*) FROM sensors WHERE ` + countedSensors + ` AND retired_at IS NULL`

func loadSubscriptionRow(ctx context.Context, q database.Querier, org string) (subscriptionRow, error) {
	r := subscriptionRow{plan: "free", status: "none"}
	err := q.QueryRow(ctx, subscriptionRowSQL, org).Scan(&r.plan, &r.status, &r.planLimit, &r.contractLimit, &r.pastDueSince)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, nil
	}
	return r, err
}

// standing computes an organisation's standing from its row and count.
func (l *Limits) standing(r subscriptionRow, sensors int) Standing {
	s := Standing{Plan: r.plan, Status: r.status, Sensors: sensors, Limit: l.Catalog.FreeSensors}
	live := liveStatuses[r.status]
	switch {
	case !live:
		s.Plan = "free"
	case r.plan == "free":
	default:
		if p, ok := l.Catalog.Plan(r.plan); ok {
			s.Limit = p.Sensors
		} else if r.planLimit != nil {
			// A plan no longer configured, or an imported one: what it
			// granted when it was applied.
			s.Limit = *r.planLimit
		}
	}
	if r.contractLimit != nil {
		s.Limit, s.Contract = *r.contractLimit, true
	}
	if live && isPastDue(r.status) {
		since := l.now()
		if r.pastDueSince != nil {
			since = *r.pastDueSince
		}
		end := since.Add(l.Grace).UTC()
		s.GraceEndsAt = &end
		if !l.now().Before(end) {
			s.Blocked = fmt.Sprintf("payment overdue since %s: new sensors are refused until the invoice is paid (readings of registered sensors keep being stored)",
				since.UTC().Format(time.RFC3339))
		}
	}
	return s
}

// Standing returns an organisation's standing now.
func (l *Limits) Standing(ctx context.Context, q database.Querier, org string) (Standing, error) {
	r, err := loadSubscriptionRow(ctx, q, org)
	if err != nil {
		return Standing{}, fmt.Errorf("billing: read subscription: %w", err)
	}
	var n int
	if err := q.QueryRow(ctx, countSensorsSQL, org).Scan(&n); err != nil {
		return Standing{}, fmt.Errorf("billing: count sensors: %w", err)
	}
	return l.standing(r, n), nil
}

// Reserve takes the organisation's sensor lock for the rest of tx and
// returns how many of want new sensors it may register in tx (at most
// want). Two transactions registering sensors of one organisation take
// turns, so together they never pass the limit.
func (l *Limits) Reserve(ctx context.Context, tx pgx.Tx, org string, want int) (int, Standing, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('freshtrack.billing.sensors:' || $1::text, 0))`, org); err != nil {
		return 0, Standing{}, fmt.Errorf("billing: lock sensors: %w", err)
	}
	s, err := l.Standing(ctx, tx, org)
	if err != nil {
		return 0, Standing{}, err
	}
	return min(want, s.Room()), s, nil
}

// Guard is Reserve for one sensor: a *LimitError when there is no room.
func (l *Limits) Guard(ctx context.Context, tx pgx.Tx, org string) error {
	room, s, err := l.Reserve(ctx, tx, org, 1)
	if err != nil {
		return err
	}
	if room < 1 {
		return &LimitError{Standing: s}
	}
	return nil
}

// GuardFor is Guard for one organisation, as a create's guard
// (crud.Change.Guard).
func (l *Limits) GuardFor(org string) func(context.Context, pgx.Tx) error {
	return func(ctx context.Context, tx pgx.Tx) error { return l.Guard(ctx, tx, org) }
}

// Room is Reserve as ingest's auto-registration asks it (ingest.SensorRoom):
// the room, and when it is short of want, why.
func (l *Limits) Room(ctx context.Context, tx pgx.Tx, org string, want int) (int, string, error) {
	room, s, err := l.Reserve(ctx, tx, org, want)
	if err != nil || room >= want {
		return room, "", err
	}
	return room, (&LimitError{Standing: s}).Error(), nil
}

// SetContractLimit sets (or with nil clears) the organisation's sensor
// limit by contract, which no plan change overrides, with its audit row.
func SetContractLimit(ctx context.Context, db database.DB, org string, sensors *int, actor string) error {
	if sensors != nil && *sensors < 0 {
		return fmt.Errorf("billing: a contract limit of %d sensors is below zero", *sensors)
	}
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM organizations WHERE id::text = $1 AND deleted_at IS NULL)`, org).Scan(&exists); err != nil {
			return fmt.Errorf("billing: find organisation: %w", err)
		}
		if !exists {
			return fmt.Errorf("billing: no organisation %s", org)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO subscriptions (org_id, contract_sensor_limit) VALUES ($1, $2)
			ON CONFLICT (org_id) DO UPDATE SET contract_sensor_limit = excluded.contract_sensor_limit, updated_at = now()`, org, sensors); err != nil {
			return fmt.Errorf("billing: set contract limit: %w", err)
		}
		return auth.WriteAudit(ctx, tx, auth.AuditEntry{OrgID: org, Actor: actor, Action: "billing.contract_limit",
			TargetType: "organization", TargetID: org, Details: map[string]any{"sensors": sensors}})
	})
}
