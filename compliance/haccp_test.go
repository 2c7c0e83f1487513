package compliance_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/compliance"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/query"
	"github.com/freshtrack/freshtrack/query/querytest"
	"github.com/freshtrack/freshtrack/schema"
)

// week is a scripted week at a Berlin kitchen, 2026-03-23 to 2026-03-29
// (the last day has 23 hours: clocks go forward). Fridge 1 reads 3.0 °C
// every 5 minutes except:
//
//   - Tuesday 14:00–14:40 local: nine readings above the safe 5 °C (peak
//     9.5 at 14:20), back to 3.0 at 14:45. A temp_high alert covers it,
//     acknowledged by Anna Müller at 14:12, with a corrective action by
//     Jörg Weiß at 14:30.
//   - Thursday: nothing between 10:00 and 12:00 local (23 readings
//     missing): the 10:00 reading stands for twice the probe's 5-minute
//     interval (safety.Stand), then a 110-minute gap.
//
// Tiefkühler 2 reads −18.0 every 5 minutes. Hand-computed expectations are in
// the tests below.
type week struct {
	db                  *querytest.DB
	org, site           string
	fridge, freezer     string
	fridgeSensor        int64
	anna, joerg         string
	alertID, earlyAlert string
	otherOrg, otherSite string
	otherUnit           string
	from, to, now       time.Time
	berlin              *time.Location
	p0, p1              time.Time
	excursionOut        []float64
}

func newWeek(t *testing.T, opts ...pgtest.Option) *week {
	t.Helper()
	db := querytest.New(t, opts...)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	w := &week{db: db, berlin: berlin,
		from: time.Date(2026, 3, 23, 0, 0, 0, 0, time.UTC), to: time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC),
		now: time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC),
		p0:  time.Date(2026, 3, 22, 23, 0, 0, 0, time.UTC), p1: time.Date(2026, 3, 29, 22, 0, 0, 0, time.UTC),
		excursionOut: []float64{8.0, 8.5, 9.0, 9.2, 9.5, 9.1, 8.4, 7.0, 5.5},
	}
	w.org = db.Org("Café Zürich GmbH")
	w.site = db.Site(w.org, "Kitchen", "Europe/Berlin")
	w.fridge = db.Unit(w.org, w.site, "Fridge 1", "fridge", 0, 5)
	w.freezer = db.Unit(w.org, w.site, "Tiefkühler 2", "freezer", -30, -15)
	w.fridgeSensor, _ = db.Sensor(w.org, w.fridge, "F1-probe")
	freezerSensor, _ := db.Sensor(w.org, w.freezer, "F2-probe")
	w.anna = db.User("Anna Müller", "anna@example.com")
	w.joerg = db.User("Jörg Weiß", "joerg@example.com")

	excStart := time.Date(2026, 3, 24, 13, 0, 0, 0, time.UTC) // 14:00 CET
	gapFrom := time.Date(2026, 3, 26, 9, 0, 0, 0, time.UTC)   // 10:00 CET
	var rs []querytest.Reading
	for at := w.p0.Add(-time.Hour); at.Before(w.p1.Add(time.Hour)); at = at.Add(5 * time.Minute) {
		rs = append(rs, querytest.R(freezerSensor, at, -18))
		if at.After(gapFrom) && at.Before(gapFrom.Add(2*time.Hour)) {
			continue
		}
		temp := 3.0
		if i := int(at.Sub(excStart) / (5 * time.Minute)); !at.Before(excStart) && i < len(w.excursionOut) {
			temp = w.excursionOut[i]
		}
		rs = append(rs, querytest.R(w.fridgeSensor, at, temp))
	}
	db.MustWrite(rs...)

	rule := db.Rule(w.org, w.fridge, "temp_high", 5)
	offRule := db.Rule(w.org, w.fridge, "sensor_offline", 15)
	ctx := context.Background()
	row := func(sql string, args ...any) string {
		t.Helper()
		var id string
		if err := db.Pool.QueryRow(ctx, sql, args...).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	w.alertID = row(`
		INSERT INTO alerts (org_id, unit_id, rule_id, sensor_id, kind, severity, status, started_at, opened_at,
		                    acknowledged_at, acknowledged_by, resolved_at, peak_c)
		VALUES ($1, $2, $3, $4, 'temp_high', 'critical', 'resolved', $5, $5::timestamptz + interval '10 minutes',
		        $5::timestamptz + interval '12 minutes', $6, $5::timestamptz + interval '50 minutes', 9.5)
		RETURNING id::text`, w.org, w.fridge, rule, w.fridgeSensor, excStart, w.anna)
	// An earlier alert on the same unit that overlaps no excursion, and an
	// offline alert over the gap: neither belongs to the excursion.
	w.earlyAlert = row(`
		INSERT INTO alerts (org_id, unit_id, rule_id, kind, severity, status, started_at, resolved_at)
		VALUES ($1, $2, $3, 'temp_high', 'warning', 'resolved', '2026-03-23T08:00:00Z', '2026-03-23T08:20:00Z') RETURNING id::text`,
		w.org, w.fridge, rule)
	row(`INSERT INTO alerts (org_id, unit_id, rule_id, kind, severity, status, started_at, resolved_at)
		VALUES ($1, $2, $3, 'sensor_offline', 'warning', 'resolved', '2026-03-26T09:15:00Z', '2026-03-26T11:00:00Z') RETURNING id::text`,
		w.org, w.fridge, offRule)
	db.Exec(`INSERT INTO corrective_actions (org_id, unit_id, alert_id, action, disposition, taken_by, taken_at, notes)
		VALUES ($1, $2, $3, 'Moved stock to the walk-in; door seal replaced', 'moved', $4, '2026-03-24T13:30:00Z', 'seal torn')`,
		w.org, w.fridge, w.alertID, w.joerg)
	db.Exec(`INSERT INTO corrective_actions (org_id, unit_id, action, disposition, taken_by, taken_at)
		VALUES ($1, $2, 'Defrosted the freezer', 'kept', $3, '2026-03-27T07:00:00Z')`, w.org, w.freezer, w.joerg)
	db.Exec(`INSERT INTO manual_checks (org_id, unit_id, checked_at, temp_c, checked_by, notes)
		VALUES ($1, $2, '2026-03-25T08:00:00Z', 3.4, $3, 'probe check'), ($1, $2, '2026-03-31T08:00:00Z', 3.9, $3, 'after the period')`,
		w.org, w.fridge, w.anna)

	// Another organisation with a kitchen of its own, data in the same week.
	w.otherOrg = db.Org("Other")
	w.otherSite = db.Site(w.otherOrg, "Kitchen", "Europe/Berlin")
	w.otherUnit = db.Unit(w.otherOrg, w.otherSite, "Fridge 1", "fridge", 0, 5)
	os, _ := db.Sensor(w.otherOrg, w.otherUnit, "F1-probe")
	db.MustWrite(querytest.R(os, time.Date(2026, 3, 24, 12, 0, 0, 0, time.UTC), 42))
	return w
}

func (w *week) report(t *testing.T, mutate ...func(*compliance.HACCPParams)) *compliance.Report {
	t.Helper()
	p := compliance.HACCPParams{OrgID: w.org, SiteID: w.site, From: w.from, To: w.to, Now: func() time.Time { return w.now }}
	for _, m := range mutate {
		m(&p)
	}
	r, err := compliance.HACCP(context.Background(), w.db.Pool, p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ptr(v float64) *float64 { return &v }

func eqp(a, b *float64) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

func TestHACCPScriptedWeek(t *testing.T) {
	t.Parallel()
	w := newWeek(t)
	var buf bytes.Buffer
	if err := compliance.WriteJSON(&buf, w.report(t)); err != nil {
		t.Fatal(err)
	}
	// Everything below is read back from the JSON a client gets.
	var r compliance.Report
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	h := r.Header
	if h.Organization != "Café Zürich GmbH" || h.Site != "Kitchen" || h.TimeZone != "Europe/Berlin" || h.From != "2026-03-23" || h.To != "2026-03-29" ||
		!h.PeriodStart.Equal(w.p0) || !h.PeriodEnd.Equal(w.p1) || !h.DataEnd.Equal(w.p1) || h.TemperatureUnit != "C" || !h.GeneratedAt.Equal(w.now) {
		t.Fatalf("header %+v", h)
	}
	if len(r.Units) != 2 || r.Units[0].Name != "Fridge 1" || r.Units[1].Name != "Tiefkühler 2" {
		t.Fatalf("units %+v", r.Units)
	}
	f := r.Units[0]
	if f.SafeMin != 0 || f.SafeMax != 5 || len(f.Sensors) != 1 || f.Sensors[0] != "F1-probe" || len(f.Days) != 7 {
		t.Fatalf("fridge %+v", f)
	}
	type day struct {
		date          string
		n             int64
		min, max, avg float64
		covered, out  float64
		pct           float64
	}
	want := []day{
		{"2026-03-23", 288, 3, 3, 3, 1440, 0, 100},
		{"2026-03-24", 288, 3, 9.5, 3.16, 1440, 45, 96.88}, // (279×3 + 74.2)/288; 100×1395/1440
		{"2026-03-25", 288, 3, 3, 3, 1440, 0, 100},
		{"2026-03-26", 265, 3, 3, 3, 1330, 0, 100}, // 23 readings missing; the one before the gap stands for 10 minutes
		{"2026-03-27", 288, 3, 3, 3, 1440, 0, 100},
		{"2026-03-28", 288, 3, 3, 3, 1440, 0, 100},
		{"2026-03-29", 276, 3, 3, 3, 1380, 0, 100}, // 23 hours
	}
	for i, wd := range want {
		d := f.Days[i]
		if d.Date != wd.date || d.Readings != wd.n || !eqp(d.Min, ptr(wd.min)) || !eqp(d.Max, ptr(wd.max)) || !eqp(d.Avg, ptr(wd.avg)) ||
			d.MinutesCovered != wd.covered || d.MinutesOutOfRange != wd.out || !eqp(d.PercentInRange, ptr(wd.pct)) {
			t.Errorf("day %s = %+v (min %v max %v avg %v pct %v), want %+v", d.Date, d, *d.Min, *d.Max, *d.Avg, *d.PercentInRange, wd)
		}
	}
	// 5×288 + 265 + 276 readings; 7200 + 1330 + 1380 covered minutes; the
	// 110-minute gap completes the 167-hour week.
	s := f.Summary
	if s.Readings != 1981 || *s.Min != 3 || *s.Max != 9.5 || *s.Avg != 3.02 || s.MinutesCovered != 9910 || s.MinutesOutOfRange != 45 || *s.PercentInRange != 99.55 {
		t.Errorf("fridge summary %+v (avg %v, pct %v)", s, *s.Avg, *s.PercentInRange)
	}
	if len(f.Excursions) != 1 {
		t.Fatalf("excursions %+v", f.Excursions)
	}
	e := f.Excursions[0]
	if !e.Start.Equal(time.Date(2026, 3, 24, 13, 0, 0, 0, time.UTC)) || !e.End.Equal(time.Date(2026, 3, 24, 13, 45, 0, 0, time.UTC)) ||
		e.DurationMinutes != 45 || e.MinutesOutOfRange != 45 || e.Peak != 9.5 || e.Direction != "high" || e.Readings != 9 || e.Ongoing || e.StartedBeforePeriod {
		t.Errorf("excursion %+v", e)
	}
	if len(e.Alerts) != 1 {
		t.Fatalf("excursion alerts %+v", e.Alerts)
	}
	a := e.Alerts[0]
	if a.ID != w.alertID || a.Severity != "critical" || a.AcknowledgedBy == nil || a.AcknowledgedBy.Name != "Anna Müller" || a.AcknowledgedBy.Email != "anna@example.com" ||
		!a.AcknowledgedAt.Equal(time.Date(2026, 3, 24, 13, 12, 0, 0, time.UTC)) || len(a.CorrectiveActions) != 1 {
		t.Fatalf("alert %+v", a)
	}
	c := a.CorrectiveActions[0]
	if c.Action != "Moved stock to the walk-in; door seal replaced" || c.Disposition != "moved" || c.TakenBy.Name != "Jörg Weiß" ||
		!c.TakenAt.Equal(time.Date(2026, 3, 24, 13, 30, 0, 0, time.UTC)) || *c.Notes != "seal torn" {
		t.Fatalf("corrective action %+v", c)
	}
	if len(f.Gaps) != 1 || !f.Gaps[0].Start.Equal(time.Date(2026, 3, 26, 9, 10, 0, 0, time.UTC)) ||
		!f.Gaps[0].End.Equal(time.Date(2026, 3, 26, 11, 0, 0, 0, time.UTC)) || f.Gaps[0].DurationMinutes != 110 {
		t.Fatalf("gaps %+v", f.Gaps)
	}
	if len(f.ManualChecks) != 1 || f.ManualChecks[0].Temp != 3.4 || !f.ManualChecks[0].InRange || f.ManualChecks[0].CheckedBy.Name != "Anna Müller" {
		t.Fatalf("manual checks %+v", f.ManualChecks)
	}
	if len(f.CorrectiveActions) != 1 || f.CorrectiveActions[0].AlertID == nil || *f.CorrectiveActions[0].AlertID != w.alertID {
		t.Fatalf("fridge corrective actions %+v", f.CorrectiveActions)
	}
	z := r.Units[1]
	if z.Summary.Readings != 2004 || z.Summary.MinutesCovered != 10020 || *z.Summary.PercentInRange != 100 || len(z.Excursions) != 0 || len(z.Gaps) != 0 ||
		len(z.CorrectiveActions) != 1 || z.CorrectiveActions[0].AlertID != nil || z.CorrectiveActions[0].Action != "Defrosted the freezer" {
		t.Fatalf("freezer %+v", z)
	}

	// The content hash is SHA-256 over the canonical body; the footer
	// carries the audit head of the organisation.
	body, err := compliance.CanonicalBody(&r)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	if h.ContentSHA256 != hex.EncodeToString(sum[:]) || strings.Contains(string(body), "generated_at") || strings.Contains(string(body), "audit_head") ||
		!strings.HasPrefix(string(body), `{"header":{"data_end":"2026-03-29T22:00:00Z","from":"2026-03-23",`) {
		t.Fatalf("content hash %s over %.200s", h.ContentSHA256, body)
	}
	var head string
	if err := w.db.Pool.QueryRow(context.Background(), `SELECT encode(hash, 'hex') FROM audit_log WHERE org_id = $1 ORDER BY id DESC LIMIT 1`, w.org).Scan(&head); err != nil {
		t.Fatal(err)
	}
	if r.Footer.AuditHeadSHA256 != head || len(head) != 64 {
		t.Fatalf("audit head %q, want %q", r.Footer.AuditHeadSHA256, head)
	}
	// Regenerated later over the same data: same hash.
	later := w.report(t, func(p *compliance.HACCPParams) { p.Now = func() time.Time { return w.now.Add(48 * time.Hour) } })
	if later.Header.ContentSHA256 != h.ContentSHA256 || later.Header.GeneratedAt.Equal(h.GeneratedAt) {
		t.Fatalf("regenerated report hash %s, want %s", later.Header.ContentSHA256, h.ContentSHA256)
	}

	// In °F: temperatures converted, minutes unchanged.
	fr := w.report(t, func(p *compliance.HACCPParams) { p.Unit = compliance.Fahrenheit })
	ff := fr.Units[0]
	if fr.Header.TemperatureUnit != "F" || ff.SafeMin != 32 || ff.SafeMax != 41 || ff.Excursions[0].Peak != 49.1 || *ff.Days[0].Min != 37.4 ||
		ff.Summary.MinutesOutOfRange != 45 || fr.Header.ContentSHA256 == h.ContentSHA256 {
		t.Fatalf("fahrenheit report %+v", ff)
	}
}

func TestHACCPCSV(t *testing.T) {
	t.Parallel()
	w := newWeek(t)
	r := w.report(t)
	var buf bytes.Buffer
	if err := compliance.WriteCSV(&buf, r); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	if strings.Count(text, "\n\n") != 12 {
		t.Fatalf("want thirteen sections separated by blank lines:\n%s", text)
	}
	// A header row precedes each section's rows.
	cr := csv.NewReader(strings.NewReader(text))
	cr.FieldsPerRecord = -1
	var current []string
	rows := map[string][]map[string]string{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec[0] == "section" {
			current = rec
			continue
		}
		if len(rec) != len(current) {
			t.Fatalf("row %v has %d cells, header %v has %d", rec, len(rec), current, len(current))
		}
		m := map[string]string{}
		for i, col := range current {
			m[col] = rec[i]
		}
		rows[rec[0]] = append(rows[rec[0]], m)
	}
	field := map[string]string{}
	for _, m := range rows["report"] {
		field[m["field"]] = m["value"]
	}
	if field["organization"] != "Café Zürich GmbH" || field["time_zone"] != "Europe/Berlin" || field["from"] != "2026-03-23" ||
		field["temperature_unit"] != "C" || field["content_sha256"] != r.Header.ContentSHA256 || field["audit_head_sha256"] != r.Footer.AuditHeadSHA256 {
		t.Fatalf("report section %v", field)
	}
	days := rows["daily_summary"]
	if len(days) != 14 {
		t.Fatalf("%d daily rows, want 14", len(days))
	}
	tue := days[1]
	for col, want := range map[string]string{
		"unit": "Fridge 1", "date": "2026-03-24", "readings": "288", "min_C": "3", "max_C": "9.5", "avg_C": "3.16",
		"safe_min_C": "0", "safe_max_C": "5", "minutes_covered": "1440", "minutes_out_of_range": "45", "percent_in_range": "96.88",
	} {
		if tue[col] != want {
			t.Errorf("daily_summary %s = %q, want %q (%v)", col, tue[col], want, tue)
		}
	}
	if thu := days[3]; thu["readings"] != "265" || thu["minutes_covered"] != "1330" {
		t.Errorf("thursday %v", thu)
	}
	ex := rows["excursions"]
	if len(ex) != 1 {
		t.Fatalf("excursions %v", ex)
	}
	for col, want := range map[string]string{
		"start_utc": "2026-03-24T13:00:00Z", "end_utc": "2026-03-24T13:45:00Z", "start_local": "2026-03-24T14:00:00+01:00",
		"duration_min": "45", "peak_C": "9.5", "direction": "high", "readings": "9", "alert_ids": w.alertID,
		"acknowledged_at_utc": "2026-03-24T13:12:00Z", "acknowledged_by": "Anna Müller <anna@example.com>",
		"corrective_actions": "2026-03-24T13:30:00Z Jörg Weiß <joerg@example.com>: Moved stock to the walk-in; door seal replaced (moved)",
	} {
		if ex[0][col] != want {
			t.Errorf("excursions %s = %q, want %q", col, ex[0][col], want)
		}
	}
	gaps := rows["gaps"]
	if len(gaps) != 1 || gaps[0]["start_local"] != "2026-03-26T10:10:00+01:00" || gaps[0]["end_local"] != "2026-03-26T12:00:00+01:00" || gaps[0]["duration_min"] != "110" {
		t.Fatalf("gaps %v", gaps)
	}
	mc := rows["manual_checks"]
	if len(mc) != 1 || mc[0]["temp_C"] != "3.4" || mc[0]["in_range"] != "true" || mc[0]["checked_by"] != "Anna Müller" || mc[0]["notes"] != "probe check" {
		t.Fatalf("manual checks %v", mc)
	}
	ca := rows["corrective_actions"]
	if len(ca) != 2 || ca[0]["alert_id"] != w.alertID || ca[1]["unit"] != "Tiefkühler 2" || ca[1]["alert_id"] != "" {
		t.Fatalf("corrective actions %v", ca)
	}
}

// TestHACCPLateReading: a reading written hours late is in the next report
// at once, in both storage modes (the report reads raw readings).
func TestHACCPLateReading(t *testing.T) {
	t.Parallel()
	for _, mode := range []schema.Mode{schema.Postgres, schema.Timescale} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			db := querytest.New(t, pgtest.WithMode(mode))
			org := db.Org("late")
			site := db.Site(org, "Site", "UTC")
			unit := db.Unit(org, site, "Fridge", "fridge", 0, 5)
			s, _ := db.Sensor(org, unit, "late-1")
			day := time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC)
			var rs []querytest.Reading
			for at := day.Add(-time.Hour); at.Before(day.Add(25 * time.Hour)); at = at.Add(time.Minute) {
				if at.Hour() != 9 || at.Minute() != 30 || at.Day() != 10 {
					rs = append(rs, querytest.R(s, at, 3))
				}
			}
			db.MustWrite(rs...)
			db.Refresh(day.Add(26 * time.Hour))
			p := compliance.HACCPParams{OrgID: org, SiteID: site, From: day, To: day, Now: func() time.Time { return day.Add(48 * time.Hour) }}
			before, err := compliance.HACCP(context.Background(), db.Pool, p)
			if err != nil {
				t.Fatal(err)
			}
			if n := before.Units[0].Summary.Readings; n != 1439 || len(before.Units[0].Excursions) != 0 {
				t.Fatalf("before: %d readings, %d excursions", n, len(before.Units[0].Excursions))
			}
			db.MustWrite(querytest.R(s, day.Add(9*time.Hour+30*time.Minute), 12.5)) // 14.5 hours late
			after, err := compliance.HACCP(context.Background(), db.Pool, p)
			if err != nil {
				t.Fatal(err)
			}
			u := after.Units[0]
			if u.Summary.Readings != 1440 || len(u.Excursions) != 1 || u.Excursions[0].Peak != 12.5 || u.Summary.MinutesOutOfRange != 1 ||
				after.Header.ContentSHA256 == before.Header.ContentSHA256 {
				t.Fatalf("after the late reading: %+v %+v", u.Summary, u.Excursions)
			}
		})
	}
}

// TestHACCPEdges: an excursion running across the period start and end,
// a unit without sensors, a period still running (data up to now).
func TestHACCPEdges(t *testing.T) {
	t.Parallel()
	db := querytest.New(t)
	org := db.Org("edges")
	site := db.Site(org, "Kolkata", "Asia/Kolkata")
	hot := db.Unit(org, site, "A hot", "fridge", 0, 5)
	db.Unit(org, site, "B empty", "fridge", 0, 5)
	s, _ := db.Sensor(org, hot, "hot-1")
	kol, _ := time.LoadLocation("Asia/Kolkata")
	day := time.Date(2026, 7, 1, 0, 0, 0, 0, kol) // 2026-06-30T18:30Z
	var rs []querytest.Reading
	for at := day.Add(-time.Hour); at.Before(day.Add(26 * time.Hour)); at = at.Add(10 * time.Minute) {
		temp := 3.0
		if at.Before(day.Add(30*time.Minute)) || !at.Before(day.Add(23*time.Hour+50*time.Minute)) {
			temp = -2 // below the safe range across both period edges
		}
		rs = append(rs, querytest.R(s, at, temp))
	}
	db.MustWrite(rs...)
	r, err := compliance.HACCP(context.Background(), db.Pool, compliance.HACCPParams{OrgID: org, SiteID: site, From: day, To: day,
		Now: func() time.Time { return day.Add(72 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	u := r.Units[0]
	if len(u.Excursions) != 2 {
		t.Fatalf("excursions %+v", u.Excursions)
	}
	first, last := u.Excursions[0], u.Excursions[1]
	if !first.StartedBeforePeriod || !first.Start.Equal(day) || !first.End.Equal(day.Add(30*time.Minute)) || first.Direction != "low" || first.Peak != -2 ||
		first.Readings != 3 || first.MinutesOutOfRange != 30 {
		t.Errorf("first excursion %+v", first)
	}
	if !last.Ongoing || !last.Start.Equal(day.Add(23*time.Hour+50*time.Minute)) || !last.End.Equal(day.Add(24*time.Hour)) || last.MinutesOutOfRange != 10 {
		t.Errorf("last excursion %+v", last)
	}
	if u.Summary.Readings != 144 || u.Summary.MinutesCovered != 1440 || u.Summary.MinutesOutOfRange != 40 || len(u.Gaps) != 0 {
		t.Errorf("summary %+v gaps %+v", u.Summary, u.Gaps)
	}
	empty := r.Units[1]
	if empty.Summary.Readings != 0 || empty.Summary.Min != nil || empty.Summary.PercentInRange != nil || len(empty.Gaps) != 1 ||
		empty.Gaps[0].DurationMinutes != 1440 || len(empty.Days) != 1 {
		t.Errorf("empty unit %+v", empty)
	}

	// Today, 13:05 local: the data ends now, and the last reading (13:00)
	// is 5 minutes old, so not yet a gap.
	now := day.Add(13*time.Hour + 5*time.Minute)
	r, err = compliance.HACCP(context.Background(), db.Pool, compliance.HACCPParams{OrgID: org, SiteID: site, From: day, To: day, UnitIDs: []string{hot},
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	u = r.Units[0]
	if len(r.Units) != 1 || !r.Header.DataEnd.Equal(now) || u.Summary.Readings != 79 || u.Summary.MinutesCovered != 785 || len(u.Gaps) != 0 {
		t.Fatalf("running period: %+v gaps %+v", u.Summary, u.Gaps)
	}
}

func TestHACCPValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := querytest.New(t)
	org := db.Org("v")
	site := db.Site(org, "S", "UTC")
	day := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		p     compliance.HACCPParams
		field string
	}{
		{compliance.HACCPParams{From: day, To: day.AddDate(0, 0, -1)}, "to"},
		{compliance.HACCPParams{From: day, To: day.AddDate(0, 0, 366)}, "to"},
		{compliance.HACCPParams{To: day}, "from"},
		{compliance.HACCPParams{From: day, To: day, Unit: "K"}, "units"},
	} {
		c.p.OrgID, c.p.SiteID = org, site
		_, err := compliance.HACCP(ctx, db.Pool, c.p)
		var ve *compliance.ValidationError
		if !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("%+v: %v, want a validation error on %s", c.p, err, c.field)
		}
	}
	if _, err := compliance.HACCP(ctx, db.Pool, compliance.HACCPParams{OrgID: org, SiteID: site, From: day, To: day.AddDate(0, 0, 365)}); err != nil {
		t.Errorf("366 days: %v", err)
	}
}

// TestHACCPTenantIsolation: another organisation's site or unit, a missing
// one and a malformed id are ErrNotFound, never data.
func TestHACCPTenantIsolation(t *testing.T) {
	t.Parallel()
	w := newWeek(t)
	ctx := context.Background()
	for _, p := range []compliance.HACCPParams{
		{OrgID: w.org, SiteID: w.otherSite},
		{OrgID: w.org, SiteID: "00000000-0000-0000-0000-000000000000"},
		{OrgID: w.org, SiteID: "kitchen"},
		{OrgID: w.org, SiteID: w.site, UnitIDs: []string{w.otherUnit}},
		{OrgID: w.org, SiteID: w.site, UnitIDs: []string{w.fridge, "x"}},
		{OrgID: w.otherOrg, SiteID: w.site},
	} {
		p.From, p.To = w.from, w.to
		r, err := compliance.HACCP(ctx, w.db.Pool, p)
		if !errors.Is(err, compliance.ErrNotFound) || !errors.Is(err, query.ErrNotFound) || r != nil {
			t.Fatalf("%+v: %+v, %v; want ErrNotFound", p, r, err)
		}
	}
	r := w.report(t)
	for _, u := range r.Units {
		if *u.Summary.Max == 42 || u.UnitID == w.otherUnit {
			t.Fatalf("another organisation's data in the report: %+v", u)
		}
	}
	// Inside a caller's transaction, too.
	tx, err := w.db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := compliance.HACCP(ctx, tx, compliance.HACCPParams{OrgID: w.org, SiteID: w.otherSite, From: w.from, To: w.to}); !errors.Is(err, compliance.ErrNotFound) {
		t.Fatalf("in a transaction: %v", err)
	}
	inTx, err := compliance.HACCP(ctx, tx, compliance.HACCPParams{OrgID: w.org, SiteID: w.site, From: w.from, To: w.to, Now: func() time.Time { return w.now }})
	if err != nil || inTx.Header.ContentSHA256 != r.Header.ContentSHA256 {
		t.Fatalf("in a transaction: %v", err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1`); err != nil {
		t.Fatalf("the caller's transaction is unusable after HACCP: %v", err)
	}
}

// TestHACCPProbes: a unit's probes are folded as package safety defines
// (safety.Mixer): out of range while any live probe is, a probe that
// stopped reporting or reported an error code is dead, no live probe is a
// gap; the limits are safety.LimitsFor of the unit's rules.
func TestHACCPProbes(t *testing.T) {
	t.Parallel()
	db := querytest.New(t)
	org := db.Org("probes")
	site := db.Site(org, "Site", "UTC")
	day := time.Date(2026, 6, 10, 0, 0, 0, 0, time.UTC)
	at := func(h, m, s int) time.Time {
		return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	}
	series := func(sensor int64, from, to time.Time, every time.Duration, temp float64) []querytest.Reading {
		var rs []querytest.Reading
		for t := from; !t.After(to); t = t.Add(every) {
			rs = append(rs, querytest.R(sensor, t, temp))
		}
		return rs
	}
	fault := func(sensor int64, t time.Time) {
		db.Exec(`INSERT INTO sensor_faults (sensor_id, time, code) VALUES ($1, $2, 327.67)`, sensor, t)
	}

	// A walk-in whose door probe reads 8 °C and back probe 3 °C, every 30
	// seconds, for an hour: the whole hour is out of range, one excursion.
	walkIn := db.Unit(org, site, "A walk-in", "walk_in", 0, 5)
	door, _ := db.Sensor(org, walkIn, "door")
	back, _ := db.Sensor(org, walkIn, "back")
	db.MustWrite(series(door, at(10, 0, 0), at(10, 59, 0), 30*time.Second, 8)...)
	db.MustWrite(series(back, at(9, 0, 15), at(12, 0, 15), 30*time.Second, 3)...)

	// A walk-in whose warm probe reports an error code at 10:00:30, then
	// measures again from 11:00 to 11:10 and stops: two excursions, each
	// ending when the warm probe is dead and the other one decides.
	dead := db.Unit(org, site, "B walk-in", "walk_in", 0, 5)
	warm, _ := db.Sensor(org, dead, "warm")
	cold, _ := db.Sensor(org, dead, "cold")
	db.MustWrite(series(cold, at(9, 0, 0), at(12, 0, 0), time.Minute, 3)...)
	db.MustWrite(series(warm, at(9, 0, 0), at(10, 0, 0), time.Minute, 9)...)
	fault(warm, at(10, 0, 30))
	db.MustWrite(series(warm, at(11, 0, 0), at(11, 10, 0), time.Minute, 9)...)

	// A fridge with one probe: error codes from 10:00 to 10:29 (no
	// readings), and one stored as a reading at 11:00 by an earlier
	// version: gaps, never temperatures. Its kind's rule follows the safe
	// range.
	fridge := db.Unit(org, site, "C fridge", "fridge", 0, 5)
	only, _ := db.Sensor(org, fridge, "only")
	var rs []querytest.Reading
	for _, r := range series(only, at(9, 0, 0), at(12, 0, 0), time.Minute, 3) {
		switch {
		case !r.Time.Before(at(10, 0, 0)) && r.Time.Before(at(10, 30, 0)):
			fault(only, r.Time)
		case r.Time.Equal(at(11, 0, 0)):
			r.TempC = 327.67
			rs = append(rs, r)
		default:
			rs = append(rs, r)
		}
	}
	db.MustWrite(rs...)
	db.Exec(`INSERT INTO alert_rules (org_id, unit_kind, kind, threshold) VALUES ($1, 'fridge', 'temp_high', NULL)`, org)

	// A display whose own temp_high rule is stricter than its safe range.
	display := db.Unit(org, site, "D display", "display", 0, 5)
	ds, _ := db.Sensor(org, display, "display")
	db.MustWrite(series(ds, at(9, 0, 0), at(12, 0, 0), time.Minute, 4.5)...)
	db.Rule(org, display, "temp_high", 4)
	db.Exec(`INSERT INTO manual_checks (org_id, unit_id, checked_at, temp_c) VALUES ($1, $2, $3, 4.5)`, org, display, at(10, 0, 0))

	r, err := compliance.HACCP(context.Background(), db.Pool, compliance.HACCPParams{OrgID: org, SiteID: site, From: day, To: day,
		Now: func() time.Time { return day.Add(48 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	type exc struct {
		start, end time.Time
		out        float64
		readings   int64
		ongoing    bool
	}
	type gap struct{ start, end time.Time }
	check := func(u compliance.UnitReport, covered, out float64, readings int64, max float64, excs []exc, gaps []gap) {
		t.Helper()
		s := u.Summary
		if s.MinutesCovered != covered || s.MinutesOutOfRange != out || s.Readings != readings || *s.Max != max {
			t.Errorf("%s: summary %+v (max %v), want covered %v out %v readings %d max %v", u.Name, s, *s.Max, covered, out, readings, max)
		}
		if len(u.Excursions) != len(excs) {
			t.Fatalf("%s: %d excursions, want %d: %+v", u.Name, len(u.Excursions), len(excs), u.Excursions)
		}
		for i, w := range excs {
			e := u.Excursions[i]
			if !e.Start.Equal(w.start) || !e.End.Equal(w.end) || e.MinutesOutOfRange != w.out || e.Readings != w.readings ||
				e.DurationMinutes != w.end.Sub(w.start).Minutes() || e.Direction != "high" || e.Ongoing != w.ongoing || e.StartedBeforePeriod {
				t.Errorf("%s: excursion %d %+v, want %+v", u.Name, i, e, w)
			}
		}
		if len(u.Gaps) != len(gaps) {
			t.Fatalf("%s: gaps %+v, want %+v", u.Name, u.Gaps, gaps)
		}
		var gapMinutes float64
		for i, w := range gaps {
			g := u.Gaps[i]
			if !g.Start.Equal(w.start) || !g.End.Equal(w.end) {
				t.Errorf("%s: gap %d %+v, want %+v", u.Name, i, g, w)
			}
			gapMinutes += g.DurationMinutes
		}
		if covered+gapMinutes != 1440 {
			t.Errorf("%s: covered %v + gaps %v is not the day", u.Name, covered, gapMinutes)
		}
	}
	if len(r.Units) != 4 {
		t.Fatalf("units %+v", r.Units)
	}
	// The probes' last readings (10:59 warm, 12:00:15 back) stand for
	// twice their 30-second interval, but at least safety.MinStand.
	a := r.Units[0]
	check(a, 182, 61, 119+361, 8,
		[]exc{{at(10, 0, 0), at(11, 1, 0), 61, 119, false}},
		[]gap{{day, at(9, 0, 15)}, {at(12, 2, 15), day.Add(24 * time.Hour)}})
	if e := a.Excursions[0]; e.Peak != 8 || a.LimitMax != 5 || a.LimitMin != 0 {
		t.Errorf("walk-in: peak %v limits %v..%v", e.Peak, a.LimitMin, a.LimitMax)
	}
	check(r.Units[1], 182, 60.5+12, 181+61+11, 9,
		[]exc{{at(9, 0, 0), at(10, 0, 30), 60.5, 61, false}, {at(11, 0, 0), at(11, 12, 0), 12, 11, false}},
		[]gap{{day, at(9, 0, 0)}, {at(12, 2, 0), day.Add(24 * time.Hour)}})
	// C: no live probe while the probe reports error codes (10:00 to the
	// reading at 10:30) and from the one at 11:00 to the next reading.
	c := r.Units[2]
	check(c, 182-30-1, 0, 181-30-1, 3, nil,
		[]gap{{day, at(9, 0, 0)}, {at(10, 0, 0), at(10, 30, 0)}, {at(11, 0, 0), at(11, 1, 0)}, {at(12, 2, 0), day.Add(24 * time.Hour)}})
	if c.LimitMax != 5 {
		t.Errorf("a rule following the safe range: limit %v", c.LimitMax)
	}
	// D: out of its rule's limit all the time it is covered; the gap after
	// does not end the excursion.
	d := r.Units[3]
	check(d, 182, 182, 181, 4.5, []exc{{at(9, 0, 0), day.Add(24 * time.Hour), 182, 181, true}},
		[]gap{{day, at(9, 0, 0)}, {at(12, 2, 0), day.Add(24 * time.Hour)}})
	if d.LimitMax != 4 || d.SafeMax != 5 || len(d.ManualChecks) != 1 || d.ManualChecks[0].InRange {
		t.Errorf("display: limits %v..%v, manual checks %+v", d.LimitMin, d.LimitMax, d.ManualChecks)
	}
}
