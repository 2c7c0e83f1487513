package bench

import (
	"encoding/json"
	"testing"
	"time"
)

func TestBodiesCoverThePlanWithoutDuplicates(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	p := Plan{Sensors: 7, Interval: time.Minute, Batch: 10, Rows: 95, Start: start}
	bodies := p.Bodies()
	if len(bodies) != 10 || p.Requests() != 10 {
		t.Fatalf("%d bodies, Requests() = %d; want 10", len(bodies), p.Requests())
	}
	seen := map[string]bool{}
	total := 0
	for bi, b := range bodies {
		var req struct {
			Readings []struct {
				Sensor string    `json:"sensor"`
				Time   time.Time `json:"time"`
				TempC  float64   `json:"temp_c"`
			} `json:"readings"`
		}
		if err := json.Unmarshal(b, &req); err != nil {
			t.Fatalf("body %d is not valid JSON: %v\n%s", bi, err, b)
		}
		for j, r := range req.Readings {
			i := bi*10 + j
			s, at, temp := p.Reading(i)
			if r.Sensor != SensorName(s) || !r.Time.Equal(at) || r.TempC != temp {
				t.Fatalf("reading %d = %+v, want %s %v %v", i, r, SensorName(s), at, temp)
			}
			k := r.Sensor + r.Time.String()
			if seen[k] {
				t.Fatalf("reading %d repeats %s", i, k)
			}
			seen[k] = true
			total++
		}
	}
	if total != 95 {
		t.Fatalf("bodies carry %d readings, want 95", total)
	}
	if last, at, _ := p.Reading(94); last != 94%7 || !at.Equal(start.Add(13*time.Minute)) {
		t.Fatalf("reading 94 = sensor %d at %v", last, at)
	}
}

func TestSensorName(t *testing.T) {
	t.Parallel()
	if SensorName(42) != "bench-000042" || SensorName(1234567) != "bench-1234567" {
		t.Fatal(SensorName(42), SensorName(1234567))
	}
}

// TestLivePlans: a live run's readings are all recent (within the window,
// far inside alerting's 24 h) and none is in the future; the warm-up round
// comes before every reading of the run; and runs, each with sensors of its
// own, never share a (sensor, time).
func TestLivePlans(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 0, 30, 0, 123456789, time.UTC)
	seen := map[string]bool{}
	for r := range 3 {
		names := make([]string, 100)
		for i := range names {
			names[i] = LiveSensorName(r, i)
		}
		warm, run, err := LivePlans(names, 25_050, 500, 20*time.Minute, now)
		if err != nil {
			t.Fatal(err)
		}
		if warm.Rows != 100 || run.Rows != 25_050 || run.Batch != 500 || run.Interval != warm.Interval {
			t.Fatalf("warm %+v run %+v", warm, run)
		}
		for _, p := range []Plan{warm, run} {
			for i := range p.Rows {
				s, at, temp := p.Reading(i)
				if at.Before(now.Add(-20*time.Minute)) || at.After(now) || at.Before(now.Add(-24*time.Hour)) {
					t.Fatalf("run %d reading %d at %s: outside the last 20 minutes before %s", r, i, at, now)
				}
				if temp < 2 || temp > 4.5 {
					t.Fatalf("run %d reading %d is %v °C, outside 2..4.5", r, i, temp)
				}
				k := p.Name(s) + " " + at.Format(time.RFC3339Nano)
				if seen[k] {
					t.Fatalf("run %d reading %d repeats %s", r, i, k)
				}
				seen[k] = true
			}
		}
		if _, first, _ := run.Reading(0); !first.After(warm.Last()) {
			t.Fatalf("run starts at %s, not after the warm-up's %s", first, warm.Last())
		}
	}
	if _, _, err := LivePlans([]string{"a"}, 20_000, 1, time.Second, now); err == nil {
		t.Fatal("20000 readings of one sensor in a second: want an error")
	}
}
