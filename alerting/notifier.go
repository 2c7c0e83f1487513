package alerting

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notifier enqueues the messages of one escalation step, inside the caller's
// transaction: the alert's state change and its messages commit together or
// not at all. An implementation must not send anything before tx commits
// (insert delivery rows and River jobs with tx; send from the jobs).
//
// NotifyTx is called at most once per committed (alert, step): the caller
// bumps alerts.escalation_step in the same transaction. A rolled-back
// transaction may be retried, calling NotifyTx again with a new tx.
type Notifier interface {
	NotifyTx(ctx context.Context, tx pgx.Tx, n Notice) error
}

// Notice is one escalation step of one alert: what happened and who is to
// hear of it.
type Notice struct {
	// OrgID, AlertID, UnitID and SiteID identify the alert and where it is.
	OrgID, AlertID, UnitID, SiteID string
	// UnitName and SiteName are what people call them.
	UnitName, SiteName string
	// Kind is the rule kind (temp_high, temp_low, sensor_offline,
	// battery_low); Severity is info, warning or critical.
	Kind, Severity string
	// Step is the escalation step, from 0 (the first notification).
	Step int
	// Cycle counts the alert's escalation cycles: an acknowledged alert
	// whose condition came back starts cycle 1, 2, ... from step 0 again.
	Cycle int
	// ValueC is the newest temperature of the excursion and ThresholdC the
	// rule's threshold, for temperature alerts; nil otherwise.
	ValueC, ThresholdC *float64
	// StartedAt is when the condition began (the first offending reading,
	// or the last reading before a sensor went silent).
	StartedAt time.Time
	// Summary is a food-safety alert's account of its condition (empty for
	// the evaluator's own kinds, whose condition the sender words).
	Summary string
	// Purpose is what the message is about: PurposeAlert (the alert or an
	// escalation step), PurposeReminder (reminder number Reminder of an
	// unacknowledged alert) or PurposeResolved (the alert resolved).
	Purpose string
	// Reminder numbers reminders from 1; 0 otherwise.
	Reminder int
	// Recipients are the addresses of this step, one per contact and
	// channel. It may be empty when nobody matches the step's roles.
	Recipients []Recipient
}

// Purposes of a Notice.
const (
	PurposeAlert    = ""
	PurposeReminder = "reminder"
	PurposeResolved = "resolved"
)

// Recipient is one address of one contact.
type Recipient struct {
	// ContactID is the contacts row; empty for an address not taken from it.
	ContactID string
	// Channel is "sms" or "email".
	Channel string
	// Address is an E.164 phone number for sms, an email address for email.
	Address string
}
