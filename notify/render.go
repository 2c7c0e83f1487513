package notify

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// AlertNotice is what a person needs to know about an alert to act on it.
type AlertNotice struct {
	// OrgName, SiteName and UnitName say where: the organisation, the site
	// and the fridge, freezer or hot-holding unit.
	OrgName, SiteName, UnitName string
	// Kind is the rule kind: temp_high, temp_low, sensor_offline,
	// battery_low, sensor_fault, or one of the food-safety kinds
	// (trend_warning, door_open, time_out_of_temp, cooling,
	// manual_log_missed, calibration_due, sensor_implausible).
	Kind string
	// Summary is a food-safety alert's own account of its condition; when
	// set it is the condition the texts state.
	Summary string
	// Severity is info, warning or critical.
	Severity string
	// ValueC is the latest (or peak) temperature in °C, and ThresholdC the
	// limit (for a rule following the unit's safe range, the side of it the
	// rule follows: safety.Threshold); nil (or NaN) when unknown or not a
	// temperature. For battery_low they carry the battery level and limit
	// in percent.
	ValueC, ThresholdC *float64
	// StartedAt is when the condition began.
	StartedAt time.Time
	// AlertURL links to the alert in the web app.
	AlertURL string
	// Step is the escalation step: 0 for the first notification, then 1, 2…
	Step int
	// Purpose is "" for the alert itself, "reminder" for reminder number
	// Reminder of an unacknowledged alert, "resolved" once it resolved
	// (alerting.Notice.Purpose).
	Purpose  string
	Reminder int
	// Now is the time the notice is rendered for, to say how long the
	// condition has lasted. Defaults to time.Now().
	Now time.Time
}

// MaxSMSLen is the longest text RenderSMS returns, in characters.
const MaxSMSLen = 320

// RenderSMS returns the alert as a short SMS (at most [MaxSMSLen]
// characters): severity, unit and site, the value against the threshold in
// °C, how long it has lasted, and the link. Names are shortened, never the
// link, when the text would be too long.
func RenderSMS(n AlertNotice) string {
	head := strings.ToUpper(CleanLine(n.Severity))
	if head == "" {
		head = "ALERT"
	}
	switch {
	case n.Purpose == "resolved":
		head = "RESOLVED"
	case n.Purpose == "reminder":
		head += fmt.Sprintf(" (reminder %d, not acknowledged yet)", n.Reminder)
	case n.Step > 0:
		head += fmt.Sprintf(" (escalation %d)", n.Step)
	}
	tail := " " + n.condition() + " for " + HumanDuration(n.duration()) + "."
	if n.Purpose == "resolved" {
		tail = " the alert is resolved (it was: " + n.condition() + ")."
	}
	if CleanLine(n.Summary) != "" {
		// A summary is a whole account, with its own times.
		tail = " " + n.condition() + "."
	}
	if u := CleanLine(n.AlertURL); u != "" {
		tail += " " + u
	}
	unit, site := CleanLine(n.UnitName), CleanLine(n.SiteName)
	build := func(unit, site string) string {
		s := "FreshTrack " + head + ": " + unit
		if site != "" {
			s += " (" + site + ")"
		}
		return s + ":" + tail
	}
	s := build(unit, site)
	for over := utf8.RuneCountInString(s) - MaxSMSLen; over > 0; over = utf8.RuneCountInString(s) - MaxSMSLen {
		// Shorten the longer name first; drop the site before the unit.
		switch {
		case utf8.RuneCountInString(site) > 12 && utf8.RuneCountInString(site) >= utf8.RuneCountInString(unit):
			site = truncate(site, max(12, utf8.RuneCountInString(site)-over))
		case utf8.RuneCountInString(unit) > 24:
			unit = truncate(unit, max(24, utf8.RuneCountInString(unit)-over))
		case site != "":
			site = ""
		default:
			return truncate(s, MaxSMSLen) // only an absurdly long link gets here
		}
		s = build(unit, site)
	}
	return s
}

// RenderEmail returns the alert as an email: a subject line, a plain-text
// body and an HTML body (every value escaped by html/template).
func RenderEmail(n AlertNotice) (subject, text, html string) {
	v := n.view()
	subject = "[FreshTrack] " + v.Severity + ": " + v.Unit
	if v.Site != "" {
		subject += " (" + v.Site + ")"
	}
	subject += ": " + v.Condition
	switch {
	case n.Purpose == "resolved":
		subject = "[FreshTrack] Resolved: " + strings.TrimPrefix(subject, "[FreshTrack] ")
	case n.Purpose == "reminder":
		subject += fmt.Sprintf(" — reminder %d", n.Reminder)
	case n.Step > 0:
		subject += fmt.Sprintf(" — escalation %d", n.Step)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "%s alert", v.Severity)
	switch {
	case n.Purpose == "resolved":
		b.WriteString(": resolved. Nothing more to do.")
	case n.Purpose == "reminder":
		fmt.Fprintf(&b, " (reminder %d: nobody has acknowledged it yet)", n.Reminder)
	case n.Step > 0:
		fmt.Fprintf(&b, " (escalation step %d: nobody has acknowledged it yet)", n.Step)
	}
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "Unit:      %s\n", v.Unit)
	if v.Site != "" {
		fmt.Fprintf(&b, "Site:      %s\n", v.Site)
	}
	if v.Org != "" {
		fmt.Fprintf(&b, "Org:       %s\n", v.Org)
	}
	fmt.Fprintf(&b, "Condition: %s\n", v.Condition)
	fmt.Fprintf(&b, "Since:     %s (%s)\n", v.Since, v.Duration)
	b.WriteString("\n")
	if v.URL != "" {
		fmt.Fprintf(&b, "Acknowledge it and record the corrective action:\n%s\n", v.URL)
	} else {
		b.WriteString("Acknowledge it in FreshTrack and record the corrective action.\n")
	}
	text = b.String()

	var h bytes.Buffer
	if err := emailHTML.Execute(&h, v); err != nil {
		// The template is fixed and its data plain strings: this cannot
		// happen; fall back to the escaped text rather than fail an alert.
		html = "<pre>" + template.HTMLEscapeString(text) + "</pre>"
	} else {
		html = h.String()
	}
	return subject, text, html
}

// emailView is the data of the email templates: every field already cleaned.
type emailView struct {
	Severity, Org, Site, Unit, Condition, Since, Duration string
	URL                                                   string
	Step                                                  int
	Critical                                              bool
}

func (n AlertNotice) view() emailView {
	sev := strings.ToUpper(CleanLine(n.Severity))
	if sev == "" {
		sev = "ALERT"
	}
	return emailView{
		Severity:  sev,
		Org:       CleanLine(n.OrgName),
		Site:      CleanLine(n.SiteName),
		Unit:      CleanLine(n.UnitName),
		Condition: n.condition(),
		Since:     n.StartedAt.UTC().Format("2006-01-02 15:04 MST"),
		Duration:  HumanDuration(n.duration()),
		URL:       CleanLine(n.AlertURL),
		Step:      n.Step,
		Critical:  n.Severity == "critical",
	}
}

var emailHTML = template.Must(template.New("alert").Parse(`<!DOCTYPE html>
<html><body style="font-family:sans-serif;color:#222">
<p style="font-size:18px;font-weight:bold;color:{{if .Critical}}#b00020{{else}}#8a5a00{{end}}">{{.Severity}} alert{{if .Step}} (escalation step {{.Step}}: nobody has acknowledged it yet){{end}}</p>
<table cellpadding="4" style="border-collapse:collapse">
<tr><th align="left">Unit</th><td>{{.Unit}}</td></tr>
{{- if .Site}}
<tr><th align="left">Site</th><td>{{.Site}}</td></tr>
{{- end}}
{{- if .Org}}
<tr><th align="left">Organisation</th><td>{{.Org}}</td></tr>
{{- end}}
<tr><th align="left">Condition</th><td>{{.Condition}}</td></tr>
<tr><th align="left">Since</th><td>{{.Since}} ({{.Duration}})</td></tr>
</table>
{{- if .URL}}
<p><a href="{{.URL}}">Acknowledge the alert and record the corrective action</a></p>
{{- else}}
<p>Acknowledge the alert in FreshTrack and record the corrective action.</p>
{{- end}}
</body></html>
`))

// condition describes what is wrong, e.g. "9.4°C, above the 5.0°C limit".
func (n AlertNotice) condition() string {
	if s := CleanLine(n.Summary); s != "" {
		return strings.TrimSuffix(s, ".")
	}
	switch n.Kind {
	case "temp_high":
		return tempCondition(n.ValueC, n.ThresholdC, "above")
	case "temp_low":
		return tempCondition(n.ValueC, n.ThresholdC, "below")
	case "sensor_offline":
		return "sensor offline"
	case "sensor_fault":
		return "probe fault (an error code instead of a temperature)"
	case "trend_warning":
		return "temperature rising toward its limit"
	case "door_open":
		return "door open"
	case "time_out_of_temp":
		return "too long out of temperature today"
	case "cooling":
		return "cooling log behind the two-stage rule"
	case "manual_log_missed":
		return "manual temperature check missed"
	case "calibration_due":
		return "sensor calibration due"
	case "sensor_implausible":
		return "implausible probe readings (stuck or jumping)"
	case "battery_low":
		s := "sensor battery low"
		if n.ValueC != nil {
			s += fmt.Sprintf(" (%.0f%%", *n.ValueC)
			if n.ThresholdC != nil {
				s += fmt.Sprintf(", limit %.0f%%", *n.ThresholdC)
			}
			s += ")"
		}
		return s
	}
	if k := CleanLine(n.Kind); k != "" {
		return strings.ReplaceAll(k, "_", " ")
	}
	return "alert"
}

func tempCondition(value, threshold *float64, dir string) string {
	value, threshold = known(value), known(threshold)
	switch {
	case value != nil && threshold != nil:
		return fmt.Sprintf("%s, %s the %s limit", celsius(*value), dir, celsius(*threshold))
	case value != nil:
		return fmt.Sprintf("%s, temperature too %s", celsius(*value), map[string]string{"above": "high", "below": "low"}[dir])
	case threshold != nil:
		return fmt.Sprintf("temperature %s the %s limit", dir, celsius(*threshold))
	}
	return "temperature too " + map[string]string{"above": "high", "below": "low"}[dir]
}

// known is v, or nil when it is not a number.
func known(v *float64) *float64 {
	if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
		return nil
	}
	return v
}

func celsius(v float64) string {
	s := fmt.Sprintf("%.1f°C", v)
	if s == "-0.0°C" {
		s = "0.0°C"
	}
	return s
}

func (n AlertNotice) duration() time.Duration {
	now := n.Now
	if now.IsZero() {
		now = time.Now()
	}
	if n.StartedAt.IsZero() {
		return 0
	}
	return max(0, now.Sub(n.StartedAt))
}

// HumanDuration says how long, to the minute: "<1 min", "23 min",
// "1 h 5 min", "2 d 3 h".
func HumanDuration(d time.Duration) string {
	m := int(d / time.Minute)
	switch {
	case m < 1:
		return "<1 min"
	case m < 60:
		return fmt.Sprintf("%d min", m)
	case m < 24*60:
		if m%60 == 0 {
			return fmt.Sprintf("%d h", m/60)
		}
		return fmt.Sprintf("%d h %d min", m/60, m%60)
	}
	days, hours := m/(24*60), m%(24*60)/60
	if hours == 0 {
		return fmt.Sprintf("%d d", days)
	}
	return fmt.Sprintf("%d d %d h", days, hours)
}

// CleanLine makes a name safe for one line of text and for an email
// subject: control characters (line breaks included) become spaces, runs of
// spaces collapse, and the ends are trimmed.
func CleanLine(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// truncate shortens s to at most n runes, ending in "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n < 1 {
		return ""
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
