package digest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
	"github.com/freshtrack/freshtrack/query"
	"github.com/freshtrack/freshtrack/safety"
	"github.com/freshtrack/freshtrack/schema"
)

// MaxItems is the most alerts a digest lists per section; the rest are
// counted and linked to.
const MaxItems = 50

// maxAlertRows bounds the alerts read for one digest.
const maxAlertRows = 2000

// Content is what a digest reports about an organisation over a period.
type Content struct {
	// OrgID and OrgName are the organisation.
	OrgID, OrgName string
	// Frequency is daily or weekly.
	Frequency string
	// Period is the span covered.
	Period Period
	// Location is the zone times are shown in.
	Location *time.Location
	// Opened are the alerts opened in the period, oldest first (at most
	// MaxItems; OpenedTotal counts them all).
	Opened      []Alert
	OpenedTotal int
	// Resolved are the alerts resolved in the period, oldest first (at
	// most MaxItems; ResolvedTotal counts them all).
	Resolved      []Alert
	ResolvedTotal int
	// Excursions are the temperature alerts (temp_high, temp_low) open at
	// any time in the period, with their peak (at most MaxItems;
	// ExcursionsTotal counts them all).
	Excursions      []Alert
	ExcursionsTotal int
	// Offline are the units without a recent reading when the digest is
	// built (status offline, or no_data for a unit that never reported).
	Offline []query.UnitLatest
	// Units are every unit with the lowest and highest temperature of the
	// period, ordered by site and unit name.
	Units []UnitRange
	// BaseURL is the start of links (the public URL, no trailing slash);
	// empty renders no links.
	BaseURL string
}

// Alert is an alert as a digest lists it.
type Alert struct {
	// ID is the alert's id.
	ID string `json:"id"`
	// UnitName and SiteName say where.
	UnitName string `json:"unit_name"`
	SiteName string `json:"site_name"`
	// Kind is temp_high, temp_low, sensor_offline, battery_low or
	// sensor_fault.
	Kind string `json:"kind"`
	// Severity is info, warning or critical.
	Severity string `json:"severity"`
	// Status is the alert's status now: triggered, acknowledged or resolved.
	Status string `json:"status"`
	// StartedAt is when the condition began; OpenedAt when the alert opened.
	StartedAt time.Time `json:"started_at"`
	OpenedAt  time.Time `json:"opened_at"`
	// ResolvedAt is when it was resolved; nil while open.
	ResolvedAt *time.Time `json:"resolved_at"`
	// PeakC is the furthest temperature past the limit; nil when unknown.
	PeakC *float64 `json:"peak_c"`
	// ThresholdC is the limit: the one the alert opened at, else its
	// rule's threshold, else (a temperature rule following the unit's safe
	// range, threshold NULL) the side of the unit's safe range it follows
	// (safety.Threshold); nil when none is known.
	ThresholdC *float64 `json:"threshold_c"`
}

// UnitRange is a unit's temperature extremes over a period.
type UnitRange struct {
	// UnitID, UnitName and SiteName identify the unit.
	UnitID   string `json:"unit_id"`
	UnitName string `json:"unit_name"`
	SiteName string `json:"site_name"`
	// SafeMinC and SafeMaxC are the unit's safe range.
	SafeMinC float64 `json:"safe_min_c"`
	SafeMaxC float64 `json:"safe_max_c"`
	// MinC and MaxC are the lowest and highest reading; nil without readings.
	MinC *float64 `json:"min_c"`
	MaxC *float64 `json:"max_c"`
	// Count is the number of readings.
	Count int64 `json:"count"`
}

// OutOfRange reports whether a reading of the period left the safe range.
func (u UnitRange) OutOfRange() bool {
	return u.MinC != nil && *u.MinC < u.SafeMinC || u.MaxC != nil && *u.MaxC > u.SafeMaxC
}

// LoadParams are the inputs of Load.
type LoadParams struct {
	// OrgID is the organisation. Required.
	OrgID string
	// Frequency is daily or weekly.
	Frequency string
	// Period is the span to report.
	Period Period
	// Location is the zone times are shown in. Nil means UTC.
	Location *time.Location
	// BaseURL is the start of links; empty renders none.
	BaseURL string
	// Now is the clock that judges units offline. Defaults to time.Now.
	Now func() time.Time
	// SiteIDs limits the digest to these sites; nil means every site.
	SiteIDs []string
}

// Load gathers a digest's content in a few statements: the organisation,
// the alerts that overlap the period (through the opened, open and resolved
// indexes), the units' latest values (query.Latest, from sensor_latest), and
// one aggregate over the hourly series (5-minute series for zones at :30 or
// :45 offsets; in postgres mode the not yet materialised tail from
// readings). An organisation that does not exist or is deleted gives
// ErrNotFound.
func Load(ctx context.Context, db database.Querier, p LoadParams) (*Content, error) {
	if !uuids.Valid(p.OrgID) {
		return nil, ErrNotFound
	}
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	c := &Content{OrgID: p.OrgID, Frequency: p.Frequency, Period: p.Period, Location: loc,
		BaseURL: strings.TrimRight(p.BaseURL, "/"), Opened: []Alert{}, Resolved: []Alert{}, Excursions: []Alert{},
		Offline: []query.UnitLatest{}}
	err := db.QueryRow(ctx, `SELECT name FROM organizations WHERE id = $1 AND deleted_at IS NULL`, p.OrgID).Scan(&c.OrgName)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("digest organisation: %w", err)
	}
	if err := c.loadAlerts(ctx, db, p.SiteIDs); err != nil {
		return nil, err
	}
	latest, err := query.Latest(ctx, db, query.LatestParams{OrgID: p.OrgID, Now: p.Now})
	if err != nil {
		return nil, fmt.Errorf("digest latest values: %w", err)
	}
	for _, u := range latest {
		if u.Offline && (p.SiteIDs == nil || slices.Contains(p.SiteIDs, u.SiteID)) {
			c.Offline = append(c.Offline, u)
		}
	}
	if c.Units, err = unitRanges(ctx, db, p.OrgID, p.Period, p.SiteIDs); err != nil {
		return nil, err
	}
	return c, nil
}

// alertThreshold is the limit shown for an alert (see Alert.ThresholdC).
func alertThreshold(kind string, openedAt, rule *float64, safeMinC, safeMaxC float64) *float64 {
	switch {
	case openedAt != nil:
		return openedAt
	case kind == safety.KindTempHigh || kind == safety.KindTempLow:
		v := safety.Threshold(kind, rule, safeMinC, safeMaxC)
		return &v
	}
	return rule
}

// loadAlerts reads every alert open at some time in the period and sorts
// them into the opened, resolved and excursion sections.
func (c *Content) loadAlerts(ctx context.Context, db database.Querier, siteIDs []string) error {
	rows, err := db.Query(ctx, `
		SELECT a.id::text, u.name, si.name, a.kind, a.severity, a.status, a.started_at, a.opened_at, a.resolved_at,
		       a.peak_c, a.threshold_c, r.threshold, u.safe_min_c, u.safe_max_c
		  FROM alerts a
		  JOIN units u ON u.org_id = a.org_id AND u.id = a.unit_id
		  JOIN sites si ON si.org_id = u.org_id AND si.id = u.site_id
		  LEFT JOIN alert_rules r ON r.org_id = a.org_id AND r.id = a.rule_id
		 WHERE a.org_id = $1 AND a.opened_at < $3
		   AND (a.opened_at >= $2 OR a.status <> 'resolved' OR a.resolved_at >= $2)
		   AND ($5::uuid[] IS NULL OR u.site_id = ANY ($5))
		 ORDER BY a.opened_at, a.id
		 LIMIT $4`, c.OrgID, c.Period.Start, c.Period.End, maxAlertRows, siteIDs)
	if err != nil {
		return fmt.Errorf("digest alerts: %w", err)
	}
	var (
		a                  Alert
		openedAt, rule     *float64
		safeMinC, safeMaxC float64
	)
	_, err = pgx.ForEachRow(rows, []any{&a.ID, &a.UnitName, &a.SiteName, &a.Kind, &a.Severity, &a.Status,
		&a.StartedAt, &a.OpenedAt, &a.ResolvedAt, &a.PeakC, &openedAt, &rule, &safeMinC, &safeMaxC}, func() error {
		a.ThresholdC = alertThreshold(a.Kind, openedAt, rule, safeMinC, safeMaxC)
		in := func(t time.Time) bool { return !t.Before(c.Period.Start) && t.Before(c.Period.End) }
		add := func(list *[]Alert, total *int) {
			if *total++; len(*list) < MaxItems {
				*list = append(*list, a)
			}
		}
		if in(a.OpenedAt) {
			add(&c.Opened, &c.OpenedTotal)
		}
		if a.ResolvedAt != nil && in(*a.ResolvedAt) {
			add(&c.Resolved, &c.ResolvedTotal)
		}
		if a.Kind == "temp_high" || a.Kind == "temp_low" {
			add(&c.Excursions, &c.ExcursionsTotal)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("digest alerts: %w", err)
	}
	return nil
}

// unitRanges returns every unit of the organisation with its extremes over
// p, in one statement. The period's bounds are local midnights: whole UTC
// hours for most zones, so hourly rows tile it exactly; 5-minute rows for
// zones at :30 and :45 offsets; raw readings for anything else. In postgres
// mode the rollup tables are complete only before rollup_state.watermark,
// so the rest of the period comes from readings.
func unitRanges(ctx context.Context, db database.Querier, orgID string, p Period, siteIDs []string) ([]UnitRange, error) {
	var mode *string
	if err := db.QueryRow(ctx, `SELECT mode FROM storage_mode`).Scan(&mode); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("digest storage mode: %w", err)
	}
	if mode == nil {
		return nil, errors.New("digest: no storage mode recorded; run `freshtrack migrate up`")
	}

	// Both sources are always in the statement; an empty range costs one
	// index probe. Unaligned bounds read everything from readings.
	level, width := "readings_5m", time.Duration(0)
	for _, l := range []struct {
		table string
		width time.Duration
	}{{"readings_1h", schema.Bucket1h}, {"readings_5m", schema.Bucket5m}} {
		if p.Start.Truncate(l.width).Equal(p.Start) && p.End.Truncate(l.width).Equal(p.End) {
			level, width = l.table, l.width
			break
		}
	}
	// The rollup level covers [p.Start, cut), readings [cut, p.End).
	cut := p.End
	switch {
	case width == 0:
		cut = p.Start
	case schema.Mode(*mode) == schema.Postgres:
		var wm pgtype.Timestamptz
		if err := db.QueryRow(ctx, `SELECT watermark FROM rollup_state`).Scan(&wm); err != nil {
			return nil, fmt.Errorf("digest rollup watermark: %w", err)
		}
		switch {
		case !wm.Valid || wm.InfinityModifier == pgtype.NegativeInfinity:
			cut = p.Start
		case wm.InfinityModifier == pgtype.Finite:
			cut = wm.Time.Truncate(width)
			if cut.After(p.End) {
				cut = p.End
			}
			if cut.Before(p.Start) {
				cut = p.Start
			}
		}
	}

	rows, err := db.Query(ctx, `
		WITH us AS (
			SELECT u.id, u.name, si.name AS site, u.safe_min_c, u.safe_max_c, se.id AS sensor_id
			  FROM units u
			  JOIN sites si ON si.org_id = u.org_id AND si.id = u.site_id
			  LEFT JOIN sensors se ON se.org_id = u.org_id AND se.unit_id = u.id
			 WHERE u.org_id = $1 AND ($5::uuid[] IS NULL OR u.site_id = ANY ($5))
		), s AS (
			SELECT coalesce(array_agg(sensor_id) FILTER (WHERE sensor_id IS NOT NULL), '{}') AS ids FROM us
		), agg AS (
			SELECT x.sensor_id, min(x.lo) AS lo, max(x.hi) AS hi, sum(x.n) AS n
			  FROM s, LATERAL (
				SELECT sensor_id, t_min AS lo, t_max AS hi, n FROM `+level+`
				 WHERE sensor_id = ANY (s.ids) AND bucket >= $2 AND bucket < $3
				UNION ALL
				SELECT sensor_id, temp_c, temp_c, 1::bigint FROM readings
				 WHERE sensor_id = ANY (s.ids) AND time >= $3 AND time < $4) x
			 GROUP BY x.sensor_id
		)
		SELECT us.id::text, us.name, us.site, us.safe_min_c, us.safe_max_c, min(agg.lo), max(agg.hi), coalesce(sum(agg.n), 0)::bigint
		  FROM us LEFT JOIN agg ON agg.sensor_id = us.sensor_id
		 GROUP BY us.id, us.name, us.site, us.safe_min_c, us.safe_max_c
		 ORDER BY us.site, us.name, us.id`, orgID, p.Start, cut, p.End, siteIDs)
	if err != nil {
		return nil, fmt.Errorf("digest unit ranges: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (UnitRange, error) {
		var u UnitRange
		err := r.Scan(&u.UnitID, &u.UnitName, &u.SiteName, &u.SafeMinC, &u.SafeMaxC, &u.MinC, &u.MaxC, &u.Count)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("digest unit ranges: %w", err)
	}
	return out, nil
}
