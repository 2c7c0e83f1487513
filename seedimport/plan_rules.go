package seedimport

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/freshtrack/freshtrack/alerting"
)

// rules generates each unit's own alert rules from its thresholds and the
// seed's alert_rules that apply to it (unit > site > organisation; the seed
// evaluated every unit, so FreshTrack's per-kind defaults do not decide).
func (pl *planner) rules() {
	t := pl.rep.table("alert_rules", "units + alert_rules")
	byUnit, bySite, byOrg := map[string][]sRule{}, map[string][]sRule{}, map[string][]sRule{}
	reportOnly := map[string]int{}
	for _, r := range pl.d.rules {
		t.Read++
		switch {
		case r.UnitID != nil:
			if pl.p.unitsByID[*r.UnitID] == nil {
				t.skip("unit not imported", 1)
				continue
			}
			byUnit[*r.UnitID] = append(byUnit[*r.UnitID], r)
		case r.SiteID != nil:
			if _, ok := pl.siteOrg[*r.SiteID]; !ok {
				t.skip("site not imported", 1)
				continue
			}
			bySite[*r.SiteID] = append(bySite[*r.SiteID], r)
		default:
			if !pl.orgs[r.OrgID] {
				t.skip("organisation not imported", 1)
				continue
			}
			byOrg[r.OrgID] = append(byOrg[r.OrgID], r)
		}
		if r.AlertType != "alarm_active" && (r.ExpectedInterval == nil || r.OfflineMultiplier == nil) {
			t.skip(fmt.Sprintf("no FreshTrack rule kind (%s)", r.AlertType), 1)
		}
		for _, f := range r.ReportOnly {
			reportOnly[f]++
		}
	}
	newestFirst := func(rs []sRule) []sRule {
		out := slices.Clone(rs)
		slices.SortFunc(out, func(a, b sRule) int { return cmp.Or(b.UpdatedAt.Compare(a.UpdatedAt), strings.Compare(a.ID, b.ID)) })
		return out
	}
	seedUnit := map[string]sUnit{}
	for _, u := range pl.d.units {
		seedUnit[u.ID] = u
	}
	siteRules := 0
	for i := range pl.p.units {
		u := &pl.p.units[i]
		chain := newestFirst(byUnit[u.ID])
		chain = append(chain, newestFirst(bySite[u.SiteID])...)
		chain = append(chain, newestFirst(byOrg[u.OrgID])...)
		if len(bySite[u.SiteID]) > 0 {
			siteRules++
		}
		var alarm []sRule
		for _, r := range chain {
			if r.AlertType == "alarm_active" {
				alarm = append(alarm, r)
			}
		}
		unit := seedUnit[u.ID].TempUnit
		if unit != Celsius && unit != Fahrenheit {
			unit = pl.o.ReadingsUnit
		}
		confirm, enabled := 600, true
		if len(alarm) > 0 {
			confirm, enabled = max(alarm[0].DelayMinutes, 0)*60, alarm[0].Enabled
		}
		hyst := 0.5
		if h := seedUnit[u.ID].HysteresisF; h != nil && *h >= 0 {
			hyst = *h * 5 / 9
		} else if u.Fahrenheit {
			hyst = 0.28
		}
		var lo, hi *float64
		for _, r := range alarm {
			if hi == nil && r.TempMax != nil {
				hi = ptr(toCelsius(*r.TempMax, unit))
			}
			if lo == nil && r.TempMin != nil {
				lo = ptr(toCelsius(*r.TempMin, unit))
			}
		}
		for _, k := range []struct {
			kind string
			own  *float64
		}{{alerting.KindTempHigh, hi}, {alerting.KindTempLow, lo}} {
			id := deriveID("rule", u.ID, k.kind)
			pl.p.rules = append(pl.p.rules, tRule{ID: id, OrgID: u.OrgID, UnitID: u.ID, Kind: k.kind, Threshold: k.own,
				ConfirmSeconds: confirm, Hysteresis: round2(hyst), Severity: "critical", Enabled: enabled})
			u.Rules[k.kind] = id
			t.Written++
		}
		for _, r := range chain {
			if r.ExpectedInterval == nil || r.OfflineMultiplier == nil || *r.ExpectedInterval <= 0 || *r.OfflineMultiplier <= 0 {
				continue
			}
			minutes := float64(*r.ExpectedInterval) * *r.OfflineMultiplier / 60
			if r.OfflineAdditionalMins != nil {
				minutes += float64(*r.OfflineAdditionalMins)
			}
			id := deriveID("rule", u.ID, alerting.KindSensorOffline)
			pl.p.rules = append(pl.p.rules, tRule{ID: id, OrgID: u.OrgID, UnitID: u.ID, Kind: alerting.KindSensorOffline,
				Threshold: ptr(math.Max(1, math.Round(minutes*100)/100)), Severity: "warning", AutoResolve: true, Enabled: r.Enabled})
			u.Rules[alerting.KindSensorOffline] = id
			t.Written++
			break
		}
	}
	if siteRules > 0 {
		pl.rep.note("site-level alert rules were expanded into the rules of each of their units (%d units): FreshTrack has unit and organisation rules", siteRules)
	}
	if len(reportOnly) > 0 {
		var parts []string
		for _, f := range slices.Sorted(maps.Keys(reportOnly)) {
			parts = append(parts, fmt.Sprintf("%s (%d rules)", f, reportOnly[f]))
		}
		pl.rep.note("alert rule settings with no FreshTrack equivalent were not imported: %s", strings.Join(parts, ", "))
	}
}

// contacts maps escalation contacts, and people with SMS on (the seed texted
// every profile with sms_enabled), to contacts.
func (pl *planner) contacts() {
	t := pl.rep.table("contacts", "escalation_contacts")
	represented := map[string]bool{}
	for _, c := range pl.d.contacts {
		t.Read++
		if !pl.orgs[c.OrgID] {
			t.skip("organisation not imported", 1)
			continue
		}
		row := tContact{ID: c.ID, OrgID: c.OrgID, Name: cmp.Or(clip(c.Name, 200), "Contact"), OnShift: c.Active, Role: priorityRole(c.Priority)}
		if ph, ok := e164(c.Phone); ok {
			row.Phone = &ph
		}
		if c.Email != nil && validEmail(strings.TrimSpace(*c.Email)) {
			row.Email = ptr(strings.TrimSpace(*c.Email))
		}
		if row.Phone == nil && row.Email == nil {
			t.skip("no valid phone (E.164) or email", 1)
			continue
		}
		if c.ProfileID != nil {
			if uid, ok := pl.profileUser[*c.ProfileID]; ok {
				row.UserID = &uid
				if role, ok := pl.roleOf[[2]string{c.OrgID, uid}]; ok {
					row.Role = role
				}
			}
			represented[*c.ProfileID] = true
			pl.profileContact[*c.ProfileID] = c.ID
		}
		pl.p.contacts = append(pl.p.contacts, row)
		t.Written++
	}
	pt := pl.rep.table("contacts", "profiles (sms_enabled)")
	for _, pr := range pl.d.profiles {
		if !pr.SMSEnabled || pr.OrgID == nil {
			continue
		}
		pt.Read++
		switch {
		case !pl.orgs[*pr.OrgID]:
			pt.skip("organisation not imported", 1)
			continue
		case represented[pr.ID]:
			pt.Merged++ // already an escalation contact
			continue
		}
		ph, ok := "", false
		if pr.Phone != nil {
			ph, ok = e164(*pr.Phone)
		}
		if !ok {
			pt.skip("no E.164 phone", 1)
			continue
		}
		uid := pl.profileUser[pr.ID]
		role := "staff"
		if r, ok := pl.roleOf[[2]string{*pr.OrgID, uid}]; ok {
			role = r
		}
		name := "Contact"
		if pr.FullName != nil && strings.TrimSpace(*pr.FullName) != "" {
			name = clip(*pr.FullName, 200)
		} else if pr.Email != nil {
			name = clip(*pr.Email, 200)
		}
		row := tContact{ID: pr.ID, OrgID: *pr.OrgID, Name: name, Role: role, Phone: &ph, OnShift: true}
		if uid != "" {
			row.UserID = &uid
		}
		if pr.EmailEnabled && pr.Email != nil && validEmail(strings.TrimSpace(*pr.Email)) {
			row.Email = ptr(strings.TrimSpace(*pr.Email))
		}
		pl.profileContact[pr.ID] = pr.ID
		pl.p.contacts = append(pl.p.contacts, row)
		pt.Written++
	}
}

func validRoles(in []string) []string {
	var out []string
	for _, r := range in {
		if role, ok := memberRole(strings.ToLower(strings.TrimSpace(r))); ok && !slices.Contains(out, role) {
			out = append(out, role)
		}
	}
	return out
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
