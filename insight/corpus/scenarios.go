package corpus

import (
	"math"
	"time"
)

// build generates the trace of g's scenario.
func (g *gen) build() Trace {
	switch g.tr.Scenario {
	case "fridge":
		g.kind("fridge")
		g.doors(4, 12, 2.5, false)
	case "freezer":
		g.kind("freezer")
		g.defrosts(false)
		g.doors(2, 6, 4, false)
	case "fridge_slow_failure":
		g.kind("fridge")
		g.doors(4, 12, 2.5, false)
		g.slowFailure(g.uniform(0.5, 2))
	case "freezer_defrost_fault":
		g.kind("freezer")
		g.defrosts(true)
		g.doors(2, 6, 4, false)
	case "fridge_door_sensor":
		g.kind("fridge")
		g.doors(4, 12, 2.5, true)
		g.doorsLeftOpen(2)
	case "fridge_flapping":
		g.kind("fridge")
		g.doors(4, 12, 2.5, false)
		g.flapping()
	case "freezer_slow_failure":
		g.kind("freezer")
		g.defrosts(false)
		g.doors(2, 6, 4, false)
		g.slowFailure(g.uniform(0.5, 2))
	case "fridge_sudden_failure":
		g.kind("fridge")
		g.doors(4, 12, 2.5, false)
		g.suddenFailure()
	case "blast_chiller":
		g.kind("blast_chiller")
		g.interval = []time.Duration{time.Minute, 2 * time.Minute}[g.rng.IntN(2)]
		g.batches()
	case "walk_in_probe_fault":
		g.kind("walk_in")
		g.doors(6, 16, 2, false)
		g.probeFaults()
	case "display_offline":
		g.kind("display")
		g.doors(4, 12, 2, false)
		g.offline(2)
	case "hot_holding_slow_failure":
		g.kind("hot_holding")
		g.doors(4, 10, -3, false)
		g.slowFailure(g.uniform(3, 8))
	}
	g.sample()
	return g.tr
}

// doorsLeftOpen adds doors left open for 20 to 40 minutes: the air warms
// toward the kitchen's until the door closes.
func (g *gen) doorsLeftOpen(n int) {
	for range n {
		at := g.scored(4 * time.Hour)
		d := g.dur(20*time.Minute, 40*time.Minute)
		span, f := opening(g.uniform(6, 10), d, 12*time.Minute, 8*time.Minute)
		g.add(at, span, f)
		g.door(at, d)
		g.tr.Labels = append(g.tr.Labels, Label{Kind: LabelDoorOpen, From: at, At: at, To: at.Add(d + 30*time.Minute)})
	}
}

// flapping adds bad days to a fridge whose thermostat sits near its
// limit: many short excursions, each over before the confirm delay, that
// add up to more than an hour. A day is labelled when its excursions
// (noise aside) did.
func (g *gen) flapping() {
	for day := 3; day < g.days(); day++ {
		if g.rng.IntN(7) >= 3 {
			continue
		}
		n := 9 + g.rng.IntN(6)
		var first time.Time
		for k := range n {
			at := g.local(day, 6*60+k*(17*60/n)+g.rng.IntN(40))
			if first.IsZero() {
				first = at
			}
			amp := g.tr.SafeMaxC - g.setC + g.cycA + g.uniform(0.4, 1.2)
			g.add(at, 20*time.Minute, pulse(amp, 2*time.Minute, g.dur(3*time.Minute, 8*time.Minute)))
		}
		if first.Before(g.tr.WarmUp) {
			continue
		}
		end := g.local(day+1, 0)
		var out time.Duration
		for t := g.local(day, 0); t.Before(end); t = t.Add(time.Minute) {
			if g.truth(t) > g.tr.SafeMaxC {
				out += time.Minute
			}
		}
		if out >= time.Hour {
			g.tr.Labels = append(g.tr.Labels, Label{Kind: LabelTimeOut, From: first, At: first, To: end.Add(time.Hour)})
		}
	}
}

// batches adds a blast chiller's daily batch: cooked food, its probe
// pushed in at loading, cooled toward the chiller's air (Newton's law).
// Most pass; some cool too slowly from the start (an overloaded chiller:
// stage 1 missed) and some stall once cool (a failing chiller: stage 2
// missed). Half are started from the app at loading; the rest are detected.
func (g *gen) batches() {
	g.setC = g.uniform(1, 3) // the probe in the chiller's air between batches
	g.cycA = 0.3
	type batch struct {
		load, unload time.Time
		hot, tau     float64
		stall        bool
	}
	var bs []batch
	for day := 1; day < g.days()-1; day++ {
		load := g.local(day, 11*60+g.rng.IntN(4*60))
		b := batch{load: load, unload: load.Add(7 * time.Hour), hot: g.uniform(70, 85)}
		outcome := g.rng.IntN(10)
		if load.Before(g.tr.WarmUp) {
			outcome = 0
		}
		switch {
		case outcome < 6:
			b.tau = g.uniform(1.0, 1.8)
		case outcome < 8:
			b.tau = g.uniform(3.3, 4.5)
		default:
			b.tau, b.stall = g.uniform(1.0, 1.5), true
		}
		manual := g.rng.IntN(2) == 0
		if manual {
			g.tr.CoolingStarts = append(g.tr.CoolingStarts, load.Add(3*time.Minute))
		}
		bs = append(bs, b)
		if outcome >= 6 {
			// Cycles start at loading (manual) or when the food falls
			// through 57 °C (detected): the deadline missed is that of
			// the cycle as it started.
			start := load
			if !manual {
				start = load.Add(time.Duration(math.Log((b.hot+15)/72) * b.tau * float64(time.Hour)))
			}
			deadline := start.Add(2 * time.Hour)
			if b.stall {
				deadline = start.Add(6 * time.Hour)
			}
			g.tr.Labels = append(g.tr.Labels, Label{Kind: LabelCooling, From: start, At: deadline, To: deadline.Add(time.Hour)})
		}
	}
	const air = -15.0
	g.replace = func(t time.Time) (float64, bool) {
		for _, b := range bs {
			if t.Before(b.load) || !t.Before(b.unload) {
				continue
			}
			h := t.Sub(b.load).Hours()
			v := air + (b.hot-air)*math.Exp(-h/b.tau)
			if b.stall && v < 18 {
				// The chiller fails once the food is at 18 °C: it warms
				// toward 7 °C air instead.
				hs := b.tau * math.Log((b.hot-air)/(18-air))
				v = 7 + (18-7)*math.Exp(-(h-hs)/1.0)
			}
			return v + 0.3*g.cycle(t), true
		}
		return 0, false
	}
}

// probeFaults adds a probe stuck on one value for 8 to 12 hours and an
// electrical glitch: one reading far off.
func (g *gen) probeFaults() {
	at := g.scored(14 * time.Hour)
	d := g.dur(8*time.Hour, 12*time.Hour)
	g.stuck = append(g.stuck, window{at, at.Add(d)})
	g.tr.Labels = append(g.tr.Labels, Label{Kind: LabelProbe, From: at, At: at.Add(6 * time.Hour), To: at.Add(d + time.Hour)})
	for {
		j := g.scored(2 * time.Hour).Truncate(g.interval)
		if j.Before(at.Add(-2*time.Hour)) || j.After(at.Add(d+2*time.Hour)) {
			g.spikes[j] = []float64{45.6, -39.2, 85}[g.rng.IntN(3)]
			g.tr.Labels = append(g.tr.Labels, Label{Kind: LabelProbe, From: j, At: j, To: j.Add(time.Hour)})
			break
		}
	}
}

// offline adds n silences of 1 to 4 hours (a flat battery, a lost
// gateway).
func (g *gen) offline(n int) {
	for range n {
		at := g.scored(6 * time.Hour)
		d := g.dur(time.Hour, 4*time.Hour)
		g.gaps = append(g.gaps, window{at, at.Add(d)})
		g.tr.Labels = append(g.tr.Labels, Label{Kind: LabelOffline, From: at, At: at.Add(30 * time.Minute), To: at.Add(d + 30*time.Minute)})
	}
}

// sample reads the unit through its probe: every interval with a few
// seconds of jitter, noise, and the probe's resolution of 0.01 °C.
func (g *gen) sample() {
	var stuckC float64
	inStuck := false
	for t := g.tr.Start; t.Before(g.tr.End); t = t.Add(g.interval) {
		at := t.Add(time.Duration(g.rng.IntN(7)) * time.Second)
		gap := false
		for _, w := range g.gaps {
			gap = gap || !at.Before(w.from) && at.Before(w.to)
		}
		if gap {
			continue
		}
		v := g.truth(at) + g.noise*g.rng.NormFloat64()
		stuck := false
		for _, w := range g.stuck {
			stuck = stuck || !at.Before(w.from) && at.Before(w.to)
		}
		switch {
		case stuck && inStuck:
			v = stuckC
		case stuck:
			inStuck, stuckC = true, math.Round(v*100)/100
			v = stuckC
		default:
			inStuck = false
		}
		if s, ok := g.spikes[t]; ok {
			v = s
		}
		g.tr.Readings = append(g.tr.Readings, Reading{T: at, Sensor: 1, C: math.Round(v*100) / 100})
	}
}
