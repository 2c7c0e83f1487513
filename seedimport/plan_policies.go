package seedimport

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/freshtrack/freshtrack/alerting"
)

// The seed's notification policies become FreshTrack notification policies
// (migration 0016): organisation, site or unit scope, per alert kind, with
// their acknowledgement deadline, reminders, resolve notifications, quiet
// hours and minimum severity. They are not also imported as escalation
// policies: notification policies take precedence over those and carry
// everything the seed configured.

// policyKinds maps a seed alert_type to the FreshTrack alert kinds its
// policy covers. alarm_active is both temperature kinds; the seed's
// sensor_fault covered any sensor malfunction, which FreshTrack splits into
// error codes (sensor_fault, the kind imported sensor_fault alerts get) and
// implausible values (sensor_implausible).
var policyKinds = map[string][]string{
	"alarm_active":           {alerting.KindTempHigh, alerting.KindTempLow},
	"monitoring_interrupted": {alerting.KindSensorOffline},
	"low_battery":            {alerting.KindBatteryLow},
	"door_open":              {alerting.KindDoorOpen},
	"calibration_due":        {alerting.KindCalibrationDue},
	"missed_manual_entry":    {alerting.KindManualLogMissed},
	"sensor_fault":           {alerting.KindSensorFault, alerting.KindSensorImplausible},
}

type seedStep struct {
	DelayMinutes    float64  `json:"delay_minutes"`
	Channels        []string `json:"channels"`
	ContactPriority *int     `json:"contact_priority"`
}

type goStep struct {
	AfterMinutes int      `json:"after_minutes"`
	Channels     []string `json:"channels"`
	Roles        []string `json:"roles,omitempty"`
}

// goChannels keeps the channels FreshTrack sends (email, sms), lower-cased.
func goChannels(in []string) []string {
	var out []string
	for _, c := range in {
		c = strings.ToLower(strings.TrimSpace(c))
		if (c == "sms" || c == "email") && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// policyScope is where a seed policy lands: its organisation and at most
// one of site and unit.
type policyScope struct {
	org          string
	site, unit   *string
	label, ident string
}

// scopeOf places a seed policy (unit > site > organisation, as the seed
// read them), or says why it cannot be imported.
func (pl *planner) scopeOf(sp sPolicy) (policyScope, string) {
	switch {
	case sp.UnitID != nil:
		u := pl.p.unitsByID[*sp.UnitID]
		if u == nil {
			return policyScope{}, "unit not imported"
		}
		return policyScope{org: u.OrgID, unit: sp.UnitID, label: "unit", ident: "unit:" + *sp.UnitID}, ""
	case sp.SiteID != nil:
		org, ok := pl.siteOrg[*sp.SiteID]
		if !ok {
			return policyScope{}, "site not imported"
		}
		return policyScope{org: org, site: sp.SiteID, label: "site", ident: "site:" + *sp.SiteID}, ""
	case sp.OrgID != nil && pl.orgs[*sp.OrgID]:
		return policyScope{org: *sp.OrgID, label: "organisation", ident: "org:" + *sp.OrgID}, ""
	}
	return policyScope{}, "organisation not imported"
}

// policyNotes counts, over the imported seed policies, the settings the
// report mentions.
type policyNotes struct {
	droppedChannels, firstStepMoved         int
	reminderClamped, reminderNoInterval     int
	ackNoDeadline, ackClamped               int
	quietInvalid, severityUnknown           int
	siteManagers, assignedUsers, noWarnings int
	existing                                int
	droppedChannelNames                     map[string]bool
}

// policies maps the seed's notification policies to notification_policies
// rows, one per FreshTrack kind the seed's alert type covers. Several seed
// policies on one scope and alert type: the newest updated_at wins.
func (pl *planner) policies() {
	t := pl.rep.table("notification_policies", "notification_policies")
	newest := map[string]sPolicy{}
	scopes := map[string]policyScope{}
	for _, sp := range pl.d.policies {
		t.Read++
		if _, ok := policyKinds[sp.AlertType]; !ok {
			t.skip(fmt.Sprintf("no FreshTrack alert kind (%s)", sp.AlertType), 1)
			continue
		}
		sc, why := pl.scopeOf(sp)
		if why != "" {
			t.skip(why, 1)
			continue
		}
		key := sc.ident + "|" + sp.AlertType
		if old, ok := newest[key]; ok {
			t.Merged++
			if old.UpdatedAt.After(sp.UpdatedAt) || old.UpdatedAt.Equal(sp.UpdatedAt) && old.ID < sp.ID {
				continue
			}
		}
		newest[key], scopes[key] = sp, sc
	}
	n := policyNotes{droppedChannelNames: map[string]bool{}}
	for _, key := range slices.Sorted(maps.Keys(newest)) {
		sp, sc := newest[key], scopes[key]
		base, why := pl.policyRow(sp, sc, &n)
		if why != "" {
			t.skip(why, 1)
			continue
		}
		for i, kind := range policyKinds[sp.AlertType] {
			row := base
			row.Kind, row.Name = kind, clip(fmt.Sprintf("FreshTrack Pro policy (%s, %s)", sc.label, kind), 200)
			if i > 0 {
				// The seed had one row for several kinds: the others get ids
				// derived from it, the same on every run.
				row.ID = deriveID("notification_policy", sp.ID, kind)
			}
			scope := [4]string{sc.org, deref(sc.site), deref(sc.unit), kind}
			if other, ok := pl.ts.notificationPolicies[scope]; ok && other != row.ID {
				t.skip("FreshTrack already has a policy there", 1)
				n.existing++
				continue
			}
			pl.p.policies = append(pl.p.policies, row)
			t.Written++
		}
	}
	pl.policyReport(n)
}

// policyRow maps one seed policy's settings (everything but its kind), or
// says why it cannot be imported.
func (pl *planner) policyRow(sp sPolicy, sc policyScope, n *policyNotes) (tPolicy, string) {
	row := tPolicy{ID: sp.ID, OrgID: sc.org, SiteID: sc.site, UnitID: sc.unit, MinSeverity: "info", NotifyOnResolve: sp.SendResolved}
	roles := validRoles(sp.NotifyRoles)
	if len(roles) == 0 {
		roles = []string{"staff"}
	}
	initial := goChannels(sp.InitialChannels)
	var steps []goStep
	if len(initial) > 0 {
		steps = append(steps, goStep{AfterMinutes: 0, Channels: initial, Roles: roles})
	}
	var seed []seedStep
	_ = json.Unmarshal(sp.Steps, &seed)
	after := 0.0
	for _, s := range seed {
		after += max(s.DelayMinutes, 0)
		ch := goChannels(s.Channels)
		if len(ch) == 0 {
			continue
		}
		r := roles
		if s.ContactPriority != nil {
			r = []string{priorityRole(*s.ContactPriority)}
		}
		steps = append(steps, goStep{AfterMinutes: int(math.Round(after)), Channels: ch, Roles: r})
	}
	if len(steps) == 0 {
		return row, "no email or SMS step"
	}
	dropped := false
	for _, c := range sp.InitialChannels {
		if c := strings.TrimSpace(c); !slices.Contains(initial, strings.ToLower(c)) {
			n.droppedChannelNames[c], dropped = true, true
		}
	}
	n.droppedChannels += b2i(dropped)
	if steps[0].AfterMinutes != 0 {
		n.firstStepMoved++
		steps[0].AfterMinutes = 0
	}
	if len(steps) > alerting.MaxSteps {
		steps = steps[:alerting.MaxSteps]
	}
	raw, _ := json.Marshal(steps)
	if _, err := alerting.ParseSteps(raw); err != nil {
		return row, "steps FreshTrack refuses: " + err.Error()
	}
	row.Steps, row.StepCount = raw, len(steps)
	row.InitialChannels = json.RawMessage(`[]`) // step 0 keeps its own channels
	if len(initial) > 0 {
		row.InitialChannels, _ = json.Marshal(initial)
	}

	if sp.RequiresAck {
		switch {
		case sp.AckDeadline == nil || *sp.AckDeadline <= 0:
			n.ackNoDeadline++
		case *sp.AckDeadline > 10080:
			row.AckDeadline = 10080
			n.ackClamped++
		default:
			row.AckDeadline = *sp.AckDeadline
		}
	}
	if sp.Reminders {
		if sp.ReminderMinutes == nil || *sp.ReminderMinutes <= 0 {
			n.reminderNoInterval++
		} else {
			row.ReminderMinutes = min(max(*sp.ReminderMinutes, 5), 1440)
			if row.ReminderMinutes != *sp.ReminderMinutes {
				n.reminderClamped++
			}
		}
	}
	if sp.QuietHours {
		start, okStart := quietTime(deref(sp.QuietStart))
		end, okEnd := quietTime(deref(sp.QuietEnd))
		if okStart && okEnd && start != end {
			row.QuietStart, row.QuietEnd = &start, &end
		} else {
			n.quietInvalid++
		}
	}
	sev, known := minSeverity(sp.SeverityThreshold, sp.AllowWarnings)
	row.MinSeverity = sev
	n.severityUnknown += b2i(!known)
	n.noWarnings += b2i(!sp.AllowWarnings)
	n.siteManagers += b2i(sp.NotifySiteManagers)
	n.assignedUsers += b2i(sp.NotifyAssignedUsers)
	return row, ""
}

// quietTime normalises a seed local time ("7:00", "07:00", "07:00:00") to
// FreshTrack's "HH:MM"; ok is false for anything else.
func quietTime(s string) (string, bool) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	if len(parts) != 2 && len(parts) != 3 {
		return "", false
	}
	var v [3]int
	for i, p := range parts {
		if len(p) < 1 || len(p) > 2 || i > 0 && len(p) != 2 {
			return "", false
		}
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 {
			return "", false
		}
		v[i] = x
	}
	if v[0] > 23 || v[1] > 59 || v[2] > 59 {
		return "", false
	}
	return fmt.Sprintf("%02d:%02d", v[0], v[1]), true
}

// minSeverity maps the seed's severity_threshold and
// allow_warning_notifications to min_severity. A threshold the seed lacks
// is info (nothing silenced); an unknown one is info too, and known is
// false so the report says so: a typo never silences alerts.
func minSeverity(threshold *string, allowWarnings bool) (sev string, known bool) {
	sev, known = "info", true
	if threshold != nil {
		switch strings.ToUpper(strings.TrimSpace(*threshold)) {
		case "INFO":
		case "WARNING":
			sev = "warning"
		case "CRITICAL":
			sev = "critical"
		default:
			known = false
		}
	}
	if !allowWarnings {
		sev = "critical"
	}
	return sev, known
}

// policyReport notes what of the seed's policies changed or has no
// FreshTrack equivalent.
func (pl *planner) policyReport(n policyNotes) {
	if n.droppedChannels > 0 {
		pl.rep.note("%d notification policies' initial channels %s are not FreshTrack channels and were dropped (FreshTrack sends SMS and email; the web app shows every alert)",
			n.droppedChannels, strings.Join(slices.Sorted(maps.Keys(n.droppedChannelNames)), ", "))
	}
	if n.firstStepMoved > 0 {
		pl.rep.note("%d notification policies sent nothing by email or SMS when an alert opened; their first such step fires at once in FreshTrack", n.firstStepMoved)
	}
	if n.ackNoDeadline > 0 {
		pl.rep.note("%d notification policies required acknowledgement without a deadline: FreshTrack escalates by the steps' own times", n.ackNoDeadline)
	}
	if n.ackClamped > 0 {
		pl.rep.note("%d notification policies' acknowledgement deadlines were longer than 10080 minutes (a week) and are a week in FreshTrack", n.ackClamped)
	}
	if n.reminderClamped > 0 {
		pl.rep.note("%d notification policies' reminder intervals were outside 5 to 1440 minutes and were moved into that range", n.reminderClamped)
	}
	if n.reminderNoInterval > 0 {
		pl.rep.note("%d notification policies had reminders on without an interval: no reminders in FreshTrack", n.reminderNoInterval)
	}
	if n.quietInvalid > 0 {
		pl.rep.note("%d notification policies had quiet hours on with a missing, invalid or empty (start = end) window: imported without quiet hours", n.quietInvalid)
	}
	if n.severityUnknown > 0 {
		pl.rep.note("%d notification policies had a severity threshold other than INFO, WARNING or CRITICAL: they notify from info up", n.severityUnknown)
	}
	if n.noWarnings > 0 {
		pl.rep.note("%d notification policies did not allow warning notifications: their minimum severity is critical", n.noWarnings)
	}
	if n.siteManagers+n.assignedUsers > 0 {
		pl.rep.note("notification policies' notify_site_managers (%d) and notify_assigned_users (%d) have no FreshTrack equivalent and were not imported: FreshTrack notifies by the steps' roles and contacts",
			n.siteManagers, n.assignedUsers)
	}
	if n.existing > 0 {
		pl.rep.note("%d imported notification policies were not written: FreshTrack already has a policy for that scope and kind, which was left as it is", n.existing)
	}
}
