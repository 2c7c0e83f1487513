package compliance

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
	"github.com/freshtrack/freshtrack/query"
	"github.com/freshtrack/freshtrack/safety"
)

// ErrNotFound is returned when a site or unit does not exist, belongs to
// another organisation, or its id is not a UUID. It is query.ErrNotFound,
// so either package's sentinel matches.
var ErrNotFound = query.ErrNotFound

// ValidationError reports a parameter that cannot be answered.
type ValidationError = query.ValidationError

// Report limits and defaults.
const (
	// MaxReportDays is the longest period of a report.
	MaxReportDays = 366
	// DefaultGapAfter is the silence after which a unit's data has a gap.
	DefaultGapAfter = 15 * time.Minute
)

// Temperature units of a report.
const (
	Celsius    = "C"
	Fahrenheit = "F"
)

// HACCPParams are the inputs of [HACCP].
type HACCPParams struct {
	// OrgID is the caller's organisation.
	OrgID string
	// SiteID is the site reported on; a site of another organisation is
	// not found.
	SiteID string
	// From and To are the first and last calendar day of the period,
	// inclusive, as dates of the site's time zone: each is read by its own
	// year, month and day (pass local midnights, or dates in UTC). The
	// period runs from the site's local midnight starting From to the one
	// ending To.
	From, To time.Time
	// Unit is the temperature unit of the report, C or F. Defaults to C. Any
	// other is a *ValidationError naming "units", the API's query parameter
	// (and the CLI's flag).
	Unit string
	// Now is the clock: the generation time, and the end of the data for a
	// period that has not ended yet. Defaults to time.Now.
	Now func() time.Time
	// UnitIDs restricts the report to some of the site's units; empty
	// means all. A unit that is not on the site is not found.
	UnitIDs []string
	// GapAfter is the silence that counts as a data gap (offline period).
	// Defaults to DefaultGapAfter.
	GapAfter time.Duration
}

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

// HACCP builds a site's HACCP temperature record for a period: per unit and
// local day the minimum, maximum, average and count of readings and the
// minutes out of the unit's limits; every excursion with the alert that
// overlaps it, who acknowledged it and the corrective actions; data gaps;
// manual checks. Every number comes from raw readings (see ReadChunk for
// how they are read and folded), inside one read-only snapshot when db can
// begin a transaction.
func HACCP(ctx context.Context, db database.Querier, p HACCPParams) (*Report, error) {
	if err := validateHACCP(&p); err != nil {
		return nil, err
	}
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	var rep *Report
	err := readOnly(ctx, db, func(q database.Querier) error {
		var err error
		rep, err = buildHACCP(ctx, q, p, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

func validateHACCP(p *HACCPParams) error {
	switch p.Unit {
	case "":
		p.Unit = Celsius
	case Celsius, Fahrenheit:
	default:
		return &ValidationError{Field: "units", Reason: "must be C or F"}
	}
	if p.GapAfter <= 0 {
		p.GapAfter = DefaultGapAfter
	}
	if p.From.IsZero() {
		return &ValidationError{Field: "from", Reason: "is required"}
	}
	if p.To.IsZero() {
		return &ValidationError{Field: "to", Reason: "is required"}
	}
	days := civilDays(p.From, p.To)
	if days < 1 {
		return &ValidationError{Field: "to", Reason: "must be on or after from"}
	}
	if days > MaxReportDays {
		return &ValidationError{Field: "to", Reason: fmt.Sprintf("a report covers at most %d days", MaxReportDays)}
	}
	if !uuids.Valid(p.OrgID) || !uuids.Valid(p.SiteID) {
		return ErrNotFound
	}
	for _, id := range p.UnitIDs {
		if !uuids.Valid(id) {
			return ErrNotFound
		}
	}
	return nil
}

// civilDays counts the calendar days from's date through to's date.
func civilDays(from, to time.Time) int {
	y, m, d := from.Date()
	a := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	y, m, d = to.Date()
	b := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return int(b.Sub(a)/(24*time.Hour)) + 1
}

// readOnly runs fn in a read-only repeatable-read transaction when db is a
// pool or a connection, so every statement of a report sees one snapshot;
// inside a caller's transaction it uses that one.
func readOnly(ctx context.Context, db database.Querier, fn func(database.Querier) error) error {
	type txBeginner interface {
		BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
	}
	b, ok := db.(txBeginner)
	if !ok {
		return fn(db)
	}
	return pgx.BeginTxFunc(ctx, b, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		return fn(tx)
	})
}

type unitRow struct {
	id, name, kind string
	safeMin        float64
	safeMax        float64
	sensors        []string // external ids
	sensorIDs      []int64
	limits         safety.Limits
}

func buildHACCP(ctx context.Context, db database.Querier, p HACCPParams, now time.Time) (*Report, error) {
	rep := &Report{Units: []UnitReport{}}
	h := &rep.Header
	h.OrganizationID, h.SiteID = p.OrgID, p.SiteID
	var tz string
	err := db.QueryRow(ctx, `
		SELECT o.name, st.name, st.timezone
		  FROM sites st JOIN organizations o ON o.id = st.org_id
		 WHERE st.org_id = $1 AND st.id = $2 AND o.deleted_at IS NULL`, p.OrgID, p.SiteID).Scan(&h.Organization, &h.Site, &tz)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("haccp report: read site: %w", err)
	}
	loc, err := query.LoadLocation(tz)
	if err != nil {
		return nil, err
	}
	bounds := query.DayBounds(p.From, p.To, loc)
	p0, p1 := bounds[0], bounds[len(bounds)-1]
	dataEnd := p1
	if now.Before(dataEnd) {
		dataEnd = now
	}
	if dataEnd.Before(p0) {
		dataEnd = p0
	}
	h.TimeZone = tz
	h.From, h.To = p0.In(loc).Format(time.DateOnly), bounds[len(bounds)-2].In(loc).Format(time.DateOnly)
	h.PeriodStart, h.PeriodEnd, h.DataEnd = p0.UTC(), p1.UTC(), dataEnd.UTC()
	h.TemperatureUnit = p.Unit
	h.GeneratedAt = now.UTC().Truncate(time.Second)
	rep.Method = Method{GapAfterMinutes: p.GapAfter.Minutes(), Coverage: coverageText, Excursions: excursionText}

	units, err := loadUnits(ctx, db, p)
	if err != nil {
		return nil, err
	}
	w := window{p0: p0, p1: p1, end: dataEnd, bounds: bounds, gap: p.GapAfter, loc: loc, now: now}
	folds, err := foldReadings(ctx, db, units, w)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(units))
	for i, u := range units {
		ids[i] = u.id
	}
	alerts, err := loadAlerts(ctx, db, p.OrgID, ids, w)
	if err != nil {
		return nil, err
	}
	actions, err := loadActions(ctx, db, p.OrgID, ids, alerts, w)
	if err != nil {
		return nil, err
	}
	checks, err := loadChecks(ctx, db, p.OrgID, ids, w)
	if err != nil {
		return nil, err
	}
	extras, err := loadExtras(ctx, db, p.OrgID, units, w)
	if err != nil {
		return nil, err
	}
	for i, u := range units {
		ur := assembleUnit(u, folds[i], w)
		attachAlerts(&ur, alerts[u.id], actions)
		ur.CorrectiveActions = nonNil(actions.byUnit[u.id])
		for _, c := range checks[u.id] {
			c.InRange = u.limits.Contains(c.Temp)
			ur.ManualChecks = append(ur.ManualChecks, c)
		}
		ur.ManualChecks = nonNil(ur.ManualChecks)
		addExtras(&ur, u, folds[i], extras, w)
		rep.Units = append(rep.Units, ur)
	}
	if p.Unit == Fahrenheit {
		rep.toFahrenheit()
	}
	rep.round()

	err = db.QueryRow(ctx, `SELECT id, encode(hash, 'hex') FROM audit_log WHERE org_id = $1 ORDER BY id DESC LIMIT 1`, p.OrgID).
		Scan(&rep.Footer.AuditHeadID, &rep.Footer.AuditHeadSHA256)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("haccp report: read audit head: %w", err)
	}
	imp := &ImportNote{From: "FreshTrack Pro"}
	err = db.QueryRow(ctx, `
		SELECT id, at, coalesce(details->>'result', '') FROM audit_log
		 WHERE org_id = $1 AND action = 'import.completed' ORDER BY id DESC LIMIT 1`, p.OrgID).
		Scan(&imp.AuditID, &imp.VerifiedAt, &imp.Result)
	switch {
	case err == nil:
		imp.VerifiedAt = imp.VerifiedAt.UTC()
		rep.Footer.Import = imp
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, fmt.Errorf("haccp report: read import entry: %w", err)
	}
	if h.ContentSHA256, err = ContentHash(rep); err != nil {
		return nil, err
	}
	return rep, nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func loadUnits(ctx context.Context, db database.Querier, p HACCPParams) ([]unitRow, error) {
	var filter []string
	if len(p.UnitIDs) > 0 {
		filter = p.UnitIDs
	}
	// With each unit, the temperature rules that may apply to it (its own
	// and its organisation's for its kind, enabled or not: a disabled row
	// claims its level), for safety.LimitsFor.
	rows, err := db.Query(ctx, `
		SELECT x.id, x.name, x.kind, x.safe_min_c, x.safe_max_c, x.sensors, x.sensor_ids,
		       r.own, r.kinds, r.enabled, r.thresholds
		  FROM (SELECT u.id, u.org_id, u.name, u.kind, u.safe_min_c, u.safe_max_c,
		               coalesce(array_agg(s.external_id ORDER BY s.external_id) FILTER (WHERE s.id IS NOT NULL), '{}') AS sensors,
		               coalesce(array_agg(s.id ORDER BY s.id) FILTER (WHERE s.id IS NOT NULL), '{}') AS sensor_ids
		          FROM units u
		          LEFT JOIN sensors s ON s.org_id = u.org_id AND s.unit_id = u.id
		         WHERE u.org_id = $1 AND u.site_id = $2 AND ($3::uuid[] IS NULL OR u.id = ANY($3::uuid[]))
		         GROUP BY u.id) x
		  LEFT JOIN LATERAL (
		        SELECT array_agg(ar.unit_id IS NOT NULL) AS own, array_agg(ar.kind) AS kinds,
		               array_agg(ar.enabled) AS enabled, array_agg(ar.threshold) AS thresholds
		          FROM alert_rules ar
		         WHERE ar.org_id = x.org_id AND ar.kind IN ('temp_high', 'temp_low')
		           AND (ar.unit_id = x.id OR (ar.unit_id IS NULL AND ar.unit_kind = x.kind))) r ON true
		 ORDER BY x.name, x.id`, p.OrgID, p.SiteID, filter)
	if err != nil {
		return nil, fmt.Errorf("haccp report: read units: %w", err)
	}
	var (
		units        []unitRow
		u            unitRow
		own, enabled []bool
		kinds        []string
		thresholds   []*float64
	)
	_, err = pgx.ForEachRow(rows, []any{&u.id, &u.name, &u.kind, &u.safeMin, &u.safeMax, &u.sensors, &u.sensorIDs,
		&own, &kinds, &enabled, &thresholds}, func() error {
		rules := make([]safety.Rule, len(kinds))
		for i, k := range kinds {
			rules[i] = safety.Rule{Scope: safety.Scope{UnitKind: u.kind, Kind: k, Enabled: enabled[i]}, Threshold: thresholds[i]}
			if own[i] {
				rules[i].UnitID = u.id
			}
		}
		u.limits = safety.LimitsFor(rules, u.id, u.kind, u.safeMin, u.safeMax)
		units = append(units, u)
		u = unitRow{}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("haccp report: read units: %w", err)
	}
	if len(filter) > 0 {
		for _, id := range filter {
			if !slices.ContainsFunc(units, func(u unitRow) bool { return equalFoldUUID(u.id, id) }) {
				return nil, ErrNotFound
			}
		}
	}
	return units, nil
}

func equalFoldUUID(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'F' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'F' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func (r *Report) toFahrenheit() {
	f := func(c float64) float64 { return c*9/5 + 32 }
	fp := func(c *float64) *float64 {
		if c == nil {
			return nil
		}
		v := f(*c)
		return &v
	}
	for i := range r.Units {
		u := &r.Units[i]
		u.SafeMin, u.SafeMax, u.LimitMin, u.LimitMax = f(u.SafeMin), f(u.SafeMax), f(u.LimitMin), f(u.LimitMax)
		conv := func(s *Stats) { s.Min, s.Max, s.Avg = fp(s.Min), fp(s.Max), fp(s.Avg) }
		conv(&u.Summary)
		for j := range u.Days {
			conv(&u.Days[j].Stats)
		}
		for j := range u.Excursions {
			u.Excursions[j].Peak = f(u.Excursions[j].Peak)
		}
		for j := range u.ManualChecks {
			u.ManualChecks[j].Temp = f(u.ManualChecks[j].Temp)
		}
		u.eachEvent(func(e *UnitEvent) { e.Peak = fp(e.Peak) })
		if pt := u.Defrosts.Pattern; pt != nil {
			pt.Peak, pt.MaxPeak = f(pt.Peak), f(pt.MaxPeak)
		}
		for j := range u.CoolingLogs {
			c := &u.CoolingLogs[j]
			c.Start, c.Last = fp(c.Start), fp(c.Last)
			c.Stage1.Target, c.Stage2.Target = f(c.Stage1.Target), f(c.Stage2.Target)
		}
	}
}

// eachEvent calls fn with every unit event of the report.
func (u *UnitReport) eachEvent(fn func(*UnitEvent)) {
	for j := range u.Defrosts.Cycles {
		fn(&u.Defrosts.Cycles[j])
	}
	for j := range u.DoorOpenings.Openings {
		fn(&u.DoorOpenings.Openings[j])
	}
}

// round fixes the precision of every number: temperatures and minutes to
// two decimals, so the report (and its hash) does not depend on the order in
// which the database summed.
func (r *Report) round() {
	for i := range r.Units {
		u := &r.Units[i]
		u.SafeMin, u.SafeMax, u.LimitMin, u.LimitMax = round2(u.SafeMin), round2(u.SafeMax), round2(u.LimitMin), round2(u.LimitMax)
		rs := func(s *Stats) {
			s.Min, s.Max, s.Avg, s.PercentInRange = round2p(s.Min), round2p(s.Max), round2p(s.Avg), round2p(s.PercentInRange)
			s.MinutesCovered, s.MinutesOutOfRange = round2(s.MinutesCovered), round2(s.MinutesOutOfRange)
		}
		rs(&u.Summary)
		for j := range u.Days {
			rs(&u.Days[j].Stats)
		}
		for j := range u.Excursions {
			e := &u.Excursions[j]
			e.Peak, e.DurationMinutes, e.MinutesOutOfRange = round2(e.Peak), round2(e.DurationMinutes), round2(e.MinutesOutOfRange)
		}
		for j := range u.Gaps {
			u.Gaps[j].DurationMinutes = round2(u.Gaps[j].DurationMinutes)
		}
		for j := range u.ManualChecks {
			u.ManualChecks[j].Temp = round2(u.ManualChecks[j].Temp)
		}
		for j := range u.TimeOutOfTemp {
			t := &u.TimeOutOfTemp[j]
			t.MinutesOutOfRange, t.DefrostMinutes, t.Minutes = round2(t.MinutesOutOfRange), round2(t.DefrostMinutes), round2(t.Minutes)
		}
		u.eachEvent(func(e *UnitEvent) { e.Peak, e.DurationMinutes = round2p(e.Peak), round2(e.DurationMinutes) })
		d := &u.DoorOpenings
		d.TotalMinutes, d.LongestMinutes = round2(d.TotalMinutes), round2(d.LongestMinutes)
		if pt := u.Defrosts.Pattern; pt != nil {
			pt.Peak, pt.MaxPeak = round2(pt.Peak), round2(pt.MaxPeak)
		}
		for j := range u.CoolingLogs {
			c := &u.CoolingLogs[j]
			c.Start, c.Last = round2p(c.Start), round2p(c.Last)
			c.Stage1.Target, c.Stage2.Target = round2(c.Stage1.Target), round2(c.Stage2.Target)
		}
	}
}

func round2(v float64) float64 {
	r := math.Round(v*100) / 100
	if r == 0 {
		return 0 // no -0 in the output
	}
	return r
}

func round2p(v *float64) *float64 {
	if v == nil {
		return nil
	}
	r := round2(*v)
	return &r
}
