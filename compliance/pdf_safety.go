package compliance

import (
	"fmt"
	"strconv"
)

// foodSafety prints a unit's food-safety sections: time out of temperature,
// defrost cycles, door openings, cooling logs and the alert list.
func (d *pdfDoc) foodSafety(u *UnitReport) {
	var rows [][]string
	var hl []bool
	for _, t := range u.TimeOutOfTemp {
		if t.MinutesOutOfRange == 0 {
			continue
		}
		reached := "–"
		if len(t.LimitsReachedMinutes) > 0 {
			reached = nums(t.LimitsReachedMinutes) + " min"
		}
		fc := "no"
		if t.ReachesFoodCodeLimit {
			fc = "yes: discard TCS food"
		}
		rows = append(rows, []string{t.Date, minutes(t.MinutesOutOfRange), minutes(t.DefrostMinutes), minutes(t.Minutes), reached, fc})
		hl = append(hl, len(t.LimitsReachedMinutes) > 0 || t.ReachesFoodCodeLimit)
	}
	limits := "no time out of temperature rule"
	if len(u.TimeOutOfTemp) > 0 && len(u.TimeOutOfTemp[0].RuleLimitsMinutes) > 0 {
		limits = "rule limits " + nums(u.TimeOutOfTemp[0].RuleLimitsMinutes) + " min"
	}
	d.heading(8.5, fmt.Sprintf("Time out of temperature (%s; Food Code 4 h): %s", limits, countText(len(rows))+" days"))
	if len(rows) > 0 {
		d.marked([]column{{"Date", 0.14, "L"}, {"Out of range min", 0.14, "R"}, {"Recognised defrost min", 0.16, "R"},
			{"Time out of temperature min", 0.18, "R"}, {"Rule limits reached", 0.16, "L"}, {"4 hours reached", 0.22, "L"}}, rows, hl)
	}

	df := u.Defrosts
	title := fmt.Sprintf("Defrost cycles: %s", countText(df.Count))
	if df.OutOfBounds > 0 {
		title += fmt.Sprintf(" (%d outside the learned bounds)", df.OutOfBounds)
	}
	d.heading(8.5, title)
	if pt := df.Pattern; pt != nil {
		d.note(fmt.Sprintf("Learned pattern: every %s min (± %s min) from %s, about %s min peaking at %s %s; recognised up to %s %s and %s min (%d episodes, learned %s).",
			minutes(pt.PeriodMinutes), minutes(pt.PhaseToleranceMinutes), d.local(pt.Anchor), minutes(pt.DurationMinutes), temp1(pt.Peak), d.deg,
			temp1(pt.MaxPeak), d.deg, minutes(pt.MaxDurationMinutes), pt.Episodes, d.local(pt.LearnedAt)))
	}
	if len(df.Cycles) > 0 {
		rows, hl = rows[:0], hl[:0]
		for _, e := range df.Cycles {
			rows = append(rows, []string{d.local(e.Start), d.localp(e.End), minutes(e.DurationMinutes), temp(e.Peak), e.Source, boundsText(e.WithinBounds)})
			hl = append(hl, !e.WithinBounds)
		}
		d.marked([]column{{"Start", 0.2, "L"}, {"End", 0.2, "L"}, {"Duration min", 0.12, "R"}, {"Peak " + d.deg, 0.12, "R"},
			{"Source", 0.12, "L"}, {"Bounds", 0.24, "L"}}, rows, hl)
	}

	do := u.DoorOpenings
	d.heading(8.5, fmt.Sprintf("Door openings: %s", countText(do.Count)))
	if do.Count > 0 {
		d.note(fmt.Sprintf("Total %s min, longest %s min.", minutes(do.TotalMinutes), minutes(do.LongestMinutes)))
		rows = rows[:0]
		for _, e := range do.Openings {
			rows = append(rows, []string{d.local(e.Start), d.localp(e.End), minutes(e.DurationMinutes), e.Source})
		}
		d.table([]column{{"Start", 0.25, "L"}, {"End", 0.25, "L"}, {"Duration min", 0.15, "R"}, {"Source", 0.15, "L"}}, rows)
	}

	if len(u.CoolingLogs) > 0 {
		d.heading(8.5, fmt.Sprintf("Cooling logs: %d", len(u.CoolingLogs)))
		rows, hl = rows[:0], hl[:0]
		stage := func(s CoolingStage) string {
			reached := "not reached"
			if s.ReachedAt != nil {
				reached = "reached " + d.local(*s.ReachedAt)
			}
			return fmt.Sprintf("%s %s by %s, %s", temp1(s.Target), d.deg, d.local(s.Deadline), reached)
		}
		for _, c := range u.CoolingLogs {
			status := c.Status
			if c.FailedStage != nil {
				status += " (stage " + strconv.Itoa(*c.FailedStage) + ")"
			}
			rows = append(rows, []string{orDash(deref(c.Item)), c.Source, d.local(c.StartedAt), temp(c.Start), stage(c.Stage1), stage(c.Stage2), status})
			hl = append(hl, c.Status == "failed")
		}
		d.marked([]column{{"Item", 0.14, "L"}, {"Source", 0.08, "L"}, {"Started", 0.14, "L"}, {"Start " + d.deg, 0.08, "R"},
			{"Stage 1", 0.22, "L"}, {"Stage 2", 0.22, "L"}, {"Status", 0.12, "L"}}, rows, hl)
	}

	d.heading(8.5, fmt.Sprintf("Alerts: %s", countText(len(u.Alerts))))
	if len(u.Alerts) > 0 {
		rows = rows[:0]
		for _, a := range u.Alerts {
			ack := "not acknowledged"
			if a.AcknowledgedAt != nil {
				ack = d.localp(a.AcknowledgedAt) + " by " + orDash(personText(a.AcknowledgedBy))
			}
			rows = append(rows, []string{a.Name, a.Severity, a.Status, d.local(a.StartedAt), orDash(d.localp(a.ResolvedAt)), ack})
		}
		d.table([]column{{"Alert", 0.22, "L"}, {"Severity", 0.09, "L"}, {"Status", 0.1, "L"}, {"Started", 0.17, "L"},
			{"Resolved", 0.17, "L"}, {"Acknowledged", 0.25, "L"}}, rows)
	}
}

func boundsText(ok bool) string {
	if ok {
		return "within learned bounds"
	}
	return "OUTSIDE LEARNED BOUNDS"
}
