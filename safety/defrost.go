package safety

import "time"

// DefrostPattern is a freezer's learned defrost cycle: defrosts start at
// Anchor + k × Period (give or take PhaseTolerance), last about Duration and
// peak at about PeakC. A rise that starts on the pattern's schedule and
// stays within MaxPeakC and MaxDuration is the freezer defrosting, not
// failing: it is recorded, and it does not open a temp_high alert.
type DefrostPattern struct {
	Period         time.Duration
	Anchor         time.Time
	PhaseTolerance time.Duration
	Duration       time.Duration
	PeakC          float64
	// MaxPeakC and MaxDuration bound a recognised defrost: past either,
	// the rise is treated as any other excursion.
	MaxPeakC    float64
	MaxDuration time.Duration
	// Episodes is how many defrosts the pattern was learned from.
	Episodes int
}

// OnSchedule reports whether a rise starting at t starts when a defrost is
// due: within PhaseTolerance of Anchor + k × Period for some whole k.
func (p *DefrostPattern) OnSchedule(t time.Time) bool {
	if p == nil || p.Period <= 0 {
		return false
	}
	off := t.Sub(p.Anchor) % p.Period
	if off < 0 {
		off += p.Period
	}
	return off <= p.PhaseTolerance || p.Period-off <= p.PhaseTolerance
}

// Allowance returns until when a rise that started at start and has peaked
// at peakC so far may run as a recognised defrost, and whether it is one:
// it started on schedule and stays at or below MaxPeakC. A rise still
// going at the returned time is no longer a defrost.
func (p *DefrostPattern) Allowance(start time.Time, peakC float64) (until time.Time, ok bool) {
	if p == nil || !p.OnSchedule(start) || !(peakC <= p.MaxPeakC) {
		return time.Time{}, false
	}
	return start.Add(p.MaxDuration), true
}
