package insight

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// The trend is fitted to the envelope of the unit's value: per bucket, the
// warmest and the coldest value (for hot holding, the other way round). A
// compressor cycling ±1 °C every 20 minutes then has a flat envelope, where
// a fit to the raw values would see each cycle's rise as a trend. Both edges
// must rise: a unit losing its cooling warms through the whole cycle, where
// door openings lift only the peaks.
const (
	trendBucket = 10 * time.Minute
	// trendBuckets is the window: an hour. Longer, and the robust slope
	// takes too long to see a drift that began inside it.
	trendBuckets = 6
	// trendMinBuckets is how much of the window a slope needs (40 min).
	trendMinBuckets = 4
	// trendMinSlope is the least rise (°C/h) that counts as a trend: below
	// it, noise and sensor drift.
	trendMinSlope = 0.2
)

// TrendState is trend_warning's state.
type TrendState struct {
	// Buckets are the envelope's completed buckets, oldest first, and Cur
	// the one filling.
	Buckets []TrendBucket `json:"buckets,omitempty"`
	Cur     TrendBucket   `json:"cur"`
	// Since is when the prediction first came within Lead (zero: it is
	// not); Raised while the warning is raised, from RaisedSince.
	Since       time.Time `json:"since"`
	Raised      bool      `json:"raised,omitempty"`
	RaisedSince time.Time `json:"raised_since"`
	// OutSince is when the value went past the limit and stayed (zero: it
	// is within); Crossed is set once it stayed for a bucket, and the
	// warning stays down until the trend has reversed.
	OutSince time.Time `json:"out_since"`
	Crossed  bool      `json:"crossed,omitempty"`
}

// TrendBucket is one bucket of the envelope: Hi and Lo are its worst and
// best values (higher is worse: negated for hot holding), N how many
// readings it has.
type TrendBucket struct {
	Start time.Time `json:"start"`
	Hi    float64   `json:"hi"`
	Lo    float64   `json:"lo"`
	N     int       `json:"n"`
}

// trendFit is a fitted trend: slope in °C/h (higher is worse), the fitted
// level at At, and the predicted time to the limit (negative: none).
type trendFit struct {
	slope, level float64
	toLimit      time.Duration
}

func (st *TrendState) observe(p *Params, s Sample, defrosting bool, out *Output) {
	tp := p.Trend
	v := p.sign() * s.C
	start := s.T.Truncate(trendBucket)
	if st.Cur.N > 0 && start.After(st.Cur.Start) {
		st.Buckets = append(st.Buckets, st.Cur)
		st.Cur = TrendBucket{}
		// Buckets older than the window, or left behind by a gap, go.
		cut := start.Add(-trendBuckets * trendBucket)
		i := 0
		for i < len(st.Buckets) && st.Buckets[i].Start.Before(cut) {
			i++
		}
		st.Buckets = slices.Delete(st.Buckets, 0, i)
		st.evaluate(p, start, defrosting, out)
	}
	if st.Cur.N == 0 {
		st.Cur = TrendBucket{Start: start, Hi: v, Lo: v}
	}
	st.Cur.Hi, st.Cur.Lo = max(st.Cur.Hi, v), min(st.Cur.Lo, v)
	st.Cur.N++

	// A cycle's peak past the limit is what the warning is about; the
	// value staying past it is the temperature alert's business.
	if v <= p.sign()*p.limit() {
		st.OutSince = time.Time{}
		return
	}
	if st.OutSince.IsZero() {
		st.OutSince = s.T
	}
	if s.T.Sub(st.OutSince) >= trendBucket {
		st.Crossed = true
		st.Since = time.Time{}
		if st.Raised {
			st.Raised = false
			clear(out, kindTrend, tp.RuleID, st.RaisedSince, s.T, 0, "the limit was crossed: the temperature alert takes over")
		}
	}
}

// evaluate judges the trend when a bucket completes, at now.
func (st *TrendState) evaluate(p *Params, now time.Time, defrosting bool, out *Output) {
	tp := p.Trend
	fit, ok := st.fit(p, now)
	rising := ok && fit.slope >= trendMinSlope && fit.toLimit >= 0
	within := rising && fit.toLimit <= tp.Lead
	if !rising || fit.toLimit > 2*tp.Lead {
		st.Crossed = false
		st.Since = time.Time{}
		if st.Raised {
			st.Raised = false
			clear(out, kindTrend, tp.RuleID, st.RaisedSince, now, 0, "the trend reversed")
		}
		return
	}
	if !within || defrosting || st.Crossed {
		// Between Lead and twice Lead a raised warning stays up; one not
		// raised yet starts over.
		if !st.Raised {
			st.Since = time.Time{}
		}
		return
	}
	if st.Since.IsZero() {
		st.Since = now
	}
	if st.Raised || now.Sub(st.Since) < tp.Sustain {
		return
	}
	st.Raised, st.RaisedSince = true, st.Since
	at := now.Add(fit.toLimit)
	level := p.sign() * fit.level
	raise(out, kindTrend, tp.RuleID, st.Since, now, 0, level,
		fmt.Sprintf("Temperature trending %s at %.1f °C/h: it will pass %s around %s unless something changes.",
			map[bool]string{true: "down", false: "up"}[p.hot()], fit.slope, degrees(p.limit()), clock(p, at)),
		map[string]any{
			"slope_c_per_h":     round2(p.sign() * fit.slope),
			"level_c":           round2(level),
			"limit_c":           p.limit(),
			"predicted_cross":   at,
			"minutes_to_limit":  minutes(fit.toLimit),
			"window_minutes":    minutes(time.Duration(len(st.Buckets)) * trendBucket),
			"lead_minutes":      minutes(tp.Lead),
			"sustained_minutes": minutes(now.Sub(st.Since)),
		})
}

// fit is the Theil–Sen estimate over the completed buckets: the median of
// the pairwise slopes, robust to a door opening or a defrost's spike in
// the window, of each edge of the envelope; the slope is the lesser, and the
// level the troughs' at now from the median intercept: once the troughs are
// past the limit, the whole cycle is, and the temperature alert's confirm
// delay runs. A level past the limit is a crossing now.
func (st *TrendState) fit(p *Params, now time.Time) (trendFit, bool) {
	b := st.Buckets
	if len(b) < trendMinBuckets {
		return trendFit{}, false
	}
	x := func(i int) float64 { return b[i].Start.Add(trendBucket/2).Sub(now).Hours() }
	theilSen := func(y func(i int) float64) (slope, level float64) {
		slopes := make([]float64, 0, len(b)*(len(b)-1)/2)
		for i := range b {
			for j := i + 1; j < len(b); j++ {
				slopes = append(slopes, (y(j)-y(i))/(x(j)-x(i)))
			}
		}
		slope = median(slopes)
		icpt := make([]float64, len(b))
		for i := range b {
			icpt[i] = y(i) - slope*x(i)
		}
		return slope, median(icpt)
	}
	hi, _ := theilSen(func(i int) float64 { return b[i].Hi })
	lo, level := theilSen(func(i int) float64 { return b[i].Lo })
	f := trendFit{slope: min(hi, lo), level: level, toLimit: -1}
	if limit := p.sign() * p.limit(); f.slope > 0 {
		f.toLimit = max(0, time.Duration((limit-level)/f.slope*float64(time.Hour)))
	}
	return f, true
}

// median sorts xs and returns its median.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
