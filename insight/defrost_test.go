package insight

import (
	"math"
	"testing"
	"time"
)

// freezer is a freezer at −21 °C with defrosts starting at each of starts,
// lasting dur (long: the one at index longAt lasts 90 minutes) and peaking
// at −7 °C.
func freezer(starts []time.Duration, dur time.Duration, longAt int) func(time.Duration) float64 {
	return func(d time.Duration) float64 {
		v := -21 + saw(d, 0.8, 30*time.Minute) + noise(d)
		for i, s := range starts {
			dd := dur
			if i == longAt {
				dd = 90 * time.Minute
			}
			x := float64(d-s) / float64(dd)
			switch {
			case x < 0 || x > 1.5:
			case x < 0.4:
				v += 14 * x / 0.4
			case x < 0.75:
				v += 14
			default:
				v += 14 * math.Exp(-(x-0.75)/0.08)
			}
		}
		return v
	}
}

func every(first, period time.Duration, n int) []time.Duration {
	var out []time.Duration
	for i := range n {
		out = append(out, first+time.Duration(i)*period)
	}
	return out
}

func TestDefrostLearnsAfterFourEpisodes(t *testing.T) {
	t.Parallel()
	p := params("freezer")
	starts := every(time.Hour, 6*time.Hour, 4)
	u := NewUnit()
	out := run(u, p, 0, 18*time.Hour+50*time.Minute, time.Minute, freezer(starts, 30*time.Minute, -1))
	if out.Defrost != nil {
		t.Fatalf("learned from three defrosts: %+v", out.Defrost)
	}
	out = run(u, p, 18*time.Hour+51*time.Minute, 21*time.Hour, time.Minute, freezer(starts, 30*time.Minute, -1))
	pt := out.Defrost
	if pt == nil || !out.PatternChanged {
		t.Fatal("no pattern after four defrosts 6 h apart")
	}
	if d := pt.Period - 6*time.Hour; d < -time.Minute || d > time.Minute {
		t.Fatalf("period %s, want 6h", pt.Period)
	}
	if !pt.OnSchedule(at(25*time.Hour+3*time.Minute)) || pt.OnSchedule(at(28*time.Hour)) {
		t.Fatalf("schedule %+v: want the next defrost on it and a moment between off it", pt)
	}
	if pt.MaxPeakC != pt.PeakC+3 || pt.MaxDuration != pt.Duration+15*time.Minute || pt.Episodes != 4 {
		t.Fatalf("bounds %+v: want the learned peak + 3 °C and duration + 15 min", pt)
	}
	if pt.PeakC < -8 || pt.PeakC > -6 || pt.Duration < 20*time.Minute || pt.Duration > 45*time.Minute {
		t.Fatalf("learned %+v, want a peak about −7 °C and about 30 minutes", pt)
	}
}

func TestDefrostNeedsConsistentSpacing(t *testing.T) {
	t.Parallel()
	p := params("freezer")
	starts := []time.Duration{time.Hour, 5 * time.Hour, 12 * time.Hour, 14*time.Hour + 30*time.Minute, 23 * time.Hour, 26 * time.Hour}
	out := run(NewUnit(), p, 0, 30*time.Hour, time.Minute, freezer(starts, 30*time.Minute, -1))
	if out.Defrost != nil {
		t.Fatalf("learned a pattern from irregular rises: %+v", out.Defrost)
	}
}

func TestDefrostEpisodes(t *testing.T) {
	t.Parallel()
	p := params("freezer")
	starts := every(time.Hour, 6*time.Hour, 8)
	out := run(NewUnit(), p, 0, 48*time.Hour, 2*time.Minute, freezer(starts, 30*time.Minute, 6))
	var in, outOf int
	for _, e := range out.Episodes {
		if e.Kind != "defrost" {
			continue
		}
		if e.Ended.IsZero() {
			t.Fatalf("episode %+v never ended", e)
		}
		if e.WithinBounds {
			in++
		} else {
			outOf++
			if d := e.Started.Sub(at(starts[6])); d < -10*time.Minute || d > 10*time.Minute {
				t.Fatalf("the long defrost is the one at %s, not %s", at(starts[6]), e.Started)
			}
		}
	}
	// Defrosts 5, 6 and 8 are recognised; the seventh runs 90 minutes.
	if in != 3 || outOf != 1 {
		t.Fatalf("%d defrosts within bounds and %d beyond, want 3 and 1: %+v", in, outOf, out.Episodes)
	}
}
