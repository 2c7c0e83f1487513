package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/schema"
)

// Workloads of the ingest benchmark.
const (
	// WorkloadLive is a live fleet: fridge units whose rules apply, recent
	// in-range readings, every committed batch evaluated by alerting.
	WorkloadLive = "live"
	// WorkloadOld posts readings days in the past from sensors on no unit,
	// which alerting never evaluates: the bench's first workload, kept as
	// a second line.
	WorkloadOld = "old"
	// WorkloadSingle is a live fleet posting one reading per request, as a
	// TTN webhook delivers each uplink.
	WorkloadSingle = "single"
	// WorkloadLiveBare is the live workload's load exactly (recent
	// readings, the same plan, rollups and evaluation backlog) from sensors
	// on no unit, which alerting looks up and skips: the live workload
	// without evaluation, to measure what evaluation costs.
	WorkloadLiveBare = "live-bare"
)

// Run kinds.
const (
	KindIngest   = "ingest"
	KindRawLimit = "raw_limit"
)

// IngestOptions configure an ingest benchmark.
type IngestOptions struct {
	// DatabaseURL is the migrated database the server writes to; the
	// harness makes a scratch organisation in it.
	DatabaseURL string
	// Target is the base URL of a running server. Empty starts ServerBinary
	// serve as a child process on loopback, so the server's CPU and memory
	// are measured apart from the generator's.
	Target string
	// TargetCA is a PEM file of the certificate authorities an https
	// Target is verified with instead of the system's (a proxy's private
	// CA, such as Caddy's internal one). Empty: the system's roots.
	TargetCA string
	// ServerBinary is the freshtrack binary to start. Defaults to this one.
	ServerBinary string
	// ServerArgs are extra serve flags.
	ServerArgs []string
	// Workload is live, old or single (see the Workload constants).
	// Defaults to live.
	Workload string
	// Sensors is the fleet size. Defaults to 1000.
	Sensors int
	// Interval is each sensor's reporting period in the old workload.
	// Defaults to 1m.
	Interval time.Duration
	// Window is the recent past over which a live (or single) run spreads
	// each sensor's readings, ending when the run is planned; at most 23h,
	// so alerting's 24-hour MaxLateness never excludes a reading. Keep it
	// well under 30 minutes: the default sensor_offline rule fires after 30
	// minutes of silence, and a unit whose newest reading is older than that
	// when the sweep looks opens (and then resolves) an offline alert, which
	// the run would measure too. Defaults to 20m.
	Window time.Duration
	// Batch is the readings per request; the single workload sends 1.
	// Defaults to 500.
	Batch int
	// Concurrency is the number of requests in flight, each on its own
	// connection. Defaults to 32.
	Concurrency int
	// Rows is the readings per ingest run. Defaults to 500000.
	Rows int
	// Duration stops a run early. Zero means no limit.
	Duration time.Duration
	// Rate paces the requests to about this many readings per second (to
	// measure latency below saturation). Zero sends as fast as the server
	// answers.
	Rate float64
	// Runs is the number of ingest runs (each preceded by a raw-limit run
	// when RawLimit is set). Defaults to 1.
	Runs int
	// RawLimit measures the database's own limit before each ingest run:
	// the same rows, pre-encoded in binary COPY format, streamed into a
	// scratch table shaped like readings at every configuration of
	// RawConnections × RawRowsPerCopy; the best is the pair's raw limit.
	// Not for the single workload.
	RawLimit bool
	// Writers and FlushRows are the server's ingest writers and rows per
	// flush. Default to 2 and 5000.
	Writers   int
	FlushRows int
	// Progress receives a status line a second; nil for none.
	Progress io.Writer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (o *IngestOptions) withDefaults() {
	if o.Workload == "" {
		o.Workload = WorkloadLive
	}
	if o.Sensors <= 0 {
		o.Sensors = 1000
	}
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.Window <= 0 {
		o.Window = 20 * time.Minute
	}
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.Workload == WorkloadSingle {
		o.Batch = 1
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 32
	}
	if o.Rows <= 0 {
		o.Rows = 500_000
	}
	if o.Runs <= 0 {
		o.Runs = 1
	}
	if o.Writers <= 0 {
		o.Writers = 2
	}
	if o.FlushRows <= 0 {
		o.FlushRows = 5000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

func (o *IngestOptions) validate() error {
	switch o.Workload {
	case WorkloadLive, WorkloadLiveBare, WorkloadOld, WorkloadSingle:
	default:
		return fmt.Errorf("workload %q: must be live, live-bare, old or single", o.Workload)
	}
	if o.Window > 23*time.Hour {
		return fmt.Errorf("window %s: must be at most 23h, so alerting (24h MaxLateness) evaluates every reading", o.Window)
	}
	if o.RawLimit && o.Workload == WorkloadSingle {
		return errors.New("the raw limit is for batched workloads (live, old), not single: drop --raw-limit")
	}
	return nil
}

// Run is one measured run.
type Run struct {
	// Kind is ingest or raw_limit.
	Kind string `json:"kind"`
	// Pair numbers the raw-limit and ingest runs measured together, from 1.
	Pair           int            `json:"pair"`
	TargetRate     float64        `json:"target_rows_per_sec,omitempty"`
	Rows           int            `json:"rows"`
	Seconds        float64        `json:"seconds"`
	RowsPerSec     float64        `json:"rows_per_sec"`
	Requests       int            `json:"requests,omitempty"`
	RequestsPerSec float64        `json:"requests_per_sec,omitempty"`
	Latency        *Latency       `json:"latency,omitempty"`
	Errors         map[string]int `json:"errors,omitempty"`
	Duplicates     int            `json:"duplicates,omitempty"`
	// Connections is the most client connections open at once.
	Connections   int     `json:"connections,omitempty"`
	ServerCPU     float64 `json:"server_cpu_seconds,omitempty"`
	PostgresCPU   float64 `json:"postgres_cpu_seconds,omitempty"`
	GeneratorCPU  float64 `json:"generator_cpu_seconds,omitempty"`
	ServerPeakRSS float64 `json:"server_peak_rss_mib,omitempty"`
	// Alerting is what the evaluator did with the run's readings.
	Alerting *Alerting `json:"alerting,omitempty"`
	// Best is the winning raw-limit configuration, connections×rows per
	// COPY; Configurations are all of them, in the order measured.
	Best           string      `json:"best,omitempty"`
	Configurations []RawConfig `json:"configurations,omitempty"`
}

// Spread is a median with its range across runs.
type Spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

func spread(xs []float64) *Spread {
	if len(xs) == 0 {
		return nil
	}
	lo, hi := MinMax(xs)
	return &Spread{Median: Median(xs), Min: lo, Max: hi}
}

// IngestResult is the outcome of an ingest benchmark.
type IngestResult struct {
	Storage     string `json:"storage"`
	Workload    string `json:"workload"`
	Sensors     int    `json:"sensors"`
	Batch       int    `json:"batch"`
	Concurrency int    `json:"concurrency"`
	Writers     int    `json:"writers"`
	FlushRows   int    `json:"flush_rows"`
	// Interval is each sensor's reporting period in the runs' plans.
	Interval string `json:"interval"`
	// Window is the live workloads' recent past the readings span.
	Window   string  `json:"window,omitempty"`
	Runs     []Run   `json:"runs"`
	Ingest   *Spread `json:"ingest_rows_per_sec"`
	Requests *Spread `json:"ingest_requests_per_sec"`
	P99      *Spread `json:"ingest_p99_ms"`
	RawLimit *Spread `json:"raw_limit_rows_per_sec,omitempty"`
	// Ratio is ingest rows/s over the raw limit of its pair; its median is
	// the headline.
	Ratio *Spread `json:"ratio,omitempty"`
	// OrgID is the scratch organisation the rows went to.
	OrgID string `json:"org_id"`
	// Accepted is the total the server acknowledged as newly stored.
	Accepted int `json:"accepted"`
	// Machine describes where the numbers came from.
	Machine Machine `json:"machine"`
}

// Machine describes the machine and database of a run.
type Machine struct {
	CPUs     int    `json:"cpus"`
	Go       string `json:"go"`
	Postgres string `json:"postgres"`
	Host     string `json:"host"`
	Date     string `json:"date"`
	// Autovacuum is the server's autovacuum setting. When it is off, every
	// run starts with a VACUUM of the tables FreshTrack updates in place.
	Autovacuum string `json:"autovacuum"`
}

func describeMachine(ctx context.Context, pool *pgxpool.Pool) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Date: time.Now().UTC().Format(time.RFC3339)}
	m.Host, _ = os.Hostname()
	_ = pool.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('autovacuum')`).Scan(&m.Postgres, &m.Autovacuum)
	return m
}

// updatedInPlace are the tables ingest and alerting update row by row (not
// append only): without autovacuum their dead rows pile up run after run
// (1.2M dead rows behind 36k live ones in alert_state after a few runs
// here), and each run would measure the bloat the previous ones left.
var updatedInPlace = []string{"alert_state", "sensor_latest", "sensors", "rollup_invalidations"}

// vacuumWithoutAutovacuum does what autovacuum would have done between runs
// on a server that has it off.
func vacuumWithoutAutovacuum(ctx context.Context, pool *pgxpool.Pool, m Machine) error {
	if m.Autovacuum != "off" {
		return nil
	}
	for _, t := range updatedInPlace {
		if _, err := pool.Exec(ctx, `VACUUM `+pgx.Identifier{t}.Sanitize()); err != nil {
			return fmt.Errorf("vacuum %s (autovacuum is off on this server): %w", t, err)
		}
	}
	return nil
}

// openDatabase connects to a migrated database with at most maxConns
// connections (0: pgx's default) and opens its store.
func openDatabase(ctx context.Context, databaseURL string, maxConns int32, log *slog.Logger) (*pgxpool.Pool, *schema.Store, error) {
	pcfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("database URL: %w", err)
	}
	if maxConns > 0 {
		pcfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, nil, fmt.Errorf("connect: %w", err)
	}
	if _, err := schema.CheckCurrent(ctx, pool); err != nil {
		pool.Close()
		return nil, nil, err
	}
	store, err := schema.OpenStore(ctx, pool, log)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return pool, store, nil
}

// disableRules switches a bench organisation's alert rules off: its fleets
// go silent after their runs, and must never alert offline later.
func disableRules(ctx context.Context, pool *pgxpool.Pool, orgID string, log *slog.Logger) {
	if _, err := pool.Exec(context.WithoutCancel(ctx), `UPDATE alert_rules SET enabled = false WHERE org_id = $1`, orgID); err != nil {
		log.Warn("could not disable the bench organisation's alert rules", "org", orgID, "err", err)
	}
}

// RunIngest runs the ingest benchmark.
//
// Live and single runs each get a fleet of their own (Sensors fridge units,
// one sensor each, named LiveSensorName(run, i)) whose readings span the
// Window ending when the run is planned. A fresh fleet, rather than one
// fleet in disjoint windows, keeps every run alike however many there are
// (same window, same reporting period, same state) and never makes a run's
// readings older than the previous run's, which alerting would replay as
// late readings. Before the clock, a warm-up round (one reading per sensor,
// older than the run's) goes through the server and the evaluator, so the
// run measures a fleet in its steady state: sensors resolved and cached,
// alert states created.
func RunIngest(ctx context.Context, o IngestOptions) (*IngestResult, error) {
	o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	log := o.Logger
	// The raw limit holds up to 4 connections while the CPU sampler queries.
	pool, store, err := openDatabase(ctx, o.DatabaseURL, 8, log)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	res := &IngestResult{Storage: string(store.Mode()), Workload: o.Workload, Sensors: o.Sensors, Batch: o.Batch, Concurrency: o.Concurrency,
		Writers: o.Writers, FlushRows: o.FlushRows, Machine: describeMachine(ctx, pool)}

	org, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: "bench " + o.Workload + " " + time.Now().UTC().Format(time.RFC3339), Actor: "bench"})
	if err != nil {
		return nil, err
	}
	res.OrgID = org.ID
	var (
		old  fleet
		site []string
	)
	if o.Workload == WorkloadOld {
		names := make([]string, o.Sensors)
		for i := range names {
			names[i] = SensorName(i)
		}
		if old, err = createBareFleet(ctx, pool, org.ID, names); err != nil {
			return nil, err
		}
	} else {
		if site, err = createSites(ctx, pool, org.ID, 1); err != nil {
			return nil, err
		}
		defer disableRules(ctx, pool, org.ID, log)
	}
	key, err := auth.CreateAPIKey(ctx, pool, auth.CreateAPIKeyParams{OrgID: org.ID, Name: "bench", Actor: "bench"})
	if err != nil {
		return nil, err
	}

	target, serverPID := o.Target, 0
	if target == "" {
		srv, err := startServer(ctx, o)
		if err != nil {
			return nil, err
		}
		defer srv.stopLogging(log)
		target, serverPID = srv.url, srv.cmd.Process.Pid
	}
	// One connection per request in flight: MaxConns is the concurrency and
	// connections stay open between runs.
	client, err := targetClient(target, o.TargetCA, o.Concurrency)
	if err != nil {
		return nil, err
	}
	poster := &poster{client: client, auth: "Bearer " + key.Key, concurrency: o.Concurrency}

	// Old runs each write a day of their own, days in the past, so ingest
	// runs start on empty partitions.
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)
	var ingestRates, reqRates, p99s, rawRates, ratios []float64
	for r := range o.Runs {
		pair := r + 1
		t0 := time.Now()
		var (
			f          fleet
			warm, plan Plan
		)
		if o.Workload == WorkloadOld {
			f = old
			plan = Plan{Sensors: o.Sensors, Interval: o.Interval, Batch: o.Batch, Rows: o.Rows, Start: day.AddDate(0, 0, -r)}
		} else {
			names := make([]string, o.Sensors)
			for i := range names {
				names[i] = LiveSensorName(r, i)
			}
			if o.Workload == WorkloadLiveBare {
				f, err = createBareFleet(ctx, pool, org.ID, names)
			} else {
				f, err = createLiveFleet(ctx, pool, org.ID, slices.Repeat(site, len(names)), names)
			}
			if err != nil {
				return nil, err
			}
			if warm, plan, err = LivePlans(names, o.Rows, o.Batch, o.Window, time.Now()); err != nil {
				return nil, err
			}
			res.Window = o.Window.String()
			if err := warmUp(ctx, pool, poster, f, warm, o.Workload != WorkloadLiveBare, time.Minute); err != nil {
				return nil, err
			}
			log.Debug("live fleet warmed up", "pair", pair, "units", len(f.units), "seconds", round2(time.Since(t0).Seconds()))
		}
		res.Interval = plan.Interval.String()
		if err := vacuumWithoutAutovacuum(ctx, pool, res.Machine); err != nil {
			return nil, err
		}
		bodies := plan.Bodies() // before the clock starts
		if o.RawLimit {
			t1 := time.Now()
			raw := encodeRaw(plan.CopyRows(f.keys), RawRowsPerCopy)
			log.Debug("raw limit payloads encoded", "pair", pair, "seconds", round2(time.Since(t1).Seconds()))
			run, err := runRawLimit(ctx, pool, store, raw, pair, o)
			if err != nil {
				return nil, err
			}
			run.Pair = pair
			res.Runs = append(res.Runs, run)
			rawRates = append(rawRates, run.RowsPerSec)
			log.Info("raw limit", "pair", pair, "rows_per_sec", int(run.RowsPerSec), "best", run.Best)
		}
		run, err := measureIngest(ctx, pool, poster, bodies, plan, serverPID, o)
		if err != nil {
			return nil, err
		}
		run.Pair = pair
		res.Accepted += run.Rows
		res.Runs = append(res.Runs, run)
		ingestRates = append(ingestRates, run.RowsPerSec)
		reqRates = append(reqRates, run.RequestsPerSec)
		p99s = append(p99s, float64(run.Latency.P99))
		log.Info("ingest run", "pair", pair, "rows_per_sec", int(run.RowsPerSec), "requests_per_sec", int(run.RequestsPerSec), "p99_ms", run.Latency.P99)
		if o.RawLimit {
			ratios = append(ratios, Ratio(run.RowsPerSec, rawRates[len(rawRates)-1]))
		}
	}
	res.Ingest, res.Requests, res.P99 = spread(ingestRates), spread(reqRates), spread(p99s)
	res.RawLimit, res.Ratio = spread(rawRates), spread(ratios)
	return res, nil
}

// warmUp posts a live run's warm-up round at the run's batch and
// concurrency, so it also opens the run's connections, and when evaluated
// waits (up to timeout) until the evaluator has evaluated every unit of the
// fleet up to it.
func warmUp(ctx context.Context, pool *pgxpool.Pool, p *poster, f fleet, warm Plan, evaluated bool, timeout time.Duration) error {
	w := p.post(ctx, warm.Bodies(), 0, 0, nil, "")
	if w.err != nil || w.accepted != warm.Rows {
		return fmt.Errorf("warm-up round: %d of %d readings stored (errors %v): %v", w.accepted, warm.Rows, w.errors, w.err)
	}
	if !evaluated {
		return nil
	}
	return waitEvaluated(ctx, pool, f.units, warm.Last(), timeout)
}

type server struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
}

func startServer(ctx context.Context, o IngestOptions) (*server, error) {
	bin := o.ServerBinary
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	args := append([]string{"serve", "--addr", addr,
		"--ingest-writers", strconv.Itoa(o.Writers), "--ingest-batch-rows", strconv.Itoa(o.FlushRows)}, o.ServerArgs...)
	s := &server{cmd: exec.Command(bin, args...), url: "http://" + addr, logs: &bytes.Buffer{}}
	s.cmd.Env = append(os.Environ(), "DATABASE_URL="+o.DatabaseURL, "FRESHTRACK_LOG_LEVEL=warn")
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start server: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, err := fasthttp.GetTimeout(nil, s.url+"/readyz", time.Second)
		if err == nil && code == 200 {
			return s, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.stop()
			return nil, fmt.Errorf("server did not become ready: %v\n%s", err, s.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// errors returns the server's error-level log lines.
func (s *server) errors() string {
	var out []string
	for _, line := range strings.Split(s.logs.String(), "\n") {
		if strings.Contains(line, "level=ERROR") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// stopLogging stops the server and warns of the error lines it logged.
func (s *server) stopLogging(log *slog.Logger) {
	s.stop()
	if errs := s.errors(); errs != "" {
		log.Warn("the server logged errors", "log", errs)
	}
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// poster sends request bodies to POST /v1/readings, concurrency at a time,
// each sender on its own connection with its request prepared once.
type poster struct {
	client      *fasthttp.HostClient
	auth        string
	concurrency int
	// answered, when set, is told of every body the server stored (a 200
	// answer) and when its answer came.
	answered func(body int, at time.Time)
}

// posted is what a post achieved.
type posted struct {
	accepted, duplicates int
	latencies            []time.Duration
	errors               map[string]int
	elapsed              time.Duration
	peakConns            int
	err                  error
}

// post sends bodies, as fast as answered or paced to rate readings/s (batch
// readings per body), until all are sent or the deadline passes (zero: none).
// Progress, when not nil, gets a status line a second labelled what.
func (p *poster) post(ctx context.Context, bodies [][]byte, rate float64, batch int, progressTo io.Writer, what string) posted {
	out := posted{errors: map[string]int{}, latencies: make([]time.Duration, 0, len(bodies))}
	var (
		next                 atomic.Int64
		accepted, duplicates atomic.Int64
		mu                   sync.Mutex
	)
	next.Store(-1)
	stopProgress := progress(progressTo, what, func() int64 { return accepted.Load() + duplicates.Load() }, int64(len(bodies)*max(batch, 1)))
	stopConns := make(chan struct{})
	connsDone := make(chan int)
	go func() {
		peak := 0
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, p.client.ConnsCount())
			select {
			case <-stopConns:
				connsDone <- max(peak, p.client.ConnsCount())
				return
			case <-t.C:
			}
		}
	}()
	start := time.Now()
	deadline, _ := ctx.Deadline()
	var wg sync.WaitGroup
	for range p.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI(baseURL(p.client) + "/v1/readings")
			req.Header.SetMethod("POST")
			req.Header.SetContentType("application/json")
			req.Header.Set("Authorization", p.auth)
			var jp fastjson.Parser
			local := make([]time.Duration, 0, len(bodies)/p.concurrency+1)
			errs := map[string]int{}
			for ctx.Err() == nil {
				i := next.Add(1)
				if int(i) >= len(bodies) || (!deadline.IsZero() && time.Now().After(deadline)) {
					break
				}
				if rate > 0 {
					// Request i is due when the readings before it are.
					due := start.Add(time.Duration(float64(i) * float64(batch) / rate * float64(time.Second)))
					if wait := time.Until(due); wait > 0 {
						time.Sleep(wait)
					}
				}
				req.SetBodyRaw(bodies[i])
				t0 := time.Now()
				err := p.client.Do(req, resp)
				d := time.Since(t0)
				switch {
				case err != nil:
					errs["transport: "+errorClass(err)]++
					continue
				case resp.StatusCode() != 200:
					errs[strconv.Itoa(resp.StatusCode())]++
					continue
				}
				v, err := jp.ParseBytes(resp.Body())
				if err != nil {
					errs["unreadable answer"]++
					continue
				}
				accepted.Add(int64(v.GetInt("accepted")))
				duplicates.Add(int64(v.GetInt("duplicates")))
				local = append(local, d)
				if p.answered != nil {
					p.answered(int(i), t0.Add(d))
				}
			}
			mu.Lock()
			out.latencies = append(out.latencies, local...)
			for k, n := range errs {
				out.errors[k] += n
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	out.elapsed = time.Since(start)
	close(stopConns)
	out.peakConns = <-connsDone
	stopProgress()
	out.accepted, out.duplicates = int(accepted.Load()), int(duplicates.Load())
	if len(out.errors) == 0 {
		out.errors = nil
	}
	if err := ctx.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		out.err = err
	}
	return out
}

// measureIngest posts a plan's bodies and measures the run: rates and
// latencies from the answers, CPU seconds of the server, of PostgreSQL's
// backends and of this generator, and (from the server's metrics) what
// alerting did with the readings, waiting for it to catch up so its work
// does not spill into the next run.
func measureIngest(ctx context.Context, pool *pgxpool.Pool, p *poster, bodies [][]byte, plan Plan, serverPID int, o IngestOptions) (Run, error) {
	run := Run{Kind: KindIngest, TargetRate: o.Rate}
	before, _ := scrapeMetrics(p.client, alertingMetrics)
	cpu0, _ := ProcCPU(serverPID)
	gen0, _ := ProcCPU(os.Getpid())
	pg := NewBackendCPU(ctx, pool)
	postCtx := ctx
	if o.Duration > 0 {
		var cancel context.CancelFunc
		postCtx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	res := p.post(postCtx, bodies, o.Rate, plan.Batch, o.Progress, "ingest")
	end := time.Now()
	if serverPID > 0 {
		if cpu1, err := ProcCPU(serverPID); err == nil {
			run.ServerCPU = round2(cpu1 - cpu0)
		}
		if rss, err := PeakRSS(serverPID); err == nil {
			run.ServerPeakRSS = round2(float64(rss) / (1 << 20))
		}
	}
	if gen1, err := ProcCPU(os.Getpid()); err == nil {
		run.GeneratorCPU = round2(gen1 - gen0)
	}
	if s, ok := pg.Seconds(ctx); ok {
		run.PostgresCPU = round2(s)
	}
	if res.err != nil {
		return run, res.err
	}
	run.Rows, run.Duplicates, run.Errors = res.accepted, res.duplicates, res.errors
	run.Requests = len(res.latencies)
	run.Connections = res.peakConns
	run.Seconds = round2(res.elapsed.Seconds())
	run.RowsPerSec = float64(run.Rows) / res.elapsed.Seconds()
	run.RequestsPerSec = float64(run.Requests) / res.elapsed.Seconds()
	l := Summarize(res.latencies)
	run.Latency = &l
	run.Alerting = alertingSince(p.client, before, run.Rows, end, time.Minute)
	return run, nil
}

func errorClass(err error) string {
	switch {
	case errors.Is(err, fasthttp.ErrTimeout):
		return "timeout"
	case errors.Is(err, fasthttp.ErrConnectionClosed):
		return "connection closed"
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Op
	}
	return "other"
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// progress prints one status line a second to w until the returned function
// is called; it does nothing when w is nil.
func progress(w io.Writer, what string, done func() int64, total int64) func() {
	if w == nil {
		return func() {}
	}
	stop := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				n := done()
				fmt.Fprintf(w, "\r\033[K%-8s %3.0f%%  %d/%d rows  %.0f rows/s", what, 100*float64(n)/float64(total), n, total, float64(n)/time.Since(start).Seconds())
			}
		}
	}()
	return func() { close(stop); <-finished }
}
