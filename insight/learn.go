package insight

import (
	"math"
	"time"

	"github.com/freshtrack/freshtrack/safety"
)

// learn (re)learns the defrost pattern from the candidates: the period with
// the most candidates on its schedule, spacings within defrostSpacing of a
// multiple of it, at least defrostMinEpisodes of them. Door openings and
// other rises off the schedule are left out.
func (st *DefrostState) learn(p *Params, out *Output) {
	pt, ok := fitPattern(p, st.History)
	if !ok {
		return
	}
	if old := st.Pattern; old != nil && !changed(old, pt) {
		return
	}
	st.Pattern = pt
	out.PatternChanged = true
}

func fitPattern(p *Params, hist []Rise) (*safety.DefrostPattern, bool) {
	if len(hist) < defrostMinEpisodes {
		return nil, false
	}
	var best schedule
	// Every spacing between nearby candidates is a candidate period.
	for i := 1; i < len(hist); i++ {
		for j := i - 1; j >= 0 && j >= i-3; j-- {
			per := hist[i].Start.Sub(hist[j].Start)
			if per < defrostMinPeriod {
				continue
			}
			sc, ok := fitSchedule(hist, inliers(hist, per), per)
			if ok && (len(sc.in) > len(best.in) || len(sc.in) == len(best.in) && sc.worst < best.worst) {
				best = sc
			}
		}
	}
	if len(best.in) < defrostMinEpisodes {
		return nil, false
	}
	peaks := make([]float64, 0, len(best.in))
	durs := make([]float64, 0, len(best.in))
	for _, i := range best.in {
		peaks = append(peaks, hist[i].PeakC)
		durs = append(durs, float64(hist[i].End.Sub(hist[i].Start)))
	}
	// The evaluator judges the schedule by the temp_high excursion's start,
	// a few minutes after the rise left the baseline: the tolerance covers
	// that as well as the schedule's own jitter.
	tol := min(best.worst+10*time.Minute, best.period/4).Round(time.Second)
	peak := median(peaks)
	dur := time.Duration(median(durs)).Round(time.Second)
	return &safety.DefrostPattern{
		Period: best.period, Anchor: best.anchor, PhaseTolerance: tol, Duration: dur, PeakC: round2(peak),
		MaxPeakC: round2(peak + p.Defrost.PeakMargin), MaxDuration: dur + p.Defrost.DurationMargin,
		Episodes: len(best.in),
	}, true
}

// schedule is a fitted defrost schedule: starts at anchor + k × period, the
// candidates on it, and the worst of their distances from it.
type schedule struct {
	period time.Duration
	anchor time.Time
	in     []int
	worst  time.Duration
}

// defrostOnTime is how far from the fitted schedule a candidate may start
// and still be on it: defrosts run on a timer.
const defrostOnTime = 15 * time.Minute

// defrostFill is the share of the schedule's slots, between its first and
// its last candidate, that must have one: a schedule at half the period, or
// one that counts door openings between defrosts, leaves slots empty.
const defrostFill = 0.9

// fitSchedule refines a chain of candidates by least squares of start
// against cycle number, then takes every candidate within defrostOnTime of
// the fitted schedule.
func fitSchedule(hist []Rise, chain []int, period time.Duration) (schedule, bool) {
	if len(chain) < defrostMinEpisodes {
		return schedule{}, false
	}
	t0 := hist[chain[0]].Start
	per0 := float64(period)
	var sk, st, skk, skt float64
	for _, i := range chain {
		t := float64(hist[i].Start.Sub(t0))
		k := math.Round(t / per0)
		sk, st, skk, skt = sk+k, st+t, skk+k*k, skt+k*t
	}
	m := float64(len(chain))
	den := m*skk - sk*sk
	if den == 0 {
		return schedule{}, false
	}
	per := (m*skt - sk*st) / den
	a := (st - per*sk) / m
	if per < float64(defrostMinPeriod) {
		return schedule{}, false
	}
	sc := schedule{period: time.Duration(per).Round(time.Second)}
	var kFirst, kLast float64
	for i := range hist {
		t := float64(hist[i].Start.Sub(t0))
		k := math.Round((t - a) / per)
		res := time.Duration(math.Abs(t - (a + k*per)))
		if res > defrostOnTime {
			continue
		}
		if len(sc.in) > 0 && k == kLast {
			continue // two candidates in one slot: the first is the defrost
		}
		if len(sc.in) == 0 {
			kFirst = k
		}
		sc.in, kLast = append(sc.in, i), k
		sc.worst = max(sc.worst, res)
	}
	if len(sc.in) < defrostMinEpisodes || float64(len(sc.in)) < defrostFill*(kLast-kFirst+1) {
		return schedule{}, false
	}
	sc.anchor = t0.Add(time.Duration(a + kLast*per)).Round(time.Second)
	return sc, true
}

// inliers returns the indexes of the candidates on a schedule of period
// per: the longest chain in which each spacing is within defrostSpacing of a
// whole number of periods, the rises between being off the schedule.
func inliers(hist []Rise, per time.Duration) []int {
	var best []int
	for s := range hist {
		chain := []int{s}
		last := hist[s].Start
		for i := s + 1; i < len(hist); i++ {
			d := float64(hist[i].Start.Sub(last)) / float64(per)
			k := math.Round(d)
			if k >= 1 && math.Abs(d-k) <= defrostSpacing {
				chain = append(chain, i)
				last = hist[i].Start
			}
		}
		if len(chain) > len(best) {
			best = chain
		}
		if len(best) >= len(hist)-s {
			break
		}
	}
	return best
}

// changed reports whether a relearned pattern differs from the one in use.
// Its anchor moves to the newest defrost every time: a period a few
// seconds off drifts out of its tolerance over weeks, the newest anchor
// never does.
func changed(old, pt *safety.DefrostPattern) bool {
	o, n := *old, *pt
	o.Episodes, n.Episodes = 0, 0
	return o != n
}
