package ingest

import (
	"math"
	"strconv"
	"time"
)

// Limits are the plausibility checks applied to each decoded reading. The
// parsers only check form (a sensor id, a time, finite numbers); Limits.Check
// decides whether the values are believable for a food-safety sensor. The zero
// Limits accepts only zeros; start from DefaultLimits.
type Limits struct {
	// MinTempC and MaxTempC bound TempC, inclusive. Defaults to -100 and 200.
	MinTempC, MaxTempC float64
	// MinHumidity and MaxHumidity bound Humidity (percent) when present,
	// inclusive. Defaults to 0 and 100.
	MinHumidity, MaxHumidity float64
	// MinBattery and MaxBattery bound Battery (percent) when present,
	// inclusive. Defaults to 0 and 100.
	MinBattery, MaxBattery float64
	// MaxFutureSkew is how far past now a reading's time may be, to allow for
	// clock drift on devices and gateways; 0 rejects any future time.
	// Defaults to 5 minutes.
	MaxFutureSkew time.Duration
	// MaxAge is how far before now a reading's time may be; older readings
	// would fall outside the retention period. 0 means no limit (the caller
	// sets it from the retention setting). Defaults to 0.
	MaxAge time.Duration
}

// DefaultLimits returns the default plausibility limits: -100..200 °C,
// humidity and battery 0..100 %, at most 5 minutes in the future, and no
// maximum age.
func DefaultLimits() Limits {
	return Limits{
		MinTempC:      -100,
		MaxTempC:      200,
		MinHumidity:   0,
		MaxHumidity:   100,
		MinBattery:    0,
		MaxBattery:    100,
		MaxFutureSkew: 5 * time.Minute,
	}
}

// Check returns "" when r is acceptable at time now (unix microseconds), else
// a rejection reason such as
//
//	"temp_c" 250 is outside the plausible range -100..200
//	"time" is 7m0s in the future (allowed skew 5m0s)
//	"time" is older than the retention period
//	"temp_c" must be finite
//
// Humidity and Battery are checked only when present (not NaN), and TempC
// is not checked for a door state alone (Door set, TempC NaN); Infinity is
// never acceptable. Check does not allocate when r is acceptable.
func (l Limits) Check(r *Reading, nowMicros int64) string {
	// A door state alone has no temperature to check; without a door state
	// a missing temperature is refused as not finite.
	if r.HasTemp() || r.Door == DoorNone {
		if reason := limitRange("temp_c", r.TempC, l.MinTempC, l.MaxTempC); reason != "" {
			return reason
		}
	}
	if r.HasHumidity() {
		if reason := limitRange("humidity", r.Humidity, l.MinHumidity, l.MaxHumidity); reason != "" {
			return reason
		}
	}
	if r.HasBattery() {
		if reason := limitRange("battery", r.Battery, l.MinBattery, l.MaxBattery); reason != "" {
			return reason
		}
	}
	// Compare in microseconds; the subtraction cannot overflow for times in
	// minReadingMicros..maxReadingMicros and a sane now, but guard anyway.
	ahead := subSaturating(r.TimeMicros, nowMicros)
	if ahead > l.MaxFutureSkew.Microseconds() {
		return `"time" is ` + skewString(ahead) + ` in the future (allowed skew ` +
			l.MaxFutureSkew.String() + `)`
	}
	if l.MaxAge > 0 && subSaturating(nowMicros, r.TimeMicros) > l.MaxAge.Microseconds() {
		return `"time" is older than the retention period`
	}
	return ""
}

// limitRange checks one value against [lo, hi]. NaN (absent) must not reach
// it for temp_c: NaN fails every comparison, so it is reported as not finite.
func limitRange(field string, v, lo, hi float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return `"` + field + `" must be finite`
	}
	if v < lo || v > hi {
		return `"` + field + `" ` + formatLimitFloat(v) + ` is outside the plausible range ` +
			formatLimitFloat(lo) + `..` + formatLimitFloat(hi)
	}
	return ""
}

func formatLimitFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// skewString prints a positive number of microseconds as a
// time.Duration, rounded down to the second above a minute so that messages
// read "7m0s" rather than "7m0.123456s".
func skewString(micros int64) string {
	const maxDurMicros = math.MaxInt64 / int64(time.Microsecond)
	if micros > maxDurMicros {
		return "more than " + time.Duration(math.MaxInt64).Truncate(time.Hour).String()
	}
	d := time.Duration(micros) * time.Microsecond
	if d >= time.Minute {
		d = d.Truncate(time.Second)
	}
	return d.String()
}

// subSaturating returns a-b, saturating at the int64 limits.
func subSaturating(a, b int64) int64 {
	d := a - b
	if (a >= 0) != (b >= 0) && (d >= 0) != (a >= 0) {
		if a >= 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return d
}
