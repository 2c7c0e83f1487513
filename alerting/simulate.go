package alerting

import (
	"math"
	"slices"
	"time"

	"github.com/freshtrack/freshtrack/safety"
)

// Simulation runs the evaluator's own state machines over a recorded trace,
// in memory, with the clock advancing as the sweep's would. It is how
// `freshtrack eval alerts` measures the threshold rules against a labelled
// corpus: the same machine that alerts in production, without a database.

// SimSample is one reading of a simulated unit.
type SimSample struct {
	T      time.Time
	Sensor int64
	TempC  float64
	// Battery is NaN when absent.
	Battery float64
	// Fault marks a probe's error code.
	Fault bool
}

// SimOptions tune a simulation.
type SimOptions struct {
	// Tick is the sweep's interval: how often the clock confirms and
	// clears excursions between readings (0: 30 s).
	Tick time.Duration
	// End is when the simulation stops (zero: the last sample).
	End time.Time
	// MaxGap bounds how long a reading stands for (0: safety.DefaultMaxGap).
	MaxGap time.Duration
	// Defrost returns the unit's learned defrost pattern at a moment (nil:
	// none), so that a pattern learned part way through a trace applies
	// from then on.
	Defrost func(t time.Time) *safety.DefrostPattern
}

// SimAlert is an alert a simulation opened.
type SimAlert struct {
	RuleID, Kind, Severity string
	// Started is the excursion's start, Opened when the alert opened.
	Started, Opened time.Time
	// Resolved is when it was resolved: automatically, or by a person the
	// moment the unit was back in range (zero: still open at the end).
	Resolved time.Time
	// Peak is the worst value (NaN for sensor_offline).
	Peak float64
}

// simEffects records what the machines decide.
type simEffects struct {
	now    *time.Time
	alerts []*SimAlert
	refs   map[*alertRef]*SimAlert
	open   map[string]*alertRef // by rule id
}

func (fx *simEffects) openAlert(r *Rule, x excursion) *alertRef {
	if a := fx.open[r.ID]; a != nil && !a.Resolved {
		sa := fx.refs[a]
		if x.Started.Before(sa.Started) {
			sa.Started = x.Started
		}
		if !math.IsNaN(x.Peak) {
			sa.Peak = r.worse(sa.Peak, x.Peak)
		}
		return a
	}
	a := &alertRef{}
	sa := &SimAlert{RuleID: r.ID, Kind: r.Kind, Severity: r.Severity, Started: x.Started, Opened: *fx.now, Peak: x.Peak}
	fx.alerts = append(fx.alerts, sa)
	fx.refs[a] = sa
	fx.open[r.ID] = a
	return a
}

type simMachineFx struct{ *simEffects }

func (fx simMachineFx) open(r *Rule, x excursion) (*alertRef, error) { return fx.openAlert(r, x), nil }

func (fx simMachineFx) autoResolve(r *Rule, a *alertRef, clearedAt time.Time) error {
	fx.resolve(a, clearedAt)
	return nil
}

func (fx *simEffects) resolve(a *alertRef, at time.Time) {
	if a.Resolved {
		return
	}
	a.Resolved, a.ResolvedAt = true, at
	fx.refs[a].Resolved = at
}

// Simulate runs rules (Effective's result for the unit: thresholds set) over
// samples, which must be in time order, and returns the alerts opened.
// Only the kinds the evaluator runs (Evaluated) take part. An alert that
// needs a person is resolved by one the moment its excursion ended, so the
// next excursion opens a new alert as it would in a kitchen that answers
// its alerts.
func Simulate(rules []Rule, samples []SimSample, opt SimOptions) []SimAlert {
	if opt.Tick <= 0 {
		opt.Tick = 30 * time.Second
	}
	if opt.MaxGap <= 0 {
		opt.MaxGap = safety.DefaultMaxGap
	}
	if len(samples) == 0 {
		return nil
	}
	end := opt.End
	if end.IsZero() {
		end = samples[len(samples)-1].T
	}
	var now time.Time
	fx := &simEffects{now: &now, refs: map[*alertRef]*SimAlert{}, open: map[string]*alertRef{}}
	var machines []*machine
	for i := range rules {
		if !Evaluated(rules[i].Kind) || !rules[i].Enabled {
			continue
		}
		r := rules[i]
		machines = append(machines, &machine{rule: &r, st: newState(), fx: simMachineFx{fx}, maxGap: opt.MaxGap})
	}
	defrostAt := func(t time.Time) *safety.DefrostPattern {
		if opt.Defrost == nil {
			return nil
		}
		return opt.Defrost(t)
	}
	// A person resolves an alert that needs one once its excursion is over.
	settle := func(m *machine, t time.Time) {
		if a := fx.open[m.rule.ID]; a != nil && !a.Resolved && m.st.Phase == phaseOK {
			fx.resolve(a, t)
			m.st.Alert = nil
		}
	}
	var lastSeen time.Time
	next := 0
	for clock := samples[0].T; !clock.After(end); clock = clock.Add(opt.Tick) {
		for ; next < len(samples) && !samples[next].T.After(clock); next++ {
			s := samples[next]
			now = s.T
			lastSeen = s.T
			in := sample{T: s.T, Sensor: s.Sensor, TempC: s.TempC, Battery: s.Battery, Fault: s.Fault}
			for _, m := range machines {
				m.now, m.defrost = s.T, defrostAt(s.T)
				_ = m.sample(in) // the recorder never fails
				settle(m, s.T)
			}
		}
		now = clock
		for _, m := range machines {
			m.now, m.defrost = clock, defrostAt(clock)
			_ = m.tick(clock, lastSeen, true)
			settle(m, clock)
		}
	}
	out := make([]SimAlert, len(fx.alerts))
	for i, a := range fx.alerts {
		out[i] = *a
	}
	slices.SortStableFunc(out, func(a, b SimAlert) int { return a.Opened.Compare(b.Opened) })
	return out
}
