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
