package insight

import (
	"fmt"
	"math"
	"time"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/safety"
)

// Unit is one unit's detector state. Every field is exported so that the
// state persists as JSON between runs; callers treat it as opaque.
type Unit struct {
	// Last is the newest unit value observed (zero: none), LastC its value
	// and Interval the time since the one before (0: unknown).
	Last     time.Time     `json:"last"`
	LastC    float64       `json:"last_c"`
	Interval time.Duration `json:"interval"`

	Trend       TrendState       `json:"trend"`
	Defrost     DefrostState     `json:"defrost"`
	Door        DoorDetector     `json:"door"`
	Day         DayState         `json:"day"`
	Cooling     CoolingState     `json:"cooling"`
	Implausible ImplausibleState `json:"implausible"`
}

// NewUnit returns the state of a unit nothing was observed of yet.
func NewUnit() *Unit { return &Unit{} }

// hot reports whether the unit keeps food hot: its limit is the low side
// and its envelope the minima.
func (p *Params) hot() bool { return p.UnitKind == "hot_holding" }

// sign turns a temperature into "higher is worse" for the unit.
func (p *Params) sign() float64 {
	if p.hot() {
		return -1
	}
	return 1
}

// limit is the side of the unit's limits that its failures cross.
func (p *Params) limit() float64 {
	if p.hot() {
		return p.Limits.Low.C
	}
	return p.Limits.High.C
}

func (p *Params) zone() *time.Location {
	if p.Zone == nil {
		return time.UTC
	}
	return p.Zone
}

// Observe feeds the unit's value (the warmest live probe for a cold unit,
// the coldest for hot holding), in time order; samples not after the last
// one seen are ignored, and so are values that are not temperatures.
func (u *Unit) Observe(p *Params, s Sample, out *Output) {
	s.T = s.T.UTC()
	if !u.Last.IsZero() && !s.T.After(u.Last) || math.IsNaN(s.C) || math.IsInf(s.C, 0) || safety.IsFaultCode(s.C) {
		return
	}
	// Time passes up to the reading first: the day's total and a door's
	// delay are settled by the reading before it.
	u.advance(p, s.T, out)
	first := u.Last.IsZero()
	prevT, prevC := u.Last, u.LastC
	if !first {
		u.Interval = s.T.Sub(prevT)
	}
	u.Last, u.LastC = s.T, s.C

	if p.Defrost != nil {
		u.Defrost.observe(p, s, out)
	}
	if p.Door != nil && !u.Door.HasSensor {
		u.Door.observeTemp(p, s, u.inDefrost(p), out)
	}
	if p.Trend != nil {
		u.Trend.observe(p, s, u.inDefrost(p), u.Door.active(), out)
	}
	if len(p.TimeOut) > 0 {
		u.Day.observe(p, s, u.Interval, u.inDefrost(p), u.Defrost.Rise.Active, out)
	}
	if p.Cooling != nil && !first {
		u.Cooling.observe(p, prevT, prevC, s, out)
	}
	if p.Door != nil {
		u.Door.check(p, s.T, out)
	}
	if p.Defrost != nil {
		out.Defrost = u.Defrost.Pattern
	}
}

// ObserveProbe feeds one probe's own reading (for the per-probe checks:
// stuck values, impossible jumps).
func (u *Unit) ObserveProbe(p *Params, s Sample, out *Output) {
	if p.Implausible == nil {
		return
	}
	s.T = s.T.UTC()
	if math.IsNaN(s.C) || math.IsInf(s.C, 0) || safety.IsFaultCode(s.C) {
		return // an error code is sensor_fault's business
	}
	u.Implausible.observe(p, s, out)
}

// ObserveDoor feeds what a contact sensor reported.
func (u *Unit) ObserveDoor(p *Params, d DoorState, out *Output) {
	if p.Door == nil {
		return
	}
	d.T = d.T.UTC()
	u.Door.observeSensor(p, d, out)
	u.Door.check(p, d.T, out)
}

// StartCooling starts a cooling cycle a person started from the app or the
// API at `at`, from the unit's current value. A cycle already running
// keeps running: a unit cools one batch at a time.
func (u *Unit) StartCooling(p *Params, at time.Time, out *Output) {
	if p.Cooling == nil || u.Last.IsZero() {
		return
	}
	u.Cooling.start(p, "manual", at.UTC(), u.LastC, out)
}

// Tick applies the passing of time up to now: a door open too long,
// cooling deadlines, the end of a local day.
func (u *Unit) Tick(p *Params, now time.Time, out *Output) {
	u.advance(p, now.UTC(), out)
	if p.Defrost != nil {
		out.Defrost = u.Defrost.Pattern
	}
}

func (u *Unit) advance(p *Params, now time.Time, out *Output) {
	if len(p.TimeOut) > 0 {
		u.Day.advance(p, now, out)
	}
	if p.Door != nil {
		u.Door.check(p, now, out)
	}
	if p.Cooling != nil {
		u.Cooling.tick(p, now, out)
	}
	if p.Implausible != nil {
		u.Implausible.tick(p, now, out)
	}
}

// Busy reports whether the passing of time alone (Tick, with no reading)
// can change what the detectors say: a raised condition that a day's end
// or an hour's quiet clears, an open door, a running cooling cycle, a
// reading out of range whose time still counts. A unit that is not busy
// needs a Tick only when it has new data.
func (u *Unit) Busy() bool {
	d := &u.Day
	for _, door := range u.Door.Doors {
		if door.Open {
			return true
		}
	}
	running := u.Cooling.Cycle != nil && u.Cooling.Cycle.Status == "running"
	accruing := d.Out && d.HeldFrom.Before(d.HeldUntil)
	return u.Trend.Raised || u.Door.Raised || len(d.Raised) > 0 || accruing || running || u.Implausible.Raised
}

// inDefrost reports whether the unit is in a recognised defrost now: a
// rise that started on the learned schedule and is within its bounds.
func (u *Unit) inDefrost(p *Params) bool {
	return p.Defrost != nil && u.Defrost.recognised()
}

// raise appends a Raise signal.
func raise(out *Output, kind, ruleID string, started, at time.Time, sensor int64, value float64, summary string, details map[string]any) {
	out.Signals = append(out.Signals, Signal{Op: Raise, Kind: kind, RuleID: ruleID, Started: started, At: at,
		Sensor: sensor, Value: value, Summary: summary, Details: details})
}

// clear appends a Clear signal.
func clear(out *Output, kind, ruleID string, started, at time.Time, sensor int64, reason string) {
	out.Signals = append(out.Signals, Signal{Op: Clear, Kind: kind, RuleID: ruleID, Started: started, At: at,
		Sensor: sensor, Value: math.NaN(), Reason: reason})
}

// clock formats a moment for a person at the site.
func clock(p *Params, t time.Time) string { return t.In(p.zone()).Format("15:04") }

func degrees(c float64) string { return fmt.Sprintf("%.1f °C", c) }

func minutes(d time.Duration) float64 { return math.Round(d.Minutes()*10) / 10 }

// Kinds of the signals, as alerting names them.
const (
	kindTrend       = alerting.KindTrendWarning
	kindDoor        = alerting.KindDoorOpen
	kindTimeOut     = alerting.KindTimeOutOfTemp
	kindCooling     = alerting.KindCooling
	kindImplausible = alerting.KindSensorImplausible
)
