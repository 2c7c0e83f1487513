package alerting

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/ingest"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/schema"
)

// These tests drive the evaluator through the real ingest path: readings go
// through an ingest.Writer on a test database and reach the evaluator via
// Writer.Subscribe, with the clock following the readings.

func TestDoorOpeningsDoNotAlert(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unit, sensor := f.unit("fridge")
	f.start()
	at := f.feed(sensor, f.clock.Now(), time.Minute, repeat(4, 10)...)
	// Door openings of 3, 8 and 14 minutes; a sweep while each is going on
	// (the confirm delay has not expired) and after each.
	for _, spike := range []int{3, 8, 14} {
		spikeStart := at
		at = f.feed(sensor, at, time.Minute, repeat(11, spike)...)
		f.clock.Set(spikeStart.Add(14*time.Minute + 59*time.Second))
		if spike == 14 {
			f.sweep()
		}
		at = f.feed(sensor, at, time.Minute, repeat(4.2, 10)...)
		f.sweep()
	}
	if n := len(f.alerts(unit)); n != 0 {
		t.Fatalf("door openings opened %d alerts", n)
	}
	if ph, _ := f.state(unit, KindTempHigh); ph != "ok" {
		t.Fatalf("state %s, want ok", ph)
	}
	if got := f.count(`SELECT count(*) FROM notifications`); got != 0 {
		t.Fatalf("%d notifications without an alert", got)
	}
}

func TestSustainedExcursionOpensExactlyOneAlert(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unit, sensor := f.unit("fridge")
	f.start()
	at := f.feed(sensor, f.clock.Now(), time.Minute, repeat(4, 5)...)
	start := at
	at = f.feed(sensor, at, time.Minute, repeat(8, 15)...) // 14 minutes of excursion
	if n := len(f.alerts(unit)); n != 0 {
		t.Fatalf("alert before the confirm delay: %d", n)
	}
	if ph, since := f.state(unit, KindTempHigh); ph != "pending" || since == nil || !since.Equal(start) {
		t.Fatalf("state %s since %v, want pending since %s", ph, since, start)
	}
	at = f.feed(sensor, at, time.Minute, 8.5, 9, 8) // the 15th minute confirms
	a := f.one(unit)
	if !a.StartedAt.Equal(start) || !a.OpenedAt.Equal(start.Add(15*time.Minute)) {
		t.Fatalf("started %s opened %s, want %s and 15 minutes later", a.StartedAt, a.OpenedAt, start)
	}
	if a.Status != StatusTriggered || a.Kind != KindTempHigh || a.Severity != "critical" || a.Threshold != 5 ||
		a.PeakC == nil || *a.PeakC != 9 || a.LastReadingC == nil || *a.LastReadingC != 8 || a.SensorID == "" || a.UnitName == "" {
		t.Fatalf("alert = %+v", a)
	}
	if got := f.events(a.ID); !slices.Equal(got, []string{"triggered", "notified"}) {
		t.Fatalf("events %v", got)
	}
	// Step 0 of the built-in policy: SMS to the site's staff on shift.
	var channel, recipient string
	f.must(`SELECT channel, recipient FROM notifications WHERE alert_id = $1`, []any{&channel, &recipient}, a.ID)
	if channel != "sms" || recipient != "+15550000001" {
		t.Fatalf("step 0 went to %s %s", channel, recipient)
	}
	// Later steps are River jobs scheduled in the same transaction.
	rows, err := f.pool.Query(f.ctx, `
		SELECT (args->>'step')::int, scheduled_at, queue FROM river_job
		 WHERE kind = 'alerting_escalate' AND args->>'alert_id' = $1 ORDER BY 1`, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	var steps []int
	for rows.Next() {
		var step int
		var when time.Time
		var queue string
		if err := rows.Scan(&step, &when, &queue); err != nil {
			t.Fatal(err)
		}
		if want := a.OpenedAt.Add(time.Duration(15*step) * time.Minute); !when.Equal(want) || queue != QueueAlerting {
			t.Fatalf("step %d scheduled at %s on %s, want %s on %s", step, when, queue, want, QueueAlerting)
		}
		steps = append(steps, step)
	}
	if !slices.Equal(steps, []int{1, 2}) {
		t.Fatalf("escalation jobs for steps %v, want [1 2]", steps)
	}
	if n := f.count(`SELECT count(*) FROM audit_log WHERE action = 'alert.open' AND target_id = $1`, a.ID); n != 1 {
		t.Fatalf("%d audit rows", n)
	}
	f.openedMu.Lock()
	hooks := slices.Clone(f.opened)
	f.openedMu.Unlock()
	if len(hooks) != 1 || hooks[0].AlertID != a.ID || hooks[0].CommittedAt.IsZero() || hooks[0].Visible.Before(hooks[0].CommittedAt) {
		t.Fatalf("AlertOpened hooks = %+v", hooks)
	}

	// The excursion goes on for another hour with sweeps: still one alert,
	// one step-0 message, and the peak follows.
	for range 6 {
		at = f.feed(sensor, at, time.Minute, repeat(9.5, 10)...)
		f.sweep()
	}
	a = f.one(unit)
	if *a.PeakC != 9.5 || f.sentSteps(a.ID)[0] != 1 {
		t.Fatalf("after an hour: peak %v, step-0 messages %d", *a.PeakC, f.sentSteps(a.ID)[0])
	}
}

func TestRecoveryWithHysteresisAutoResolves(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unit, sensor := f.unit("walk_in")
	f.rule(unit, KindTempHigh, 5, 15*time.Minute, 0.5, true)
	f.start()
	at := f.feed(sensor, f.clock.Now(), time.Minute, repeat(7, 16)...)
	a := f.one(unit)
	// Back under the threshold but within the hysteresis band: not clear.
	at = f.feed(sensor, at, time.Minute, repeat(4.8, 20)...)
	if ph, _ := f.state(unit, KindTempHigh); ph != "alerting" || f.one(unit).Status != StatusTriggered {
		t.Fatalf("in the hysteresis band: state %s", ph)
	}
	// Below threshold - hysteresis for 14 minutes: clearing, still open.
	clearStart := at
	at = f.feed(sensor, at, time.Minute, repeat(4.4, 15)...)
	if ph, _ := f.state(unit, KindTempHigh); ph != "clearing" || f.one(unit).Status != StatusTriggered {
		t.Fatalf("clearing for 14 minutes: state %s, status %s", ph, f.one(unit).Status)
	}
	// The clear delay expires with no new reading: the sweep resolves it.
	f.clock.Set(clearStart.Add(15 * time.Minute))
	f.sweep()
	a = f.one(unit)
	if a.Status != StatusResolved || !a.AutoResolved || a.ResolvedAt == nil || !a.ResolvedAt.Equal(f.clock.Now()) {
		t.Fatalf("after the clear delay: %+v", a)
	}
	if got := f.events(a.ID); !slices.Equal(got, []string{"triggered", "notified", "auto_resolved"}) {
		t.Fatalf("events %v", got)
	}
	if ph, _ := f.state(unit, KindTempHigh); ph != "ok" {
		t.Fatalf("state %s after auto-resolve", ph)
	}
	// The alert's escalation stops: its jobs find it resolved.
	sent, err := f.ev.Escalate(f.ctx, a.ID, 1)
	if err != nil || sent {
		t.Fatalf("escalating a resolved alert: %v %v", sent, err)
	}
	// A new excursion later is a new alert.
	f.feed(sensor, at.Add(time.Hour), time.Minute, repeat(7, 16)...)
	if n := len(f.alerts(unit)); n != 2 {
		t.Fatalf("%d alerts after a second excursion, want 2", n)
	}
}

func TestFlappingDoesNotStorm(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	flapper, s1 := f.unit("fridge")
	surger, s2 := f.unit("display")
	f.rule(surger, KindTempHigh, 5, 15*time.Minute, 0.5, true)
	f.start()

	// Around the threshold every minute for two hours: never 15 minutes
	// above it, no alert at all.
	temps := make([]float64, 120)
	for i := range temps {
		temps[i] = 5.2 - 0.4*float64(i%2)
	}
	f.feed(s1, f.clock.Now(), time.Minute, temps...)
	f.sweep()
	if n := len(f.alerts(flapper)); n != 0 {
		t.Fatalf("flapping around the threshold opened %d alerts", n)
	}

	// A long excursion with brief dips below the hysteresis (auto-resolve
	// rule): one alert, one message, never resolved in between.
	var surge []float64
	for range 6 {
		surge = append(surge, repeat(7, 16)...)
		surge = append(surge, 4.2, 4.3)
	}
	f.feed(s2, f.clock.Now().Add(time.Minute), time.Minute, surge...)
	f.sweep()
	a := f.one(surger)
	if a.Status != StatusTriggered || f.sentSteps(a.ID)[0] != 1 {
		t.Fatalf("flapping excursion: %+v, messages %v", a, f.sentSteps(a.ID))
	}
}

func TestOfflineSensorAlertsWithNoData(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unit, sensor := f.unit("freezer")
	var created time.Time
	f.must(`SELECT created_at FROM sensors WHERE id = $1`, []any{&created}, sensor)
	f.clock.Set(created.Add(29 * time.Minute))
	f.start()
	f.sweep()
	if n := len(f.alerts(unit)); n != 0 {
		t.Fatalf("offline after 29 minutes: %d alerts", n)
	}
	f.clock.Set(created.Add(31 * time.Minute))
	f.sweep()
	a := f.one(unit)
	if a.Kind != KindSensorOffline || a.Severity != "warning" || !a.StartedAt.Equal(created) || a.SensorID != "" || a.PeakC != nil {
		t.Fatalf("offline alert = %+v", a)
	}
	if f.sentSteps(a.ID)[0] != 1 {
		t.Fatalf("step 0 messages %v", f.sentSteps(a.ID))
	}
	f.clock.Set(created.Add(2 * time.Hour))
	f.sweep()
	f.one(unit)

	// The sensor reports: the alert resolves itself.
	f.feed(sensor, f.clock.Now(), time.Minute, -18)
	if a = f.one(unit); a.Status != StatusResolved || !a.AutoResolved {
		t.Fatalf("after a reading: %+v", a)
	}

	// A sensor that used to report and went quiet.
	unit2, sensor2 := f.unit("fridge")
	last := f.feed(sensor2, f.clock.Now(), time.Minute, 3, 3, 3).Add(-time.Minute)
	f.clock.Set(last.Add(30*time.Minute - time.Second))
	f.sweep()
	if n := len(f.alerts(unit2)); n != 0 {
		t.Fatalf("quiet for under 30 minutes: %d alerts", n)
	}
	f.clock.Set(last.Add(30 * time.Minute))
	f.sweep()
	if a := f.one(unit2); a.Kind != KindSensorOffline || !a.StartedAt.Equal(last) {
		t.Fatalf("went quiet: %+v", a)
	}
}

// The clock confirms a pending excursion only as far as its readings stand
// (twice the sensor's interval): a sensor reporting every 10 minutes whose
// last reading was warm alerts when the confirm delay passes, but a sensor
// reporting every minute that falls silent does not: silence is the
// offline rule's business.
func TestConfirmDelayExpiresWithoutNewReading(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unit, sensor := f.unit("fridge")
	quiet, quietSensor := f.unit("fridge")
	f.start()
	start := f.clock.Now()
	f.feed(sensor, start, 10*time.Minute, 7, 7.5)
	f.feed(quietSensor, start, time.Minute, 7, 7.5)
	f.clock.Set(start.Add(14 * time.Minute))
	f.sweep()
	if n := len(f.alerts(unit)); n != 0 {
		t.Fatalf("alert before the delay: %d", n)
	}
	f.clock.Set(start.Add(15 * time.Minute))
	f.sweep()
	a := f.one(unit)
	if !a.StartedAt.Equal(start) || !a.OpenedAt.Equal(start.Add(15*time.Minute)) || *a.PeakC != 7.5 {
		t.Fatalf("alert = %+v", a)
	}
	if n := len(f.alerts(quiet)); n != 0 {
		t.Fatalf("a silent sensor's last reading was extrapolated into %d alerts", n)
	}
	f.clock.Set(start.Add(31 * time.Minute))
	f.sweep()
	if a := f.one(quiet); a.Kind != KindSensorOffline {
		t.Fatalf("silence raised %+v, want sensor_offline", a)
	}
}

func TestLateReadings(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unit, sensor := f.unit("fridge")
	f.start()

	// An excursion from 5 to 25 minutes, then a recovery: one alert, which
	// stays open (no auto-resolve) with a peak of 8.
	base := f.clock.Now()
	f.feed(sensor, base, time.Minute, cat(repeat(4, 5), repeat(8, 20), repeat(4, 40))...)
	a := f.one(unit)
	if *a.PeakC != 8 {
		t.Fatalf("peak %v", *a.PeakC)
	}
	if ph, _ := f.state(unit, KindTempHigh); ph != "ok" {
		t.Fatalf("state %s after recovery", ph)
	}

	// A late reading inside the past excursion raises its peak and opens
	// nothing.
	f.write(row(sensor, base.Add(12*time.Minute+30*time.Second), 11))
	if a = f.one(unit); *a.PeakC != 11 {
		t.Fatalf("peak %v after a late 11 °C inside the excursion, want 11", *a.PeakC)
	}
	// Resolved by a person; another late reading inside it still opens
	// nothing: the period is covered.
	if _, err := Resolve(f.ctx, f.pool, ResolveParams{OrgID: f.org, AlertID: a.ID, UserID: f.staff,
		Action: "moved stock to the walk-in", Disposition: "moved", At: f.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	f.write(row(sensor, base.Add(20*time.Minute+30*time.Second), 12))
	f.one(unit)
	// A late reading in range changes nothing (fast path).
	f.write(row(sensor, base.Add(50*time.Minute+30*time.Second), 3))
	f.one(unit)

	// A gateway's backlog reveals an excursion no alert covers, on a second
	// sensor of another unit while its first sensor kept reporting 4 °C:
	// one alert opens, dated from the backlog.
	unit2, first := f.unit("fridge")
	second := f.sensor(f.org, unit2)
	b := f.clock.Now().Add(time.Minute)
	f.feed(first, b, time.Minute, repeat(4, 60)...)
	var backlog []float64
	backlog = append(backlog, repeat(4, 10)...)
	backlog = append(backlog, repeat(9, 20)...)
	backlog = append(backlog, repeat(4, 20)...)
	rows := make([]ingest.Row, 0, len(backlog))
	for i, v := range backlog {
		rows = append(rows, row(second, b.Add(time.Duration(i)*time.Minute+30*time.Second), v))
	}
	f.write(rows...)
	a2 := f.one(unit2)
	if !a2.StartedAt.Equal(b.Add(10*time.Minute+30*time.Second)) || *a2.PeakC != 9 || !a2.OpenedAt.Equal(f.clock.Now()) {
		t.Fatalf("backlog alert = %+v (backlog excursion from %s)", a2, b.Add(10*time.Minute+30*time.Second))
	}
	// More late readings inside that excursion, and the same backlog from
	// a third sensor: still one alert.
	third := f.sensor(f.org, unit2)
	for i := range rows {
		rows[i].SensorID = third
		rows[i].TempC = math.Max(rows[i].TempC, 5.5)
	}
	f.write(rows...)
	if n := len(f.alerts(unit2)); n != 1 {
		t.Fatalf("%d alerts after more late readings, want 1", n)
	}
}

func TestSweepCatchesUpOnMissedReadings(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unit, sensor := f.unit("fridge")
	// No evaluator runs while an excursion is stored (a process that was
	// down, a subscriber that dropped batches).
	start := f.clock.Now()
	f.feed(sensor, start, time.Minute, cat(repeat(4, 3), repeat(8, 20))...)
	if _, err := f.latest.Persist(f.ctx, f.pool); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(5 * time.Minute)
	f.start()
	res := f.sweep()
	if res.CaughtUp != 1 {
		t.Fatalf("sweep = %+v, want one unit caught up", res)
	}
	a := f.one(unit)
	if !a.StartedAt.Equal(start.Add(3 * time.Minute)) {
		t.Fatalf("caught-up alert = %+v", a)
	}
	// Nothing to catch up any more; a second sweep changes nothing.
	if res := f.sweep(); res.CaughtUp != 0 || len(f.alerts(unit)) != 1 {
		t.Fatalf("second sweep = %+v", res)
	}
}

// TestTimescaleMode runs an excursion, a late reading and a catch-up on the
// timescale storage mode (skipped where TimescaleDB is not installed).
func TestTimescaleMode(t *testing.T) {
	t.Parallel()
	f := newFixture(t, pgtest.WithMode(schema.Timescale))
	unit, sensor := f.unit("fridge")
	f.start()
	base := f.clock.Now()
	f.feed(sensor, base, time.Minute, cat(repeat(4, 5), repeat(8, 20), repeat(4, 20))...)
	f.write(row(sensor, base.Add(10*time.Minute+30*time.Second), 10))
	if a := f.one(unit); !a.StartedAt.Equal(base.Add(5*time.Minute)) || *a.PeakC != 10 {
		t.Fatalf("alert = %+v", a)
	}
}

func TestALearnedDefrostRunsItsCourseOnTheLivePath(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	unit, sensor := f.unit("freezer")
	start := f.clock.Now()
	// Defrosts due at start+10 min and every 6 h, 30 min long at −8 °C;
	// allowed up to −5 °C and 45 min.
	f.exec(`INSERT INTO defrost_patterns (unit_id, org_id, period_seconds, anchor, phase_tolerance_seconds, duration_seconds,
	                                      peak_c, max_peak_c, max_duration_seconds, episodes)
	        VALUES ($1, $2, 21600, $3, 600, 1800, -8, -5, 2700, 6)`, unit, f.org, start.Add(10*time.Minute))
	f.start()
	at := f.feed(sensor, start, time.Minute, repeat(-21, 10)...)
	at = f.feed(sensor, at, time.Minute, repeat(-8, 30)...) // the defrost: 30 minutes above −18 °C
	at = f.feed(sensor, at, time.Minute, repeat(-21, 10)...)
	f.sweep()
	if got := f.alerts(unit); len(got) != 0 {
		t.Fatalf("a recognised defrost opened %d alerts", len(got))
	}
	// The next one, 6 h later, runs too hot (−3 °C): it alerts like any
	// excursion, 15 minutes after it began.
	at = f.feed(sensor, start.Add(6*time.Hour), time.Minute, repeat(-21, 10)...)
	hot := at
	f.feed(sensor, at, time.Minute, repeat(-3, 20)...)
	a := f.one(unit)
	if a.Kind != KindTempHigh || !a.StartedAt.Equal(hot) || !a.OpenedAt.Equal(hot.Add(15*time.Minute)) {
		t.Fatalf("alert %s started %s opened %s, want temp_high started %s, opened 15 minutes later", a.Kind, a.StartedAt, a.OpenedAt, hot)
	}
}
