package safety

import (
	"math"
	"time"
)

// DefaultMaxGap is the longest a reading stands for when a caller sets no
// maximum gap: past it, a silent probe is a gap in the unit's data.
const DefaultMaxGap = 15 * time.Minute

// MinStand is the least a reading stands for when its interval is known: a
// retransmission or an alarm uplink seconds after the regular one must not
// make the probe look dead a few seconds later.
const MinStand = 2 * time.Minute

// Stand returns how long a reading stands for: twice its sensor's reporting
// interval (the time since that sensor's previous reading, so one lost uplink
// does not open a gap), at least MinStand and at most maxGap; maxGap when the
// interval is unknown (zero or negative).
func Stand(interval, maxGap time.Duration) time.Duration {
	if maxGap <= 0 {
		maxGap = DefaultMaxGap
	}
	if interval <= 0 {
		return maxGap
	}
	return min(max(2*interval, MinStand), maxGap)
}

// IsFaultCode reports whether a temperature is a probe's error code rather
// than a measurement: the 16-bit extremes that sensors such as the Dragino
// LHT65 send for a disconnected or failed probe (0x7FFF and 0x8000 scaled by
// 1, 10 or 100: 327.67, −327.68, 3276.7, −3276.8, 32767, −32768 °C).
func IsFaultCode(c float64) bool {
	if math.Abs(c) < 327 || math.IsNaN(c) {
		return false // every temperature a probe measures: the common case
	}
	for _, code := range [...]float64{327.67, -327.68, 3276.7, -3276.8, 32767, -32768} {
		if math.Abs(c-code) < 0.005 {
			return true
		}
	}
	return false
}

// Probe is what a Mixer knows of one probe: its newest reading and how long
// that reading stands for.
type Probe struct {
	// At is the newest reading's time; Prev the one before (zero: none).
	At, Prev time.Time
	// C is the newest temperature; Fault is set when the newest reading was
	// an error code, which makes the probe dead until it measures again.
	C     float64
	Fault bool
}

// Until is the end of the time the probe's newest reading stands for.
func (p Probe) Until(maxGap time.Duration) time.Time {
	var interval time.Duration
	if !p.Prev.IsZero() {
		interval = p.At.Sub(p.Prev)
	}
	return p.At.Add(Stand(interval, maxGap))
}

// Live reports whether the probe has a measurement that stands at t.
func (p Probe) Live(t time.Time, maxGap time.Duration) bool {
	return !p.Fault && !p.At.IsZero() && !t.Before(p.At) && t.Before(p.Until(maxGap))
}

// Unit is a unit's temperature at a moment, from its live probes.
type Unit struct {
	// Live is the number of probes whose reading stands at the moment; 0
	// is a gap (no data), which is neither in nor out of range.
	Live int
	// MaxC and MinC are the warmest and coldest live probes' values, and
	// MaxSensor and MinSensor those probes.
	MaxC, MinC           float64
	MaxSensor, MinSensor int64
	// Until is when the first of the live probes' readings stops standing:
	// the unit's value is known until then unless a probe reports again.
	Until time.Time
}

// In reports whether every live probe is within the limits (false in a gap).
func (u Unit) In(l Limits) bool { return u.Live > 0 && u.MinC >= l.Low.C && u.MaxC <= l.High.C }

// Out reports whether any live probe is outside the limits: conservative, a
// probe in range never masks another one out of range.
func (u Unit) Out(l Limits) bool { return u.Live > 0 && (u.MinC < l.Low.C || u.MaxC > l.High.C) }

// Mixer folds the readings of a unit's probes, applied in time order, into
// the unit's temperature over time. The zero value is not usable: use
// NewMixer.
type Mixer struct {
	// MaxGap bounds how long a reading stands for (see Stand).
	MaxGap time.Duration
	// probes in the order first seen: a unit has a handful, so a slice
	// beats a map, and each keeps when its newest reading stops standing
	// (for the MaxGap it was computed with).
	probes []mixProbe
}

type mixProbe struct {
	id    int64
	p     Probe
	until time.Time
	gap   time.Duration
}

// NewMixer returns a Mixer whose readings stand for at most maxGap
// (DefaultMaxGap when zero).
func NewMixer(maxGap time.Duration) *Mixer {
	if maxGap <= 0 {
		maxGap = DefaultMaxGap
	}
	return &Mixer{MaxGap: maxGap}
}

// Observe applies a probe's reading. A reading not newer than the probe's
// newest is ignored (readings are applied in time order; a duplicate changes
// nothing). A value that is not a measurement (NaN, or an error code that
// IsFaultCode recognises, such as one stored before error codes were kept
// apart from readings) is a Fault: it never counts as a temperature.
func (m *Mixer) Observe(sensor int64, at time.Time, c float64) {
	if math.IsNaN(c) || IsFaultCode(c) {
		m.apply(sensor, at, math.NaN(), true)
		return
	}
	m.apply(sensor, at, c, false)
}

// Fault applies a probe's error code: the probe is dead from at until it
// measures again.
func (m *Mixer) Fault(sensor int64, at time.Time) {
	m.apply(sensor, at, math.NaN(), true)
}

func (m *Mixer) find(sensor int64) *mixProbe {
	for i := range m.probes {
		if m.probes[i].id == sensor {
			return &m.probes[i]
		}
	}
	return nil
}

func (m *Mixer) apply(sensor int64, at time.Time, c float64, fault bool) {
	e := m.find(sensor)
	if e == nil {
		m.probes = append(m.probes, mixProbe{id: sensor})
		e = &m.probes[len(m.probes)-1]
	}
	p := &e.p
	if !p.At.IsZero() && !at.After(p.At) {
		return
	}
	p.Prev, p.At, p.C, p.Fault = p.At, at, c, fault
	e.until, e.gap = p.Until(m.MaxGap), m.MaxGap
}

// Probe returns what the Mixer knows of a probe.
func (m *Mixer) Probe(sensor int64) (Probe, bool) {
	e := m.find(sensor)
	if e == nil {
		return Probe{}, false
	}
	return e.p, true
}

// At returns the unit's temperature at t from the probes whose reading
// stands at t.
func (m *Mixer) At(t time.Time) Unit {
	u := Unit{MaxC: math.Inf(-1), MinC: math.Inf(1)}
	for i := range m.probes {
		e := &m.probes[i]
		p := &e.p
		if p.Fault || p.At.IsZero() || t.Before(p.At) {
			continue
		}
		if e.gap != m.MaxGap {
			e.until, e.gap = p.Until(m.MaxGap), m.MaxGap
		}
		if !t.Before(e.until) {
			continue
		}
		u.Live++
		if p.C > u.MaxC || p.C == u.MaxC && e.id < u.MaxSensor {
			u.MaxC, u.MaxSensor = p.C, e.id
		}
		if p.C < u.MinC || p.C == u.MinC && e.id < u.MinSensor {
			u.MinC, u.MinSensor = p.C, e.id
		}
		if u.Until.IsZero() || e.until.Before(u.Until) {
			u.Until = e.until
		}
	}
	if u.Live == 0 {
		u.MaxC, u.MinC = math.NaN(), math.NaN()
	}
	return u
}
