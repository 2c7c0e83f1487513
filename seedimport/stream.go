package seedimport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/safety"
)

// The readings hot path, without I/O: the seed's binary COPY output of
//
//	recorded_at timestamptz, unit_id uuid, device_id uuid, temperature float8,
//	humidity float4, battery float4
//
// in (recorded_at, id) order is decoded tuple by tuple, each reading is
// given its FreshTrack sensor, converted to °C, collapsed with an earlier
// reading of the same sensor and instant, and encoded in FreshTrack's binary
// COPY format for readings (ingest.AppendCopyRow). A streamer is a
// io.Writer for pgconn.CopyTo; the bytes it produces go to flush, whose
// slice is only valid during the call.

// pgEpochMicros is 2000-01-01T00:00:00Z in Unix microseconds.
const pgEpochMicros = 946684800 * 1_000_000

var copySignature = []byte("PGCOPY\n\xff\r\n\x00")

// errCopyFormat means the seed's COPY output is not what was asked for.
var errCopyFormat = errors.New("seed readings: unexpected binary COPY format")

// sensorMap resolves a seed reading to the index of its FreshTrack sensor.
type sensorMap struct {
	// ids are the sensors' ids (sensors.id) by index.
	ids []int64
	// devices: a device's sensor index and the unit it sits in.
	devices map[[16]byte]devRef
	// units: importable units and their synthetic sensor (-1: none).
	units map[[16]byte]int32
}

type devRef struct {
	unit [16]byte
	idx  int32
}

// faultRow is a probe error code, stored in sensor_faults.
type faultRow struct {
	SensorID   int64
	TimeMicros int64
	Code       float64
}

// streamStats counts what a streamer did with the readings it was given.
type streamStats struct {
	Read, Written, Collapsed, Faults, Skipped int64
}

type streamer struct {
	m          *sensorMap
	fahrenheit bool
	// flush receives encoded output; flushAt is the size that triggers it.
	flush   func([]byte) error
	flushAt int

	in      []byte
	header  bool
	trailer bool
	out     []byte

	// last is each sensor's newest reading time in this chunk (µs since
	// 2000), valid where seen equals gen.
	last []int64
	seen []uint32
	gen  uint32

	stats      streamStats
	buckets    []time.Time
	lastBucket int64
	faults     []faultRow
	// progress is called with the rows read since its last call.
	progress func(int64)
}

func newStreamer(m *sensorMap, fahrenheit bool) *streamer {
	return &streamer{m: m, fahrenheit: fahrenheit, flushAt: 256 << 10,
		last: make([]int64, len(m.ids)), seen: make([]uint32, len(m.ids))}
}

// reset prepares the streamer for the next chunk (one COPY).
func (s *streamer) reset(flush func([]byte) error) {
	s.flush = flush
	s.in, s.out = s.in[:0], ingest.AppendCopyHeader(s.out[:0])
	s.header, s.trailer = false, false
	s.gen++
	s.stats = streamStats{}
	s.buckets, s.lastBucket, s.faults = s.buckets[:0], math.MinInt64, s.faults[:0]
}

// Write takes the next bytes of the seed's COPY stream.
func (s *streamer) Write(p []byte) (int, error) {
	s.in = append(s.in, p...)
	off, err := s.parse(s.in)
	n := copy(s.in, s.in[off:])
	s.in = s.in[:n]
	if err != nil {
		return 0, err
	}
	if len(s.out) >= s.flushAt {
		if err := s.flush(s.out); err != nil {
			return 0, err
		}
		s.out = s.out[:0]
	}
	return len(p), nil
}

// finish checks the stream ended and flushes the rest with the trailer.
func (s *streamer) finish() error {
	if !s.trailer || len(s.in) != 0 {
		return fmt.Errorf("%w: the stream ended early", errCopyFormat)
	}
	s.out = ingest.AppendCopyTrailer(s.out)
	err := s.flush(s.out)
	s.out = s.out[:0]
	return err
}

// parse consumes the complete tuples at the start of b and returns how
// many bytes it used.
func (s *streamer) parse(b []byte) (int, error) {
	off := 0
	if !s.header {
		if len(b) < 19 {
			return 0, nil
		}
		if string(b[:11]) != string(copySignature) {
			return 0, fmt.Errorf("%w: no PGCOPY signature", errCopyFormat)
		}
		ext := int(binary.BigEndian.Uint32(b[15:19]))
		if len(b) < 19+ext {
			return 0, nil
		}
		off, s.header = 19+ext, true
	}
	var read int64
	defer func() {
		if s.progress != nil && read > 0 {
			s.progress(read)
		}
	}()
	for off+2 <= len(b) && !s.trailer {
		n, ok, err := s.tuple(b[off:])
		if err != nil || !ok {
			return off, err
		}
		if n == 2 {
			s.trailer = true
		} else {
			read++
		}
		off += n
	}
	if s.trailer && off != len(b) {
		return off, fmt.Errorf("%w: bytes after the trailer", errCopyFormat)
	}
	return off, nil
}

// tuple decodes one tuple at the start of b (ok false: not all of it is
// there yet) and returns its length.
func (s *streamer) tuple(b []byte) (int, bool, error) {
	nf := int16(binary.BigEndian.Uint16(b))
	if nf == -1 {
		return 2, true, nil
	}
	if nf != 6 {
		return 0, false, fmt.Errorf("%w: %d fields, want 6", errCopyFormat, nf)
	}
	var fields [6][]byte
	off := 2
	for i := range fields {
		if off+4 > len(b) {
			return 0, false, nil
		}
		l := int32(binary.BigEndian.Uint32(b[off:]))
		off += 4
		if l < 0 {
			continue
		}
		if off+int(l) > len(b) {
			return 0, false, nil
		}
		fields[i] = b[off : off+int(l)]
		off += int(l)
	}
	if len(fields[0]) != 8 || len(fields[1]) != 16 || (fields[2] != nil && len(fields[2]) != 16) || len(fields[3]) != 8 ||
		(fields[4] != nil && len(fields[4]) != 4) || (fields[5] != nil && len(fields[5]) != 4) {
		return 0, false, fmt.Errorf("%w: field sizes", errCopyFormat)
	}
	s.reading(fields)
	return off, true, nil
}

// reading maps one decoded reading.
func (s *streamer) reading(f [6][]byte) {
	s.stats.Read++
	var unit [16]byte
	copy(unit[:], f[1])
	synthetic, ok := s.m.units[unit]
	if !ok {
		s.stats.Skipped++
		return
	}
	idx := synthetic
	if f[2] != nil {
		var dev [16]byte
		copy(dev[:], f[2])
		if d, ok := s.m.devices[dev]; ok && d.unit == unit {
			idx = d.idx
		}
	}
	if idx < 0 {
		s.stats.Skipped++ // no sensor: the plan and the pre-pass disagree
		return
	}
	t := int64(binary.BigEndian.Uint64(f[0]))
	if s.seen[idx] == s.gen && s.last[idx] == t {
		s.stats.Collapsed++
		return
	}
	s.seen[idx], s.last[idx] = s.gen, t
	temp := math.Float64frombits(binary.BigEndian.Uint64(f[3]))
	if s.fahrenheit {
		temp = (temp - 32) * 5 / 9
	}
	r := ingest.Row{TimeMicros: t + pgEpochMicros, SensorID: s.m.ids[idx], TempC: temp, Humidity: math.NaN(), Battery: math.NaN()}
	if safety.IsFaultCode(temp) {
		s.faults = append(s.faults, faultRow{SensorID: r.SensorID, TimeMicros: r.TimeMicros, Code: temp})
		s.stats.Faults++
		return
	}
	if f[4] != nil {
		r.Humidity = float64(math.Float32frombits(binary.BigEndian.Uint32(f[4])))
	}
	if f[5] != nil {
		r.Battery = float64(math.Float32frombits(binary.BigEndian.Uint32(f[5])))
	}
	s.out = ingest.AppendCopyRow(s.out, &r)
	s.stats.Written++
	if b := floorDiv(r.TimeMicros, 300_000_000); b != s.lastBucket {
		s.lastBucket = b
		s.buckets = append(s.buckets, time.UnixMicro(b*300_000_000).UTC())
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
