package ingest

import (
	"encoding/binary"
	"math"
)

// Row is a reading ready to store: its sensor resolved to the compact key.
type Row struct {
	// TimeMicros is microseconds since the Unix epoch.
	TimeMicros int64
	SensorID   int64
	TempC      float64
	// Humidity and Battery are NaN when absent (stored as NULL).
	Humidity float64
	Battery  float64
	// Fault marks a probe's error code (see safety.IsFaultCode): TempC is
	// the code, stored in sensor_faults instead of readings.
	Fault bool
}

// pgEpochMicros is 2000-01-01T00:00:00Z in Unix microseconds: PostgreSQL's
// binary timestamptz counts from there.
const pgEpochMicros = 946684800 * 1_000_000

// copyHeader starts a binary COPY stream: signature, flags, extension length.
var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// copyEncoder writes rows in PostgreSQL's binary COPY format into a reusable
// buffer, with no per-row allocation: the stream for readings (time,
// sensor_id, temp_c, humidity, battery) and, with seq, for the staging table
// used when a batch holds duplicates.
type copyEncoder struct {
	buf []byte
}

func (e *copyEncoder) reset() {
	e.buf = append(e.buf[:0], copyHeader...)
}

func (e *copyEncoder) row(r *Row, seq int32, withSeq bool) {
	b := e.buf
	if withSeq {
		b = binary.BigEndian.AppendUint16(b, 6)
		b = binary.BigEndian.AppendUint32(b, 4)
		b = binary.BigEndian.AppendUint32(b, uint32(seq))
	} else {
		b = binary.BigEndian.AppendUint16(b, 5)
	}
	b = binary.BigEndian.AppendUint32(b, 8)
	b = binary.BigEndian.AppendUint64(b, uint64(r.TimeMicros-pgEpochMicros))
	b = binary.BigEndian.AppendUint32(b, 8)
	b = binary.BigEndian.AppendUint64(b, uint64(r.SensorID))
	b = binary.BigEndian.AppendUint32(b, 8)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(r.TempC))
	b = appendFloat4(b, r.Humidity)
	b = appendFloat4(b, r.Battery)
	e.buf = b
}

func appendFloat4(b []byte, v float64) []byte {
	if math.IsNaN(v) {
		return binary.BigEndian.AppendUint32(b, math.MaxUint32) // length -1: NULL
	}
	b = binary.BigEndian.AppendUint32(b, 4)
	return binary.BigEndian.AppendUint32(b, math.Float32bits(float32(v)))
}

func (e *copyEncoder) finish() []byte {
	e.buf = binary.BigEndian.AppendUint16(e.buf, math.MaxUint16) // -1: end of data
	return e.buf
}
