package bench_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/bench"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// TestLiveSmoke runs a tiny bench live (a baseline and 20 streams over a
// fleet of 300 in sites of 50) and checks the result holds together: the
// server counted every stream, the clients received reading events, the
// fan-out histogram and the ratio to the baseline were computed.
func TestLiveSmoke(t *testing.T) {
	t.Parallel()
	bin := freshtrackBinary(t)
	url, _ := pgtest.NewDBURL(t)
	res, err := bench.RunLive(context.Background(), bench.LiveOptions{
		DatabaseURL:  url,
		ServerBinary: bin,
		Streams:      []int{0, 20},
		Rate:         2000,
		Sensors:      300,
		UnitsPerSite: 50,
		Duration:     3 * time.Second,
		Batch:        100,
		Concurrency:  4,
		Viewers:      2,
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 2 {
		t.Fatalf("%d runs, want 2", len(res.Runs))
	}
	base, live := res.Runs[0], res.Runs[1]
	if base.Streams != 0 || base.StreamsOpen != 0 || base.Received.Events != 0 || base.IngestRatio != 1 {
		t.Fatalf("baseline run = %+v", base)
	}
	if live.Streams != 20 || live.StreamsOpen != 20 || live.Sites != 6 {
		t.Fatalf("streams: asked 20, server counted %d, over %d sites (want 6)", live.StreamsOpen, live.Sites)
	}
	for _, r := range res.Runs {
		if r.Ingest.Rows == 0 || r.Ingest.RowsPerSec <= 0 || r.ServerCPUPercent <= 0 || r.AvgRSS <= 0 || r.PeakRSS < r.AvgRSS || r.IdleRSS <= 0 {
			t.Fatalf("run with %d streams lacks measurements: %+v", r.Streams, r)
		}
	}
	// Each sensor reports every 150 ms here, so its unit's events coalesce to
	// about one a second: a stream of 50 units gets about 50 a second.
	if live.Received.Readings <= 0 || live.Received.Events < live.Received.Readings || live.Received.Bytes <= 0 {
		t.Fatalf("clients received %+v", live.Received)
	}
	if live.EventsSent < live.Received.Events || live.Dropped != 0 || live.Received.Ended != 0 {
		t.Fatalf("server sent %d events for %d received, dropped %d streams, %d ended", live.EventsSent, live.Received.Events, live.Dropped, live.Received.Ended)
	}
	// The server observes each write to a stream once (a write carries the
	// events of a publisher tick): at least one per stream, at most one per
	// event.
	if f := live.Fanout; f == nil || f.Count < live.StreamsOpen || f.Count > live.EventsSent || f.P50 <= 0 || f.P99 < f.P50 || f.Mean <= 0 {
		t.Fatalf("fan-out = %+v for %d reading events", live.Fanout, live.Received.Readings)
	}
	if live.AfterAnswer == nil || live.AfterAnswerSamples == 0 {
		t.Fatalf("no client-side latency: %+v", live)
	}
	if live.IngestRatio <= 0 {
		t.Fatalf("ingest ratio %v", live.IngestRatio)
	}
	// 20 streams are too few to be given per 1,000.
	if live.StreamsRSS <= 0 || live.RSSPer1k != 0 || live.CPUPer1k != 0 || live.IdleRSSPer1k != 0 {
		t.Fatalf("RSS with the streams open %v, per 1k streams %v, %v, %v", live.StreamsRSS, live.RSSPer1k, live.CPUPer1k, live.IdleRSSPer1k)
	}
}
