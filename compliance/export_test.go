package compliance_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/compliance"
	"github.com/freshtrack/freshtrack/query/querytest"
)

func export(t *testing.T, w *week, p compliance.ExportParams) (int64, [][]string) {
	t.Helper()
	var buf bytes.Buffer
	n, err := compliance.ExportReadings(context.Background(), w.db.Pool, p, &buf)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != "time,site,unit,sensor,temp_c,humidity,battery" {
		t.Fatalf("header %v", recs[0])
	}
	if int64(len(recs)-1) != n {
		t.Fatalf("returned %d rows, wrote %d", n, len(recs)-1)
	}
	return n, recs[1:]
}

func inOrder(t *testing.T, rows [][]string) {
	t.Helper()
	var prev time.Time
	for i, r := range rows {
		at, err := time.Parse(time.RFC3339Nano, r[0])
		if err != nil {
			t.Fatal(err)
		}
		if at.Before(prev) {
			t.Fatalf("rows out of time order at %d: %v", i, r)
		}
		prev = at
	}
}

func TestExportReadings(t *testing.T) {
	t.Parallel()
	w := newWeek(t)
	// A reading with humidity and battery, on a sensor of no unit.
	loose, _ := w.db.Sensor(w.org, "", "spare-probe")
	w.db.MustWrite(querytest.Reading{Sensor: loose, Time: time.Date(2026, 3, 24, 12, 0, 0, 123456000, time.UTC), TempC: 21.25, Humidity: 55.5, Battery: 87})

	from, to := time.Date(2026, 3, 24, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 24, 13, 10, 0, 0, time.UTC)
	n, rows := export(t, w, compliance.ExportParams{OrgID: w.org, From: from, To: to})
	if n != 14+14+1 {
		t.Fatalf("%d rows, want 29", n)
	}
	if got := strings.Join(rows[0], ","); got != "2026-03-24T12:00:00Z,Kitchen,Fridge 1,F1-probe,3,," {
		t.Fatalf("first row %q", got)
	}
	if got := strings.Join(rows[2], ","); got != "2026-03-24T12:00:00.123456Z,,,spare-probe,21.25,55.5,87" {
		t.Fatalf("third row %q", got)
	}
	if got := strings.Join(rows[len(rows)-2], ","); got != "2026-03-24T13:05:00Z,Kitchen,Fridge 1,F1-probe,8.5,," {
		t.Fatalf("row %q", got)
	}
	inOrder(t, rows)

	// Narrowed to the site (the loose sensor drops out), then to a unit.
	if n, _ := export(t, w, compliance.ExportParams{OrgID: w.org, SiteID: w.site, From: from, To: to}); n != 28 {
		t.Fatalf("site export %d rows, want 28", n)
	}
	n, rows = export(t, w, compliance.ExportParams{OrgID: w.org, SiteID: w.site, UnitID: w.freezer, From: from, To: to})
	if n != 14 || rows[0][2] != "Tiefkühler 2" || rows[0][4] != "-18" {
		t.Fatalf("unit export %d rows %v", n, rows)
	}

	// A whole week, several daily statements: everything, in order.
	n, rows = export(t, w, compliance.ExportParams{OrgID: w.org, SiteID: w.site, From: w.p0, To: w.p1})
	if n != 1981+2004 {
		t.Fatalf("week export %d rows, want 3985", n)
	}
	inOrder(t, rows)
}

// TestExportTenantIsolation: another organisation's site or unit, a unit
// of another site, a missing one and malformed ids are ErrNotFound; an
// organisation's export holds only its own readings.
func TestExportTenantIsolation(t *testing.T) {
	t.Parallel()
	w := newWeek(t)
	ctx := context.Background()
	other := w.db.Site(w.org, "Bar", "Europe/Berlin")
	from, to := w.p0, w.p1
	for _, p := range []compliance.ExportParams{
		{OrgID: w.org, SiteID: w.otherSite},
		{OrgID: w.org, UnitID: w.otherUnit},
		{OrgID: w.org, SiteID: other, UnitID: w.fridge},
		{OrgID: w.org, SiteID: "00000000-0000-0000-0000-000000000000"},
		{OrgID: w.org, UnitID: "fridge-1"},
		{OrgID: "acme", SiteID: w.site},
		{OrgID: w.otherOrg, SiteID: w.site},
	} {
		p.From, p.To = from, to
		var buf bytes.Buffer
		n, err := compliance.ExportReadings(ctx, w.db.Pool, p, &buf)
		if !errors.Is(err, compliance.ErrNotFound) || n != 0 || buf.Len() != 0 {
			t.Fatalf("%+v: %d rows, %q, %v; want ErrNotFound and nothing written", p, n, buf.String(), err)
		}
	}
	_, rows := export(t, w, compliance.ExportParams{OrgID: w.org, From: from, To: to})
	for _, r := range rows {
		if r[4] == "42" {
			t.Fatalf("another organisation's reading exported: %v", r)
		}
	}
	n, rows := export(t, w, compliance.ExportParams{OrgID: w.otherOrg, From: from, To: to})
	if n != 1 || rows[0][4] != "42" {
		t.Fatalf("other organisation's export: %v", rows)
	}
	for _, c := range []struct{ site, unit string }{{w.otherSite, ""}, {"", w.otherUnit}, {other, w.fridge}, {"x", ""}} {
		if loc, err := compliance.ScopeLocation(ctx, w.db.Pool, w.org, c.site, c.unit); !errors.Is(err, compliance.ErrNotFound) {
			t.Fatalf("ScopeLocation(%q, %q) = %v, %v; want ErrNotFound", c.site, c.unit, loc, err)
		}
	}
	for _, c := range []struct{ site, unit, want string }{{w.site, "", "Europe/Berlin"}, {"", w.freezer, "Europe/Berlin"}, {"", "", "UTC"}} {
		if loc, err := compliance.ScopeLocation(ctx, w.db.Pool, w.org, c.site, c.unit); err != nil || loc.String() != c.want {
			t.Fatalf("ScopeLocation(%q, %q) = %v, %v; want %s", c.site, c.unit, loc, err, c.want)
		}
	}
	var ve *compliance.ValidationError
	if _, err := compliance.ExportReadings(ctx, w.db.Pool, compliance.ExportParams{OrgID: w.org, From: to, To: from}, &bytes.Buffer{}); !errors.As(err, &ve) || ve.Field != "to" {
		t.Fatalf("reversed range: %v", err)
	}
}
