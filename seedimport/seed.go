package seedimport

import "time"

// The seed's rows, as read from its tables (load.go). Ids are uuid text;
// nullable columns are pointers. Only what the mapping uses is kept.

type seedData struct {
	orgs       []sOrg
	profiles   []sProfile
	roles      []sRole
	contacts   []sContact
	subs       []sSub
	sites      []sSite
	areas      []sArea
	units      []sUnit
	devices    []sDevice
	lora       map[string]sLora // by device id
	ttn        []sTTN
	rules      []sRule
	policies   []sPolicy
	alerts     []sAlert
	actions    []sAction
	deliveries []sDelivery
	manual     []sManual
	events     []sEvent
	history    []sHistory
	// notMigrated counts the rows of the tables FreshTrack has no place for.
	notMigrated map[string]int64
	// readings is the readings pre-pass: rows per (unit, device, UTC day).
	readings []readingGroup
	// frostguard is set when units carry FrostGuard's limit columns.
	frostguard bool
}

type sOrg struct {
	ID, Name, Slug, Timezone, ComplianceMode string
	SensorLimit                              *int
	DeletedAt                                *time.Time
}

type sProfile struct {
	ID, UserID                string
	OrgID                     *string
	Email, FullName, Phone    *string
	SMSEnabled, EmailEnabled  bool
	DigestDaily, DigestWeekly bool
	DigestTime, DigestSites   *string
	Timezone                  *string
}

type sRole struct {
	UserID, OrgID, Role string
}

type sContact struct {
	ID, OrgID   string
	ProfileID   *string
	Name, Phone string
	Email       *string
	Priority    int
	Active      bool
}

type sSub struct {
	ID, OrgID, Plan, Status    string
	CustomerID, SubscriptionID *string
	PeriodEnd                  *time.Time
	UpdatedAt                  time.Time
}

type sSite struct {
	ID, OrgID, Name                           string
	Address, City, State, PostalCode, Country *string
	Timezone                                  string
	Active                                    bool
	DeletedAt                                 *time.Time
}

type sArea struct {
	ID, SiteID, Name string
	Active           bool
	DeletedAt        *time.Time
}

type sUnit struct {
	ID, AreaID, Name, Type string
	// TempMin and TempMax are the unit's limits in TempUnit (FrostGuard:
	// temp_limit_low/high in the readings' unit, TempUnit empty; the low
	// limit may be missing).
	TempMin, TempMax *float64
	TempUnit         string
	// HysteresisF is FrostGuard's temp_hysteresis (°F), when present.
	HysteresisF *float64
	Active      bool
	DeletedAt   *time.Time
}

type sDevice struct {
	ID         string
	UnitID     *string
	EUI        string
	Name, Type *string
	Battery    *int
	LastSeenAt *time.Time
	Active     bool
}

type sLora struct {
	DevEUI          string
	NetworkServerID *string
}

type sTTN struct {
	ID, OrgID                       string
	ApplicationID, TTNApplicationID *string
	Secret                          string
	Active                          bool
	// EncryptedSecret is ttn_webhook_secret_encrypted as stored: the secret
	// the seed provisioned on the TTN webhook, obfuscated (ttnSecret).
	EncryptedSecret string
}

type sRule struct {
	ID, OrgID             string
	SiteID, UnitID        *string
	TempMin, TempMax      *float64
	DelayMinutes          int
	ExpectedInterval      *int
	OfflineMultiplier     *float64
	OfflineAdditionalMins *int
	AlertType             string
	Enabled               bool
	UpdatedAt             time.Time
	// ReportOnly lists the set fields FreshTrack has no rule for (door,
	// manual log, schedule).
	ReportOnly []string
}

type sPolicy struct {
	ID                    string
	OrgID, SiteID, UnitID *string
	AlertType             string
	InitialChannels       []string
	Steps                 []byte // escalation_steps JSON
	NotifyRoles           []string
	QuietHours, Reminders bool
	RequiresAck           bool
	// AckDeadline, ReminderMinutes: NULL when unset (or the seed lacks
	// the column).
	AckDeadline, ReminderMinutes *int
	SendResolved                 bool
	// QuietStart, QuietEnd are the seed's local times as written ("22:00",
	// "7:00", "22:00:00").
	QuietStart, QuietEnd *string
	// SeverityThreshold is INFO, WARNING or CRITICAL (NULL: the seed had
	// no such column).
	SeverityThreshold *string
	AllowWarnings     bool
	// NotifySiteManagers, NotifyAssignedUsers have no FreshTrack
	// equivalent (reported).
	NotifySiteManagers, NotifyAssignedUsers bool
	UpdatedAt                               time.Time
}

type sAlert struct {
	ID, UnitID, Type, Severity, Status string
	Message                            *string
	TriggerTemp                        *int
	Violated                           *string
	TriggeredAt                        time.Time
	AckAt                              *time.Time
	AckBy                              *string
	ResolvedAt                         *time.Time
	ResolvedBy                         *string
	EscalatedAt                        *time.Time
	EscalationLevel                    int
	Metadata                           *string
	UpdatedAt                          time.Time
}

type sAction struct {
	ID, AlertID, UnitID   string
	ProfileID             *string
	Description           string
	ActionTaken, PhotoURL *string
	ActionAt, CreatedAt   time.Time
}

type sDelivery struct {
	ID, AlertID                   string
	ProfileID                     *string
	Channel, Recipient, Status    string
	ExternalID, Error             *string
	ScheduledAt                   time.Time
	SentAt, DeliveredAt, FailedAt *time.Time
	RetryCount                    *string
	CreatedAt                     time.Time
}

type sManual struct {
	ID, UnitID      string
	ProfileID       *string
	Temperature     float64
	Notes, PhotoURL *string
	RecordedAt      time.Time
	CreatedAt       time.Time
}

type sEvent struct {
	ID, OrgID                     string
	ActorID                       *string
	ActorType, EventType          string
	Category, Severity, Title     *string
	SiteID, AreaID, UnitID        *string
	Data                          *string // JSON
	IP, UA                        *string
	ActingUserID, ImpersonationID *string
	Impersonated                  bool
	At                            time.Time
}

type sHistory struct {
	ID, RuleID           string
	ChangedBy            *string
	ChangeType           string
	OldValues, NewValues *string
	At                   time.Time
}

// readingGroup is one line of the readings pre-pass.
type readingGroup struct {
	UnitID   string
	DeviceID *string
	Day      time.Time
	N        int64
	Min, Max time.Time
}
