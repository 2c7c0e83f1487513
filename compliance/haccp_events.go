package compliance

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/internal/database"
)

// FoodCodeLimitMinutes is Food Code's limit on time out of temperature
// control: TCS food out of temperature control for 4 hours or more must be
// discarded.
const FoodCodeLimitMinutes = 240

// TimeOutOfTemp is a unit's cumulative time out of temperature on one local
// day.
type TimeOutOfTemp struct {
	// Date is the local date, YYYY-MM-DD.
	Date string `json:"date"`
	// MinutesOutOfRange is the day's covered time out of the limits, as in
	// the day's Stats.
	MinutesOutOfRange float64 `json:"minutes_out_of_range"`
	// DefrostMinutes is the part of it inside recognised defrosts of a
	// freezer (within bounds), which is not time out of temperature.
	DefrostMinutes float64 `json:"defrost_minutes"`
	// Minutes is the time out of temperature: MinutesOutOfRange −
	// DefrostMinutes.
	Minutes float64 `json:"minutes"`
	// RuleLimitsMinutes are the thresholds of the unit's enabled
	// time_out_of_temp rules, lowest first.
	RuleLimitsMinutes []float64 `json:"rule_limits_min"`
	// LimitsReachedMinutes are those of them that Minutes reaches.
	LimitsReachedMinutes []float64 `json:"limits_reached_min"`
	// ReachesFoodCodeLimit is set when Minutes reaches
	// FoodCodeLimitMinutes: the food must be discarded.
	ReachesFoodCodeLimit bool `json:"reaches_food_code_limit"`
}

// UnitEvent is what the detectors recognised in a unit's data (unit_events):
// a defrost cycle or a door opening.
type UnitEvent struct {
	// Kind is defrost or door_open.
	Kind string `json:"kind"`
	// Source is detected (from the temperature) or sensor (a door contact).
	Source string `json:"source"`
	// Start is when it began.
	Start time.Time `json:"start"`
	// End is when it ended; nil while it runs.
	End *time.Time `json:"end"`
	// DurationMinutes is End − Start, or the end of the data − Start while
	// it runs.
	DurationMinutes float64 `json:"duration_min"`
	// Peak is the highest temperature during it; nil when not recorded.
	Peak *float64 `json:"peak"`
	// WithinBounds is false for a defrost that ran long or too hot (shown
	// highlighted), and for a door opening no door sensor explained.
	WithinBounds bool `json:"within_bounds"`
}

// Defrosts are a unit's defrost cycles in the period.
type Defrosts struct {
	// Count is the number of cycles; OutOfBounds those not within bounds.
	Count int `json:"count"`
	// OutOfBounds is the number of cycles that ran long or too hot.
	OutOfBounds int `json:"out_of_bounds"`
	// Cycles are the cycles, in order.
	Cycles []UnitEvent `json:"cycles"`
	// Pattern is the unit's learned defrost pattern; nil without one.
	Pattern *DefrostPattern `json:"pattern"`
}

// DefrostPattern is a freezer's learned defrost cycle (defrost_patterns).
type DefrostPattern struct {
	// PeriodMinutes is the time between defrosts.
	PeriodMinutes float64 `json:"period_min"`
	// Anchor is the start of one observed defrost.
	Anchor time.Time `json:"anchor"`
	// PhaseToleranceMinutes is how far from schedule a defrost may start.
	PhaseToleranceMinutes float64 `json:"phase_tolerance_min"`
	// DurationMinutes is the usual duration.
	DurationMinutes float64 `json:"duration_min"`
	// Peak is the usual peak temperature.
	Peak float64 `json:"peak"`
	// MaxPeak and MaxDurationMinutes bound a recognised defrost.
	MaxPeak float64 `json:"max_peak"`
	// MaxDurationMinutes is the longest a recognised defrost may run.
	MaxDurationMinutes float64 `json:"max_duration_min"`
	// Episodes is how many defrosts it was learned from.
	Episodes int `json:"episodes"`
	// LearnedAt is when it was learned.
	LearnedAt time.Time `json:"learned_at"`
}

// DoorOpenings are a unit's door openings in the period.
type DoorOpenings struct {
	// Count is the number of openings.
	Count int `json:"count"`
	// TotalMinutes is their summed duration.
	TotalMinutes float64 `json:"total_min"`
	// LongestMinutes is the longest one's duration.
	LongestMinutes float64 `json:"longest_min"`
	// Openings are the openings, in order.
	Openings []UnitEvent `json:"openings"`
}

// Explanation is a door opening or defrost that overlaps an excursion.
type Explanation struct {
	// Kind is door_open or defrost.
	Kind string `json:"kind"`
	// Start and End are the event's (End: the end of the data while it
	// runs).
	Start time.Time `json:"start"`
	// End is when the event ended.
	End time.Time `json:"end"`
	// Text says it in words, in the site's local time: "explained by a
	// door opening 14:02–14:09".
	Text string `json:"text"`
}

// CoolingLog is a cooling record (Food Code 3-501.14: from 57 °C to 21 °C
// within 2 h, and to 5 °C within 6 h in total).
type CoolingLog struct {
	// ID is the log's id.
	ID string `json:"id"`
	// Item is what was cooled; nil when not named.
	Item *string `json:"item"`
	// Source is detected or manual.
	Source string `json:"source"`
	// StartedAt is when cooling started.
	StartedAt time.Time `json:"started_at"`
	// Start is the temperature at the start; nil when unknown.
	Start *float64 `json:"start"`
	// Stage1 is the first stage (to 21 °C by default).
	Stage1 CoolingStage `json:"stage1"`
	// Stage2 is the second stage (to 5 °C by default).
	Stage2 CoolingStage `json:"stage2"`
	// Status is running, passed, failed or cancelled.
	Status string `json:"status"`
	// FailedStage is 1 or 2 for a failed log; nil otherwise.
	FailedStage *int `json:"failed_stage"`
	// EndedAt is when the log ended; nil while running.
	EndedAt *time.Time `json:"ended_at"`
	// Last is the last temperature seen; nil when unknown.
	Last *float64 `json:"last"`
}

// CoolingStage is one stage of a cooling log.
type CoolingStage struct {
	// Target is the temperature to reach.
	Target float64 `json:"target"`
	// Deadline is when it must be reached.
	Deadline time.Time `json:"deadline"`
	// ReachedAt is when it was reached; nil if not (yet).
	ReachedAt *time.Time `json:"reached_at"`
}

// alertNames are the human names of the alert kinds.
var alertNames = map[string]string{
	"temp_high":          "Temperature too high",
	"temp_low":           "Temperature too low",
	"sensor_offline":     "Sensor offline",
	"battery_low":        "Battery low",
	"sensor_fault":       "Sensor fault",
	"trend_warning":      "Temperature trend warning",
	"defrost":            "Defrost out of pattern",
	"door_open":          "Door left open",
	"time_out_of_temp":   "Time out of temperature",
	"cooling":            "Cooling at risk",
	"manual_log_missed":  "Manual temperature log missed",
	"calibration_due":    "Sensor calibration due",
	"sensor_implausible": "Implausible sensor readings",
}

// AlertName is the human name of an alert kind (the kind itself when it has
// none).
func AlertName(kind string) string {
	if n, ok := alertNames[kind]; ok {
		return n
	}
	return kind
}

// unitExtras are a unit's food-safety records, read in a few statements for
// all units.
type unitExtras struct {
	events   map[string][]UnitEvent // by unit, overlapping the read span
	patterns map[string]*DefrostPattern
	cooling  map[string][]CoolingLog
	totLimit map[string][]float64
	alerts   map[string][]AlertRecord
}

func loadExtras(ctx context.Context, db database.Querier, orgID string, units []unitRow, w window) (*unitExtras, error) {
	x := &unitExtras{events: map[string][]UnitEvent{}, patterns: map[string]*DefrostPattern{}, cooling: map[string][]CoolingLog{},
		totLimit: map[string][]float64{}, alerts: map[string][]AlertRecord{}}
	if len(units) == 0 {
		return x, nil
	}
	ids := make([]string, len(units))
	for i, u := range units {
		ids[i] = u.id
	}
	from, to := w.readSpan()
	rows, err := db.Query(ctx, `
		SELECT unit_id::text, kind, source, started_at, ended_at, peak_c, within_bounds
		  FROM unit_events
		 WHERE org_id = $1 AND unit_id = ANY($2::uuid[]) AND started_at < $4 AND (ended_at IS NULL OR ended_at > $3)
		 ORDER BY started_at, kind`, orgID, ids, from, to)
	if err != nil {
		return nil, fmt.Errorf("haccp report: unit events: %w", err)
	}
	var (
		unit string
		e    UnitEvent
	)
	_, err = pgx.ForEachRow(rows, []any{&unit, &e.Kind, &e.Source, &e.Start, &e.End, &e.Peak, &e.WithinBounds}, func() error {
		ev := e
		ev.Start, ev.End = ev.Start.UTC(), utcPtr(ev.End)
		end := w.end
		if ev.End != nil && ev.End.Before(end) {
			end = *ev.End
		}
		ev.DurationMinutes = max(0, end.Sub(ev.Start).Minutes())
		x.events[unit] = append(x.events[unit], ev)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("haccp report: unit events: %w", err)
	}

	rows, err = db.Query(ctx, `
		SELECT unit_id::text, period_seconds, anchor, phase_tolerance_seconds, duration_seconds, peak_c,
		       max_peak_c, max_duration_seconds, episodes, learned_at
		  FROM defrost_patterns WHERE org_id = $1 AND unit_id = ANY($2::uuid[])`, orgID, ids)
	if err != nil {
		return nil, fmt.Errorf("haccp report: defrost patterns: %w", err)
	}
	var (
		p                          DefrostPattern
		period, phase, dur, maxDur int64
	)
	_, err = pgx.ForEachRow(rows, []any{&unit, &period, &p.Anchor, &phase, &dur, &p.Peak, &p.MaxPeak, &maxDur, &p.Episodes, &p.LearnedAt}, func() error {
		pat := p
		pat.PeriodMinutes, pat.PhaseToleranceMinutes = float64(period)/60, float64(phase)/60
		pat.DurationMinutes, pat.MaxDurationMinutes = float64(dur)/60, float64(maxDur)/60
		pat.Anchor, pat.LearnedAt = pat.Anchor.UTC(), pat.LearnedAt.UTC().Truncate(time.Second)
		x.patterns[unit] = &pat
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("haccp report: defrost patterns: %w", err)
	}

	rows, err = db.Query(ctx, `
		SELECT unit_id::text, id::text, item, source, started_at, start_c, stage1_target_c, stage1_deadline, stage1_at,
		       stage2_target_c, stage2_deadline, stage2_at, status, failed_stage, ended_at, last_c
		  FROM cooling_logs
		 WHERE org_id = $1 AND unit_id = ANY($2::uuid[]) AND started_at < $4 AND (ended_at IS NULL OR ended_at >= $3)
		 ORDER BY started_at, id`, orgID, ids, w.p0, w.p1)
	if err != nil {
		return nil, fmt.Errorf("haccp report: cooling logs: %w", err)
	}
	var (
		c      CoolingLog
		failed *int16
	)
	_, err = pgx.ForEachRow(rows, []any{&unit, &c.ID, &c.Item, &c.Source, &c.StartedAt, &c.Start, &c.Stage1.Target, &c.Stage1.Deadline,
		&c.Stage1.ReachedAt, &c.Stage2.Target, &c.Stage2.Deadline, &c.Stage2.ReachedAt, &c.Status, &failed, &c.EndedAt, &c.Last}, func() error {
		l := c
		l.StartedAt, l.Stage1.Deadline, l.Stage2.Deadline = l.StartedAt.UTC(), l.Stage1.Deadline.UTC(), l.Stage2.Deadline.UTC()
		l.Stage1.ReachedAt, l.Stage2.ReachedAt, l.EndedAt = utcPtr(l.Stage1.ReachedAt), utcPtr(l.Stage2.ReachedAt), utcPtr(l.EndedAt)
		l.FailedStage = nil
		if failed != nil {
			v := int(*failed)
			l.FailedStage = &v
		}
		x.cooling[unit] = append(x.cooling[unit], l)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("haccp report: cooling logs: %w", err)
	}

	// The time_out_of_temp rules that apply to each unit (its own, else its
	// organisation's for its kind; a disabled row claims its level).
	rows, err = db.Query(ctx, `
		SELECT u.id::text, coalesce(array_agg(r.threshold ORDER BY r.threshold) FILTER (WHERE r.enabled AND r.threshold IS NOT NULL), '{}')
		  FROM units u
		  JOIN alert_rules r ON r.org_id = u.org_id AND r.kind = 'time_out_of_temp'
		   AND (r.unit_id = u.id OR (r.unit_id IS NULL AND r.unit_kind = u.kind
		        AND NOT EXISTS (SELECT 1 FROM alert_rules o WHERE o.org_id = u.org_id AND o.unit_id = u.id AND o.kind = 'time_out_of_temp')))
		 WHERE u.org_id = $1 AND u.id = ANY($2::uuid[])
		 GROUP BY u.id`, orgID, ids)
	if err != nil {
		return nil, fmt.Errorf("haccp report: time out of temperature rules: %w", err)
	}
	var limits []float64
	_, err = pgx.ForEachRow(rows, []any{&unit, &limits}, func() error {
		x.totLimit[unit] = limits
		limits = nil
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("haccp report: time out of temperature rules: %w", err)
	}

	rows, err = db.Query(ctx, `
		SELECT a.id::text, a.unit_id::text, a.kind, a.severity, a.status, a.started_at, a.resolved_at,
		       a.acknowledged_at, us.id IS NOT NULL, coalesce(us.name, ''), coalesce(us.email, '')
		  FROM alerts a
		  LEFT JOIN users us ON us.id = a.acknowledged_by
		 WHERE a.org_id = $1 AND a.unit_id = ANY($2::uuid[])
		   AND a.started_at < $4 AND (a.resolved_at IS NULL OR a.resolved_at > $3)
		 ORDER BY a.started_at, a.id`, orgID, ids, w.p0, w.p1)
	if err != nil {
		return nil, fmt.Errorf("haccp report: alert list: %w", err)
	}
	var (
		a           AlertRecord
		acked       bool
		name, email string
	)
	_, err = pgx.ForEachRow(rows, []any{&a.ID, &unit, &a.Kind, &a.Severity, &a.Status, &a.StartedAt, &a.ResolvedAt,
		&a.AcknowledgedAt, &acked, &name, &email}, func() error {
		rec := a
		rec.Name = AlertName(rec.Kind)
		rec.StartedAt = rec.StartedAt.UTC()
		rec.ResolvedAt, rec.AcknowledgedAt = utcPtr(rec.ResolvedAt), utcPtr(rec.AcknowledgedAt)
		rec.AcknowledgedBy = person(acked, name, email)
		x.alerts[unit] = append(x.alerts[unit], rec)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("haccp report: alert list: %w", err)
	}
	return x, nil
}

// overlaps reports whether the event overlaps [from, to) (one still
// running lasts to dataEnd).
func (e UnitEvent) overlaps(from, to, dataEnd time.Time) bool {
	end := dataEnd
	if e.End != nil {
		end = *e.End
	}
	return e.Start.Before(to) && end.After(from)
}

func (e UnitEvent) until(dataEnd time.Time) time.Time {
	if e.End != nil {
		return *e.End
	}
	return dataEnd
}

// addExtras gives a unit's report its food-safety sections: time out of
// temperature per day, defrost cycles, door openings, the excursions'
// explanations, cooling logs and the alert list.
func addExtras(ur *UnitReport, u unitRow, f *unitFold, x *unitExtras, w window) {
	events := x.events[u.id]
	ur.Defrosts = Defrosts{Cycles: []UnitEvent{}, Pattern: x.patterns[u.id]}
	ur.DoorOpenings = DoorOpenings{Openings: []UnitEvent{}}
	var excused [][2]int64 // recognised defrosts of a freezer
	for _, e := range events {
		if e.Kind == "defrost" && e.WithinBounds && u.kind == "freezer" {
			excused = append(excused, [2]int64{micros(e.Start), micros(e.until(w.end))})
		}
		if !e.overlaps(w.p0, w.p1, w.end) {
			continue
		}
		switch e.Kind {
		case "defrost":
			ur.Defrosts.Count++
			if !e.WithinBounds {
				ur.Defrosts.OutOfBounds++
			}
			ur.Defrosts.Cycles = append(ur.Defrosts.Cycles, e)
		case "door_open":
			d := &ur.DoorOpenings
			d.Count++
			d.TotalMinutes += e.DurationMinutes
			d.LongestMinutes = max(d.LongestMinutes, e.DurationMinutes)
			d.Openings = append(d.Openings, e)
		}
	}
	for i := range ur.Excursions {
		ex := &ur.Excursions[i]
		ex.ExplainedBy = []Explanation{}
		to := ex.seenTo
		if to.IsZero() {
			to = w.end
		}
		for _, e := range events {
			if !e.overlaps(ex.seenFrom, to, w.end) {
				continue
			}
			what := "a door opening"
			if e.Kind == "defrost" {
				what = "a defrost"
			}
			end := e.until(w.end)
			ex.ExplainedBy = append(ex.ExplainedBy, Explanation{Kind: e.Kind, Start: e.Start, End: end,
				Text: fmt.Sprintf("explained by %s %s", what, localSpan(e.Start, end, ex.Start, w.loc))})
		}
	}
	limits := x.totLimit[u.id]
	ur.TimeOutOfTemp = make([]TimeOutOfTemp, len(f.days))
	defrost := overlapByDay(f.outs, excused, f.w)
	for i, d := range f.days {
		t := TimeOutOfTemp{Date: ur.Days[i].Date, MinutesOutOfRange: float64(d.out) / 6e7, DefrostMinutes: float64(defrost[i]) / 6e7,
			RuleLimitsMinutes: nonNil(limits), LimitsReachedMinutes: []float64{}}
		t.Minutes = float64(d.out-defrost[i]) / 6e7
		for _, l := range limits {
			if t.Minutes >= l {
				t.LimitsReachedMinutes = append(t.LimitsReachedMinutes, l)
			}
		}
		t.ReachesFoodCodeLimit = t.Minutes >= FoodCodeLimitMinutes
		ur.TimeOutOfTemp[i] = t
	}
	ur.CoolingLogs = nonNil(x.cooling[u.id])
	ur.Alerts = nonNil(x.alerts[u.id])
}

// overlapByDay returns, per day of the window, the microseconds of the
// intervals a that lie inside some interval of b (each list sorted and
// disjoint within itself).
func overlapByDay(a, b [][2]int64, w *foldWindow) []int64 {
	out := make([]int64, len(w.bounds)-1)
	for _, x := range a {
		for _, y := range b {
			lo, hi := max(x[0], y[0]), min(x[1], y[1])
			for lo < hi {
				k := w.day(lo)
				seg := min(hi, w.bounds[k+1])
				out[k] += seg - lo
				lo = seg
			}
		}
	}
	return out
}

// localSpan writes [from, to) in the site's local time, "14:02–14:09", with
// dates where they differ from the day of ref.
func localSpan(from, to, ref time.Time, loc *time.Location) string {
	day := ref.In(loc).Format(time.DateOnly)
	f := func(t time.Time) string {
		l := t.In(loc)
		if l.Format(time.DateOnly) != day {
			return l.Format("2006-01-02 15:04")
		}
		return l.Format("15:04")
	}
	return f(from) + "–" + f(to)
}
