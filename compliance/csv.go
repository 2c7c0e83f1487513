package compliance

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// WriteJSON writes the report as compact JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report json: %w", err)
	}
	return nil
}

// CSV sections, in the order WriteCSV writes them.
const (
	SectionReport            = "report"
	SectionDailySummary      = "daily_summary"
	SectionExcursions        = "excursions"
	SectionGaps              = "gaps"
	SectionManualChecks      = "manual_checks"
	SectionCorrectiveActions = "corrective_actions"
	SectionTimeOutOfTemp     = "time_out_of_temp"
	SectionDefrosts          = "defrosts"
	SectionDefrostPatterns   = "defrost_patterns"
	SectionDoorOpenings      = "door_openings"
	SectionCoolingLogs       = "cooling_logs"
	SectionAlerts            = "alerts"
	SectionSignatures        = "signatures"
)

// WriteCSV writes the report as a sortable spreadsheet (the FSMA 204 style
// "electronic sortable spreadsheet"): one table per section, each with its
// own header row, separated by a blank line, one record per row. The first
// column of every row names its section, so a sheet filtered or sorted on
// it stays readable. Sections: report (field, value pairs: organisation,
// site, period, zone, unit, generation time, content and audit hashes, and
// the FreshTrack Pro import the data includes, if any),
// daily_summary, excursions (with the door openings and defrosts that
// explain them), gaps, manual_checks, corrective_actions, time_out_of_temp
// (per unit and local day, with the rule limits and the 4-hour rule
// reached), defrosts, defrost_patterns, door_openings, cooling_logs and
// alerts (every kind, with its human name).
//
// Times appear twice: *_utc (RFC 3339 UTC, which sorts as text) and *_local
// (RFC 3339 with the site's offset). Numbers carry no units; the header
// names do (min_C, peak_F, duration_min). Free text that a spreadsheet would
// run as a formula (starting with =, +, -, @, tab or carriage return) is
// prefixed with an apostrophe.
func WriteCSV(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	loc, err := time.LoadLocation(r.Header.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	u := r.Header.TemperatureUnit
	h := r.Header
	site := text(h.Site)
	utc := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	local := func(t time.Time) string { return t.In(loc).Format(time.RFC3339) }
	utcp := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return utc(*t)
	}
	sections := []struct {
		name   string
		header []string
		rows   [][]string
	}{
		{SectionReport, []string{"field", "value"}, [][]string{
			{"organization", text(h.Organization)},
			{"organization_id", h.OrganizationID},
			{"site", site},
			{"site_id", h.SiteID},
			{"time_zone", h.TimeZone},
			{"from", h.From},
			{"to", h.To},
			{"period_start_utc", utc(h.PeriodStart)},
			{"period_end_utc", utc(h.PeriodEnd)},
			{"data_end_utc", utc(h.DataEnd)},
			{"temperature_unit", u},
			{"gap_after_min", num(r.Method.GapAfterMinutes)},
			{"generated_at_utc", utc(h.GeneratedAt)},
			{"content_sha256", h.ContentSHA256},
			{"audit_head_sha256", r.Footer.AuditHeadSHA256},
			{"audit_head_id", strconv.FormatInt(r.Footer.AuditHeadID, 10)},
			{"imported_from", importField(r, func(i *ImportNote) string { return i.From })},
			{"import_verified_at_utc", importField(r, func(i *ImportNote) string { return utc(i.VerifiedAt) })},
			{"import_result", importField(r, func(i *ImportNote) string { return i.Result })},
			{"import_audit_id", importField(r, func(i *ImportNote) string { return strconv.FormatInt(i.AuditID, 10) })},
			{"review_status", reviewStatus(r)},
			{"review_statement", reviewStatement(r)},
		}},
		{SectionDailySummary, []string{"site", "unit_id", "unit", "kind", "date", "readings", "min_" + u, "max_" + u, "avg_" + u,
			"safe_min_" + u, "safe_max_" + u, "limit_min_" + u, "limit_max_" + u, "minutes_covered", "minutes_out_of_range", "percent_in_range"}, nil},
		{SectionExcursions, []string{"site", "unit_id", "unit", "start_utc", "end_utc", "start_local", "end_local", "duration_min",
			"minutes_out_of_range", "direction", "peak_" + u, "readings", "started_before_period", "ongoing",
			"alert_ids", "alert_severities", "acknowledged_at_utc", "acknowledged_by", "corrective_actions", "explained_by"}, nil},
		{SectionGaps, []string{"site", "unit_id", "unit", "start_utc", "end_utc", "start_local", "end_local", "duration_min"}, nil},
		{SectionManualChecks, []string{"site", "unit_id", "unit", "checked_at_utc", "checked_at_local", "temp_" + u, "in_range",
			"checked_by", "checked_by_email", "notes"}, nil},
		{SectionCorrectiveActions, []string{"site", "unit_id", "unit", "taken_at_utc", "taken_at_local", "alert_id", "action",
			"disposition", "taken_by", "taken_by_email", "notes"}, nil},
		{SectionTimeOutOfTemp, []string{"site", "unit_id", "unit", "kind", "date", "minutes_out_of_range", "defrost_min", "minutes",
			"rule_limits_min", "limits_reached_min", "food_code_4h_reached"}, nil},
		{SectionDefrosts, []string{"site", "unit_id", "unit", "source", "start_utc", "end_utc", "start_local", "end_local",
			"duration_min", "peak_" + u, "within_bounds"}, nil},
		{SectionDefrostPatterns, []string{"site", "unit_id", "unit", "period_min", "anchor_utc", "phase_tolerance_min", "duration_min",
			"peak_" + u, "max_peak_" + u, "max_duration_min", "episodes", "learned_at_utc"}, nil},
		{SectionDoorOpenings, []string{"site", "unit_id", "unit", "source", "start_utc", "end_utc", "start_local", "end_local",
			"duration_min", "within_bounds"}, nil},
		{SectionCoolingLogs, []string{"site", "unit_id", "unit", "id", "item", "source", "started_at_utc", "started_at_local", "start_" + u,
			"stage1_target_" + u, "stage1_deadline_utc", "stage1_reached_utc", "stage2_target_" + u, "stage2_deadline_utc", "stage2_reached_utc",
			"status", "failed_stage", "ended_at_utc", "last_" + u}, nil},
		{SectionAlerts, []string{"site", "unit_id", "unit", "id", "kind", "name", "severity", "status", "started_at_utc", "started_at_local",
			"resolved_at_utc", "acknowledged_at_utc", "acknowledged_by"}, nil},
		{SectionSignatures, []string{"site", "from", "to", "meaning", "printed_name", "signer_id", "signed_at_utc", "signed_at_local",
			"status", "content_sha256", "audit_id", "comment"}, nil},
	}
	idx := map[string]int{}
	for i, s := range sections {
		idx[s.name] = i
	}
	add := func(section string, row ...string) {
		sections[idx[section]].rows = append(sections[idx[section]].rows, row)
	}
	endp := func(t *time.Time, f func(time.Time) string) string {
		if t == nil {
			return ""
		}
		return f(*t)
	}
	for _, ur := range r.Units {
		name := text(ur.Name)
		for _, d := range ur.Days {
			sections[1].rows = append(sections[1].rows, []string{site, ur.UnitID, name, ur.Kind, d.Date, strconv.FormatInt(d.Readings, 10),
				nump(d.Min), nump(d.Max), nump(d.Avg), num(ur.SafeMin), num(ur.SafeMax), num(ur.LimitMin), num(ur.LimitMax),
				num(d.MinutesCovered), num(d.MinutesOutOfRange), nump(d.PercentInRange)})
		}
		for _, e := range ur.Excursions {
			var ids, sev, ackAt, ackBy, actions []string
			for _, a := range e.Alerts {
				ids = append(ids, a.ID)
				sev = append(sev, a.Severity)
				ackAt = append(ackAt, utcp(a.AcknowledgedAt))
				ackBy = append(ackBy, personText(a.AcknowledgedBy))
				for _, c := range a.CorrectiveActions {
					actions = append(actions, fmt.Sprintf("%s %s: %s (%s)", utc(c.TakenAt), personText(c.TakenBy), c.Action, c.Disposition))
				}
			}
			var explained []string
			for _, x := range e.ExplainedBy {
				explained = append(explained, x.Text)
			}
			sections[2].rows = append(sections[2].rows, []string{site, ur.UnitID, name, utc(e.Start), utc(e.End), local(e.Start), local(e.End),
				num(e.DurationMinutes), num(e.MinutesOutOfRange), e.Direction, num(e.Peak), strconv.FormatInt(e.Readings, 10),
				strconv.FormatBool(e.StartedBeforePeriod), strconv.FormatBool(e.Ongoing),
				strings.Join(ids, "; "), strings.Join(sev, "; "), strings.Join(ackAt, "; "), text(strings.Join(ackBy, "; ")),
				text(strings.Join(actions, "; ")), strings.Join(explained, "; ")})
		}
		for _, g := range ur.Gaps {
			sections[3].rows = append(sections[3].rows, []string{site, ur.UnitID, name, utc(g.Start), utc(g.End), local(g.Start), local(g.End),
				num(g.DurationMinutes)})
		}
		for _, m := range ur.ManualChecks {
			by, email := personFields(m.CheckedBy)
			sections[4].rows = append(sections[4].rows, []string{site, ur.UnitID, name, utc(m.CheckedAt), local(m.CheckedAt), num(m.Temp),
				strconv.FormatBool(m.InRange), text(by), text(email), text(deref(m.Notes))})
		}
		for _, c := range ur.CorrectiveActions {
			by, email := personFields(c.TakenBy)
			sections[5].rows = append(sections[5].rows, []string{site, ur.UnitID, name, utc(c.TakenAt), local(c.TakenAt), deref(c.AlertID),
				text(c.Action), c.Disposition, text(by), text(email), text(deref(c.Notes))})
		}
		for _, t := range ur.TimeOutOfTemp {
			add(SectionTimeOutOfTemp, site, ur.UnitID, name, ur.Kind, t.Date, num(t.MinutesOutOfRange), num(t.DefrostMinutes), num(t.Minutes),
				nums(t.RuleLimitsMinutes), nums(t.LimitsReachedMinutes), strconv.FormatBool(t.ReachesFoodCodeLimit))
		}
		for _, e := range ur.Defrosts.Cycles {
			add(SectionDefrosts, site, ur.UnitID, name, e.Source, utc(e.Start), endp(e.End, utc), local(e.Start), endp(e.End, local),
				num(e.DurationMinutes), nump(e.Peak), strconv.FormatBool(e.WithinBounds))
		}
		if pt := ur.Defrosts.Pattern; pt != nil {
			add(SectionDefrostPatterns, site, ur.UnitID, name, num(pt.PeriodMinutes), utc(pt.Anchor), num(pt.PhaseToleranceMinutes),
				num(pt.DurationMinutes), num(pt.Peak), num(pt.MaxPeak), num(pt.MaxDurationMinutes), strconv.Itoa(pt.Episodes), utc(pt.LearnedAt))
		}
		for _, e := range ur.DoorOpenings.Openings {
			add(SectionDoorOpenings, site, ur.UnitID, name, e.Source, utc(e.Start), endp(e.End, utc), local(e.Start), endp(e.End, local),
				num(e.DurationMinutes), strconv.FormatBool(e.WithinBounds))
		}
		for _, c := range ur.CoolingLogs {
			failed := ""
			if c.FailedStage != nil {
				failed = strconv.Itoa(*c.FailedStage)
			}
			add(SectionCoolingLogs, site, ur.UnitID, name, c.ID, text(deref(c.Item)), c.Source, utc(c.StartedAt), local(c.StartedAt), nump(c.Start),
				num(c.Stage1.Target), utc(c.Stage1.Deadline), utcp(c.Stage1.ReachedAt), num(c.Stage2.Target), utc(c.Stage2.Deadline),
				utcp(c.Stage2.ReachedAt), c.Status, failed, utcp(c.EndedAt), nump(c.Last))
		}
		for _, a := range ur.Alerts {
			add(SectionAlerts, site, ur.UnitID, name, a.ID, a.Kind, a.Name, a.Severity, a.Status, utc(a.StartedAt), local(a.StartedAt),
				utcp(a.ResolvedAt), utcp(a.AcknowledgedAt), text(personText(a.AcknowledgedBy)))
		}
	}
	for _, sg := range r.Review.Signatures {
		add(SectionSignatures, site, sg.From, sg.To, sg.Meaning, text(sg.PrintedName), sg.SignerID, utc(sg.SignedAt), local(sg.SignedAt),
			sg.Status, sg.ContentSHA256, strconv.FormatInt(sg.AuditID, 10), text(deref(sg.Comment)))
	}
	for i, s := range sections {
		if i > 0 {
			// A blank line between sections; encoding/csv would write an
			// empty record as "" plus newline.
			cw.Flush()
			if _, err := bw.WriteString("\n"); err != nil {
				return fmt.Errorf("write report csv: %w", err)
			}
		}
		if err := cw.Write(append([]string{"section"}, s.header...)); err != nil {
			return fmt.Errorf("write report csv: %w", err)
		}
		for _, row := range s.rows {
			if err := cw.Write(append([]string{s.name}, row...)); err != nil {
				return fmt.Errorf("write report csv: %w", err)
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write report csv: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write report csv: %w", err)
	}
	return nil
}

// reviewStatus is the report's review status; a report made without
// HACCP (zero Review) has no signatures.
func reviewStatus(r *Report) string {
	if r.Review.Status == "" {
		return ReviewNotSigned
	}
	return r.Review.Status
}

// reviewStatement is what the report says about its sign-off.
func reviewStatement(r *Report) string {
	if r.Review.Statement == "" {
		return "Not reviewed/signed"
	}
	return r.Review.Statement
}

// num formats a number without units or exponent.
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// nums joins numbers with "; ".
func nums(vs []float64) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = num(v)
	}
	return strings.Join(out, "; ")
}

func nump(v *float64) string {
	if v == nil {
		return ""
	}
	return num(*v)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func personFields(p *Person) (name, email string) {
	if p == nil {
		return "", ""
	}
	return p.Name, p.Email
}

// personText names a person as "Name <email>", or whichever is known.
func personText(p *Person) string {
	if p == nil {
		return ""
	}
	switch {
	case p.Name != "" && p.Email != "":
		return p.Name + " <" + p.Email + ">"
	case p.Name != "":
		return p.Name
	}
	return p.Email
}

// text neutralises spreadsheet formulas in free text.
func text(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// importField is a field of the footer's import entry, or "" without one.
func importField(r *Report, f func(*ImportNote) string) string {
	if r.Footer.Import == nil {
		return ""
	}
	return f(r.Footer.Import)
}
