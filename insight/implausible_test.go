package insight

import (
	"testing"
	"time"
)

func TestImplausibleStuck(t *testing.T) {
	t.Parallel()
	p := params("fridge")
	// 3.12 °C exactly from 2 h to 10 h; 5 h 59 min of it is not enough.
	f := func(d time.Duration) float64 {
		if d >= 2*time.Hour && d < 10*time.Hour {
			return 3.12
		}
		return 3 + noise(d)
	}
	u := NewUnit()
	out := run(u, p, 0, 7*time.Hour+59*time.Minute, time.Minute, f)
	if s := signals(out, kindImplausible); len(s) != 0 {
		t.Fatalf("raised before 6 hours: %+v", s)
	}
	merge(&out, run(u, p, 8*time.Hour, 12*time.Hour, time.Minute, f))
	s := signals(out, kindImplausible)
	checkPairs(t, s)
	if len(s) != 2 || !s[0].Started.Equal(at(2*time.Hour)) || !s[0].At.Equal(at(8*time.Hour)) || s[0].Sensor != 1 {
		t.Fatalf("want stuck from 2 h raised at 8 h and cleared, got %+v", s)
	}
	if !s[1].At.Equal(at(10 * time.Hour)) {
		t.Fatalf("cleared at %s, want when it varied again", s[1].At)
	}
}

func TestImplausibleJump(t *testing.T) {
	t.Parallel()
	f := func(d time.Duration) float64 {
		if d == 3*time.Hour {
			return 45.6
		}
		return 3 + noise(d)
	}
	for _, c := range []struct {
		kind string
		want int
	}{
		{"fridge", 2},        // air: 42 °C in 2 minutes is impossible
		{"blast_chiller", 0}, // a food probe pushed into a batch: possible
	} {
		p := params(c.kind)
		out := run(NewUnit(), p, 0, 6*time.Hour, 2*time.Minute, f)
		s := signals(out, kindImplausible)
		checkPairs(t, s)
		if len(s) != c.want {
			t.Fatalf("%s: signals %+v, want %d", c.kind, s, c.want)
		}
		if c.want > 0 && (!s[0].At.Equal(at(3*time.Hour)) || !s[1].At.Equal(at(4*time.Hour+2*time.Minute))) {
			t.Fatalf("%s: %+v, want raised at the jump and cleared an hour after the jump back", c.kind, s)
		}
	}
}
