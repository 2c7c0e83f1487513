package query

import (
	"fmt"
	"time"

	// Site time zones must load in minimal containers without a zoneinfo
	// database, so the binary carries its own.
	_ "time/tzdata"
)

// DayBounds returns the local midnights, in loc, of the calendar days first
// through last inclusive, followed by the midnight that ends last: n+1
// instants for n days. first and last are read as calendar dates, by their
// own year, month and day (time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC) and
// the same date in Berlin both name 29 March). Days are 23 or 25 hours long
// across daylight-saving changes. It returns nil when last is before first.
func DayBounds(first, last time.Time, loc *time.Location) []time.Time {
	y, m, d := first.Date()
	ly, lm, ld := last.Date()
	end := time.Date(ly, lm, ld, 0, 0, 0, 0, time.UTC)
	var out []time.Time
	for day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC); !day.After(end); day = day.AddDate(0, 0, 1) {
		out = append(out, localMidnight(day, loc))
	}
	if out == nil {
		return nil
	}
	return append(out, localMidnight(end.AddDate(0, 0, 1), loc))
}

// localMidnight is the start of the calendar day of day (read in UTC) in loc.
func localMidnight(day time.Time, loc *time.Location) time.Time {
	y, m, d := day.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// LoadLocation loads a site's IANA time zone, saying which site setting is
// wrong when it cannot.
func LoadLocation(name string) (*time.Location, error) {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("site time zone %q: %w (fix the site's timezone setting)", name, err)
	}
	return loc, nil
}

// dayBoundsCovering returns the local day bounds in loc of every day that
// overlaps [from, to).
func dayBoundsCovering(from, to time.Time, loc *time.Location) []time.Time {
	return DayBounds(from.In(loc), to.Add(-time.Nanosecond).In(loc), loc)
}

// alignment returns the widest of 24h, 1h and 5m that every bound is a
// multiple of (UTC-aligned), or 0 when they are not even 5-minute aligned.
func alignment(bounds []time.Time) time.Duration {
	for _, w := range []time.Duration{24 * time.Hour, time.Hour, 5 * time.Minute} {
		ok := true
		for _, b := range bounds {
			if !b.Truncate(w).Equal(b) {
				ok = false
				break
			}
		}
		if ok {
			return w
		}
	}
	return 0
}
