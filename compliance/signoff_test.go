package compliance_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/compliance"
	"github.com/freshtrack/freshtrack/internal/database"
	"github.com/freshtrack/freshtrack/query/querytest"
)

// freshReauth is a re-authentication one minute before the week's clock.
func (w *week) freshReauth(context.Context, database.Querier) (time.Time, error) {
	return w.now.Add(-time.Minute), nil
}

func (w *week) sign(t *testing.T, mutate ...func(*compliance.SignParams)) (compliance.Signoff, error) {
	t.Helper()
	p := compliance.SignParams{OrgID: w.org, SiteID: w.site, From: w.from, To: w.to, Meaning: compliance.MeaningReviewed,
		PrintedName: "Anna Müller", Comment: "week checked against the paper log", SignerID: w.anna, Actor: "user:" + w.anna,
		Reauth: w.freshReauth, Now: func() time.Time { return w.now }}
	for _, m := range mutate {
		m(&p)
	}
	return compliance.Sign(context.Background(), w.db.Pool, p)
}

func (w *week) mustSign(t *testing.T, mutate ...func(*compliance.SignParams)) compliance.Signoff {
	t.Helper()
	s, err := w.sign(t, mutate...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (w *week) signatures(t *testing.T) []compliance.Signoff {
	t.Helper()
	list, err := compliance.ListSignoffs(context.Background(), w.db.Pool, compliance.ListSignoffsParams{OrgID: w.org, SiteID: w.site,
		Now: func() time.Time { return w.now }})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func (w *week) countSignoffs(t *testing.T) (signoffs, entries int) {
	t.Helper()
	err := w.db.Pool.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM record_signoffs), (SELECT count(*) FROM audit_log WHERE action = 'record.signed')`).Scan(&signoffs, &entries)
	if err != nil {
		t.Fatal(err)
	}
	return signoffs, entries
}

// TestSignoffIsAnAuditEntryBoundToTheHash signs the week and checks that
// the signature is the audit entry it cites, carries the report's hash,
// and shows as current in the list and in the report.
func TestSignoffIsAnAuditEntryBoundToTheHash(t *testing.T) {
	t.Parallel()
	w := newWeek(t)
	before := w.report(t)
	if before.Review.Status != compliance.ReviewNotSigned || len(before.Review.Signatures) != 0 ||
		!strings.Contains(before.Review.Statement, "Not reviewed/signed") {
		t.Fatalf("unsigned review = %+v", before.Review)
	}
	s := w.mustSign(t)
	if s.Status != compliance.SignatureCurrent || s.ContentSHA256 != before.Header.ContentSHA256 || s.From != "2026-03-23" || s.To != "2026-03-29" ||
		s.PrintedName != "Anna Müller" || s.Meaning != "reviewed" || s.AuditID == 0 || s.Comment == nil {
		t.Fatalf("signature = %+v, report hash %s", s, before.Header.ContentSHA256)
	}
	var action, hash, name, meaning string
	if err := w.db.Pool.QueryRow(context.Background(), `
		SELECT action, details->>'content_hash', details->>'printed_name', details->>'meaning' FROM audit_log WHERE id = $1 AND org_id = $2`,
		s.AuditID, w.org).Scan(&action, &hash, &name, &meaning); err != nil {
		t.Fatal(err)
	}
	if action != "record.signed" || hash != s.ContentSHA256 || name != "Anna Müller" || meaning != "reviewed" {
		t.Fatalf("audit entry %s %s %s %s", action, hash, name, meaning)
	}
	if _, _, err := auth.VerifyAudit(context.Background(), w.db.Pool, w.org); err != nil {
		t.Fatal(err)
	}
	// Signing does not change the hash it signed: the signatures are not
	// part of the content.
	after := w.report(t)
	if after.Header.ContentSHA256 != before.Header.ContentSHA256 {
		t.Fatalf("signing changed the report hash: %s → %s", before.Header.ContentSHA256, after.Header.ContentSHA256)
	}
	if after.Review.Status != compliance.ReviewSigned || len(after.Review.Signatures) != 1 || after.Review.Signatures[0].Status != compliance.SignatureCurrent {
		t.Fatalf("signed review = %+v", after.Review)
	}
	// A report in °F has another hash but judges the signature by the
	// signed (°C) form.
	f := w.report(t, func(p *compliance.HACCPParams) { p.Unit = compliance.Fahrenheit })
	if f.Header.ContentSHA256 == s.ContentSHA256 || f.Review.Status != compliance.ReviewSigned || f.Review.Signatures[0].Status != compliance.SignatureCurrent {
		t.Fatalf("fahrenheit review = %+v", f.Review)
	}
	// Another period of the same site is not covered by it.
	day := w.report(t, func(p *compliance.HACCPParams) { p.To = p.From })
	if day.Review.Status != compliance.ReviewNotSigned {
		t.Fatalf("one day of the signed week: review %+v", day.Review)
	}
	if list := w.signatures(t); len(list) != 1 || list[0].ID != s.ID || list[0].Status != compliance.SignatureCurrent {
		t.Fatalf("list = %+v", list)
	}
}

// TestSignoffGoesStaleOnLateReading: a reading that arrives after signing
// with a time inside the period changes the record; the signature shows as
// stale, and a new signature over the changed record is current.
func TestSignoffGoesStaleOnLateReading(t *testing.T) {
	t.Parallel()
	w := newWeek(t)
	s := w.mustSign(t)
	// A probe's buffered reading, between two of its regular ones, as
	// ingest stores it.
	w.db.MustWrite(querytest.R(w.fridgeSensor, time.Date(2026, 3, 25, 9, 2, 30, 0, time.UTC), 4.4))
	list := w.signatures(t)
	if len(list) != 1 || list[0].ID != s.ID || list[0].Status != compliance.SignatureStale {
		t.Fatalf("after a late reading: %+v", list)
	}
	r := w.report(t)
	if r.Review.Status != compliance.ReviewStale || r.Review.Signatures[0].Status != compliance.SignatureStale ||
		!strings.Contains(r.Review.Statement, "Not reviewed/signed") || r.Header.ContentSHA256 == s.ContentSHA256 {
		t.Fatalf("report review after a late reading: %+v", r.Review)
	}
	again := w.mustSign(t, func(p *compliance.SignParams) { p.Meaning = compliance.MeaningVerified; p.PrintedName = "Jörg Weiß" })
	list = w.signatures(t)
	if len(list) != 2 || list[0].ID != again.ID || list[0].Status != compliance.SignatureCurrent || list[1].Status != compliance.SignatureStale {
		t.Fatalf("after signing again: %+v", list)
	}
	if r := w.report(t); r.Review.Status != compliance.ReviewSigned || !strings.Contains(r.Review.Statement, "1 of 2 signatures are stale") {
		t.Fatalf("review with one stale and one current signature: %+v", r.Review)
	}
}

// TestSignoffGoesStaleOnEditedCorrectiveAction: correcting an action's
// text after signing makes the signature stale, and the edit is audited.
func TestSignoffGoesStaleOnEditedCorrectiveAction(t *testing.T) {
	t.Parallel()
	w := newWeek(t)
	r := w.report(t)
	ca := r.Units[0].CorrectiveActions
	if len(ca) != 1 || ca[0].TakenBy == nil || ca[0].TakenBy.Name != "Jörg Weiß" {
		t.Fatalf("corrective actions carry who took them: %+v", ca)
	}
	w.mustSign(t)
	var id string
	if err := w.db.Pool.QueryRow(context.Background(), `SELECT id::text FROM corrective_actions WHERE org_id = $1 AND alert_id = $2`, w.org, w.alertID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	text := "Moved stock to the walk-in; door seal replaced; stock probed at 4 °C"
	edited, err := compliance.EditCorrectiveAction(context.Background(), w.db.Pool, compliance.EditActionParams{OrgID: w.org, ActionID: id, Action: &text, Actor: "user:" + w.anna})
	if err != nil {
		t.Fatal(err)
	}
	if edited.Action != text || edited.Disposition != "moved" || edited.Notes == nil || *edited.Notes != "seal torn" || edited.TakenBy == nil || *edited.TakenBy != w.joerg {
		t.Fatalf("edited = %+v", edited)
	}
	if list := w.signatures(t); len(list) != 1 || list[0].Status != compliance.SignatureStale {
		t.Fatalf("after an edited corrective action: %+v", list)
	}
	var before, after string
	if err := w.db.Pool.QueryRow(context.Background(), `
		SELECT details->'before'->>'action', details->'after'->>'action' FROM audit_log WHERE org_id = $1 AND action = 'corrective_action.edit' AND target_id = $2`,
		w.org, id).Scan(&before, &after); err != nil {
		t.Fatal(err)
	}
	if before != "Moved stock to the walk-in; door seal replaced" || after != text {
		t.Fatalf("audit of the edit: %q → %q", before, after)
	}
	// Bad edits name the field and change nothing.
	empty, bad, other := " ", "burnt", w.otherOrg
	for _, c := range []struct {
		p     compliance.EditActionParams
		field string
	}{
		{compliance.EditActionParams{OrgID: w.org, ActionID: id, Action: &empty}, "action"},
		{compliance.EditActionParams{OrgID: w.org, ActionID: id, Disposition: &bad}, "disposition"},
		{compliance.EditActionParams{OrgID: w.org, ActionID: id}, "action"},
	} {
		_, err := compliance.EditCorrectiveAction(context.Background(), w.db.Pool, c.p)
		var ve *compliance.ValidationError
		if !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("edit %+v: %v, want a validation error naming %s", c.p, err, c.field)
		}
	}
	if _, err := compliance.EditCorrectiveAction(context.Background(), w.db.Pool, compliance.EditActionParams{OrgID: other, ActionID: id, Action: &text}); !errors.Is(err, compliance.ErrNotFound) {
		t.Errorf("another organisation's action: %v", err)
	}
	if r := w.report(t); r.Units[0].CorrectiveActions[0].Action != text {
		t.Fatalf("report shows %q", r.Units[0].CorrectiveActions[0].Action)
	}
}

// TestSignNeedsFreshReauthentication: without a re-authentication, or
// with one older than auth.ReauthMaxAge, nothing is signed.
func TestSignNeedsFreshReauthentication(t *testing.T) {
	t.Parallel()
	w := newWeek(t)
	stale := func(context.Context, database.Querier) (time.Time, error) { return w.now.Add(-10 * time.Minute), nil }
	refused := func(context.Context, database.Querier) (time.Time, error) {
		return time.Time{}, auth.ErrReauthRequired
	}
	for name, m := range map[string]func(*compliance.SignParams){
		"none":    func(p *compliance.SignParams) { p.Reauth = nil },
		"old":     func(p *compliance.SignParams) { p.Reauth = stale },
		"refused": func(p *compliance.SignParams) { p.Reauth = refused },
	} {
		if _, err := w.sign(t, m); !errors.Is(err, auth.ErrReauthRequired) {
			t.Errorf("%s re-authentication: %v, want ErrReauthRequired", name, err)
		}
	}
	if n, e := w.countSignoffs(t); n != 0 || e != 0 {
		t.Fatalf("refused signatures wrote %d rows and %d audit entries", n, e)
	}
}

// TestSignValidationNamesTheField: bad input names its field and writes
// nothing.
func TestSignValidationNamesTheField(t *testing.T) {
	t.Parallel()
	w := newWeek(t)
	for _, c := range []struct {
		name  string
		m     func(*compliance.SignParams)
		field string
	}{
		{"no meaning", func(p *compliance.SignParams) { p.Meaning = "" }, "meaning"},
		{"other meaning", func(p *compliance.SignParams) { p.Meaning = "approved" }, "meaning"},
		{"no printed name", func(p *compliance.SignParams) { p.PrintedName = "  " }, "printed_name"},
		{"long printed name", func(p *compliance.SignParams) { p.PrintedName = strings.Repeat("A", 201) }, "printed_name"},
		{"two-line printed name", func(p *compliance.SignParams) { p.PrintedName = "Anna\nMüller" }, "printed_name"},
		{"long comment", func(p *compliance.SignParams) { p.Comment = strings.Repeat("c", 2001) }, "comment"},
		{"no from", func(p *compliance.SignParams) { p.From = time.Time{} }, "from"},
		{"no to", func(p *compliance.SignParams) { p.To = time.Time{} }, "to"},
		{"to before from", func(p *compliance.SignParams) { p.To = p.From.AddDate(0, 0, -1) }, "to"},
		{"longer than a report", func(p *compliance.SignParams) { p.From = p.To.AddDate(-1, 0, -1) }, "to"},
		{"not ended", func(p *compliance.SignParams) { p.To = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC) }, "to"},
	} {
		_, err := w.sign(t, c.m)
		var ve *compliance.ValidationError
		if !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("%s: %v, want a validation error naming %s", c.name, err, c.field)
		}
	}
	if _, err := w.sign(t, func(p *compliance.SignParams) { p.SiteID = w.otherSite }); !errors.Is(err, compliance.ErrNotFound) {
		t.Errorf("another organisation's site: %v", err)
	}
	if n, e := w.countSignoffs(t); n != 0 || e != 0 {
		t.Fatalf("refused signatures wrote %d rows and %d audit entries", n, e)
	}
}

// TestSignedReportPDFAndCSV: the PDF and CSV say "Not reviewed/signed"
// before signing, and print the signature (printed name, meaning, time,
// status) after; a stale one is marked stale.
func TestSignedReportPDFAndCSV(t *testing.T) {
	t.Parallel()
	w := newWeek(t)
	pdf := func() string {
		var b bytes.Buffer
		if err := compliance.WritePDF(&b, w.report(t), compliance.Uncompressed()); err != nil {
			t.Fatal(err)
		}
		return pdfText(t, b.Bytes())
	}
	csvRows := func() map[string][][]string {
		var b bytes.Buffer
		if err := compliance.WriteCSV(&b, w.report(t)); err != nil {
			t.Fatal(err)
		}
		cr := csv.NewReader(&b)
		cr.FieldsPerRecord = -1
		rows := map[string][][]string{}
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			rows[rec[0]] = append(rows[rec[0]], rec)
		}
		return rows
	}
	field := func(rows map[string][][]string, name string) string {
		for _, r := range rows[compliance.SectionReport] {
			if r[1] == name {
				return r[2]
			}
		}
		return "(missing)"
	}

	if text := pdf(); !strings.Contains(text, "Review and sign-off") || !strings.Contains(text, "Not reviewed/signed") {
		t.Fatalf("unsigned PDF lacks the review section:\n%s", text)
	}
	rows := csvRows()
	if field(rows, "review_status") != "not_signed" || !strings.HasPrefix(field(rows, "review_statement"), "Not reviewed/signed") ||
		len(rows[compliance.SectionSignatures]) != 0 {
		t.Fatalf("unsigned CSV: %v / %v", rows[compliance.SectionReport], rows[compliance.SectionSignatures])
	}

	s := w.mustSign(t)
	text := pdf()
	for _, want := range []string{"Anna Müller", "reviewed", "2026-04-01 11:00 CEST", "current", "week checked against the paper log"} {
		if !strings.Contains(text, want) {
			t.Errorf("signed PDF lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Not reviewed/signed") {
		t.Errorf("signed PDF still says not signed")
	}
	rows = csvRows()
	sig := rows[compliance.SectionSignatures]
	if field(rows, "review_status") != "signed" || len(sig) != 1 {
		t.Fatalf("signed CSV: %v", sig)
	}
	want := []string{"signatures", "Kitchen", "2026-03-23", "2026-03-29", "reviewed", "Anna Müller", w.anna, "2026-04-01T09:00:00Z",
		"2026-04-01T11:00:00+02:00", "current", s.ContentSHA256}
	for i, v := range want {
		if sig[0][i] != v {
			t.Errorf("signature row column %d = %q, want %q (%v)", i, sig[0][i], v, sig[0])
		}
	}

	w.db.MustWrite(querytest.R(w.fridgeSensor, time.Date(2026, 3, 25, 9, 2, 30, 0, time.UTC), 4.4))
	if text := pdf(); !strings.Contains(text, "STALE") || !strings.Contains(text, "Not reviewed/signed as it stands") {
		t.Errorf("PDF with a stale signature:\n%s", text)
	}
	if rows := csvRows(); field(rows, "review_status") != "stale" || rows[compliance.SectionSignatures][0][9] != "stale" {
		t.Errorf("CSV with a stale signature: %v", rows[compliance.SectionSignatures])
	}
}
