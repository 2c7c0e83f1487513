package eval

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// Print writes the report as tables: recall per label kind and precision
// per alert kind for both rule sets, false alarms per unit-week by cause,
// and trend_warning's lead.
func Print(w io.Writer, r Report) error {
	fmt.Fprintf(w, "corpus: seed %d, %d units × %d weeks (%.1f unit-weeks scored)\n\n", r.Seed, r.Units, r.Weeks, r.UnitWeeks)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	base, full := r.Systems[0], r.Systems[1]
	fmt.Fprintln(tw, "label\tcount\tbaseline recall\tfull recall\t")
	for i, l := range base.Labels {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t\n", l.Kind, l.Total, pct(l.Found, l.Total), pct(full.Labels[i].Found, full.Labels[i].Total))
	}
	fmt.Fprintln(tw, "\t\t\t\t")
	fmt.Fprintln(tw, "alert kind\tbaseline alerts\tbaseline precision\tfull alerts\tfull precision\t")
	var kinds []string
	for _, s := range r.Systems {
		for _, a := range s.Alerts {
			if !slices.Contains(kinds, a.Kind) {
				kinds = append(kinds, a.Kind)
			}
		}
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		b, f := find(base.Alerts, k), find(full.Alerts, k)
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t\n", k, b.Total, pct(b.True, b.Total), f.Total, pct(f.True, f.Total))
	}
	fmt.Fprintln(tw, "\t\t\t\t")
	fmt.Fprintln(tw, "false alarms / unit-week\tbaseline\tfull\t")
	for _, c := range []string{CauseDefrost, CauseDoor, CauseOther, "total"} {
		fmt.Fprintf(tw, "%s\t%.3f (%d)\t%.3f (%d)\t\n", c, base.FalsePerUnitWeek[c], base.FalseAlarms[c], full.FalsePerUnitWeek[c], full.FalseAlarms[c])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	l := r.Lead
	mins := make([]string, len(l.Minutes))
	for i, m := range l.Minutes {
		mins[i] = fmt.Sprintf("%.0f", m)
	}
	_, err := fmt.Fprintf(w, "\ntrend_warning on slow failures: warned %d of %d; lead over the baseline's temperature alert: median %.1f min (%d measured: %s)\n",
		l.Warned, l.SlowFailures, l.MedianMinutes, l.Measured, strings.Join(mins, " "))
	return err
}

func find(as []AlertStat, kind string) AlertStat {
	for _, a := range as {
		if a.Kind == kind {
			return a
		}
	}
	return AlertStat{Kind: kind}
}

func pct(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%% (%d/%d)", 100*float64(a)/float64(b), a, b)
}
