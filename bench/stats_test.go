package bench

import (
	"math"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	f := func(sorted []time.Duration, p float64, want time.Duration) {
		t.Helper()
		if got := Percentile(sorted, p); got != want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", sorted, p, got, want)
		}
	}
	f(nil, 50, 0)
	f(ms(7), 99, 7*time.Millisecond)
	f(ms(1, 2, 3, 4), 50, 2*time.Millisecond)
	f(ms(1, 2, 3, 4), 75, 3*time.Millisecond)
	f(ms(1, 2, 3, 4), 100, 4*time.Millisecond)
	f(ms(1, 2, 3, 4), 0, 1*time.Millisecond)
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	f(ms(hundred...), 99, 99*time.Millisecond)
	f(ms(hundred...), 95, 95*time.Millisecond)
	f(ms(hundred...), 50, 50*time.Millisecond)
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	lat := []time.Duration{5 * time.Millisecond, time.Millisecond, 3 * time.Millisecond, 1500 * time.Microsecond}
	got := Summarize(lat)
	want := Latency{P50: 1.5, P95: 5, P99: 5, Max: 5}
	if got != want {
		t.Fatalf("Summarize = %+v, want %+v", got, want)
	}
}

func TestMedianRatioMinMax(t *testing.T) {
	t.Parallel()
	if m := Median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("Median odd = %v", m)
	}
	if m := Median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("Median even = %v", m)
	}
	if !math.IsNaN(Median(nil)) {
		t.Error("Median(nil) is not NaN")
	}
	if r := Ratio(180_000, 200_000); r != 0.9 {
		t.Errorf("Ratio = %v", r)
	}
	if !math.IsNaN(Ratio(1, 0)) {
		t.Error("Ratio over a zero raw limit is not NaN")
	}
	if lo, hi := MinMax([]float64{3, 9, 1}); lo != 1 || hi != 9 {
		t.Errorf("MinMax = %v %v", lo, hi)
	}
}
