package digest

import (
	"testing"
	"time"
)

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestScheduleCurrent(t *testing.T) {
	t.Parallel()
	berlin := mustZone(t, "Europe/Berlin")
	kolkata := mustZone(t, "Asia/Kolkata") // +05:30, no DST
	newYork := mustZone(t, "America/New_York")

	// f checks the period current at now; start, end and due are RFC 3339.
	f := func(name string, s Schedule, now, start, end, due string, hours float64) {
		t.Helper()
		t.Run(name, func(t *testing.T) {
			p := s.Current(utc(now))
			if !p.Start.Equal(utc(start)) || !p.End.Equal(utc(end)) {
				t.Errorf("period = [%s, %s), want [%s, %s)", p.Start.UTC().Format(time.RFC3339), p.End.UTC().Format(time.RFC3339), start, end)
			}
			if due != "" && !p.DueAt.Equal(utc(due)) {
				t.Errorf("due at %s, want %s", p.DueAt.UTC().Format(time.RFC3339), due)
			}
			if got := p.End.Sub(p.Start).Hours(); got != hours {
				t.Errorf("period lasts %v h, want %v h", got, hours)
			}
			if p.DueAt.After(utc(now)) {
				t.Errorf("current period is due at %s, after now %s", p.DueAt.UTC().Format(time.RFC3339), now)
			}
		})
	}
	daily := func(hour int, loc *time.Location) Schedule {
		return Schedule{Frequency: Daily, LocalHour: hour, Location: loc}
	}
	weekly := func(day time.Weekday, hour int, loc *time.Location) Schedule {
		return Schedule{Frequency: Weekly, Weekday: day, LocalHour: hour, Location: loc}
	}

	// Berlin in winter is UTC+1: 2026-11-26 07:00 local = 06:00Z.
	f("daily after the hour", daily(7, berlin), "2026-11-26T06:30:00Z",
		"2026-11-24T23:00:00Z", "2026-11-25T23:00:00Z", "2026-11-26T06:00:00Z", 24)
	f("daily at the hour exactly", daily(7, berlin), "2026-11-26T06:00:00Z",
		"2026-11-24T23:00:00Z", "2026-11-25T23:00:00Z", "2026-11-26T06:00:00Z", 24)
	f("daily a second before the hour is still yesterday's", daily(7, berlin), "2026-11-26T05:59:59Z",
		"2026-11-23T23:00:00Z", "2026-11-24T23:00:00Z", "2026-11-25T06:00:00Z", 24)
	f("daily just after local midnight", daily(7, berlin), "2026-11-25T23:30:00Z",
		"2026-11-23T23:00:00Z", "2026-11-24T23:00:00Z", "2026-11-25T06:00:00Z", 24)
	f("daily at midnight", daily(0, berlin), "2026-11-25T23:00:00Z",
		"2026-11-24T23:00:00Z", "2026-11-25T23:00:00Z", "2026-11-25T23:00:00Z", 24)
	f("daily at 23:00", daily(23, berlin), "2026-11-26T21:59:00Z",
		"2026-11-23T23:00:00Z", "2026-11-24T23:00:00Z", "2026-11-25T22:00:00Z", 24)
	f("nil location is UTC", daily(7, nil), "2026-11-26T07:00:00Z",
		"2026-11-25T00:00:00Z", "2026-11-26T00:00:00Z", "2026-11-26T07:00:00Z", 24)

	// Berlin springs forward on 2026-03-29 (02:00 CET -> 03:00 CEST): a 23 h day.
	f("daily spring-forward day", daily(7, berlin), "2026-03-30T05:00:00Z",
		"2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z", "2026-03-30T05:00:00Z", 23)
	f("daily due on the spring-forward day", daily(7, berlin), "2026-03-29T05:00:00Z",
		"2026-03-27T23:00:00Z", "2026-03-28T23:00:00Z", "2026-03-29T05:00:00Z", 24)
	f("daily the day after spring forward", daily(7, berlin), "2026-03-31T05:00:00Z",
		"2026-03-29T22:00:00Z", "2026-03-30T22:00:00Z", "2026-03-31T05:00:00Z", 24)
	// and falls back on 2026-10-25 (03:00 CEST -> 02:00 CET): a 25 h day.
	f("daily fall-back day", daily(7, berlin), "2026-10-26T06:00:00Z",
		"2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z", "2026-10-26T06:00:00Z", 25)
	f("daily before the hour after fall back", daily(7, berlin), "2026-10-26T05:59:00Z",
		"2026-10-23T22:00:00Z", "2026-10-24T22:00:00Z", "2026-10-25T06:00:00Z", 24)

	// +05:30: local midnight is 18:30Z the day before.
	f("daily +05:30", daily(7, kolkata), "2026-11-26T02:00:00Z",
		"2026-11-24T18:30:00Z", "2026-11-25T18:30:00Z", "2026-11-26T01:30:00Z", 24)
	f("daily +05:30 before the hour", daily(7, kolkata), "2026-11-26T01:29:00Z",
		"2026-11-23T18:30:00Z", "2026-11-24T18:30:00Z", "2026-11-25T01:30:00Z", 24)
	f("daily +05:30 local date ahead of UTC date", daily(7, kolkata), "2026-11-25T18:45:00Z",
		"2026-11-23T18:30:00Z", "2026-11-24T18:30:00Z", "2026-11-25T01:30:00Z", 24)
	f("daily New York evening is already the next UTC day", daily(7, newYork), "2026-11-27T03:00:00Z",
		"2026-11-25T05:00:00Z", "2026-11-26T05:00:00Z", "2026-11-26T12:00:00Z", 24)

	// 2026-11-23 is a Monday; 2026-11-26 a Thursday.
	f("weekly Monday, on Thursday", weekly(time.Monday, 7, berlin), "2026-11-26T06:30:00Z",
		"2026-11-15T23:00:00Z", "2026-11-22T23:00:00Z", "2026-11-23T06:00:00Z", 168)
	f("weekly Monday, Monday at the hour", weekly(time.Monday, 7, berlin), "2026-11-23T06:00:00Z",
		"2026-11-15T23:00:00Z", "2026-11-22T23:00:00Z", "2026-11-23T06:00:00Z", 168)
	f("weekly Monday, Monday before the hour is last week's", weekly(time.Monday, 7, berlin), "2026-11-23T05:59:00Z",
		"2026-11-08T23:00:00Z", "2026-11-15T23:00:00Z", "2026-11-16T06:00:00Z", 168)
	f("weekly Monday, on Sunday", weekly(time.Monday, 7, berlin), "2026-11-29T20:00:00Z",
		"2026-11-15T23:00:00Z", "2026-11-22T23:00:00Z", "2026-11-23T06:00:00Z", 168)
	f("weekly Sunday (0)", weekly(time.Sunday, 7, berlin), "2026-11-29T09:00:00Z",
		"2026-11-21T23:00:00Z", "2026-11-28T23:00:00Z", "2026-11-29T06:00:00Z", 168)
	f("weekly Saturday (6), on Sunday", weekly(time.Saturday, 18, berlin), "2026-11-29T09:00:00Z",
		"2026-11-20T23:00:00Z", "2026-11-27T23:00:00Z", "2026-11-28T17:00:00Z", 168)
	f("weekly across spring forward: 167 h", weekly(time.Monday, 7, berlin), "2026-03-30T06:00:00Z",
		"2026-03-22T23:00:00Z", "2026-03-29T22:00:00Z", "2026-03-30T05:00:00Z", 167)
	f("weekly across fall back: 169 h", weekly(time.Monday, 7, berlin), "2026-10-26T07:00:00Z",
		"2026-10-18T22:00:00Z", "2026-10-25T23:00:00Z", "2026-10-26T06:00:00Z", 169)
	f("weekly +05:30", weekly(time.Monday, 7, kolkata), "2026-11-26T02:00:00Z",
		"2026-11-15T18:30:00Z", "2026-11-22T18:30:00Z", "2026-11-23T01:30:00Z", 168)
	f("weekly +05:30 on Monday local while UTC says Sunday", weekly(time.Monday, 0, kolkata), "2026-11-22T18:45:00Z",
		"2026-11-15T18:30:00Z", "2026-11-22T18:30:00Z", "2026-11-22T18:30:00Z", 168)

	// 02:00 does not exist on 2026-03-29 in Berlin: the period is still
	// the local day, and the digest is due once the gap is over.
	t.Run("hour in the spring-forward gap", func(t *testing.T) {
		p := daily(2, berlin).Current(utc("2026-03-29T01:00:00Z")) // 03:00 CEST
		if !p.Start.Equal(utc("2026-03-27T23:00:00Z")) || !p.End.Equal(utc("2026-03-28T23:00:00Z")) {
			t.Errorf("period = [%s, %s)", p.Start.UTC(), p.End.UTC())
		}
		if p.DueAt.Before(utc("2026-03-29T00:00:00Z")) || p.DueAt.After(utc("2026-03-29T01:00:00Z")) {
			t.Errorf("due at %s, want between 01:00 CET and 03:00 CEST", p.DueAt.UTC())
		}
	})
}

// TestScheduleCurrentWalk checks, hour by hour over a year, that periods are
// contiguous local days or weeks: each period begins where the previous one
// ended, starts at a local midnight, and is due on the day it ends.
func TestScheduleCurrentWalk(t *testing.T) {
	t.Parallel()
	for _, zone := range []string{"Europe/Berlin", "Asia/Kolkata", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham"} {
		loc := mustZone(t, zone)
		for _, s := range []Schedule{
			{Frequency: Daily, LocalHour: 7, Location: loc},
			{Frequency: Daily, LocalHour: 0, Location: loc},
			{Frequency: Weekly, Weekday: time.Wednesday, LocalHour: 23, Location: loc},
		} {
			var prev Period
			for now := utc("2026-01-01T00:00:00Z"); now.Before(utc("2027-01-01T00:00:00Z")); now = now.Add(time.Hour) {
				p := s.Current(now)
				if p.DueAt.After(now) {
					t.Fatalf("%s %+v at %s: due at %s, in the future", zone, s.Frequency, now, p.DueAt)
				}
				if l := p.Start.In(loc); l.Hour() != 0 || l.Minute() != 0 {
					t.Fatalf("%s %s at %s: period starts at %s, not a local midnight", zone, s.Frequency, now, l)
				}
				if y, m, d := p.End.In(loc).Date(); p.DueAt.In(loc).Day() != d || p.DueAt.In(loc).Month() != m || p.DueAt.In(loc).Year() != y {
					t.Fatalf("%s %s at %s: due %s is not on the day the period ends (%s)", zone, s.Frequency, now, p.DueAt.In(loc), p.End.In(loc))
				}
				if s.Frequency == Weekly && p.End.In(loc).Weekday() != s.Weekday {
					t.Fatalf("%s weekly at %s: period ends on %s", zone, now, p.End.In(loc).Weekday())
				}
				if !prev.End.IsZero() && p != prev && !p.Start.Equal(prev.End) {
					t.Fatalf("%s %s at %s: period [%s, %s) does not follow [%s, %s)", zone, s.Frequency, now, p.Start, p.End, prev.Start, prev.End)
				}
				prev = p
			}
		}
	}
}

func TestPeriodLabel(t *testing.T) {
	t.Parallel()
	berlin := mustZone(t, "Europe/Berlin")
	f := func(s Schedule, now, want string) {
		t.Helper()
		if got := s.Current(utc(now)).Label(s.Location); got != want {
			t.Errorf("Label = %q, want %q", got, want)
		}
	}
	f(Schedule{Frequency: Daily, LocalHour: 7, Location: berlin}, "2026-11-26T06:30:00Z", "2026-11-25")
	f(Schedule{Frequency: Daily, LocalHour: 7, Location: berlin}, "2026-10-26T06:30:00Z", "2026-10-25")
	f(Schedule{Frequency: Weekly, Weekday: time.Monday, LocalHour: 7, Location: berlin}, "2026-11-26T06:30:00Z", "2026-11-16 – 2026-11-22")
	f(Schedule{Frequency: Weekly, Weekday: time.Monday, LocalHour: 7, Location: berlin}, "2026-03-30T06:30:00Z", "2026-03-23 – 2026-03-29")
}
