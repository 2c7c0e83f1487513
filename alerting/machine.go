package alerting

import (
	"math"
	"time"

	"github.com/freshtrack/freshtrack/safety"
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
	// Fault marks a probe's error code: TempC is not a temperature.
	Fault bool
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
	// StandsUntil is how long the newest reading of the current phase
	// stands for (safety.Stand): a pending excursion is confirmed, and a
	// clearing one ends, on the passing of time only up to there, never by
	// extrapolating the last reading to the wall clock. Zero: unknown.
	StandsUntil time.Time

	// last and sensor are the newest value and its sensor in this
	// evaluation; touched marks a peak or value the alert row lacks.
	last    float64
	sensor  int64
	touched bool
	// mix is the unit's probes, for units with several sensors; faulted
	// is, for sensor_fault, whether each probe's newest record is a fault.
	mix     *safety.Mixer
	faulted map[int64]timedFault
}

// timedFault is whether a probe's record at t was a fault.
type timedFault struct {
	t     time.Time
	fault bool
}

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
	// Summary and Details describe a food-safety condition (Raise): the
	// sentence its notifications carry and what the alert page shows.
	Summary string
	Details map[string]any
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
	// maxGap bounds how long a reading stands for (safety.Stand).
	maxGap time.Duration
	// now is the evaluation's clock (zero in tests of the machine alone):
	// sensor_offline judges silence by it.
	now time.Time
	// ticking is set while tick runs.
	ticking bool
	// defrost is the unit's learned defrost pattern (nil: none): a temp_high
	// excursion that it recognises is confirmed only once it outlasts it.
	defrost *safety.DefrostPattern
}

// confirmDelay is how long the pending excursion must last before its
// alert opens: the rule's Confirm, longer for sensor_offline by the
// silence it tolerates, and for a temp_high excursion that is the unit's
// recognised defrost, until the defrost's allowance runs out (or at once
// when its peak goes past the pattern's bound).
func (m *machine) confirmDelay() time.Duration {
	r, st := m.rule, m.st
	need := r.Confirm
	switch r.Kind {
	case KindSensorOffline:
		need += r.silence()
	case KindTempHigh:
		if until, ok := m.defrost.Allowance(st.Since, st.Peak); ok {
			need = max(need, until.Sub(st.Since))
		}
	}
	return need
}

func (m *machine) reset() {
	st := m.st
	st.Phase, st.Since, st.Peak, st.Alert, st.StandsUntil = phaseOK, time.Time{}, math.NaN(), nil, time.Time{}
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
	v, sensor, until, ok := m.unitValue(s)
	if !ok {
		return nil // a gap: no live probe says anything
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
			st.Phase, st.Since, st.Peak, st.StandsUntil = phasePending, s.T, v, until
			return m.confirm(s.T)
		}
	case phasePending:
		if off {
			st.Peak, st.StandsUntil = r.worse(st.Peak, v), until
			return m.confirm(s.T)
		}
		// The excursion lasted until this reading, or until its last
		// offending reading stopped standing if that came first.
		end := s.T
		if !st.StandsUntil.IsZero() && st.StandsUntil.Before(end) {
			end = st.StandsUntil
		}
		if end.Sub(st.Since) < m.confirmDelay() {
			m.reset() // a door opening or a defrost: over before it counted
			return nil
		}
		if err := m.openAt(end); err != nil {
			return err
		}
		switch {
		case st.Phase != phaseAlerting:
			m.reset() // covered by a resolved alert; this reading ends it
		case r.clears(v):
			st.Phase, st.Since, st.StandsUntil = phaseClearing, s.T, until
			return m.finish(s.T)
		}
	case phaseAlerting:
		st.touched = true
		st.StandsUntil = until
		if off {
			st.Peak = r.worse(st.Peak, v)
		} else if r.clears(v) {
			st.Phase, st.Since = phaseClearing, s.T
			return m.finish(s.T)
		}
	case phaseClearing:
		st.StandsUntil = until
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

// unitValue is the unit's value at a reading (see safety.Mixer): the worst
// of its live probes, so a probe in range never masks another one out of
// range and a probe that stopped reporting, or reports an error code, counts
// for nothing. It also returns the probe it comes from and until when that
// probe's reading stands. ok is false in a gap (no live probe). For
// sensor_fault the value is 1 while any probe's newest record is a fault.
func (m *machine) unitValue(s sample) (v float64, sensor int64, until time.Time, ok bool) {
	r, st := m.rule, m.st
	if r.Kind == KindSensorFault {
		st.noteFault(s.Sensor, s.T, s.Fault)
		v, sensor = st.faultValue()
		return v, sensor, time.Time{}, true
	}
	m.observe(s)
	u := st.mix.At(s.T)
	if u.Live == 0 {
		return 0, 0, time.Time{}, false
	}
	v, sensor = u.MinC, u.MinSensor
	if r.Kind == KindTempHigh {
		v, sensor = u.MaxC, u.MaxSensor
	}
	p, _ := st.mix.Probe(sensor)
	return v, sensor, p.Until(m.maxGap), true
}

// observe feeds a probe's reading to the unit's mix.
func (m *machine) observe(s sample) {
	st := m.st
	if st.mix == nil {
		st.mix = safety.NewMixer(m.maxGap)
	}
	if s.Fault && isTemp(m.rule.Kind) {
		st.mix.Fault(s.Sensor, s.T)
		return
	}
	if v, ok := m.rule.value(s); ok {
		st.mix.Observe(s.Sensor, s.T, v)
	}
}

// markDead records probes that stopped reporting while another probe of the
// unit goes on (see txEnv.deadProbes): for sensor_fault they count as
// faulted from their last record until they report again.
func (m *machine) markDead(dead map[int64]time.Time) {
	for id, last := range dead {
		m.st.noteFault(id, last, true)
	}
}

// noteFault records whether a probe's record at t was a fault, unless the
// probe has a newer record already.
func (st *ruleState) noteFault(sensor int64, t time.Time, fault bool) {
	if st.faulted == nil {
		st.faulted = map[int64]timedFault{}
	}
	if prev, ok := st.faulted[sensor]; !ok || !t.Before(prev.t) {
		st.faulted[sensor] = timedFault{t, fault}
	}
}

// faultValue is sensor_fault's unit value: 1 while any probe's newest
// record is a fault (sensor: the lowest such probe), else 0.
func (st *ruleState) faultValue() (v float64, sensor int64) {
	for id, f := range st.faulted {
		if f.fault && (v == 0 || id < sensor) {
			v, sensor = 1, id
		}
	}
	return v, sensor
}

// faultTick applies what the clock and the unit's other probes tell a
// sensor_fault rule with no new reading: a probe marked dead opens it, and
// a fault that no probe has any more clears it.
func (m *machine) faultTick(now time.Time) error {
	r, st := m.rule, m.st
	v, sensor := st.faultValue()
	if v > 0 {
		st.sensor = sensor
	}
	switch {
	case v > 0 && st.Phase == phaseOK:
		st.Phase, st.Since, st.Peak = phasePending, now, v
		return m.confirm(now)
	case v > 0 && st.Phase == phasePending:
		return m.confirm(now)
	case v == 0 && st.Phase == phaseAlerting && r.clears(v):
		st.Phase, st.Since = phaseClearing, now
		return m.finish(now)
	case st.Phase == phaseClearing:
		return m.finish(now)
	}
	return nil
}

// prime tells the machine a sensor's reading before the readings it is about
// to evaluate (the unit's probes, read back from the database).
func (m *machine) prime(s sample) {
	if m.rule.Kind == KindSensorFault {
		m.st.noteFault(s.Sensor, s.T, s.Fault)
		return
	}
	m.observe(s)
}

// seen applies a reading to a sensor_offline rule: the unit is not silent.
func (m *machine) seen(t time.Time) error {
	st := m.st
	if !m.now.IsZero() && m.now.Sub(t) >= m.rule.silence() {
		// A reading that was already old when it arrived (a gateway's
		// backlog) does not end the silence: the unit is still offline
		// as far as anyone can tell now. Without this, every batch of an
		// old backlog cleared the alert and the clock opened it again.
		return nil
	}
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
	if r.Kind == KindSensorFault {
		return m.faultTick(now)
	}
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
	// The passing of time counts only as far as the newest reading stands:
	// silence is the offline rule's business, not evidence of an excursion.
	if st.StandsUntil.IsZero() {
		return nil
	}
	known := now
	if st.StandsUntil.Before(known) {
		known = st.StandsUntil
	}
	switch st.Phase {
	case phasePending:
		return m.confirm(known)
	case phaseClearing:
		return m.finish(known)
	}
	return nil
}

// confirm opens the alert once a pending excursion is old enough at t.
func (m *machine) confirm(t time.Time) error {
	st := m.st
	if st.Phase != phasePending || t.Sub(st.Since) < m.confirmDelay() {
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
