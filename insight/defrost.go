package insight

import (
	"time"

	"github.com/freshtrack/freshtrack/safety"
)

// Defrost recognition: a rise of at least defrostRise above the running
// baseline that returns to it within defrostMaxDuration is a candidate; a
// pattern needs defrostMinEpisodes candidates on one schedule.
const (
	defrostRise = 3.0
	// defrostNear is how close to the baseline a rise starts and ends.
	defrostNear        = 1.0
	defrostMaxDuration = 2 * time.Hour
	// defrostTau is the baseline's time constant: slow enough that a
	// defrost does not drag it up, fast enough to follow a new set point.
	defrostTau         = time.Hour
	defrostMinEpisodes = 4
	// defrostHistory is how many candidates are kept to learn from.
	defrostHistory = 40
	// defrostSpacing is how far from a multiple of the period a spacing
	// may be, as a fraction of the period.
	defrostSpacing   = 0.10
	defrostMinPeriod = time.Hour
)

// DefrostState is the defrost detector's state.
type DefrostState struct {
	Baseline    float64 `json:"baseline"`
	HasBaseline bool    `json:"has_baseline,omitempty"`
	// NearAt is the newest reading near the baseline: where a rise that
	// follows it started.
	NearAt time.Time `json:"near_at"`
	Rise   Rise      `json:"rise"`
	// History is the candidates seen, oldest first.
	History []Rise                 `json:"history,omitempty"`
	Pattern *safety.DefrostPattern `json:"pattern,omitempty"`
}

// Rise is a rise above the baseline.
type Rise struct {
	Active bool      `json:"active,omitempty"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	PeakC  float64   `json:"peak_c"`
	// Above is the rise's height above the baseline at its peak.
	Above float64 `json:"above"`
	// Recorded is set once the rise is an Episode; Out once it left the
	// pattern's bounds.
	Recorded bool `json:"recorded,omitempty"`
	Out      bool `json:"out,omitempty"`
}

func (st *DefrostState) observe(p *Params, s Sample, out *Output) {
	v := p.sign() * s.C
	if !st.HasBaseline {
		st.Baseline, st.HasBaseline, st.NearAt = v, true, s.T
		return
	}
	r := &st.Rise
	if !r.Active {
		if v <= st.Baseline+defrostNear {
			st.follow(v, s.T)
			st.NearAt = s.T
			return
		}
		if v < st.Baseline+defrostRise {
			return // on its way up, or a wobble: the baseline holds still
		}
		*r = Rise{Active: true, Start: st.NearAt, PeakC: s.C, Above: v - st.Baseline}
	}
	if v-st.Baseline > r.Above {
		r.Above, r.PeakC = v-st.Baseline, s.C
	}
	if st.Pattern.OnSchedule(r.Start) {
		r.Recorded = true
		if !r.Out && !st.within(s.T) {
			r.Out = true
		}
		st.episode(out, time.Time{})
	}
	switch {
	case v <= st.Baseline+defrostNear:
		r.End = s.T
		r.Active = false
		if r.Recorded {
			r.Out = r.Out || !st.within(s.T)
			st.episode(out, s.T)
		}
		st.History = append(st.History, *r)
		if len(st.History) > defrostHistory {
			st.History = st.History[len(st.History)-defrostHistory:]
		}
		st.NearAt = s.T
		st.learn(p, out)
	case s.T.Sub(r.Start) > defrostMaxDuration:
		// Not a defrost: the unit moved to a new level (or failed). The
		// baseline starts again from here.
		if r.Recorded {
			r.Out = true
			st.episode(out, s.T)
		}
		*r = Rise{}
		st.Baseline, st.NearAt = v, s.T
	}
}

// follow moves the baseline toward v, by how long the value stood.
func (st *DefrostState) follow(v float64, t time.Time) {
	dt := t.Sub(st.NearAt)
	a := min(1, float64(dt)/float64(defrostTau))
	st.Baseline += (v - st.Baseline) * a
}

// within reports whether the active rise is still within the pattern's
// bounds at t.
func (st *DefrostState) within(t time.Time) bool {
	until, ok := st.Pattern.Allowance(st.Rise.Start, st.Rise.PeakC)
	return ok && !t.After(until)
}

// recognised reports whether the unit is in a recognised defrost.
func (st *DefrostState) recognised() bool {
	return st.Rise.Active && st.Rise.Recorded && !st.Rise.Out
}

func (st *DefrostState) episode(out *Output, ended time.Time) {
	r := &st.Rise
	d := map[string]any{"baseline_c": round2(st.Baseline), "rise_c": round2(r.Above)}
	if pt := st.Pattern; pt != nil {
		d["max_peak_c"] = round2(pt.MaxPeakC)
		d["max_minutes"] = minutes(pt.MaxDuration)
		d["period_minutes"] = minutes(pt.Period)
	}
	upsertEpisode(out, Episode{Kind: "defrost", Source: "detected", Started: r.Start, Ended: ended,
		PeakC: r.PeakC, WithinBounds: !r.Out, Details: d})
}

// upsertEpisode adds e to out, replacing an earlier version of it.
func upsertEpisode(out *Output, e Episode) {
	for i := range out.Episodes {
		if out.Episodes[i].Kind == e.Kind && out.Episodes[i].Started.Equal(e.Started) {
			out.Episodes[i] = e
			return
		}
	}
	out.Episodes = append(out.Episodes, e)
}
