package alerting

// This file is the pure half of notification policies (table
// notification_policies, semantics in migration 0016): which policy applies
// to an alert, whether a moment lies in its quiet hours in the site's zone,
// and which steps the alert escalates by. policystore.go loads and records;
// nothing here touches the database.

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Scopes of a notification policy, most specific first.
const (
	ScopeUnitKind = "unit+kind"
	ScopeUnit     = "unit"
	ScopeSiteKind = "site+kind"
	ScopeSite     = "site"
	ScopeOrgKind  = "org+kind"
	ScopeOrg      = "org"
)

// scopeOrder ranks scopes, most specific first.
var scopeOrder = []string{ScopeUnitKind, ScopeUnit, ScopeSiteKind, ScopeSite, ScopeOrgKind, ScopeOrg}

// NotificationPolicy is one notification_policies row.
type NotificationPolicy struct {
	ID, Name string
	// SiteID, UnitID and AlertKind are its scope; empty means unset.
	SiteID, UnitID, AlertKind string
	// InitialChannels replace step 0's channels when not empty.
	InitialChannels []string
	// AckDeadlineMinutes is the earliest a later step fires (0: none).
	AckDeadlineMinutes int
	// Steps are the escalation steps (ParseSteps).
	Steps []Step
	// ReminderMinutes is the reminder interval while unacknowledged (0: none).
	ReminderMinutes int
	// NotifyOnResolve sends "resolved" messages to those notified.
	NotifyOnResolve bool
	// QuietStart and QuietEnd are "HH:MM" local times, both empty for none.
	QuietStart, QuietEnd string
	// QuietOverriddenByCritical lets critical alerts through quiet hours.
	QuietOverriddenByCritical bool
	// MinSeverity is info, warning or critical.
	MinSeverity string
}

// Target is what a policy is chosen for: an alert's unit, site and kind.
type Target struct {
	UnitID, SiteID, Kind string
}

// ScopeOf returns the scope p has for t, or "" when p does not apply to t.
func (p NotificationPolicy) ScopeOf(t Target) string {
	if p.AlertKind != "" && p.AlertKind != t.Kind {
		return ""
	}
	kind := p.AlertKind != ""
	switch {
	case p.UnitID != "":
		if p.UnitID != t.UnitID {
			return ""
		}
		return pick(kind, ScopeUnitKind, ScopeUnit)
	case p.SiteID != "":
		if p.SiteID != t.SiteID {
			return ""
		}
		return pick(kind, ScopeSiteKind, ScopeSite)
	}
	return pick(kind, ScopeOrgKind, ScopeOrg)
}

func pick(cond bool, yes, no string) string {
	if cond {
		return yes
	}
	return no
}

// ChoosePolicy returns the most specific of an organisation's policies that
// applies to t (unit+kind > unit > site+kind > site > org+kind > org) and
// its scope; ok is false when none applies.
func ChoosePolicy(policies []NotificationPolicy, t Target) (p NotificationPolicy, scope string, ok bool) {
	best := len(scopeOrder)
	for _, c := range policies {
		s := c.ScopeOf(t)
		if s == "" {
			continue
		}
		if rank := slices.Index(scopeOrder, s); rank < best {
			best, p, scope, ok = rank, c, s, true
		}
	}
	return p, scope, ok
}

// Why says in words why a policy applied: "unit policy for temp_high alerts".
func Why(scope, kind string) string {
	switch scope {
	case ScopeUnitKind:
		return "unit policy for " + kind + " alerts (the most specific: the unit's own, for this kind)"
	case ScopeUnit:
		return "unit policy (the unit's own, for any kind; no policy for this unit and kind)"
	case ScopeSiteKind:
		return "site policy for " + kind + " alerts (no policy of the unit's own)"
	case ScopeSite:
		return "site policy (no policy of the unit's own, none of the site for this kind)"
	case ScopeOrgKind:
		return "organisation policy for " + kind + " alerts (no unit or site policy applies)"
	case ScopeOrg:
		return "organisation default policy (no unit, site or kind policy applies)"
	}
	return "escalation policy of the site or organisation (no notification policy applies)"
}

// EffectiveSteps are the steps an alert under p escalates by: the policy's
// steps with step 0 on InitialChannels (when given), and no later step
// before the acknowledgement deadline.
func (p NotificationPolicy) EffectiveSteps() []Step {
	out := make([]Step, len(p.Steps))
	copy(out, p.Steps)
	if len(out) > 0 && len(p.InitialChannels) > 0 {
		out[0].Channels = slices.Clone(p.InitialChannels)
	}
	for k := 1; k < len(out); k++ {
		out[k].AfterMinutes = max(out[k].AfterMinutes, p.AckDeadlineMinutes)
	}
	return out
}

// severityRank orders severities; an unknown one ranks as critical, so a
// typo never silences an alert.
func severityRank(s string) int {
	switch s {
	case "info":
		return 0
	case "warning":
		return 1
	}
	return 2
}

// BelowSeverity reports whether an alert of severity notifies nobody under p.
func (p NotificationPolicy) BelowSeverity(severity string) bool {
	return p.MinSeverity != "" && severityRank(severity) < severityRank(p.MinSeverity)
}

// QuietUntil reports whether at lies in p's quiet hours for an alert of
// severity, in the site's zone loc, and when the window ends. Critical
// alerts are never quiet unless QuietOverriddenByCritical is false.
func (p NotificationPolicy) QuietUntil(at time.Time, loc *time.Location, severity string) (time.Time, bool) {
	if p.QuietStart == "" || severity == "critical" && p.QuietOverriddenByCritical {
		return time.Time{}, false
	}
	return QuietWindow(at, loc, p.QuietStart, p.QuietEnd)
}

// ParseClock parses "HH:MM" (00:00 to 23:59) into minutes after midnight.
func ParseClock(s string) (int, error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("%q is not a time of day HH:MM", s)
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, fmt.Errorf("%q is not a time of day HH:MM", s)
	}
	return h*60 + m, nil
}

// QuietWindow reports whether at lies in the daily window [start, end) of
// local wall-clock times in loc (it wraps midnight when end < start), and
// when the window ends. Wall-clock times make DST days right: on a
// spring-forward night a 22:00-07:00 window lasts 8 hours, on a fall-back
// night 10, and a time repeated by the fall-back is quiet both times. A
// window end that does not exist on the day (inside a spring-forward gap)
// ends the window at the moment the clocks jump. An unparsable window is
// never quiet (the API refuses one; an alert must not be silenced by it).
func QuietWindow(at time.Time, loc *time.Location, start, end string) (time.Time, bool) {
	s, err1 := ParseClock(start)
	e, err2 := ParseClock(end)
	if err1 != nil || err2 != nil || s == e {
		return time.Time{}, false
	}
	local := at.In(loc)
	m := local.Hour()*60 + local.Minute()
	var quiet bool
	endDay := 0 // days after local's date on which the window ends
	if s < e {
		quiet = m >= s && m < e
	} else {
		quiet = m >= s || m < e
		if m >= s {
			endDay = 1
		}
	}
	if !quiet {
		return time.Time{}, false
	}
	y, mo, d := local.Date()
	guess := time.Date(y, mo, d+endDay, e/60, e%60, 0, 0, loc)
	// The end's wall time may occur twice (fall-back) or not at all
	// (spring-forward) on the day, and time.Date picks either occurrence:
	// take the first occurrence after at, else (a gap) the jump itself.
	var until time.Time
	for _, c := range []time.Time{guess.Add(-time.Hour), guess, guess.Add(time.Hour)} {
		if l := c.In(loc); c.After(at) && l.Hour()*60+l.Minute() == e && l.Day() == guess.In(loc).Day() {
			until = c
			break
		}
	}
	if until.IsZero() {
		start, stop := guess.ZoneBounds()
		switch {
		case start.After(at) && guess.Sub(start).Abs() <= 2*time.Hour:
			until = start
		case stop.After(at) && stop.Sub(guess).Abs() <= 2*time.Hour:
			until = stop
		default:
			return time.Time{}, false
		}
	}
	return until, true
}
