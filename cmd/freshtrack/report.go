package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/freshtrack/freshtrack/compliance"
)

func newReportCmd(e env) *cobra.Command {
	cmd := &cobra.Command{Use: "report", Short: "Write compliance reports"}
	cfg := dbCommand(e, cmd)
	var (
		org, site, from, to string
		format, units, out  string
		pageSize            string
		unitIDs             []string
	)
	haccp := &cobra.Command{
		Use:   "haccp --org ORG --site SITE --from DATE --to DATE",
		Short: "Write a site's HACCP temperature record as JSON, CSV or PDF",
		Long: `Haccp writes the HACCP temperature record of a site for the days --from to --to
(inclusive, YYYY-MM-DD, local days of the site's time zone): per unit and day the
minimum, maximum, average and count of readings and the minutes out of the safe
range; every excursion with the alert that overlapped it, who acknowledged it and
the corrective actions; data gaps; manual checks. The header carries a SHA-256 of
the content, the footer the head of the organisation's audit trail.

--format csv writes one sortable table per section; --format pdf a printable
document (A4 or --page-size Letter), which is never written to a terminal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Load(cmd.Flags(), e.getenv); err != nil {
				return err
			}
			first, err := parseDay("--from", from)
			if err != nil {
				return err
			}
			last, err := parseDay("--to", to)
			if err != nil {
				return err
			}
			write, err := reportWriter(format, pageSize)
			if err != nil {
				return err
			}
			if format == "pdf" && out == "" && isTerminal(e.stdout) {
				return errors.New("refusing to write a PDF to a terminal; pass -o FILE or redirect the output")
			}
			pool, err := openPool(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			r, err := compliance.HACCP(cmd.Context(), pool, compliance.HACCPParams{
				OrgID: org, SiteID: site, From: first, To: last, Unit: strings.ToUpper(units), UnitIDs: unitIDs,
			})
			if errors.Is(err, compliance.ErrNotFound) {
				return fmt.Errorf("no site %s in organisation %s (or a --unit is not on it)", site, org)
			}
			if err != nil {
				return err
			}
			if err := writeOutput(e, out, func(w io.Writer) error { return write(w, r) }); err != nil {
				return err
			}
			if out != "" {
				fmt.Fprintf(e.stderr, "wrote the HACCP record of %s, %s to %s (%d units) to %s\ncontent sha256 %s\n",
					r.Header.Site, r.Header.From, r.Header.To, len(r.Units), out, r.Header.ContentSHA256)
			}
			return nil
		},
	}
	f := haccp.Flags()
	f.StringVar(&org, "org", "", "organisation id (required)")
	f.StringVar(&site, "site", "", "site id (required)")
	f.StringVar(&from, "from", "", "first day, YYYY-MM-DD in the site's time zone (required)")
	f.StringVar(&to, "to", "", "last day, inclusive, YYYY-MM-DD (required)")
	f.StringVar(&format, "format", "json", "json, csv or pdf")
	f.StringVar(&units, "units", "C", "temperature unit: C or F")
	f.StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	f.StringVar(&pageSize, "page-size", compliance.PageA4, "PDF page size: A4 or Letter")
	f.StringSliceVar(&unitIDs, "unit", nil, "report only these units of the site (repeatable)")
	for _, name := range []string{"org", "site", "from", "to"} {
		_ = haccp.MarkFlagRequired(name)
	}
	cmd.AddCommand(haccp)
	return cmd
}

// reportWriter picks the renderer of a format.
func reportWriter(format, pageSize string) (func(io.Writer, *compliance.Report) error, error) {
	switch format {
	case "json":
		return compliance.WriteJSON, nil
	case "csv":
		return compliance.WriteCSV, nil
	case "pdf":
		var size string
		switch strings.ToLower(pageSize) {
		case "a4":
			size = compliance.PageA4
		case "letter":
			size = compliance.PageLetter
		default:
			return nil, fmt.Errorf("--page-size %q: must be A4 or Letter", pageSize)
		}
		return func(w io.Writer, r *compliance.Report) error {
			return compliance.WritePDF(w, r, compliance.PageSize(size))
		}, nil
	}
	return nil, fmt.Errorf("--format %q: must be json, csv or pdf", format)
}

// parseDay reads a YYYY-MM-DD calendar date.
func parseDay(flag, s string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want a date like 2026-03-01", flag, s)
	}
	return d, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// writeOutput runs write on standard output, or on a temporary file beside
// path that replaces path only when everything was written.
func writeOutput(e env, path string, write func(io.Writer) error) error {
	if path == "" || path == "-" {
		return write(e.stdout)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if err := write(tmp); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
