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
	type cand struct {
		per time.Duration
		in  []int
	}
	var cands []cand
	most := 0
	// Every spacing between nearby candidates is a candidate period.
	for i := 1; i < len(hist); i++ {
		for j := i - 1; j >= 0 && j >= i-3; j-- {
			per := hist[i].Start.Sub(hist[j].Start)
			if per < defrostMinPeriod {
				continue
			}
			in := inliers(hist, per)
			cands = append(cands, cand{per, in})
			most = max(most, len(in))
		}
	}
	// Half the period puts as many candidates on its schedule as the
	// period itself: of the periods nearly as good as the best, the
	// longest is the defrost's.
	var best []int
	var bestP time.Duration
	for _, c := range cands {
		if len(c.in) >= most-most/10 && c.per > bestP {
			best, bestP = c.in, c.per
		}
	}
	if len(best) < defrostMinEpisodes {
		return nil, false
	}
	// Least squares of start against cycle number refines the period.
	t0 := hist[best[0]].Start
	var sk, st, skk, skt float64
	ks := make([]float64, len(best))
	for n, i := range best {
		k := math.Round(float64(hist[i].Start.Sub(t0)) / float64(bestP))
		ks[n] = k
		t := float64(hist[i].Start.Sub(t0))
		sk, st, skk, skt = sk+k, st+t, skk+k*k, skt+k*t
	}
	m := float64(len(best))
	den := m*skk - sk*sk
	if den == 0 {
		return nil, false
	}
	per := (m*skt - sk*st) / den
	a := (st - per*sk) / m
	var worst float64
	peaks := make([]float64, 0, len(best))
	durs := make([]float64, 0, len(best))
	for n, i := range best {
		res := math.Abs(float64(hist[i].Start.Sub(t0)) - (a + per*ks[n]))
		worst = max(worst, res)
		peaks = append(peaks, hist[i].PeakC)
		durs = append(durs, float64(hist[i].End.Sub(hist[i].Start)))
	}
	period := time.Duration(per).Round(time.Second)
	anchor := t0.Add(time.Duration(a + per*ks[len(ks)-1])).Round(time.Second)
	// The evaluator judges the schedule by the temp_high excursion's start,
	// a few minutes after the rise left the baseline: the tolerance covers
	// that as well as the schedule's own jitter.
	tol := min(time.Duration(worst)+10*time.Minute, period/4).Round(time.Second)
	peak := median(peaks)
	dur := time.Duration(median(durs)).Round(time.Second)
	pt := &safety.DefrostPattern{
		Period: period, Anchor: anchor, PhaseTolerance: tol, Duration: dur, PeakC: round2(peak),
		MaxPeakC: round2(peak + p.Defrost.PeakMargin), MaxDuration: dur + p.Defrost.DurationMargin,
		Episodes: len(best),
	}
	return pt, true
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

// changed reports whether a relearned pattern differs enough from the one
// in use to replace it.
func changed(old, pt *safety.DefrostPattern) bool {
	absd := func(a, b time.Duration) time.Duration { return max(a-b, b-a) }
	return absd(old.Period, pt.Period) > time.Minute ||
		absd(old.Duration, pt.Duration) > 2*time.Minute ||
		math.Abs(old.PeakC-pt.PeakC) > 0.5 ||
		absd(old.PhaseTolerance, pt.PhaseTolerance) > 2*time.Minute ||
		!pt.OnSchedule(old.Anchor)
}
