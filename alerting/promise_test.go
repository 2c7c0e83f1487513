package alerting

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/ingest"
)

// The cases in which alerting used to break its promise that every
// excursion reaches a person, and no blip or silence fakes one.

// A unit's alerts follow its own safe range, high and low, with no rule of
// its own: an ice-cream display kept at −25..−12 °C alerts at −5 °C (a
// fridge's default of 5 °C would never), and a freezer alerts too cold.
func TestAlertsFollowTheUnitsSafeRange(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	display, dSensor := f.unitRange("display", -25, -12)
	freezer, fSensor := f.unitRange("freezer", -30, -18)
	f.start()
	start := f.clock.Now()
	f.feed(dSensor, start, time.Minute, cat(repeat(-18, 5), repeat(-5, 40))...)
	a := f.one(display)
	if a.Kind != KindTempHigh || a.Threshold != -12 || !a.StartedAt.Equal(start.Add(5*time.Minute)) {
		t.Fatalf("display alert %+v, want temp_high at −12 °C from the first −5 °C reading", a)
	}
	f.feed(fSensor, f.clock.Now(), time.Minute, cat(repeat(-22, 3), repeat(-35, 20))...)
	if a := f.one(freezer); a.Kind != KindTempLow || a.Threshold != -30 {
		t.Fatalf("freezer alert %+v, want temp_low at −30 °C", a)
	}
}

// A walk-in with one probe at 8 °C and one at 3 °C is out of range: the
// warm probe is not averaged away or masked, and there is one alert, not one
// per reading of the warm probe.
func TestTwoDisagreeingProbesAlertOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unit, warm := f.unit("walk_in")
	cold := f.sensor(f.org, unit)
	f.start()
	start := f.clock.Now()
	for i := range 60 {
		at := start.Add(time.Duration(i) * 30 * time.Second)
		f.clock.Set(at)
		f.write(row(warm, at, 8), row(cold, at.Add(time.Second), 3))
	}
	a := f.one(unit)
	if !a.StartedAt.Equal(start) || !a.OpenedAt.Equal(start.Add(15*time.Minute)) || *a.PeakC != 8 {
		t.Fatalf("alert %+v, want one from the first warm reading, confirmed 15 minutes later", a)
	}
	if ph, _ := f.state(unit, KindTempHigh); ph != "alerting" {
		t.Fatalf("state %s, want alerting", ph)
	}
}

// A gateway delivers a 3-minute door opening late and in two requests: the
// first ends with warm readings, the clock has long passed the confirm
// delay, and a sweep runs in between. No alert opens: the warm readings
// stand for two minutes each, not until the next request.
func TestDoorOpeningSplitAcrossLateRequestsOpensNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unit, sensor := f.unit("fridge")
	f.start()
	t0 := f.clock.Now()
	rows := func(from, n int, temp float64) []ingest.Row {
		var out []ingest.Row
		for i := from; i < from+n; i++ {
			out = append(out, row(sensor, t0.Add(time.Duration(i)*time.Minute), temp))
		}
		return out
	}
	f.clock.Set(t0.Add(40 * time.Minute))
	f.write(append(rows(0, 5, 4), rows(5, 3, 9)...)...)
	f.sweep()
	f.clock.Add(10 * time.Minute)
	f.sweep()
	f.write(rows(8, 10, 4)...)
	f.sweep()
	// (The unit was silent as far as the server could tell, so the offline
	// rule, which keeps to the wall clock, may have opened and resolved.)
	if n := len(tempAlerts(f.alerts(unit))); n != 0 {
		t.Fatalf("a late 3-minute door opening opened %d temperature alerts", n)
	}
	if n := f.count(`SELECT count(*) FROM notifications n JOIN alerts a ON a.id = n.alert_id WHERE a.kind = 'temp_high'`); n != 0 {
		t.Fatalf("%d notifications", n)
	}
}

// Three hours of readings arrive out of order (a gateway's backlog, shuffled
// chunks): the 30-minute excursion inside it has exactly one alert, dated
// from its first warm reading, and nothing is withdrawn or sent twice.
func TestBacklogOutOfOrderOpensOneAlert(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unit, sensor := f.unit("fridge")
	f.start()
	t0 := f.clock.Now()
	var all []ingest.Row
	for i := range 180 {
		temp := 4.0
		if i >= 60 && i < 90 {
			temp = 9
		}
		all = append(all, row(sensor, t0.Add(time.Duration(i)*time.Minute), temp))
	}
	var chunks [][]ingest.Row
	for i := 0; i < len(all); i += 12 {
		chunks = append(chunks, all[i:min(i+12, len(all))])
	}
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(len(chunks), func(i, j int) { chunks[i], chunks[j] = chunks[j], chunks[i] })
	f.clock.Set(t0.Add(181 * time.Minute))
	for _, c := range chunks {
		f.write(c...)
		f.sweep()
	}
	list := tempAlerts(f.alerts(unit))
	if len(list) != 1 {
		t.Fatalf("%d temperature alerts, want 1: %+v", len(list), list)
	}
	a := list[0]
	if !a.StartedAt.Equal(t0.Add(60 * time.Minute)) {
		t.Fatalf("alert started %s, want %s", a.StartedAt, t0.Add(60*time.Minute))
	}
	if ev := f.events(a.ID); slices.Contains(ev, "withdrawn") || countOf(ev, "triggered") != 1 || countOf(ev, "notified") != 1 {
		t.Fatalf("events %v", ev)
	}
}

// An alert opened on readings that later-arriving readings contradict (the
// excursion did not last the confirm delay after all) is withdrawn, its
// queued notifications cancelled, with an event that says why.
func TestContradictedAlertIsWithdrawn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unit, sensor := f.unit("fridge")
	f.start()
	t0 := f.clock.Now()
	f.feed(sensor, t0, time.Minute, 4, 4)
	// Warm from minute 2 to 20, but minute 10 is delayed: the excursion
	// looks continuous and confirms.
	for i := 2; i <= 20; i++ {
		if i == 10 {
			continue
		}
		at := t0.Add(time.Duration(i) * time.Minute)
		f.clock.Set(at)
		f.write(row(sensor, at, 9))
	}
	a := f.one(unit)
	if a.Status != StatusTriggered || f.count(`SELECT count(*) FROM notifications WHERE alert_id = $1 AND status = 'queued'`, a.ID) == 0 {
		t.Fatalf("alert %+v before the late reading", a)
	}
	// Minute 10 was in range: two excursions of 8 and 11 minutes.
	f.write(row(sensor, t0.Add(10*time.Minute), 3))
	a = f.one(unit)
	if a.Status != StatusResolved || !slices.Contains(f.events(a.ID), "withdrawn") {
		t.Fatalf("alert %+v, events %v: want withdrawn", a, f.events(a.ID))
	}
	if n := f.count(`SELECT count(*) FROM notifications WHERE alert_id = $1 AND status <> 'cancelled'`, a.ID); n != 0 {
		t.Fatalf("%d notifications of the withdrawn alert not cancelled", n)
	}
	// The second part goes on: once it lasts the confirm delay, a new alert.
	f.feed(sensor, t0.Add(21*time.Minute), time.Minute, repeat(9, 6)...)
	list := f.alerts(unit)
	if len(list) != 2 {
		t.Fatalf("%d alerts after the second part lasted 15 minutes, want 2", len(list))
	}
}

// An acknowledged alert whose condition comes back after it cleared is
// news: it is triggered again and step 0 is sent again.
func TestRetriggerAfterAcknowledgementNotifiesAgain(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unit, sensor := f.unit("fridge")
	f.start()
	at := f.feed(sensor, f.clock.Now(), time.Minute, cat(repeat(4, 2), repeat(9, 16))...)
	a := f.one(unit)
	before := f.count(`SELECT count(*) FROM notifications WHERE alert_id = $1`, a.ID)
	if _, err := Acknowledge(f.ctx, f.pool, AckParams{OrgID: f.org, AlertID: a.ID, UserID: f.staff, At: f.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	// Back in range for longer than the clear delay, then warm again.
	at = f.feed(sensor, at, time.Minute, repeat(3, 20)...)
	if ph, _ := f.state(unit, KindTempHigh); ph != "ok" {
		t.Fatalf("state %s after recovering, want ok", ph)
	}
	f.feed(sensor, at, time.Minute, repeat(9, 16)...)
	a = f.one(unit)
	if a.Status != StatusTriggered || a.AcknowledgedAt != nil {
		t.Fatalf("alert %+v after the condition came back, want triggered again", a)
	}
	if after := f.count(`SELECT count(*) FROM notifications WHERE alert_id = $1`, a.ID); after != 2*before {
		t.Fatalf("%d notifications, want %d (step 0 sent again)", after, 2*before)
	}
	if ev := f.events(a.ID); !slices.Contains(ev, "retriggered") {
		t.Fatalf("events %v", ev)
	}
	// The new cycle's escalation jobs are scheduled.
	if n := f.count(`SELECT count(*) FROM river_job WHERE kind = 'alerting_escalate' AND args->>'alert_id' = $1 AND (args->>'cycle')::int = 1`, a.ID); n == 0 {
		t.Fatal("no escalation jobs for the new cycle")
	}
}

// A probe's error code (a disconnected LHT65 probe's 327.67 °C) raises a
// sensor_fault alert, is never taken for a temperature, and resolves once
// the probe measures again.
func TestProbeErrorCodeRaisesSensorFault(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unit, sensor := f.unit("fridge")
	f.start()
	at := f.feed(sensor, f.clock.Now(), time.Minute, 4, 4)
	for range 20 {
		f.clock.Set(at)
		f.write(ingest.Row{TimeMicros: at.UnixMicro(), SensorID: sensor, TempC: 327.67, Humidity: math.NaN(), Battery: 90, Fault: true})
		at = at.Add(time.Minute)
	}
	a := f.one(unit)
	if a.Kind != KindSensorFault || a.Status != StatusTriggered {
		t.Fatalf("alert %+v, want a sensor_fault", a)
	}
	if n := f.count(`SELECT count(*) FROM sensor_faults WHERE sensor_id = $1`, sensor); n != 20 {
		t.Fatalf("%d faults stored, want 20", n)
	}
	if n := f.count(`SELECT count(*) FROM readings WHERE sensor_id = $1 AND temp_c > 100`, sensor); n != 0 {
		t.Fatalf("%d error codes stored as temperatures", n)
	}
	f.feed(sensor, at, time.Minute, 4)
	if a = f.one(unit); a.Status != StatusResolved || !a.AutoResolved {
		t.Fatalf("alert %+v after the probe measured again, want auto-resolved", a)
	}
}

// A probe that stops reporting while the unit's other probe goes on is a
// sensor fault (the unit is not offline, and the dead probe is not "in
// range"); it resolves when the probe reports again.
func TestDeadProbeRaisesSensorFault(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unit, live := f.unit("walk_in")
	dead := f.sensor(f.org, unit)
	f.start()
	t0 := f.clock.Now()
	for i := range 45 {
		at := t0.Add(time.Duration(i) * time.Minute)
		f.clock.Set(at)
		rows := []ingest.Row{row(live, at, 3)}
		if i < 5 {
			rows = append(rows, row(dead, at.Add(time.Second), 3))
		}
		f.write(rows...)
		if i%10 == 9 {
			f.sweep()
		}
	}
	a := f.one(unit)
	if a.Kind != KindSensorFault || a.Status != StatusTriggered {
		t.Fatalf("alert %+v, want a sensor_fault for the dead probe", a)
	}
	at := t0.Add(45 * time.Minute)
	f.clock.Set(at)
	f.write(row(dead, at, 3), row(live, at.Add(time.Second), 3))
	f.sweep()
	if a = f.one(unit); a.Status != StatusResolved {
		t.Fatalf("alert %+v after the probe reported again, want resolved", a)
	}
}

// An offline unit whose gateway delivers an old backlog is still offline:
// readings that were already older than the silence threshold when they
// arrived neither resolve its alert nor make it open again and again.
func TestOldBacklogDoesNotFlapOfflineAlert(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unit, sensor := f.unit("fridge")
	f.start()
	t0 := f.clock.Now()
	f.feed(sensor, t0, time.Minute, 3, 3)
	f.clock.Set(t0.Add(80 * time.Minute))
	f.sweep()
	a := f.one(unit)
	if a.Kind != KindSensorOffline || a.Status != StatusTriggered {
		t.Fatalf("alert %+v, want sensor_offline", a)
	}
	for i := 2; i < 40; i += 5 {
		var rows []ingest.Row
		for j := i; j < i+5; j++ {
			rows = append(rows, row(sensor, t0.Add(time.Duration(j)*time.Minute), 3))
		}
		f.write(rows...)
		f.sweep()
	}
	if list := f.alerts(unit); len(list) != 1 || list[0].Status != StatusTriggered {
		t.Fatalf("alerts %+v after an old backlog, want the one offline alert still open", list)
	}
	f.write(row(sensor, f.clock.Now(), 3))
	if a := f.one(unit); a.Status != StatusResolved {
		t.Fatalf("alert %+v after a current reading, want resolved", a)
	}
}

func tempAlerts(list []Alert) []Alert {
	var out []Alert
	for _, a := range list {
		if isTemp(a.Kind) {
			out = append(out, a)
		}
	}
	return out
}

func countOf(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}
