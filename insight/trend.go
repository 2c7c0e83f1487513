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
// a fit to the raw values would see each cycle's rise as a trend. The
// prediction is for the cycle's peaks: a sawtooth spends most of its cycle
// near them, so the temperature alert's confirm delay starts to run soon
// after they pass the limit.
const (
	trendBucket = 10 * time.Minute
	// trendBuckets is the window: 100 minutes. Longer, and the robust slope
	// takes too long to see a drift that began inside it.
	trendBuckets = 10
	// trendSpan is the buckets in one envelope window: 50 minutes, longer
	// than a compressor's cycle (10 to 40 minutes), or a window without a
	// trough would pass for a rise.
	trendSpan = 5
	// trendRanges is how many windows' ranges the cycle's usual range is
	// the median of: four hours.
	trendRanges = 24
	// trendMinBuckets is how much of the window a slope needs (90 min:
	// five envelope windows).
	trendMinBuckets = 9
	// trendMinSlope is the least rise (°C/h) that counts as a trend: below
	// it, noise and sensor drift.
	trendMinSlope = 0.4
	// trendDoorHold is how long after a door opening the air it let in
	// still lifts the trend.
	trendDoorHold = 20 * time.Minute
	// trendConfirm is the temperature alerts' default confirm delay: a
	// value past the limit for that long has opened one.
	trendConfirm = 15 * time.Minute
)

// TrendState is trend_warning's state.
type TrendState struct {
	// Buckets are the envelope's completed buckets, oldest first, and Cur
	// the one filling.
	Buckets []TrendBucket `json:"buckets,omitempty"`
	Cur     TrendBucket   `json:"cur"`
	// Ranges are the recent windows' ranges (peak to trough), oldest first.
	Ranges []float64 `json:"ranges,omitempty"`
	// Since is when the prediction first came within Lead (zero: it is
	// not); Raised while the warning is raised, from RaisedSince.
	Since       time.Time `json:"since"`
	Raised      bool      `json:"raised,omitempty"`
	RaisedSince time.Time `json:"raised_since"`
	// OutSince is when the value went past the limit and stayed (zero: it
	// is within); Crossed is set once it stayed for a bucket, and the
	// warning stays down until the trend has reversed.
	OutSince time.Time `json:"out_since"`
	// HoldUntil holds the warning off after a recognised defrost or a
	// door opening.
	HoldUntil time.Time `json:"hold_until"`
	Crossed   bool      `json:"crossed,omitempty"`
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

// observe applies a reading. A recognised defrost (defrosting) or a door
// opening (door: one open, or the temperature's signature of one) holds
// the warning off: the defrost until it has left the window, the door
// until the air it let in is gone.
func (st *TrendState) observe(p *Params, s Sample, defrosting, door bool, out *Output) {
	if defrosting {
		st.HoldUntil = s.T.Add(trendBuckets * trendBucket)
	}
	if door && st.HoldUntil.Before(s.T.Add(trendDoorHold)) {
		st.HoldUntil = s.T.Add(trendDoorHold)
	}
	quiet := s.T.Before(st.HoldUntil)
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
		st.evaluate(p, start, quiet, out)
	}
	if st.Cur.N == 0 {
		st.Cur = TrendBucket{Start: start, Hi: v, Lo: v}
	}
	st.Cur.Hi, st.Cur.Lo = max(st.Cur.Hi, v), min(st.Cur.Lo, v)
	st.Cur.N++

	// Peaks past the limit are what the warning is about; the value
	// staying past it for the temperature alert's confirm delay is the
	// temperature alert's business.
	if v <= p.sign()*p.limit() {
		st.OutSince = time.Time{}
		return
	}
	if st.OutSince.IsZero() {
		st.OutSince = s.T
	}
	if s.T.Sub(st.OutSince) >= trendConfirm {
		st.cross(p, s.T, out)
	}
}

// cross ends the warning: the unit is past its limit.
func (st *TrendState) cross(p *Params, at time.Time, out *Output) {
	st.Crossed = true
	st.Since = time.Time{}
	if st.Raised {
		st.Raised = false
		clear(out, kindTrend, p.Trend.RuleID, st.RaisedSince, at, 0, "the limit was crossed: the temperature alert takes over")
	}
}

// evaluate judges the trend when a bucket completes, at now.
func (st *TrendState) evaluate(p *Params, now time.Time, quiet bool, out *Output) {
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
	if !within || quiet || st.Crossed {
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

// fit is the Theil–Sen estimate (the median of the pairwise slopes, robust
// to the odd spike) of the cycle's troughs, and the peaks' level at now:
// the troughs' plus the cycle's usual range. Troughs and ranges come from
// windows of trendSpan buckets, long enough to hold a whole compressor
// cycle, stamped at their middle. A door opening lifts a window's peak,
// never its trough, so the slope and the level do not see it; the range is
// the lower quartile over the last hours (busy hours' doors lift many
// windows), each window's peak its second-highest bucket's. A window's trough under a drift is its
// start's, which the level corrects for. A level past the limit is a
// crossing now.
func (st *TrendState) fit(p *Params, now time.Time) (trendFit, bool) {
	b := st.Buckets
	if len(b) < trendMinBuckets {
		return trendFit{}, false
	}
	n := len(b) - trendSpan + 1
	xs, los := make([]float64, n), make([]float64, n)
	var rng float64
	his := make([]float64, trendSpan)
	for j := range n {
		lo := b[j].Lo
		for i, k := range b[j : j+trendSpan] {
			his[i], lo = k.Hi, min(lo, k.Lo)
		}
		// The window's peak is its second-highest bucket's: a door
		// opening lifts one bucket, a cycle's peaks are in most.
		slices.Sort(his)
		hi := his[trendSpan-2]
		mid := b[j].Start.Add(time.Duration(trendSpan) * trendBucket / 2)
		xs[j], los[j], rng = mid.Sub(now).Hours(), lo, hi-lo
	}
	// The newest window's range joins the history once per bucket.
	st.Ranges = append(st.Ranges, round2(rng))
	if len(st.Ranges) > trendRanges {
		st.Ranges = st.Ranges[len(st.Ranges)-trendRanges:]
	}
	slopes := make([]float64, 0, n*(n-1)/2)
	for i := range n {
		for j := i + 1; j < n; j++ {
			slopes = append(slopes, (los[j]-los[i])/(xs[j]-xs[i]))
		}
	}
	slope := median(slopes)
	icpt := make([]float64, n)
	for i := range n {
		icpt[i] = los[i] - slope*xs[i]
	}
	span := (time.Duration(trendSpan) * trendBucket).Hours()
	trough := median(icpt) + max(0, slope)*span/2
	f := trendFit{slope: slope, level: trough + quartile(st.Ranges), toLimit: -1}
	if limit := p.sign() * p.limit(); f.slope > 0 {
		f.toLimit = max(0, time.Duration((limit-f.level)/f.slope*float64(time.Hour)))
	}
	return f, true
}

// quartile returns the lower quartile of xs, which it leaves alone.
func quartile(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[(len(s)-1)/4]
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
