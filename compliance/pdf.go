package compliance

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"
)

// Page sizes WritePDF lays out for.
const (
	PageA4     = "A4"
	PageLetter = "Letter"
)

// PDFOption configures WritePDF.
type PDFOption func(*pdfOptions)

type pdfOptions struct {
	pageSize string
	compress bool
}

// PageSize chooses A4 (the default) or Letter, portrait.
func PageSize(size string) PDFOption { return func(o *pdfOptions) { o.pageSize = size } }

// Uncompressed leaves the page content streams uncompressed, so the text can
// be read back without a PDF library (tests).
func Uncompressed() PDFOption { return func(o *pdfOptions) { o.compress = false } }

// The report prints in the Go fonts (embedded TrueType, subset into the
// PDF), so any Latin, Greek or Cyrillic name prints as written and °C is a
// real degree sign; a character the font lacks prints as '?'.
const fontFamily = "Go"

var fontRunes = sync.OnceValue(func() *sfnt.Font {
	f, err := sfnt.Parse(goregular.TTF)
	if err != nil {
		panic(fmt.Sprintf("parse embedded Go font: %v", err))
	}
	return f
})

// printable replaces what the font cannot print.
func printable(s string) string {
	f := fontRunes()
	var buf sfnt.Buffer
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return r
		case r == '\t':
			return ' '
		case unicode.IsControl(r) || r > 0xFFFF:
			return '?'
		}
		if gi, err := f.GlyphIndex(&buf, r); err != nil || gi == 0 {
			return '?'
		}
		return r
	}, s)
}

// pdfDoc wraps fpdf with the report's layout.
type pdfDoc struct {
	pdf        *fpdf.Fpdf
	r          *Report
	loc        *time.Location
	deg        string
	pageW      float64
	pageH      float64
	margin     float64
	bottom     float64
	contentW   float64
	lineH      float64
	tableFont  float64
	headerFont float64
}

type column struct {
	title string
	w     float64 // fraction of the content width
	align string  // "L", "R", "C"
}

// WritePDF writes the report laid out for printing: portrait A4 (or
// Letter), a header on every page with the organisation, site, period, time
// zone, temperature unit, generation time and content hash; a summary table
// of all units; per unit its daily table, excursions (with alerts,
// acknowledgements and corrective actions), gaps and manual checks; a
// footer with page numbers, the audit-trail head hash and, for data
// imported from FreshTrack Pro, when that import was verified. Times are the
// site's local times, with the zone's abbreviation.
func WritePDF(w io.Writer, r *Report, opts ...PDFOption) error {
	o := pdfOptions{pageSize: PageA4, compress: true}
	for _, opt := range opts {
		opt(&o)
	}
	if o.pageSize != PageA4 && o.pageSize != PageLetter {
		return fmt.Errorf("write report pdf: page size %q: must be A4 or Letter", o.pageSize)
	}
	loc, err := time.LoadLocation(r.Header.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	pdf := fpdf.NewCustom(&fpdf.InitType{OrientationStr: "P", UnitStr: "mm", SizeStr: o.pageSize})
	pdf.SetCompression(o.compress)
	pdf.AddUTF8FontFromBytes(fontFamily, "", goregular.TTF)
	pdf.AddUTF8FontFromBytes(fontFamily, "B", gobold.TTF)
	pdf.SetCreationDate(r.Header.GeneratedAt)
	pdf.SetModificationDate(r.Header.GeneratedAt)
	pdf.SetCatalogSort(true)
	pdf.SetTitle(printable(fmt.Sprintf("HACCP temperature record: %s, %s to %s", r.Header.Site, r.Header.From, r.Header.To)), true)
	pdf.SetAuthor(printable(r.Header.Organization), true)
	pdf.SetCreator("FreshTrack", true)
	pdf.AliasNbPages("{nb}")
	d := &pdfDoc{pdf: pdf, r: r, loc: loc, deg: "°" + r.Header.TemperatureUnit, margin: 12, lineH: 4.2, tableFont: 7.5, headerFont: 8}
	d.pageW, d.pageH = pdf.GetPageSize()
	d.bottom = 16
	d.contentW = d.pageW - 2*d.margin
	pdf.SetMargins(d.margin, d.margin, d.margin)
	pdf.SetAutoPageBreak(false, d.bottom)
	pdf.SetHeaderFunc(d.header)
	pdf.SetFooterFunc(d.footer)
	pdf.AddPage()

	d.summary()
	d.review()
	for i := range r.Units {
		d.unit(&r.Units[i])
	}
	bw := bufio.NewWriter(w)
	if err := pdf.Output(bw); err != nil {
		return fmt.Errorf("write report pdf: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write report pdf: %w", err)
	}
	return nil
}

func (d *pdfDoc) text(s string) string { return printable(s) }

func (d *pdfDoc) header() {
	p, h := d.pdf, d.r.Header
	p.SetY(d.margin - 4)
	p.SetFont(fontFamily, "B", 12)
	p.CellFormat(d.contentW*0.7, 6, "HACCP temperature record", "", 0, "L", false, 0, "")
	p.SetFont(fontFamily, "", d.headerFont)
	p.CellFormat(d.contentW*0.3, 6, "FreshTrack", "", 1, "R", false, 0, "")
	p.SetFont(fontFamily, "", d.headerFont)
	p.CellFormat(d.contentW, 4, d.text(fmt.Sprintf("Organisation: %s    Site: %s", h.Organization, h.Site)), "", 1, "L", false, 0, "")
	p.CellFormat(d.contentW, 4, d.text(fmt.Sprintf("Period: %s to %s (%s)    Temperatures in %s    Generated %s",
		h.From, h.To, h.TimeZone, d.deg, d.local(h.GeneratedAt))), "", 1, "L", false, 0, "")
	p.SetFont(fontFamily, "", 6.5)
	p.CellFormat(d.contentW, 3.5, "Content SHA-256: "+h.ContentSHA256, "", 1, "L", false, 0, "")
	y := p.GetY() + 1
	p.Line(d.margin, y, d.pageW-d.margin, y)
	p.SetY(y + 2)
}

func (d *pdfDoc) footer() {
	p := d.pdf
	y := d.pageH - d.bottom + 4
	p.Line(d.margin, y, d.pageW-d.margin, y)
	p.SetXY(d.margin, y+1)
	p.SetFont(fontFamily, "", 6.5)
	head := d.r.Footer.AuditHeadSHA256
	if head == "" {
		head = "(no audit entries)"
	} else {
		head = fmt.Sprintf("%s (entry %d)", head, d.r.Footer.AuditHeadID)
	}
	p.CellFormat(d.contentW*0.8, 4, "Audit trail head: "+head, "", 0, "L", false, 0, "")
	p.SetFont(fontFamily, "", d.headerFont)
	p.CellFormat(d.contentW*0.2, 4, fmt.Sprintf("Page %d of {nb}", p.PageNo()), "", 0, "R", false, 0, "")
	if imp := d.r.Footer.Import; imp != nil {
		p.SetXY(d.margin, y+5)
		p.SetFont(fontFamily, "", 6.5)
		p.CellFormat(d.contentW, 4, d.text(fmt.Sprintf("Includes data imported from %s, verified %s (%s, audit entry %d, covered by the audit trail head)",
			imp.From, d.local(imp.VerifiedAt), imp.Result, imp.AuditID)), "", 0, "L", false, 0, "")
	}
}

func (d *pdfDoc) local(t time.Time) string { return t.In(d.loc).Format("2006-01-02 15:04 MST") }

func (d *pdfDoc) localp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return d.local(*t)
}

// room starts a new page unless h millimetres fit above the footer.
func (d *pdfDoc) room(h float64) bool {
	if d.pdf.GetY()+h > d.pageH-d.bottom {
		d.pdf.AddPage()
		return false
	}
	return true
}

func (d *pdfDoc) heading(size float64, s string) {
	d.room(6 + 3*d.lineH) // keep a heading with the first rows below it
	d.pdf.SetFont(fontFamily, "B", size)
	d.pdf.MultiCell(d.contentW, size*0.5, d.text(s), "", "L", false)
	d.pdf.Ln(1)
}

func (d *pdfDoc) note(s string) {
	d.pdf.SetFont(fontFamily, "", d.tableFont)
	d.pdf.MultiCell(d.contentW, 3.6, d.text(s), "", "L", false)
	d.pdf.Ln(1.5)
}

// table draws rows under a header row that repeats after a page break;
// cells wrap.
func (d *pdfDoc) table(cols []column, rows [][]string) { d.marked(cols, rows, nil) }

// marked is table with the rows whose hl is set printed bold on a shaded
// ground (an out-of-bounds defrost, a day that reached a limit).
func (d *pdfDoc) marked(cols []column, rows [][]string, hl []bool) {
	p := d.pdf
	widths := make([]float64, len(cols))
	for i, c := range cols {
		widths[i] = c.w * d.contentW
	}
	titles := make([]string, len(cols))
	for i, c := range cols {
		titles[i] = c.title
	}
	var drawRow func(cells []string, header, mark bool)
	drawRow = func(cells []string, header, mark bool) {
		style := ""
		if header || mark {
			style = "B"
		}
		p.SetFont(fontFamily, style, d.tableFont)
		lines := make([][]string, len(cells))
		n := 1
		for i, c := range cells {
			lines[i] = p.SplitText(d.text(c), widths[i])
			if len(lines[i]) == 0 {
				lines[i] = []string{""}
			}
			n = max(n, len(lines[i]))
		}
		h := float64(n)*3.4 + 0.8
		if !d.room(h) && !header {
			drawRow(titles, true, false)
			p.SetFont(fontFamily, style, d.tableFont)
		}
		x0, y0 := d.margin, p.GetY()
		x := x0
		for i := range cells {
			mode := "D"
			switch {
			case header:
				p.SetFillColor(232, 236, 240)
				mode = "FD"
			case mark:
				p.SetFillColor(252, 228, 214)
				mode = "FD"
			}
			p.Rect(x, y0, widths[i], h, mode)
			for j, ln := range lines[i] {
				p.SetXY(x, y0+0.4+float64(j)*3.4)
				p.CellFormat(widths[i], 3.4, ln, "", 0, cols[i].align, false, 0, "")
			}
			x += widths[i]
		}
		p.SetXY(x0, y0+h)
	}
	d.room(2 * (3.4 + 0.8))
	drawRow(titles, true, false)
	for i, r := range rows {
		drawRow(r, false, i < len(hl) && hl[i])
	}
	p.Ln(3)
}

func temp(v *float64) string {
	if v == nil {
		return "–"
	}
	return strconv.FormatFloat(*v, 'f', 2, 64)
}

func temp1(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func minutes(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func pct(v *float64) string {
	if v == nil {
		return "–"
	}
	return strconv.FormatFloat(*v, 'f', 2, 64)
}

func (d *pdfDoc) summary() {
	r := d.r
	d.heading(10, "Summary")
	d.note(fmt.Sprintf("Gap threshold: %s minutes. %s %s",
		strconv.FormatFloat(r.Method.GapAfterMinutes, 'f', -1, 64), r.Method.Coverage, r.Method.Excursions))
	cols := []column{
		{"Unit", 0.17, "L"}, {"Kind", 0.08, "L"}, {"Safe range " + d.deg, 0.12, "C"}, {"Readings", 0.09, "R"},
		{"Min " + d.deg, 0.07, "R"}, {"Max " + d.deg, 0.07, "R"}, {"Avg " + d.deg, 0.07, "R"},
		{"Minutes out of range", 0.1, "R"}, {"% in range", 0.08, "R"}, {"Excursions", 0.09, "R"}, {"Gaps", 0.06, "R"},
	}
	var rows [][]string
	for _, u := range r.Units {
		s := u.Summary
		rows = append(rows, []string{u.Name, u.Kind, temp1(u.SafeMin) + " to " + temp1(u.SafeMax), strconv.FormatInt(s.Readings, 10),
			temp(s.Min), temp(s.Max), temp(s.Avg), minutes(s.MinutesOutOfRange), pct(s.PercentInRange),
			strconv.Itoa(len(u.Excursions)), strconv.Itoa(len(u.Gaps))})
	}
	if len(rows) == 0 {
		d.note("The site has no units.")
		return
	}
	d.table(cols, rows)
}

// review prints the sign-off: each signature's printed name, meaning, time
// and whether it still matches the records, or plainly that nobody signed.
func (d *pdfDoc) review() {
	r := d.r
	d.pdf.Ln(2)
	d.heading(10, "Review and sign-off")
	d.note(reviewStatement(r))
	if len(r.Review.Signatures) == 0 {
		return
	}
	cols := []column{{"Signed by (printed name)", 0.24, "L"}, {"Meaning", 0.1, "L"}, {"Signed at", 0.2, "L"},
		{"Status", 0.1, "L"}, {"Audit entry", 0.1, "R"}, {"Comment", 0.26, "L"}}
	var rows [][]string
	var hl []bool
	for _, s := range r.Review.Signatures {
		status := "current"
		if s.Status == SignatureStale {
			status = "STALE: records changed since signing"
		}
		rows = append(rows, []string{s.PrintedName, s.Meaning, d.local(s.SignedAt), status, strconv.FormatInt(s.AuditID, 10), deref(s.Comment)})
		hl = append(hl, s.Status == SignatureStale)
	}
	d.marked(cols, rows, hl)
	d.note("Each signature is an entry of the audit trail bound to the content SHA-256 the report had when it was signed; " +
		"a stale signature was made over records that have since changed.")
}

func (d *pdfDoc) unit(u *UnitReport) {
	d.pdf.Ln(2)
	d.heading(10, fmt.Sprintf("%s (%s)", u.Name, u.Kind))
	sensors := strings.Join(u.Sensors, ", ")
	if sensors == "" {
		sensors = "none"
	}
	s := u.Summary
	limits := ""
	if u.LimitMin != u.SafeMin || u.LimitMax != u.SafeMax {
		limits = fmt.Sprintf(" Judged against %s to %s %s (alert rule thresholds).", temp1(u.LimitMin), temp1(u.LimitMax), d.deg)
	}
	d.note(fmt.Sprintf("Safe range %s to %s %s.%s Sensors: %s. Period: %d readings, %s minutes covered, %s minutes out of range, %s %% in range.",
		temp1(u.SafeMin), temp1(u.SafeMax), d.deg, limits, sensors, s.Readings, minutes(s.MinutesCovered), minutes(s.MinutesOutOfRange), pct(s.PercentInRange)))

	dayCols := []column{
		{"Date", 0.13, "L"}, {"Readings", 0.1, "R"}, {"Min " + d.deg, 0.11, "R"}, {"Max " + d.deg, 0.11, "R"},
		{"Avg " + d.deg, 0.11, "R"}, {"Minutes covered", 0.14, "R"}, {"Minutes out of range", 0.15, "R"}, {"% in range", 0.15, "R"},
	}
	var rows [][]string
	for _, day := range u.Days {
		rows = append(rows, []string{day.Date, strconv.FormatInt(day.Readings, 10), temp(day.Min), temp(day.Max), temp(day.Avg),
			minutes(day.MinutesCovered), minutes(day.MinutesOutOfRange), pct(day.PercentInRange)})
	}
	d.table(dayCols, rows)

	d.heading(8.5, fmt.Sprintf("Excursions: %s", countText(len(u.Excursions))))
	if len(u.Excursions) > 0 {
		cols := []column{
			{"Start", 0.165, "L"}, {"End", 0.165, "L"}, {"Duration min", 0.07, "R"}, {"Peak " + d.deg, 0.08, "R"},
			{"Alert", 0.12, "L"}, {"Acknowledged", 0.16, "L"}, {"Corrective actions", 0.24, "L"},
		}
		rows = rows[:0]
		for _, e := range u.Excursions {
			end := d.local(e.End)
			if e.Ongoing {
				end += " (ongoing)"
			}
			start := d.local(e.Start)
			if e.StartedBeforePeriod {
				start += " (began earlier)"
			}
			var alerts, acks, actions []string
			for _, a := range e.Alerts {
				alerts = append(alerts, fmt.Sprintf("%s %s, %s", a.Severity, a.Kind, a.Status))
				if a.AcknowledgedAt != nil {
					acks = append(acks, fmt.Sprintf("%s by %s", d.localp(a.AcknowledgedAt), orDash(personText(a.AcknowledgedBy))))
				} else {
					acks = append(acks, "not acknowledged")
				}
				for _, c := range a.CorrectiveActions {
					actions = append(actions, fmt.Sprintf("%s, %s: %s (%s)", d.local(c.TakenAt), orDash(personText(c.TakenBy)), c.Action, c.Disposition))
				}
			}
			if len(alerts) == 0 {
				alerts = []string{"no alert"}
			}
			for _, x := range e.ExplainedBy {
				alerts = append(alerts, x.Text)
			}
			rows = append(rows, []string{start, end, minutes(e.DurationMinutes), temp1(e.Peak) + " " + e.Direction,
				strings.Join(alerts, "\n"), strings.Join(acks, "\n"), orDash(strings.Join(actions, "\n"))})
		}
		d.table(cols, rows)
	}

	d.heading(8.5, fmt.Sprintf("Data gaps (offline): %s", countText(len(u.Gaps))))
	if len(u.Gaps) > 0 {
		cols := []column{{"Start", 0.3, "L"}, {"End", 0.3, "L"}, {"Duration min", 0.2, "R"}}
		rows = rows[:0]
		for _, g := range u.Gaps {
			rows = append(rows, []string{d.local(g.Start), d.local(g.End), minutes(g.DurationMinutes)})
		}
		d.table(cols, rows)
	}

	if len(u.ManualChecks) > 0 {
		d.heading(8.5, fmt.Sprintf("Manual checks: %d", len(u.ManualChecks)))
		cols := []column{{"Time", 0.18, "L"}, {"Temp " + d.deg, 0.1, "R"}, {"In range", 0.08, "C"}, {"By", 0.28, "L"}, {"Notes", 0.36, "L"}}
		rows = rows[:0]
		for _, m := range u.ManualChecks {
			rows = append(rows, []string{d.local(m.CheckedAt), temp1(m.Temp), yesNo(m.InRange), orDash(personText(m.CheckedBy)), deref(m.Notes)})
		}
		d.table(cols, rows)
	}
	d.foodSafety(u)
	var unlinked []CorrectiveAction
	for _, c := range u.CorrectiveActions {
		if c.AlertID == nil {
			unlinked = append(unlinked, c)
		}
	}
	if len(unlinked) > 0 {
		d.heading(8.5, fmt.Sprintf("Other corrective actions: %d", len(unlinked)))
		cols := []column{{"Time", 0.18, "L"}, {"By", 0.24, "L"}, {"Action", 0.42, "L"}, {"Disposition", 0.16, "L"}}
		rows = rows[:0]
		for _, c := range unlinked {
			rows = append(rows, []string{d.local(c.TakenAt), orDash(personText(c.TakenBy)), c.Action, c.Disposition})
		}
		d.table(cols, rows)
	}
}

func countText(n int) string {
	if n == 0 {
		return "none"
	}
	return strconv.Itoa(n)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
