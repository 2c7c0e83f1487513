package bench

import (
	"math"
	"testing"
)

func TestHistogramQuantiles(t *testing.T) {
	t.Parallel()
	before := metricHistogram([]byte(`freshtrack_live_fanout_seconds_bucket{vmrange="1.000e-01...1.136e-01"} 10
freshtrack_live_fanout_seconds_sum 1.05
freshtrack_live_fanout_seconds_count 10
`), "freshtrack_live_fanout_seconds")
	after := metricHistogram([]byte(`freshtrack_live_fanout_seconds_bucket{vmrange="1.000e-01...1.136e-01"} 60
freshtrack_live_fanout_seconds_bucket{vmrange="2.154e-01...2.448e-01"} 49
freshtrack_live_fanout_seconds_bucket{vmrange="1.000e+18...+Inf"} 1
freshtrack_live_fanout_seconds_sum 20
freshtrack_live_fanout_seconds_count 110
other_bucket{vmrange="1.000e-01...1.136e-01"} 7
`), "freshtrack_live_fanout_seconds")
	h := after.Sub(before)
	if h.Count() != 100 {
		t.Fatalf("count %v, want 100", h.Count())
	}
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	// 50 in the first bucket: the median is its upper bound.
	near("p50", h.Quantile(0.5), 0.1136)
	near("p25", h.Quantile(0.25), 0.1+0.0136/2)
	// 99 of 100 by the end of the second bucket.
	near("p99", h.Quantile(0.99), 0.2448)
	near("max", h.Quantile(1), 1e18)
	if !math.IsNaN(Histogram{}.Quantile(0.5)) {
		t.Error("an empty histogram has a quantile")
	}
}
