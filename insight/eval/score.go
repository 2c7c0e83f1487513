package eval

import (
	"math"
	"slices"
	"sort"
	"time"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/insight/corpus"
)

func compatible(label, alert string) bool { return slices.Contains(Compatible[label], alert) }

func within(t, from, to time.Time) bool { return !t.Before(from) && !t.After(to) }

// matches reports whether an alert tells of a label.
func matches(l corpus.Label, a Alert) bool {
	return compatible(l.Kind, a.Kind) && within(a.Opened, l.From, l.To)
}

func score(name string, traces []corpus.Trace, alerts []Alert, unitWeeks float64) SystemReport {
	r := SystemReport{Name: name, FalseAlarms: map[string]int{CauseDefrost: 0, CauseDoor: 0, CauseOther: 0}}
	labels := map[string]*LabelStat{}
	for k := range Compatible {
		labels[k] = &LabelStat{Kind: k}
	}
	byKind := map[string]*AlertStat{}
	scored := alerts[:0:0]
	for _, a := range alerts {
		if !a.Opened.Before(traces[a.Trace].WarmUp) {
			scored = append(scored, a)
		}
	}
	for ti := range traces {
		for _, l := range traces[ti].Labels {
			if l.From.Before(traces[ti].WarmUp) {
				continue
			}
			ls := labels[l.Kind]
			ls.Total++
			for _, a := range scored {
				if a.Trace == ti && matches(l, a) {
					ls.Found++
					break
				}
			}
		}
	}
	for _, a := range scored {
		as := byKind[a.Kind]
		if as == nil {
			as = &AlertStat{Kind: a.Kind}
			byKind[a.Kind] = as
		}
		as.Total++
		tr := &traces[a.Trace]
		ok := false
		for _, l := range tr.Labels {
			ok = ok || matches(l, a)
		}
		if ok {
			as.True++
			continue
		}
		r.FalseAlarms[cause(tr, a)]++
	}
	for _, k := range sortedKeys(labels) {
		ls := labels[k]
		ls.Recall = ratio(ls.Found, ls.Total)
		r.Labels = append(r.Labels, *ls)
	}
	for _, k := range sortedKeys(byKind) {
		as := byKind[k]
		as.Precision = ratio(as.True, as.Total)
		r.Alerts = append(r.Alerts, *as)
	}
	r.FalsePerUnitWeek = map[string]float64{}
	total := 0
	for c, n := range r.FalseAlarms {
		r.FalsePerUnitWeek[c] = round3(float64(n) / unitWeeks)
		total += n
	}
	r.FalseAlarms["total"] = total
	r.FalsePerUnitWeek["total"] = round3(float64(total) / unitWeeks)
	return r
}

// cause blames a false alarm on the benign event its excursion started
// in (or that it opened in).
func cause(tr *corpus.Trace, a Alert) string {
	for _, kind := range []string{corpus.BenignDefrost, corpus.BenignDoor} {
		for _, b := range tr.Benign {
			if b.Kind == kind && (within(a.Started, b.From, b.To) || within(a.Opened, b.From, b.To)) {
				if kind == corpus.BenignDefrost {
					return CauseDefrost
				}
				return CauseDoor
			}
		}
	}
	return CauseOther
}

// lead measures, per slow failure, how long before the baseline's
// temperature alert on it the full set's first trend warning came.
func lead(traces []corpus.Trace, base, full []Alert) LeadReport {
	var r LeadReport
	for ti := range traces {
		for _, l := range traces[ti].Labels {
			if l.Cause != corpus.CauseSlowFailure {
				continue
			}
			r.SlowFailures++
			first := func(alerts []Alert, kinds ...string) (time.Time, bool) {
				for _, a := range alerts {
					if a.Trace == ti && slices.Contains(kinds, a.Kind) && within(a.Opened, l.From, l.To) {
						return a.Opened, true
					}
				}
				return time.Time{}, false
			}
			warned, ok := first(full, alerting.KindTrendWarning)
			if !ok {
				continue
			}
			r.Warned++
			// The baseline's alert on the failure, not one on a defrost
			// that happened to fall in its window.
			var real []Alert
			for _, a := range base {
				if a.Trace != ti || cause(&traces[ti], a) == CauseOther {
					real = append(real, a)
				}
			}
			alerted, ok := first(real, alerting.KindTempHigh, alerting.KindTempLow)
			if !ok {
				continue
			}
			r.Measured++
			r.Minutes = append(r.Minutes, math.Round(alerted.Sub(warned).Minutes()*10)/10)
		}
	}
	if len(r.Minutes) > 0 {
		s := slices.Clone(r.Minutes)
		sort.Float64s(s)
		n := len(s)
		r.MedianMinutes = s[n/2]
		if n%2 == 0 {
			r.MedianMinutes = (s[n/2-1] + s[n/2]) / 2
		}
	}
	return r
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0 // nothing to measure: Total says so
	}
	return round3(float64(a) / float64(b))
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
