package digest

import (
	"time"

	// Subscription time zones must load in minimal containers without a
	// zoneinfo database, so the binary carries its own.
	_ "time/tzdata"
)

// Frequencies of a digest.
const (
	// Daily digests cover the previous local day.
	Daily = "daily"
	// Weekly digests cover the previous 7 local days.
	Weekly = "weekly"
)

// Schedule says when a subscription's digests are due and what they cover.
type Schedule struct {
	// Frequency is Daily or Weekly.
	Frequency string
	// LocalHour (0-23) is the local hour from which a period's digest is due.
	LocalHour int
	// Weekday is the day a weekly digest is due (time.Sunday = 0); daily
	// digests ignore it.
	Weekday time.Weekday
	// Location is the subscription's time zone. Nil means UTC.
	Location *time.Location
}

// Period is the span [Start, End) a digest covers, and when it is due.
type Period struct {
	// Start is the local midnight that begins the period.
	Start time.Time
	// End is the local midnight that ends it (exclusive).
	End time.Time
	// DueAt is when the digest may be sent: LocalHour on the day that End
	// begins.
	DueAt time.Time
}

// Current returns the period whose digest was most recently due at now:
// the latest period with DueAt <= now.
//
// A daily period is the local day before the day it is due, [yesterday
// 00:00, today 00:00), due at LocalHour today; before LocalHour, the current
// period is still the one that was due yesterday. A weekly period is the 7
// local days that end where Weekday begins, due at LocalHour on Weekday.
//
// Boundaries are local midnights computed with calendar arithmetic in
// Location, so a day across a daylight-saving change lasts 23 or 25 hours
// and a week 167 or 169. A LocalHour that does not exist on a
// spring-forward day is taken as the hour after the gap (time.Date's rule).
func (s Schedule) Current(now time.Time) Period {
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := now.In(loc).Date()
	// end is the calendar day (y, m, d+back) on which the period ends and
	// its digest is due.
	back := 0
	if s.Frequency == Weekly {
		back = -((int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Weekday()) - int(s.Weekday) + 7) % 7)
	}
	step := 1
	if s.Frequency == Weekly {
		step = 7
	}
	if now.Before(time.Date(y, m, d+back, s.LocalHour, 0, 0, 0, loc)) {
		back -= step
	}
	return Period{
		Start: time.Date(y, m, d+back-step, 0, 0, 0, 0, loc),
		End:   time.Date(y, m, d+back, 0, 0, 0, 0, loc),
		DueAt: time.Date(y, m, d+back, s.LocalHour, 0, 0, 0, loc),
	}
}

// Label names the period for people in the schedule's zone: the date of a
// day ("2026-11-25"), or the first and last dates of a week
// ("2026-11-16 – 2026-11-22").
func (p Period) Label(loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	first := p.Start.In(loc).Format(time.DateOnly)
	last := p.End.In(loc).AddDate(0, 0, -1).Format(time.DateOnly)
	if first == last {
		return first
	}
	return first + " – " + last
}
