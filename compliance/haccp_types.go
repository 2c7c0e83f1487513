package compliance

import "time"

// The HACCP report's model: what HACCP returns and the CSV and PDF render.

// Report is a HACCP temperature record for a site and a period. Times are
// UTC; Header.TimeZone says how to show them. Temperatures are in
// Header.TemperatureUnit.
type Report struct {
	// Header identifies the report and carries its content hash.
	Header Header `json:"header"`
	// Method states the counting rules.
	Method Method `json:"method"`
	// Units are the site's units, by name.
	Units []UnitReport `json:"units"`
	// Footer carries the audit-trail head.
	Footer Footer `json:"footer"`
	// Review lists the signatures over the report's period and whether
	// they still match; like the footer it is not covered by the content
	// hash, so signing does not change what was signed.
	Review Review `json:"review"`
}

// Header identifies the report.
type Header struct {
	// Organization is the organisation's name; OrganizationID its id.
	Organization string `json:"organization"`
	// OrganizationID is the organisation's id.
	OrganizationID string `json:"organization_id"`
	// Site is the site's name.
	Site string `json:"site"`
	// SiteID is the site's id.
	SiteID string `json:"site_id"`
	// TimeZone is the site's IANA zone; days are its local days.
	TimeZone string `json:"time_zone"`
	// From is the first day, YYYY-MM-DD.
	From string `json:"from"`
	// To is the last day, YYYY-MM-DD, included.
	To string `json:"to"`
	// PeriodStart is the local midnight starting From.
	PeriodStart time.Time `json:"period_start"`
	// PeriodEnd is the local midnight ending To.
	PeriodEnd time.Time `json:"period_end"`
	// DataEnd is the end of the data considered: PeriodEnd, or the
	// generation time for a period that has not ended.
	DataEnd time.Time `json:"data_end"`
	// TemperatureUnit is C or F.
	TemperatureUnit string `json:"temperature_unit"`
	// GeneratedAt is when the report was made. It is not covered by
	// ContentSHA256, so the same data gives the same hash whenever it is
	// reported.
	GeneratedAt time.Time `json:"generated_at"`
	// ContentSHA256 is the hex SHA-256 of the report's canonical JSON
	// without GeneratedAt, ContentSHA256 and the Footer (see ContentHash).
	ContentSHA256 string `json:"content_sha256"`
}

// Method states the rules the numbers follow, so a reader of the report
// does not need this documentation.
type Method struct {
	// GapAfterMinutes is the silence that counts as a data gap.
	GapAfterMinutes float64 `json:"gap_after_min"`
	// Coverage explains how minutes in and out of range are counted.
	Coverage string `json:"coverage"`
	// Excursions explains where an excursion starts and ends.
	Excursions string `json:"excursions"`
}

// Footer carries the organisation's audit-trail head at generation time.
type Footer struct {
	// AuditHeadSHA256 is the hex hash of the newest audit_log row of the
	// organisation (empty when it has none); AuditHeadID is its id.
	AuditHeadSHA256 string `json:"audit_head_sha256"`
	// AuditHeadID is the id of that audit_log row (0 when none).
	AuditHeadID int64 `json:"audit_head_id"`
	// Import says that the organisation's data includes data imported from
	// FreshTrack Pro, and when that import was verified: its newest
	// import.completed audit entry (nil when there is none), which the audit
	// head's hash chain covers.
	Import *ImportNote `json:"import,omitempty"`
}

// ImportNote is an import.completed audit entry, as the footer cites it.
type ImportNote struct {
	// From names the system the data came from.
	From string `json:"from"`
	// VerifiedAt is when the import was verified (the entry's time).
	VerifiedAt time.Time `json:"verified_at"`
	// Result is the verification's result: PASS or FAIL.
	Result string `json:"result"`
	// AuditID is the audit_log row of the entry.
	AuditID int64 `json:"audit_id"`
}

// UnitReport is the record of one unit.
type UnitReport struct {
	// UnitID is the unit's id.
	UnitID string `json:"unit_id"`
	// Name is the unit's name.
	Name string `json:"name"`
	// Kind is fridge, freezer, hot_holding, ...
	Kind string `json:"kind"`
	// Sensors are the external ids of the sensors assigned to the unit.
	Sensors []string `json:"sensors"`
	// SafeMin is the bottom of the unit's safe range.
	SafeMin float64 `json:"safe_min"`
	// SafeMax is the top of the unit's safe range.
	SafeMax float64 `json:"safe_max"`
	// LimitMin and LimitMax are the limits the unit is judged against
	// (safety.LimitsFor): its safe range, unless the alert rules that apply
	// to it set thresholds of their own.
	LimitMin float64 `json:"limit_min"`
	// LimitMax is the upper limit.
	LimitMax float64 `json:"limit_max"`
	// Summary covers the whole period.
	Summary Stats `json:"summary"`
	// Days are the local days of the period, in order.
	Days []DayStats `json:"days"`
	// Excursions are the periods out of the limits, in order.
	Excursions []Excursion `json:"excursions"`
	// Gaps are the data gaps (offline periods), in order.
	Gaps []Gap `json:"gaps"`
	// ManualChecks are the checks recorded in the period.
	ManualChecks []ManualCheck `json:"manual_checks"`
	// CorrectiveActions are the actions taken on the unit in the period,
	// whether or not for an alert.
	CorrectiveActions []CorrectiveAction `json:"corrective_actions"`
	// TimeOutOfTemp is the time out of temperature per local day.
	TimeOutOfTemp []TimeOutOfTemp `json:"time_out_of_temp"`
	// Defrosts are the unit's defrost cycles and learned pattern.
	Defrosts Defrosts `json:"defrosts"`
	// DoorOpenings are the unit's door openings.
	DoorOpenings DoorOpenings `json:"door_openings"`
	// CoolingLogs are the cooling logs of the period.
	CoolingLogs []CoolingLog `json:"cooling_logs"`
	// Alerts are all of the unit's alerts, of every kind, whose lifetime
	// overlaps the period.
	Alerts []AlertRecord `json:"alerts"`
}

// Stats summarise the readings of a stretch of time.
type Stats struct {
	// Readings is the number of readings.
	Readings int64 `json:"readings"`
	// Min is the lowest reading; nil without readings.
	Min *float64 `json:"min"`
	// Max is the highest reading; nil without readings.
	Max *float64 `json:"max"`
	// Avg is the mean of the readings; nil without readings.
	Avg *float64 `json:"avg"`
	// MinutesCovered is the time the readings stand for.
	MinutesCovered float64 `json:"minutes_covered"`
	// MinutesOutOfRange is the covered time the unit was out of its
	// limits (some live probe outside them).
	MinutesOutOfRange float64 `json:"minutes_out_of_range"`
	// PercentInRange is 100 × (covered − out of range) / covered; nil when
	// nothing is covered.
	PercentInRange *float64 `json:"percent_in_range"`
}

// DayStats are the Stats of one local day.
type DayStats struct {
	// Date is the local date, YYYY-MM-DD.
	Date string `json:"date"`
	Stats
}

// Excursion is a contiguous period out of the limits.
type Excursion struct {
	// Start is the reading that took the unit out of its limits, or the
	// period start when the excursion began earlier (StartedBeforePeriod).
	Start time.Time `json:"start"`
	// End is when the unit was back within its limits (every live probe),
	// or the end of the data when it was not by then (Ongoing).
	End time.Time `json:"end"`
	// DurationMinutes is End − Start, a data gap inside included.
	DurationMinutes float64 `json:"duration_min"`
	// MinutesOutOfRange is the covered part of the duration.
	MinutesOutOfRange float64 `json:"minutes_out_of_range"`
	// StartedBeforePeriod is set when the excursion was running when the
	// period began.
	StartedBeforePeriod bool `json:"started_before_period"`
	// Ongoing is set when the excursion had not ended by the end of the data.
	Ongoing bool `json:"ongoing"`
	// Direction is high or low.
	Direction string `json:"direction"`
	// Peak is the reading furthest outside the limits.
	Peak float64 `json:"peak"`
	// Readings is the readings outside the limits in the period (of any
	// of the unit's probes).
	Readings int64 `json:"readings"`
	// Alerts are the unit's temperature alerts whose lifetime
	// (started_at to resolved_at) overlaps the excursion.
	Alerts []AlertRecord `json:"alerts"`
	// ExplainedBy are the door openings and defrosts that overlap it.
	ExplainedBy []Explanation `json:"explained_by"`

	// seenFrom and seenTo are the excursion as the readings show it,
	// unclipped (seenTo zero while it has not ended), for matching alerts.
	seenFrom, seenTo time.Time
}

// AlertRecord is an alert with who acknowledged it and what was done.
type AlertRecord struct {
	// ID is the alert's id.
	ID string `json:"id"`
	// Kind is the rule kind: temp_high or temp_low for an excursion's
	// alerts, any kind in a unit's alert list.
	Kind string `json:"kind"`
	// Name is the kind's human name (AlertName).
	Name string `json:"name"`
	// Severity is info, warning or critical.
	Severity string `json:"severity"`
	// Status is triggered, acknowledged or resolved.
	Status string `json:"status"`
	// StartedAt is when the alert's condition began.
	StartedAt time.Time `json:"started_at"`
	// ResolvedAt is when it was resolved; nil while open.
	ResolvedAt *time.Time `json:"resolved_at"`
	// AcknowledgedAt is when it was acknowledged; nil if never.
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
	// AcknowledgedBy is nil when nobody acknowledged it.
	AcknowledgedBy *Person `json:"acknowledged_by"`
	// CorrectiveActions are the actions recorded against this alert.
	CorrectiveActions []CorrectiveAction `json:"corrective_actions"`
}

// Person is a user as the report names them.
type Person struct {
	// Name is the user's name (empty when unknown).
	Name string `json:"name"`
	// Email is the user's email (empty when unknown).
	Email string `json:"email"`
}

// CorrectiveAction is an action recorded for a unit, possibly for an alert.
type CorrectiveAction struct {
	// AlertID is the alert it answers; nil for an action on its own.
	AlertID *string `json:"alert_id"`
	// Action says what was done.
	Action string `json:"action"`
	// Disposition is what happened to the food: kept, moved, reheated,
	// discarded or other.
	Disposition string `json:"disposition"`
	// Notes are free text; nil without.
	Notes *string `json:"notes"`
	// TakenBy is who did it; nil when unknown.
	TakenBy *Person `json:"taken_by"`
	// TakenAt is when.
	TakenAt time.Time `json:"taken_at"`
}

// Gap is a stretch [Start, End) of the period when no probe of the unit was
// live: none had a reading that still stood (safety.Stand), or those that
// had reported an error code since. The sensors were offline or faulty, or
// their data is missing.
type Gap struct {
	// Start is when the last live probe's reading stopped standing (or the
	// period start).
	Start time.Time `json:"start"`
	// End is the next reading of a probe (or the end of the data).
	End time.Time `json:"end"`
	// DurationMinutes is End − Start.
	DurationMinutes float64 `json:"duration_min"`
}

// ManualCheck is a probe-thermometer check recorded by staff.
type ManualCheck struct {
	// CheckedAt is when the check was made.
	CheckedAt time.Time `json:"checked_at"`
	// Temp is the temperature measured.
	Temp float64 `json:"temp"`
	// InRange is whether Temp is within the unit's limits.
	InRange bool `json:"in_range"`
	// CheckedBy is who checked; nil when unknown.
	CheckedBy *Person `json:"checked_by"`
	// Notes are free text; nil without.
	Notes *string `json:"notes"`
}

const (
	coverageText = "A unit's temperature at any moment comes from its live probes. A probe's reading stands " +
		"until the probe's next reading, for at most twice the probe's reporting interval (the time since its " +
		"previous reading) and never longer than the gap threshold; a probe that reported an error code is dead " +
		"until it measures again. The unit is out of range while any live probe is outside the unit's limits " +
		"(its safe range, unless its alert rules set thresholds of their own) and in range while every live probe " +
		"is within them. Time without a live probe is a data gap and counts as neither in nor out of range. " +
		"Covered minutes plus gap minutes make up the period; percent in range is relative to covered minutes."
	excursionText = "An excursion starts at the reading that takes the unit out of range and ends when every " +
		"live probe is back within the limits; a data gap inside it does not end it."
)
