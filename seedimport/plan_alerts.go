package seedimport

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/freshtrack/freshtrack/alerting"
)

// alertKind maps a seed alert to a FreshTrack rule kind.
func alertKind(s sAlert, u *tUnit, readingsUnit string) (string, bool) {
	switch s.Type {
	case "alarm_active":
		switch {
		case s.Violated != nil && strings.EqualFold(*s.Violated, "max"):
			return alerting.KindTempHigh, true
		case s.Violated != nil && strings.EqualFold(*s.Violated, "min"):
			return alerting.KindTempLow, true
		case s.TriggerTemp != nil && toCelsius(float64(*s.TriggerTemp)/10, readingsUnit) < u.SafeMinC:
			return alerting.KindTempLow, true
		}
		return alerting.KindTempHigh, true
	case "monitoring_interrupted":
		return alerting.KindSensorOffline, true
	case "low_battery":
		return alerting.KindBatteryLow, true
	case "sensor_fault":
		return alerting.KindSensorFault, true
	}
	return "", false
}

// ruleFor is the rule an imported alert of kind hangs from: the unit's own
// generated rule, else its organisation's rule for the unit's kind.
func (pl *planner) ruleFor(u *tUnit, kind string) string {
	if id, ok := u.Rules[kind]; ok {
		return id
	}
	if id, ok := pl.ts.orgRules[[3]string{u.OrgID, u.Kind, kind}]; ok {
		return id
	}
	if pl.o.DryRun {
		// The import creates the organisation's default rules first.
		return deriveID("dry-run", u.OrgID, u.Kind, kind)
	}
	return ""
}

func (pl *planner) user(profile *string) *string {
	if profile == nil {
		return nil
	}
	if u, ok := pl.profileUser[*profile]; ok {
		return &u
	}
	return nil
}

// seedMeta is the JSON an alert's metadata holds.
type seedMeta struct {
	Resolution           string `json:"resolution"`
	AcknowledgementNotes string `json:"acknowledgementNotes"`
}

func (pl *planner) alerts() {
	t := pl.rep.table("alerts", "alerts")
	var inconsistent, pinned int
	for _, s := range pl.d.alerts {
		t.Read++
		u := pl.p.unitsByID[s.UnitID]
		if u == nil {
			t.skip("unit not imported", 1)
			continue
		}
		kind, ok := alertKind(s, u, pl.o.ReadingsUnit)
		if !ok {
			t.skip(fmt.Sprintf("no FreshTrack kind (%s)", s.Type), 1)
			continue
		}
		rule := pl.ruleFor(u, kind)
		if rule == "" {
			t.skip("no rule of its kind for the unit", 1)
			continue
		}
		a := tAlert{ID: s.ID, OrgID: u.OrgID, UnitID: u.ID, RuleID: rule, Kind: kind, Severity: s.Severity, StartedAt: s.TriggeredAt,
			AckAt: s.AckAt, AckBy: pl.user(s.AckBy), EscalationStep: max(s.EscalationLevel, 0)}
		if a.Severity != "info" && a.Severity != "warning" && a.Severity != "critical" {
			a.Severity = "warning"
		}
		switch s.Status {
		case "resolved":
			a.Status = "resolved"
			a.ResolvedAt = ptr(cmp.Or(deref(s.ResolvedAt), s.UpdatedAt, s.TriggeredAt))
			a.ResolvedBy = pl.user(s.ResolvedBy)
			a.AutoResolved = s.ResolvedBy == nil
		case "acknowledged":
			a.Status = "acknowledged"
			a.AckAt = ptr(cmp.Or(deref(s.AckAt), s.UpdatedAt, s.TriggeredAt))
		default: // active, escalated
			a.Status = "triggered"
			if s.AckAt != nil {
				a.Status = "acknowledged"
			}
		}
		if a.Status != "resolved" && s.ResolvedAt != nil {
			inconsistent++
		}
		if isTempKind(kind) {
			if s.TriggerTemp != nil {
				a.PeakC = ptr(toCelsius(float64(*s.TriggerTemp)/10, pl.o.ReadingsUnit))
			}
			a.ThresholdC = ptr(pl.threshold(u, kind))
		}
		// An imported alert names no policy (the import writes no
		// escalation policies, and a notification policy is chosen when an
		// alert opens), so it escalates by the built-in steps.
		steps := len(alerting.DefaultSteps())
		if a.Status == "triggered" && a.EscalationStep < steps-1 {
			// The seed never escalated (SEED-SYSTEM.md D6): an imported
			// alert must not page anyone now for what happened then.
			a.EscalationStep = steps - 1
			pinned++
		}
		pl.p.alerts = append(pl.p.alerts, a)
		t.Written++
	}
	if inconsistent > 0 {
		pl.rep.note("%d open seed alerts had a resolved_at; FreshTrack follows their status and keeps them open", inconsistent)
	}
	if pinned > 0 {
		pl.rep.note("%d unacknowledged imported alerts count as having sent every escalation step (the seed's escalation never ran): FreshTrack does not page anyone for them; acknowledge or resolve them in FreshTrack", pinned)
	}
	pl.oneOpenPerRule(t)
	for i := range pl.p.alerts {
		pl.alertsByID[pl.p.alerts[i].ID] = &pl.p.alerts[i]
	}
	pl.alertEvents()
}

// threshold is the °C limit a temperature rule of the unit alerts at.
func (pl *planner) threshold(u *tUnit, kind string) float64 {
	for _, r := range pl.p.rules {
		if r.UnitID == u.ID && r.Kind == kind && r.Threshold != nil {
			return *r.Threshold
		}
	}
	if kind == alerting.KindTempLow {
		return u.SafeMinC
	}
	return u.SafeMaxC
}

// oneOpenPerRule keeps, of several open alerts of one unit and rule, the
// newest open and resolves the others (alerts_one_open), also when
// FreshTrack already has an open alert there.
func (pl *planner) oneOpenPerRule(t *TableOutcome) {
	byKey := map[[2]string][]int{}
	for i, a := range pl.p.alerts {
		if a.Status != "resolved" {
			k := [2]string{a.UnitID, a.RuleID}
			byKey[k] = append(byKey[k], i)
		}
	}
	for k, idx := range byKey {
		slices.SortFunc(idx, func(a, b int) int {
			return cmp.Or(pl.p.alerts[b].StartedAt.Compare(pl.p.alerts[a].StartedAt), strings.Compare(pl.p.alerts[a].ID, pl.p.alerts[b].ID))
		})
		keep := pl.p.alerts[idx[0]].ID
		rest := idx[1:]
		if other, ok := pl.ts.openAlerts[k]; ok && other != keep {
			keep, rest = other, idx
		}
		for _, i := range rest {
			a := &pl.p.alerts[i]
			at := pl.now
			if j := idx[0]; i != j {
				at = pl.p.alerts[j].StartedAt
			}
			a.Status, a.ResolvedAt, a.AutoResolved = "resolved", ptr(at), true
			pl.p.events = append(pl.p.events, tEvent{OrgID: a.OrgID, AlertID: a.ID, Kind: "auto_resolved", At: at,
				Details: map[string]any{"imported": true, "note": "superseded by alert " + keep + ": FreshTrack keeps one open alert per unit and rule"}})
			t.Merged++
		}
	}
}

// alertEvents synthesises each imported alert's history.
func (pl *planner) alertEvents() {
	t := pl.rep.table("alert_events", "alerts (lifecycle)")
	seedByID := map[string]sAlert{}
	for _, s := range pl.d.alerts {
		seedByID[s.ID] = s
	}
	for _, a := range pl.p.alerts {
		s := seedByID[a.ID]
		t.Read++
		var meta seedMeta
		if s.Metadata != nil {
			_ = json.Unmarshal([]byte(*s.Metadata), &meta)
		}
		add := func(kind string, at time.Time, actor *string, details map[string]any) {
			details["imported"] = true
			pl.p.events = append(pl.p.events, tEvent{OrgID: a.OrgID, AlertID: a.ID, Kind: kind, At: at, ActorID: actor, Details: details})
			t.Written++
		}
		d := map[string]any{"seed_type": s.Type, "seed_status": s.Status}
		if s.Message != nil {
			d["message"] = *s.Message
		}
		add("triggered", s.TriggeredAt, nil, d)
		if s.EscalatedAt != nil {
			add("escalated", *s.EscalatedAt, nil, map[string]any{"level": s.EscalationLevel})
		}
		if a.AckAt != nil {
			d := map[string]any{}
			if meta.AcknowledgementNotes != "" {
				d["comment"] = meta.AcknowledgementNotes
			}
			add("acknowledged", *a.AckAt, a.AckBy, d)
		}
		if s.Status == "resolved" && a.ResolvedAt != nil {
			d := map[string]any{}
			if meta.Resolution != "" {
				d["resolution"] = meta.Resolution
			}
			kind := "resolved"
			if a.AutoResolved {
				kind = "auto_resolved"
			}
			add(kind, *a.ResolvedAt, a.ResolvedBy, d)
		}
	}
}

func (pl *planner) actions() {
	t := pl.rep.table("corrective_actions", "corrective_actions")
	orphaned := 0
	for _, s := range pl.d.actions {
		t.Read++
		u := pl.p.unitsByID[s.UnitID]
		if u == nil {
			t.skip("unit not imported", 1)
			continue
		}
		row := tAction{ID: s.ID, OrgID: u.OrgID, UnitID: u.ID, TakenBy: pl.user(s.ProfileID), TakenAt: s.ActionAt, CreatedAt: s.CreatedAt,
			Action: cmp.Or(clip(s.Description, 4000), "(no description recorded in FreshTrack Pro)")}
		if a := pl.alertsByID[s.AlertID]; a != nil && a.OrgID == u.OrgID {
			row.AlertID = &a.ID
		} else {
			orphaned++
		}
		var notes []string
		if s.ActionTaken != nil && strings.TrimSpace(*s.ActionTaken) != "" {
			notes = append(notes, strings.TrimSpace(*s.ActionTaken))
		}
		if s.PhotoURL != nil && strings.TrimSpace(*s.PhotoURL) != "" {
			notes = append(notes, "Photo: "+strings.TrimSpace(*s.PhotoURL))
		}
		if len(notes) > 0 {
			row.Notes = ptr(strings.Join(notes, "\n"))
		}
		pl.p.actions = append(pl.p.actions, row)
		t.Written++
	}
	if orphaned > 0 {
		pl.rep.note("%d corrective actions belong to alerts that were not imported (kinds FreshTrack lacks); they are kept on their unit without an alert", orphaned)
	}
}

func (pl *planner) notifications() {
	t := pl.rep.table("notifications", "notification_deliveries")
	alertUnit := map[string]string{}
	for _, s := range pl.d.alerts {
		alertUnit[s.ID] = s.UnitID
	}
	contactOrg := map[string]string{}
	for _, c := range pl.p.contacts {
		contactOrg[c.ID] = c.OrgID
	}
	for _, s := range pl.d.deliveries {
		t.Read++
		u := pl.p.unitsByID[alertUnit[s.AlertID]]
		status := map[string]string{"pending": "queued", "sent": "sent", "delivered": "delivered", "failed": "failed"}[s.Status]
		switch {
		case s.Channel == "push":
			t.skip("push (FreshTrack sends SMS and email)", 1)
			continue
		case s.Channel != "sms" && s.Channel != "email":
			t.skip("unknown channel", 1)
			continue
		case u == nil:
			t.skip("its alert's unit not imported", 1)
			continue
		case strings.TrimSpace(s.Recipient) == "":
			t.skip("no recipient", 1)
			continue
		case status == "":
			t.skip("unknown status", 1)
			continue
		}
		row := tNotification{ID: s.ID, OrgID: u.OrgID, Channel: s.Channel, Recipient: strings.TrimSpace(s.Recipient), Status: status,
			DedupeKey: "import:" + s.ID, ProviderID: s.ExternalID, LastError: s.Error, CreatedAt: s.CreatedAt,
			SentAt: s.SentAt, DeliveredAt: s.DeliveredAt}
		row.UpdatedAt = cmp.Or(deref(s.DeliveredAt), deref(s.FailedAt), deref(s.SentAt), s.CreatedAt)
		if a := pl.alertsByID[s.AlertID]; a != nil {
			row.AlertID = &a.ID
		}
		if s.RetryCount != nil {
			row.Attempts, _ = strconv.Atoi(strings.TrimSpace(*s.RetryCount))
		}
		if s.ProfileID != nil {
			if c, ok := pl.profileContact[*s.ProfileID]; ok && contactOrg[c] == u.OrgID {
				row.ContactID = &c
			}
		}
		pl.p.notifications = append(pl.p.notifications, row)
		t.Written++
	}
}

func isTempKind(kind string) bool {
	return kind == alerting.KindTempHigh || kind == alerting.KindTempLow
}

func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
