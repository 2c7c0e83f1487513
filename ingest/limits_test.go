package ingest

import (
	"math"
	"testing"
	"time"
)

func TestLimitsCheck(t *testing.T) {
	now := time.Date(2026, 11, 26, 3, 4, 5, 0, time.UTC).UnixMicro()
	at := func(d time.Duration) int64 { return now + d.Microseconds() }
	f := func(l Limits, r Reading, want string) {
		t.Helper()
		if got := l.Check(&r, now); got != want {
			t.Fatalf("Check(%s) = %q, want %q", fmtReading(r), got, want)
		}
	}
	def := DefaultLimits()
	r := func(temp, hum, bat float64, tm int64) Reading {
		return Reading{Sensor: []byte("s"), TimeMicros: tm, TempC: temp, Humidity: hum, Battery: bat}
	}

	f(def, r(4, Absent, Absent, now), "")
	f(def, r(4, 55.5, 90, at(-time.Hour)), "")
	f(def, r(-100, 0, 0, now), "")
	f(def, r(200, 100, 100, now), "")
	f(def, r(0, Absent, Absent, at(5*time.Minute)), "")
	f(def, r(0, Absent, Absent, at(-50*365*24*time.Hour)), "") // no MaxAge by default
	f(def, r(0, Absent, Absent, minReadingMicros), "")

	f(def, r(250, Absent, Absent, now), `"temp_c" 250 is outside the plausible range -100..200`)
	f(def, r(-100.5, Absent, Absent, now), `"temp_c" -100.5 is outside the plausible range -100..200`)
	f(def, r(200.000001, Absent, Absent, now), `"temp_c" 200.000001 is outside the plausible range -100..200`)
	f(def, r(math.NaN(), Absent, Absent, now), `"temp_c" must be finite`)
	f(def, r(math.Inf(1), Absent, Absent, now), `"temp_c" must be finite`)
	f(def, r(math.Inf(-1), Absent, Absent, now), `"temp_c" must be finite`)
	f(def, r(4, 100.1, Absent, now), `"humidity" 100.1 is outside the plausible range 0..100`)
	f(def, r(4, -1, Absent, now), `"humidity" -1 is outside the plausible range 0..100`)
	f(def, r(4, math.Inf(1), Absent, now), `"humidity" must be finite`)
	f(def, r(4, Absent, 101, now), `"battery" 101 is outside the plausible range 0..100`)
	f(def, r(4, Absent, math.Inf(-1), now), `"battery" must be finite`)
	f(def, r(4, Absent, 1e300, now), `"battery" 1e+300 is outside the plausible range 0..100`)
	f(def, r(250, 200, 200, at(time.Hour)), `"temp_c" 250 is outside the plausible range -100..200`) // first problem

	f(def, r(4, Absent, Absent, at(7*time.Minute)), `"time" is 7m0s in the future (allowed skew 5m0s)`)
	f(def, r(4, Absent, Absent, at(7*time.Minute+123*time.Millisecond)), `"time" is 7m0s in the future (allowed skew 5m0s)`)
	f(def, r(4, Absent, Absent, at(5*time.Minute+time.Microsecond)), `"time" is 5m0s in the future (allowed skew 5m0s)`)
	f(def, r(4, Absent, Absent, at(49*time.Hour)), `"time" is 49h0m0s in the future (allowed skew 5m0s)`)
	f(def, r(4, Absent, Absent, maxReadingMicros), `"time" is more than 2562047h0m0s in the future (allowed skew 5m0s)`)
	f(def, r(4, Absent, Absent, math.MaxInt64), `"time" is more than 2562047h0m0s in the future (allowed skew 5m0s)`)

	noSkew := def
	noSkew.MaxFutureSkew = 0
	f(noSkew, r(4, Absent, Absent, now), "")
	f(noSkew, r(4, Absent, Absent, at(time.Millisecond)), `"time" is 1ms in the future (allowed skew 0s)`)

	withAge := def
	withAge.MaxAge = 730 * 24 * time.Hour
	f(withAge, r(4, Absent, Absent, at(-730*24*time.Hour)), "")
	f(withAge, r(4, Absent, Absent, at(-730*24*time.Hour-time.Microsecond)), `"time" is older than the retention period`)
	f(withAge, r(4, Absent, Absent, math.MinInt64), `"time" is older than the retention period`)

	custom := Limits{MinTempC: 60, MaxTempC: 90, MinHumidity: 10, MaxHumidity: 20, MinBattery: 5, MaxBattery: 6, MaxFutureSkew: time.Second}
	f(custom, r(63.5, 15, 5.5, now), "")
	f(custom, r(59.9, Absent, Absent, now), `"temp_c" 59.9 is outside the plausible range 60..90`)
	f(custom, r(70, 9.5, Absent, now), `"humidity" 9.5 is outside the plausible range 10..20`)
	f(custom, r(70, Absent, 6.25, now), `"battery" 6.25 is outside the plausible range 5..6`)
}

func TestDefaultLimits(t *testing.T) {
	want := Limits{MinTempC: -100, MaxTempC: 200, MinHumidity: 0, MaxHumidity: 100, MinBattery: 0, MaxBattery: 100, MaxFutureSkew: 5 * time.Minute}
	if got := DefaultLimits(); got != want {
		t.Fatalf("DefaultLimits() = %+v, want %+v", got, want)
	}
}

func TestSubSaturating(t *testing.T) {
	f := func(a, b, want int64) {
		t.Helper()
		if got := subSaturating(a, b); got != want {
			t.Fatalf("subSaturating(%d, %d) = %d, want %d", a, b, got, want)
		}
	}
	f(5, 3, 2)
	f(-5, 3, -8)
	f(math.MaxInt64, -1, math.MaxInt64)
	f(math.MinInt64, 1, math.MinInt64)
	f(0, math.MinInt64, math.MaxInt64)
	f(-1, math.MinInt64, math.MaxInt64)
	f(math.MinInt64, math.MinInt64, 0)
	f(math.MaxInt64, math.MaxInt64, 0)
}
