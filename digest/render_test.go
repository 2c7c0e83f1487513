package digest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/query"
)

func TestRenderEscapesAndCleans(t *testing.T) {
	t.Parallel()
	peak := 12.25
	c := &Content{
		OrgID: "00000000-0000-0000-0000-000000000001", OrgName: "Evil\r\nBcc: all@example.com <b>", Frequency: Weekly,
		Period:   Period{Start: utc("2026-11-15T23:00:00Z"), End: utc("2026-11-22T23:00:00Z")},
		Location: berlin, BaseURL: "https://freshtrack.example",
		Opened: []Alert{{ID: "a1", UnitName: `<script>alert(1)</script>`, SiteName: "Site\nTwo", Kind: "temp_high",
			Severity: "critical", Status: "triggered", StartedAt: utc("2026-11-20T10:00:00Z"), OpenedAt: utc("2026-11-20T10:10:00Z"), PeakC: &peak}},
		OpenedTotal: 1,
		Offline:     []query.UnitLatest{{UnitName: "Freezer", SiteName: "S", Status: query.StatusNoData, Offline: true}},
	}
	subject, text, html := Render(c)
	if subject != "FreshTrack weekly digest — Evil Bcc: all@example.com <b> — 2026-11-16 – 2026-11-22" {
		t.Errorf("subject = %q", subject)
	}
	if strings.ContainsAny(subject, "\r\n") {
		t.Errorf("subject has a line break: %q", subject)
	}
	if strings.Contains(html, "<script>") || strings.Contains(html, "<b>") {
		t.Errorf("HTML not escaped:\n%s", html)
	}
	if !strings.Contains(html, "&lt;script&gt;alert(1)&lt;/script&gt; (Site Two)") {
		t.Errorf("HTML lacks the escaped unit name:\n%s", html)
	}
	if !strings.Contains(text, "- 2026-11-20 11:10  CRITICAL temperature high: <script>alert(1)</script> (Site Two), now triggered\n") {
		t.Errorf("text:\n%s", text)
	}
	if !strings.Contains(text, "1 alert opened, 0 alerts resolved, 0 temperature excursions, 1 unit offline now.") {
		t.Errorf("summary:\n%s", text)
	}
}

func TestRenderLimitsAndLinks(t *testing.T) {
	t.Parallel()
	c := &Content{OrgID: "o", OrgName: "Big", Frequency: Daily,
		Period: Period{Start: utc("2026-11-25T00:00:00Z"), End: utc("2026-11-26T00:00:00Z")}, OpenedTotal: MaxItems + 7}
	for i := range MaxItems {
		c.Opened = append(c.Opened, Alert{ID: fmt.Sprint(i), UnitName: "U", Kind: "battery_low", Severity: "info", Status: "triggered",
			OpenedAt: c.Period.Start.Add(time.Duration(i) * time.Minute)})
	}
	_, text, html := Render(c)
	if !strings.Contains(text, "… and 7 more\n") || !strings.Contains(html, "… and 7 more") {
		t.Errorf("no count of the alerts left out:\n%s", text)
	}
	if strings.Contains(text, "http") || strings.Contains(html, "href") {
		t.Errorf("links without a base URL:\n%s", text)
	}
	if !strings.Contains(text, "UTC") || !strings.Contains(text, "battery low: U, now triggered") {
		t.Errorf("text:\n%s", text)
	}

	c.BaseURL = "https://x.example"
	_, text, _ = Render(c)
	if !strings.Contains(text, "… and 7 more: https://x.example/o/o/alerts\n") {
		t.Errorf("no link to the rest:\n%s", text)
	}
}
