package corpus

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
	_ "time/tzdata" // the sites' zones, whatever the machine has

	"github.com/freshtrack/freshtrack/insight"
	"github.com/freshtrack/freshtrack/safety"
)

// gen builds one trace: a unit's air (or food) temperature as a set point,
// a compressor's (or heater's) cycle and additive events, sampled by one
// probe with noise.
type gen struct {
	rng      *rand.Rand
	tr       Trace
	interval time.Duration
	setC     float64
	// The cycle: amplitude, period, phase (fraction) and the share of the
	// period spent rising.
	cycA, cycRise float64
	// heats: the cycle is a heater's, a fast rise while it runs and a slow
	// fall while it is off.
	heats    bool
	cycP     time.Duration
	cycPhase float64
	noise    float64
	events   []event
	// replace, when set, gives the value outright (a food probe in a
	// batch); stuck windows hold one value; spikes are single readings;
	// gaps have none.
	replace func(t time.Time) (float64, bool)
	stuck   []window
	spikes  map[time.Time]float64
	gaps    []window
}

// event adds to the unit's temperature from Start for Span.
type event struct {
	start time.Time
	span  time.Duration
	f     func(dt time.Duration) float64
}

type window struct{ from, to time.Time }

var zones = []string{"Europe/London", "America/New_York", "Europe/Berlin", "UTC"}

func newGen(rng *rand.Rand, scenario string, i int, start time.Time, length time.Duration) *gen {
	zone, err := time.LoadLocation(zones[rng.IntN(len(zones))])
	if err != nil {
		zone = time.UTC
	}
	g := &gen{rng: rng, spikes: map[time.Time]float64{}}
	g.tr = Trace{Name: fmt.Sprintf("%02d-%s", i, scenario), Scenario: scenario, Zone: zone,
		Start: start, WarmUp: start.Add(WarmUp), End: start.Add(length)}
	g.interval = []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute}[rng.IntN(3)]
	g.noise = g.uniform(0.06, 0.14)
	return g
}

func (g *gen) uniform(a, b float64) float64 { return a + (b-a)*g.rng.Float64() }

func (g *gen) dur(a, b time.Duration) time.Duration {
	return a + time.Duration(g.rng.Int64N(int64(b-a)+1))
}

// kind sets the unit kind, its default safe range and its cycle.
func (g *gen) kind(k string) {
	g.tr.UnitKind = k
	r, _ := safety.DefaultSafeRange(k)
	g.tr.SafeMinC, g.tr.SafeMaxC = r.MinC, r.MaxC
	switch k {
	case "freezer":
		g.setC = g.uniform(-22.5, -21)
		g.cycA = g.uniform(0.6, 1.2)
	case "hot_holding":
		g.setC = g.uniform(64, 70)
		g.cycA = g.uniform(0.5, 1.0)
		g.heats = true
	default:
		g.setC = g.uniform(2.6, 3.4)
		g.cycA = g.uniform(0.5, 1.0)
	}
	g.cycP = g.dur(15*time.Minute, 40*time.Minute)
	if g.heats {
		g.cycP = g.dur(20*time.Minute, 40*time.Minute) // a cabinet's mass slows it
	}
	g.cycRise = g.uniform(0.6, 0.75)
	g.cycPhase = g.rng.Float64()
}

// cycle is the compressor's sawtooth at t: a slow rise while it is off, a
// fast fall while it runs; the period wanders a little over the day.
func (g *gen) cycle(t time.Time) float64 {
	h := t.Sub(g.tr.Start).Hours()
	x := h/g.cycP.Hours() + g.cycPhase + 0.3*math.Sin(2*math.Pi*h/24)
	x -= math.Floor(x)
	if g.heats {
		x = 1 - x
	}
	if x < g.cycRise {
		return g.cycA * (2*x/g.cycRise - 1)
	}
	return g.cycA * (1 - 2*(x-g.cycRise)/(1-g.cycRise))
}

// truth is the unit's temperature at t without sensor noise.
func (g *gen) truth(t time.Time) float64 {
	if g.replace != nil {
		if v, ok := g.replace(t); ok {
			return v
		}
	}
	v := g.setC + g.cycle(t)
	for _, e := range g.events {
		if dt := t.Sub(e.start); dt >= 0 && dt < e.span {
			v += e.f(dt)
		}
	}
	return v
}

func (g *gen) add(start time.Time, span time.Duration, f func(dt time.Duration) float64) {
	g.events = append(g.events, event{start, span, f})
}

// local returns the moment of day d (from the trace's start) at hh:mm
// local time.
func (g *gen) local(day int, minute int) time.Time {
	l := g.tr.Start.In(g.tr.Zone)
	d := time.Date(l.Year(), l.Month(), l.Day()+day, 0, 0, 0, 0, g.tr.Zone)
	return d.Add(time.Duration(minute) * time.Minute).UTC()
}

func (g *gen) days() int { return int(g.tr.End.Sub(g.tr.Start).Hours() / 24) }

// scored returns a random moment after the warm-up with room after it.
func (g *gen) scored(room time.Duration) time.Time {
	span := g.tr.End.Sub(g.tr.WarmUp) - room - 12*time.Hour
	return g.tr.WarmUp.Add(6*time.Hour + time.Duration(g.rng.Int64N(int64(span)))).Truncate(time.Minute)
}

func expRise(amp float64, tau time.Duration) func(time.Duration) float64 {
	return func(dt time.Duration) float64 { return amp * (1 - math.Exp(-float64(dt)/float64(tau))) }
}

// pulse rises to amp over ramp, holds, and falls back over ramp.
func pulse(amp float64, ramp, hold time.Duration) func(time.Duration) float64 {
	return func(dt time.Duration) float64 {
		switch {
		case dt < ramp:
			return amp * float64(dt) / float64(ramp)
		case dt < ramp+hold:
			return amp
		default:
			return amp * math.Max(0, 1-float64(dt-ramp-hold)/float64(ramp))
		}
	}
}

// opening is the air's response to a door open for d: toward amp with a
// time constant tau while open, decaying with decay after it closes.
func opening(amp float64, d, tau, decay time.Duration) (time.Duration, func(time.Duration) float64) {
	atClose := amp * (1 - math.Exp(-float64(d)/float64(tau)))
	return d + 6*decay, func(dt time.Duration) float64 {
		if dt < d {
			return amp * (1 - math.Exp(-float64(dt)/float64(tau)))
		}
		return atClose * math.Exp(-float64(dt-d)/float64(decay))
	}
}

// doors adds short door openings in opening hours, perDay of them (a
// range), sign −1 for hot holding; with sensor, the contact sensor reports
// them.
func (g *gen) doors(lo, hi int, amp float64, sensor bool) {
	for day := 0; day < g.days(); day++ {
		n := lo + g.rng.IntN(hi-lo+1)
		for range n {
			at := g.local(day, 7*60+g.rng.IntN(15*60))
			d := g.dur(20*time.Second, 4*time.Minute)
			if at.Before(g.tr.Start) || !at.Add(time.Hour).Before(g.tr.End) {
				continue
			}
			a := g.uniform(0.6, 1.4) * amp
			span, f := opening(a, d, 2*time.Minute, g.dur(3*time.Minute, 6*time.Minute))
			g.add(at, span, f)
			g.tr.Benign = append(g.tr.Benign, Benign{BenignDoor, at, at.Add(d + 20*time.Minute)})
			if sensor {
				g.door(at, d)
			}
		}
	}
}

func (g *gen) door(at time.Time, d time.Duration) {
	g.tr.Doors = append(g.tr.Doors, insight.DoorState{T: at, Open: true, Sensor: 2},
		insight.DoorState{T: at.Add(d), Open: false, Sensor: 2})
}

// defrosts adds a freezer's defrost cycle: every 6 or 8 hours from a
// random anchor (give or take 2 minutes), the heater warming the air to
// about a peak of −10 to −4 °C for 20 to 40 minutes. With fault, one defrost
// after the warm-up runs long (its termination stuck) or too hot (its
// thermostat failed): a real excursion.
func (g *gen) defrosts(fault bool) {
	period := []time.Duration{6 * time.Hour, 8 * time.Hour}[g.rng.IntN(2)]
	dur := g.dur(20*time.Minute, 40*time.Minute)
	peak := g.uniform(-10, -4)
	faultAt := time.Time{}
	if fault {
		faultAt = g.scored(6 * time.Hour)
	}
	faulted := false
	for at := g.tr.Start.Add(g.dur(0, period)); at.Before(g.tr.End); at = at.Add(period) {
		start := at.Add(g.dur(-2*time.Minute, 2*time.Minute))
		d := dur + g.dur(-3*time.Minute, 3*time.Minute)
		pk := peak + g.uniform(-1, 1)
		label := false
		if fault && !faulted && !start.Before(faultAt) {
			faulted, label = true, true
			if g.rng.IntN(2) == 0 {
				d = dur + g.dur(40*time.Minute, 70*time.Minute) // a stuck defrost termination
			} else {
				pk = peak + g.uniform(6, 9) // the thermostat failed
			}
		}
		excess := pk - g.setC
		g.add(start, d+30*time.Minute, func(dt time.Duration) float64 {
			x := float64(dt) / float64(d)
			switch {
			case x < 0.4:
				return excess * x / 0.4
			case x < 0.7:
				return excess
			default:
				// The compressor pulls the air back down over minutes.
				return excess * math.Exp(-(x-0.7)/0.15)
			}
		})
		if label {
			g.tr.Labels = append(g.tr.Labels, Label{Kind: LabelExcursion, Cause: CauseDefrostFault,
				From: start, At: start, To: start.Add(d + time.Hour)})
		} else {
			g.tr.Benign = append(g.tr.Benign, Benign{BenignDefrost, start, start.Add(d + 30*time.Minute)})
		}
	}
}

// slowFailure adds a compressor (heater) losing capacity: a drift of rate
// °C/h, worse for the unit, until it is repaired.
func (g *gen) slowFailure(rate float64) {
	t0 := g.scored(18 * time.Hour)
	limit, worse := g.tr.SafeMaxC, 1.0
	if g.tr.UnitKind == "hot_holding" {
		limit, worse = g.tr.SafeMinC, -1
	}
	// The whole cycle is past the limit once the drift covers the margin
	// from the cycle's best.
	margin := worse*(limit-g.setC) + g.cycA
	cross := t0.Add(time.Duration(margin / rate * float64(time.Hour)))
	repair := cross.Add(g.dur(time.Hour, 3*time.Hour))
	atRepair := worse * rate * repair.Sub(t0).Hours()
	g.add(t0, repair.Sub(t0)+4*time.Hour, func(dt time.Duration) float64 {
		if t := t0.Add(dt); t.Before(repair) {
			return worse * rate * dt.Hours()
		}
		return atRepair * math.Exp(-float64(t0.Add(dt).Sub(repair))/float64(30*time.Minute))
	})
	g.tr.Labels = append(g.tr.Labels, Label{Kind: LabelExcursion, Cause: CauseSlowFailure,
		From: t0, At: cross, To: repair.Add(time.Hour)})
}

// suddenFailure adds a compressor that stops: the air warms toward the
// kitchen's with a time constant until it is repaired.
func (g *gen) suddenFailure() {
	t0 := g.scored(8 * time.Hour)
	room := g.uniform(20, 26)
	tau := g.dur(time.Hour, 2*time.Hour)
	repair := t0.Add(g.dur(2*time.Hour, 4*time.Hour))
	rise := expRise(room-g.setC, tau)
	atRepair := rise(repair.Sub(t0))
	g.add(t0, repair.Sub(t0)+4*time.Hour, func(dt time.Duration) float64 {
		if dt < repair.Sub(t0) {
			return rise(dt)
		}
		return atRepair * math.Exp(-float64(dt-repair.Sub(t0))/float64(30*time.Minute))
	})
	cross := t0.Add(time.Duration(-math.Log(1-(g.tr.SafeMaxC+g.cycA-g.setC)/(room-g.setC)) * float64(tau)))
	g.tr.Labels = append(g.tr.Labels, Label{Kind: LabelExcursion, Cause: CauseSuddenFailure,
		From: t0, At: cross, To: repair.Add(time.Hour)})
}
