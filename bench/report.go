package bench

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteIngestSummary prints the summary table of an ingest benchmark.
func WriteIngestSummary(w io.Writer, r *IngestResult) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "ingest benchmark: %s storage, %d sensors, %d readings/request, %d in flight, %d writers × %d rows/flush, %d CPUs, PostgreSQL %s\n",
		r.Storage, r.Sensors, r.Batch, r.Concurrency, r.Writers, r.FlushRows, r.Machine.CPUs, r.Machine.Postgres)
	fmt.Fprintln(tw, "run\tkind\trows\tseconds\trows/s\treq/s\tp50 ms\tp95 ms\tp99 ms\tmax ms\tserver cpu s\tpg cpu s\tpeak rss MiB\terrors\t")
	for i, run := range r.Runs {
		lat := Latency{}
		if run.Latency != nil {
			lat = *run.Latency
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%.2f\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", i+1, run.Kind, run.Rows, run.Seconds, run.RowsPerSec,
			opt(run.RequestsPerSec), optMs(run.Latency != nil, lat.P50), optMs(run.Latency != nil, lat.P95), optMs(run.Latency != nil, lat.P99), optMs(run.Latency != nil, lat.Max),
			opt(run.ServerCPU), opt(run.PostgresCPU), opt(run.ServerPeakRSS), errorsText(run.Errors))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	line := func(name string, s *Spread, format string) {
		if s != nil && !math.IsNaN(s.Median) {
			fmt.Fprintf(w, "%-22s median "+format+"  (min "+format+", max "+format+")\n", name, s.Median, s.Min, s.Max)
		}
	}
	line("ingest rows/s:", r.Ingest, "%.0f")
	line("ceiling rows/s:", r.Ceiling, "%.0f")
	line("ratio ingest/ceiling:", r.Ratio, "%.3f")
	return nil
}

func opt(f float64) string {
	if f == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", f)
}

func optMs(ok bool, m Millis) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.1f", float64(m))
}

func errorsText(errs map[string]int) string {
	if len(errs) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, errs[k])
	}
	return strings.Join(parts, " ")
}
