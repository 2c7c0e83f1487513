package alerting

import (
	"slices"
	"testing"
	"time"
)

func TestChoosePolicyMostSpecificWins(t *testing.T) {
	t.Parallel()
	const unit, otherUnit, site, otherSite = "u1", "u2", "s1", "s2"
	all := []NotificationPolicy{
		{ID: "org", Name: "org"},
		{ID: "org+kind", AlertKind: KindTempHigh},
		{ID: "site", SiteID: site},
		{ID: "site+kind", SiteID: site, AlertKind: KindTempHigh},
		{ID: "unit", UnitID: unit},
		{ID: "unit+kind", UnitID: unit, AlertKind: KindTempHigh},
		// Policies of other scopes never apply.
		{ID: "other unit", UnitID: otherUnit},
		{ID: "other site", SiteID: otherSite, AlertKind: KindTempHigh},
		{ID: "other kind", UnitID: unit, AlertKind: KindDoorOpen},
	}
	without := func(ids ...string) []NotificationPolicy {
		return slices.DeleteFunc(slices.Clone(all), func(p NotificationPolicy) bool { return slices.Contains(ids, p.ID) })
	}
	high := Target{UnitID: unit, SiteID: site, Kind: KindTempHigh}
	f := func(name string, list []NotificationPolicy, tg Target, wantID, wantScope string) {
		t.Helper()
		p, scope, ok := ChoosePolicy(list, tg)
		if wantID == "" {
			if ok {
				t.Errorf("%s: chose %s (%s), want none", name, p.ID, scope)
			}
			return
		}
		if !ok || p.ID != wantID || scope != wantScope {
			t.Errorf("%s: chose %q (%s, %v), want %q (%s)", name, p.ID, scope, ok, wantID, wantScope)
		}
	}
	f("all", all, high, "unit+kind", ScopeUnitKind)
	f("no unit+kind", without("unit+kind"), high, "unit", ScopeUnit)
	f("no unit policies", without("unit+kind", "unit"), high, "site+kind", ScopeSiteKind)
	f("site any kind", without("unit+kind", "unit", "site+kind"), high, "site", ScopeSite)
	f("org kind", without("unit+kind", "unit", "site+kind", "site"), high, "org+kind", ScopeOrgKind)
	f("org default", without("unit+kind", "unit", "site+kind", "site", "org+kind"), high, "org", ScopeOrg)
	f("none", nil, high, "", "")
	f("only others", without("unit+kind", "unit", "site+kind", "site", "org+kind", "org"), high, "", "")
	// Another kind skips the kind policies of temp_high, and the unit's
	// door_open policy applies to door_open alerts.
	f("temp_low", all, Target{UnitID: unit, SiteID: site, Kind: KindTempLow}, "unit", ScopeUnit)
	f("door_open", all, Target{UnitID: unit, SiteID: site, Kind: KindDoorOpen}, "other kind", ScopeUnitKind)
	// Another unit of the site gets the site's policy.
	f("sibling unit", all, Target{UnitID: "u3", SiteID: site, Kind: KindTempHigh}, "site+kind", ScopeSiteKind)
	// Order in the list does not matter.
	rev := slices.Clone(all)
	slices.Reverse(rev)
	f("reversed", rev, high, "unit+kind", ScopeUnitKind)
}

func TestEffectiveSteps(t *testing.T) {
	t.Parallel()
	p := NotificationPolicy{
		InitialChannels:    []string{"email"},
		AckDeadlineMinutes: 20,
		Steps: []Step{
			{AfterMinutes: 0, Channels: []string{"sms"}, Roles: []string{"staff"}},
			{AfterMinutes: 10, Channels: []string{"sms"}, Roles: []string{"manager"}},
			{AfterMinutes: 45, Channels: []string{"sms"}, Roles: []string{"owner"}},
		},
	}
	got := p.EffectiveSteps()
	if !slices.Equal(got[0].Channels, []string{"email"}) || got[1].AfterMinutes != 20 || got[2].AfterMinutes != 45 {
		t.Fatalf("effective steps %+v", got)
	}
	if !slices.Equal(p.Steps[0].Channels, []string{"sms"}) || p.Steps[1].AfterMinutes != 10 {
		t.Fatalf("EffectiveSteps changed the policy's own steps: %+v", p.Steps)
	}
	p.InitialChannels, p.AckDeadlineMinutes = nil, 0
	if got := p.EffectiveSteps(); !slices.Equal(got[0].Channels, []string{"sms"}) || got[1].AfterMinutes != 10 {
		t.Fatalf("without initial channels and deadline: %+v", got)
	}
}

func TestBelowSeverity(t *testing.T) {
	t.Parallel()
	f := func(min, sev string, want bool) {
		t.Helper()
		if got := (NotificationPolicy{MinSeverity: min}).BelowSeverity(sev); got != want {
			t.Errorf("min %q, alert %q: below = %v, want %v", min, sev, got, want)
		}
	}
	f("info", "info", false)
	f("warning", "info", true)
	f("warning", "warning", false)
	f("warning", "critical", false)
	f("critical", "warning", true)
	f("critical", "critical", false)
	f("", "info", false)
	f("critical", "bogus", false) // an unknown severity is never silenced
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

func TestQuietWindow(t *testing.T) {
	t.Parallel()
	ny := mustZone(t, "America/New_York")
	london := mustZone(t, "Europe/London")
	utc := time.UTC
	// f checks whether the UTC instant at is quiet in the window and, if
	// so, that the window ends at the UTC instant until.
	f := func(name string, loc *time.Location, start, end, at string, wantQuiet bool, until string) {
		t.Helper()
		tm, err := time.Parse(time.RFC3339, at)
		if err != nil {
			t.Fatal(err)
		}
		got, quiet := QuietWindow(tm, loc, start, end)
		if quiet != wantQuiet {
			t.Errorf("%s: %s in %s-%s %s: quiet = %v, want %v", name, at, start, end, loc, quiet, wantQuiet)
			return
		}
		if quiet && got.UTC().Format(time.RFC3339) != until {
			t.Errorf("%s: %s in %s-%s %s: ends %s, want %s", name, at, start, end, loc, got.UTC().Format(time.RFC3339), until)
		}
	}
	// A window on one day.
	f("inside", utc, "12:00", "14:00", "2026-06-01T13:00:00Z", true, "2026-06-01T14:00:00Z")
	f("start is quiet", utc, "12:00", "14:00", "2026-06-01T12:00:00Z", true, "2026-06-01T14:00:00Z")
	f("end is not", utc, "12:00", "14:00", "2026-06-01T14:00:00Z", false, "")
	f("before", utc, "12:00", "14:00", "2026-06-01T11:59:00Z", false, "")
	// Across midnight: both sides of it, ending the next morning.
	f("late evening", utc, "22:00", "07:00", "2026-06-01T23:30:00Z", true, "2026-06-02T07:00:00Z")
	f("early morning", utc, "22:00", "07:00", "2026-06-02T03:00:00Z", true, "2026-06-02T07:00:00Z")
	f("midday", utc, "22:00", "07:00", "2026-06-02T12:00:00Z", false, "")
	f("just before", utc, "22:00", "07:00", "2026-06-01T21:59:00Z", false, "")
	// In the site's zone, not UTC: 22:00 in New York in summer is 02:00Z.
	f("zone summer", ny, "22:00", "07:00", "2026-06-02T02:30:00Z", true, "2026-06-02T11:00:00Z")
	f("zone summer, UTC evening is NY afternoon", ny, "22:00", "07:00", "2026-06-01T22:30:00Z", false, "")
	// New York springs forward on 2026-03-08 at 02:00 EST -> 03:00 EDT:
	// that night the window 22:00-07:00 lasts 8 hours and ends at 07:00
	// EDT (11:00Z), not 07:00 EST (12:00Z).
	f("NY spring-forward night", ny, "22:00", "07:00", "2026-03-08T04:00:00Z", true, "2026-03-08T11:00:00Z")
	f("NY spring-forward, 06:59 EDT", ny, "22:00", "07:00", "2026-03-08T10:59:00Z", true, "2026-03-08T11:00:00Z")
	f("NY spring-forward, 07:30 EDT", ny, "22:00", "07:00", "2026-03-08T11:30:00Z", false, "")
	// A window ending in the gap (02:30 does not exist) ends at the jump.
	f("NY end in gap", ny, "01:00", "02:30", "2026-03-08T06:30:00Z", true, "2026-03-08T07:00:00Z")
	f("NY after gap", ny, "01:00", "02:30", "2026-03-08T07:10:00Z", false, "")
	// New York falls back on 2026-11-01 at 02:00 EDT -> 01:00 EST: the
	// window ends at 07:00 EST (12:00Z), and 06:30 EST (11:30Z) is quiet.
	f("NY fall-back morning", ny, "22:00", "07:00", "2026-11-01T11:30:00Z", true, "2026-11-01T12:00:00Z")
	f("NY fall-back evening before", ny, "22:00", "07:00", "2026-11-01T02:00:00Z", true, "2026-11-01T12:00:00Z")
	// London springs forward on 2026-03-29 at 01:00 GMT -> 02:00 BST.
	f("London before jump", london, "01:15", "03:00", "2026-03-29T00:59:00Z", false, "")
	f("London after jump", london, "01:15", "03:00", "2026-03-29T01:00:00Z", true, "2026-03-29T02:00:00Z")
	f("London night", london, "23:00", "06:00", "2026-03-28T23:30:00Z", true, "2026-03-29T05:00:00Z")
	// London falls back on 2026-10-25 at 02:00 BST -> 01:00 GMT: 01:00-01:30
	// happens twice and is quiet both times, each ending at its own 01:30.
	f("London first 01:10", london, "01:00", "01:30", "2026-10-25T00:10:00Z", true, "2026-10-25T00:30:00Z")
	f("London second 01:10", london, "01:00", "01:30", "2026-10-25T01:10:00Z", true, "2026-10-25T01:30:00Z")
	f("London first 01:40", london, "01:00", "01:30", "2026-10-25T00:40:00Z", false, "")
	f("London night across fall-back", london, "22:00", "07:00", "2026-10-24T22:00:00Z", true, "2026-10-25T07:00:00Z")
	// Broken windows are never quiet.
	f("empty", utc, "", "", "2026-06-01T13:00:00Z", false, "")
	f("same start and end", utc, "12:00", "12:00", "2026-06-01T12:00:00Z", false, "")
	f("bad clock", utc, "25:00", "07:00", "2026-06-01T02:00:00Z", false, "")
}

func TestQuietUntilCriticalOverride(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 6, 1, 23, 0, 0, 0, time.UTC)
	p := NotificationPolicy{QuietStart: "22:00", QuietEnd: "07:00", QuietOverriddenByCritical: true}
	f := func(name string, p NotificationPolicy, sev string, want bool) {
		t.Helper()
		if _, quiet := p.QuietUntil(at, time.UTC, sev); quiet != want {
			t.Errorf("%s: %s quiet = %v, want %v", name, sev, quiet, want)
		}
	}
	f("warning is held", p, "warning", true)
	f("info is held", p, "info", true)
	f("critical overrides", p, "critical", false)
	p.QuietOverriddenByCritical = false
	f("critical held when the override is off", p, "critical", true)
	f("no quiet hours", NotificationPolicy{}, "warning", false)
}

func TestDecide(t *testing.T) {
	t.Parallel()
	s := Step{Channels: []string{"sms", "email"}, Roles: []string{"staff"}}
	cands := []candidate{
		{id: "a", name: "Ann", phone: "+1555", email: "ann@x", roleMatch: true, onShift: true, smsOptIn: true, emailOptIn: true},
		{id: "b", name: "Bob", phone: "+1556", roleMatch: true, onShift: true, smsOptIn: false, emailOptIn: true},
		{id: "c", name: "Cy", phone: "+1557", email: "cy@x", roleMatch: true, onShift: false, smsOptIn: true, emailOptIn: true},
		{id: "d", name: "Di", phone: "+1558", email: "di@x", named: true, onShift: false, smsOptIn: true, emailOptIn: false},
	}
	got := map[string]string{}
	for _, d := range decide(cands, s, time.Time{}, "") {
		got[d.Name+"/"+d.Channel] = d.Decision
	}
	want := map[string]string{
		"Ann/sms": DecisionNotified, "Ann/email": DecisionNotified,
		"Bob/sms": DecisionOptedOut, "Bob/email": DecisionNoAddress,
		"Cy/sms": DecisionOffShift, "Cy/email": DecisionOffShift,
		// Named contacts are told on shift or not, but opt-outs still hold.
		"Di/sms": DecisionNotified, "Di/email": DecisionOptedOut,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	until := time.Date(2026, 6, 2, 7, 0, 0, 0, time.UTC)
	for _, d := range decide(cands[:1], s, until, "UTC") {
		if d.Decision != DecisionQuietHours || d.address == "" {
			t.Errorf("in quiet hours: %+v", d)
		}
	}
}
