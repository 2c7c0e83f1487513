package ingest

import "math"

// Reading is one decoded reading before its sensor is resolved. The parsers
// (ParseJSON, ParseNDJSON, ParseTTN) fill it; nothing in it is validated
// against limits yet (see Limits.Check).
//
// Sensor points into memory owned by the parser that produced it (the request
// body or the parser's own buffer): it stays valid until that parser is used
// again or returned to its pool. Copy it (or resolve it to a sensor key)
// before then.
type Reading struct {
	// Sensor is the device's external id (a serial, or a TTN dev_eui).
	Sensor []byte
	// TimeMicros is the reading's time in microseconds since the Unix epoch
	// (PostgreSQL's timestamptz resolution; finer digits are truncated).
	TimeMicros int64
	// TempC is the temperature in degrees Celsius. Present (not NaN) in
	// every accepted reading except a door state alone (Door set, from a
	// contact sensor's TTN uplink), which stores no reading.
	TempC float64
	// Humidity in percent and Battery in percent; NaN when absent.
	Humidity float64
	Battery  float64
	// Door is the door state the reading reports, if any; it is stored in
	// door_events, apart from the reading.
	Door Door
}

// Door is a door state reported by a contact sensor.
type Door uint8

// Door states; the zero Door is none reported.
const (
	DoorNone Door = iota
	DoorClosed
	DoorOpen
)

// HasTemp reports whether the reading carries a temperature; one that does
// not is a door state alone.
func (r *Reading) HasTemp() bool { return !math.IsNaN(r.TempC) }

// Absent marks a missing optional value (Humidity, Battery).
var Absent = math.NaN()

// HasHumidity reports whether the reading carries a humidity value.
func (r *Reading) HasHumidity() bool { return !math.IsNaN(r.Humidity) }

// HasBattery reports whether the reading carries a battery level.
func (r *Reading) HasBattery() bool { return !math.IsNaN(r.Battery) }

// Rejection says why one reading of a batch was not stored. Index is the
// reading's position in the batch (the line number, from 0, for NDJSON).
type Rejection struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
	// Cause classifies the reason, for adapters that answer by it (the
	// legacy routes); the native routes only send Reason.
	Cause Cause `json:"-"`
}

// Cause is why a reading was not stored.
type Cause uint8

// Causes of a Rejection.
const (
	// CauseInvalid: the reading could not be decoded (every rejection a
	// parser makes).
	CauseInvalid Cause = iota
	// CauseOutOfRange: decoded, but implausible (Limits.Check).
	CauseOutOfRange
	// CauseUnknownSensor: the organisation has no such sensor.
	CauseUnknownSensor
	// CauseRetiredSensor: the sensor is retired.
	CauseRetiredSensor
	// CauseSensorLimit: an unknown sensor that auto-registration had no
	// room for in the organisation's plan.
	CauseSensorLimit
)

// Batch is the result of decoding one request body: the readings that decoded,
// with for each its index in the request, and the ones that did not.
type Batch struct {
	Readings []Reading
	// Index[i] is the position in the request of Readings[i].
	Index    []int
	Rejected []Rejection
}

// Reset empties b for reuse, keeping its capacity.
func (b *Batch) Reset() {
	b.Readings = b.Readings[:0]
	b.Index = b.Index[:0]
	b.Rejected = b.Rejected[:0]
}

// Total is the number of readings the request carried.
func (b *Batch) Total() int { return len(b.Readings) + len(b.Rejected) }
