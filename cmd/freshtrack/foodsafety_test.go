package main

// The food-safety rules end to end through the real binary, in both storage
// modes: readings, door states, cooling logs and calibrations go in through
// the API, the detectors' River job runs as serve schedules it, and what
// they raise comes out as alerts, unit events and cooling logs on the API.

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/internal/zonetest"
	"github.com/freshtrack/freshtrack/schema"
)

// TestFoodSafetyRulesThroughTheAPI runs in the storage mode of the pass
// (TEST_STORAGE): make test runs it once in each.
func TestFoodSafetyRulesThroughTheAPI(t *testing.T) {
	testFoodSafetyRules(t, pgtest.DefaultMode())
}

// kitchenAPI is an organisation served by a serve process.
type kitchenAPI struct {
	*liveOrg
	t    *testing.T
	base string
	pool *pgxpool.Pool
}

// unitWithSensor creates a unit of a kind and a sensor on it; it returns
// the unit's id and the sensor's external id.
func (k *kitchenAPI) unitWithSensor(kind, name string, safeMin, safeMax float64) (unit, sensor string) {
	k.t.Helper()
	sensor = fmt.Sprintf("FS-%s-%d", kind, time.Now().UnixNano())
	if err := k.pool.QueryRow(context.Background(), `
		INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		k.id, k.site, name, kind, safeMin, safeMax).Scan(&unit); err != nil {
		k.t.Fatal(err)
	}
	if _, err := k.pool.Exec(context.Background(), `INSERT INTO sensors (org_id, external_id, unit_id, name) VALUES ($1, $2, $3, $4)`,
		k.id, sensor, unit, name+" probe"); err != nil {
		k.t.Fatal(err)
	}
	return unit, sensor
}

// series posts one reading of sensor every step from start, f giving the
// temperature at each moment, in batches.
func (k *kitchenAPI) series(sensor string, start, end time.Time, step time.Duration, f func(time.Time) float64) {
	k.t.Helper()
	var batch []map[string]any
	flush := func() {
		if len(batch) > 0 {
			postReadings(k.t, k.base, k.apiKey, batch)
			batch = nil
		}
	}
	for at := start; !at.After(end); at = at.Add(step) {
		batch = append(batch, map[string]any{"sensor": sensor, "time": at.UTC().Format(time.RFC3339Nano), "temp_c": math.Round(f(at)*100) / 100})
		if len(batch) == 500 {
			flush()
		}
	}
	flush()
}

// alertOf waits until the unit has an alert of kind whose status is in
// statuses, and returns it.
func (k *kitchenAPI) alertOf(unit, kind string, timeout time.Duration, statuses ...string) map[string]any {
	k.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, out := k.callJSON(k.t, k.base, "GET", "/v1/orgs/"+k.id+"/alerts?unit="+unit, auth.Viewer, nil)
		if code != 200 {
			k.t.Fatalf("list alerts: %d %v", code, out)
		}
		items, _ := out["items"].([]any)
		for _, it := range items {
			a := it.(map[string]any)
			if a["kind"] != kind {
				continue
			}
			for _, s := range statuses {
				if a["status"] == s {
					return a
				}
			}
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("no %s alert %v on unit %s after %s; the unit's alerts: %v", kind, statuses, unit, timeout, items)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// kinds returns the kinds of the unit's alerts.
func (k *kitchenAPI) kinds(unit string) []string {
	k.t.Helper()
	code, out := k.callJSON(k.t, k.base, "GET", "/v1/orgs/"+k.id+"/alerts?unit="+unit, auth.Viewer, nil)
	if code != 200 {
		k.t.Fatalf("list alerts: %d %v", code, out)
	}
	var kinds []string
	for _, it := range out["items"].([]any) {
		kinds = append(kinds, it.(map[string]any)["kind"].(string))
	}
	return kinds
}

// visited waits until the detectors have read the unit's readings up to at.
func (k *kitchenAPI) visited(unit string, at time.Time) {
	k.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := k.pool.QueryRow(context.Background(), `SELECT count(*) FROM insight_state WHERE unit_id = $1 AND processed_to >= $2`, unit, at.Truncate(time.Second)).Scan(&n); err != nil {
			k.t.Fatal(err)
		}
		if n == 1 {
			return
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("the detectors had not read unit %s up to %s after 30 s", unit, at)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func testFoodSafetyRules(t *testing.T, mode schema.Mode) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	t.Parallel()
	dbURL, pool := pgtest.NewDBURL(t, pgtest.WithMode(mode))
	keyFile := filepath.Join(t.TempDir(), "dev.pem")
	p := startServe(t, "food-safety-"+string(mode), dbURL, []string{"FRESHTRACK_INSIGHT_INTERVAL=1s"}, "--dev-auth", "--dev-auth-key", keyFile)
	logOnFailure(t, p)
	k := &kitchenAPI{liveOrg: newLiveOrg(t, pool, keyFile, p.addr, "Harbour Kitchen"), t: t, base: p.base(), pool: pool}
	ctx := context.Background()
	// A zone in which it is about noon, so the last hours are one local day.
	if _, err := pool.Exec(ctx, `UPDATE sites SET timezone = $2 WHERE id = $1`, k.site, zonetest.Midday(time.Now())); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Minute)
	org := "/v1/orgs/" + k.id

	t.Run("a slow compressor failure is warned about before the limit", func(t *testing.T) {
		unit, sensor := k.unitWithSensor("fridge", "Dairy fridge", 0, 5)
		start := now.Add(-130 * time.Minute)
		// 2 °C rising 1.5 °C an hour: 5 °C is crossed 10 minutes ago.
		k.series(sensor, start, now, 2*time.Minute, func(at time.Time) float64 { return 2 + 1.5*at.Sub(start).Hours() })
		a := k.alertOf(unit, "trend_warning", 30*time.Second, "triggered")
		if s, _ := a["summary"].(string); s == "" {
			t.Errorf("trend warning without a summary: %v", a)
		}
		for _, kind := range k.kinds(unit) {
			if kind == "temp_high" {
				t.Errorf("a temperature alert opened although the unit is only 10 minutes past its limit (confirm delay 15 min)")
			}
		}
	})

	t.Run("a flapping fridge adds up an hour out of temperature", func(t *testing.T) {
		unit, sensor := k.unitWithSensor("fridge", "Line fridge", 0, 5)
		start := now.Add(-3 * time.Hour)
		k.series(sensor, start, now, time.Minute, func(at time.Time) float64 {
			if int(at.Sub(start).Minutes())%20 < 9 {
				return 7.5
			}
			return 3
		})
		k.alertOf(unit, "time_out_of_temp", 30*time.Second, "triggered")
		k.visited(unit, now)
		for _, kind := range k.kinds(unit) {
			if kind == "temp_high" {
				t.Errorf("an excursion shorter than the confirm delay opened a temperature alert")
			}
		}
	})

	t.Run("a door left open alerts and closing it ends the alert", func(t *testing.T) {
		unit, sensor := k.unitWithSensor("walk_in", "Walk-in", 0, 5)
		var readings []map[string]any
		for at := now.Add(-20 * time.Minute); !at.After(now); at = at.Add(time.Minute) {
			r := map[string]any{"sensor": sensor, "time": at.Format(time.RFC3339Nano), "temp_c": 3.5}
			if at.Equal(now.Add(-12 * time.Minute)) {
				r["door_open"] = true
			}
			readings = append(readings, r)
		}
		postReadings(t, k.base, k.apiKey, readings)
		k.alertOf(unit, "door_open", 30*time.Second, "triggered")
		postReadings(t, k.base, k.apiKey, []map[string]any{{"sensor": sensor, "time": time.Now().UTC().Format(time.RFC3339Nano), "temp_c": 3.6, "door_open": false}})
		k.alertOf(unit, "door_open", 30*time.Second, "resolved")
		code, out := k.callJSON(t, k.base, "GET", org+"/units/"+unit+"/events?kind=door_open", auth.Viewer, nil)
		items, _ := out["items"].([]any)
		if code != 200 || len(items) != 1 || items[0].(map[string]any)["source"] != "sensor" || items[0].(map[string]any)["ended_at"] == nil {
			t.Fatalf("door events: %d %v", code, out)
		}
	})

	t.Run("a freezer's learned defrosts do not alert, a defrost that runs too hot does", func(t *testing.T) {
		unit, sensor := k.unitWithSensor("freezer", "Freezer", -30, -18)
		// Defrosts every 6 h, 30 minutes to −7 °C; the one starting 40
		// minutes ago peaks at −2 °C.
		hot := now.Add(-40 * time.Minute)
		temp := func(at time.Time) float64 {
			off := at.Sub(hot) % (6 * time.Hour)
			if off < 0 {
				off += 6 * time.Hour
			}
			if off >= 30*time.Minute {
				return -21 + 0.5*math.Sin(float64(at.Unix())/600)
			}
			peak := 13.0
			if at.Sub(hot) >= 0 && at.Sub(hot) < 30*time.Minute {
				peak = 18
			}
			return -20 + peak*math.Sin(math.Pi*float64(off)/float64(30*time.Minute))
		}
		// Four days of history, too old for the threshold rules (24 h),
		// from which the pattern is learned...
		old := now.Add(-25 * time.Hour)
		k.series(sensor, now.Add(-5*24*time.Hour), old, 2*time.Minute, temp)
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, out := k.callJSON(t, k.base, "GET", org+"/units/"+unit+"/events?kind=defrost", auth.Viewer, nil)
			if code == 200 && out["defrost_pattern"] != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no defrost pattern learned from four days of history: %d %v", code, out)
			}
			time.Sleep(200 * time.Millisecond)
		}
		// ...then the last day, four defrosts on schedule and the hot one.
		k.series(sensor, old.Add(2*time.Minute), now, 2*time.Minute, temp)
		a := k.alertOf(unit, "temp_high", 30*time.Second, "triggered")
		if started, _ := time.Parse(time.RFC3339Nano, a["started_at"].(string)); started.Before(hot) {
			t.Fatalf("temp_high alert started %s, before the hot defrost at %s: a recognised defrost alerted", started, hot)
		}
		k.visited(unit, now)
		n := 0
		for _, kind := range k.kinds(unit) {
			if kind == "temp_high" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d temp_high alerts, want only the hot defrost's", n)
		}
	})

	t.Run("a cooling log that misses its first stage fails and alerts", func(t *testing.T) {
		unit, sensor := k.unitWithSensor("blast_chiller", "Blast chiller", -40, 5)
		started := now.Add(-2*time.Hour - 10*time.Minute)
		code, out := k.callJSON(t, k.base, "POST", org+"/units/"+unit+"/cooling", auth.Staff,
			map[string]any{"item": "Beef stock", "started_at": started.Format(time.RFC3339)})
		if code != 201 {
			t.Fatalf("start cooling: %d %v", code, out)
		}
		k.series(sensor, started, now, 2*time.Minute, func(at time.Time) float64 { return 70 - 14*at.Sub(started).Hours() })
		k.alertOf(unit, "cooling", 30*time.Second, "triggered")
		code, out = k.callJSON(t, k.base, "GET", org+"/units/"+unit+"/cooling", auth.Viewer, nil)
		items, _ := out["items"].([]any)
		if code != 200 || len(items) != 1 {
			t.Fatalf("cooling logs: %d %v", code, out)
		}
		if log := items[0].(map[string]any); log["status"] != "failed" || log["failed_stage"] != 1.0 {
			t.Fatalf("cooling log %v, want failed at stage 1", log)
		}
	})

	t.Run("a calibration due soon alerts", func(t *testing.T) {
		unit, sensor := k.unitWithSensor("fridge", "Drinks fridge", 0, 5)
		var id string
		if err := pool.QueryRow(ctx, `SELECT public_id::text FROM sensors WHERE org_id = $1 AND external_id = $2`, k.id, sensor).Scan(&id); err != nil {
			t.Fatal(err)
		}
		k.series(sensor, now.Add(-10*time.Minute), now, time.Minute, func(time.Time) float64 { return 3 })
		code, out := k.callJSON(t, k.base, "POST", org+"/sensors/"+id+"/calibrations", auth.Manager, map[string]any{
			"calibrated_at": now.AddDate(-1, 0, 0).Format(time.RFC3339), "due_at": now.AddDate(0, 0, 10).Format(time.RFC3339),
			"reference_c": 0, "measured_c": 0.3, "offset_c": -0.3})
		if code != 201 {
			t.Fatalf("record calibration: %d %v", code, out)
		}
		k.alertOf(unit, "calibration_due", 30*time.Second, "triggered")
	})

	t.Run("a probe stuck on one value is implausible", func(t *testing.T) {
		unit, sensor := k.unitWithSensor("walk_in", "Dry store walk-in", 0, 5)
		k.series(sensor, now.Add(-6*time.Hour-30*time.Minute), now, 5*time.Minute, func(time.Time) float64 { return 3.1 })
		k.alertOf(unit, "sensor_implausible", 30*time.Second, "triggered")
	})
}
