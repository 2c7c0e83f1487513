package records_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/records"
)

func ptr[T any](v T) *T { return &v }

// fieldOf is the field a validation error names, "" for another error.
func fieldOf(err error) string {
	var ve *records.ValidationError
	if errors.As(err, &ve) {
		return ve.Field
	}
	return ""
}

func TestCalibrationsAreValidatedStoredAndListedNewestFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	ok := func(at, due time.Time) records.CalibrationParams {
		return records.CalibrationParams{OrgID: f.org, SensorID: f.sensor, UserID: f.user, Actor: "user:" + f.user,
			CalibratedAt: &at, DueAt: &due, ReferenceC: ptr(0.0), MeasuredC: ptr(0.3), OffsetC: ptr(-0.3),
			Method: "ice bath", Certificate: "CAL-2026-0042"}
	}
	for _, c := range []struct {
		field string
		edit  func(p *records.CalibrationParams)
	}{
		{"calibrated_at", func(p *records.CalibrationParams) { p.CalibratedAt = nil }},
		{"calibrated_at", func(p *records.CalibrationParams) { p.CalibratedAt = ptr(now.Add(time.Hour)) }},
		{"due_at", func(p *records.CalibrationParams) { p.DueAt = nil }},
		{"due_at", func(p *records.CalibrationParams) { p.DueAt = p.CalibratedAt }},
		{"due_at", func(p *records.CalibrationParams) { p.DueAt = ptr(p.CalibratedAt.Add(-time.Hour)) }},
		{"due_at", func(p *records.CalibrationParams) { p.DueAt = ptr(p.CalibratedAt.AddDate(5, 0, 2)) }},
		{"reference_c", func(p *records.CalibrationParams) { p.ReferenceC = ptr(-101.0) }},
		{"measured_c", func(p *records.CalibrationParams) { p.MeasuredC = ptr(250.0) }},
		{"offset_c", func(p *records.CalibrationParams) { p.OffsetC = ptr(21.0) }},
		{"method", func(p *records.CalibrationParams) { p.Method = string(make([]rune, 201)) }},
		{"certificate", func(p *records.CalibrationParams) { p.Certificate = string(make([]rune, 501)) }},
		{"notes", func(p *records.CalibrationParams) { p.Notes = string(make([]rune, 4001)) }},
	} {
		p := ok(now.Add(-time.Hour), now.AddDate(1, 0, 0))
		c.edit(&p)
		if _, err := records.RecordCalibration(ctx, f.tx, p); fieldOf(err) != c.field {
			t.Errorf("invalid %s: %v", c.field, err)
		}
	}
	if n := f.audits(t, "sensor_calibration.create"); n != 0 {
		t.Fatalf("refused records wrote %d audit rows", n)
	}
	older, err := records.RecordCalibration(ctx, f.tx, ok(now.AddDate(-1, 0, 0), now.AddDate(0, 0, -1)))
	if err != nil {
		t.Fatal(err)
	}
	newer, err := records.RecordCalibration(ctx, f.tx, ok(now.Add(-time.Hour), now.AddDate(1, 0, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if newer.SensorID != f.sensor || newer.PerformedBy == nil || *newer.PerformedBy != f.user || *newer.OffsetC != -0.3 ||
		*newer.Method != "ice bath" || newer.Notes != nil || !newer.CalibratedAt.Equal(now.Add(-time.Hour)) {
		t.Fatalf("stored %+v", newer)
	}
	list, err := records.ListCalibrations(ctx, f.tx, f.org, f.sensor)
	if err != nil || len(list) != 2 || list[0].ID != newer.ID || list[1].ID != older.ID {
		t.Fatalf("list = %+v, %v; want newest first", list, err)
	}
	if n := f.audits(t, "sensor_calibration.create"); n != 2 {
		t.Fatalf("%d audit rows, want 2", n)
	}
	// Another organisation's sensor does not exist, for reading or writing.
	if _, err := records.ListCalibrations(ctx, f.tx, f.org, f.otherSensor); !errors.Is(err, records.ErrNotFound) {
		t.Fatalf("list of another org's sensor: %v", err)
	}
	p := ok(now.Add(-time.Hour), now.AddDate(1, 0, 0))
	p.SensorID = f.otherSensor
	if _, err := records.RecordCalibration(ctx, f.tx, p); !errors.Is(err, records.ErrNotFound) {
		t.Fatalf("record on another org's sensor: %v", err)
	}
	// A retired sensor keeps its history and takes no new records.
	if _, err := f.tx.Exec(ctx, `UPDATE sensors SET retired_at = now() WHERE public_id = $1`, f.sensor); err != nil {
		t.Fatal(err)
	}
	if _, err := records.RecordCalibration(ctx, f.tx, ok(now.Add(-time.Minute), now.AddDate(1, 0, 0))); !errors.Is(err, records.ErrNotFound) {
		t.Fatalf("record on a retired sensor: %v", err)
	}
	if list, err := records.ListCalibrations(ctx, f.tx, f.org, f.sensor); err != nil || len(list) != 2 {
		t.Fatalf("retired sensor's list = %d, %v", len(list), err)
	}
}

func TestCoolingLogsStartCancelAndList(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	start := func(unit string, edit func(p *records.StartCoolingParams)) (records.CoolingLog, error) {
		p := records.StartCoolingParams{OrgID: f.org, UnitID: unit, UserID: f.user, Actor: "user:" + f.user, Item: "Beef stock, 20 l", StartC: ptr(71.5)}
		if edit != nil {
			edit(&p)
		}
		return records.StartCooling(ctx, f.tx, p)
	}
	now := time.Now()
	for _, c := range []struct {
		field string
		edit  func(p *records.StartCoolingParams)
	}{
		{"started_at", func(p *records.StartCoolingParams) { p.StartedAt = ptr(now.Add(time.Hour)) }},
		{"started_at", func(p *records.StartCoolingParams) { p.StartedAt = ptr(now.Add(-6*time.Hour - time.Minute)) }},
		{"start_c", func(p *records.StartCoolingParams) { p.StartC = ptr(300.0) }},
		{"item", func(p *records.StartCoolingParams) { p.Item = string(make([]rune, 201)) }},
		{"notes", func(p *records.StartCoolingParams) { p.Notes = string(make([]rune, 4001)) }},
	} {
		if _, err := start(f.chiller, c.edit); fieldOf(err) != c.field {
			t.Errorf("invalid %s: %v", c.field, err)
		}
	}
	// Only blast chillers and hot holding keep cooling logs.
	if _, err := start(f.fridge, nil); fieldOf(err) != "unit" {
		t.Fatalf("start on a fridge: %v", err)
	}
	if _, err := start(f.otherChiller, nil); !errors.Is(err, records.ErrNotFound) {
		t.Fatalf("start on another org's unit: %v", err)
	}

	began := now.Add(-30 * time.Minute).UTC().Truncate(time.Microsecond)
	l, err := start(f.chiller, func(p *records.StartCoolingParams) { p.StartedAt = &began })
	if err != nil {
		t.Fatal(err)
	}
	if l.Source != "manual" || l.Status != records.CoolingRunning || l.StartedBy == nil || *l.StartedBy != f.user ||
		!l.StartedAt.Equal(began) || !l.Stage1Deadline.Equal(began.Add(2*time.Hour)) || !l.Stage2Deadline.Equal(began.Add(6*time.Hour)) ||
		l.Stage1TargetC != 21 || l.Stage2TargetC != 5 || *l.StartC != 71.5 || *l.Item != "Beef stock, 20 l" || l.EndedAt != nil {
		t.Fatalf("started %+v", l)
	}
	// One running cycle per unit; another unit may run its own.
	var ce *records.ConflictError
	if _, err := start(f.chiller, nil); !errors.As(err, &ce) {
		t.Fatalf("second running cycle: %v", err)
	}
	hot, err := start(f.hotHold, nil)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(hot.StartedAt).Abs() > time.Minute {
		t.Fatalf("started_at defaults to now, got %s", hot.StartedAt)
	}

	cancel := func(unit, id string) (records.CoolingLog, error) {
		return records.CancelCooling(ctx, f.tx, records.CancelCoolingParams{OrgID: f.org, UnitID: unit, LogID: id, Actor: "user:" + f.user})
	}
	if _, err := cancel(f.hotHold, l.ID); !errors.Is(err, records.ErrNotFound) {
		t.Fatalf("cancel through another unit: %v", err)
	}
	c, err := cancel(f.chiller, l.ID)
	if err != nil || c.Status != records.CoolingCancelled || c.EndedAt == nil {
		t.Fatalf("cancel = %+v, %v", c, err)
	}
	if _, err := cancel(f.chiller, l.ID); !errors.As(err, &ce) {
		t.Fatalf("cancel twice: %v", err)
	}
	// With the first cancelled, the unit can cool again.
	if again, err := start(f.chiller, nil); err != nil || again.Status != records.CoolingRunning {
		t.Fatalf("start after the cancel = %+v, %v", again, err)
	}
	if n, m := f.audits(t, "cooling_log.start"), f.audits(t, "cooling_log.cancel"); n != 3 || m != 1 {
		t.Fatalf("audit rows: %d starts, %d cancels", n, m)
	}

	// Pages, latest start first, bounded by from and to.
	for i := 1; i <= 3; i++ {
		if _, err := f.tx.Exec(ctx, `
			INSERT INTO cooling_logs (org_id, unit_id, source, started_at, stage1_deadline, stage2_deadline, status, ended_at)
			VALUES ($1, $2, 'detected', $3, $3::timestamptz + interval '2 hours', $3::timestamptz + interval '6 hours', 'passed', $3::timestamptz + interval '3 hours')`,
			f.org, f.chiller, now.Add(-time.Duration(24*i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		page, err := records.ListCooling(ctx, f.tx, records.CoolingListParams{OrgID: f.org, UnitID: f.chiller, Cursor: cursor, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			got = append(got, it.Status)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	if fmt.Sprint(got) != "[running cancelled passed passed passed]" {
		t.Fatalf("listed %v", got)
	}
	page, err := records.ListCooling(ctx, f.tx, records.CoolingListParams{OrgID: f.org, UnitID: f.chiller,
		From: now.Add(-50 * time.Hour), To: now.Add(-time.Hour)})
	if err != nil || len(page.Items) != 2 || page.Items[0].Source != "detected" {
		t.Fatalf("window = %+v, %v", page.Items, err)
	}
	for _, c := range []struct {
		field string
		p     records.CoolingListParams
	}{
		{"from", records.CoolingListParams{From: now, To: now.Add(-time.Hour)}},
		{"limit", records.CoolingListParams{Limit: 201}},
		{"cursor", records.CoolingListParams{Cursor: "nope"}},
	} {
		c.p.OrgID, c.p.UnitID = f.org, f.chiller
		if _, err := records.ListCooling(ctx, f.tx, c.p); fieldOf(err) != c.field {
			t.Errorf("list with bad %s: %v", c.field, err)
		}
	}
	if _, err := records.ListCooling(ctx, f.tx, records.CoolingListParams{OrgID: f.org, UnitID: f.otherChiller}); !errors.Is(err, records.ErrNotFound) {
		t.Fatalf("list another org's unit: %v", err)
	}
}

func TestUnitEventsWithTheDefrostPattern(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	base := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	list := func(p records.UnitEventParams) records.UnitEvents {
		t.Helper()
		p.OrgID, p.UnitID = f.org, f.fridge
		out, err := records.ListUnitEvents(ctx, f.tx, p)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := list(records.UnitEventParams{}); len(out.Items) != 0 || out.DefrostPattern != nil || out.NextCursor != nil {
		t.Fatalf("empty unit: %+v", out)
	}
	// Defrosts every 6 h from 02:00 for 25 min; a door opening at 09:00;
	// the last defrost still running.
	for _, e := range []struct {
		kind, source string
		at           time.Duration
		dur          time.Duration
		within       bool
	}{
		{"defrost", "detected", 2 * time.Hour, 25 * time.Minute, true},
		{"defrost", "detected", 8 * time.Hour, 40 * time.Minute, false},
		{"door_open", "sensor", 9 * time.Hour, 3 * time.Minute, true},
		{"defrost", "detected", 14 * time.Hour, 0, true},
	} {
		var ended *time.Time
		if e.dur > 0 {
			ended = ptr(base.Add(e.at + e.dur))
		}
		if _, err := f.tx.Exec(ctx, `
			INSERT INTO unit_events (org_id, unit_id, kind, source, started_at, ended_at, peak_c, within_bounds, details)
			VALUES ($1, $2, $3, $4, $5, $6, -4.5, $7, '{"probe":"S-1"}')`, f.org, f.fridge, e.kind, e.source, base.Add(e.at), ended, e.within); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.tx.Exec(ctx, `
		INSERT INTO unit_events (org_id, unit_id, kind, source, started_at) VALUES ($1, $2, 'door_open', 'detected', $3)`,
		f.otherOrg, f.otherUnit, base.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.tx.Exec(ctx, `
		INSERT INTO defrost_patterns (unit_id, org_id, period_seconds, anchor, phase_tolerance_seconds, duration_seconds, peak_c, max_peak_c, max_duration_seconds, episodes)
		VALUES ($1, $2, 21600, $3, 900, 1500, -4.5, -1.5, 2400, 5)`, f.fridge, f.org, base.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	starts := func(out records.UnitEvents) string {
		s := ""
		for _, e := range out.Items {
			s += fmt.Sprintf("%s@%02d ", e.Kind, e.StartedAt.Hour())
		}
		return s
	}
	all := list(records.UnitEventParams{})
	if got := starts(all); got != "defrost@14 door_open@09 defrost@08 defrost@02 " {
		t.Fatalf("all: %s", got)
	}
	if d := all.DefrostPattern; d == nil || d.PeriodSeconds != 21600 || d.Episodes != 5 || !d.Anchor.Equal(base.Add(2*time.Hour)) || d.MaxDurationSeconds != 2400 {
		t.Fatalf("pattern %+v", all.DefrostPattern)
	}
	if e := all.Items[2]; e.WithinBounds || e.EndedAt == nil || *e.PeakC != -4.5 || string(e.Details) != `{"probe": "S-1"}` {
		t.Fatalf("defrost@08 %+v (details %s)", e, e.Details)
	}
	// The window selects what overlaps it: the 08:00 defrost ran to 08:40.
	if got := starts(list(records.UnitEventParams{From: base.Add(8*time.Hour + 30*time.Minute), To: base.Add(14 * time.Hour)})); got != "door_open@09 defrost@08 " {
		t.Fatalf("08:30-14:00: %s", got)
	}
	// A running event overlaps every later window.
	if got := starts(list(records.UnitEventParams{From: base.Add(20 * time.Hour)})); got != "defrost@14 " {
		t.Fatalf("from 20:00: %s", got)
	}
	if got := starts(list(records.UnitEventParams{Kind: "door_open"})); got != "door_open@09 " {
		t.Fatalf("door openings: %s", got)
	}
	p1 := list(records.UnitEventParams{Limit: 3})
	if p1.NextCursor == nil || len(p1.Items) != 3 || p1.DefrostPattern == nil {
		t.Fatalf("first page %+v", p1)
	}
	if got := starts(list(records.UnitEventParams{Limit: 3, Cursor: *p1.NextCursor})); got != "defrost@02 " {
		t.Fatalf("second page: %s", got)
	}
	for _, c := range []struct {
		field string
		p     records.UnitEventParams
	}{
		{"kind", records.UnitEventParams{Kind: "coffee_break"}},
		{"from", records.UnitEventParams{From: base, To: base}},
		{"limit", records.UnitEventParams{Limit: -1}},
		{"cursor", records.UnitEventParams{Cursor: "AAAA"}},
	} {
		c.p.OrgID, c.p.UnitID = f.org, f.fridge
		if _, err := records.ListUnitEvents(ctx, f.tx, c.p); fieldOf(err) != c.field {
			t.Errorf("bad %s: %v", c.field, err)
		}
	}
	if _, err := records.ListUnitEvents(ctx, f.tx, records.UnitEventParams{OrgID: f.org, UnitID: f.otherUnit}); !errors.Is(err, records.ErrNotFound) {
		t.Fatalf("another org's unit: %v", err)
	}
}
