package corpus

import (
	"math/rand/v2"
	"time"

	"github.com/freshtrack/freshtrack/insight"
)

// Label kinds: what a person wants to know about.
const (
	// LabelExcursion: the food is, or is about to be, out of its safe
	// range for real (Cause says why).
	LabelExcursion = "excursion"
	// LabelDoorOpen: a door left open.
	LabelDoorOpen = "door_open"
	// LabelTimeOut: a day's short excursions add up past an hour.
	LabelTimeOut = "time_out_of_temp"
	// LabelCooling: a cooling cycle misses a stage.
	LabelCooling = "cooling"
	// LabelProbe: a probe's readings cannot be trusted.
	LabelProbe = "probe_fault"
	// LabelOffline: the unit's sensor went silent.
	LabelOffline = "offline"
)

// Causes of an excursion label.
const (
	CauseSlowFailure   = "slow_failure"
	CauseSuddenFailure = "sudden_failure"
	CauseDefrostFault  = "defrost_fault"
)

// Benign kinds: what happens on ordinary days and is no event.
const (
	BenignDefrost = "defrost"
	BenignDoor    = "door"
)

// Label is an event a person wants to be told of, told between From and
// To.
type Label struct {
	Kind  string
	Cause string
	// At is the moment the event became real (an excursion: the value
	// stays past the limit; a door: opened), within [From, To].
	From, At, To time.Time
}

// Benign is an ordinary event: alerting on it is a false alarm.
type Benign struct {
	Kind     string
	From, To time.Time
}

// Reading is one probe's reading.
type Reading struct {
	T      time.Time
	Sensor int64
	C      float64
}

// Trace is one unit's data and its labels.
type Trace struct {
	Name     string
	Scenario string
	UnitKind string
	SafeMinC float64
	SafeMaxC float64
	Zone     *time.Location
	// Start and End bound the trace; until WarmUp the detectors learn
	// from the unit's history and nothing is scored.
	Start, WarmUp, End time.Time
	Readings           []Reading
	Doors              []insight.DoorState
	// CoolingStarts are cooling cycles a person started from the app.
	CoolingStarts []time.Time
	Labels        []Label
	Benign        []Benign
}

// Options size a corpus.
type Options struct {
	// Seed makes the corpus; the same Options give the same corpus.
	Seed uint64
	// Units is how many traces (Defaults to 24), Weeks how long each is
	// (Defaults to 4).
	Units int
	Weeks int
	// Start is the first trace's start (Defaults to 2026-01-05 00:00 UTC).
	Start time.Time
}

// WarmUp is how much of each trace is history to learn from.
const WarmUp = 3 * 24 * time.Hour

// Scenarios are the kinds of trace, generated in this order round-robin.
var Scenarios = []string{
	"fridge", "freezer", "fridge_slow_failure", "freezer_defrost_fault", "fridge_door_sensor",
	"fridge_flapping", "freezer_slow_failure", "fridge_sudden_failure", "blast_chiller",
	"walk_in_probe_fault", "display_offline", "hot_holding_slow_failure",
}

// Generate returns the corpus of o.
func Generate(o Options) []Trace {
	if o.Units <= 0 {
		o.Units = 24
	}
	if o.Weeks <= 0 {
		o.Weeks = 4
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	}
	out := make([]Trace, 0, o.Units)
	for i := range o.Units {
		sc := Scenarios[i%len(Scenarios)]
		rng := rand.New(rand.NewPCG(o.Seed, uint64(i)))
		g := newGen(rng, sc, i, o.Start, time.Duration(o.Weeks)*7*24*time.Hour)
		out = append(out, g.build())
	}
	return out
}
