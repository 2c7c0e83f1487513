package bench

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/freshtrack/freshtrack/ingest"
)

// Plan describes the readings of one run: Sensors devices each reporting
// every Interval from Start, Rows readings in all, sent Batch per request.
// Reading i is sensor i mod Sensors at Start + (i div Sensors) × Interval, so
// the fleet reports round by round, as gateways would forward it, and no two
// readings share a (sensor, time).
type Plan struct {
	Sensors  int
	Interval time.Duration
	Batch    int
	Rows     int
	Start    time.Time
	// Names are the sensors' external ids; nil means SensorName(i).
	Names []string
	// TempC, when set, gives reading i's temperature instead of the
	// default spread of 2 to 7.9 °C.
	TempC func(i int) float64
}

// SensorName is the external id of bench sensor i.
func SensorName(i int) string { return "bench-" + pad6(i) }

// LiveSensorName is the external id of sensor i of run r of a live fleet:
// every run has sensors of its own.
func LiveSensorName(r, i int) string { return fmt.Sprintf("bench-r%02d-%s", r, pad6(i)) }

func pad6(i int) string {
	s := strconv.Itoa(i)
	for len(s) < 6 {
		s = "0" + s
	}
	return s
}

// LiveTempC is a live fleet's temperature: 2.0 to 4.5 °C, inside every
// fridge rule, so the evaluator settles each batch on its fast path.
func LiveTempC(i int) float64 { return 2 + float64((i*7)%26)/10 }

// Reading returns reading i of the plan: its sensor index, time and temperature.
func (p Plan) Reading(i int) (sensor int, at time.Time, tempC float64) {
	sensor = i % p.Sensors
	at = p.Start.Add(time.Duration(i/p.Sensors) * p.Interval)
	tempC = 2 + float64((i*7)%60)/10
	if p.TempC != nil {
		tempC = p.TempC(i)
	}
	return sensor, at, tempC
}

// Name is the external id of sensor s.
func (p Plan) Name(s int) string {
	if p.Names != nil {
		return p.Names[s]
	}
	return SensorName(s)
}

// Last is the time of the plan's newest reading.
func (p Plan) Last() time.Time {
	if p.Rows == 0 {
		return p.Start
	}
	_, at, _ := p.Reading(p.Rows - 1)
	return at
}

// Requests is the number of requests the plan makes.
func (p Plan) Requests() int { return (p.Rows + p.Batch - 1) / p.Batch }

// Bodies encodes every request body of the plan as POST /v1/readings JSON,
// before any clock starts, so the generator's own cost stays out of the
// measurement. The bodies share one buffer.
func (p Plan) Bodies() [][]byte {
	bodies := make([][]byte, 0, p.Requests())
	names := make([]string, p.Sensors)
	width := 0
	for i := range names {
		names[i] = p.Name(i)
		width = max(width, len(names[i]))
	}
	buf := make([]byte, 0, p.Rows*(width+70)+p.Requests()*16)
	for first := 0; first < p.Rows; first += p.Batch {
		last := min(first+p.Batch, p.Rows)
		// A body that outgrows buf moves on to a new one; bodies already cut
		// keep the old.
		at0 := len(buf)
		buf = append(buf, `{"readings":[`...)
		for i := first; i < last; i++ {
			if i > first {
				buf = append(buf, ',')
			}
			s, at, temp := p.Reading(i)
			buf = append(buf, `{"sensor":"`...)
			buf = append(buf, names[s]...)
			buf = append(buf, `","time":"`...)
			buf = at.UTC().AppendFormat(buf, time.RFC3339Nano)
			buf = append(buf, `","temp_c":`...)
			buf = strconv.AppendFloat(buf, temp, 'f', -1, 64)
			buf = append(buf, '}')
		}
		buf = append(buf, "]}"...)
		bodies = append(bodies, buf[at0:len(buf):len(buf)])
	}
	return bodies
}

// CopyRows returns the plan's readings as the rows the server stores, with
// keys[s] the sensor id of sensor s.
func (p Plan) CopyRows(keys []int64) []ingest.Row {
	rows := make([]ingest.Row, p.Rows)
	for i := range rows {
		s, at, temp := p.Reading(i)
		rows[i] = ingest.Row{TimeMicros: at.UnixMicro(), SensorID: keys[s], TempC: temp, Humidity: math.NaN(), Battery: math.NaN()}
	}
	return rows
}

// LivePlans plans a live run of rows readings from the sensors names, sent
// batch per request: every sensor reports evenly over the window ending at
// now, so every reading is recent (within window) and none is in the
// future. The first round, one reading per sensor, is warm, posted before
// the clock starts so the fleet is in its steady state (sensors resolved,
// alert states created); run holds the rest, rows readings in all.
func LivePlans(names []string, rows, batch int, window time.Duration, now time.Time) (warm, run Plan, err error) {
	n := len(names)
	if n == 0 || rows <= 0 {
		return warm, run, fmt.Errorf("a live plan needs sensors and rows, got %d and %d", n, rows)
	}
	rounds := (rows+n-1)/n + 1
	interval := (window / time.Duration(rounds)).Truncate(time.Microsecond)
	if interval < time.Millisecond {
		return warm, run, fmt.Errorf("%d readings per sensor do not fit a %s window at one a millisecond: raise --sensors or --window", rounds, window)
	}
	// The first reading is at the window's start, rounded up to the
	// millisecond; the last one an interval before its end.
	start := now.UTC().Add(-window)
	if t := start.Truncate(time.Millisecond); t.Before(start) {
		start = t.Add(time.Millisecond)
	}
	warm = Plan{Sensors: n, Interval: interval, Batch: batch, Rows: n, Start: start, Names: names, TempC: LiveTempC}
	run = Plan{Sensors: n, Interval: interval, Batch: batch, Rows: rows, Start: start.Add(interval), Names: names, TempC: LiveTempC}
	return warm, run, nil
}
