package alerting

import (
	"math"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/safety"
)

// freezerTrace is a freezer at −21 °C read every minute for 4 h, with a
// rise from 60 to 60+minutes minutes in at peak °C.
func freezerTrace(start time.Time, minutes int, peak float64) []SimSample {
	var out []SimSample
	for i := 0; i < 240; i++ {
		c := -21.0
		if i >= 60 && i < 60+minutes {
			c = peak
		}
		out = append(out, SimSample{T: start.Add(time.Duration(i) * time.Minute), Sensor: 1, TempC: c, Battery: math.NaN()})
	}
	return out
}

func freezerRules() []Rule {
	return Effective([]Rule{
		{ID: "hi", UnitKind: "freezer", Kind: KindTempHigh, Threshold: math.NaN(), Confirm: 15 * time.Minute, Hysteresis: 0.5, Severity: "critical", Enabled: true},
		{ID: "off", UnitKind: "freezer", Kind: KindSensorOffline, Threshold: 30, Own: ptr(30.0), Severity: "warning", AutoResolve: true, Enabled: true},
		{ID: "trend", UnitKind: "freezer", Kind: KindTrendWarning, Threshold: 30, Own: ptr(30.0), Enabled: true},
	}, UnitScope{ID: "u", Kind: "freezer", SafeMinC: -30, SafeMaxC: -18})
}

func TestSimulateLetsARecognisedDefrostRunItsCourse(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	// Defrosts every 6 h from 01:00, 30 minutes long, peaking at −8 °C;
	// allowed up to −5 °C and 45 minutes.
	pattern := &safety.DefrostPattern{Period: 6 * time.Hour, Anchor: start.Add(-5 * time.Hour), PhaseTolerance: 10 * time.Minute,
		Duration: 30 * time.Minute, PeakC: -8, MaxPeakC: -5, MaxDuration: 45 * time.Minute, Episodes: 6}
	withPattern := SimOptions{Defrost: func(time.Time) *safety.DefrostPattern { return pattern }}

	cases := []struct {
		name     string
		minutes  int
		peak     float64
		opt      SimOptions
		alerts   int
		openedAt time.Duration // after the rise began
	}{
		{"without a pattern a 30-minute defrost alerts after the confirm delay", 30, -8, SimOptions{}, 1, 15 * time.Minute},
		{"a recognised defrost does not alert", 30, -8, withPattern, 0, 0},
		{"a defrost that runs too hot alerts after the confirm delay", 30, -2, withPattern, 1, 15 * time.Minute},
		{"a defrost that runs past its allowance alerts when the allowance ends", 70, -8, withPattern, 1, 45 * time.Minute},
	}
	for _, c := range cases {
		got := Simulate(freezerRules(), freezerTrace(start, c.minutes, c.peak), c.opt)
		var high []SimAlert
		for _, a := range got {
			if a.Kind == KindTempHigh {
				high = append(high, a)
			}
		}
		if len(high) != c.alerts {
			t.Errorf("%s: %d temp_high alerts %+v, want %d", c.name, len(high), high, c.alerts)
			continue
		}
		if c.alerts == 1 {
			rise := start.Add(60 * time.Minute)
			if !high[0].Started.Equal(rise) || high[0].Opened.Sub(rise) != c.openedAt {
				t.Errorf("%s: started %s, opened %s after the rise; want started at the rise, opened %s after",
					c.name, high[0].Started, high[0].Opened.Sub(rise), c.openedAt)
			}
			if high[0].Resolved.IsZero() {
				t.Errorf("%s: the alert was never resolved although the freezer came back", c.name)
			}
		}
	}
}

func TestSimulateOffScheduleRiseIsNoDefrost(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	// The pattern expects defrosts at 03:00, 09:00...: a rise at 01:00 is not one.
	pattern := &safety.DefrostPattern{Period: 6 * time.Hour, Anchor: start.Add(3 * time.Hour), PhaseTolerance: 10 * time.Minute,
		Duration: 30 * time.Minute, PeakC: -8, MaxPeakC: -5, MaxDuration: 45 * time.Minute, Episodes: 6}
	got := Simulate(freezerRules(), freezerTrace(start, 30, -8), SimOptions{Defrost: func(time.Time) *safety.DefrostPattern { return pattern }})
	if len(got) != 1 || got[0].Kind != KindTempHigh {
		t.Fatalf("alerts %+v, want the off-schedule rise's temp_high", got)
	}
}

func TestSimulateSilenceOpensSensorOffline(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	trace := freezerTrace(start, 0, 0)[:60] // an hour of readings, then nothing
	got := Simulate(freezerRules(), trace, SimOptions{End: start.Add(3 * time.Hour)})
	if len(got) != 1 || got[0].Kind != KindSensorOffline || got[0].Opened.Sub(trace[59].T) < 30*time.Minute ||
		got[0].Opened.Sub(trace[59].T) > 31*time.Minute {
		t.Fatalf("alerts %+v, want sensor_offline 30 minutes after the last reading", got)
	}
}
