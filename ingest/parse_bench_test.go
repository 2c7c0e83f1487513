package ingest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/valyala/fastjson"
)

const benchReadings = 1000

// benchSensors are realistic external ids: serials and dev EUIs.
func benchSensor(rng *rand.Rand, i int) string {
	switch i % 3 {
	case 0:
		return fmt.Sprintf("FT-%04d-%04X", rng.IntN(10000), rng.IntN(0x10000))
	case 1:
		return fmt.Sprintf("A84041%010X", rng.Uint64N(1<<40))
	default:
		return fmt.Sprintf("walkin-freezer-%02d", rng.IntN(100))
	}
}

// benchReadingJSON appends one realistic reading object: a fridge, freezer or
// hot-holding temperature, an RFC 3339 time with milliseconds (every fifth
// one unix milliseconds), usually a humidity and a battery level.
func benchReadingJSON(dst []byte, rng *rand.Rand, i int, t time.Time) []byte {
	var temp float64
	switch i % 4 {
	case 0, 1:
		temp = 2 + rng.Float64()*3 // fridge
	case 2:
		temp = -21 + rng.Float64()*4 // freezer
	default:
		temp = 63 + rng.Float64()*10 // hot holding
	}
	dst = append(dst, `{"sensor":"`...)
	dst = append(dst, benchSensor(rng, i)...)
	dst = append(dst, `","time":`...)
	if i%5 == 4 {
		dst = strconv.AppendInt(dst, t.UnixMilli(), 10)
	} else {
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
		dst = append(dst, '"')
	}
	dst = append(dst, `,"temp_c":`...)
	dst = strconv.AppendFloat(dst, float64(int(temp*100))/100, 'f', -1, 64)
	if i%7 != 0 {
		dst = append(dst, `,"humidity":`...)
		dst = strconv.AppendFloat(dst, float64(300+rng.IntN(500))/10, 'f', -1, 64)
	}
	if i%2 == 0 {
		dst = append(dst, `,"battery":`...)
		dst = strconv.AppendInt(dst, int64(20+rng.IntN(81)), 10)
	}
	return append(dst, '}')
}

var benchStart = time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)

// benchJSONBody returns {"readings":[...]} with n readings.
func benchJSONBody(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	body := []byte(`{"readings":[`)
	for i := range n {
		if i > 0 {
			body = append(body, ',')
		}
		t := benchStart.Add(time.Duration(i)*time.Second + time.Duration(rng.IntN(1000))*time.Millisecond)
		body = benchReadingJSON(body, rng, i, t)
	}
	return append(body, "]}"...)
}

// benchNDJSONBody returns n readings, one per line.
func benchNDJSONBody(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var body []byte
	for i := range n {
		t := benchStart.Add(time.Duration(i)*time.Second + time.Duration(rng.IntN(1000))*time.Millisecond)
		body = benchReadingJSON(body, rng, i, t)
		body = append(body, '\n')
	}
	return body
}

// benchTTNBodies returns n realistic uplink messages from different devices.
func benchTTNBodies(n int) [][]byte {
	rng := rand.New(rand.NewPCG(3, 4))
	bodies := make([][]byte, n)
	for i := range bodies {
		eui := fmt.Sprintf("a84041%010x", rng.Uint64N(1<<40))
		temp := 2 + rng.Float64()*3
		recv := benchStart.Add(time.Duration(i) * 7 * time.Second)
		payload := fmt.Sprintf(`{"BatV":3.05,"Bat_status":3,"Ext_sensor":"Temperature Sensor","Hum_SHT":"%.1f","TempC_DS":"%.2f","TempC_SHT":"%.2f"}`,
			40+rng.Float64()*20, temp+0.3, temp)
		if i%2 == 1 {
			payload = fmt.Sprintf(`{"battery":%d,"humidity":%.1f,"temperature":%.2f}`, 20+rng.IntN(80), 40+rng.Float64()*20, temp)
		}
		bodies[i] = []byte(ttnUplink(eui, fmt.Sprintf("lht65-%04d", i), recv, uint32(i), payload))
	}
	return bodies
}

// benchReport runs op b.N times and reports time and allocations per reading.
func benchReport(b *testing.B, bytes, readings int, op func()) {
	b.ReportAllocs()
	b.SetBytes(int64(bytes))
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for b.Loop() {
		op()
	}
	runtime.ReadMemStats(&m1)
	n := float64(b.N) * float64(readings)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/reading")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/n, "allocs/reading")
}

func BenchmarkParseJSON(b *testing.B) {
	body := benchJSONBody(benchReadings)
	var p Parser
	var batch Batch
	benchReport(b, len(body), benchReadings, func() {
		batch.Reset()
		if err := p.ParseJSON(body, &batch); err != nil || len(batch.Readings) != benchReadings {
			b.Fatalf("ParseJSON: %v, %d readings, %v", err, len(batch.Readings), batch.Rejected)
		}
	})
}

func BenchmarkParseNDJSON(b *testing.B) {
	body := benchNDJSONBody(benchReadings)
	var p Parser
	var batch Batch
	benchReport(b, len(body), benchReadings, func() {
		batch.Reset()
		if err := p.ParseNDJSON(body, &batch); err != nil || len(batch.Readings) != benchReadings {
			b.Fatalf("ParseNDJSON: %v, %d readings, %v", err, len(batch.Readings), batch.Rejected)
		}
	})
}

// BenchmarkParseTTN decodes 1,000 uplinks (one per request, as TTN sends
// them) per op, with one Parser, as a busy ingest goroutine would.
func BenchmarkParseTTN(b *testing.B) {
	bodies := benchTTNBodies(benchReadings)
	size := 0
	for _, body := range bodies {
		size += len(body)
	}
	var p Parser
	var batch Batch
	benchReport(b, size, benchReadings, func() {
		for _, body := range bodies {
			batch.Reset()
			if err := p.ParseTTN(body, DefaultTTNFields, &batch); err != nil || len(batch.Readings) != 1 {
				b.Fatalf("ParseTTN: %v, %v", err, batch.Rejected)
			}
		}
	})
}

// ejReading is what a straightforward encoding/json decoder would use.
type ejReading struct {
	Sensor   string   `json:"sensor"`
	Time     ejTime   `json:"time"`
	TempC    *float64 `json:"temp_c"`
	Humidity *float64 `json:"humidity"`
	Battery  *float64 `json:"battery"`
}

// ejTime accepts an RFC 3339 string (through time.Time) or unix milliseconds.
type ejTime struct{ time.Time }

func (t *ejTime) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return t.Time.UnmarshalJSON(b)
	}
	ms, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	t.Time = time.UnixMicro(int64(ms * 1000))
	return nil
}

// BenchmarkEncodingJSON decodes the BenchmarkParseJSON body with
// encoding/json into a comparable struct, for comparison.
func BenchmarkEncodingJSON(b *testing.B) {
	body := benchJSONBody(benchReadings)
	var v struct {
		Readings []ejReading `json:"readings"`
	}
	benchReport(b, len(body), benchReadings, func() {
		v.Readings = v.Readings[:0]
		if err := json.Unmarshal(body, &v); err != nil || len(v.Readings) != benchReadings {
			b.Fatalf("Unmarshal: %v", err)
		}
	})
}

// BenchmarkParseRFC3339 compares the timestamp parser with time.Parse.
func BenchmarkParseRFC3339(b *testing.B) {
	ts := []byte("2026-11-26T03:04:05.123456+01:00")
	b.Run("parseRFC3339Micros", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := parseRFC3339Micros(ts); !ok {
				b.Fatal("!ok")
			}
		}
	})
	b.Run("time.Parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := time.Parse(time.RFC3339Nano, string(ts)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFastjsonStrict decodes the same body with fastjson alone: strict
// validation (fastjson's parser accepts NaN, 01, .5 and more that JSON does
// not) plus the five fields of every reading, times parsed with the same
// RFC 3339 parser. It is the yardstick for ParseJSON's hand-written
// single-pass decoder: the library path, measured, versus ours.
func BenchmarkFastjsonStrict(b *testing.B) {
	body := benchJSONBody(benchReadings)
	var p fastjson.Parser
	benchReport(b, len(body), benchReadings, func() {
		if err := fastjson.ValidateBytes(body); err != nil {
			b.Fatal(err)
		}
		v, err := p.ParseBytes(body)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, r := range v.GetArray("readings") {
			if len(r.GetStringBytes("sensor")) == 0 {
				b.Fatal("no sensor")
			}
			if tv := r.Get("time"); tv.Type() == fastjson.TypeNumber {
				_ = tv.GetInt64()
			} else if _, ok := parseRFC3339Micros(tv.GetStringBytes()); !ok {
				b.Fatal("bad time")
			}
			_ = r.GetFloat64("temp_c")
			_ = r.GetFloat64("humidity")
			_ = r.GetFloat64("battery")
			n++
		}
		if n != benchReadings {
			b.Fatalf("%d readings", n)
		}
	})
}

// BenchmarkFastjsonLoose is BenchmarkFastjsonStrict without the validation.
func BenchmarkFastjsonLoose(b *testing.B) {
	body := benchJSONBody(benchReadings)
	var p fastjson.Parser
	benchReport(b, len(body), benchReadings, func() {
		v, err := p.ParseBytes(body)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range v.GetArray("readings") {
			if tv := r.Get("time"); tv.Type() == fastjson.TypeNumber {
				_ = tv.GetInt64()
			} else {
				_, _ = parseRFC3339Micros(tv.GetStringBytes())
			}
			_ = r.GetStringBytes("sensor")
			_ = r.GetFloat64("temp_c")
			_ = r.GetFloat64("humidity")
			_ = r.GetFloat64("battery")
		}
	})
}
