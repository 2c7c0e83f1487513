package insight

import (
	"testing"
	"time"
)

func TestDoorSensor(t *testing.T) {
	t.Parallel()
	p := params("fridge")
	u := NewUnit()
	var out Output
	door := func(d time.Duration, open bool) { u.ObserveDoor(p, DoorState{T: at(d), Open: open, Sensor: 7}, &out) }
	// A short opening: recorded, no alert.
	door(time.Hour, true)
	u.Tick(p, at(time.Hour+4*time.Minute), &out)
	door(time.Hour+5*time.Minute, false)
	// Left open: the alert at 10 minutes (from the clock), cleared on closing.
	door(2*time.Hour, true)
	u.Tick(p, at(2*time.Hour+9*time.Minute), &out)
	if !u.Busy() {
		t.Fatal("an open door is not busy")
	}
	if s := signals(out, kindDoor); len(s) != 0 {
		t.Fatalf("alerted before 10 minutes: %+v", s)
	}
	u.Observe(p, Sample{T: at(2*time.Hour + 10*time.Minute), C: 4.5}, &out)
	u.Tick(p, at(2*time.Hour+11*time.Minute), &out)
	door(2*time.Hour+25*time.Minute, false)
	if u.Busy() {
		t.Fatalf("busy after the door closed: %+v", u)
	}
	s := signals(out, kindDoor)
	checkPairs(t, s)
	if len(s) != 2 || !s[0].Started.Equal(at(2*time.Hour)) || !s[0].At.Equal(at(2*time.Hour+10*time.Minute)) || s[0].Sensor != 7 {
		t.Fatalf("want one alert from 2 h confirmed at 2 h 10 and its clear, got %+v", s)
	}
	if len(out.Episodes) != 2 || out.Episodes[1].Ended.Sub(out.Episodes[1].Started) != 25*time.Minute || out.Episodes[0].Source != "sensor" {
		t.Fatalf("episodes %+v", out.Episodes)
	}
}

func TestDoorSignature(t *testing.T) {
	t.Parallel()
	p := params("fridge")
	// At 3 h a door lets warm air in: +2.5 °C within 3 minutes, back within
	// 15. At 6 h a slow 2 °C rise over 40 minutes is no door.
	f := func(d time.Duration) float64 {
		v := 3 + noise(d)
		switch x := d - 3*time.Hour; {
		case x >= 0 && x < 3*time.Minute:
			v += 2.5 * x.Minutes() / 3
		case x >= 3*time.Minute && x < 15*time.Minute:
			v += 2.5 * (1 - (x-3*time.Minute).Minutes()/12)
		}
		if x := d - 6*time.Hour; x >= 0 && x < 40*time.Minute {
			v += 2 * x.Minutes() / 40
		} else if x >= 40*time.Minute && x < 80*time.Minute {
			v += 2 * (1 - (x-40*time.Minute).Minutes()/40)
		}
		return v
	}
	out := run(NewUnit(), p, 0, 8*time.Hour, time.Minute, f)
	if len(out.Episodes) != 1 {
		t.Fatalf("want the one door opening, got %+v", out.Episodes)
	}
	e := out.Episodes[0]
	if e.Kind != "door_open" || e.Source != "detected" || e.Started.Before(at(2*time.Hour+55*time.Minute)) || e.Started.After(at(3*time.Hour)) || e.PeakC < 5.3 {
		t.Fatalf("episode %+v", e)
	}
	if s := signals(out, kindDoor); len(s) != 0 {
		t.Fatalf("a detected opening alerted: %+v", s)
	}
}
