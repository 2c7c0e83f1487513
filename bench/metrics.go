package bench

import (
	"bytes"
	"cmp"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// Alerting is what the server's evaluator did during an ingest run, from
// the difference of its /metrics counters.
type Alerting struct {
	// Rows is the readings the evaluator received (freshtrack_alerting_rows_total).
	Rows int `json:"rows"`
	// TooOld is those it skipped as older than MaxLateness.
	TooOld int `json:"too_old"`
	// Batches is its evaluations (merged committed flushes).
	Batches int `json:"batches"`
	// LockedUnits is the units that needed the locked path (an excursion,
	// a transition, a new unit) rather than the one-statement settle.
	LockedUnits int `json:"locked_units"`
	// Seconds is the time spent evaluating (sum of
	// freshtrack_alerting_evaluate_seconds).
	Seconds float64 `json:"evaluate_seconds"`
	// LagSeconds is how long after the run's last answer the evaluator had
	// received every stored reading.
	LagSeconds float64 `json:"lag_seconds"`
	// Dropped is committed flushes the evaluator's subscription missed
	// (it fell behind); the sweep evaluates those from the database.
	Dropped int `json:"dropped_flushes,omitempty"`
}

var alertingMetrics = []string{
	"freshtrack_alerting_rows_total",
	"freshtrack_alerting_rows_too_old_total",
	"freshtrack_alerting_batches_total",
	"freshtrack_alerting_locked_units_total",
	"freshtrack_alerting_evaluate_seconds_sum",
	"freshtrack_ingest_subscriber_dropped_total",
}

// scrapeMetrics reads the unlabelled samples named in names from the
// server's /metrics; ok is false when the server does not answer it.
func scrapeMetrics(client *fasthttp.HostClient, names []string) (map[string]float64, bool) {
	body, ok := fetchMetrics(client)
	if !ok {
		return nil, false
	}
	return metricValues(body, names), true
}

// fetchMetrics returns the text of the server's /metrics.
func fetchMetrics(client *fasthttp.HostClient) ([]byte, bool) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(baseURL(client) + "/metrics")
	if err := client.DoTimeout(req, resp, 5*time.Second); err != nil || resp.StatusCode() != 200 {
		return nil, false
	}
	return bytes.Clone(resp.Body()), true
}

// metricValues picks the unlabelled samples named in names out of a
// /metrics text.
func metricValues(body []byte, names []string) map[string]float64 {
	out := make(map[string]float64, len(names))
	for _, line := range bytes.Split(body, []byte("\n")) {
		name, value, ok := bytes.Cut(line, []byte(" "))
		if !ok {
			continue
		}
		for _, n := range names {
			if string(name) == n {
				if v, err := strconv.ParseFloat(string(value), 64); err == nil {
					out[n] = v
				}
			}
		}
	}
	return out
}

// Histogram is a VictoriaMetrics histogram as /metrics shows it: the count
// of observations in each vmrange bucket ("1.000e-03...1.136e-03"; the
// buckets are not cumulative), keyed by the bucket's bounds.
type Histogram map[[2]float64]float64

// metricHistogram reads the buckets of the unlabelled histogram name out of
// a /metrics text.
func metricHistogram(body []byte, name string) Histogram {
	h := Histogram{}
	prefix := []byte(name + `_bucket{vmrange="`)
	for _, line := range bytes.Split(body, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		rng, count, ok := bytes.Cut(rest, []byte(`"} `))
		lo, hi, ok2 := bytes.Cut(rng, []byte("..."))
		if !ok || !ok2 {
			continue
		}
		l, err1 := strconv.ParseFloat(string(lo), 64)
		u, err2 := strconv.ParseFloat(string(hi), 64) // "+Inf" parses too
		n, err3 := strconv.ParseFloat(string(count), 64)
		if err1 == nil && err2 == nil && err3 == nil {
			h[[2]float64{l, u}] += n
		}
	}
	return h
}

// Sub returns the observations h has beyond earlier, a scrape of the same
// histogram before.
func (h Histogram) Sub(earlier Histogram) Histogram {
	out := Histogram{}
	for b, n := range h {
		if d := n - earlier[b]; d > 0 {
			out[b] = d
		}
	}
	return out
}

// Count is the number of observations.
func (h Histogram) Count() float64 {
	total := 0.0
	for _, n := range h {
		total += n
	}
	return total
}

// Quantile estimates the q-th quantile (0..1) by linear interpolation within
// the bucket it falls in (the lower bound for the open +Inf bucket), or NaN
// for an empty histogram.
func (h Histogram) Quantile(q float64) float64 {
	total := h.Count()
	if total == 0 {
		return math.NaN()
	}
	bounds := make([][2]float64, 0, len(h))
	for b := range h {
		bounds = append(bounds, b)
	}
	slices.SortFunc(bounds, func(a, b [2]float64) int { return cmp.Compare(a[0], b[0]) })
	rank := q * total
	seen := 0.0
	for _, b := range bounds {
		n := h[b]
		if seen+n >= rank {
			if math.IsInf(b[1], 1) {
				return b[0]
			}
			return b[0] + (b[1]-b[0])*(rank-seen)/n
		}
		seen += n
	}
	return bounds[len(bounds)-1][0]
}

// alertingSince waits (up to timeout) until the evaluator has received the
// stored readings of a run that ended at end, then returns what it did
// since the scrape before; nil when the server has no metrics to read.
func alertingSince(client *fasthttp.HostClient, before map[string]float64, stored int, end time.Time, timeout time.Duration) *Alerting {
	if before == nil {
		return nil
	}
	deadline := end.Add(timeout)
	var now map[string]float64
	for {
		var ok bool
		if now, ok = scrapeMetrics(client, alertingMetrics); !ok {
			return nil
		}
		got := int(now["freshtrack_alerting_rows_total"] - before["freshtrack_alerting_rows_total"])
		dropped := now["freshtrack_ingest_subscriber_dropped_total"] > before["freshtrack_ingest_subscriber_dropped_total"]
		if got >= stored || dropped || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	d := func(n string) float64 { return now[n] - before[n] }
	return &Alerting{
		Rows:        int(d("freshtrack_alerting_rows_total")),
		TooOld:      int(d("freshtrack_alerting_rows_too_old_total")),
		Batches:     int(d("freshtrack_alerting_batches_total")),
		LockedUnits: int(d("freshtrack_alerting_locked_units_total")),
		Seconds:     round2(d("freshtrack_alerting_evaluate_seconds_sum")),
		LagSeconds:  round2(time.Since(end).Seconds()),
		Dropped:     int(d("freshtrack_ingest_subscriber_dropped_total")),
	}
}
