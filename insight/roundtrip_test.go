package insight_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/insight"
	"github.com/freshtrack/freshtrack/insight/corpus"
	"github.com/freshtrack/freshtrack/safety"
)

// feed runs a trace's minutes [from, to) through u as the integration does:
// each minute, the readings, door states and cooling starts up to then,
// then a Tick.
func feed(u *insight.Unit, p *insight.Params, tr *corpus.Trace, from, to time.Time, idx *[3]int) []insight.Output {
	var outs []insight.Output
	for now := from; now.Before(to); now = now.Add(time.Minute) {
		var out insight.Output
		for ; idx[0] < len(tr.Readings) && !tr.Readings[idx[0]].T.After(now); idx[0]++ {
			r := tr.Readings[idx[0]]
			for ; idx[1] < len(tr.Doors) && tr.Doors[idx[1]].T.Before(r.T); idx[1]++ {
				u.ObserveDoor(p, tr.Doors[idx[1]], &out)
			}
			for ; idx[2] < len(tr.CoolingStarts) && tr.CoolingStarts[idx[2]].Before(r.T); idx[2]++ {
				u.StartCooling(p, tr.CoolingStarts[idx[2]], &out)
			}
			u.ObserveProbe(p, insight.Sample{T: r.T, C: r.C, Sensor: r.Sensor}, &out)
			u.Observe(p, insight.Sample{T: r.T, C: r.C}, &out)
		}
		u.Tick(p, now, &out)
		outs = append(outs, out)
	}
	return outs
}

// TestStateRoundTrips runs traces of every scenario in one go, and split at
// random minutes with the state through JSON between the parts: the
// Outputs must be identical.
func TestStateRoundTrips(t *testing.T) {
	t.Parallel()
	traces := corpus.Generate(corpus.Options{Seed: 11, Units: len(corpus.Scenarios), Weeks: 1})
	for i := range traces {
		tr := &traces[i]
		t.Run(tr.Name, func(t *testing.T) {
			t.Parallel()
			p := paramsOf(tr)
			start := tr.Start
			var idx [3]int
			whole := feed(insight.NewUnit(), p, tr, start, tr.End, &idx)

			rng := rand.New(rand.NewPCG(uint64(i), 7))
			var parts []insight.Output
			idx = [3]int{}
			u := insight.NewUnit()
			for from := start; from.Before(tr.End); {
				to := from.Add(time.Duration(1+rng.IntN(600)) * time.Minute)
				if to.After(tr.End) {
					to = tr.End
				}
				parts = append(parts, feed(u, p, tr, from, to, &idx)...)
				b, err := json.Marshal(u)
				if err != nil {
					t.Fatal(err)
				}
				u = new(insight.Unit)
				if err := json.Unmarshal(b, u); err != nil {
					t.Fatal(err)
				}
				from = to
			}
			if len(parts) != len(whole) {
				t.Fatalf("%d outputs split, %d whole", len(parts), len(whole))
			}
			var n int
			for m := range whole {
				// fmt prints NaN (a Clear's Value) equal to itself and maps
				// in key order.
				a, b := show(whole[m]), show(parts[m])
				if a != b {
					t.Fatalf("minute %d differs:\nwhole %s\nsplit %s", m, a, b)
				}
				n += len(whole[m].Signals) + len(whole[m].Episodes) + len(whole[m].Cooling)
			}
			if n == 0 && tr.Scenario != "display_offline" {
				t.Fatalf("the trace produced nothing to compare")
			}
		})
	}
}

func paramsOf(tr *corpus.Trace) *insight.Params {
	all := alerting.DefaultRules()
	for i := range all {
		all[i].ID = fmt.Sprintf("r%03d", i)
	}
	eff := alerting.Effective(all, alerting.UnitScope{ID: "u", Kind: tr.UnitKind, SafeMinC: tr.SafeMinC, SafeMaxC: tr.SafeMaxC})
	return insight.ParamsFor(tr.UnitKind, safety.UnitLimits(tr.SafeMinC, tr.SafeMaxC, nil), tr.Zone, eff)
}

// show prints an Output with its pattern's value, not its address.
func show(o insight.Output) string {
	var pt safety.DefrostPattern
	if o.Defrost != nil {
		pt = *o.Defrost
	}
	o.Defrost = nil
	return fmt.Sprintf("%+v %+v", o, pt)
}
