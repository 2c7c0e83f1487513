package compliance

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/safety"
)

// TestFoldFastPathIsExact folds random traces with add's fast path and
// without it (every reading through the mixer) and wants the same days,
// gaps, time out of range and excursions: one and two probes, reporting
// every 20 s to 20 min with jitter and silences, values in and out of
// range, error codes, NaN and a stored fault code, readings before the
// period and after the data's end.
func TestFoldFastPathIsExact(t *testing.T) {
	defer func() { foldFastPath = true }()
	day := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	lim := safety.Limits{Low: safety.Side{C: 0}, High: safety.Side{C: 5}}
	var fast int
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		gap := []time.Duration{0, 5 * time.Minute, 15 * time.Minute, 60 * time.Minute}[seed%4]
		if gap == 0 {
			gap = safety.DefaultMaxGap
		}
		bounds := []time.Time{day, day.Add(24 * time.Hour), day.Add(48 * time.Hour)}
		w := window{p0: bounds[0], p1: bounds[2], end: bounds[2].Add(-time.Duration(rng.IntN(600)) * time.Minute), bounds: bounds, gap: gap, loc: time.UTC}
		var ss []sample
		for sensor := int64(1); sensor <= 1+int64(seed%2); sensor++ {
			every := time.Duration(20+rng.IntN(1200)) * time.Second
			temp := 3.0
			for at := day.Add(-2 * gap); at.Before(w.p1.Add(gap)); {
				s := sample{t: micros(at), sensor: sensor}
				switch r := rng.Float64(); {
				case r < 0.01:
					s.fault, s.temp = true, math.NaN()
				case r < 0.012:
					s.temp = 327.67
				case r < 0.013:
					s.temp = math.NaN()
				default:
					temp += rng.NormFloat64() * 0.6
					temp = max(-3, min(9, temp))
					s.temp = math.Round(temp*100) / 100
				}
				ss = append(ss, s)
				step := every + time.Duration(rng.IntN(int(every/4)+1)) - every/8
				if rng.Float64() < 0.01 {
					step *= time.Duration(2 + rng.IntN(8)) // a silence
				}
				at = at.Add(step)
			}
		}
		slices.SortFunc(ss, func(a, b sample) int {
			if a.t != b.t {
				return cmpInt(a.t, b.t)
			}
			return cmpInt(a.sensor, b.sensor)
		})
		fold := func(fastPath bool) *unitFold {
			foldFastPath = fastPath
			f := newUnitFold(newFoldWindow(w), lim, gap, len(bounds)-1)
			for _, s := range ss {
				if fastPath && f.fastCase(s) {
					fast++
				}
				f.add(s)
			}
			f.finish()
			return f
		}
		slow, quick := fold(false), fold(true)
		for _, c := range []struct {
			name string
			a, b any
		}{{"days", slow.days, quick.days}, {"gaps", slow.gaps, quick.gaps}, {"outs", slow.outs, quick.outs}, {"runs", slow.runs, quick.runs}} {
			if !reflect.DeepEqual(c.a, c.b) {
				t.Fatalf("seed %d (gap %s, %d samples): %s differ\nslow %+v\nfast %+v", seed, gap, len(ss), c.name, c.a, c.b)
			}
		}
	}
	if fast == 0 {
		t.Fatal("no reading took the fast path")
	}
}
