package alerting

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// fakeEffects records what a machine decides.
type fakeEffects struct {
	log    []string
	opened int
}

func (f *fakeEffects) open(r *Rule, x excursion) (*alertRef, error) {
	f.opened++
	f.log = append(f.log, fmt.Sprintf("open(start=%s at=%s peak=%g)", x.Started.Format("15:04"), x.At.Format("15:04"), x.Peak))
	return &alertRef{ID: fmt.Sprint("a", f.opened)}, nil
}

func (f *fakeEffects) autoResolve(r *Rule, a *alertRef, at time.Time) error {
	f.log = append(f.log, fmt.Sprintf("resolve(%s at=%s)", a.ID, at.Format("15:04")))
	a.Resolved, a.ResolvedAt = true, at
	return nil
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// at is t0 plus minutes.
func at(min float64) time.Time { return t0.Add(time.Duration(min * float64(time.Minute))) }

func TestMachine(t *testing.T) {
	t.Parallel()
	fridge := Rule{ID: "r", Kind: KindTempHigh, Threshold: 5, Confirm: 15 * time.Minute, Hysteresis: 0.5, AutoResolve: true}
	// f runs readings ("min:temp", or "tick@min" for the clock alone) through
	// a fresh machine and compares the decisions and the final phase.
	f := func(name string, rule Rule, steps string, want string, wantPhase phase) {
		t.Helper()
		fx := &fakeEffects{}
		m := &machine{rule: &rule, st: newState(), fx: fx}
		for _, step := range strings.Fields(steps) {
			var err error
			if rest, ok := strings.CutPrefix(step, "tick@"); ok {
				var min float64
				fmt.Sscan(rest, &min)
				err = m.tick(at(min), time.Time{}, true)
			} else {
				var min, v float64
				parts := strings.SplitN(step, ":", 2)
				fmt.Sscan(parts[0], &min)
				fmt.Sscan(parts[1], &v)
				s := sample{T: at(min), Sensor: 1, TempC: v, Battery: math.NaN()}
				if rule.Kind == KindBatteryLow {
					s.TempC, s.Battery = 3, v
				}
				err = m.sample(s)
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if got := strings.Join(fx.log, " "); got != want || m.st.Phase != wantPhase {
			t.Errorf("%s:\n got  %q, phase %s\n want %q, phase %s", name, got, m.st.Phase, want, wantPhase)
		}
	}

	f("door opening shorter than the confirm delay", fridge,
		"0:4 1:9 2:11 5:8 6:4.9 7:4 30:4", "", phaseOK)
	f("sustained excursion opens once, at the confirm delay", fridge,
		"0:4 1:6 5:7 10:8 15:7.5 16:9 20:8", "open(start=10:01 at=10:16 peak=9)", phaseAlerting)
	f("the clock confirms an excursion as far as its reading stands", fridge,
		"0:6 tick@10 tick@15", "open(start=10:00 at=10:15 peak=6)", phaseAlerting)
	f("silence past a reading's stand is not an excursion", fridge,
		"0:4 1:6 2:6 tick@20 tick@60", "", phasePending)
	f("a door opening delivered late in two parts opens nothing", fridge,
		"0:4 1:9 2:11 tick@40 3:4", "", phaseOK)
	f("sample and hold: a reading after a long gap ends an excursion that lasted its stand", fridge,
		"0:6 20:4", "open(start=10:00 at=10:15 peak=6)", phaseClearing)
	f("a reading stands for twice its sensor's interval, at most MaxGap", fridge,
		"0:4 10:6 20:6 50:4", "open(start=10:10 at=10:35 peak=6)", phaseClearing)
	f("the hysteresis band does not clear", fridge,
		"0:6 15:6 16:4.8 40:4.6 60:4.51", "open(start=10:00 at=10:15 peak=6)", phaseAlerting)
	f("clearing takes the clear delay, then auto-resolves", fridge,
		"0:6 15:6 16:4.5 20:4.2 31:4", "open(start=10:00 at=10:15 peak=6) resolve(a1 at=10:31)", phaseOK)
	f("the clock ends a clearing excursion as far as its reading stands", fridge,
		"0:6 15:6 30:4 tick@44 tick@45", "open(start=10:00 at=10:15 peak=6) resolve(a1 at=10:45)", phaseOK)
	f("silence does not end a clearing excursion", fridge,
		"0:6 15:6 16:4 tick@31 tick@60", "open(start=10:00 at=10:15 peak=6)", phaseClearing)
	f("flapping while alerting keeps the one alert", fridge,
		"0:6 15:6 16:4 17:6 18:4 19:7 20:4 21:6.5 22:4.9 23:4 24:5.5", "open(start=10:00 at=10:15 peak=6)", phaseAlerting)
	f("flapping around the threshold never confirms", fridge,
		"0:5.1 1:4.9 2:5.1 3:4.9 4:5.1 5:4.9 6:5.1 7:5 8:5.2 9:5 60:5", "", phaseOK)
	f("exactly the threshold does not offend", fridge,
		"0:5 30:5 tick@60", "", phaseOK)
	f("a new excursion after a full clear opens a new alert", fridge,
		"0:6 15:6 16:4 31:4 32:7 47:7", "open(start=10:00 at=10:15 peak=6) resolve(a1 at=10:31) open(start=10:32 at=10:47 peak=7)", phaseAlerting)

	manual := fridge
	manual.AutoResolve = false
	f("without auto_resolve the state returns to ok and the alert stays", manual,
		"0:6 15:6 16:4 31:4", "open(start=10:00 at=10:15 peak=6)", phaseOK)

	immediate := fridge
	immediate.Confirm = 0
	f("confirm 0 opens on the first offending reading and clears at once", immediate,
		"0:4 1:6 2:4.4", "open(start=10:01 at=10:01 peak=6) resolve(a1 at=10:02)", phaseOK)

	hot := Rule{ID: "h", Kind: KindTempLow, Threshold: 57, Confirm: 15 * time.Minute, Hysteresis: 0.5, AutoResolve: true}
	f("hot holding: temp_low with its hysteresis above", hot,
		"0:60 1:55 10:54 16:56 17:57.2 20:57.5 35:58", "open(start=10:01 at=10:16 peak=54) resolve(a1 at=10:35)", phaseOK)

	battery := Rule{ID: "b", Kind: KindBatteryLow, Threshold: 15, Hysteresis: 5, AutoResolve: true}
	f("battery: opens at once, clears above threshold + hysteresis", battery,
		"0:40 1:14 2:16 3:19 4:21", "open(start=10:01 at=10:01 peak=14) resolve(a1 at=10:04)", phaseOK)
}

func TestMachineOffline(t *testing.T) {
	t.Parallel()
	rule := Rule{ID: "o", Kind: KindSensorOffline, Threshold: 30, AutoResolve: true}
	fx := &fakeEffects{}
	m := &machine{rule: &rule, st: newState(), fx: fx}
	step := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	step(m.sample(sample{T: at(0), TempC: 3, Battery: math.NaN()}))
	step(m.tick(at(29), time.Time{}, true))
	if fx.opened != 0 || m.st.Phase != phaseOK {
		t.Fatalf("silent 29 min: %v %s", fx.log, m.st.Phase)
	}
	// Another process saw a reading at 10:10: not silent yet at 10:35.
	step(m.tick(at(35), at(10), true))
	if fx.opened != 0 {
		t.Fatalf("alerted despite a reading known from elsewhere: %v", fx.log)
	}
	step(m.tick(at(41), at(10), true))
	if fx.opened != 1 || m.st.Phase != phaseAlerting {
		t.Fatalf("silent 31 min: %v %s", fx.log, m.st.Phase)
	}
	step(m.tick(at(90), time.Time{}, true))
	if fx.opened != 1 {
		t.Fatalf("a second alert for the same silence: %v", fx.log)
	}
	step(m.sample(sample{T: at(91), TempC: 3, Battery: math.NaN()}))
	if want := "open(start=10:10 at=10:41 peak=NaN) resolve(a1 at=11:31)"; strings.Join(fx.log, " ") != want || m.st.Phase != phaseOK {
		t.Fatalf("after the sensor came back: %v %s", fx.log, m.st.Phase)
	}
	// A unit without an active sensor is never offline.
	fx2 := &fakeEffects{}
	m2 := &machine{rule: &rule, st: newState(), fx: fx2}
	step(m2.tick(at(600), at(0), false))
	if fx2.opened != 0 {
		t.Fatalf("unit without sensors alerted: %v", fx2.log)
	}
}

func TestMachineManualResolutionStartsOver(t *testing.T) {
	t.Parallel()
	rule := Rule{ID: "r", Kind: KindTempHigh, Threshold: 5, Confirm: 15 * time.Minute, Hysteresis: 0.5}
	fx := &fakeEffects{}
	m := &machine{rule: &rule, st: newState(), fx: fx}
	for _, s := range []struct {
		min, v float64
	}{{0, 7}, {15, 7}, {20, 8}} {
		if err := m.sample(sample{T: at(s.min), TempC: s.v, Battery: math.NaN()}); err != nil {
			t.Fatal(err)
		}
	}
	// A person resolves it at 10:25 while it is still warm.
	m.st.Alert.Resolved, m.st.Alert.ResolvedAt = true, at(25)
	for _, s := range []struct {
		min, v float64
	}{{24, 8}, {26, 8}, {35, 8}, {40, 8}} {
		if err := m.sample(sample{T: at(s.min), TempC: s.v, Battery: math.NaN()}); err != nil {
			t.Fatal(err)
		}
	}
	// The reading taken at 10:24 but evaluated after the resolution starts
	// the new excursion.
	want := "open(start=10:00 at=10:15 peak=7) open(start=10:24 at=10:40 peak=8)"
	if got := strings.Join(fx.log, " "); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestMachineWorstSensorCounts(t *testing.T) {
	t.Parallel()
	rule := Rule{ID: "r", Kind: KindTempHigh, Threshold: 5, Confirm: 15 * time.Minute, Hysteresis: 0.5}
	fx := &fakeEffects{}
	m := &machine{rule: &rule, st: newState(), fx: fx}
	// A probe by the door reads 8 °C while the one at the back reads 3 °C:
	// the unit is warm, the cold probe does not mask it.
	for min := 0; min <= 16; min++ {
		for _, s := range []sample{{T: at(float64(min)), Sensor: 1, TempC: 8}, {T: at(float64(min) + 0.5), Sensor: 2, TempC: 3}} {
			s.Battery = math.NaN()
			if err := m.sample(s); err != nil {
				t.Fatal(err)
			}
		}
	}
	if fx.opened != 1 || m.st.sensor != 1 {
		t.Fatalf("opened %d alerts (sensor %d), want 1 for sensor 1: %v", fx.opened, m.st.sensor, fx.log)
	}
	// Once the warm probe has been silent for staleSensor, its value no
	// longer counts (the offline rule covers silence).
	for min := 17.5; min <= 80; min++ {
		if err := m.sample(sample{T: at(min), Sensor: 2, TempC: 3, Battery: math.NaN()}); err != nil {
			t.Fatal(err)
		}
	}
	if m.st.Phase != phaseOK {
		t.Fatalf("phase %s after the warm probe went stale, want ok", m.st.Phase)
	}
}
