package insight

import (
	"fmt"
	"time"

	"github.com/freshtrack/freshtrack/safety"
)

// timeOutMaxStand is the longest one reading stands for in the day's
// total: a gap is not time out of range.
const timeOutMaxStand = 15 * time.Minute

// DayState is time_out_of_temp's state: the current local day's total.
type DayState struct {
	// Start and End bound the local day (zero: none yet).
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Total is the day's time out of range, FirstOut its first moment.
	Total    time.Duration `json:"total"`
	FirstOut time.Time     `json:"first_out"`
	// Held is the newest reading: it stands from HeldFrom (what is
	// counted already) until HeldUntil, out of range if Out.
	HeldFrom  time.Time `json:"held_from"`
	HeldUntil time.Time `json:"held_until"`
	Out       bool      `json:"out,omitempty"`
	// Defrost marks the held reading as part of a recognised defrost, and
	// Pending is the time out of range such a defrost accrued: it counts
	// after all if the defrost leaves its bounds.
	Defrost bool          `json:"defrost,omitempty"`
	Pending time.Duration `json:"pending,omitempty"`
	// Raised are the rules raised today.
	Raised []string `json:"raised,omitempty"`
}

func (st *DayState) observe(p *Params, s Sample, interval time.Duration, defrosting, rising bool, out *Output) {
	if st.Pending > 0 && !defrosting {
		if rising {
			// The defrost left its bounds: its time counts after all.
			st.add(p, s.T, st.Pending, out)
		}
		st.Pending = 0
	}
	st.HeldFrom = s.T
	st.HeldUntil = s.T.Add(safety.Stand(interval, timeOutMaxStand))
	st.Out = !p.Limits.Contains(s.C)
	st.Defrost = defrosting
}

// advance counts the held reading up to now and ends the local days that
// are over by then. Observe runs it to a reading's time before the reading.
func (st *DayState) advance(p *Params, now time.Time, out *Output) {
	if st.Start.IsZero() {
		st.startDay(p, now)
	}
	for {
		upTo := earliest(now, earliest(st.HeldUntil, st.End))
		if !st.HeldFrom.IsZero() && upTo.After(st.HeldFrom) {
			if st.Out && st.Defrost {
				st.Pending += upTo.Sub(st.HeldFrom)
			} else if st.Out {
				st.add(p, st.HeldFrom, upTo.Sub(st.HeldFrom), out)
			}
			st.HeldFrom = upTo
		}
		if now.Before(st.End) {
			return
		}
		for _, id := range st.Raised {
			clear(out, kindTimeOut, id, st.FirstOut, st.End, 0, "the day ended")
		}
		st.startDay(p, st.End)
	}
}

// add counts d out of range from `from`, raising every rule whose limit the
// total reaches.
func (st *DayState) add(p *Params, from time.Time, d time.Duration, out *Output) {
	if st.FirstOut.IsZero() {
		st.FirstOut = from
	}
	before := st.Total
	st.Total += d
	for _, r := range p.TimeOut {
		if before >= r.Limit || st.Total < r.Limit || st.raised(r.RuleID) {
			continue
		}
		st.Raised = append(st.Raised, r.RuleID)
		at := from.Add(r.Limit - before)
		raise(out, kindTimeOut, r.RuleID, st.FirstOut, at, 0, minutes(r.Limit),
			fmt.Sprintf("Out of its safe range for %.0f min today (since %s), in excursions too short to alert on their own.",
				r.Limit.Minutes(), clock(p, st.FirstOut)),
			map[string]any{"limit_minutes": minutes(r.Limit), "day": st.Start.In(p.zone()).Format(time.DateOnly),
				"first_out": st.FirstOut, "low_c": p.Limits.Low.C, "high_c": p.Limits.High.C})
	}
}

func (st *DayState) raised(id string) bool {
	for _, r := range st.Raised {
		if r == id {
			return true
		}
	}
	return false
}

// startDay starts the local day that holds t.
func (st *DayState) startDay(p *Params, t time.Time) {
	z := p.zone()
	l := t.In(z)
	start := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, z)
	st.Start, st.End = start.UTC(), start.AddDate(0, 0, 1).UTC()
	st.Total, st.FirstOut, st.Raised = 0, time.Time{}, nil
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
