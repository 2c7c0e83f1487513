package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/freshtrack/freshtrack/compliance"
)

func newExportCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "export", Short: "Export stored data"}
	cfg := dbCommand(e, cmd)
	var org, site, unit, from, to, format, out string
	readings := &cobra.Command{
		Use:   "readings --org ORG --from DATE|RFC3339 --to DATE|RFC3339",
		Short: "Stream raw readings as CSV",
		Long: `Readings streams the raw readings of an organisation (or of one --site or --unit)
as CSV, oldest first: time (RFC 3339 UTC), site, unit, sensor external id, temp_c,
humidity, battery. Rows are written as the database returns them, a day at a time,
so exports of any size run in constant memory.

--from and --to take an RFC 3339 instant (the range is [from, to)) or a date
YYYY-MM-DD naming a whole day: --from starts at its midnight and --to ends at the
midnight after it (so --from 2026-03-01 --to 2026-03-31 is all of March). Dates are
days of the site's time zone with --site or --unit, UTC otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Load(cmd.Flags(), e.getenv); err != nil {
				return err
			}
			if format != "csv" {
				return fmt.Errorf("--format %q: only csv is supported", format)
			}
			pool, err := openPool(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			loc, err := compliance.ScopeLocation(cmd.Context(), pool, org, site, unit)
			if errors.Is(err, compliance.ErrNotFound) {
				return fmt.Errorf("no such site or unit in organisation %s", org)
			}
			if err != nil {
				return err
			}
			lo, err := parseInstant("--from", from, loc, false)
			if err != nil {
				return err
			}
			hi, err := parseInstant("--to", to, loc, true)
			if err != nil {
				return err
			}
			var n int64
			err = writeOutput(e, out, func(w io.Writer) error {
				var err error
				n, err = compliance.ExportReadings(cmd.Context(), pool, compliance.ExportParams{OrgID: org, SiteID: site, UnitID: unit, From: lo, To: hi}, w)
				return err
			})
			if errors.Is(err, compliance.ErrNotFound) {
				return fmt.Errorf("no such site or unit in organisation %s", org)
			}
			if err != nil {
				return err
			}
			if out != "" {
				fmt.Fprintf(e.stderr, "exported %d readings to %s\n", n, out)
			}
			return nil
		},
	}
	f := readings.Flags()
	f.StringVar(&org, "org", "", "organisation id (required)")
	f.StringVar(&site, "site", "", "only this site's readings")
	f.StringVar(&unit, "unit", "", "only this unit's readings")
	f.StringVar(&from, "from", "", "start: YYYY-MM-DD or RFC 3339 (required)")
	f.StringVar(&to, "to", "", "end: YYYY-MM-DD (inclusive day) or RFC 3339 (exclusive) (required)")
	f.StringVar(&format, "format", "csv", "output format: csv")
	f.StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	for _, name := range []string{"org", "from", "to"} {
		_ = readings.MarkFlagRequired(name)
	}
	cmd.AddCommand(readings)
	return cmd
}

// parseInstant reads an RFC 3339 instant, or a date naming a day in loc:
// its start, or with end its end (the next midnight).
func parseInstant(flag, s string, loc *time.Location, end bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want a date like 2026-03-01 or an RFC 3339 time like 2026-03-01T00:00:00Z", flag, s)
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc), nil
}
