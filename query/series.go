package query

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
	"github.com/freshtrack/freshtrack/schema"
)

// Resolutions of a series.
const (
	// ResolutionAuto picks one of the others from the length of the range
	// (see AutoResolution).
	ResolutionAuto = "auto"
	// ResolutionRaw returns every reading.
	ResolutionRaw = "raw"
	// Resolution5m returns 5-minute buckets aligned to UTC.
	Resolution5m = "5m"
	// Resolution1h returns hourly buckets aligned to UTC.
	Resolution1h = "1h"
	// Resolution1d returns local days of the site's time zone (23 to 25 hours).
	Resolution1d = "1d"
)

// Limits of a series request.
const (
	// MaxRange is the longest range a series covers.
	MaxRange = 400 * 24 * time.Hour
	// MaxRawRange is the longest range of a raw series (about 10,000
	// readings per sensor at one a minute).
	MaxRawRange = 7 * 24 * time.Hour
	// AutoMaxPoints is the most buckets ResolutionAuto chooses to return.
	AutoMaxPoints = 1000
	// AutoRawMax is the longest range for which ResolutionAuto returns raw
	// readings: 720 readings of a sensor reporting once a minute.
	AutoRawMax = 12 * time.Hour
)

// AutoResolution is the resolution ResolutionAuto picks for a range of the
// given length: the finest one that returns at most AutoMaxPoints buckets,
// and raw readings up to AutoRawMax:
//
//	range ≤ 12 h            raw  (≤ 720 readings a sensor at one a minute)
//	range ≤ 83 h 20 min     5m   (145–1,000 buckets; 24 h → 288)
//	range ≤ 41 d 16 h       1h   (84–1,000 buckets; 7 d → 168, 30 d → 720)
//	longer                  1d   (42–400 buckets; 90 d → 90)
//
// The next finer resolution would return more than 1,000 points, which a
// chart cannot show anyway; the coarser one keeps at least about 1/12 of it.
func AutoResolution(span time.Duration) string {
	switch {
	case span <= AutoRawMax:
		return ResolutionRaw
	case span <= AutoMaxPoints*schema.Bucket5m:
		return Resolution5m
	case span <= AutoMaxPoints*schema.Bucket1h:
		return Resolution1h
	default:
		return Resolution1d
	}
}

// SeriesParams are the inputs of [Series].
type SeriesParams struct {
	// OrgID is the caller's organisation; a unit of another one is not found.
	OrgID string
	// UnitID is the unit whose sensors are aggregated.
	UnitID string
	// From and To bound the range [From, To). Bucketed resolutions return
	// every bucket that overlaps it, whole (the range is widened to bucket
	// boundaries); raw returns the readings inside it.
	From, To time.Time
	// Resolution is auto, raw, 5m, 1h or 1d. Defaults to auto.
	Resolution string
	// Location is the site's time zone, which 1d buckets follow. Nil loads
	// the zone of the unit's site.
	Location *time.Location
	// Now is the clock: buckets that have not ended yet are never gaps.
	// Defaults to time.Now.
	Now func() time.Time
}

// UnitSeries is a unit's temperature series over a range.
type UnitSeries struct {
	// UnitID is the unit.
	UnitID string `json:"unit_id"`
	// Resolution is the resolution returned (auto is resolved).
	Resolution string `json:"resolution"`
	// From is the start of the range covered: the request's From moved back
	// to its bucket's start (unchanged for raw).
	From time.Time `json:"from"`
	// To is the end of the range covered: the request's To moved forward to
	// a bucket boundary (unchanged for raw).
	To time.Time `json:"to"`
	// TimeZone is the IANA zone of the day buckets, for resolution 1d.
	TimeZone string `json:"time_zone,omitempty"`
	// Sensors are the public ids of the sensors aggregated.
	Sensors []string `json:"sensors"`
	// Buckets are the buckets that hold readings, oldest first (bucketed
	// resolutions; empty for raw); a bucket without readings is absent,
	// never invented.
	Buckets []Bucket `json:"buckets"`
	// Points are the readings, oldest first (raw; empty otherwise).
	Points []Point `json:"points"`
	// Gaps are the stretches of the range without data: for bucketed
	// resolutions every run of consecutive missing buckets that have ended by
	// Now; for raw, every silence longer than GapThreshold.
	Gaps []Gap `json:"gaps"`
	// GapThresholdSeconds is, for raw, the silence that counts as a gap.
	GapThresholdSeconds float64 `json:"gap_threshold_s,omitempty"`
}

// Bucket aggregates the readings of a bucket [Start, End).
type Bucket struct {
	// Start is the bucket's first instant.
	Start time.Time `json:"start"`
	// End is the next bucket's start (23 to 25 hours after Start for days
	// across daylight-saving changes).
	End time.Time `json:"end"`
	// MinC is the lowest reading.
	MinC float64 `json:"min_c"`
	// MaxC is the highest reading.
	MaxC float64 `json:"max_c"`
	// AvgC is the sum of the readings over their count, rounded to
	// AvgResolution.
	AvgC float64 `json:"avg_c"`
	// Count is the number of readings.
	Count int64 `json:"count"`
}

// Point is one reading.
type Point struct {
	// Time is when the reading was taken.
	Time time.Time `json:"time"`
	// Sensor is the public id of the sensor that took it.
	Sensor string `json:"sensor"`
	// TempC is the temperature in °C.
	TempC float64 `json:"temp_c"`
	// Humidity is the relative humidity in percent; nil without.
	Humidity *float64 `json:"humidity"`
	// Battery is the battery level; nil without.
	Battery *float64 `json:"battery"`
}

// Gap is a stretch [Start, End) without data.
type Gap struct {
	// Start is where the data stops.
	Start time.Time `json:"start"`
	// End is where it resumes (or the range ends, or now).
	End time.Time `json:"end"`
	// Seconds is End − Start.
	Seconds float64 `json:"seconds"`
}

func newGap(start, end time.Time) Gap {
	return Gap{Start: start.UTC(), End: end.UTC(), Seconds: end.Sub(start).Seconds()}
}

// Series returns a unit's series: the readings of every sensor currently
// assigned to it, raw or aggregated into buckets.
//
// Buckets come from the downsampled series plus the part not materialised
// yet, computed from readings. In postgres mode the rollup tables hold the
// buckets before rollup_state.watermark; a request is split at the
// watermark into day, hour and 5-minute rows and raw readings, each level
// covering only whole buckets of its own below the watermark (so a bucket
// that straddles it combines materialised rows before with readings after,
// exactly). In timescale mode the continuous aggregates are real-time and
// are read directly. Day buckets are local days of the site's zone, folded
// from the coarsest level whose buckets tile them: daily rows for zones at
// UTC, hourly rows for whole-hour offsets, 5-minute rows for :30/:45
// offsets.
func Series(ctx context.Context, db database.Querier, p SeriesParams) (*UnitSeries, error) {
	res, err := validateSeries(&p)
	if err != nil {
		return nil, err
	}
	if !uuids.Valid(p.OrgID) || !uuids.Valid(p.UnitID) {
		return nil, ErrNotFound
	}
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	u, err := loadUnitSensors(ctx, db, p.OrgID, p.UnitID)
	if err != nil {
		return nil, err
	}
	out := &UnitSeries{UnitID: p.UnitID, Resolution: res, Sensors: u.publicIDs, Buckets: []Bucket{}, Points: []Point{}}
	if res == ResolutionRaw {
		out.From, out.To = p.From.UTC(), p.To.UTC()
		out.Points, err = rawPoints(ctx, db, u, p.From, p.To)
		if err != nil {
			return nil, err
		}
		out.Gaps, out.GapThresholdSeconds = rawGaps(out.Points, p.From, p.To, now)
		return out, nil
	}

	var (
		bounds []time.Time // bucket starts plus the end, for 1d
		width  time.Duration
		src    time.Duration // the rollup level folded into buckets
	)
	if res == Resolution1d {
		loc := p.Location
		if loc == nil {
			if loc, err = LoadLocation(u.timezone); err != nil {
				return nil, err
			}
		}
		out.TimeZone = loc.String()
		bounds = dayBoundsCovering(p.From, p.To, loc)
		src = alignment(bounds)
	} else {
		width = map[string]time.Duration{Resolution5m: schema.Bucket5m, Resolution1h: schema.Bucket1h}[res]
		src = width
		a := p.From.Truncate(width)
		b := p.To.Truncate(width)
		if b.Before(p.To) {
			b = b.Add(width)
		}
		for t := a; !t.After(b); t = t.Add(width) {
			bounds = append(bounds, t)
		}
	}
	out.From, out.To = bounds[0].UTC(), bounds[len(bounds)-1].UTC()
	if len(u.sensorIDs) > 0 {
		wm, err := readWatermark(ctx, db, u.mode)
		if err != nil {
			return nil, err
		}
		parts := sourceParts(u.mode, src, wm, bounds[0], bounds[len(bounds)-1])
		out.Buckets, err = bucketRows(ctx, db, u.sensorIDs, parts, width, bounds)
		if err != nil {
			return nil, err
		}
	}
	out.Gaps = bucketGaps(out.Buckets, bounds, now)
	return out, nil
}

func validateSeries(p *SeriesParams) (string, error) {
	res := p.Resolution
	if res == "" {
		res = ResolutionAuto
	}
	switch {
	case p.From.IsZero():
		return "", &ValidationError{Field: "from", Reason: "is required"}
	case p.To.IsZero():
		return "", &ValidationError{Field: "to", Reason: "is required"}
	case !p.From.Before(p.To):
		return "", &ValidationError{Field: "to", Reason: "must be after from"}
	case p.To.Sub(p.From) > MaxRange:
		return "", &ValidationError{Field: "to", Reason: "the range covers at most 400 days"}
	}
	switch res {
	case ResolutionAuto:
		res = AutoResolution(p.To.Sub(p.From))
	case ResolutionRaw:
		if p.To.Sub(p.From) > MaxRawRange {
			return "", &ValidationError{Field: "resolution", Reason: "raw covers at most 7 days; use 5m, 1h, 1d or auto"}
		}
	case Resolution5m, Resolution1h, Resolution1d:
	default:
		return "", &ValidationError{Field: "resolution", Reason: "must be auto, raw, 5m, 1h or 1d"}
	}
	return res, nil
}

type unitSensors struct {
	timezone  string
	mode      schema.Mode
	sensorIDs []int64
	publicIDs []string
}

// loadUnitSensors reads, in one statement, the unit's site zone, the storage
// mode and the sensors assigned to the unit.
func loadUnitSensors(ctx context.Context, db database.Querier, orgID, unitID string) (*unitSensors, error) {
	var u unitSensors
	var mode *string
	err := db.QueryRow(ctx, `
		SELECT st.timezone, (SELECT mode FROM storage_mode),
		       coalesce(array_agg(s.id ORDER BY s.id) FILTER (WHERE s.id IS NOT NULL), '{}'),
		       coalesce(array_agg(s.public_id::text ORDER BY s.id) FILTER (WHERE s.id IS NOT NULL), '{}')
		  FROM units u
		  JOIN sites st ON st.org_id = u.org_id AND st.id = u.site_id
		  LEFT JOIN sensors s ON s.org_id = u.org_id AND s.unit_id = u.id
		 WHERE u.org_id = $1 AND u.id = $2
		 GROUP BY st.timezone`, orgID, unitID).Scan(&u.timezone, &mode, &u.sensorIDs, &u.publicIDs)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load unit: %w", err)
	}
	if mode == nil {
		return nil, fmt.Errorf("load unit: no storage mode recorded; run `freshtrack migrate up`")
	}
	u.mode = schema.Mode(*mode)
	return &u, nil
}

// watermark is rollup_state.watermark: buckets before it are materialised.
// none means nothing is (-infinity); all means everything is, as in
// timescale mode, where real-time aggregates need no split.
type watermark struct {
	t    time.Time
	none bool
}

func readWatermark(ctx context.Context, db database.Querier, mode schema.Mode) (watermark, error) {
	if mode != schema.Postgres {
		return watermark{}, nil
	}
	var ts pgtype.Timestamptz
	if err := db.QueryRow(ctx, `SELECT watermark FROM rollup_state`).Scan(&ts); err != nil {
		return watermark{}, fmt.Errorf("read rollup watermark: %w", err)
	}
	switch {
	case ts.InfinityModifier == pgtype.NegativeInfinity || !ts.Valid:
		return watermark{none: true}, nil
	case ts.InfinityModifier == pgtype.Infinity:
		return watermark{t: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, nil
	}
	return watermark{t: ts.Time}, nil
}

// rollupLevels are the downsampled series, coarsest first.
var rollupLevels = []struct {
	table string
	width time.Duration
}{{"readings_1d", schema.Bucket1d}, {"readings_1h", schema.Bucket1h}, {"readings_5m", schema.Bucket5m}}

// part is one source of a bucketed query: rows of a rollup table with
// bucket in [lo, hi), or readings (table "readings") with time in [lo, hi).
type part struct {
	table  string
	lo, hi time.Time
}

// sourceParts splits [a, b), whose bounds are multiples of src, into the
// sources that cover it exactly. src is the coarsest level to read (24h, 1h,
// 5m; 0 for raw readings only). In postgres mode each level below src covers
// only its whole buckets before the watermark:
//
//	level src     [a, floor_src(W))
//	finer levels  [floor_coarser(W), floor_level(W))
//	readings      [floor_5m(W), b)
//
// so every instant is read from exactly one source.
func sourceParts(mode schema.Mode, src time.Duration, wm watermark, a, b time.Time) []part {
	start := len(rollupLevels)
	for i, l := range rollupLevels {
		if l.width == src {
			start = i
		}
	}
	if mode != schema.Postgres {
		if start == len(rollupLevels) {
			return []part{{"readings", a, b}}
		}
		return []part{{rollupLevels[start].table, a, b}}
	}
	var parts []part
	lower := a
	if !wm.none {
		for _, l := range rollupLevels[start:] {
			cut := wm.t.Truncate(l.width)
			if hi := minTime(b, cut); lower.Before(hi) {
				parts = append(parts, part{l.table, lower, hi})
			}
			if cut.After(lower) {
				lower = cut
			}
		}
	}
	if lower.Before(b) {
		parts = append(parts, part{"readings", lower, b})
	}
	return parts
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// bucketRows aggregates parts into buckets: date_bin of width, or, when
// width is 0, the days between bounds (width_bucket over the local
// midnights).
func bucketRows(ctx context.Context, db database.Querier, sensorIDs []int64, parts []part, width time.Duration, bounds []time.Time) ([]Bucket, error) {
	var sb strings.Builder
	args := []any{sensorIDs}
	if width == 0 {
		args = append(args, bounds)
		sb.WriteString(`SELECT width_bucket(t, $2::timestamptz[])::bigint`)
	} else {
		fmt.Fprintf(&sb, `SELECT date_bin('%d seconds', t, timestamptz '2000-01-01 00:00:00+00')`, int64(width/time.Second))
	}
	sb.WriteString(`, min(lo), max(hi), sum(s), sum(n)::bigint FROM (`)
	for i, pt := range parts {
		if i > 0 {
			sb.WriteString(` UNION ALL `)
		}
		a, b := len(args)+1, len(args)+2
		if pt.table == "readings" {
			fmt.Fprintf(&sb, `SELECT time AS t, temp_c AS lo, temp_c AS hi, temp_c AS s, 1::bigint AS n FROM readings WHERE sensor_id = ANY($1) AND time >= $%d AND time < $%d`, a, b)
		} else {
			fmt.Fprintf(&sb, `SELECT bucket AS t, t_min AS lo, t_max AS hi, t_sum AS s, n FROM %s WHERE sensor_id = ANY($1) AND bucket >= $%d AND bucket < $%d`, pt.table, a, b)
		}
		args = append(args, pt.lo, pt.hi)
	}
	sb.WriteString(`) p GROUP BY 1 ORDER BY 1`)
	rows, err := db.Query(ctx, sb.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("query series: %w", err)
	}
	out := []Bucket{}
	var (
		day    int64
		start  time.Time
		lo, hi float64
		sum    float64
		n      int64
	)
	key := any(&start)
	if width == 0 {
		key = &day
	}
	_, err = pgx.ForEachRow(rows, []any{key, &lo, &hi, &sum, &n}, func() error {
		var b Bucket
		if width == 0 {
			if day < 1 || int(day) >= len(bounds) {
				return fmt.Errorf("day bucket %d outside the range", day)
			}
			b.Start, b.End = bounds[day-1].UTC(), bounds[day].UTC()
		} else {
			b.Start = start.UTC()
			b.End = b.Start.Add(width)
		}
		b.MinC, b.MaxC, b.Count = lo, hi, n
		b.AvgC = roundAvg(sum / float64(n))
		out = append(out, b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("query series: %w", err)
	}
	return out, nil
}

// AvgResolution is what a bucket's average is rounded to: 0.01 °C, the
// resolution temperatures are stored with (sensors send at most two
// decimals; no sensor records a resolution of its own). Digits past it say
// nothing about the food: 3.1666666666666665 is 3.17.
const AvgResolution = 0.01

func roundAvg(v float64) float64 {
	// Dividing the whole number of steps gives the float that prints as
	// 3.17; multiplying by 0.01 would give 3.1700000000000004.
	scale := 1 / AvgResolution
	r := math.Round(v*scale) / scale
	if r == 0 {
		return 0 // no -0
	}
	return r
}

// bucketGaps lists every run of consecutive buckets without data among the
// buckets between bounds (or every width step) that ended by now.
func bucketGaps(buckets []Bucket, bounds []time.Time, now time.Time) []Gap {
	gaps := []Gap{}
	present := make(map[int64]bool, len(buckets))
	for _, b := range buckets {
		present[b.Start.UnixMicro()] = true
	}
	var open *time.Time
	closeAt := func(t time.Time) {
		if open != nil {
			gaps = append(gaps, newGap(*open, t))
			open = nil
		}
	}
	for i := 0; i+1 < len(bounds); i++ {
		start, end := bounds[i], bounds[i+1]
		switch {
		case present[start.UnixMicro()]:
			closeAt(start)
		case end.After(now):
			closeAt(start)
			return gaps
		case open == nil:
			s := start
			open = &s
		}
	}
	closeAt(bounds[len(bounds)-1])
	return gaps
}

func rawPoints(ctx context.Context, db database.Querier, u *unitSensors, from, to time.Time) ([]Point, error) {
	out := []Point{}
	if len(u.sensorIDs) == 0 {
		return out, nil
	}
	public := make(map[int64]string, len(u.sensorIDs))
	for i, id := range u.sensorIDs {
		public[id] = u.publicIDs[i]
	}
	rows, err := db.Query(ctx, `
		SELECT time, sensor_id, temp_c, humidity, battery FROM readings
		 WHERE sensor_id = ANY($1) AND time >= $2 AND time < $3
		 ORDER BY time, sensor_id`, u.sensorIDs, from, to)
	if err != nil {
		return nil, fmt.Errorf("query readings: %w", err)
	}
	var (
		t        time.Time
		id       int64
		temp     float64
		hum, bat *float32
	)
	_, err = pgx.ForEachRow(rows, []any{&t, &id, &temp, &hum, &bat}, func() error {
		out = append(out, Point{Time: t.UTC(), Sensor: public[id], TempC: temp, Humidity: widen32(hum), Battery: widen32(bat)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("query readings: %w", err)
	}
	return out, nil
}

// widen32 converts a real to the float64 that prints the same (51.1, not
// 51.099998474121094).
func widen32(v *float32) *float64 {
	if v == nil {
		return nil
	}
	f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(*v), 'g', -1, 32), 64)
	return &f
}

// Raw gap thresholds: three times the median interval between consecutive
// readings, at least MinRawGap; DefaultRawGap when there are fewer than two
// readings to measure an interval.
const (
	MinRawGap     = time.Minute
	DefaultRawGap = 15 * time.Minute
)

// rawGaps lists the silences longer than the threshold between from,
// the readings, and the earlier of to and now.
func rawGaps(points []Point, from, to, now time.Time) ([]Gap, float64) {
	threshold := DefaultRawGap
	if len(points) >= 2 {
		iv := make([]time.Duration, 0, len(points)-1)
		for i := 1; i < len(points); i++ {
			iv = append(iv, points[i].Time.Sub(points[i-1].Time))
		}
		slices.Sort(iv)
		threshold = max(3*iv[len(iv)/2], MinRawGap)
	}
	end := minTime(to, now)
	gaps := []Gap{}
	prev := from
	check := func(next time.Time) {
		if next.After(end) {
			next = end
		}
		if next.Sub(prev) > threshold {
			gaps = append(gaps, newGap(prev, next))
		}
	}
	for _, pt := range points {
		check(pt.Time)
		prev = pt.Time
	}
	if prev.Before(end) {
		check(end)
	}
	return gaps, math.Round(threshold.Seconds()*1000) / 1000
}
