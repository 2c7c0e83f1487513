package eval

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/insight"
	"github.com/freshtrack/freshtrack/insight/corpus"
	"github.com/freshtrack/freshtrack/safety"
)

// The rule sets compared.
const (
	Baseline = "baseline"
	Full     = "full"
)

// False alarm causes.
const (
	CauseDefrost = "defrost"
	CauseDoor    = "door"
	CauseOther   = "other"
)

// Compatible lists, per label kind, the alert kinds that tell a person of
// it. An excursion is told by the temperature alert, ahead of it by a
// trend warning, by the day's time out of range, or (food in hot holding
// cooling down) by its cooling log; a door left open by the door alert or
// the temperature it lets in.
var Compatible = map[string][]string{
	corpus.LabelExcursion: {alerting.KindTempHigh, alerting.KindTempLow, alerting.KindTrendWarning,
		alerting.KindTimeOutOfTemp, alerting.KindCooling},
	corpus.LabelDoorOpen: {alerting.KindDoorOpen, alerting.KindTempHigh, alerting.KindTimeOutOfTemp},
	corpus.LabelTimeOut:  {alerting.KindTimeOutOfTemp},
	corpus.LabelCooling:  {alerting.KindCooling},
	corpus.LabelProbe:    {alerting.KindSensorImplausible, alerting.KindSensorFault},
	corpus.LabelOffline:  {alerting.KindSensorOffline},
}

// Alert is an alert one rule set opened on a trace.
type Alert struct {
	Trace   int       `json:"trace"`
	Kind    string    `json:"kind"`
	Started time.Time `json:"started"`
	Opened  time.Time `json:"opened"`
}

// Report is the result of an evaluation.
type Report struct {
	Seed  uint64 `json:"seed"`
	Units int    `json:"units"`
	Weeks int    `json:"weeks"`
	// UnitWeeks is the scored time, in unit-weeks.
	UnitWeeks float64        `json:"unit_weeks"`
	Systems   []SystemReport `json:"systems"`
	Lead      LeadReport     `json:"trend_lead"`
}

// SystemReport is one rule set's result.
type SystemReport struct {
	Name   string      `json:"name"`
	Labels []LabelStat `json:"labels"`
	Alerts []AlertStat `json:"alerts"`
	// FalseAlarms are counts by cause, and FalsePerUnitWeek the rates.
	FalseAlarms      map[string]int     `json:"false_alarms"`
	FalsePerUnitWeek map[string]float64 `json:"false_alarms_per_unit_week"`
}

// LabelStat is the recall on one kind of label.
type LabelStat struct {
	Kind   string  `json:"kind"`
	Total  int     `json:"total"`
	Found  int     `json:"found"`
	Recall float64 `json:"recall"`
}

// AlertStat is the precision of one kind of alert.
type AlertStat struct {
	Kind      string  `json:"kind"`
	Total     int     `json:"total"`
	True      int     `json:"true"`
	Precision float64 `json:"precision"`
}

// LeadReport is trend_warning's lead over the baseline's temperature alert
// on slow failures.
type LeadReport struct {
	SlowFailures int `json:"slow_failures"`
	// Warned is how many had a trend warning, Measured how many of those
	// also had a baseline alert to measure against.
	Warned        int       `json:"warned"`
	Measured      int       `json:"measured"`
	MedianMinutes float64   `json:"median_minutes"`
	Minutes       []float64 `json:"minutes"`
}

// Run generates the corpus of o and evaluates both rule sets over it.
func Run(o corpus.Options) Report {
	traces := corpus.Generate(o)
	rep := Report{Seed: o.Seed, Units: len(traces), Weeks: o.Weeks}
	var base, full []Alert
	for i := range traces {
		tr := &traces[i]
		rep.UnitWeeks += tr.End.Sub(tr.WarmUp).Hours() / (7 * 24)
		b, f := RunTrace(tr)
		for _, a := range b {
			a.Trace = i
			base = append(base, a)
		}
		for _, a := range f {
			a.Trace = i
			full = append(full, a)
		}
	}
	rep.Systems = []SystemReport{score(Baseline, traces, base, rep.UnitWeeks), score(Full, traces, full, rep.UnitWeeks)}
	rep.Lead = lead(traces, base, full)
	return rep
}

// rules are the built-in rules that apply to a trace's unit, with ids.
func rules(tr *corpus.Trace) []alerting.Rule {
	all := alerting.DefaultRules()
	for i := range all {
		all[i].ID = fmt.Sprintf("%03d-%s-%s", i, all[i].UnitKind, all[i].Kind)
	}
	return alerting.Effective(all, alerting.UnitScope{ID: "unit", Kind: tr.UnitKind, SafeMinC: tr.SafeMinC, SafeMaxC: tr.SafeMaxC})
}

// RunTrace returns the alerts of the baseline and of the full rule set on
// one trace.
func RunTrace(tr *corpus.Trace) (base, full []Alert) {
	eff := rules(tr)
	var thr []alerting.Rule
	var temp []safety.TempRule
	for _, r := range eff {
		if alerting.Evaluated(r.Kind) {
			thr = append(thr, r)
		}
		if r.Kind == alerting.KindTempHigh || r.Kind == alerting.KindTempLow {
			temp = append(temp, safety.TempRule{Kind: r.Kind, Threshold: r.Own})
		}
	}
	samples := make([]alerting.SimSample, len(tr.Readings))
	for i, r := range tr.Readings {
		samples[i] = alerting.SimSample{T: r.T, Sensor: r.Sensor, TempC: r.C, Battery: math.NaN()}
	}
	opt := alerting.SimOptions{End: tr.End}
	for _, a := range alerting.Simulate(thr, samples, opt) {
		base = append(base, Alert{Kind: a.Kind, Started: a.Started, Opened: a.Opened})
	}

	p := insight.ParamsFor(tr.UnitKind, safety.UnitLimits(tr.SafeMinC, tr.SafeMaxC, temp), tr.Zone, eff)
	sigs, patterns := Detect(p, tr)
	opt.Defrost = func(t time.Time) *safety.DefrostPattern {
		i := sort.Search(len(patterns), func(i int) bool { return patterns[i].At.After(t) })
		if i == 0 {
			return nil
		}
		return patterns[i-1].Pattern
	}
	for _, a := range alerting.Simulate(thr, samples, opt) {
		full = append(full, Alert{Kind: a.Kind, Started: a.Started, Opened: a.Opened})
	}
	for _, s := range sigs {
		if s.Op == insight.Raise {
			full = append(full, Alert{Kind: s.Kind, Started: s.Started, Opened: s.At})
		}
	}
	slices.SortStableFunc(full, func(a, b Alert) int { return a.Opened.Compare(b.Opened) })
	return base, full
}

// Learned is a defrost pattern and when it was learned.
type Learned struct {
	At      time.Time
	Pattern *safety.DefrostPattern
}

// Detect runs a unit's detectors over a trace as the integration runs
// them: each minute, the readings, door states and cooling starts up to
// then in time order, then a Tick. It returns every signal and the
// defrost patterns in the order learned.
func Detect(p *insight.Params, tr *corpus.Trace) ([]insight.Signal, []Learned) {
	u := insight.NewUnit()
	var sigs []insight.Signal
	var learned []Learned
	var out insight.Output
	flush := func(at time.Time) {
		sigs = append(sigs, out.Signals...)
		if out.PatternChanged && out.Defrost != nil {
			learned = append(learned, Learned{at, out.Defrost})
		}
		out = insight.Output{}
	}
	ri, di, ci := 0, 0, 0
	for now := tr.Start.Truncate(time.Minute); !now.After(tr.End); now = now.Add(time.Minute) {
		for {
			// The earliest of the next reading, door state and cooling
			// start that is due by now.
			next, which := time.Time{}, 0
			if ri < len(tr.Readings) && !tr.Readings[ri].T.After(now) {
				next, which = tr.Readings[ri].T, 1
			}
			if di < len(tr.Doors) && !tr.Doors[di].T.After(now) && (which == 0 || tr.Doors[di].T.Before(next)) {
				next, which = tr.Doors[di].T, 2
			}
			if ci < len(tr.CoolingStarts) && !tr.CoolingStarts[ci].After(now) && (which == 0 || tr.CoolingStarts[ci].Before(next)) {
				which = 3
			}
			switch which {
			case 0:
				goto tick
			case 1:
				r := tr.Readings[ri]
				s := insight.Sample{T: r.T, C: r.C, Sensor: r.Sensor}
				u.ObserveProbe(p, s, &out)
				s.Sensor = 0
				u.Observe(p, s, &out)
				ri++
			case 2:
				u.ObserveDoor(p, tr.Doors[di], &out)
				di++
			case 3:
				u.StartCooling(p, tr.CoolingStarts[ci], &out)
				ci++
			}
		}
	tick:
		u.Tick(p, now, &out)
		flush(now)
	}
	return sigs, learned
}
