package bench

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteIngestSummary prints the summary table of an ingest benchmark.
func WriteIngestSummary(w io.Writer, r *IngestResult) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "ingest benchmark: %s storage, %s workload, %d sensors every %s, %d readings/request, %d in flight, %d writers × %d rows/flush, %d CPUs, PostgreSQL %s (autovacuum %s)\n",
		r.Storage, r.Workload, r.Sensors, r.Interval, r.Batch, r.Concurrency, r.Writers, r.FlushRows, r.Machine.CPUs, r.Machine.Postgres, r.Machine.Autovacuum)
	fmt.Fprintln(tw, "pair\tkind\trows\tseconds\trows/s\treq/s\tp50 ms\tp95 ms\tp99 ms\tmax ms\tconns\tserver cpu s\tpg cpu s\tgen cpu s\teval s\tpeak rss MiB\terrors\t")
	for _, run := range r.Runs {
		lat := Latency{}
		if run.Latency != nil {
			lat = *run.Latency
		}
		kind := run.Kind
		if run.Best != "" {
			kind += " " + run.Best
		}
		eval := 0.0
		if run.Alerting != nil {
			eval = run.Alerting.Seconds
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%.2f\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", run.Pair, kind, run.Rows, run.Seconds, run.RowsPerSec,
			opt(run.RequestsPerSec), optMs(run.Latency != nil, lat.P50), optMs(run.Latency != nil, lat.P95), optMs(run.Latency != nil, lat.P99), optMs(run.Latency != nil, lat.Max),
			optInt(run.Connections), opt(run.ServerCPU), opt(run.PostgresCPU), opt(run.GeneratorCPU), opt(eval), opt(run.ServerPeakRSS), errorsText(run.Errors))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, run := range r.Runs {
		if len(run.Configurations) == 0 {
			continue
		}
		parts := make([]string, len(run.Configurations))
		for i, c := range run.Configurations {
			parts[i] = fmt.Sprintf("%d×%d %.0f", c.Connections, c.RowsPerCopy, c.RowsPerSec)
		}
		fmt.Fprintf(w, "raw limit, pair %d (connections×rows per COPY rows/s): %s\n", run.Pair, strings.Join(parts, ", "))
	}
	line := func(name string, s *Spread, format string) {
		if s != nil && !math.IsNaN(s.Median) {
			fmt.Fprintf(w, "%-27s median "+format+"  (min "+format+", max "+format+")\n", name, s.Median, s.Min, s.Max)
		}
	}
	line("ingest rows/s:", r.Ingest, "%.0f")
	if r.Workload == WorkloadSingle {
		line("ingest requests/s:", r.Requests, "%.0f")
		line("ingest p99 ms:", r.P99, "%.1f")
	}
	line("raw limit rows/s:", r.RawLimit, "%.0f")
	line("ratio ingest/raw limit:", r.Ratio, "%.3f")
	return nil
}

// WriteIngestTable prints one line per ingest result (a storage mode and
// workload): the medians of ingest rows/s, the raw limit and their ratio,
// and for a single-reading result requests/s and p99.
func WriteIngestTable(w io.Writer, results []*IngestResult) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tworkload\tin flight\truns\tingest rows/s\traw limit rows/s\tratio\treq/s\tp99 ms\t")
	med := func(s *Spread, format string) string {
		if s == nil || math.IsNaN(s.Median) {
			return "-"
		}
		return fmt.Sprintf(format, s.Median)
	}
	for _, r := range results {
		req, p99 := "-", "-"
		if r.Workload == WorkloadSingle {
			req, p99 = med(r.Requests, "%.0f"), med(r.P99, "%.1f")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", r.Storage, r.Workload, r.Concurrency, ingestRuns(r),
			med(r.Ingest, "%.0f"), med(r.RawLimit, "%.0f"), med(r.Ratio, "%.3f"), req, p99)
	}
	return tw.Flush()
}

func opt(f float64) string {
	if f == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", f)
}

func ingestRuns(r *IngestResult) int {
	n := 0
	for _, run := range r.Runs {
		if run.Kind == KindIngest {
			n++
		}
	}
	return n
}

func optInt(n int) string {
	if n == 0 {
		return "-"
	}
	return strconv.Itoa(n)
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
