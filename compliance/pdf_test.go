package compliance_test

import (
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/freshtrack/freshtrack/compliance"
)

// pdfText extracts the text shown on the pages of an uncompressed PDF
// written by WritePDF: the UTF-16BE strings of its Tj and TJ operators (the
// embedded fonts are Identity-H with code = Unicode), one line per text
// object. It is enough to read back our own output, not a PDF parser.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	var out strings.Builder
	for _, stream := range regexp.MustCompile(`(?s)stream\r?\n(.*?)endstream`).FindAllSubmatch(pdf, -1) {
		content := stream[1]
		for _, bt := range regexp.MustCompile(`(?s)BT(.*?)ET`).FindAllSubmatch(content, -1) {
			for _, str := range pdfStrings(bt[1]) {
				out.WriteString(decodeUTF16(str))
			}
			out.WriteByte('\n')
		}
	}
	return out.String()
}

// pdfStrings returns the literal strings of a content stream fragment,
// unescaped.
func pdfStrings(b []byte) [][]byte {
	var out [][]byte
	for i := 0; i < len(b); i++ {
		if b[i] != '(' {
			continue
		}
		var s []byte
		depth := 1
		for i++; i < len(b) && depth > 0; i++ {
			c := b[i]
			switch {
			case c == '\\' && i+1 < len(b):
				i++
				switch e := b[i]; e {
				case 'n':
					s = append(s, '\n')
				case 'r':
					s = append(s, '\r')
				case 't':
					s = append(s, '\t')
				case 'b':
					s = append(s, '\b')
				case 'f':
					s = append(s, '\f')
				case '0', '1', '2', '3', '4', '5', '6', '7':
					v := 0
					for k := 0; k < 3 && i < len(b) && b[i] >= '0' && b[i] <= '7'; k++ {
						v = v*8 + int(b[i]-'0')
						i++
					}
					i--
					s = append(s, byte(v))
				default:
					s = append(s, e)
				}
			case c == '(':
				depth++
				s = append(s, c)
			case c == ')':
				depth--
				if depth > 0 {
					s = append(s, c)
				}
			default:
				s = append(s, c)
			}
		}
		i--
		out = append(out, s)
	}
	return out
}

func decodeUTF16(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
	}
	return string(utf16.Decode(u))
}

func TestHACCPPDF(t *testing.T) {
	t.Parallel()
	w := newWeek(t)
	r := w.report(t)
	var plain bytes.Buffer
	if err := compliance.WritePDF(&plain, r, compliance.Uncompressed()); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(plain.Bytes(), []byte("%PDF-")) {
		t.Fatalf("not a PDF: %.20q", plain.Bytes())
	}
	texts := map[string]string{"own parser": pdfText(t, plain.Bytes())}
	var compressed bytes.Buffer
	if err := compliance.WritePDF(&compressed, r, compliance.PageSize(compliance.PageLetter)); err != nil {
		t.Fatal(err)
	}
	if compressed.Len() >= plain.Len() {
		t.Fatalf("compressed PDF (%d bytes) not smaller than uncompressed (%d)", compressed.Len(), plain.Len())
	}
	if path, err := exec.LookPath("pdftotext"); err == nil {
		for name, pdf := range map[string][]byte{"pdftotext": plain.Bytes(), "pdftotext compressed letter": compressed.Bytes()} {
			cmd := exec.Command(path, "-layout", "-enc", "UTF-8", "-", "-")
			cmd.Stdin = bytes.NewReader(pdf)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			texts[name] = string(out)
		}
	} else {
		t.Log("pdftotext not on PATH (apt-get install poppler-utils); checking the text with the built-in reader only")
	}
	for name, text := range texts {
		flat := strings.Join(strings.Fields(text), " ")
		for _, want := range []string{
			"HACCP temperature record",
			"Café Zürich GmbH", "Kitchen", "2026-03-23 to 2026-03-29", "Europe/Berlin", "Temperatures in °C",
			"Content SHA-256: " + r.Header.ContentSHA256,
			"Audit trail head: " + r.Footer.AuditHeadSHA256,
			"Fridge 1", "Tiefkühler 2", "Safe range 0.00 to 5.00 °C",
			"Excursions: 1",
			"2026-03-24 14:00 CET", "2026-03-24 14:45 CET", "9.50 high", "critical", "temp_high,", "14:12", "Anna Müller",
			"Jörg Weiß", "(moved)",
			"Data gaps (offline): 1", "2026-03-26 10:10 CET", "110.0",
			"96.88", "Page 1 of 2", "Defrosted the freezer",
			"Alerts: 3", "Sensor offline", "Door openings: none", "Time out of temperature",
		} {
			if !strings.Contains(flat, want) {
				t.Errorf("%s: PDF text lacks %q", name, want)
			}
		}
		if name == "own parser" {
			// Cells that wrap are interleaved by pdftotext's layout; the
			// text objects themselves keep each cell line whole.
			for _, want := range []string{"critical temp_high, resolved", "2026-03-24 14:12 CET by Anna Müller", "door seal replaced (moved)"} {
				if !strings.Contains(flat, want) {
					t.Errorf("%s: PDF text lacks %q", name, want)
				}
			}
		}
		if strings.Contains(text, "{nb}") || strings.Contains(text, "Â°") {
			t.Errorf("%s: unreplaced page alias or mis-encoded degree sign", name)
		}
		if t.Failed() {
			t.Logf("%s text:\n%s", name, text)
		}
	}

	// Two months: tables run over pages, repeating their header row.
	long := w.report(t, func(p *compliance.HACCPParams) { p.From = w.from.AddDate(0, -2, 0) })
	var buf bytes.Buffer
	if err := compliance.WritePDF(&buf, long, compliance.Uncompressed()); err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, buf.Bytes())
	pages := strings.Count(text, "Audit trail head: ")
	if pages < 3 || !strings.Contains(text, fmt.Sprintf("Page %d of %d", pages, pages)) {
		t.Fatalf("%d pages; text:\n%s", pages, text)
	}
	if n := strings.Count(text, "\nDate\n"); n < 3 {
		t.Errorf("daily table header drawn %d times over %d pages", n, pages)
	}
}
