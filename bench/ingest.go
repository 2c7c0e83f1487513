package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"runtime"
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

// IngestOptions configure an ingest benchmark.
type IngestOptions struct {
	// DatabaseURL is the migrated database the server writes to; the
	// harness makes a scratch organisation in it.
	DatabaseURL string
	// Target is the base URL of a running server. Empty starts ServerBinary
	// serve as a child process on loopback, so the server's CPU and memory
	// are measured apart from the generator's.
	Target string
	// ServerBinary is the freshtrack binary to start. Defaults to this one.
	ServerBinary string
	// ServerArgs are extra serve flags.
	ServerArgs []string
	// Sensors is the fleet size. Defaults to 1000.
	Sensors int
	// Interval is each sensor's reporting period. Defaults to 1m.
	Interval time.Duration
	// Batch is the readings per request. Defaults to 500.
	Batch int
	// Concurrency is the number of requests in flight. Defaults to 32.
	Concurrency int
	// Rows is the readings per ingest run. Defaults to 500000.
	Rows int
	// Duration stops a run early. Zero means no limit.
	Duration time.Duration
	// Rate paces the requests to about this many readings per second (to
	// measure latency below saturation). Zero sends as fast as the server
	// answers.
	Rate float64
	// Runs is the number of ingest runs (each preceded by a ceiling run
	// when Ceiling is set). Defaults to 1.
	Runs int
	// Ceiling measures plain pgx CopyFrom of the same rows into a scratch
	// table shaped like readings, alternating with the ingest runs.
	Ceiling bool
	// Writers and FlushRows are the server's ingest writers and rows per
	// flush; the ceiling uses as many connections and the same batch size.
	// Default to 2 and 5000.
	Writers   int
	FlushRows int
	// Progress receives a status line a second; nil for none.
	Progress io.Writer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (o *IngestOptions) withDefaults() {
	if o.Sensors <= 0 {
		o.Sensors = 1000
	}
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.Batch <= 0 {
		o.Batch = 500
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

// Run is one measured run.
type Run struct {
	Kind           string         `json:"kind"` // ingest or ceiling
	TargetRate     float64        `json:"target_rows_per_sec,omitempty"`
	Rows           int            `json:"rows"`
	Seconds        float64        `json:"seconds"`
	RowsPerSec     float64        `json:"rows_per_sec"`
	Requests       int            `json:"requests,omitempty"`
	RequestsPerSec float64        `json:"requests_per_sec,omitempty"`
	Latency        *Latency       `json:"latency,omitempty"`
	Errors         map[string]int `json:"errors,omitempty"`
	Duplicates     int            `json:"duplicates,omitempty"`
	ServerCPU      float64        `json:"server_cpu_seconds,omitempty"`
	PostgresCPU    float64        `json:"postgres_cpu_seconds,omitempty"`
	ServerPeakRSS  float64        `json:"server_peak_rss_mib,omitempty"`
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
	Storage     string  `json:"storage"`
	Sensors     int     `json:"sensors"`
	Batch       int     `json:"batch"`
	Concurrency int     `json:"concurrency"`
	Writers     int     `json:"writers"`
	FlushRows   int     `json:"flush_rows"`
	Runs        []Run   `json:"runs"`
	Ingest      *Spread `json:"ingest_rows_per_sec"`
	Ceiling     *Spread `json:"ceiling_rows_per_sec,omitempty"`
	// Ratio is ingest rows/s over the ceiling run just before it, per pair;
	// its median is the headline.
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
}

func describeMachine(ctx context.Context, pool *pgxpool.Pool) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Date: time.Now().UTC().Format(time.RFC3339)}
	m.Host, _ = os.Hostname()
	_ = pool.QueryRow(ctx, `SELECT current_setting('server_version')`).Scan(&m.Postgres)
	return m
}

// RunIngest runs the ingest benchmark.
func RunIngest(ctx context.Context, o IngestOptions) (*IngestResult, error) {
	o.withDefaults()
	log := o.Logger
	pool, err := pgxpool.New(ctx, o.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	if _, err := schema.CheckCurrent(ctx, pool); err != nil {
		return nil, err
	}
	store, err := schema.OpenStore(ctx, pool, log)
	if err != nil {
		return nil, err
	}
	res := &IngestResult{Storage: string(store.Mode()), Sensors: o.Sensors, Batch: o.Batch, Concurrency: o.Concurrency,
		Writers: o.Writers, FlushRows: o.FlushRows, Machine: describeMachine(ctx, pool)}

	org, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: "bench " + time.Now().UTC().Format(time.RFC3339), Actor: "bench"})
	if err != nil {
		return nil, err
	}
	res.OrgID = org.ID
	names := make([]string, o.Sensors)
	for i := range names {
		names[i] = SensorName(i)
	}
	rows, err := pool.Query(ctx, `INSERT INTO sensors (org_id, external_id) SELECT $1, unnest($2::text[]) RETURNING id`, org.ID, names)
	if err != nil {
		return nil, fmt.Errorf("register bench sensors: %w", err)
	}
	// RETURNING follows the input order for a plain INSERT ... SELECT unnest.
	keys, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("register bench sensors: %w", err)
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
		defer func() {
			srv.stop()
			if errs := srv.errors(); errs != "" {
				log.Warn("the server logged errors", "log", errs)
			}
		}()
		target, serverPID = srv.url, srv.cmd.Process.Pid
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	client := &fasthttp.HostClient{Addr: u.Host, MaxConns: o.Concurrency, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second}

	// Each run writes its own day, in the recent past, so ingest runs and
	// ceiling runs all start on empty partitions.
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)
	var ingestRates, ceilingRates, ratios []float64
	for r := range o.Runs {
		plan := Plan{Sensors: o.Sensors, Interval: o.Interval, Batch: o.Batch, Rows: o.Rows, Start: day.AddDate(0, 0, -r)}
		if o.Ceiling {
			run, err := runCeiling(ctx, pool, store, plan, keys, o, r)
			if err != nil {
				return nil, err
			}
			res.Runs = append(res.Runs, run)
			ceilingRates = append(ceilingRates, run.RowsPerSec)
			log.Info("ceiling run", "run", r+1, "rows_per_sec", int(run.RowsPerSec))
		}
		run, accepted, err := runIngest(ctx, pool, client, key.Key, plan, serverPID, o)
		if err != nil {
			return nil, err
		}
		res.Accepted += accepted
		res.Runs = append(res.Runs, run)
		ingestRates = append(ingestRates, run.RowsPerSec)
		log.Info("ingest run", "run", r+1, "rows_per_sec", int(run.RowsPerSec), "p99_ms", run.Latency.P99)
		if o.Ceiling {
			ratios = append(ratios, Ratio(run.RowsPerSec, ceilingRates[len(ceilingRates)-1]))
		}
	}
	res.Ingest, res.Ceiling, res.Ratio = spread(ingestRates), spread(ceilingRates), spread(ratios)
	return res, nil
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

func runIngest(ctx context.Context, pool *pgxpool.Pool, client *fasthttp.HostClient, key string, plan Plan, serverPID int, o IngestOptions) (Run, int, error) {
	bodies := plan.Bodies() // before the clock starts
	run := Run{Kind: "ingest", Errors: map[string]int{}, TargetRate: o.Rate}
	var (
		next                 atomic.Int64
		accepted, duplicates atomic.Int64
		mu                   sync.Mutex
		lat                  = make([]time.Duration, 0, len(bodies))
	)
	next.Store(-1)
	cpu0, _ := ProcCPU(serverPID)
	pg := NewBackendCPU(ctx, pool)
	stopProgress := progress(o.Progress, "ingest", func() int64 { return accepted.Load() + duplicates.Load() }, int64(plan.Rows))
	start := time.Now()
	var deadline time.Time
	if o.Duration > 0 {
		deadline = start.Add(o.Duration)
	}
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			var p fastjson.Parser
			local := make([]time.Duration, 0, len(bodies)/o.Concurrency+1)
			errs := map[string]int{}
			for ctx.Err() == nil {
				i := next.Add(1)
				if int(i) >= len(bodies) || (!deadline.IsZero() && time.Now().After(deadline)) {
					break
				}
				if o.Rate > 0 {
					// Request i is due when the readings before it are.
					due := start.Add(time.Duration(float64(i) * float64(plan.Batch) / o.Rate * float64(time.Second)))
					if wait := time.Until(due); wait > 0 {
						time.Sleep(wait)
					}
				}
				req.Reset()
				req.SetRequestURI("http://" + client.Addr + "/v1/readings")
				req.Header.SetMethod("POST")
				req.Header.SetContentType("application/json")
				req.Header.Set("Authorization", "Bearer "+key)
				req.SetBodyRaw(bodies[i])
				t0 := time.Now()
				err := client.Do(req, resp)
				d := time.Since(t0)
				switch {
				case err != nil:
					errs["transport: "+errorClass(err)]++
					continue
				case resp.StatusCode() != 200:
					errs[strconv.Itoa(resp.StatusCode())]++
					continue
				}
				v, err := p.ParseBytes(resp.Body())
				if err != nil {
					errs["unreadable answer"]++
					continue
				}
				accepted.Add(int64(v.GetInt("accepted")))
				duplicates.Add(int64(v.GetInt("duplicates")))
				local = append(local, d)
			}
			mu.Lock()
			lat = append(lat, local...)
			for k, n := range errs {
				run.Errors[k] += n
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	if serverPID > 0 {
		if cpu1, err := ProcCPU(serverPID); err == nil {
			run.ServerCPU = round2(cpu1 - cpu0)
		}
		if rss, err := PeakRSS(serverPID); err == nil {
			run.ServerPeakRSS = round2(float64(rss) / (1 << 20))
		}
	}
	if s, ok := pg.Seconds(ctx); ok {
		run.PostgresCPU = round2(s)
	}
	run.Rows = int(accepted.Load())
	run.Duplicates = int(duplicates.Load())
	run.Requests = len(lat)
	run.Seconds = round2(elapsed.Seconds())
	run.RowsPerSec = float64(run.Rows) / elapsed.Seconds()
	run.RequestsPerSec = float64(run.Requests) / elapsed.Seconds()
	l := Summarize(lat)
	run.Latency = &l
	if len(run.Errors) == 0 {
		run.Errors = nil
	}
	return run, run.Rows, ctx.Err()
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

// runCeiling loads the plan's rows with plain pgx CopyFrom into a scratch
// table shaped like readings, with o.Writers connections and o.FlushRows per
// COPY, the way the server's writers batch them.
func runCeiling(ctx context.Context, pool *pgxpool.Pool, store *schema.Store, plan Plan, keys []int64, o IngestOptions, r int) (Run, error) {
	name := fmt.Sprintf("bench_ceiling_%d_%d", os.Getpid(), r)
	end := plan.Start.Add(time.Duration(plan.Rows/plan.Sensors+1) * plan.Interval)
	if err := store.CreateScratchReadings(ctx, name, plan.Start, end); err != nil {
		return Run{}, err
	}
	defer func() { _ = store.DropScratchReadings(context.WithoutCancel(ctx), name) }()

	conns := make([]*pgxpool.Conn, o.Writers)
	for i := range conns {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return Run{}, err
		}
		defer c.Release()
		// Warm the connection: a fresh one's first statements are slow here.
		if _, err := c.Exec(ctx, `SELECT count(*) FROM `+pgx.Identifier{name}.Sanitize()); err != nil {
			return Run{}, err
		}
		conns[i] = c
	}
	var next, done atomic.Int64
	batches := (plan.Rows + o.FlushRows - 1) / o.FlushRows
	stopProgress := progress(o.Progress, "ceiling", done.Load, int64(plan.Rows))
	pg := NewBackendCPU(ctx, pool)
	start := time.Now()
	errc := make(chan error, len(conns))
	for _, c := range conns {
		go func() {
			for {
				b := int(next.Add(1)) - 1
				if b >= batches {
					errc <- nil
					return
				}
				lo, hi := b*o.FlushRows, min((b+1)*o.FlushRows, plan.Rows)
				i := lo
				n, err := c.CopyFrom(ctx, pgx.Identifier{name}, []string{"time", "sensor_id", "temp_c", "humidity", "battery"},
					pgx.CopyFromFunc(func() ([]any, error) {
						if i >= hi {
							return nil, nil
						}
						s, at, temp := plan.Reading(i)
						i++
						return []any{at, keys[s], temp, nil, nil}, nil
					}))
				if err != nil {
					errc <- fmt.Errorf("ceiling copy: %w", err)
					return
				}
				done.Add(n)
			}
		}()
	}
	var firstErr error
	for range conns {
		if err := <-errc; err != nil && firstErr == nil {
			firstErr = err
		}
	}
	elapsed := time.Since(start)
	stopProgress()
	if firstErr != nil {
		return Run{}, firstErr
	}
	run := Run{Kind: "ceiling", Rows: int(done.Load()), Seconds: round2(elapsed.Seconds())}
	run.RowsPerSec = float64(run.Rows) / elapsed.Seconds()
	if s, ok := pg.Seconds(ctx); ok {
		run.PostgresCPU = round2(s)
	}
	return run, nil
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
