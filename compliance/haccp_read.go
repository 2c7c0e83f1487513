package compliance

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/schema"
)

// Where a report's readings come from.
//
// Producing 2.2 million rows was most of a one-month report's time (1.9 s
// for a 50-unit site), so the readings of every UTC hour that has ended are
// also kept packed, one row per sensor and hour (reading_hours, written by
// the rollup refresh): the same readings, 16 bytes each in time order. A
// report reads an hour from there when rollup_state vouches for it (in
// [hours_from, hours_through)) and no 5-minute bucket of it waits in the
// invalidation log (late readings not yet packed); every other hour (the
// newest, a late one, one outside retention) comes from readings. Both are
// read in the report's one snapshot, so the fold sees exactly the readings
// it would read from readings alone, and folds them exactly as before.

// hourPlan says which UTC hours of a report's read span are packed.
type hourPlan struct {
	from, through int64          // unix µs; -inf / +inf as math.MinInt64 / MaxInt64
	pending       map[int64]bool // hour starts with a logged bucket
}

const hourUs = int64(schema.ReadingHourWidth / time.Microsecond)

func loadHourPlan(ctx context.Context, db database.Querier, lo, hi time.Time) (hourPlan, error) {
	p := hourPlan{pending: map[int64]bool{}}
	var from, through pgtype.Timestamptz
	if err := db.QueryRow(ctx, `SELECT hours_from, hours_through FROM rollup_state`).Scan(&from, &through); err != nil {
		return p, fmt.Errorf("haccp report: read packed hours state: %w", err)
	}
	p.from, p.through = boundMicros(from), boundMicros(through)
	rows, err := db.Query(ctx, `
		SELECT DISTINCT date_bin('1 hour', bucket, timestamptz '2000-01-01 00:00:00+00') FROM rollup_invalidations
		 WHERE bucket >= $1 AND bucket < $2`, lo.Truncate(schema.ReadingHourWidth), hi)
	if err != nil {
		return p, fmt.Errorf("haccp report: read pending hours: %w", err)
	}
	var h time.Time
	_, err = pgx.ForEachRow(rows, []any{&h}, func() error {
		p.pending[micros(h)] = true
		return nil
	})
	if err != nil {
		return p, fmt.Errorf("haccp report: read pending hours: %w", err)
	}
	return p, nil
}

func boundMicros(t pgtype.Timestamptz) int64 {
	switch {
	case !t.Valid || t.InfinityModifier == pgtype.NegativeInfinity:
		return math.MinInt64
	case t.InfinityModifier == pgtype.Infinity:
		return math.MaxInt64
	}
	return micros(t.Time)
}

// packed reports whether the hour starting at h (unix µs) is read from
// reading_hours.
func (p hourPlan) packed(h int64) bool {
	return h >= p.from && h+hourUs <= p.through && !p.pending[h]
}

// readSpanFrom reads the readings of ids in [from, to): the hours read from
// readings go to fn one by one, the packed hours to packedFn a sensor's
// hour at a time (to be filtered to [from, to) by appendPacked).
func (p hourPlan) readSpanFrom(ctx context.Context, db database.Querier, ids []int64, from, to time.Time,
	fn func(sample), packedFn func(sensor int64, packed []byte) error) error {
	lo, hi := micros(from), micros(to)
	first := lo - floorMod(lo, hourUs)
	anyPacked := false
	for h := first; h < hi; {
		if p.packed(h) {
			anyPacked = true
			h += hourUs
			continue
		}
		// A run of hours read from readings.
		end := h
		for end < hi && !p.packed(end) {
			end += hourUs
		}
		if err := readChunk(ctx, db, ids, fromMicros(max(h, lo)), fromMicros(min(end, hi)), fn); err != nil {
			return err
		}
		h = end
	}
	if !anyPacked {
		return nil
	}
	return p.readPacked(ctx, db, ids, fromMicros(first), to, packedFn)
}

func floorMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

// packedRecord is the size of one reading in reading_hours.readings.
const packedRecord = 16

// readPacked calls fn with the packed readings of each sensor's hour of
// ids that starts in [from, to) and that the plan vouches for.
func (p hourPlan) readPacked(ctx context.Context, db database.Querier, ids []int64, from, to time.Time, fn func(sensor int64, packed []byte) error) error {
	rows, err := db.Query(ctx, `
		SELECT sensor_id, hour, readings FROM reading_hours
		 WHERE sensor_id = ANY($1) AND hour >= $2 AND hour < $3`, ids, from, to)
	if err != nil {
		return fmt.Errorf("haccp report: packed readings: %w", err)
	}
	defer rows.Close()
	binaryRows := binaryColumns(rows, pgtype.Int8OID, pgtype.TimestamptzOID, pgtype.ByteaOID)
	var (
		sensor int64
		hourT  time.Time
		packed []byte
	)
	for rows.Next() {
		var hour int64
		if raw := rows.RawValues(); binaryRows && len(raw[0]) == 8 && len(raw[1]) == 8 {
			sensor = int64(binary.BigEndian.Uint64(raw[0]))
			hour = int64(binary.BigEndian.Uint64(raw[1])) + pgEpochMicros
			packed = raw[2]
		} else {
			if err := rows.Scan(&sensor, &hourT, &packed); err != nil {
				return fmt.Errorf("haccp report: packed readings: %w", err)
			}
			hour = micros(hourT)
		}
		if !p.packed(hour) {
			continue
		}
		if err := fn(sensor, packed); err != nil {
			return fmt.Errorf("haccp report: packed readings of sensor %d at %s: %w", sensor, fromMicros(hour).Format(time.RFC3339), err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("haccp report: packed readings: %w", err)
	}
	return nil
}

// appendPacked appends the packed readings of sensor in [lo, hi) (unix µs).
func appendPacked(dst []sample, sensor int64, packed []byte, lo, hi int64) ([]sample, error) {
	if len(packed)%packedRecord != 0 {
		return dst, fmt.Errorf("%d bytes is not whole readings", len(packed))
	}
	for b := packed; len(b) >= packedRecord; b = b[packedRecord:] {
		t := int64(binary.BigEndian.Uint64(b)) + pgEpochMicros
		if t >= lo && t < hi {
			dst = append(dst, sample{sensor: sensor, t: t, temp: math.Float64frombits(binary.BigEndian.Uint64(b[8:]))})
		}
	}
	return dst, nil
}

// readFaults reads the probes' error codes of [from, to) in time order.
func readFaults(ctx context.Context, db database.Querier, ids []int64, from, to time.Time) ([]sample, error) {
	rows, err := db.Query(ctx, `
		SELECT sensor_id, time FROM sensor_faults
		 WHERE sensor_id = ANY($1) AND time >= $2 AND time < $3
		 ORDER BY time, sensor_id`, ids, from, to)
	if err != nil {
		return nil, fmt.Errorf("haccp report: sensor faults: %w", err)
	}
	var (
		out []sample
		s   = sample{fault: true, temp: math.NaN()}
		t   time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&s.sensor, &t}, func() error {
		s.t = micros(t)
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("haccp report: sensor faults: %w", err)
	}
	return out, nil
}

// pgEpochMicros is 2000-01-01T00:00:00Z in unix microseconds, the origin of
// PostgreSQL's binary timestamptz.
const pgEpochMicros = 946684800 * 1_000_000

// binaryColumns reports whether rows arrive in the binary format with
// exactly these column types, so their raw values can be decoded directly
// (a pooler or the simple protocol may send text instead).
func binaryColumns(rows pgx.Rows, oids ...uint32) bool {
	fds := rows.FieldDescriptions()
	if len(fds) != len(oids) {
		return false
	}
	for i, fd := range fds {
		if fd.Format != pgx.BinaryFormatCode || fd.DataTypeOID != oids[i] {
			return false
		}
	}
	return true
}

// readChunk streams the readings of [from, to), decoding the binary row
// format directly (the report's hot loop).
func readChunk(ctx context.Context, db database.Querier, ids []int64, from, to time.Time, fn func(sample)) error {
	rows, err := db.Query(ctx, `
		SELECT sensor_id, time, temp_c FROM readings
		 WHERE sensor_id = ANY($1) AND time >= $2 AND time < $3`, ids, from, to)
	if err != nil {
		return fmt.Errorf("haccp report: readings: %w", err)
	}
	defer rows.Close()
	binaryRows := binaryColumns(rows, pgtype.Int8OID, pgtype.TimestamptzOID, pgtype.Float8OID)
	// Scanned into outside the loop: a sample whose address went to Scan
	// would be a heap allocation per reading.
	var (
		sensor int64
		t      time.Time
		temp   float64
	)
	for rows.Next() {
		var s sample
		if raw := rows.RawValues(); binaryRows && len(raw[0]) == 8 && len(raw[1]) == 8 && len(raw[2]) == 8 {
			s.sensor = int64(binary.BigEndian.Uint64(raw[0]))
			s.t = int64(binary.BigEndian.Uint64(raw[1])) + pgEpochMicros
			s.temp = math.Float64frombits(binary.BigEndian.Uint64(raw[2]))
		} else {
			if err := rows.Scan(&sensor, &t, &temp); err != nil {
				return fmt.Errorf("haccp report: readings: %w", err)
			}
			s.sensor, s.t, s.temp = sensor, t.UnixMicro(), temp
		}
		fn(s)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("haccp report: readings: %w", err)
	}
	return nil
}
