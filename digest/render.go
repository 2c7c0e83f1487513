package digest

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/freshtrack/freshtrack/notify"
)

// Render returns a digest as an email: the subject ("FreshTrack daily
// digest — <org> — 2026-11-25"), a plain-text body and an HTML body (every
// value escaped by html/template). Times are shown in c.Location.
func Render(c *Content) (subject, text, html string) {
	v := c.view()
	subject = fmt.Sprintf("FreshTrack %s digest — %s — %s", v.Frequency, v.Org, v.Label)

	var b strings.Builder
	fmt.Fprintf(&b, "FreshTrack %s digest for %s\n%s (%s)\n\n", v.Frequency, v.Org, v.Label, v.Zone)
	b.WriteString(v.Summary + "\n")
	section := func(title string, total int, items []itemView, more string) {
		fmt.Fprintf(&b, "\n%s (%d)\n", strings.ToUpper(title), total)
		if total == 0 {
			b.WriteString("  none\n")
			return
		}
		for _, it := range items {
			fmt.Fprintf(&b, "- %s\n", it.Text)
			if it.URL != "" {
				fmt.Fprintf(&b, "  %s\n", it.URL)
			}
		}
		if more != "" {
			fmt.Fprintf(&b, "  %s\n", more)
		}
	}
	section("Alerts opened", v.OpenedTotal, v.Opened, v.OpenedMore)
	section("Alerts resolved", v.ResolvedTotal, v.Resolved, v.ResolvedMore)
	section("Temperature excursions", v.ExcursionsTotal, v.Excursions, v.ExcursionsMore)
	section("Units offline now", len(v.Offline), v.Offline, "")
	section("Temperatures (lowest – highest)", len(v.Units), v.Units, "")
	if v.AlertsURL != "" {
		fmt.Fprintf(&b, "\nAll alerts: %s\n", v.AlertsURL)
	}
	if v.ManageURL != "" {
		fmt.Fprintf(&b, "Change or stop this digest: %s\n", v.ManageURL)
	}
	text = b.String()

	var h bytes.Buffer
	if err := digestHTML.Execute(&h, v); err != nil {
		// The template is fixed and its data plain strings: this cannot
		// happen; fall back to the escaped text rather than fail a digest.
		html = "<pre>" + template.HTMLEscapeString(text) + "</pre>"
	} else {
		html = h.String()
	}
	return subject, text, html
}

// digestView is the data of the templates: every value cleaned and
// formatted.
type digestView struct {
	Frequency, Org, Label, Zone, Summary string
	Opened, Resolved, Excursions         []itemView
	Offline, Units                       []itemView
	OpenedTotal, ResolvedTotal           int
	ExcursionsTotal                      int
	OpenedMore, ResolvedMore             string
	ExcursionsMore                       string
	AlertsURL, ManageURL                 string
}

// itemView is one line of a section; Warn marks it in the HTML.
type itemView struct {
	Text string
	URL  string
	Warn bool
}

func (c *Content) view() digestView {
	loc := c.Location
	if loc == nil {
		loc = time.UTC
	}
	at := func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04") }
	v := digestView{
		Frequency: notify.CleanLine(c.Frequency), Org: notify.CleanLine(c.OrgName), Label: c.Period.Label(loc), Zone: loc.String(),
		OpenedTotal: c.OpenedTotal, ResolvedTotal: c.ResolvedTotal, ExcursionsTotal: c.ExcursionsTotal,
	}
	if v.Frequency == "" {
		v.Frequency = Daily
	}
	if c.BaseURL != "" {
		v.AlertsURL = fmt.Sprintf("%s/o/%s/alerts", c.BaseURL, c.OrgID)
		v.ManageURL = fmt.Sprintf("%s/v1/orgs/%s/digest", c.BaseURL, c.OrgID)
	}
	alertURL := func(a Alert) string {
		if c.BaseURL == "" {
			return ""
		}
		return fmt.Sprintf("%s/o/%s/alerts/%s", c.BaseURL, c.OrgID, a.ID)
	}
	more := func(total, shown int) string {
		if total <= shown {
			return ""
		}
		if v.AlertsURL != "" {
			return fmt.Sprintf("… and %d more: %s", total-shown, v.AlertsURL)
		}
		return fmt.Sprintf("… and %d more", total-shown)
	}

	for _, a := range c.Opened {
		v.Opened = append(v.Opened, itemView{Warn: a.Severity == "critical", URL: alertURL(a),
			Text: fmt.Sprintf("%s  %s %s: %s, now %s", at(a.OpenedAt), strings.ToUpper(notify.CleanLine(a.Severity)), kindLabel(a.Kind), where(a.UnitName, a.SiteName), notify.CleanLine(a.Status))})
	}
	v.OpenedMore = more(c.OpenedTotal, len(c.Opened))
	for _, a := range c.Resolved {
		v.Resolved = append(v.Resolved, itemView{URL: alertURL(a),
			Text: fmt.Sprintf("%s  %s: %s, opened %s", at(*a.ResolvedAt), kindLabel(a.Kind), where(a.UnitName, a.SiteName), at(a.OpenedAt))})
	}
	v.ResolvedMore = more(c.ResolvedTotal, len(c.Resolved))
	for _, a := range c.Excursions {
		s := fmt.Sprintf("%s: %s", where(a.UnitName, a.SiteName), kindLabel(a.Kind))
		if a.PeakC != nil {
			s += ", peak " + celsius(*a.PeakC)
		}
		if a.ThresholdC != nil {
			s += " (limit " + celsius(*a.ThresholdC) + ")"
		}
		s += ", from " + at(a.StartedAt)
		if a.ResolvedAt != nil {
			s += " to " + at(*a.ResolvedAt)
		} else {
			s += ", still " + notify.CleanLine(a.Status)
		}
		v.Excursions = append(v.Excursions, itemView{Text: s, URL: alertURL(a), Warn: a.ResolvedAt == nil})
	}
	v.ExcursionsMore = more(c.ExcursionsTotal, len(c.Excursions))
	for _, u := range c.Offline {
		s := where(u.UnitName, u.SiteName) + ": "
		if u.Reading == nil {
			s += "no reading yet"
		} else {
			s += fmt.Sprintf("last reading %s at %s (%s ago)", celsius(u.Reading.TempC), at(u.Reading.Time), notify.HumanDuration(time.Duration(u.AgeSeconds*float64(time.Second))))
		}
		v.Offline = append(v.Offline, itemView{Text: s, Warn: true})
	}
	for _, u := range c.Units {
		s := where(u.UnitName, u.SiteName) + ": "
		if u.MinC == nil || u.MaxC == nil || u.Count == 0 {
			s += "no readings"
		} else {
			s += fmt.Sprintf("%s – %s (safe %s – %s, %d readings)", celsius(*u.MinC), celsius(*u.MaxC), celsius(u.SafeMinC), celsius(u.SafeMaxC), u.Count)
			if u.OutOfRange() {
				s += ", OUT OF RANGE"
			}
		}
		v.Units = append(v.Units, itemView{Text: s, Warn: u.OutOfRange() || u.Count == 0})
	}

	plural := func(n int, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %s", n, many)
	}
	v.Summary = fmt.Sprintf("%s opened, %s resolved, %s, %s offline now.",
		plural(c.OpenedTotal, "alert", "alerts"), plural(c.ResolvedTotal, "alert", "alerts"),
		plural(c.ExcursionsTotal, "temperature excursion", "temperature excursions"),
		plural(len(c.Offline), "unit", "units"))
	return v
}

// sectionView is the data of the HTML template's "section".
type sectionView struct {
	Title string
	Total int
	Items []itemView
	More  string
}

var digestHTML = template.Must(template.New("digest").Funcs(template.FuncMap{
	"section": func(title string, total int, items []itemView, more string) sectionView {
		return sectionView{Title: title, Total: total, Items: items, More: more}
	},
}).Parse(`<!DOCTYPE html>
<html><body style="font-family:sans-serif;color:#222">
<p style="font-size:18px;font-weight:bold">FreshTrack {{.Frequency}} digest for {{.Org}}</p>
<p>{{.Label}} ({{.Zone}})</p>
<p>{{.Summary}}</p>
{{- define "section"}}
<h3 style="margin-bottom:4px">{{.Title}} ({{.Total}})</h3>
{{- if .Items}}
<ul style="margin-top:0">
{{- range .Items}}
<li{{if .Warn}} style="color:#b00020"{{end}}>{{.Text}}{{if .URL}} — <a href="{{.URL}}">view</a>{{end}}</li>
{{- end}}
</ul>
{{- if .More}}<p>{{.More}}</p>{{end}}
{{- else}}
<p style="margin-top:0;color:#555">None.</p>
{{- end}}
{{- end}}
{{- template "section" (section "Alerts opened" .OpenedTotal .Opened .OpenedMore)}}
{{- template "section" (section "Alerts resolved" .ResolvedTotal .Resolved .ResolvedMore)}}
{{- template "section" (section "Temperature excursions" .ExcursionsTotal .Excursions .ExcursionsMore)}}
{{- template "section" (section "Units offline now" (len .Offline) .Offline "")}}
{{- template "section" (section "Temperatures (lowest – highest)" (len .Units) .Units "")}}
{{- if .AlertsURL}}
<p><a href="{{.AlertsURL}}">All alerts</a> · <a href="{{.ManageURL}}">Change or stop this digest</a></p>
{{- end}}
</body></html>
`))

// kindLabel says what an alert kind means: "temperature high".
func kindLabel(kind string) string {
	switch kind {
	case "temp_high":
		return "temperature high"
	case "temp_low":
		return "temperature low"
	}
	if k := notify.CleanLine(kind); k != "" {
		return strings.ReplaceAll(k, "_", " ")
	}
	return "alert"
}

// where names a unit and its site: "Walk-in Cooler 1 (Main St Kitchen)".
func where(unit, site string) string {
	unit, site = notify.CleanLine(unit), notify.CleanLine(site)
	if site == "" {
		return unit
	}
	return unit + " (" + site + ")"
}

func celsius(v float64) string {
	s := fmt.Sprintf("%.1f°C", v)
	if s == "-0.0°C" {
		s = "0.0°C"
	}
	return s
}
