package compliance

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/internal/uuids"
	"github.com/freshtrack/freshtrack/query"
)

// ExportChunk is the slice of time each statement of ExportReadings reads:
// one day, the size of a readings partition in postgres mode and of a chunk
// in timescale mode, so each sort stays bounded and rows stream out as soon
// as the first day is read.
const ExportChunk = 24 * time.Hour

// ExportParams are the inputs of [ExportReadings].
type ExportParams struct {
	// OrgID is the caller's organisation.
	OrgID string
	// SiteID and UnitID narrow the export (optional); ones of another
	// organisation are not found. With both, the unit must be on the site.
	SiteID, UnitID string
	// From and To bound the readings exported, [From, To).
	From, To time.Time
}

// ExportHeader is the header row ExportReadings writes.
var ExportHeader = []string{"time", "site", "unit", "sensor", "temp_c", "humidity", "battery"}

// ExportReadings streams the raw readings of an organisation (optionally of
// one site or unit) in [From, To) to w as CSV, oldest first, and returns the
// number of readings written. Time is RFC 3339 UTC with the stored
// microseconds; sensor is the external id; humidity and battery are empty
// when the reading had none. Sensors without a unit export with empty site
// and unit (whole-organisation exports only). Nothing is held in memory
// beyond a buffered writer and the sensor directory: each day is one
// statement whose rows are written as they arrive.
func ExportReadings(ctx context.Context, db database.Querier, p ExportParams, w io.Writer) (int64, error) {
	switch {
	case p.From.IsZero():
		return 0, &ValidationError{Field: "from", Reason: "is required"}
	case p.To.IsZero():
		return 0, &ValidationError{Field: "to", Reason: "is required"}
	case !p.From.Before(p.To):
		return 0, &ValidationError{Field: "to", Reason: "must be after from"}
	}
	if !uuids.Valid(p.OrgID) || (p.SiteID != "" && !uuids.Valid(p.SiteID)) || (p.UnitID != "" && !uuids.Valid(p.UnitID)) {
		return 0, ErrNotFound
	}
	dir, err := exportSensors(ctx, db, p)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	if err := cw.Write(ExportHeader); err != nil {
		return 0, fmt.Errorf("export readings: %w", err)
	}
	var n int64
	if len(dir.ids) > 0 {
		for lo := p.From; lo.Before(p.To); {
			hi := lo.Truncate(ExportChunk).Add(ExportChunk)
			if hi.After(p.To) {
				hi = p.To
			}
			k, err := exportChunk(ctx, db, dir, lo, hi, cw)
			n += k
			if err != nil {
				return n, err
			}
			lo = hi
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, fmt.Errorf("export readings: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("export readings: %w", err)
	}
	return n, nil
}

type sensorInfo struct{ site, unit, external string }

type sensorDir struct {
	ids  []int64
	info map[int64]sensorInfo
}

func exportSensors(ctx context.Context, db database.Querier, p ExportParams) (*sensorDir, error) {
	var site, unit *string
	if p.SiteID != "" {
		site = &p.SiteID
	}
	if p.UnitID != "" {
		unit = &p.UnitID
	}
	// The scope exists when the organisation has the site and unit asked
	// for, whether or not they have sensors.
	var ok bool
	err := db.QueryRow(ctx, `
		SELECT ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM sites WHERE org_id = $1 AND id = $2::uuid))
		   AND ($3::uuid IS NULL OR EXISTS (SELECT 1 FROM units WHERE org_id = $1 AND id = $3::uuid
		                                     AND ($2::uuid IS NULL OR site_id = $2::uuid)))`,
		p.OrgID, site, unit).Scan(&ok)
	if err != nil {
		return nil, fmt.Errorf("export readings: %w", err)
	}
	if !ok {
		return nil, ErrNotFound
	}
	rows, err := db.Query(ctx, `
		SELECT s.id, s.external_id, coalesce(st.name, ''), coalesce(u.name, '')
		  FROM sensors s
		  LEFT JOIN units u ON u.org_id = s.org_id AND u.id = s.unit_id
		  LEFT JOIN sites st ON st.org_id = u.org_id AND st.id = u.site_id
		 WHERE s.org_id = $1 AND ($2::uuid IS NULL OR u.site_id = $2::uuid) AND ($3::uuid IS NULL OR u.id = $3::uuid)
		 ORDER BY s.id`, p.OrgID, site, unit)
	if err != nil {
		return nil, fmt.Errorf("export readings: sensors: %w", err)
	}
	dir := &sensorDir{info: map[int64]sensorInfo{}}
	var (
		id  int64
		inf sensorInfo
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &inf.external, &inf.site, &inf.unit}, func() error {
		dir.ids = append(dir.ids, id)
		dir.info[id] = sensorInfo{site: text(inf.site), unit: text(inf.unit), external: text(inf.external)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("export readings: sensors: %w", err)
	}
	return dir, nil
}

func exportChunk(ctx context.Context, db database.Querier, dir *sensorDir, lo, hi time.Time, cw *csv.Writer) (int64, error) {
	rows, err := db.Query(ctx, `
		SELECT time, sensor_id, temp_c, humidity, battery FROM readings
		 WHERE sensor_id = ANY($1) AND time >= $2 AND time < $3
		 ORDER BY time, sensor_id`, dir.ids, lo, hi)
	if err != nil {
		return 0, fmt.Errorf("export readings: %w", err)
	}
	defer rows.Close()
	var (
		n        int64
		t        time.Time
		id       int64
		temp     float64
		hum, bat *float32
		rec      = make([]string, len(ExportHeader))
		tbuf     []byte
	)
	for rows.Next() {
		if err := rows.Scan(&t, &id, &temp, &hum, &bat); err != nil {
			return n, fmt.Errorf("export readings: %w", err)
		}
		inf := dir.info[id]
		tbuf = t.UTC().AppendFormat(tbuf[:0], time.RFC3339Nano)
		rec[0] = string(tbuf)
		rec[1], rec[2], rec[3] = inf.site, inf.unit, inf.external
		rec[4] = strconv.FormatFloat(temp, 'f', -1, 64)
		rec[5], rec[6] = real32(hum), real32(bat)
		if err := cw.Write(rec); err != nil {
			return n, fmt.Errorf("export readings: %w", err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("export readings: %w", err)
	}
	return n, nil
}

func real32(v *float32) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(float64(*v), 'f', -1, 32)
}

// ScopeLocation returns the time zone of the site that an export or report
// scope names (the site, or the unit's site), for reading calendar dates;
// UTC when the scope is the whole organisation. A site or unit of another
// organisation is not found.
func ScopeLocation(ctx context.Context, db database.Querier, orgID, siteID, unitID string) (*time.Location, error) {
	if siteID == "" && unitID == "" {
		return time.UTC, nil
	}
	if !uuids.Valid(orgID) || (siteID != "" && !uuids.Valid(siteID)) || (unitID != "" && !uuids.Valid(unitID)) {
		return nil, ErrNotFound
	}
	var site, unit *string
	if siteID != "" {
		site = &siteID
	}
	if unitID != "" {
		unit = &unitID
	}
	var tz string
	err := db.QueryRow(ctx, `
		SELECT st.timezone FROM sites st
		 WHERE st.org_id = $1
		   AND ($2::uuid IS NULL OR st.id = $2::uuid)
		   AND ($3::uuid IS NULL OR st.id = (SELECT site_id FROM units WHERE org_id = $1 AND id = $3::uuid))`,
		orgID, site, unit).Scan(&tz)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read site time zone: %w", err)
	}
	return query.LoadLocation(tz)
}
