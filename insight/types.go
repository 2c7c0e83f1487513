package insight

import (
	"time"

	"github.com/freshtrack/freshtrack/safety"
)

// Sample is a unit's temperature at one reading, as the detectors see it:
// the unit's value from its live probes (the warmest for a cold unit, the
// coldest for hot holding), or a probe's own reading for the per-probe
// checks (Sensor set).
type Sample struct {
	T      time.Time
	C      float64
	Sensor int64
}

// DoorState is what a contact sensor reported.
type DoorState struct {
	T      time.Time
	Open   bool
	Sensor int64
}

// Params are a unit's rules as the detectors need them; a nil pointer is a
// rule that is disabled or does not apply to the unit.
type Params struct {
	// UnitKind is the unit's kind (safety.UnitKinds).
	UnitKind string
	// Limits are the unit's temperature limits (safety.LimitsFor).
	Limits safety.Limits
	// Zone is the site's time zone: days for time out of temperature are
	// local days.
	Zone *time.Location

	Trend       *TrendParams
	Defrost     *DefrostParams
	Door        *DoorParams
	TimeOut     []TimeOutParams
	Cooling     *CoolingParams
	Implausible *ImplausibleParams
}

// TrendParams configure early warning (rule kind trend_warning).
type TrendParams struct {
	RuleID string
	// Lead: warn when the trend crosses the limit within it.
	Lead time.Duration
	// Sustain: how long the prediction must stay under Lead before the
	// warning is raised.
	Sustain time.Duration
}

// DefrostParams configure defrost recognition (rule kind defrost).
type DefrostParams struct {
	RuleID string
	// PeakMargin is how far above the learned peak a defrost may go, and
	// DurationMargin how much longer than the learned duration it may run.
	PeakMargin     float64
	DurationMargin time.Duration
}

// DoorParams configure door_open.
type DoorParams struct {
	RuleID string
	// After is how long a door may stay open before it alerts.
	After time.Duration
}

// TimeOutParams configure one time_out_of_temp rule.
type TimeOutParams struct {
	RuleID string
	// Limit is the time out of range per local day that alerts.
	Limit time.Duration
}

// CoolingParams configure cooling logs (rule kind cooling).
type CoolingParams struct {
	RuleID string
	// Warn: a stage projected to be missed alerts this long before its
	// deadline.
	Warn time.Duration
}

// ImplausibleParams configure sensor_implausible.
type ImplausibleParams struct {
	RuleID string
	// Stuck is how long one probe may repeat exactly one value.
	Stuck time.Duration
}

// Op is what a Signal does to its rule's alert.
type Op int

const (
	// Raise: the condition began (Started) and is confirmed (At).
	Raise Op = iota + 1
	// Clear: the condition ended at At; Reason says why.
	Clear
)

// Signal is a change in a food-safety rule's condition, for the alert of
// (unit, RuleID).
type Signal struct {
	Op     Op
	Kind   string
	RuleID string
	// Started is when the condition began; At when it was confirmed (Raise)
	// or ended (Clear).
	Started, At time.Time
	// Sensor is the probe concerned (0: the unit).
	Sensor int64
	// Value is the figure the alert is about (°C, minutes, ...; NaN: none).
	Value float64
	// Summary is one sentence for the person told; Details are shown on
	// the alert page.
	Summary string
	Details map[string]any
	// Reason says why a Clear happened (e.g. "the trend reversed").
	Reason string
}

// Episode is something recognised in a unit's data, recorded for the chart,
// the alert page and the HACCP report (unit_events): a defrost or a door
// opening. Recorded again with the same (Kind, Started) as it develops.
type Episode struct {
	Kind string // "defrost" or "door_open"
	// Source is "detected" (from the temperature) or "sensor" (a contact
	// sensor said so).
	Source  string
	Started time.Time
	// Ended is zero while it goes on.
	Ended time.Time
	PeakC float64
	// WithinBounds is false for a defrost that ran long or too hot.
	WithinBounds bool
	Details      map[string]any
}

// CoolingCycle is one cooling log as it develops (cooling_logs).
type CoolingCycle struct {
	// Source is "detected" or "manual" (started from the API).
	Source         string
	Started        time.Time
	StartC         float64
	Stage1Deadline time.Time
	Stage1At       time.Time // zero: not reached yet
	Stage2Deadline time.Time
	Stage2At       time.Time
	// Status is running, passed or failed; FailedStage 1 or 2 when failed.
	Status      string
	FailedStage int
	Ended       time.Time
	LastC       float64
}

// Output is what one run of a unit's detectors produced.
type Output struct {
	Signals  []Signal
	Episodes []Episode
	Cooling  []CoolingCycle
	// Defrost is the unit's learned defrost pattern after the run (nil:
	// none yet, or the defrost rule is off); PatternChanged when it was
	// learned or relearned in this run.
	Defrost        *safety.DefrostPattern
	PatternChanged bool
}
