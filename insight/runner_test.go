package insight

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/internal/zonetest"
)

func TestADoorLeftOpenAlertsAndClosingItEndsTheAlert(t *testing.T) {
	t.Parallel()
	k := newKitchen(t)
	unit, sensor := k.unit("walk_in", "Walk-in")
	var door int64
	k.must(`INSERT INTO sensors (org_id, external_id, unit_id, name) VALUES ($1, 'door-1', $2, 'Walk-in door') RETURNING id`, []any{&door}, k.org, unit)
	start := k.now.Add(-30 * time.Minute)
	k.write(sensor, start, time.Minute, repeat(3, 31)...)
	k.exec(`INSERT INTO door_events (org_id, sensor_id, at, open) VALUES ($1, $2, $3, true)`, k.org, door, k.now.Add(-12*time.Minute))
	k.visit(unit)
	got := k.alerts(unit, "door_open")
	if len(got) != 1 || got[0][0] != "triggered" {
		t.Fatalf("door_open alerts after 12 minutes open: %v", got)
	}
	var source string
	var ended *time.Time
	k.must(`SELECT source, ended_at FROM unit_events WHERE unit_id = $1 AND kind = 'door_open'`, []any{&source, &ended}, unit)
	if source != "sensor" || ended != nil {
		t.Fatalf("door episode: source %s ended %v, want an open episode from the sensor", source, ended)
	}
	if n := k.count(`SELECT count(*) FROM insight_state WHERE unit_id = $1 AND busy`, unit); n != 1 {
		t.Fatal("a unit with a door open is not marked busy: without new data nobody would look at it")
	}

	k.exec(`INSERT INTO door_events (org_id, sensor_id, at, open) VALUES ($1, $2, $3, false)`, k.org, door, k.now.Add(time.Minute))
	k.now = k.now.Add(2 * time.Minute)
	k.write(sensor, k.now.Add(-time.Minute), time.Minute, 3.2, 3.1)
	k.visit(unit)
	if got := k.alerts(unit, "door_open"); len(got) != 1 || got[0][0] != "resolved" {
		t.Fatalf("door_open alerts after the door closed: %v", got)
	}
	k.must(`SELECT ended_at FROM unit_events WHERE unit_id = $1 AND kind = 'door_open'`, []any{&ended}, unit)
	if ended == nil {
		t.Fatal("the door episode did not end when the door closed")
	}
}

// freezerHistory writes days of a freezer read every 2 minutes: −21 °C
// with a compressor cycle, and a 30-minute defrost peaking at −7 °C every
// 6 hours from anchor. It returns the reading times' end.
func (k *kitchen) freezerHistory(sensor int64, from, to, anchor time.Time) {
	k.t.Helper()
	var temps []float64
	for at := from; at.Before(to); at = at.Add(2 * time.Minute) {
		c := -21 + 0.8*math.Sin(float64(at.Unix())/600)
		off := at.Sub(anchor) % (6 * time.Hour)
		if off < 0 {
			off += 6 * time.Hour
		}
		if off < 30*time.Minute {
			c = -20 + 13*math.Sin(math.Pi*float64(off)/float64(30*time.Minute)) // up to −7 °C and back
		}
		temps = append(temps, c)
	}
	k.write(sensor, from, 2*time.Minute, temps...)
}

func TestHistoryTeachesTheDefrostPatternWithoutAlerting(t *testing.T) {
	t.Parallel()
	k := newKitchen(t)
	unit, sensor := k.unit("freezer", "Freezer")
	anchor := k.now.Truncate(time.Hour).Add(-4*24*time.Hour + 2*time.Hour)
	k.freezerHistory(sensor, k.now.Add(-4*24*time.Hour), k.now, anchor)
	k.visit(unit)

	var period, duration int
	var peak float64
	k.must(`SELECT period_seconds, duration_seconds, peak_c FROM defrost_patterns WHERE unit_id = $1`, []any{&period, &duration, &peak}, unit)
	if period < 5*3600+50*60 || period > 6*3600+10*60 || duration < 15*60 || duration > 45*60 || peak < -10 || peak > -4 {
		t.Fatalf("learned period %d s, duration %d s, peak %.1f °C; want about 6 h, 30 min, −7 °C", period, duration, peak)
	}
	if n := k.count(`SELECT count(*) FROM unit_events WHERE unit_id = $1 AND kind = 'defrost' AND within_bounds`, unit); n < 4 {
		t.Fatalf("%d recognised defrosts recorded, want the ones after the pattern was learned", n)
	}
	if n := k.count(`SELECT count(*) FROM alerts WHERE unit_id = $1`, unit); n != 0 {
		t.Fatalf("reading four days of history opened %d alerts: old news alerts nobody", n)
	}
	// The evaluator reads the pattern the job stored.
	p, err := alertingPattern(k, unit)
	if err != nil || p == nil || !p.OnSchedule(anchor.Add(5*24*time.Hour)) {
		t.Fatalf("the evaluator's view of the pattern: %+v, %v", p, err)
	}

	// Switching the rule off removes the pattern, so the evaluator stops
	// excusing rises.
	k.exec(`UPDATE alert_rules SET enabled = false WHERE org_id = $1 AND kind = 'defrost'`, k.org)
	k.now = k.now.Add(2 * time.Minute)
	k.write(sensor, k.now, time.Minute, -21)
	k.visit(unit)
	if n := k.count(`SELECT count(*) FROM defrost_patterns WHERE unit_id = $1`, unit); n != 0 {
		t.Fatal("the pattern outlived its disabled rule")
	}
}

func TestAFlappingFridgeAlertsForItsTimeOutOfTemperature(t *testing.T) {
	t.Parallel()
	k := newKitchen(t)
	k.exec(`UPDATE sites SET timezone = $2 WHERE id = $1`, k.site, zonetest.Midday(k.now))
	unit, sensor := k.unit("fridge", "Line fridge")
	// Every 20 minutes, 9 minutes at 7.5 °C: no excursion lasts the
	// 15-minute confirm delay, but an hour out of range adds up in 2 h 20.
	end := k.now
	k.now = end.Add(-3 * time.Hour)
	for k.now.Before(end) {
		var temps []float64
		for i := 0; i < 20; i++ {
			temps = append(temps, map[bool]float64{true: 7.5, false: 3}[i < 9])
		}
		k.write(sensor, k.now, time.Minute, temps...)
		k.now = k.now.Add(20 * time.Minute)
		k.visit(unit)
	}
	got := k.alerts(unit, "time_out_of_temp")
	if len(got) != 1 || got[0][0] != "triggered" || !strings.Contains(strings.ToLower(got[0][1]), "out of") {
		t.Fatalf("time_out_of_temp alerts: %v; want one (the 60-minute rule, not yet the 4-hour one)", got)
	}
}

func TestACoolingLogThatMissesItsFirstStageFails(t *testing.T) {
	t.Parallel()
	k := newKitchen(t)
	unit, sensor := k.unit("blast_chiller", "Blast chiller")
	started := k.now.Add(-2*time.Hour - 10*time.Minute)
	k.exec(`INSERT INTO cooling_logs (org_id, unit_id, item, source, started_at, stage1_deadline, stage2_deadline)
	        VALUES ($1, $2, 'Beef stock', 'manual', $3, $4, $5)`, k.org, unit, started, started.Add(2*time.Hour), started.Add(6*time.Hour))
	// Cooling far too slowly: 70 °C to about 40 °C in 2 h 10 min.
	var temps []float64
	for at := started; !at.After(k.now); at = at.Add(2 * time.Minute) {
		temps = append(temps, 70-14*at.Sub(started).Hours())
	}
	k.write(sensor, started, 2*time.Minute, temps...)
	k.visit(unit)
	var status string
	var stage *int
	k.must(`SELECT status, failed_stage FROM cooling_logs WHERE unit_id = $1`, []any{&status, &stage}, unit)
	if status != "failed" || stage == nil || *stage != 1 {
		t.Fatalf("cooling log %s, failed stage %v; want failed at stage 1", status, stage)
	}
	if got := k.alerts(unit, "cooling"); len(got) != 1 || got[0][0] != "triggered" {
		t.Fatalf("cooling alerts: %v", got)
	}
}
