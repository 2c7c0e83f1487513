package bench

import (
	"strconv"
	"time"
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
	// TempC, when set, gives reading i's temperature instead of the
	// default spread of 2 to 7.9 °C.
	TempC func(i int) float64
}

// SensorName is the external id of bench sensor i.
func SensorName(i int) string { return "bench-" + pad6(i) }

func pad6(i int) string {
	s := strconv.Itoa(i)
	for len(s) < 6 {
		s = "0" + s
	}
	return s
}

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

// Requests is the number of requests the plan makes.
func (p Plan) Requests() int { return (p.Rows + p.Batch - 1) / p.Batch }

// Bodies encodes every request body of the plan as POST /v1/readings JSON,
// before any clock starts, so the generator's own cost stays out of the
// measurement.
func (p Plan) Bodies() [][]byte {
	bodies := make([][]byte, 0, p.Requests())
	names := make([]string, p.Sensors)
	for i := range names {
		names[i] = SensorName(i)
	}
	for first := 0; first < p.Rows; first += p.Batch {
		last := min(first+p.Batch, p.Rows)
		b := make([]byte, 0, (last-first)*80+16)
		b = append(b, `{"readings":[`...)
		for i := first; i < last; i++ {
			if i > first {
				b = append(b, ',')
			}
			s, at, temp := p.Reading(i)
			b = append(b, `{"sensor":"`...)
			b = append(b, names[s]...)
			b = append(b, `","time":"`...)
			b = at.UTC().AppendFormat(b, time.RFC3339Nano)
			b = append(b, `","temp_c":`...)
			b = strconv.AppendFloat(b, temp, 'f', -1, 64)
			b = append(b, '}')
		}
		b = append(b, "]}"...)
		bodies = append(bodies, b)
	}
	return bodies
}
