package insight

import (
	"testing"
	"time"
)

func TestTrendCyclingFridgeIsFlat(t *testing.T) {
	t.Parallel()
	p := params("fridge")
	// ±1 °C every 20 minutes around 3.2 °C: peaks 4.2, close to the limit.
	out := run(NewUnit(), p, 0, 48*time.Hour, time.Minute, func(d time.Duration) float64 {
		return 3.2 + saw(d, 1, 20*time.Minute) + noise(d)
	})
	if s := signals(out, kindTrend); len(s) != 0 {
		t.Fatalf("a cycling fridge warned: %+v", s[0])
	}
}

func TestTrendWarnsAheadOfSlowFailure(t *testing.T) {
	t.Parallel()
	p := params("fridge")
	drift := 6 * time.Hour
	// From 6 h the compressor loses capacity: +1 °C/h until repaired at 10 h.
	f := func(d time.Duration) float64 {
		v := 3 + saw(d, 0.8, 25*time.Minute) + noise(d)
		switch {
		case d > 10*time.Hour:
			v += 0
		case d > drift:
			v += (d - drift).Hours()
		}
		return v
	}
	out := run(NewUnit(), p, 0, 12*time.Hour, 2*time.Minute, f)
	s := signals(out, kindTrend)
	checkPairs(t, s)
	if len(s) < 2 || s[0].Op != Raise {
		t.Fatalf("want a warning and its clear, got %+v", s)
	}
	// The peaks (3.8 °C) reach 5 °C at 7.2 h, the troughs at 8.8 h: the
	// temperature alert opens in between, once the value stays past 5 °C
	// for 15 minutes. The robust slope needs the drift to fill half its
	// window first.
	if !s[0].At.After(at(drift)) || !s[0].At.Before(at(8*time.Hour)) {
		t.Fatalf("warned at %s, want between the drift's start and 8 h", s[0].At)
	}
	if s[0].Details["slope_c_per_h"].(float64) < 0.5 {
		t.Fatalf("slope %v, want about 1 °C/h", s[0].Details["slope_c_per_h"])
	}
	if s[1].Reason != "the limit was crossed: the temperature alert takes over" {
		t.Fatalf("cleared with %q", s[1].Reason)
	}
}

func TestTrendClearsWhenReversed(t *testing.T) {
	t.Parallel()
	p := params("fridge")
	// A rise that stops at 4.7 °C and falls back: warned, then reversed.
	f := func(d time.Duration) float64 {
		v := 2.5 + noise(d)
		switch {
		case d > 5*time.Hour:
			v += max(0, 2.2-(d-5*time.Hour).Hours()*2)
		case d > 3*time.Hour:
			v += 1.1 * (d - 3*time.Hour).Hours()
		}
		return v
	}
	out := run(NewUnit(), p, 0, 9*time.Hour, time.Minute, f)
	s := signals(out, kindTrend)
	checkPairs(t, s)
	if len(s) != 2 || s[1].Reason != "the trend reversed" {
		t.Fatalf("want a warning cleared as reversed, got %+v", s)
	}
}

func TestTrendHotHoldingFalling(t *testing.T) {
	t.Parallel()
	p := params("hot_holding")
	f := func(d time.Duration) float64 {
		v := 65 - saw(d, 0.6, 30*time.Minute) + noise(d)
		if d > 4*time.Hour {
			v -= 3 * (d - 4*time.Hour).Hours()
		}
		return v
	}
	out := run(NewUnit(), p, 0, 8*time.Hour, 2*time.Minute, f)
	s := signals(out, kindTrend)
	if len(s) == 0 || s[0].Op != Raise || s[0].At.After(at(6*time.Hour+20*time.Minute)) {
		t.Fatalf("want a warning before the heater's failure crosses 57 °C at 6.5 h, got %+v", s)
	}
}
