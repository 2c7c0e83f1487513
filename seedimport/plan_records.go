package seedimport

import (
	"cmp"
	"encoding/json"
	"github.com/freshtrack/freshtrack/auth"
	"slices"
	"strings"
)

func (pl *planner) checks() {
	t := pl.rep.table("manual_checks", "manual_temperature_logs")
	for _, s := range pl.d.manual {
		t.Read++
		u := pl.p.unitsByID[s.UnitID]
		if u == nil {
			t.skip("unit not imported", 1)
			continue
		}
		row := tCheck{ID: s.ID, OrgID: u.OrgID, UnitID: u.ID, CheckedAt: s.RecordedAt, TempC: toCelsius(s.Temperature, pl.o.ReadingsUnit),
			CheckedBy: pl.user(s.ProfileID), CreatedAt: s.CreatedAt}
		var notes []string
		if s.Notes != nil && strings.TrimSpace(*s.Notes) != "" {
			notes = append(notes, strings.TrimSpace(*s.Notes))
		}
		if s.PhotoURL != nil && strings.TrimSpace(*s.PhotoURL) != "" {
			notes = append(notes, "Photo: "+strings.TrimSpace(*s.PhotoURL))
		}
		if len(notes) > 0 {
			row.Notes = ptr(strings.Join(notes, "\n"))
		}
		pl.p.checks = append(pl.p.checks, row)
		t.Written++
	}
}

// audit maps the seed's event log and rule history to audit_log rows, in
// time order per organisation; the database's trigger chains them. Rows an
// earlier run imported are left alone (audit_log is append-only).
func (pl *planner) audit() {
	t := pl.rep.table("audit_log", "event_logs")
	for _, e := range pl.d.events {
		t.Read++
		if !pl.orgs[e.OrgID] {
			t.skip("organisation not imported", 1)
			continue
		}
		original := "event_logs:" + e.ID
		if pl.ts.audited[original] {
			t.Present++
			continue
		}
		details := map[string]any{}
		if e.Data != nil {
			var v any
			if json.Unmarshal([]byte(*e.Data), &v) == nil {
				if m, ok := v.(map[string]any); ok {
					details = m
				} else if v != nil {
					details["data"] = v
				}
			} else {
				details["data"] = *e.Data
			}
		}
		set := func(k string, v *string) {
			if v != nil && *v != "" {
				details[k] = *v
			}
		}
		set("category", e.Category)
		set("severity", e.Severity)
		set("title", e.Title)
		set("ip", e.IP)
		set("user_agent", e.UA)
		if e.Impersonated || e.ActingUserID != nil || e.ImpersonationID != nil {
			imp := map[string]any{"was_impersonated": e.Impersonated}
			if e.ActingUserID != nil {
				imp["acting_user_id"] = *e.ActingUserID
			}
			if e.ImpersonationID != nil {
				imp["session_id"] = *e.ImpersonationID
			}
			details["impersonation"] = imp
		}
		details["imported_from"] = "freshtrack_pro.event_logs"
		details["original_id"] = e.ID
		actor := "system"
		switch e.ActorType {
		case "api":
			actor = "api"
		case "user":
			actor = "user:unknown"
			if u := pl.user(e.ActorID); u != nil {
				actor = "user:" + *u
			}
		}
		row := tAudit{OrgID: e.OrgID, Actor: actor, Action: cmp.Or(clip(e.EventType, 200), "event"), At: e.At, Original: original, Details: details,
			TargetType: "organization", TargetID: e.OrgID}
		switch {
		case e.UnitID != nil && pl.p.unitsByID[*e.UnitID] != nil:
			row.TargetType, row.TargetID = "unit", *e.UnitID
		case e.AreaID != nil:
			row.TargetType, row.TargetID = "area", *e.AreaID
		case e.SiteID != nil:
			row.TargetType, row.TargetID = "site", *e.SiteID
		}
		pl.p.audits = append(pl.p.audits, row)
		t.Written++
	}
	h := pl.rep.table("audit_log", "alert_rules_history")
	ruleOrg := map[string]string{}
	for _, r := range pl.d.rules {
		ruleOrg[r.ID] = r.OrgID
	}
	for _, e := range pl.d.history {
		h.Read++
		org := ruleOrg[e.RuleID]
		if !pl.orgs[org] {
			h.skip("rule or organisation not imported", 1)
			continue
		}
		original := "alert_rules_history:" + e.ID
		if pl.ts.audited[original] {
			h.Present++
			continue
		}
		details := map[string]any{"imported_from": "freshtrack_pro.alert_rules_history", "original_id": e.ID}
		for k, v := range map[string]*string{"old_values": e.OldValues, "new_values": e.NewValues} {
			if v == nil {
				continue
			}
			var parsed any
			if json.Unmarshal([]byte(*v), &parsed) == nil {
				details[k] = parsed
			} else {
				details[k] = *v
			}
		}
		actor := "system"
		if u := pl.user(e.ChangedBy); u != nil {
			actor = "user:" + *u
		}
		pl.p.audits = append(pl.p.audits, tAudit{OrgID: org, Actor: actor, Action: "alert_rule." + clip(e.ChangeType, 100), At: e.At,
			Original: original, Details: details, TargetType: "alert_rule", TargetID: e.RuleID})
		h.Written++
	}
	slices.SortStableFunc(pl.p.audits, func(a, b tAudit) int {
		return cmp.Or(strings.Compare(a.OrgID, b.OrgID), a.At.Compare(b.At), strings.Compare(a.Original, b.Original))
	})
}

// digests subscribes people who had the seed's daily or weekly digest on.
func (pl *planner) digests() {
	t := pl.rep.table("digest_subscriptions", "profiles (digest_daily, digest_weekly)")
	siteFilters, badZones := 0, 0
	for _, pr := range pl.d.profiles {
		if !pr.DigestDaily && !pr.DigestWeekly {
			continue
		}
		for _, freq := range []string{"daily", "weekly"} {
			if (freq == "daily" && !pr.DigestDaily) || (freq == "weekly" && !pr.DigestWeekly) {
				continue
			}
			t.Read++
			uid, ok := pl.profileUser[pr.ID]
			switch {
			case pr.OrgID == nil || !pl.orgs[*pr.OrgID]:
				t.skip("organisation not imported", 1)
				continue
			case !ok:
				t.skip("person not imported", 1)
				continue
			case !pr.EmailEnabled:
				t.skip("email off", 1)
				continue
			case pr.Email == nil || !validEmail(strings.TrimSpace(*pr.Email)):
				t.skip("no valid email", 1)
				continue
			}
			hour := 9
			if pr.DigestTime != nil {
				if h, ok := digestHour(*pr.DigestTime); ok {
					hour = h
				}
			}
			zone := "UTC"
			if pr.Timezone != nil && validZone(strings.TrimSpace(*pr.Timezone)) {
				zone = strings.TrimSpace(*pr.Timezone)
			} else if pr.Timezone != nil && *pr.Timezone != "" {
				badZones++
			}
			if pr.DigestSites != nil && strings.TrimSpace(*pr.DigestSites) != "" && strings.TrimSpace(*pr.DigestSites) != "null" {
				siteFilters++
			}
			pl.p.digests = append(pl.p.digests, tDigest{OrgID: *pr.OrgID, UserID: uid, Frequency: freq, LocalHour: hour, Weekday: 1,
				Timezone: zone, Email: strings.TrimSpace(*pr.Email)})
			t.Written++
		}
	}
	pl.rep.note("digest times keep their hour only (FreshTrack sends on the hour); weekly digests go out on Mondays")
	if siteFilters > 0 {
		pl.rep.note("%d digest subscriptions had a site filter (digest_site_ids), which FreshTrack lacks: they cover every site", siteFilters)
	}
	if badZones > 0 {
		pl.rep.note("%d people had a time zone that is not an IANA name; their digests use UTC", badZones)
	}
}

// secrets lists the TTN webhook secrets the legacy ingest routes accept.
func (pl *planner) secrets() {
	t := pl.rep.table("legacy_secrets", "ttn_connections.webhook_secret")
	encrypted := 0
	deleted := map[string]bool{}
	for _, o := range pl.p.orgs {
		deleted[o.ID] = o.DeletedAt != nil
	}
	for _, c := range pl.d.ttn {
		t.Read++
		switch {
		case !pl.orgs[c.OrgID]:
			t.skip("organisation not imported", 1)
			continue
		case deleted[c.OrgID]:
			t.skip("organisation deleted", 1)
			continue
		case !c.Active:
			t.skip("inactive connection", 1)
			continue
		case strings.TrimSpace(c.Secret) == "":
			t.skip("empty secret", 1)
			continue
		}
		pl.p.secrets = append(pl.p.secrets, tSecret{OrgID: c.OrgID, Secret: c.Secret, Source: auth.LegacySourceWebhookSecret})
		t.ToLegacySecrets++
		// The secret the seed provisioned on the TTN webhook (sent as a raw
		// Authorization header) is another credential of the organisation.
		if c.EncryptedSecret != "" {
			provisioned, ok := ttnSecret(c.EncryptedSecret, pl.o.TTNEncryptionSalt)
			switch {
			case !ok:
				encrypted++
			case provisioned != c.Secret:
				pl.p.secrets = append(pl.p.secrets, tSecret{OrgID: c.OrgID, Secret: provisioned, Source: auth.LegacySourceTTNWebhookSecret})
				t.ToLegacySecrets++
			}
		}
	}
	if encrypted > 0 {
		pl.rep.note("%d provisioned TTN webhook secrets (ttn_webhook_secret_encrypted) could not be read with the TTN encryption salt given (--ttn-encryption-salt, the seed's TTN_ENCRYPTION_SALT): re-provision those TTN webhooks or add their secrets", encrypted)
	}
}
