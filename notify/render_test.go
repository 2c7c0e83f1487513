package notify

import (
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func ptr(v float64) *float64 { return &v }

var renderNow = time.Date(2025, 6, 1, 14, 25, 30, 0, time.UTC)

func notice() AlertNotice {
	return AlertNotice{
		OrgName:    "Bistro Group",
		SiteName:   "Main St Kitchen",
		UnitName:   "Walk-in Cooler 1",
		Kind:       "temp_high",
		Severity:   "critical",
		ValueC:     ptr(9.44),
		ThresholdC: ptr(5),
		StartedAt:  renderNow.Add(-23*time.Minute - 10*time.Second),
		AlertURL:   "https://app.freshtrack.example/alerts/3f2b6c1e-0d7a-4c55-9d43-2a1f7e0b9c11",
		Now:        renderNow,
	}
}

func TestRenderSMS(t *testing.T) {
	t.Parallel()
	f := func(modify func(*AlertNotice), want string) {
		t.Helper()
		n := notice()
		modify(&n)
		got := RenderSMS(n)
		if got != want {
			t.Fatalf("RenderSMS:\n got %q\nwant %q", got, want)
		}
		if l := utf8.RuneCountInString(got); l > MaxSMSLen {
			t.Fatalf("%d characters", l)
		}
	}
	const link = " https://app.freshtrack.example/alerts/3f2b6c1e-0d7a-4c55-9d43-2a1f7e0b9c11"
	f(func(*AlertNotice) {},
		"FreshTrack CRITICAL: Walk-in Cooler 1 (Main St Kitchen): 9.4°C, above the 5.0°C limit for 23 min."+link)
	f(func(n *AlertNotice) {
		n.Kind, n.ValueC, n.ThresholdC, n.Severity = "temp_low", ptr(-25.06), ptr(-18), "warning"
	},
		"FreshTrack WARNING: Walk-in Cooler 1 (Main St Kitchen): -25.1°C, below the -18.0°C limit for 23 min."+link)
	f(func(n *AlertNotice) {
		n.Kind, n.ValueC, n.ThresholdC = "sensor_offline", nil, nil
		n.StartedAt = renderNow.Add(-2*time.Hour - 5*time.Minute)
	}, "FreshTrack CRITICAL: Walk-in Cooler 1 (Main St Kitchen): sensor offline for 2 h 5 min."+link)
	f(func(n *AlertNotice) { n.Kind, n.ValueC, n.ThresholdC, n.Severity = "sensor_fault", nil, nil, "warning" },
		"FreshTrack WARNING: Walk-in Cooler 1 (Main St Kitchen): probe fault (an error code instead of a temperature) for 23 min."+link)
	f(func(n *AlertNotice) { n.ThresholdC = ptr(math.NaN()) },
		"FreshTrack CRITICAL: Walk-in Cooler 1 (Main St Kitchen): 9.4°C, temperature too high for 23 min."+link)
	f(func(n *AlertNotice) {
		n.Kind, n.ValueC, n.ThresholdC, n.Severity = "battery_low", ptr(12), ptr(20), "info"
	},
		"FreshTrack INFO: Walk-in Cooler 1 (Main St Kitchen): sensor battery low (12%, limit 20%) for 23 min."+link)
	f(func(n *AlertNotice) { n.Step = 2; n.StartedAt = renderNow.Add(-26 * time.Hour) },
		"FreshTrack CRITICAL (escalation 2): Walk-in Cooler 1 (Main St Kitchen): 9.4°C, above the 5.0°C limit for 1 d 2 h."+link)
	f(func(n *AlertNotice) { n.AlertURL, n.SiteName = "", "" },
		"FreshTrack CRITICAL: Walk-in Cooler 1: 9.4°C, above the 5.0°C limit for 23 min.")
	f(func(n *AlertNotice) { n.UnitName = "Walk-in\r\nCooler\t1 " },
		"FreshTrack CRITICAL: Walk-in Cooler 1 (Main St Kitchen): 9.4°C, above the 5.0°C limit for 23 min."+link)
	f(func(n *AlertNotice) { n.StartedAt = renderNow.Add(-20 * time.Second) },
		"FreshTrack CRITICAL: Walk-in Cooler 1 (Main St Kitchen): 9.4°C, above the 5.0°C limit for <1 min."+link)
}

func TestRenderSMSShortensLongNames(t *testing.T) {
	t.Parallel()
	n := notice()
	n.UnitName = strings.Repeat("Very long walk-in cooler name ", 10)
	n.SiteName = strings.Repeat("Ünïcödé site ", 20)
	got := RenderSMS(n)
	if l := utf8.RuneCountInString(got); l > MaxSMSLen {
		t.Fatalf("%d characters: %q", l, got)
	}
	for _, must := range []string{"9.4°C", "5.0°C", "23 min", n.AlertURL, "Very long walk-in"} {
		if !strings.Contains(got, must) {
			t.Fatalf("%q lacks %q", got, must)
		}
	}
	if !utf8.ValidString(got) {
		t.Fatalf("invalid UTF-8: %q", got)
	}
}

func TestRenderEmail(t *testing.T) {
	t.Parallel()
	n := notice()
	n.UnitName = `Walk-in <script>alert("x")</script> & Co`
	n.AlertURL = "https://app.freshtrack.example/alerts/1?a=1&b=2"
	subject, text, html := RenderEmail(n)

	if want := `[FreshTrack] CRITICAL: Walk-in <script>alert("x")</script> & Co (Main St Kitchen): 9.4°C, above the 5.0°C limit`; subject != want {
		t.Fatalf("subject %q, want %q", subject, want)
	}
	for _, must := range []string{"Walk-in <script>", "Main St Kitchen", "Bistro Group", "9.4°C, above the 5.0°C limit", "2025-06-01 14:02 UTC (23 min)", n.AlertURL} {
		if !strings.Contains(text, must) {
			t.Fatalf("text lacks %q:\n%s", must, text)
		}
	}
	if strings.Contains(html, "<script>") {
		t.Fatalf("html not escaped:\n%s", html)
	}
	for _, must := range []string{"Walk-in &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co", "Main St Kitchen", "9.4°C, above the 5.0°C limit",
		`href="https://app.freshtrack.example/alerts/1?a=1&amp;b=2"`} {
		if !strings.Contains(html, must) {
			t.Fatalf("html lacks %q:\n%s", must, html)
		}
	}
}

func TestRenderEmailRefusesScriptLinks(t *testing.T) {
	t.Parallel()
	n := notice()
	n.AlertURL = "javascript:alert(1)"
	_, _, html := RenderEmail(n)
	if strings.Contains(html, "javascript:") {
		t.Fatalf("html links to javascript:\n%s", html)
	}
}

func TestRenderEmailSubjectIsOneLine(t *testing.T) {
	t.Parallel()
	n := notice()
	n.UnitName = "Walk-in\r\nBcc: victim@example.com"
	n.Step = 1
	subject, _, _ := RenderEmail(n)
	if strings.ContainsAny(subject, "\r\n") {
		t.Fatalf("subject has a line break: %q", subject)
	}
	if !strings.HasSuffix(subject, "escalation 1") {
		t.Fatalf("subject %q does not say the escalation step", subject)
	}
}

func TestHumanDuration(t *testing.T) {
	t.Parallel()
	f := func(d time.Duration, want string) {
		t.Helper()
		if got := HumanDuration(d); got != want {
			t.Fatalf("HumanDuration(%s) = %q, want %q", d, got, want)
		}
	}
	f(0, "<1 min")
	f(59*time.Second, "<1 min")
	f(time.Minute, "1 min")
	f(59*time.Minute+59*time.Second, "59 min")
	f(time.Hour, "1 h")
	f(time.Hour+5*time.Minute, "1 h 5 min")
	f(24*time.Hour, "1 d")
	f(50*time.Hour, "2 d 2 h")
}
