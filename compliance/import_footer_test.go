package compliance_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/compliance"
)

// A report on data imported from FreshTrack Pro says so in its footer,
// citing the import.completed audit entry verify wrote; the content hash
// does not change with it.
func TestHACCPFooterCitesTheImport(t *testing.T) {
	t.Parallel()
	w := newWeek(t)
	plain := w.report(t)
	if plain.Footer.Import != nil {
		t.Fatalf("footer of a report without an import: %+v", plain.Footer.Import)
	}
	var pdf bytes.Buffer
	if err := compliance.WritePDF(&pdf, plain, compliance.Uncompressed()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(pdfText(t, pdf.Bytes()), "imported from") {
		t.Fatal("PDF of a report without an import mentions one")
	}

	var id int64
	verified := time.Date(2026, 3, 30, 8, 15, 0, 0, time.UTC)
	if err := w.db.Pool.QueryRow(context.Background(), `
		INSERT INTO audit_log (org_id, at, actor, action, target_type, target_id, details)
		VALUES ($1::uuid, $2, 'system', 'import.completed', 'organization', $1::text, '{"result": "PASS", "source": "postgres://seed"}')
		RETURNING id`, w.org, verified).Scan(&id); err != nil {
		t.Fatal(err)
	}
	r := w.report(t)
	want := compliance.ImportNote{From: "FreshTrack Pro", VerifiedAt: verified, Result: "PASS", AuditID: id}
	if r.Footer.Import == nil || *r.Footer.Import != want || r.Footer.AuditHeadID != id {
		t.Fatalf("footer %+v, import %+v; want %+v with the entry as the head", r.Footer, r.Footer.Import, want)
	}
	if r.Header.ContentSHA256 != plain.Header.ContentSHA256 {
		t.Fatal("the import entry changed the content hash")
	}
	pdf.Reset()
	if err := compliance.WritePDF(&pdf, r, compliance.Uncompressed()); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(pdfText(t, pdf.Bytes())), " ")
	if !strings.Contains(text, "Includes data imported from FreshTrack Pro, verified 2026-03-30 10:15 CEST (PASS, audit entry") {
		t.Fatalf("PDF footer lacks the import:\n%s", text)
	}
	var csv bytes.Buffer
	if err := compliance.WriteCSV(&csv, r); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"report,imported_from,FreshTrack Pro", "report,import_verified_at_utc,2026-03-30T08:15:00Z", "report,import_result,PASS"} {
		if !strings.Contains(csv.String(), line) {
			t.Errorf("CSV lacks %q", line)
		}
	}
}
