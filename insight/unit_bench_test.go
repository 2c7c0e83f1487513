package insight_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/insight"
	"github.com/freshtrack/freshtrack/insight/corpus"
)

// BenchmarkObserve is the detectors' cost per reading of a freezer (every
// detector on, defrost learned part way), a minute's Tick included: what
// the integration's job pays per unit and reading. state_bytes is the
// JSON state it persists at the end.
func BenchmarkObserve(b *testing.B) {
	traces := corpus.Generate(corpus.Options{Seed: 1, Units: 2, Weeks: 1})
	tr := &traces[1] // a freezer
	p := paramsOf(tr)
	b.ReportAllocs()
	var u *insight.Unit
	n := 0
	for b.Loop() {
		if n%len(tr.Readings) == 0 {
			u = insight.NewUnit()
		}
		r := tr.Readings[n%len(tr.Readings)]
		n++
		var out insight.Output
		u.ObserveProbe(p, insight.Sample{T: r.T, C: r.C, Sensor: r.Sensor}, &out)
		u.Observe(p, insight.Sample{T: r.T, C: r.C}, &out)
		u.Tick(p, r.T.Truncate(time.Minute).Add(time.Minute), &out)
	}
	st, _ := json.Marshal(u)
	b.ReportMetric(float64(len(st)), "state_bytes")
}

// BenchmarkStateRoundTrip is the JSON round-trip of a freezer's state
// after a week: what each run of the job adds to load and store it.
func BenchmarkStateRoundTrip(b *testing.B) {
	traces := corpus.Generate(corpus.Options{Seed: 1, Units: 2, Weeks: 1})
	tr := &traces[1]
	p := paramsOf(tr)
	u := insight.NewUnit()
	var idx [3]int
	feed(u, p, tr, tr.Start, tr.End, &idx)
	st, _ := json.Marshal(u)
	b.SetBytes(int64(len(st)))
	b.ReportAllocs()
	for b.Loop() {
		buf, err := json.Marshal(u)
		if err != nil {
			b.Fatal(err)
		}
		var v insight.Unit
		if err := json.Unmarshal(buf, &v); err != nil {
			b.Fatal(err)
		}
	}
}
