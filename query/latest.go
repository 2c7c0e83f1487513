package query

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
	"github.com/freshtrack/freshtrack/safety"
)

// DefaultOfflineAfter is how long a unit may go without a reading before it
// is offline, unless a sensor_offline rule says otherwise.
const DefaultOfflineAfter = 15 * time.Minute

// Unit statuses, in the order they take precedence.
const (
	// StatusNoData: no sensor of the unit has ever reported.
	StatusNoData = "no_data"
	// StatusOffline: no sensor of the unit has reported (a reading or an
	// error code) within the offline threshold.
	StatusOffline = "offline"
	// StatusOutOfRange: a live probe is outside the unit's limits.
	StatusOutOfRange = "out_of_range"
	// StatusSensorFault: no live probe is out of range, but a probe's
	// newest record is an error code (a disconnected or failed probe), so
	// it does not measure the unit.
	StatusSensorFault = "sensor_fault"
	// StatusOK: every live probe within the limits, none faulty.
	StatusOK = "ok"
)

// Sources of a unit's effective limits.
const (
	// SourceUnit: the unit's safe range (or LatestParams.OfflineAfter).
	SourceUnit = safety.SourceUnit
	// SourceRule: an enabled alert rule's own threshold.
	SourceRule = safety.SourceRule
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
	// LowC is the lower limit the probes are judged against
	// (safety.LimitsFor): SafeMinC, unless the enabled temp_low rules that
	// apply to the unit have their own thresholds (the strictest of them).
	LowC float64 `json:"low_c"`
	// HighC is the upper limit, likewise from SafeMaxC and temp_high rules.
	HighC float64 `json:"high_c"`
	// LowSource says where LowC comes from: unit (the safe range, also
	// when a rule follows it) or rule (a rule's own threshold).
	LowSource string `json:"low_source"`
	// HighSource says where HighC comes from: unit or rule.
	HighSource string `json:"high_source"`
	// LowAlerts is whether an enabled temp_low rule alerts at LowC; false
	// when none applies (say, a unit's rule switched off): the limit still
	// judges the status.
	LowAlerts bool `json:"low_alerts"`
	// HighAlerts is the same for HighC and temp_high rules.
	HighAlerts bool `json:"high_alerts"`
	// OfflineAfterSeconds is the silence after which the unit is offline.
	OfflineAfterSeconds float64 `json:"offline_after_s"`
	// OfflineSource is rule when a sensor_offline rule set it, else unit.
	OfflineSource string `json:"offline_source"`
	// Reading is the reading the status stands on: the live probe furthest
	// out of the limits when one is out, else the newest reading of any of
	// the unit's active sensors; nil when none has a reading.
	Reading *LatestReading `json:"reading"`
	// AgeSeconds is how old Reading is (0 without one).
	AgeSeconds float64 `json:"age_s"`
	// LiveProbes is how many active sensors have a reading (not an error
	// code) within the offline threshold; only they judge the unit.
	LiveProbes int `json:"live_probes"`
	// FaultySensors are the public ids of the active sensors whose newest
	// record is an error code; empty when none.
	FaultySensors []string `json:"faulty_sensors"`
	// InRange is whether there is a live probe and every live probe is
	// within [LowC, HighC].
	InRange bool `json:"in_range"`
	// Offline is whether no sensor of the unit has reported within the
	// threshold (or ever).
	Offline bool `json:"offline"`
	// Status is no_data, offline, out_of_range, sensor_fault or ok (the
	// first that applies).
	Status string `json:"status"`

	probes []probeLatest
}

// probeLatest is one active sensor's newest reading and newest error code.
type probeLatest struct {
	id      int64
	public  string
	reading *LatestReading
	fault   time.Time // zero: none
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
// readings: one statement reads units, sensors, rules, sensor_latest and
// each sensor's newest sensor_faults row, and Source (when set) is
// consulted in memory.
//
// A unit's limits are safety.LimitsFor over the organisation's alert rules,
// the same selection as alerting: per rule kind the unit's own rows if it
// has any (a disabled one switching that kind off), else the
// organisation's rows for its kind; per side the strictest enabled rule's
// threshold, a rule with threshold NULL following the safe range, and the
// safe range without a rule. The shortest enabled sensor_offline rule that
// applies (minutes) replaces OfflineAfter.
//
// Retired sensors are ignored. Each active sensor is a probe: its newest
// reading is the newer of sensor_latest and Source, and it is live when
// that reading is not older than the offline threshold and no error code
// came after it. The unit is judged conservatively, as safety.Unit: out of
// range while any live probe is, so a probe in range never masks another
// one out of range.
func Latest(ctx context.Context, db database.Querier, p LatestParams) ([]UnitLatest, error) {
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
		sensorID                     *int64
		sensorPub                    *string
		slTime, faultTime            *time.Time
		slTemp                       *float64
		slHum, slBat                 *float32
		siteID, siteName, unitID, nm string
	)
	_, err = pgx.ForEachRow(rows, []any{&siteID, &siteName, &unitID, &nm, &r.kind, &r.safeMin, &r.safeMax,
		&r.own, &r.kinds, &r.enabled, &r.thresholds, &sensorID, &sensorPub, &slTime, &slTemp, &slHum, &slBat, &faultTime}, func() error {
		if cur == nil || cur.UnitID != unitID {
			out = append(out, newUnitLatest(siteID, siteName, unitID, nm, &r, offlineAfter))
			cur = &out[len(out)-1]
		}
		if sensorID == nil {
			return nil
		}
		pr := probeLatest{id: *sensorID, public: *sensorPub}
		if slTime != nil {
			pr.reading = &LatestReading{Sensor: *sensorPub, Time: slTime.UTC(), TempC: *slTemp, Humidity: widen32(slHum), Battery: widen32(slBat)}
		}
		if p.Source != nil {
			if v, ok := p.Source.Get(*sensorID); ok && (pr.reading == nil || v.Time().After(pr.reading.Time)) {
				pr.reading = &LatestReading{Sensor: *sensorPub, Time: v.Time(), TempC: v.TempC, Humidity: notNaN(v.Humidity), Battery: notNaN(v.Battery)}
			}
		}
		if faultTime != nil {
			pr.fault = faultTime.UTC()
		}
		cur.probes = append(cur.probes, pr)
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

// latestSQL reads units with the alert rules that may apply to them (their
// own rows and their organisation's rows for their kind, enabled or not:
// a disabled row claims its level), their active sensors' persisted latest
// values and each sensor's newest error code, one row per (unit, active
// sensor), or one row with NULL sensor columns for a unit without sensors.
// The newest sensor_faults row is one backward step of its primary key.
const latestSQL = `
	WITH rules AS (
		SELECT unit_id, unit_kind, kind, enabled, threshold
		  FROM alert_rules
		 WHERE org_id = $1 AND kind IN ('temp_high', 'temp_low', 'sensor_offline')
	), units_of AS (
		SELECT u.id, u.site_id, u.name, u.kind, u.safe_min_c, u.safe_max_c
		  FROM units u
		 WHERE u.org_id = $1 AND ($2::uuid IS NULL OR u.site_id = $2::uuid)
	), unit_rules AS (
		SELECT u.id,
		       array_agg(r.unit_id IS NOT NULL) AS own,
		       array_agg(r.kind)                AS kinds,
		       array_agg(r.enabled)             AS enabled,
		       array_agg(r.threshold)           AS thresholds
		  FROM units_of u
		  JOIN rules r ON r.unit_id = u.id OR (r.unit_id IS NULL AND r.unit_kind = u.kind)
		 GROUP BY u.id
	)
	SELECT st.id, st.name, u.id, u.name, u.kind, u.safe_min_c, u.safe_max_c,
	       ur.own, ur.kinds, ur.enabled, ur.thresholds,
	       s.id, s.public_id::text, sl.time, sl.temp_c, sl.humidity, sl.battery, f.time
	  FROM units_of u
	  JOIN sites st ON st.org_id = $1 AND st.id = u.site_id
	  LEFT JOIN unit_rules ur ON ur.id = u.id
	  LEFT JOIN sensors s ON s.org_id = $1 AND s.unit_id = u.id AND s.retired_at IS NULL
	  LEFT JOIN sensor_latest sl ON sl.sensor_id = s.id
	  LEFT JOIN LATERAL (SELECT max(sf.time) AS time FROM sensor_faults sf WHERE sf.sensor_id = s.id) f ON true
	 ORDER BY st.name, st.id, u.name, u.id, s.id`

type latestRow struct {
	kind             string
	safeMin, safeMax float64
	own, enabled     []bool
	kinds            []string
	thresholds       []*float64
}

func newUnitLatest(siteID, siteName, unitID, name string, r *latestRow, offlineAfter time.Duration) UnitLatest {
	u := UnitLatest{
		SiteID: siteID, SiteName: siteName, UnitID: unitID, UnitName: name, Kind: r.kind,
		SafeMinC: r.safeMin, SafeMaxC: r.safeMax,
		OfflineAfterSeconds: offlineAfter.Seconds(), OfflineSource: SourceUnit,
		FaultySensors: []string{},
	}
	rules := make([]safety.Rule, len(r.kinds))
	scopes := make([]safety.Scope, len(r.kinds))
	for i, k := range r.kinds {
		sc := safety.Scope{UnitKind: r.kind, Kind: k, Enabled: r.enabled[i]}
		if r.own[i] {
			sc.UnitID = unitID
		}
		rules[i], scopes[i] = safety.Rule{Scope: sc, Threshold: r.thresholds[i]}, sc
	}
	l := safety.LimitsFor(rules, unitID, r.kind, r.safeMin, r.safeMax)
	u.LowC, u.LowSource, u.LowAlerts = l.Low.C, l.Low.Source, l.Low.Alerts
	u.HighC, u.HighSource, u.HighAlerts = l.High.C, l.High.Source, l.High.Alerts
	for _, i := range safety.Applies(scopes, unitID, r.kind) {
		if th := rules[i].Threshold; rules[i].Kind == "sensor_offline" && th != nil && *th > 0 &&
			(u.OfflineSource != SourceRule || *th*60 < u.OfflineAfterSeconds) {
			u.OfflineAfterSeconds, u.OfflineSource = *th*60, SourceRule
		}
	}
	// The arrays are scanned anew for the next row; nothing here keeps them.
	r.own, r.kinds, r.enabled, r.thresholds = nil, nil, nil, nil
	return u
}

func timeOf(r *LatestReading) time.Time {
	if r == nil {
		return time.Time{}
	}
	return r.Time
}

func (u *UnitLatest) limits() safety.Limits {
	return safety.Limits{Low: safety.Side{C: u.LowC, Source: u.LowSource, Alerts: u.LowAlerts},
		High: safety.Side{C: u.HighC, Source: u.HighSource, Alerts: u.HighAlerts}}
}

// excess is how far c is outside the limits (0 or less when within).
func excess(l safety.Limits, c float64) float64 { return max(c-l.High.C, l.Low.C-c) }

// judge sets the unit's reading and status from its probes at now.
func (u *UnitLatest) judge(now time.Time) {
	l := u.limits()
	threshold := time.Duration(u.OfflineAfterSeconds * float64(time.Second))
	mix := safety.Unit{MaxC: math.Inf(-1), MinC: math.Inf(1)}
	var newest, worst *LatestReading
	var heard time.Time // the newest record of any kind
	for _, p := range u.probes {
		rd := p.reading
		for _, t := range []time.Time{p.fault, timeOf(rd)} {
			if t.After(heard) {
				heard = t
			}
		}
		faulty := !p.fault.IsZero() && (rd == nil || p.fault.After(rd.Time))
		if rd != nil && safety.IsFaultCode(rd.TempC) {
			// An error code stored as a reading by an earlier version: not
			// a temperature.
			faulty, rd = true, nil
		}
		if faulty {
			u.FaultySensors = append(u.FaultySensors, p.public)
		}
		if rd == nil {
			continue
		}
		if newest == nil || rd.Time.After(newest.Time) {
			newest = rd
		}
		if faulty || now.Sub(rd.Time) > threshold {
			continue // dead: says nothing about the unit now
		}
		mix.Live++
		if rd.TempC > mix.MaxC {
			mix.MaxC, mix.MaxSensor = rd.TempC, p.id
		}
		if rd.TempC < mix.MinC {
			mix.MinC, mix.MinSensor = rd.TempC, p.id
		}
		if e := excess(l, rd.TempC); e > 0 && (worst == nil || e > excess(l, worst.TempC) || e == excess(l, worst.TempC) && rd.Time.After(worst.Time)) {
			worst = rd
		}
	}
	u.probes = nil
	u.LiveProbes = mix.Live
	u.InRange = mix.In(l)
	u.Reading = newest
	if worst != nil {
		u.Reading = worst
	}
	if u.Reading != nil {
		u.AgeSeconds = math.Max(0, now.Sub(u.Reading.Time).Seconds())
	}
	u.Offline = heard.IsZero() || now.Sub(heard) > threshold
	switch {
	case heard.IsZero():
		u.Status = StatusNoData
	case u.Offline:
		u.Status = StatusOffline
	case mix.Out(l):
		u.Status = StatusOutOfRange
	case len(u.FaultySensors) > 0:
		u.Status = StatusSensorFault
	case mix.Live == 0:
		// Heard from within the threshold, yet no live probe and no
		// fault: not expected, but silence is never ok.
		u.Offline, u.Status = true, StatusOffline
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
