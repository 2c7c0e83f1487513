package bench

import (
	"bytes"
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
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + client.Addr + "/metrics")
	if err := client.DoTimeout(req, resp, 5*time.Second); err != nil || resp.StatusCode() != 200 {
		return nil, false
	}
	out := make(map[string]float64, len(names))
	for _, line := range bytes.Split(resp.Body(), []byte("\n")) {
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
	return out, true
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
