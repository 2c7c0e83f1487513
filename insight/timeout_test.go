package insight

import (
	"math"
	"testing"
	"time"
)

func TestTimeOutAddsShortExcursions(t *testing.T) {
	t.Parallel()
	p := params("fridge")
	p.Zone = time.FixedZone("site", 2*3600)
	// Every hour from 08:00 local (06:00 UTC), 10 minutes at 6 °C: over
	// before the confirm delay, an hour after six of them.
	f := func(d time.Duration) float64 {
		if d >= 6*time.Hour && d < 20*time.Hour && d%time.Hour < 10*time.Minute {
			return 6
		}
		return 3
	}
	out := run(NewUnit(), p, 0, 30*time.Hour, time.Minute, f)
	s := signals(out, kindTimeOut)
	checkPairs(t, s)
	if len(s) != 2 || s[0].RuleID != "out60" {
		t.Fatalf("want out60 raised and cleared, got %+v", s)
	}
	if !s[0].Started.Equal(at(6*time.Hour)) || !s[0].At.Equal(at(11*time.Hour+10*time.Minute)) || s[0].Value != 60 {
		t.Fatalf("raised %+v: want from 06:00 UTC, at the sixth excursion's end", s[0])
	}
	// The local day ends at 22:00 UTC.
	if !s[1].At.Equal(at(22*time.Hour)) || s[1].Reason != "the day ended" {
		t.Fatalf("cleared %+v", s[1])
	}
}

func TestTimeOutGapIsNotOutOfRange(t *testing.T) {
	t.Parallel()
	p := params("fridge")
	// Out of range at 1 h, then silent for 3 hours: the reading stands for
	// at most twice its interval, never the gap.
	f := func(d time.Duration) float64 {
		switch {
		case d >= time.Hour && d < time.Hour+50*time.Minute:
			return 7
		case d >= time.Hour+50*time.Minute && d < 5*time.Hour:
			return math.NaN()
		}
		return 3
	}
	u := NewUnit()
	out := run(u, p, 0, 8*time.Hour, 5*time.Minute, f)
	if s := signals(out, kindTimeOut); len(s) != 0 {
		t.Fatalf("a gap counted as out of range: %+v (total %s)", s, u.Day.Total)
	}
	if u.Day.Total != 55*time.Minute {
		t.Fatalf("total %s, want 45 min between readings and the last one's 10", u.Day.Total)
	}
}

func TestTimeOutSkipsRecognisedDefrost(t *testing.T) {
	t.Parallel()
	p := params("freezer")
	starts := every(time.Hour, 6*time.Hour, 12)
	u := NewUnit()
	out := run(u, p, 0, 72*time.Hour, time.Minute, freezer(starts, 30*time.Minute, -1))
	// The first day's four defrosts, before the pattern, add up to more
	// than an hour above −18 °C; from then on the defrosts are recognised.
	var days []time.Time
	for _, s := range signals(out, kindTimeOut) {
		if s.Op == Raise && s.RuleID == "out60" {
			days = append(days, s.At.Truncate(24*time.Hour))
		}
	}
	if len(days) != 1 || !days[0].Equal(t0) {
		t.Fatalf("out60 raised on %v, want the first day only", days)
	}
}
