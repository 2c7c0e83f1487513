package seedimport

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what an import did (or, for a dry run, would do): per table the
// rows read from the seed, written to FreshTrack, merged into rows
// FreshTrack already had, and skipped with the reason, in dependency order.
type Report struct {
	// Kind is full, since or dry-run.
	Kind string `json:"kind"`
	// Source is the seed's URL without its password.
	Source string `json:"source"`
	// RunID is the import_runs row (0 for a dry run).
	RunID int64 `json:"run_id,omitempty"`
	// Resumed is set when the run continued one that was interrupted.
	Resumed bool `json:"resumed,omitempty"`
	// SnapshotAt is the seed's clock when its snapshot was taken.
	SnapshotAt time.Time `json:"snapshot_at"`
	// ReadingsUnit is C or F.
	ReadingsUnit string `json:"readings_unit"`
	// ReadingsFrom and ReadingsTo bound the readings of the run (see
	// import_runs).
	ReadingsFrom *time.Time `json:"readings_from,omitempty"`
	ReadingsTo   *time.Time `json:"readings_to,omitempty"`
	// Tables are the outcomes, FreshTrack table by table.
	Tables []*TableOutcome `json:"tables"`
	// Implausible lists units whose converted safe range looks wrong (a
	// range read in the wrong unit, most often).
	Implausible []RangeWarning `json:"implausible_ranges"`
	// Notes are what was not migrated and why, and what to check.
	Notes []string `json:"notes"`
	// Seconds is how long the run took; RowsPerSecond the readings rate.
	Seconds       float64 `json:"seconds"`
	RowsPerSecond float64 `json:"readings_per_second"`
	// Phases are the seconds each phase took, in order.
	Phases []Phase `json:"phases"`
}

// Phase is one step of an import and how long it took.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// phase records that the phase called name ended now, since the previous.
func (r *Report) phase(name string, since *time.Time) {
	now := time.Now()
	r.Phases = append(r.Phases, Phase{Name: name, Seconds: now.Sub(*since).Seconds()})
	*since = now
}

// TableOutcome is one line of the report.
type TableOutcome struct {
	// Target is the FreshTrack table ("" for seed tables not migrated).
	Target string `json:"target"`
	// From names the seed table(s).
	From string `json:"from"`
	// Read is the seed rows considered; Written the rows stored (inserted
	// or updated); Merged the rows that went into a row FreshTrack already
	// had (or collapsed into another); Skipped the others, by reason.
	Read    int64            `json:"read"`
	Written int64            `json:"written"`
	Merged  int64            `json:"merged"`
	Skipped map[string]int64 `json:"skipped,omitempty"`
	// ToLegacySecrets counts secrets handed to (or kept for) the legacy
	// ingest credentials instead of being imported here.
	ToLegacySecrets int64 `json:"to_legacy_secrets,omitempty"`
	// Present counts rows an earlier run already imported and that are
	// left as they are (audit entries, readings).
	Present int64 `json:"present,omitempty"`
}

// RangeWarning is a unit whose safe range, after conversion, is implausible.
type RangeWarning struct {
	UnitID   string   `json:"unit_id"`
	Unit     string   `json:"unit"`
	Kind     string   `json:"kind"`
	SeedMin  *float64 `json:"seed_min"`
	SeedMax  *float64 `json:"seed_max"`
	SeedUnit string   `json:"seed_unit"`
	MinC     float64  `json:"min_c"`
	MaxC     float64  `json:"max_c"`
	Problem  string   `json:"problem"`
}

func newReport(kind, source string) *Report {
	return &Report{Kind: kind, Source: redactURL(source), Tables: []*TableOutcome{}, Implausible: []RangeWarning{}, Notes: []string{}, Phases: []Phase{}}
}

// table returns the outcome line of a FreshTrack table, creating it.
func (r *Report) table(target, from string) *TableOutcome {
	for _, t := range r.Tables {
		if t.Target == target && t.From == from {
			return t
		}
	}
	t := &TableOutcome{Target: target, From: from}
	r.Tables = append(r.Tables, t)
	return t
}

// Table returns the line of a FreshTrack table (the first, when several seed
// tables feed it), or nil.
func (r *Report) Table(target string) *TableOutcome {
	for _, t := range r.Tables {
		if t.Target == target {
			return t
		}
	}
	return nil
}

func (t *TableOutcome) skip(reason string, n int64) {
	if n == 0 {
		return
	}
	if t.Skipped == nil {
		t.Skipped = map[string]int64{}
	}
	t.Skipped[reason] += n
}

// SkippedTotal is the sum of the skipped rows.
func (t *TableOutcome) SkippedTotal() int64 {
	var n int64
	for _, v := range t.Skipped {
		n += v
	}
	return n
}

func (r *Report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// WriteText prints the report as aligned columns for people.
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "import %s from %s (seed snapshot %s, readings in °%s)", r.Kind, r.Source, r.SnapshotAt.Format(time.RFC3339), r.ReadingsUnit)
	if r.RunID != 0 {
		fmt.Fprintf(w, ", run %d", r.RunID)
		if r.Resumed {
			fmt.Fprint(w, " (resumed)")
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FRESHTRACK\tFROM SEED\tREAD\tWRITTEN\tMERGED\tSKIPPED\tREASONS")
	for _, t := range r.Tables {
		target := t.Target
		if target == "" {
			target = "(not migrated)"
		}
		var reasons []string
		for _, k := range slices.Sorted(maps.Keys(t.Skipped)) {
			reasons = append(reasons, fmt.Sprintf("%d %s", t.Skipped[k], k))
		}
		if t.ToLegacySecrets > 0 {
			reasons = append(reasons, fmt.Sprintf("%d to legacy secrets", t.ToLegacySecrets))
		}
		if t.Present > 0 {
			reasons = append(reasons, fmt.Sprintf("%d already imported", t.Present))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\n", target, t.From, t.Read, t.Written, t.Merged, t.SkippedTotal(), strings.Join(reasons, "; "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Implausible) > 0 {
		fmt.Fprintf(w, "\n%d units have an implausible safe range after conversion (check --readings-unit and the units' temp_unit):\n", len(r.Implausible))
		for _, u := range r.Implausible {
			fmt.Fprintf(w, "  %s %q (%s): %s\n", u.UnitID, u.Unit, u.Kind, u.Problem)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "\nnotes:")
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
	if r.Seconds > 0 {
		fmt.Fprintf(w, "\ntook %.1fs", r.Seconds)
		if r.RowsPerSecond > 0 {
			fmt.Fprintf(w, " (readings at %.0f rows/s)", r.RowsPerSecond)
		}
		var parts []string
		for _, p := range r.Phases {
			parts = append(parts, fmt.Sprintf("%s %.1fs", p.Name, p.Seconds))
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, ": %s", strings.Join(parts, ", "))
		}
		fmt.Fprintln(w)
	}
	return nil
}
