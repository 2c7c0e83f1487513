package compliance_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/compliance"
)

func syntheticReport() *compliance.Report {
	at := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	notes := "line one\nline two <&> \"quoted\" \\ back\u2028slash"
	lo, hi, avg, pct := 2.0, 4.5, 3.1, 99.5
	return &compliance.Report{
		Header: compliance.Header{Organization: "Ørsted & Søn 冷蔵", Site: "=HYPERLINK(\"x\")", TimeZone: "Europe/Oslo",
			From: "2026-06-01", To: "2026-06-01", PeriodStart: at, PeriodEnd: at.Add(24 * time.Hour), DataEnd: at.Add(24 * time.Hour),
			TemperatureUnit: "C", GeneratedAt: at.Add(48 * time.Hour)},
		Units: []compliance.UnitReport{{
			UnitID: "u1", Name: "Kjøleskap 🧊 冷蔵庫", Kind: "fridge", SafeMax: 5, Sensors: []string{"s-1"},
			Summary: compliance.Stats{Readings: 3, Min: &lo, Max: &hi, Avg: &avg, MinutesCovered: 1e21, PercentInRange: &pct},
			Days:    []compliance.DayStats{{Date: "2026-06-01", Stats: compliance.Stats{Readings: 3, Min: &lo, Max: &hi, Avg: &avg, MinutesCovered: 0.1}}},
			ManualChecks: []compliance.ManualCheck{{CheckedAt: at, Temp: 3.3, InRange: true, Notes: &notes,
				CheckedBy: &compliance.Person{Name: "Łukasz Dvořák", Email: "l@example.com"}}},
		}},
		Footer: compliance.Footer{AuditHeadSHA256: strings.Repeat("ab", 32), AuditHeadID: 7},
	}
}

// TestCanonicalBody: sorted keys, no whitespace, no HTML escaping, ES6
// numbers, and the generation time, own hash and footer left out.
func TestCanonicalBody(t *testing.T) {
	t.Parallel()
	r := syntheticReport()
	body, err := compliance.CanonicalBody(r)
	if err != nil {
		t.Fatal(err)
	}
	s := string(body)
	for _, want := range []string{
		`{"header":{"data_end":"2026-06-02T10:00:00Z","from":"2026-06-01","organization":"Ørsted & Søn 冷蔵",`,
		`"notes":"line one\nline two <&> \"quoted\" \\ back` + "\u2028" + `slash"`,
		`"minutes_covered":1e+21`, `"minutes_covered":0.1`, `"safe_min":0,`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("canonical body lacks %s:\n%s", want, s)
		}
	}
	for _, absent := range []string{"generated_at", "content_sha256", "footer", "audit_head", "\n", ": "} {
		if strings.Contains(s, absent) {
			t.Errorf("canonical body contains %q", absent)
		}
	}
	h1, err := compliance.ContentHash(r)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.GeneratedAt = r.Header.GeneratedAt.Add(time.Hour)
	r.Header.ContentSHA256 = "something"
	r.Footer.AuditHeadID = 8
	if h2, _ := compliance.ContentHash(r); h2 != h1 || len(h1) != 64 {
		t.Fatalf("hash changed with the excluded fields: %s, %s", h1, h2)
	}
	r.Units[0].Days[0].Readings = 4
	if h3, _ := compliance.ContentHash(r); h3 == h1 {
		t.Fatal("hash did not change with the data")
	}
}

// TestPDFUnprintableText: characters the embedded font lacks print as '?'
// and never break the document; the rest prints as written.
func TestPDFUnprintableText(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := compliance.WritePDF(&buf, syntheticReport(), compliance.Uncompressed()); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, buf.Bytes())
	for _, want := range []string{"Kjøleskap ? ???", "Ørsted & Søn ??", "Łukasz Dvořák", "line one", "line two <&>", "°C"} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q:\n%s", want, text)
		}
	}
	if err := compliance.WritePDF(&buf, syntheticReport(), compliance.PageSize("A3")); err == nil {
		t.Fatal("page size A3 accepted")
	}
}

// TestCSVFormulaInjection: free text a spreadsheet would run is quoted.
func TestCSVFormulaInjection(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := compliance.WriteCSV(&buf, syntheticReport()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `report,site,"'=HYPERLINK(""x"")"`) {
		t.Fatalf("formula not neutralised:\n%s", buf.String())
	}
}
