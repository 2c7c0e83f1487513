package alerting

import (
	"math"
	"time"
)

// phase is alert_state.state.
type phase string

const (
	phaseOK       phase = "ok"
	phasePending  phase = "pending"
	phaseAlerting phase = "alerting"
	phaseClearing phase = "clearing"
)

// sample is one reading of a unit, as the rules see it.
type sample struct {
	T      time.Time
	Sensor int64
	TempC  float64
	// Battery is NaN when the reading had none.
	Battery float64
}

// alertRef is the alert an excursion is attached to.
type alertRef struct {
	ID string
	// Resolved is set when the alert is resolved; ResolvedAt is then the
	// end of the period it covers (when a person resolved it, or when the
	// condition cleared for an auto-resolved one).
	Resolved   bool
	ResolvedAt time.Time
	// Covers marks an alert found by a replay: it stays attached to the
	// readings before ResolvedAt. Without it (the live path) a resolution
	// applies to the next evaluation whatever its readings' times, so a
	// sensor whose clock runs behind cannot keep a resolved alert attached.
	Covers bool
}

// ruleState is one alert_state row while it is evaluated.
type ruleState struct {
	Phase phase
	// Since is when the current phase began; for pending, the excursion's
	// first offending reading (for sensor_offline, the last reading).
	Since time.Time
	// EvaluatedTo is the newest reading time evaluated (zero: none).
	EvaluatedTo time.Time
	// Peak is the excursion's worst value, NaN outside an excursion.
	Peak float64
	// Alert is set while alerting or clearing.
	Alert *alertRef

	// last and sensor are the newest value and its sensor in this
	// evaluation; touched marks a peak or value the alert row lacks.
	last    float64
	sensor  int64
	touched bool
	// recent is each sensor's newest value, for units with several sensors.
	recent map[int64]timedValue
}

// timedValue is one sensor's value at a time.
type timedValue struct {
	t time.Time
	v float64
}

// staleSensor is how long a sensor's last value keeps counting for its unit
// while other sensors of the unit report.
const staleSensor = 30 * time.Minute

func newState() *ruleState { return &ruleState{Phase: phaseOK, Peak: math.NaN(), last: math.NaN()} }

// excursion is what an alert opens with.
type excursion struct {
	// Started is the excursion's first offending reading (sensor_offline:
	// the last reading before the silence).
	Started time.Time
	// At is when the condition was confirmed: a reading's time, or the
	// sweep's clock.
	At time.Time
	// Peak and Value are NaN for sensor_offline.
	Peak, Value float64
	// Sensor is the sensor of the newest offending reading; 0 for none.
	Sensor int64
}

// effects carries out what the machine decides: the database side of the
// evaluator, or a recorder in tests.
type effects interface {
	// open opens an alert for x (or attaches x to an existing alert that
	// covers it) and returns it.
	open(r *Rule, x excursion) (*alertRef, error)
	// autoResolve resolves a, whose condition cleared at clearedAt.
	autoResolve(r *Rule, a *alertRef, clearedAt time.Time) error
}

// machine runs one rule's state machine:
//
//	ok ──offending──▶ pending ──held ≥ Confirm──▶ alerting ──clears──▶ clearing ──clear held ≥ Confirm──▶ ok
//	                    │ not offending               ▲                   │ not clear
//	                    ▼                             └───────────────────┘
//	                    ok
//
// Readings are applied in time order. Between readings the last reading's
// condition is taken to hold (sample and hold): an excursion lasts from its
// first offending reading to the first reading that is not offending, or to
// now. So a pending excursion opens its alert when a reading, or the sweep's
// clock, finds it Confirm old, whichever comes first, and the outcome does
// not depend on when the sweep happens to run.
type machine struct {
	rule *Rule
	st   *ruleState
	fx   effects
	// ticking is set while tick runs.
	ticking bool
}

func (m *machine) reset() {
	st := m.st
	st.Phase, st.Since, st.Peak, st.Alert = phaseOK, time.Time{}, math.NaN(), nil
}

// reconcile ends the excursion when a person resolved its alert: the
// state returns to ok, and the next offending reading starts a new
// excursion, which opens a new alert once it lasted the confirm delay. (An
// alert found by a replay stays attached to the readings before its end.)
func (m *machine) reconcile(t time.Time) {
	st := m.st
	if st.Phase != phaseAlerting && st.Phase != phaseClearing {
		st.Alert = nil
		return
	}
	a := st.Alert
	if a != nil && (!a.Resolved || a.Covers && t.Before(a.ResolvedAt)) {
		return
	}
	m.reset()
}

// sample applies one reading.
func (m *machine) sample(s sample) error {
	r, st := m.rule, m.st
	if s.T.After(st.EvaluatedTo) {
		st.EvaluatedTo = s.T
	}
	if r.Kind == KindSensorOffline {
		return m.seen(s.T)
	}
	v, sensor, ok := m.unitValue(s)
	if !ok {
		return nil
	}
	m.reconcile(s.T)
	off := r.offending(v)
	st.last = v
	if off {
		st.sensor = sensor
	}
	switch st.Phase {
	case phaseOK:
		if off {
			st.Phase, st.Since, st.Peak = phasePending, s.T, v
			return m.confirm(s.T)
		}
	case phasePending:
		if off {
			st.Peak = r.worse(st.Peak, v)
			return m.confirm(s.T)
		}
		if s.T.Sub(st.Since) < r.Confirm {
			m.reset() // a door opening: over before it counted
			return nil
		}
		// The excursion lasted until this reading: long enough.
		if err := m.openAt(s.T); err != nil {
			return err
		}
		switch {
		case st.Phase != phaseAlerting:
			m.reset() // covered by a resolved alert; this reading ends it
		case r.clears(v):
			st.Phase, st.Since = phaseClearing, s.T
			return m.finish(s.T)
		}
	case phaseAlerting:
		st.touched = true
		if off {
			st.Peak = r.worse(st.Peak, v)
		} else if r.clears(v) {
			st.Phase, st.Since = phaseClearing, s.T
			return m.finish(s.T)
		}
	case phaseClearing:
		if r.clears(v) {
			return m.finish(s.T)
		}
		// Back within the hysteresis band or beyond: the excursion goes on.
		st.Phase, st.Since = phaseAlerting, s.T
		if off {
			st.Peak = r.worse(st.Peak, v)
		}
		st.touched = true
	}
	return nil
}

// unitValue is the unit's value at a reading: the worst of the newest
// values of its sensors that reported within staleSensor, so a probe in
// range never masks another one out of range. A unit with one sensor just
// has that sensor's value.
func (m *machine) unitValue(s sample) (float64, int64, bool) {
	r, st := m.rule, m.st
	v, ok := r.value(s)
	if !ok {
		return 0, 0, false
	}
	if st.recent == nil {
		st.recent = map[int64]timedValue{}
	}
	if prev, ok := st.recent[s.Sensor]; !ok || !s.T.Before(prev.t) {
		st.recent[s.Sensor] = timedValue{s.T, v}
	}
	worst, sensor := v, s.Sensor
	for id, tv := range st.recent {
		if id == s.Sensor || tv.t.After(s.T) || s.T.Sub(tv.t) > staleSensor {
			continue
		}
		if w := r.worse(worst, tv.v); w != worst {
			worst, sensor = w, id
		}
	}
	return worst, sensor, true
}

// prime tells the machine a sensor's value before the readings it is about
// to evaluate (the unit's other sensors, read back from the database).
func (m *machine) prime(s sample) {
	if v, ok := m.rule.value(s); ok {
		if m.st.recent == nil {
			m.st.recent = map[int64]timedValue{}
		}
		if prev, ok := m.st.recent[s.Sensor]; !ok || s.T.After(prev.t) {
			m.st.recent[s.Sensor] = timedValue{s.T, v}
		}
	}
}

// seen applies a reading to a sensor_offline rule: the unit is not silent.
func (m *machine) seen(t time.Time) error {
	st := m.st
	m.reconcile(t)
	switch st.Phase {
	case phasePending:
		m.reset()
	case phaseAlerting:
		st.Phase, st.Since = phaseClearing, t
		return m.finish(t)
	case phaseClearing:
		return m.finish(t)
	}
	return nil
}

// tick applies the passing of time up to now, with no new reading. For
// sensor_offline, lastSeen is the newest reading of the unit known from
// elsewhere (zero if none) and active tells whether the unit has a sensor
// at all; a unit without sensors is never offline.
func (m *machine) tick(now, lastSeen time.Time, active bool) error {
	r, st := m.rule, m.st
	m.ticking = true
	defer func() { m.ticking = false }()
	m.reconcile(now)
	if r.Kind == KindSensorOffline {
		last := st.EvaluatedTo
		if lastSeen.After(last) {
			last = lastSeen
		}
		silent := active && !last.IsZero() && now.Sub(last) >= r.silence()
		switch st.Phase {
		case phaseOK:
			if silent {
				st.Phase, st.Since, st.Peak = phasePending, last, math.NaN()
				return m.confirm(now)
			}
		case phasePending:
			if !silent {
				m.reset()
				return nil
			}
			return m.confirm(now)
		case phaseClearing:
			return m.finish(now)
		}
		return nil
	}
	switch st.Phase {
	case phasePending:
		return m.confirm(now)
	case phaseClearing:
		return m.finish(now)
	}
	return nil
}

// confirm opens the alert once a pending excursion is old enough at t.
func (m *machine) confirm(t time.Time) error {
	st, r := m.st, m.rule
	need := r.Confirm
	if r.Kind == KindSensorOffline {
		need += r.silence()
	}
	if st.Phase != phasePending || t.Sub(st.Since) < need {
		return nil
	}
	return m.openAt(t)
}

// openAt opens (or attaches to) the alert of the pending excursion.
func (m *machine) openAt(t time.Time) error {
	st := m.st
	x := excursion{Started: st.Since, At: t, Peak: st.Peak, Value: st.last, Sensor: st.sensor}
	if m.rule.Kind == KindSensorOffline {
		x.Peak, x.Value, x.Sensor = math.NaN(), math.NaN(), 0
	}
	a, err := m.fx.open(m.rule, x)
	if err != nil {
		return err
	}
	if a.Resolved && (!a.Covers || !t.Before(a.ResolvedAt)) {
		// Covered by an alert that was resolved before this moment (a
		// replay found it): that resolution ended the excursion. An
		// offending reading now starts a new one; the clock alone does not.
		if m.ticking {
			m.reset()
		} else {
			st.Since, st.Peak = t, st.last
		}
		return nil
	}
	st.Phase, st.Since, st.Alert = phaseAlerting, t, a
	return nil
}

// finish ends a clearing excursion once the clear condition held for the
// clear delay (the rule's Confirm) at t, auto-resolving its alert if the rule
// says so.
func (m *machine) finish(t time.Time) error {
	st := m.st
	if st.Phase != phaseClearing || t.Sub(st.Since) < m.rule.Confirm {
		return nil
	}
	a := st.Alert
	m.reset()
	if a != nil && !a.Resolved && m.rule.AutoResolve {
		return m.fx.autoResolve(m.rule, a, t)
	}
	return nil
}
