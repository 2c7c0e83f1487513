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

// HACCP builds a site's HACCP temperature record for a period: per unit and
// local day the minimum, maximum, average and count of readings and the
// minutes out of the unit's limits; every excursion with the alert that
// overlaps it, who acknowledged it and the corrective actions; data gaps;
// manual checks; and its review: the signatures over the period and
// whether each still matches the records (see Sign). Every number comes from raw readings (see ReadChunk for
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
		if rep, err = buildHACCP(ctx, q, p, now); err != nil {
			return err
		}
		rep.Review, err = reviewOf(ctx, q, p, rep, now)
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
		// The unit's list of every alert carries each one's actions, as
		// the excursions' alerts do.
		for j := range ur.Alerts {
			ur.Alerts[j].CorrectiveActions = nonNil(actions.byAlert[ur.Alerts[j].ID])
		}
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
