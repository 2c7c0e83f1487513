package bench

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the p-th percentile (0..100) of sorted durations by the
// nearest-rank method, or 0 for none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Latency summarises request latencies.
type Latency struct {
	P50 Millis `json:"p50_ms"`
	P95 Millis `json:"p95_ms"`
	P99 Millis `json:"p99_ms"`
	Max Millis `json:"max_ms"`
}

// Millis is a duration written as milliseconds in JSON.
type Millis float64

// Ms converts a duration.
func Ms(d time.Duration) Millis { return Millis(math.Round(float64(d)/1e3) / 1e3) }

// Summarize sorts lat in place and summarises it.
func Summarize(lat []time.Duration) Latency {
	slices.Sort(lat)
	return Latency{
		P50: Ms(Percentile(lat, 50)),
		P95: Ms(Percentile(lat, 95)),
		P99: Ms(Percentile(lat, 99)),
		Max: Ms(Percentile(lat, 100)),
	}
}

// Median returns the median of xs (the mean of the middle two for an even
// count), or NaN for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Ratio is ingest rows/s over the raw limit's rows/s, or NaN when the raw
// limit is 0.
func Ratio(ingest, rawLimit float64) float64 {
	if rawLimit <= 0 {
		return math.NaN()
	}
	return ingest / rawLimit
}

// MinMax returns the smallest and largest of xs.
func MinMax(xs []float64) (lo, hi float64) {
	if len(xs) == 0 {
		return math.NaN(), math.NaN()
	}
	return slices.Min(xs), slices.Max(xs)
}
