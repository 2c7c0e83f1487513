package query

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/internal/uuids"
)

// DefaultOfflineAfter is how long a unit may go without a reading before it
// is offline, unless a sensor_offline rule says otherwise.
const DefaultOfflineAfter = 15 * time.Minute

// Unit statuses, in the order they take precedence.
const (
	// StatusNoData: no sensor of the unit has ever reported.
	StatusNoData = "no_data"
	// StatusOffline: the newest reading is older than the offline threshold.
	StatusOffline = "offline"
	// StatusOutOfRange: the newest reading is outside the effective range.
	StatusOutOfRange = "out_of_range"
	// StatusOK: a recent reading inside the effective range.
	StatusOK = "ok"
)

// Sources of a unit's effective limits.
const (
	// SourceUnit: the unit's safe range (or LatestParams.OfflineAfter).
	SourceUnit = "unit"
	// SourceRule: an enabled alert rule of the unit or of its kind.
	SourceRule = "rule"
)

// LatestSource is an in-memory view of every sensor's newest reading, such as
// *ingest.Latest.
type LatestSource interface {
	Get(sensorID int64) (ingest.LatestValue, bool)
}

// LatestParams are the inputs of [Latest].
type LatestParams struct {
	// OrgID is the caller's organisation.
	OrgID string
	// SiteID restricts the answer to one site; empty means every site of
	// the organisation. A site of another organisation is not found.
	SiteID string
	// Source is the in-memory latest values (ingest's cache). The persisted
	// sensor_latest table is read in the same statement as the units, and
	// the newer of the two values of a sensor wins, so a cache that misses
	// sensors (another instance ingests them) still answers. Nil reads
	// sensor_latest only.
	Source LatestSource
	// OfflineAfter is the silence after which a unit is offline when it has
	// no sensor_offline rule. Defaults to DefaultOfflineAfter.
	OfflineAfter time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// UnitLatest is a unit's newest reading and status.
type UnitLatest struct {
	// SiteID is the unit's site.
	SiteID string `json:"site_id"`
	// SiteName is the site's name.
	SiteName string `json:"site_name"`
	// UnitID is the unit.
	UnitID string `json:"unit_id"`
	// UnitName is the unit's name.
	UnitName string `json:"unit_name"`
	// Kind is fridge, freezer, hot_holding, ...
	Kind string `json:"kind"`
	// SafeMinC is the bottom of the unit's safe range.
	SafeMinC float64 `json:"safe_min_c"`
	// SafeMaxC is the top of the unit's safe range.
	SafeMaxC float64 `json:"safe_max_c"`
	// LowC is the effective lower limit the reading is judged against: the
	// higher of SafeMinC and the enabled temp_low rules' threshold (see
	// Latest).
	LowC float64 `json:"low_c"`
	// HighC is the effective upper limit: the lower of SafeMaxC and the
	// enabled temp_high rules' threshold.
	HighC float64 `json:"high_c"`
	// LowSource says where LowC comes from: unit or rule.
	LowSource string `json:"low_source"`
	// HighSource says where HighC comes from: unit or rule.
	HighSource string `json:"high_source"`
	// OfflineAfterSeconds is the silence after which the unit is offline.
	OfflineAfterSeconds float64 `json:"offline_after_s"`
	// OfflineSource is rule when a sensor_offline rule set it, else unit.
	OfflineSource string `json:"offline_source"`
	// Reading is the newest reading of any of the unit's active sensors;
	// nil when none has reported.
	Reading *LatestReading `json:"reading"`
	// AgeSeconds is how old Reading is (0 without one).
	AgeSeconds float64 `json:"age_s"`
	// InRange is whether Reading is within [LowC, HighC].
	InRange bool `json:"in_range"`
	// Offline is whether Reading is missing or older than the threshold.
	Offline bool `json:"offline"`
	// Status is no_data, offline, out_of_range or ok (first that applies).
	Status string `json:"status"`
}

// LatestReading is a sensor's newest reading.
type LatestReading struct {
	// Sensor is the sensor's public id.
	Sensor string `json:"sensor"`
	// Time is when the reading was taken.
	Time time.Time `json:"time"`
	// TempC is the temperature in °C.
	TempC float64 `json:"temp_c"`
	// Humidity is the relative humidity in percent; nil without.
	Humidity *float64 `json:"humidity"`
	// Battery is the battery level; nil without.
	Battery *float64 `json:"battery"`
}

// Latest returns every unit of a site (or of the organisation) with its
// newest reading, ordered by site name and unit name. It never scans
// readings: one statement reads units, sensors, rules and sensor_latest, and
// Source (when set) is consulted in memory.
//
// With several sensors in a unit, the newest reading wins; retired sensors
// are ignored. A unit's limits: unit-specific enabled rules replace the
// organisation's rules for its kind (kind by kind); several rules of a kind
// count by the strictest (lowest temp_high, highest temp_low, shortest
// sensor_offline). Then, per side, the stricter of the rule threshold and the
// safe range wins: a reading the HACCP safe range forbids is never shown as
// in range, and a rule that warns earlier than the safe range shows its
// warning. A sensor_offline rule's threshold (minutes) replaces OfflineAfter.
func Latest(ctx context.Context, db Querier, p LatestParams) ([]UnitLatest, error) {
	if !uuids.Valid(p.OrgID) || (p.SiteID != "" && !uuids.Valid(p.SiteID)) {
		return nil, ErrNotFound
	}
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	offlineAfter := p.OfflineAfter
	if offlineAfter <= 0 {
		offlineAfter = DefaultOfflineAfter
	}
	var site *string
	if p.SiteID != "" {
		site = &p.SiteID
	}
	rows, err := db.Query(ctx, latestSQL, p.OrgID, site)
	if err != nil {
		return nil, fmt.Errorf("query latest: %w", err)
	}
	out := []UnitLatest{}
	var (
		r                            latestRow
		cur                          *UnitLatest
		curTime                      time.Time
		highU, highK, lowU, lowK     *float64
		offU, offK                   *float64
		sensorID                     *int64
		sensorPub                    *string
		slTime                       *time.Time
		slTemp                       *float64
		slHum, slBat                 *float32
		siteID, siteName, unitID, nm string
	)
	_, err = pgx.ForEachRow(rows, []any{&siteID, &siteName, &unitID, &nm, &r.kind, &r.safeMin, &r.safeMax,
		&highU, &highK, &lowU, &lowK, &offU, &offK, &sensorID, &sensorPub, &slTime, &slTemp, &slHum, &slBat}, func() error {
		if cur == nil || cur.UnitID != unitID {
			out = append(out, newUnitLatest(siteID, siteName, unitID, nm, r, highU, highK, lowU, lowK, offU, offK, offlineAfter))
			cur = &out[len(out)-1]
			curTime = time.Time{}
		}
		if sensorID == nil {
			return nil
		}
		var cand *LatestReading
		if slTime != nil {
			cand = &LatestReading{Sensor: *sensorPub, Time: slTime.UTC(), TempC: *slTemp, Humidity: widen32(slHum), Battery: widen32(slBat)}
		}
		if p.Source != nil {
			if v, ok := p.Source.Get(*sensorID); ok && (cand == nil || v.Time().After(cand.Time)) {
				cand = &LatestReading{Sensor: *sensorPub, Time: v.Time(), TempC: v.TempC, Humidity: notNaN(v.Humidity), Battery: notNaN(v.Battery)}
			}
		}
		if cand != nil && (cur.Reading == nil || cand.Time.After(curTime)) {
			cur.Reading, curTime = cand, cand.Time
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("query latest: %w", err)
	}
	for i := range out {
		out[i].judge(now)
	}
	if len(out) == 0 && site != nil {
		var exists bool
		if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sites WHERE org_id = $1 AND id = $2)`, p.OrgID, p.SiteID).Scan(&exists); err != nil {
			return nil, fmt.Errorf("query latest: %w", err)
		}
		if !exists {
			return nil, ErrNotFound
		}
	}
	return out, nil
}

// latestSQL reads units with their sensors' persisted latest values and
// their rule thresholds, one row per (unit, active sensor), or one row with
// NULL sensor columns for a unit without sensors.
const latestSQL = `
	WITH rules AS (
		SELECT unit_id, unit_kind, kind, threshold
		  FROM alert_rules
		 WHERE org_id = $1 AND enabled AND kind IN ('temp_high', 'temp_low', 'sensor_offline')
	), units_of AS (
		SELECT u.id, u.site_id, u.name, u.kind, u.safe_min_c, u.safe_max_c
		  FROM units u
		 WHERE u.org_id = $1 AND ($2::uuid IS NULL OR u.site_id = $2::uuid)
	), limits AS (
		SELECT u.id,
		       min(r.threshold) FILTER (WHERE r.kind = 'temp_high' AND r.unit_id = u.id)          AS high_u,
		       min(r.threshold) FILTER (WHERE r.kind = 'temp_high' AND r.unit_id IS NULL)         AS high_k,
		       max(r.threshold) FILTER (WHERE r.kind = 'temp_low' AND r.unit_id = u.id)           AS low_u,
		       max(r.threshold) FILTER (WHERE r.kind = 'temp_low' AND r.unit_id IS NULL)          AS low_k,
		       min(r.threshold) FILTER (WHERE r.kind = 'sensor_offline' AND r.unit_id = u.id)     AS off_u,
		       min(r.threshold) FILTER (WHERE r.kind = 'sensor_offline' AND r.unit_id IS NULL)    AS off_k
		  FROM units_of u
		  JOIN rules r ON r.unit_id = u.id OR (r.unit_id IS NULL AND r.unit_kind = u.kind)
		 GROUP BY u.id
	)
	SELECT st.id, st.name, u.id, u.name, u.kind, u.safe_min_c, u.safe_max_c,
	       l.high_u, l.high_k, l.low_u, l.low_k, l.off_u, l.off_k,
	       s.id, s.public_id::text, sl.time, sl.temp_c, sl.humidity, sl.battery
	  FROM units_of u
	  JOIN sites st ON st.org_id = $1 AND st.id = u.site_id
	  LEFT JOIN limits l ON l.id = u.id
	  LEFT JOIN sensors s ON s.org_id = $1 AND s.unit_id = u.id AND s.retired_at IS NULL
	  LEFT JOIN sensor_latest sl ON sl.sensor_id = s.id
	 ORDER BY st.name, st.id, u.name, u.id`

type latestRow struct {
	kind             string
	safeMin, safeMax float64
}

func newUnitLatest(siteID, siteName, unitID, name string, r latestRow, highU, highK, lowU, lowK, offU, offK *float64, offlineAfter time.Duration) UnitLatest {
	u := UnitLatest{
		SiteID: siteID, SiteName: siteName, UnitID: unitID, UnitName: name, Kind: r.kind,
		SafeMinC: r.safeMin, SafeMaxC: r.safeMax,
		LowC: r.safeMin, HighC: r.safeMax, LowSource: SourceUnit, HighSource: SourceUnit,
		OfflineAfterSeconds: offlineAfter.Seconds(), OfflineSource: SourceUnit,
	}
	if high := firstSet(highU, highK); high != nil && *high < u.HighC {
		u.HighC, u.HighSource = *high, SourceRule
	}
	if low := firstSet(lowU, lowK); low != nil && *low > u.LowC {
		u.LowC, u.LowSource = *low, SourceRule
	}
	if off := firstSet(offU, offK); off != nil && *off > 0 {
		u.OfflineAfterSeconds, u.OfflineSource = *off*60, SourceRule
	}
	return u
}

func firstSet(a, b *float64) *float64 {
	if a != nil {
		return a
	}
	return b
}

func (u *UnitLatest) judge(now time.Time) {
	if u.Reading == nil {
		u.Offline, u.Status = true, StatusNoData
		return
	}
	age := now.Sub(u.Reading.Time)
	u.AgeSeconds = math.Max(0, age.Seconds())
	u.InRange = u.Reading.TempC >= u.LowC && u.Reading.TempC <= u.HighC
	u.Offline = age.Seconds() > u.OfflineAfterSeconds
	switch {
	case u.Offline:
		u.Status = StatusOffline
	case !u.InRange:
		u.Status = StatusOutOfRange
	default:
		u.Status = StatusOK
	}
}

func notNaN(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}
