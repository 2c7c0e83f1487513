package compliance_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/compliance"
	"github.com/freshtrack/freshtrack/query/querytest"
)

// freezerDays is a freezer at a UTC site, 1 and 2 March 2026, reading
// −20 °C every minute except a recognised defrost to −10 °C on 1 March
// 03:00–03:30 and a five-hour rise on 2 March 10:00–15:00 that the detector
// recorded as a defrost outside its bounds, with a door opening at
// 09:55–10:10 just before it; rules alert at 60 and 240 minutes out of
// temperature a day; three cooling logs; an alert of every food-safety kind.
type freezerDays struct {
	db                 *querytest.DB
	org, site, freezer string
	p                  compliance.HACCPParams
}

func newFreezerDays(t *testing.T) *freezerDays {
	t.Helper()
	db := querytest.New(t)
	f := &freezerDays{db: db}
	f.org = db.Org("Kühlhaus AG")
	f.site = db.Site(f.org, "Store", "UTC")
	f.freezer = db.Unit(f.org, f.site, "Freezer 1", "freezer", -30, -15)
	s, _ := db.Sensor(f.org, f.freezer, "FZ-1")
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	at := func(h, m int) time.Time { return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	var rs []querytest.Reading
	for tt := day.Add(-2 * time.Hour); tt.Before(day.Add(49 * time.Hour)); tt = tt.Add(time.Minute) {
		v := -20.0
		if (!tt.Before(at(3, 0)) && tt.Before(at(3, 30))) || (!tt.Before(at(34, 0)) && tt.Before(at(39, 0))) {
			v = -10
		}
		rs = append(rs, querytest.R(s, tt, v))
	}
	db.MustWrite(rs...)
	db.Refresh(day.AddDate(0, 0, 4))
	totRule := db.KindRule(f.org, "freezer", "time_out_of_temp", 60)
	db.KindRule(f.org, "freezer", "time_out_of_temp", 240)
	db.Exec(`INSERT INTO unit_events (org_id, unit_id, kind, source, started_at, ended_at, peak_c, within_bounds) VALUES
		($1, $2, 'defrost', 'detected', $3, $4, -10, true),
		($1, $2, 'defrost', 'detected', $5, $6, -10, false),
		($1, $2, 'door_open', 'sensor', $7, $8, NULL, true),
		($1, $2, 'door_open', 'detected', '2026-02-20T10:00:00Z', '2026-02-20T10:05:00Z', NULL, true)`,
		f.org, f.freezer, at(3, 0), at(3, 30), at(34, 0), at(39, 0), at(33, 55), at(34, 10))
	db.Exec(`INSERT INTO defrost_patterns (unit_id, org_id, period_seconds, anchor, phase_tolerance_seconds, duration_seconds,
		peak_c, max_peak_c, max_duration_seconds, episodes, learned_at)
		VALUES ($1, $2, 86400, $3, 900, 1800, -10, -7, 2700, 12, '2026-02-28T12:00:00Z')`, f.freezer, f.org, at(3, 0))
	db.Exec(`INSERT INTO cooling_logs (org_id, unit_id, item, source, started_at, start_c, stage1_deadline, stage1_at,
		stage2_deadline, stage2_at, status, failed_stage, ended_at, last_c) VALUES
		($1, $2, 'Chicken stock', 'manual', '2026-03-01T12:00:00Z', 60, '2026-03-01T14:00:00Z', '2026-03-01T13:30:00Z',
		 '2026-03-01T18:00:00Z', '2026-03-01T17:00:00Z', 'passed', NULL, '2026-03-01T17:00:00Z', 4.5),
		($1, $2, 'Rice', 'detected', '2026-03-02T12:00:00Z', 58, '2026-03-02T14:00:00Z', '2026-03-02T13:50:00Z',
		 '2026-03-02T18:00:00Z', NULL, 'failed', 2, '2026-03-02T18:00:00Z', 9),
		($1, $2, NULL, 'detected', '2026-03-02T22:00:00Z', 57, '2026-03-03T00:00:00Z', NULL,
		 '2026-03-03T04:00:00Z', NULL, 'running', NULL, NULL, 30)`, f.org, f.freezer)
	for _, k := range []string{alerting.KindTrendWarning, alerting.KindDefrost, alerting.KindDoorOpen, alerting.KindTimeOutOfTemp,
		alerting.KindCooling, alerting.KindManualLogMissed, alerting.KindCalibrationDue, alerting.KindSensorImplausible} {
		rule := totRule
		if k != alerting.KindTimeOutOfTemp {
			rule = db.KindRule(f.org, "freezer", k, 30)
		}
		db.Exec(`INSERT INTO alerts (org_id, unit_id, rule_id, kind, severity, status, started_at, resolved_at)
			VALUES ($1, $2, $3, $4, 'warning', 'resolved', '2026-03-02T11:00:00Z', '2026-03-02T12:00:00Z')`, f.org, f.freezer, rule, k)
	}
	f.p = compliance.HACCPParams{OrgID: f.org, SiteID: f.site, From: day, To: day.AddDate(0, 0, 1),
		Now: func() time.Time { return day.AddDate(0, 0, 5) }}
	return f
}

func TestHACCPFoodSafetySections(t *testing.T) {
	t.Parallel()
	f := newFreezerDays(t)
	ctx := context.Background()
	r, err := compliance.HACCP(ctx, f.db.Pool, f.p)
	if err != nil {
		t.Fatal(err)
	}
	u := r.Units[0]

	// Day 1: 30 minutes out of range, all of it a recognised defrost. Day
	// 2: five hours out of range, the defrost outside its bounds counts,
	// reaching both rule limits and the Food Code's 4 hours.
	want := []compliance.TimeOutOfTemp{
		{Date: "2026-03-01", MinutesOutOfRange: 30, DefrostMinutes: 30, Minutes: 0, RuleLimitsMinutes: []float64{60, 240}, LimitsReachedMinutes: []float64{}},
		{Date: "2026-03-02", MinutesOutOfRange: 300, DefrostMinutes: 0, Minutes: 300, RuleLimitsMinutes: []float64{60, 240},
			LimitsReachedMinutes: []float64{60, 240}, ReachesFoodCodeLimit: true},
	}
	if len(u.TimeOutOfTemp) != 2 {
		t.Fatalf("time out of temperature %+v", u.TimeOutOfTemp)
	}
	for i, w := range want {
		g := u.TimeOutOfTemp[i]
		if g.Date != w.Date || g.MinutesOutOfRange != w.MinutesOutOfRange || g.DefrostMinutes != w.DefrostMinutes || g.Minutes != w.Minutes ||
			!slices.Equal(g.RuleLimitsMinutes, w.RuleLimitsMinutes) || !slices.Equal(g.LimitsReachedMinutes, w.LimitsReachedMinutes) ||
			g.ReachesFoodCodeLimit != w.ReachesFoodCodeLimit {
			t.Errorf("time out of temperature %s = %+v, want %+v", w.Date, g, w)
		}
	}

	d := u.Defrosts
	if d.Count != 2 || d.OutOfBounds != 1 || len(d.Cycles) != 2 || !d.Cycles[0].WithinBounds || d.Cycles[1].WithinBounds ||
		d.Cycles[1].DurationMinutes != 300 || *d.Cycles[1].Peak != -10 || d.Pattern == nil || d.Pattern.PeriodMinutes != 1440 ||
		d.Pattern.MaxDurationMinutes != 45 || d.Pattern.Episodes != 12 {
		t.Errorf("defrosts %+v (pattern %+v)", d, d.Pattern)
	}
	// The opening of 20 February is outside the period.
	do := u.DoorOpenings
	if do.Count != 1 || do.TotalMinutes != 15 || do.LongestMinutes != 15 || do.Openings[0].Source != "sensor" {
		t.Errorf("door openings %+v", do)
	}
	if len(u.Excursions) != 2 {
		t.Fatalf("excursions %+v", u.Excursions)
	}
	var texts []string
	for _, x := range u.Excursions[1].ExplainedBy {
		texts = append(texts, x.Text)
	}
	if len(u.Excursions[0].ExplainedBy) != 1 || u.Excursions[0].ExplainedBy[0].Text != "explained by a defrost 03:00–03:30" ||
		!slices.Equal(texts, []string{"explained by a door opening 09:55–10:10", "explained by a defrost 10:00–15:00"}) {
		t.Errorf("explanations %+v / %v", u.Excursions[0].ExplainedBy, texts)
	}

	if len(u.CoolingLogs) != 3 {
		t.Fatalf("cooling logs %+v", u.CoolingLogs)
	}
	c := u.CoolingLogs[1]
	if *c.Item != "Rice" || c.Status != "failed" || *c.FailedStage != 2 || c.Stage1.Target != 21 || c.Stage2.Target != 5 ||
		c.Stage2.ReachedAt != nil || !c.Stage1.ReachedAt.Equal(time.Date(2026, 3, 2, 13, 50, 0, 0, time.UTC)) || *c.Start != 58 {
		t.Errorf("failed cooling log %+v", c)
	}
	if u.CoolingLogs[2].Status != "running" || u.CoolingLogs[2].Item != nil || u.CoolingLogs[2].EndedAt != nil || u.CoolingLogs[0].FailedStage != nil {
		t.Errorf("cooling logs %+v", u.CoolingLogs)
	}

	if len(u.Alerts) != 8 {
		t.Fatalf("alerts %+v", u.Alerts)
	}
	for _, a := range u.Alerts {
		if a.Name == "" || a.Name == a.Kind || a.Name != compliance.AlertName(a.Kind) {
			t.Errorf("alert %s named %q", a.Kind, a.Name)
		}
	}

	// In °F, the new temperatures convert too.
	fp := f.p
	fp.Unit = compliance.Fahrenheit
	rf, err := compliance.HACCP(ctx, f.db.Pool, fp)
	if err != nil {
		t.Fatal(err)
	}
	uf := rf.Units[0]
	if *uf.Defrosts.Cycles[0].Peak != 14 || uf.Defrosts.Pattern.MaxPeak != 19.4 || *uf.CoolingLogs[1].Start != 136.4 || uf.CoolingLogs[1].Stage2.Target != 41 {
		t.Errorf("fahrenheit defrost %+v, pattern %+v, cooling %+v", uf.Defrosts.Cycles[0], uf.Defrosts.Pattern, uf.CoolingLogs[1])
	}

	// CSV: one section each.
	var buf bytes.Buffer
	if err := compliance.WriteCSV(&buf, r); err != nil {
		t.Fatal(err)
	}
	cr := csv.NewReader(&buf)
	cr.FieldsPerRecord = -1
	count := map[string]int{}
	header := map[string][]string{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec[0] == "section" {
			continue
		}
		count[rec[0]]++
		header[rec[0]] = rec
	}
	for sec, n := range map[string]int{compliance.SectionTimeOutOfTemp: 2, compliance.SectionDefrosts: 2, compliance.SectionDefrostPatterns: 1,
		compliance.SectionDoorOpenings: 1, compliance.SectionCoolingLogs: 3, compliance.SectionAlerts: 8, compliance.SectionExcursions: 2} {
		if count[sec] != n {
			t.Errorf("csv section %s has %d rows, want %d", sec, count[sec], n)
		}
	}
	if tot := header[compliance.SectionTimeOutOfTemp]; !slices.Equal(tot[6:], []string{"300", "0", "300", "60; 240", "60; 240", "true"}) {
		t.Errorf("csv time out of temperature row %v", tot)
	}
	if ex := header[compliance.SectionExcursions]; ex[len(ex)-1] != "explained by a door opening 09:55–10:10; explained by a defrost 10:00–15:00" {
		t.Errorf("csv excursion row %v", ex)
	}

	// PDF: the sections print.
	buf.Reset()
	if err := compliance.WritePDF(&buf, r, compliance.Uncompressed()); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, buf.Bytes())
	for _, s := range []string{"Time out of temperature", "yes: discard TCS food", "Defrost cycles: 2 (1 outside the learned bounds)",
		"OUTSIDE LEARNED BOUNDS", "Learned pattern: every 1440.0 min", "Door openings: 1", "Cooling logs: 3", "Rice",
		"explained by", "Alerts: 8", "Door left open", "Cooling at risk"} {
		if !strings.Contains(text, s) {
			t.Errorf("pdf lacks %q", s)
		}
	}

	// The content hash covers the new sections.
	f.db.Exec(`UPDATE unit_events SET within_bounds = NOT within_bounds WHERE unit_id = $1 AND kind = 'door_open'`, f.freezer)
	r2, err := compliance.HACCP(ctx, f.db.Pool, f.p)
	if err != nil {
		t.Fatal(err)
	}
	f.db.Exec(`UPDATE cooling_logs SET last_c = 8 WHERE unit_id = $1 AND status = 'running'`, f.freezer)
	r3, err := compliance.HACCP(ctx, f.db.Pool, f.p)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Header.ContentSHA256 == r.Header.ContentSHA256 || r3.Header.ContentSHA256 == r2.Header.ContentSHA256 {
		t.Errorf("content hash unchanged by the new sections: %s %s %s", r.Header.ContentSHA256, r2.Header.ContentSHA256, r3.Header.ContentSHA256)
	}
}

func TestAlertNamesCoverEveryKind(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, k := range alerting.Kinds() {
		n := compliance.AlertName(k)
		if n == k || n == "" || seen[n] {
			t.Errorf("kind %s has name %q", k, n)
		}
		seen[n] = true
	}
}
