package seedimport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"
)

// seedRow is one tuple of the seed's COPY for the tests.
type seedRow struct {
	t         time.Time
	unit, dev [16]byte
	noDev     bool
	temp      float64
	hum, bat  *float32
}

// seedCopy encodes rows as the seed's binary COPY of the chunk query does.
func seedCopy(rows []seedRow) []byte {
	b := append([]byte(nil), copySignature...)
	b = binary.BigEndian.AppendUint32(b, 0) // flags
	b = binary.BigEndian.AppendUint32(b, 0) // header extension
	for _, r := range rows {
		b = binary.BigEndian.AppendUint16(b, 6)
		b = binary.BigEndian.AppendUint32(b, 8)
		b = binary.BigEndian.AppendUint64(b, uint64(r.t.UnixMicro()-pgEpochMicros))
		b = binary.BigEndian.AppendUint32(b, 16)
		b = append(b, r.unit[:]...)
		if r.noDev {
			b = binary.BigEndian.AppendUint32(b, math.MaxUint32)
		} else {
			b = binary.BigEndian.AppendUint32(b, 16)
			b = append(b, r.dev[:]...)
		}
		b = binary.BigEndian.AppendUint32(b, 8)
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(r.temp))
		for _, v := range []*float32{r.hum, r.bat} {
			if v == nil {
				b = binary.BigEndian.AppendUint32(b, math.MaxUint32)
				continue
			}
			b = binary.BigEndian.AppendUint32(b, 4)
			b = binary.BigEndian.AppendUint32(b, math.Float32bits(*v))
		}
	}
	return binary.BigEndian.AppendUint16(b, math.MaxUint16)
}

// outRow is one decoded row of FreshTrack's readings COPY.
type outRow struct {
	micros, sensor int64
	temp           float64
	hum, bat       float64 // NaN for NULL
}

func decodeOut(t *testing.T, b []byte) []outRow {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("PGCOPY\n\xff\r\n\x00")) {
		t.Fatal("output has no COPY header")
	}
	b = b[19:]
	var out []outRow
	for {
		n := int16(binary.BigEndian.Uint16(b))
		b = b[2:]
		if n == -1 {
			if len(b) != 0 {
				t.Fatalf("%d bytes after the trailer", len(b))
			}
			return out
		}
		var r outRow
		read := func() []byte {
			l := int32(binary.BigEndian.Uint32(b))
			b = b[4:]
			if l < 0 {
				return nil
			}
			v := b[:l]
			b = b[l:]
			return v
		}
		r.micros = int64(binary.BigEndian.Uint64(read())) + pgEpochMicros
		r.sensor = int64(binary.BigEndian.Uint64(read()))
		r.temp = math.Float64frombits(binary.BigEndian.Uint64(read()))
		r.hum, r.bat = math.NaN(), math.NaN()
		if v := read(); v != nil {
			r.hum = float64(math.Float32frombits(binary.BigEndian.Uint32(v)))
		}
		if v := read(); v != nil {
			r.bat = float64(math.Float32frombits(binary.BigEndian.Uint32(v)))
		}
		out = append(out, r)
	}
}

// testMap: unit U1 with device D1 (sensor 101) and a synthetic sensor
// (201); unit U2 without one; unit U9 not imported.
func testMap() *sensorMap {
	u1, u2, d1 := [16]byte{1}, [16]byte{2}, [16]byte{0xd1}
	return &sensorMap{ids: []int64{101, 201}, devices: map[[16]byte]devRef{d1: {unit: u1, idx: 0}},
		units: map[[16]byte]int32{u1: 1, u2: -1}}
}

// feed writes b to s in pieces of n bytes, as CopyTo's messages may come.
func feed(s *streamer, b []byte, n int) error {
	for len(b) > 0 {
		k := min(n, len(b))
		if _, err := s.Write(b[:k]); err != nil {
			return err
		}
		b = b[k:]
	}
	return s.finish()
}

func TestStreamerMapsCollapsesAndConverts(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 123_000_000, time.UTC)
	u1, u2, u9, d1, dOther := [16]byte{1}, [16]byte{2}, [16]byte{9}, [16]byte{0xd1}, [16]byte{0xd2}
	h, bat := float32(55.5), float32(87)
	in := seedCopy([]seedRow{
		{t: t0, unit: u1, dev: d1, temp: 41, hum: &h, bat: &bat},       // device sensor, °F
		{t: t0, unit: u1, dev: d1, temp: 50},                           // same sensor and instant: collapsed
		{t: t0, unit: u1, noDev: true, temp: 32},                       // no device: synthetic
		{t: t0, unit: u1, dev: dOther, temp: 33.8},                     // a device not imported: synthetic, collapsed with the one above
		{t: t0.Add(time.Minute), unit: u1, dev: dOther, temp: 33.8},    // synthetic, next minute
		{t: t0.Add(time.Minute), unit: u2, dev: d1, temp: 40},          // d1 sits in u1: u2 has no sensor → skipped
		{t: t0.Add(time.Minute), unit: u9, dev: d1, temp: 40},          // unit not imported
		{t: t0.Add(2 * time.Minute), unit: u1, dev: d1, temp: 621.806}, // 327.67 °C: a probe error code
		{t: t0.Add(6 * time.Minute), unit: u1, dev: d1, temp: 39.2},
	})
	for _, piece := range []int{1, 7, 64, len(in)} {
		var out bytes.Buffer
		s := newStreamer(testMap(), true)
		s.flushAt = 50
		s.reset(func(b []byte) error { out.Write(b); return nil })
		if err := feed(s, in, piece); err != nil {
			t.Fatalf("pieces of %d: %v", piece, err)
		}
		want := streamStats{Read: 9, Written: 4, Collapsed: 2, Faults: 1, Skipped: 2}
		if s.stats != want {
			t.Fatalf("pieces of %d: stats %+v, want %+v", piece, s.stats, want)
		}
		rows := decodeOut(t, out.Bytes())
		if len(rows) != 4 {
			t.Fatalf("pieces of %d: %d rows out", piece, len(rows))
		}
		r := rows[0]
		if r.micros != t0.UnixMicro() || r.sensor != 101 || r.temp != 5 || r.hum != 55.5 || r.bat != 87 {
			t.Fatalf("first row %+v", r)
		}
		if rows[1].sensor != 201 || rows[1].temp != 0 || !math.IsNaN(rows[1].hum) || !math.IsNaN(rows[1].bat) {
			t.Fatalf("synthetic row %+v", rows[1])
		}
		if rows[2].sensor != 201 || rows[3].sensor != 101 || math.Abs(rows[3].temp-4) > 1e-9 {
			t.Fatalf("rows %+v", rows)
		}
		if len(s.faults) != 1 || s.faults[0].SensorID != 101 || math.Abs(s.faults[0].Code-327.67) > 0.005 {
			t.Fatalf("faults %+v", s.faults)
		}
		if len(s.buckets) != 2 || !s.buckets[0].Equal(t0.Truncate(5*time.Minute)) || !s.buckets[1].Equal(t0.Add(6*time.Minute).Truncate(5*time.Minute)) {
			t.Fatalf("buckets %v", s.buckets)
		}
	}
}

// A chunk starts with a clean slate: the same instant in the next chunk
// is not a duplicate (it cannot happen, chunks are disjoint, but the
// streamer must not carry state over).
func TestStreamerResetsBetweenChunks(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	in := seedCopy([]seedRow{{t: t0, unit: [16]byte{1}, dev: [16]byte{0xd1}, temp: 4}})
	s := newStreamer(testMap(), false)
	for range 2 {
		s.reset(func([]byte) error { return nil })
		if err := feed(s, in, 13); err != nil {
			t.Fatal(err)
		}
		if s.stats.Written != 1 || s.stats.Collapsed != 0 {
			t.Fatalf("stats %+v", s.stats)
		}
	}
}

func TestStreamerRefusesWhatIsNotTheChunkQuery(t *testing.T) {
	t.Parallel()
	good := seedCopy([]seedRow{{t: time.Now(), unit: [16]byte{1}, dev: [16]byte{0xd1}, temp: 4}})
	f := func(name string, b []byte) {
		t.Helper()
		s := newStreamer(testMap(), false)
		s.reset(func([]byte) error { return nil })
		if err := feed(s, b, 5); !errors.Is(err, errCopyFormat) {
			t.Errorf("%s: %v, want errCopyFormat", name, err)
		}
	}
	f("no signature", append([]byte("PGCOPX"), good[6:]...))
	f("truncated", good[:len(good)-10])
	bad := bytes.Clone(good)
	bad[20] = 5 // five fields
	f("field count", bad)
	bad = bytes.Clone(good)
	bad[24] = 4 // a 4-byte timestamp
	f("field size", bad)
	f("bytes after the trailer", append(bytes.Clone(good), 0))
	var out []byte
	s := newStreamer(testMap(), false)
	s.reset(func(b []byte) error { out = append(out, b...); return nil })
	boom := errors.New("target gone")
	s.flush = func([]byte) error { return boom }
	s.flushAt = 1
	if _, err := s.Write(good); !errors.Is(err, boom) {
		t.Errorf("a failing flush = %v", err)
	}
}

func FuzzStreamer(f *testing.F) {
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	h := float32(40)
	f.Add(seedCopy([]seedRow{{t: t0, unit: [16]byte{1}, dev: [16]byte{0xd1}, temp: 4, hum: &h}, {t: t0, unit: [16]byte{2}, noDev: true, temp: 1}}), 3)
	f.Add([]byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\xff\xff\xff\xff"), 1)
	f.Fuzz(func(t *testing.T, b []byte, piece int) {
		if piece <= 0 {
			piece = 1
		}
		s := newStreamer(testMap(), piece%2 == 0)
		var out bytes.Buffer
		s.reset(func(b []byte) error { out.Write(b); return nil })
		if err := feed(s, b, piece); err != nil {
			return
		}
		rows := decodeOut(t, out.Bytes())
		if int64(len(rows)) != s.stats.Written || s.stats.Read != s.stats.Written+s.stats.Collapsed+s.stats.Faults+s.stats.Skipped {
			t.Fatalf("stats %+v for %d rows", s.stats, len(rows))
		}
	})
}

func BenchmarkStreamer(b *testing.B) {
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	h, bat := float32(45), float32(90)
	rows := make([]seedRow, 10_000)
	for i := range rows {
		rows[i] = seedRow{t: t0.Add(time.Duration(i) * time.Second), unit: [16]byte{1}, dev: [16]byte{0xd1}, temp: 37.5, hum: &h, bat: &bat}
	}
	in := seedCopy(rows)
	tuple := (len(in) - 21) / len(rows)
	s := newStreamer(testMap(), true)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		s.reset(func([]byte) error { return nil })
		// CopyTo hands one tuple per message.
		if _, err := s.Write(in[:19]); err != nil {
			b.Fatal(err)
		}
		for off := 19; off < len(in); off += tuple {
			if _, err := s.Write(in[off:min(off+tuple, len(in))]); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.finish(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/reading")
}
