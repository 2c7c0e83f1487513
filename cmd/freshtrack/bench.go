package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/freshtrack/freshtrack/bench"
	"github.com/freshtrack/freshtrack/internal/config"
)

func newBenchCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure ingest, queries and alerting on this machine",
		Long: `Bench runs FreshTrack's load benchmarks against the database in DATABASE_URL
(migrated first with 'freshtrack migrate up'), in a scratch organisation.
See bench/README.md for the workloads and the latest numbers.`,
	}
	cmd.AddCommand(newBenchIngestCmd(e), newBenchTableCmd(e), newBenchSeedCmd(e), newBenchAlertsCmd(e), newBenchQueryCmd(e), newBenchLiveCmd(e))
	return cmd
}

func newBenchSeedCmd(e env) *cobra.Command {
	var o bench.SeedOptions
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Generate a realistic history with COPY for the query benchmarks",
		Long: `Seed creates an organisation with --sensors units (one sensor each) in sites of
--units-per-site, and loads --days of readings every --interval straight into
readings with COPY, then materialises the downsampled series. The default,
2000 sensors × 14 days × one reading a minute, is about 40 million rows.`,
		Args: cobra.NoArgs,
	}
	cfg := dbCommand(e, cmd)
	f := cmd.Flags()
	f.IntVar(&o.Sensors, "sensors", 2000, "sensors (one per unit)")
	f.IntVar(&o.UnitsPerSite, "units-per-site", 200, "units per site")
	f.IntVar(&o.Days, "days", 14, "days of history ending now")
	f.DurationVar(&o.Interval, "interval", time.Minute, "time between a sensor's readings")
	f.IntVar(&o.Connections, "connections", 2, "connections loading in parallel")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		b, err := loadBench(cmd, e, cfg)
		if err != nil {
			return err
		}
		o.DatabaseURL, o.Logger, o.Progress = b.DatabaseURL, b.Logger, b.Progress
		res, err := bench.Seed(cmd.Context(), o)
		if err != nil {
			return err
		}
		return printBench(e, asJSON, res, func(w io.Writer, res *bench.SeedResult) error {
			_, err := fmt.Fprintf(w, "seeded %d readings (%d sensors, %s to %s) in %.1fs (%.0f rows/s); rollups in %.1fs\norganisation %s, sites %v\n",
				res.Rows, res.Sensors, res.From, res.To, res.LoadSeconds, res.RowsPerSec, res.RollupSeconds, res.OrgID, res.SiteIDs)
			return err
		})
	}
	return cmd
}

// benchSetup is what every benchmark takes from configuration.
type benchSetup struct {
	DatabaseURL string
	Logger      *slog.Logger
	// Progress is stderr when it is a terminal, else nil.
	Progress io.Writer
}

// loadBench applies the environment and validates the configuration of a
// bench command.
func loadBench(cmd *cobra.Command, e env, cfg *config.Config) (benchSetup, error) {
	if err := cfg.Load(cmd.Flags(), e.getenv); err != nil {
		return benchSetup{}, err
	}
	b := benchSetup{DatabaseURL: cfg.DatabaseURL, Logger: newLogger(cfg, e.stderr)}
	if p := progressWriter(e); p != nil {
		b.Progress = p
	}
	return b, nil
}

// printBench prints a benchmark's result as JSON or as its summary.
func printBench[R any](e env, asJSON bool, res R, summary func(io.Writer, R) error) error {
	if asJSON {
		return printJSON(e, res)
	}
	return summary(e.stdout, res)
}

// progressWriter is stderr when it is a terminal, else nothing.
func progressWriter(e env) *os.File {
	if f, ok := e.stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		return f
	}
	return nil
}

func newBenchIngestCmd(e env) *cobra.Command {
	var o bench.IngestOptions
	var kept benchOutput
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Post a simulated fleet's readings and compare with the database's raw COPY limit",
		Long: `Ingest simulates a fleet posting to POST /v1/readings: --sensors devices, sent
--batch readings per request with --concurrency requests in flight (one
connection each), --rows readings per run (or until --duration). Request bodies
are encoded before the clock starts. Without --target it starts 'freshtrack
serve' as a child process on loopback, so the server's CPU and peak memory are
measured apart from the generator's.

--workload chooses the fleet:
  live    (default) fridge units, one sensor each, whose organisation's default
          rules apply; in-range readings spread over the last --window, so
          alerting evaluates every batch. Each run has a fleet of its own, warmed
          up by one round of readings before the clock.
  old     sensors on no unit reporting every --interval on a day of their own,
          days in the past: alerting never evaluates them.
  single  the live fleet posting one reading per request, as a TTN webhook
          delivers each uplink; the headline is requests/s and p99.

With --raw-limit each ingest run is preceded by the database's raw limit for the
same rows: pre-encoded in PostgreSQL's binary COPY format before the clock and
streamed with COPY into a fresh scratch table shaped exactly like readings, at
1, 2 and 4 connections × 5,000 and 50,000 rows per COPY; the best of the six is
the pair's raw limit, and the summary's headline is the median of ingest
rows/s ÷ raw limit.`,
		Args: cobra.NoArgs,
	}
	cfg := dbCommand(e, cmd)
	f := cmd.Flags()
	f.StringVar(&o.Workload, "workload", bench.WorkloadLive, "live, live-bare (the live load from sensors on no unit: no evaluation), old or single")
	f.IntVar(&o.Sensors, "sensors", 1000, "fleet size")
	f.DurationVar(&o.Interval, "interval", time.Minute, "each sensor's reporting period (old workload)")
	f.DurationVar(&o.Window, "window", 20*time.Minute, "the recent past a live or single run's readings span (at most 23h; under 30m, or units look offline)")
	f.IntVar(&o.Batch, "batch", 500, "readings per request (single: 1)")
	f.IntVar(&o.Concurrency, "concurrency", 32, "requests in flight, one connection each")
	f.IntVar(&o.Rows, "rows", 500_000, "readings per run")
	f.DurationVar(&o.Duration, "duration", 0, "stop each run after this long (0: when --rows are sent)")
	f.Float64Var(&o.Rate, "rate", 0, "pace requests to this many readings/s (0: as fast as answered)")
	f.IntVar(&o.Runs, "runs", 1, "ingest runs (each after a raw-limit run with --raw-limit)")
	f.BoolVar(&o.RawLimit, "raw-limit", false, "also measure the database's raw COPY limit for the same rows, alternating")
	f.BoolVar(&o.RawLimit, "ceiling", false, "old name of --raw-limit")
	_ = f.MarkDeprecated("ceiling", "use --raw-limit")
	f.StringVar(&o.Target, "target", "", "base URL of a running server (default: start one)")
	f.StringVar(&o.TargetCA, "target-ca", "", "PEM file of the CA an https --target's certificate is verified with (default: the system's)")
	f.IntVar(&o.Writers, "writers", 2, "the server's ingest writers")
	f.IntVar(&o.FlushRows, "flush-rows", 5000, "the server's rows per flush")
	kept.bind(f)
	cmd.RunE = runKept(&kept, e, cfg, func(ctx context.Context, b benchSetup) (*bench.IngestResult, error) {
		o.DatabaseURL, o.Logger, o.Progress = b.DatabaseURL, b.Logger, b.Progress
		return bench.RunIngest(ctx, o)
	}, bench.WriteIngestSummary)
	return cmd
}

func newBenchTableCmd(e env) *cobra.Command {
	return &cobra.Command{
		Use:   "table FILE...",
		Short: "Print one line per 'bench ingest --out' result: medians of ingest, raw limit and ratio",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			var results []*bench.IngestResult
			for _, name := range files {
				b, err := os.ReadFile(name)
				if err != nil {
					return err
				}
				var r bench.IngestResult
				if err := json.Unmarshal(b, &r); err != nil {
					return fmt.Errorf("%s: not an ingest result: %w", name, err)
				}
				results = append(results, &r)
			}
			return bench.WriteIngestTable(e.stdout, results)
		},
	}
}

// benchOutput is where a benchmark's result goes: --json prints it as
// JSON, --out also writes the JSON to a file.
type benchOutput struct {
	asJSON bool
	out    string
}

func (k *benchOutput) bind(f *pflag.FlagSet) {
	f.BoolVar(&k.asJSON, "json", false, "print the result as JSON")
	f.StringVar(&k.out, "out", "", "also write the JSON result to this file")
}

// runKept is the RunE of a benchmark whose result k keeps: it loads the
// configuration, runs the benchmark, writes its result to --out when set
// and prints it.
func runKept[R any](k *benchOutput, e env, cfg *config.Config, run func(context.Context, benchSetup) (R, error), summary func(io.Writer, R) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		b, err := loadBench(cmd, e, cfg)
		if err != nil {
			return err
		}
		res, err := run(cmd.Context(), b)
		if err != nil {
			return err
		}
		if k.out != "" {
			if err := writeJSONFile(k.out, res); err != nil {
				return err
			}
		}
		return printBench(e, k.asJSON, res, summary)
	}
}

func writeJSONFile(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func newBenchAlertsCmd(e env) *cobra.Command {
	var o bench.AlertsOptions
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "Measure the time from a reading's commit to its alert and notification job",
		Long: `Alerts starts 'freshtrack serve' as a child process, keeps a steady background
ingest of in-range readings from --units fridges at --rate readings/s, and every
--every sends one out-of-range reading to a unit whose rule alerts at once. It
reports how long each takes, from the POST's answer (the reading's commit) to
the alert row and its notification job existing (they commit together).`,
		Args: cobra.NoArgs,
	}
	cfg := dbCommand(e, cmd)
	f := cmd.Flags()
	f.IntVar(&o.Units, "units", 500, "fridges, one sensor each")
	f.Float64Var(&o.Rate, "rate", 20000, "background readings per second")
	f.IntVar(&o.Batch, "batch", 500, "readings per background request")
	f.IntVar(&o.Excursions, "excursions", 50, "alerts to provoke")
	f.DurationVar(&o.Every, "every", 200*time.Millisecond, "time between excursions")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		b, err := loadBench(cmd, e, cfg)
		if err != nil {
			return err
		}
		o.DatabaseURL, o.Logger, o.Progress = b.DatabaseURL, b.Logger, b.Progress
		res, err := bench.RunAlerts(cmd.Context(), o)
		if err != nil {
			return err
		}
		return printBench(e, asJSON, res, bench.WriteAlertsSummary)
	}
	return cmd
}

func newBenchQueryCmd(e env) *cobra.Command {
	var o bench.QueryOptions
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Run the dashboard workload against a seeded history",
		Long: `Query runs the dashboard workload against an organisation seeded by 'bench seed'
(default: the newest one): series for random units over 24 h, 7 d and 30 d at
auto resolution, latest values per site, and a one-month HACCP report for a
site of at most --haccp-units units; it reports queries/s and p50/p99 per type.`,
		Args: cobra.NoArgs,
	}
	cfg := dbCommand(e, cmd)
	f := cmd.Flags()
	f.StringVar(&o.OrgID, "org", "", "seeded organisation (default: the newest seed)")
	f.IntVar(&o.Iterations, "iterations", 200, "queries per type")
	f.IntVar(&o.HACCPIterations, "haccp-iterations", 10, "HACCP reports")
	f.DurationVar(&o.Duration, "duration", 0, "end each query type after this long")
	f.IntVar(&o.Concurrency, "concurrency", 4, "queries in flight")
	f.IntVar(&o.HACCPUnits, "haccp-units", 50, "units per HACCP report")
	f.IntVar(&o.HACCPDays, "haccp-days", 30, "days per HACCP report")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		b, err := loadBench(cmd, e, cfg)
		if err != nil {
			return err
		}
		o.DatabaseURL, o.Logger = b.DatabaseURL, b.Logger
		res, err := bench.RunQuery(cmd.Context(), o)
		if err != nil {
			return err
		}
		return printBench(e, asJSON, res, bench.WriteQuerySummary)
	}
	return cmd
}

func newBenchLiveCmd(e env) *cobra.Command {
	var o bench.LiveOptions
	var kept benchOutput
	cmd := &cobra.Command{
		Use:   "live",
		Short: "Measure live event streams while the fleet ingests: fan-out latency, server cost per stream, ingest kept",
		Long: `Live measures the live event streams (GET /v1/orgs/{org}/events) under ingest.
It makes a live fleet of --sensors fridge units in sites of --units-per-site
once. For each of --streams it starts a fresh 'freshtrack serve' child (with
the development issuer, so viewers sign in with minted tokens), posts a warm-up
round, opens that many streams, each watching one site (?site=, round-robin),
waits until the server counts them all, then posts --rate readings/s for
--duration.

Reported per stream count: readings/s stored and their ratio to the run without
streams (0, the baseline), the server's commit → event written latency (p50,
p99 from its freshtrack_live_fanout_seconds histogram), the same seen from one
client (event received minus the answer to the POST that stored the reading),
the server's CPU and RSS and their cost per 1,000 streams above the baseline,
events the clients received, and streams the server dropped.`,
		Args: cobra.NoArgs,
	}
	cfg := dbCommand(e, cmd)
	f := cmd.Flags()
	f.IntSliceVar(&o.Streams, "streams", []int{0, 1000, 10000}, "stream counts, one fresh server each (0: the baseline without streams)")
	f.Float64Var(&o.Rate, "rate", 50000, "the fleet's readings per second")
	f.IntVar(&o.Sensors, "sensors", 100000, "fleet size, one fridge unit each (100000 at 50000/s: a reading per sensor every 2 s)")
	f.IntVar(&o.UnitsPerSite, "units-per-site", 150, "units per site; a stream watches one site")
	f.DurationVar(&o.Duration, "duration", 30*time.Second, "measured ingest per stream count")
	f.DurationVar(&o.Window, "window", 20*time.Minute, "the recent past a run's readings span (under 30m, or units look offline)")
	f.IntVar(&o.Batch, "batch", 500, "readings per request")
	f.IntVar(&o.Concurrency, "concurrency", 16, "requests in flight, one connection each")
	f.IntVar(&o.Writers, "writers", 2, "the server's ingest writers")
	f.IntVar(&o.FlushRows, "flush-rows", 5000, "the server's rows per flush")
	f.IntVar(&o.HTTPMaxConns, "http-max-conns", 0, "the server's --http-max-conns (0: the most streams plus room for the fleet, at least 8192)")
	f.IntVar(&o.Viewers, "viewers", 8, "viewer accounts the streams share")
	f.StringArrayVar(&o.ServerArgs, "server-arg", nil, "extra flag for serve (repeatable), e.g. --server-arg=--pprof-addr=127.0.0.1:6060")
	kept.bind(f)
	cmd.RunE = runKept(&kept, e, cfg, func(ctx context.Context, b benchSetup) (*bench.LiveResult, error) {
		o.DatabaseURL, o.Logger, o.Progress = b.DatabaseURL, b.Logger, b.Progress
		return bench.RunLive(ctx, o)
	}, bench.WriteLiveSummary)
	return cmd
}
