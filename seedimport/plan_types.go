package seedimport

import (
	"encoding/json"
	"time"
)

// FreshTrack's rows as the plan builds them from the seed's (plan*.go) and
// write.go stores them. Ids are uuid text; nil pointers are NULL.

type plan struct {
	orgs          []tOrg
	users         []tUser
	members       []tMember
	subs          []tSub
	sites         []tSite
	areas         []tArea
	units         []tUnit
	sensors       []tSensor
	rules         []tRule
	contacts      []tContact
	policies      []tPolicy
	alerts        []tAlert
	events        []tEvent
	actions       []tAction
	notifications []tNotification
	checks        []tCheck
	audits        []tAudit
	digests       []tDigest
	secrets       []tSecret

	// unitsByID, with each unit's organisation, site and rules, for the
	// readings and the alert states after them.
	unitsByID map[string]*tUnit
	// readingUnits are the units (with the devices) whose readings are
	// imported; deviceSensor maps a device to the key of its sensor.
	deviceSensor map[string]string
	// skippedUnits says why a unit's readings are not imported.
	skippedUnits map[string]string

	report *Report
}

type tOrg struct {
	ID, Name  string
	DeletedAt *time.Time
}

type tUser struct {
	ID, Issuer, Subject string
	Email, Name, Phone  *string
}

type tMember struct{ OrgID, UserID, Role string }

type tSub struct {
	ID, OrgID, Plan, Status    string
	CustomerID, SubscriptionID *string
	SensorLimit                *int
	PeriodEnd                  *time.Time
}

type tSite struct {
	ID, OrgID, Name, Timezone string
	Address                   *string
}

type tArea struct{ ID, OrgID, SiteID, Name string }

type tUnit struct {
	ID, OrgID, SiteID, AreaID, Name, Kind string
	SafeMinC, SafeMaxC                    float64
	// Rules are the unit's generated rules by kind.
	Rules map[string]string
	// Fahrenheit is set when its limits were in °F (the hysteresis).
	Fahrenheit bool
}

// tSensor is a device's sensor (PublicID = devices.id) or a unit's
// synthetic one (External "unit:<unit id>", PublicID empty).
type tSensor struct {
	// Key is the device id, or "unit:<id>" for a synthetic sensor.
	Key                   string
	PublicID              string
	OrgID, External       string
	UnitID                *string
	Name, Model           *string
	Battery               *float64
	LastSeenAt, RetiredAt *time.Time
}

type tRule struct {
	ID, OrgID, UnitID, Kind string
	Threshold               *float64
	ConfirmSeconds          int
	Hysteresis              float64
	Severity                string
	AutoResolve, Enabled    bool
}

type tContact struct {
	ID, OrgID, Name, Role string
	UserID, Phone, Email  *string
	OnShift               bool
}

// tPolicy is a notification_policies row (migration 0016 documents the
// fields).
type tPolicy struct {
	ID, OrgID, Name string
	// SiteID or UnitID (or neither: the organisation) and Kind are the scope.
	SiteID, UnitID  *string
	Kind            string
	InitialChannels json.RawMessage
	AckDeadline     int
	Steps           json.RawMessage
	StepCount       int
	ReminderMinutes int
	NotifyOnResolve bool
	QuietStart      *string
	QuietEnd        *string
	MinSeverity     string
}

type tAlert struct {
	ID, OrgID, UnitID, RuleID, Kind, Severity, Status string
	StartedAt                                         time.Time
	PeakC, ThresholdC                                 *float64
	EscalationStep                                    int
	// PolicyID stays nil: the import writes no escalation policies (a
	// rerun over an older import, which did, clears the link).
	PolicyID          *string
	AckAt, ResolvedAt *time.Time
	AckBy, ResolvedBy *string
	AutoResolved      bool
}

type tEvent struct {
	OrgID, AlertID, Kind string
	At                   time.Time
	ActorID              *string
	Details              map[string]any
}

type tAction struct {
	ID, OrgID, UnitID, Action string
	AlertID, TakenBy, Notes   *string
	TakenAt, CreatedAt        time.Time
}

type tNotification struct {
	ID, OrgID, Channel, Recipient, Status, DedupeKey string
	AlertID, ContactID, ProviderID, LastError        *string
	Attempts                                         int
	CreatedAt, UpdatedAt                             time.Time
	SentAt, DeliveredAt                              *time.Time
}

type tCheck struct {
	ID, OrgID, UnitID string
	CheckedAt         time.Time
	TempC             float64
	CheckedBy, Notes  *string
	CreatedAt         time.Time
}

type tAudit struct {
	OrgID, Actor, Action, TargetType, TargetID string
	At                                         time.Time
	// Original is the seed row ("event_logs:<id>"), found again by reruns.
	Original string
	Details  map[string]any
}

type tDigest struct {
	OrgID, UserID, Frequency, Timezone, Email string
	LocalHour, Weekday                        int
}

type tSecret struct{ OrgID, Secret, Source string }
