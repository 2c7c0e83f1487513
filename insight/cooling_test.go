package insight

import (
	"math"
	"testing"
	"time"
)

// batch is food at hot °C loaded at `load` into a chiller's −15 °C air,
// cooling with time constant tau; the probe hangs in 2 °C air before.
func batch(load time.Duration, hot float64, tau time.Duration) func(time.Duration) float64 {
	return func(d time.Duration) float64 {
		if d < load {
			return 2
		}
		return -15 + (hot+15)*math.Exp(-float64(d-load)/float64(tau))
	}
}

func TestCoolingPasses(t *testing.T) {
	t.Parallel()
	p := params("blast_chiller")
	out := run(NewUnit(), p, 0, 10*time.Hour, time.Minute, batch(time.Hour, 75, 80*time.Minute))
	if len(out.Cooling) != 1 {
		t.Fatalf("cycles %+v", out.Cooling)
	}
	c := out.Cooling[0]
	// 57 °C at 1 h + 80 min × ln(90/72), 21 °C by ln(90/36), 5 °C by ln(90/20).
	want := func(c float64) time.Time {
		return at(time.Hour + time.Duration(80*math.Log(90/(c+15))*float64(time.Minute)))
	}
	near := func(a, b time.Time) bool { return a.Sub(b).Abs() <= time.Minute }
	if c.Source != "detected" || !near(c.Started, want(57)) || !near(c.Stage1At, want(21)) || !near(c.Stage2At, want(5)) {
		t.Fatalf("cycle %+v, want started %s, stage 1 %s, stage 2 %s", c, want(57), want(21), want(5))
	}
	if c.Status != "passed" || !c.Stage1Deadline.Equal(c.Started.Add(2*time.Hour)) || !c.Ended.Equal(c.Stage2At) {
		t.Fatalf("cycle %+v", c)
	}
	if s := signals(out, kindCooling); len(s) != 0 {
		t.Fatalf("a passing cycle alerted: %+v", s)
	}
}

func TestCoolingMissesStageOne(t *testing.T) {
	t.Parallel()
	p := params("blast_chiller")
	// τ = 4 h: 57 → 21 °C takes 2.8 h.
	out := run(NewUnit(), p, 0, 8*time.Hour, 2*time.Minute, batch(time.Hour, 75, 4*time.Hour))
	s := signals(out, kindCooling)
	c := out.Cooling[0]
	if c.Status != "failed" || c.FailedStage != 1 || !c.Ended.Equal(c.Stage1Deadline) {
		t.Fatalf("cycle %+v", c)
	}
	// The projection raises it Warn before the deadline, and it stays
	// raised when the deadline passes: one Raise, no Clear.
	if len(s) != 1 || s[0].Op != Raise || s[0].At.Before(c.Stage1Deadline.Add(-30*time.Minute)) || !s[0].At.Before(c.Stage1Deadline) {
		t.Fatalf("signals %+v, want one projected miss in the last 30 minutes", s)
	}
	if _, ok := s[0].Details["projected"]; !ok {
		t.Fatalf("no projection in %+v", s[0].Details)
	}
}

func TestCoolingProjectionMetAfterAll(t *testing.T) {
	t.Parallel()
	p := params("blast_chiller")
	p.Cooling.Warn = 90 * time.Minute
	// Slow at first, then a person moves the food to shallow pans: τ drops
	// from 3 h to 30 min at 1 h 20 min after loading, and stage 1 is met.
	load := time.Hour
	slow := batch(load, 60, 3*time.Hour)
	f := func(d time.Duration) float64 {
		sw := load + 80*time.Minute
		if d < sw {
			return slow(d)
		}
		c := slow(sw)
		return -15 + (c+15)*math.Exp(-float64(d-sw)/float64(30*time.Minute))
	}
	u := NewUnit()
	var out Output
	run(u, p, 0, load, time.Minute, f)
	u.StartCooling(p, at(load+time.Minute), &out)
	merge(&out, run(u, p, load+time.Minute, 8*time.Hour, time.Minute, f))
	s := signals(out, kindCooling)
	checkPairs(t, s)
	if len(s) != 2 || s[1].Reason != "stage 1 was met after all" {
		t.Fatalf("signals %+v, want a projected miss cleared", s)
	}
	c := out.Cooling[len(out.Cooling)-1]
	if c.Source != "manual" || c.Status != "passed" || !c.Started.Equal(at(load+time.Minute)) {
		t.Fatalf("cycle %+v", c)
	}
}

func TestCoolingMissesStageTwo(t *testing.T) {
	t.Parallel()
	p := params("blast_chiller")
	// Stage 1 in time, then the chiller fails and the food settles at 7 °C.
	fast := batch(time.Hour, 75, 70*time.Minute)
	f := func(d time.Duration) float64 { return max(fast(d), 7+noise(d)) }
	out := run(NewUnit(), p, 0, 10*time.Hour, time.Minute, f)
	c := out.Cooling[0]
	if c.Stage1At.IsZero() || c.Status != "failed" || c.FailedStage != 2 {
		t.Fatalf("cycle %+v", c)
	}
	s := signals(out, kindCooling)
	if len(s) != 1 || s[0].Details["stage"] != 2 {
		t.Fatalf("signals %+v", s)
	}
}

func TestCoolingDetectedCycleCancelledWhenHotAgain(t *testing.T) {
	t.Parallel()
	p := params("blast_chiller")
	// A hot-holding cabinet's heater stops for 40 minutes: the food falls
	// through 57 °C, then heats up again.
	f := func(d time.Duration) float64 {
		if x := d - time.Hour; x >= 0 && x < 40*time.Minute {
			return 62 - 8*x.Hours()*1.5
		} else if x >= 40*time.Minute {
			return min(65, 54+10*(x-40*time.Minute).Hours())
		}
		return 62
	}
	out := run(NewUnit(), p, 0, 4*time.Hour, time.Minute, f)
	if len(out.Cooling) != 1 || out.Cooling[0].Status != "cancelled" || out.Cooling[0].Source != "detected" {
		t.Fatalf("cycles %+v", out.Cooling)
	}
	if s := signals(out, kindCooling); len(s) != 0 {
		t.Fatalf("signals %+v", s)
	}
}
