package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/freshtrack/freshtrack/auth"
)

// LiveOptions configure a live-updates benchmark.
type LiveOptions struct {
	// DatabaseURL is the migrated database the servers write to; the
	// harness makes a scratch organisation in it.
	DatabaseURL string
	// ServerBinary is the freshtrack binary to start. Defaults to this one.
	ServerBinary string
	// ServerArgs are extra serve flags.
	ServerArgs []string
	// Streams are the stream counts to measure, each on a fresh server; 0
	// is the baseline without streams that ingest is compared with.
	// Defaults to 0, 1000, 10000.
	Streams []int
	// Rate is the fleet's readings per second. Defaults to 50000.
	Rate float64
	// Sensors is the fleet size (one fridge unit each). Defaults to
	// 100000: at 50,000 readings/s a sensor reports every 2 s, above the
	// live stream's coalescing of one reading event per unit per second.
	Sensors int
	// UnitsPerSite is how many units a site holds; each stream watches one
	// site (?site=), as a dashboard does. Defaults to 150.
	UnitsPerSite int
	// Duration is the measured ingest of each run. Defaults to 30s.
	Duration time.Duration
	// Window is the recent past a run's readings span (see
	// IngestOptions.Window). Defaults to 20m.
	Window time.Duration
	// Batch and Concurrency are the readings per request and the requests
	// in flight. Default to 500 and 16.
	Batch       int
	Concurrency int
	// Writers and FlushRows are the server's ingest writers and rows per
	// flush. Default to 2 and 5000.
	Writers   int
	FlushRows int
	// HTTPMaxConns is the server's --http-max-conns. Defaults to the most
	// streams plus room for the fleet, and at least the server's 8192.
	HTTPMaxConns int
	// Viewers is how many viewer accounts the streams share (their tokens
	// round-robin). Defaults to 8.
	Viewers int
	// Progress receives a status line a second; nil for none.
	Progress io.Writer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (o *LiveOptions) withDefaults() {
	if o.Streams == nil {
		o.Streams = []int{0, 1000, 10000}
	}
	if o.Rate <= 0 {
		o.Rate = 50_000
	}
	if o.Sensors <= 0 {
		o.Sensors = 100_000
	}
	if o.UnitsPerSite <= 0 {
		o.UnitsPerSite = 150
	}
	if o.Duration <= 0 {
		o.Duration = 30 * time.Second
	}
	if o.Window <= 0 {
		o.Window = 20 * time.Minute
	}
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.Writers <= 0 {
		o.Writers = 2
	}
	if o.FlushRows <= 0 {
		o.FlushRows = 5000
	}
	if o.HTTPMaxConns <= 0 {
		o.HTTPMaxConns = max(8192, slices.Max(o.Streams)+o.Concurrency+1024)
	}
	if o.Viewers <= 0 {
		o.Viewers = 8
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

func (o *LiveOptions) validate() error {
	if len(o.Streams) == 0 {
		return errors.New("no stream counts to measure")
	}
	for _, n := range o.Streams {
		if n < 0 {
			return fmt.Errorf("stream count %d: must be 0 (the baseline) or more", n)
		}
	}
	if o.Window > 23*time.Hour {
		return fmt.Errorf("window %s: must be at most 23h, so alerting (24h MaxLateness) evaluates every reading", o.Window)
	}
	if most := slices.Max(o.Streams); o.HTTPMaxConns < most+o.Concurrency+2 {
		return fmt.Errorf("--http-max-conns %d is below %d streams, the fleet's %d connections and the harness's own", o.HTTPMaxConns, most, o.Concurrency)
	}
	return nil
}

// LiveRun is one stream count's run, on a fresh server.
type LiveRun struct {
	// Streams is the stream count asked for; StreamsOpen is the server's
	// freshtrack_live_streams when the ingest started.
	Streams     int `json:"streams"`
	StreamsOpen int `json:"streams_open"`
	// Sites is how many sites the streams watch (one each, round-robin).
	Sites int `json:"sites_watched,omitempty"`
	// OpenSeconds is how long opening the streams took.
	OpenSeconds float64 `json:"open_seconds,omitempty"`
	// Ingest is the fleet's run, measured as bench ingest measures one.
	Ingest Run `json:"ingest"`
	// IngestRatio is readings/s stored over the baseline run's (0 when the
	// run has no baseline).
	IngestRatio float64 `json:"ingest_ratio,omitempty"`
	// Fanout is the server's freshtrack_live_fanout_seconds during the run
	// (from an ingest commit to the event written to a stream's socket).
	Fanout *Fanout `json:"fanout,omitempty"`
	// AfterAnswer cross-checks Fanout from the client's side, on up to 8
	// streams watching sites spread over the fleet: an event's arrival
	// minus the arrival of the answer to the POST that stored its reading. The answer follows the commit, so it
	// is a little less than commit → event received.
	AfterAnswer *Latency `json:"receive_after_answer,omitempty"`
	// AfterAnswerSamples is how many events AfterAnswer is of.
	AfterAnswerSamples int `json:"receive_after_answer_samples,omitempty"`
	// ServerCPUPercent is the server's CPU seconds over the run's seconds
	// (100 is one core).
	ServerCPUPercent float64 `json:"server_cpu_percent"`
	// Server RSS in MiB: after the warm-up with no stream open, with the
	// streams open before the ingest, and the average and peak of samples
	// every 250 ms during it.
	IdleRSS    float64 `json:"server_idle_rss_mib"`
	StreamsRSS float64 `json:"server_streams_rss_mib"`
	AvgRSS     float64 `json:"server_avg_rss_mib"`
	PeakRSS    float64 `json:"server_peak_rss_mib"`
	// Per 1,000 streams: average RSS and CPU percent above the baseline
	// run's, and the RSS the open streams added before the ingest; left
	// out under minPer1k streams, where the noise of a run outweighs them.
	RSSPer1k     float64 `json:"rss_mib_per_1k_streams,omitempty"`
	CPUPer1k     float64 `json:"cpu_percent_per_1k_streams,omitempty"`
	IdleRSSPer1k float64 `json:"idle_rss_mib_per_1k_streams,omitempty"`
	// Received is what the clients read during the run.
	Received Received `json:"received"`
	// EventsSent is the server's freshtrack_live_events_sent_total during
	// the run, Dropped its freshtrack_live_dropped_streams_total (streams
	// ended because their client did not keep up).
	EventsSent int `json:"server_events_sent"`
	Dropped    int `json:"dropped_streams"`
}

// Fanout summarises the server's fan-out histogram.
type Fanout struct {
	Count int    `json:"count"`
	P50   Millis `json:"p50_ms"`
	P99   Millis `json:"p99_ms"`
	Mean  Millis `json:"mean_ms"`
}

// Received is what the benchmark's clients read from their streams.
type Received struct {
	Events   int `json:"events"`
	Readings int `json:"reading_events"`
	Resets   int `json:"reset_events,omitempty"`
	Bytes    int `json:"bytes"`
	// Ended is the streams the server ended before the harness closed them.
	Ended int `json:"streams_ended,omitempty"`
}

// LiveResult is the outcome of a live-updates benchmark.
type LiveResult struct {
	Storage      string    `json:"storage"`
	Sensors      int       `json:"sensors"`
	UnitsPerSite int       `json:"units_per_site"`
	Rate         float64   `json:"target_rows_per_sec"`
	Duration     string    `json:"duration"`
	Window       string    `json:"window"`
	Batch        int       `json:"batch"`
	Concurrency  int       `json:"concurrency"`
	Writers      int       `json:"writers"`
	FlushRows    int       `json:"flush_rows"`
	Runs         []LiveRun `json:"runs"`
	OrgID        string    `json:"org_id"`
	Machine      Machine   `json:"machine"`
}

// The goals of the live-updates requirement.
const (
	LiveFanoutGoal Millis = 250
	LiveRatioGoal         = 0.95
)

var liveMetrics = []string{
	"freshtrack_live_streams",
	"freshtrack_live_events_sent_total",
	"freshtrack_live_dropped_streams_total",
	"freshtrack_live_fanout_seconds_sum",
	"freshtrack_live_fanout_seconds_count",
}

const fanoutHistogram = "freshtrack_live_fanout_seconds"

// RunLive measures live updates under ingest: a live fleet (as bench
// ingest's live workload, in sites of UnitsPerSite) made once, then for each
// stream count a fresh server, a warm-up round, that many event streams each
// watching one site, and the fleet posting at Rate for Duration. The run
// with no stream is the baseline that ingest and the server's CPU and memory
// are compared with.
func RunLive(ctx context.Context, o LiveOptions) (*LiveResult, error) {
	o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	if err := raiseFileLimit(slices.Max(o.Streams) + o.Concurrency + 64); err != nil {
		return nil, err
	}
	log := o.Logger
	if float64(o.Sensors) < o.Rate {
		log.Warn("sensors report more often than once a second: the server coalesces their reading events", "sensors", o.Sensors, "rate", o.Rate)
	}
	pool, store, err := openDatabase(ctx, o.DatabaseURL, 0, log)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	res := &LiveResult{Storage: string(store.Mode()), Sensors: o.Sensors, UnitsPerSite: o.UnitsPerSite, Rate: o.Rate,
		Duration: o.Duration.String(), Window: o.Window.String(), Batch: o.Batch, Concurrency: o.Concurrency,
		Writers: o.Writers, FlushRows: o.FlushRows, Machine: describeMachine(ctx, pool)}
	org, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: "bench live " + time.Now().UTC().Format(time.RFC3339), Actor: "bench"})
	if err != nil {
		return nil, err
	}
	res.OrgID = org.ID
	defer disableRules(ctx, pool, org.ID, log)
	key, err := auth.CreateAPIKey(ctx, pool, auth.CreateAPIKeyParams{OrgID: org.ID, Name: "bench", Actor: "bench"})
	if err != nil {
		return nil, err
	}
	keyDir, err := os.MkdirTemp("", "freshtrack-bench-live")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(keyDir)

	lf, err := newLiveFleet(ctx, pool, org.ID, o)
	if err != nil {
		return nil, err
	}
	for r, n := range o.Streams {
		run, err := runLive(ctx, pool, lf, org.ID, key.Key, keyDir+"/dev-issuer.pem", r, n, o)
		if err != nil {
			return nil, fmt.Errorf("%d streams: %w", n, err)
		}
		res.Runs = append(res.Runs, run)
		log.Info("live run", "streams", n, "rows_per_sec", int(run.Ingest.RowsPerSec), "fanout_p99_ms", fanoutP99(run),
			"server_cpu_percent", run.ServerCPUPercent, "events", run.Received.Events, "dropped", run.Dropped)
	}
	compareWithBaseline(res.Runs)
	return res, nil
}

func fanoutP99(r LiveRun) Millis {
	if r.Fanout == nil {
		return 0
	}
	return r.Fanout.P99
}

// compareWithBaseline fills in each run's ratios against the first run
// without streams.
func compareWithBaseline(runs []LiveRun) {
	i := slices.IndexFunc(runs, func(r LiveRun) bool { return r.Streams == 0 })
	if i < 0 {
		return
	}
	base := runs[i]
	for j := range runs {
		r := &runs[j]
		if base.Ingest.RowsPerSec > 0 {
			r.IngestRatio = round3(r.Ingest.RowsPerSec / base.Ingest.RowsPerSec)
		}
		if r.Streams < minPer1k {
			continue
		}
		k := float64(r.Streams) / 1000
		r.RSSPer1k = round2((r.AvgRSS - base.AvgRSS) / k)
		r.CPUPer1k = round2((r.ServerCPUPercent - base.ServerCPUPercent) / k)
	}
}

// minPer1k is the fewest streams whose cost is given per 1,000 streams.
const minPer1k = 100

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// liveFleet is the fleet every run of a live benchmark posts from: made
// once (a new unit's first evaluation takes the evaluator's locked path,
// minutes for a large fleet), each run's readings newer than the last
// run's, so alerting never sees them as late.
type liveFleet struct {
	fleet
	sites []string
	// last is the newest reading posted so far.
	last time.Time
}

// newLiveFleet creates the benchmark's sites and its fleet of fridge
// units, UnitsPerSite to a site.
func newLiveFleet(ctx context.Context, pool *pgxpool.Pool, orgID string, o LiveOptions) (*liveFleet, error) {
	t0 := time.Now()
	names := make([]string, o.Sensors)
	for i := range names {
		names[i] = LiveSensorName(0, i)
	}
	sites, err := createSites(ctx, pool, orgID, (o.Sensors+o.UnitsPerSite-1)/o.UnitsPerSite)
	if err != nil {
		return nil, err
	}
	siteOf := make([]string, len(names))
	for i := range siteOf {
		siteOf[i] = sites[i/o.UnitsPerSite]
	}
	f, err := createLiveFleet(ctx, pool, orgID, siteOf, names)
	if err != nil {
		return nil, err
	}
	o.Logger.Debug("live fleet created", "units", len(names), "sites", len(sites), "seconds", round2(time.Since(t0).Seconds()))
	return &liveFleet{fleet: f, sites: sites}, nil
}

// plans plans a run's warm-up round and readings: over the Window ending
// now, or for a later run since the previous one's newest reading.
func (lf *liveFleet) plans(rows, batch int, window time.Duration) (warm, run Plan, err error) {
	now := time.Now()
	if !lf.last.IsZero() {
		window = min(window, now.Sub(lf.last).Truncate(time.Millisecond)-time.Millisecond)
	}
	if warm, run, err = LivePlans(lf.names, rows, batch, window, now); err != nil {
		return warm, run, err
	}
	lf.last = run.Last()
	return warm, run, nil
}

// runLive measures one stream count, run r of the benchmark, on a server
// of its own.
func runLive(ctx context.Context, pool *pgxpool.Pool, lf *liveFleet, orgID, apiKey, keyFile string, r, n int, o LiveOptions) (LiveRun, error) {
	log := o.Logger
	run := LiveRun{Streams: n}
	f, sites := lf.fleet, lf.sites
	t0 := time.Now()
	ingestOpts := IngestOptions{DatabaseURL: o.DatabaseURL, ServerBinary: o.ServerBinary, Writers: o.Writers, FlushRows: o.FlushRows,
		Rate: o.Rate, Duration: o.Duration, Progress: o.Progress, Logger: log,
		ServerArgs: append([]string{"--dev-auth", "--dev-auth-key", keyFile, "--http-max-conns", fmt.Sprint(o.HTTPMaxConns)}, o.ServerArgs...)}
	srv, err := startServer(ctx, ingestOpts)
	if err != nil {
		return run, err
	}
	defer srv.stopLogging(log)
	pid := srv.cmd.Process.Pid
	u, err := url.Parse(srv.url)
	if err != nil {
		return run, err
	}
	client := &fasthttp.HostClient{Addr: u.Host, MaxConns: o.Concurrency, MaxIdleConnDuration: time.Minute,
		ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second}
	p := &poster{client: client, auth: "Bearer " + apiKey, concurrency: o.Concurrency}

	rows := int(math.Ceil(o.Rate * o.Duration.Seconds()))
	warm, plan, err := lf.plans(rows, o.Batch, o.Window)
	if err != nil {
		return run, err
	}
	// A new unit takes the evaluator's locked path: a large fleet's first
	// round takes minutes; later runs' servers load the states it stored.
	if err := warmUp(ctx, pool, p, f, warm, true, max(time.Minute, time.Duration(o.Sensors)*2*time.Millisecond)); err != nil {
		return run, err
	}
	log.Debug("live fleet warmed up", "run", r, "seconds", round2(time.Since(t0).Seconds()))
	run.IdleRSS = rssMiB(pid)

	// The streams, each on a site of this run's fleet.
	var streams []*liveStream
	defer func() {
		for _, s := range streams {
			s.close()
		}
	}()
	var probe *probe
	if n > 0 {
		tokens, err := viewerTokens(ctx, pool, keyFile, u.Host, orgID, o.Viewers)
		if err != nil {
			return run, err
		}
		probe = newProbe(f, plan)
		t1 := time.Now()
		streams, err = openStreams(ctx, u.Host, orgID, sites, tokens, n, probe, o.Progress)
		if err != nil {
			return run, err
		}
		run.Sites = min(n, len(sites))
		open, err := waitStreams(client, n, 30*time.Second+time.Duration(n)*time.Millisecond)
		run.StreamsOpen = open
		if err != nil {
			return run, err
		}
		run.OpenSeconds = round2(time.Since(t1).Seconds())
		log.Debug("streams open", "run", r, "streams", open, "seconds", run.OpenSeconds)
	}
	time.Sleep(time.Second) // let the server settle after the opening rush
	run.StreamsRSS = rssMiB(pid)

	if err := vacuumWithoutAutovacuum(ctx, pool, describeMachine(ctx, pool)); err != nil {
		return run, err
	}
	bodies := plan.Bodies() // before the clock starts
	answered := make([]atomic.Int64, len(bodies))
	p.answered = func(body int, at time.Time) { answered[body].Store(at.UnixMicro()) }
	before, ok := fetchMetrics(client)
	if !ok {
		return run, errors.New("the server's /metrics did not answer")
	}
	got0 := received(streams)
	stopRSS := sampleRSS(pid, 250*time.Millisecond)
	run.Ingest, err = measureIngest(ctx, pool, p, bodies, plan, pid, ingestOpts)
	run.AvgRSS, run.PeakRSS = stopRSS()
	if err != nil {
		return run, err
	}
	if run.Ingest.Seconds > 0 {
		run.ServerCPUPercent = round2(100 * run.Ingest.ServerCPU / run.Ingest.Seconds)
	}
	after := drained(client, streams, 10*time.Second)
	got1 := received(streams)
	run.Received = Received{Events: got1.Events - got0.Events, Readings: got1.Readings - got0.Readings,
		Resets: got1.Resets - got0.Resets, Bytes: got1.Bytes - got0.Bytes, Ended: got1.Ended - got0.Ended}
	bv, av := metricValues(before, liveMetrics), metricValues(after, liveMetrics)
	d := func(name string) float64 { return av[name] - bv[name] }
	run.EventsSent = int(d("freshtrack_live_events_sent_total"))
	run.Dropped = int(d("freshtrack_live_dropped_streams_total"))
	if h := metricHistogram(after, fanoutHistogram).Sub(metricHistogram(before, fanoutHistogram)); h.Count() > 0 {
		run.Fanout = &Fanout{Count: int(h.Count()), P50: Ms(seconds(h.Quantile(0.5))), P99: Ms(seconds(h.Quantile(0.99)))}
		if c := d("freshtrack_live_fanout_seconds_count"); c > 0 {
			run.Fanout.Mean = Ms(seconds(d("freshtrack_live_fanout_seconds_sum") / c))
		}
	}
	if n >= minPer1k {
		run.IdleRSSPer1k = round2((run.StreamsRSS - run.IdleRSS) / (float64(n) / 1000))
	}
	if probe != nil {
		lat := probe.latencies(answered)
		if len(lat) > 0 {
			l := Summarize(lat)
			run.AfterAnswer, run.AfterAnswerSamples = &l, len(lat)
		}
	}
	return run, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func rssMiB(pid int) float64 {
	rss, err := RSS(pid)
	if err != nil {
		return 0
	}
	return round2(float64(rss) / (1 << 20))
}

// sampleRSS samples a process's RSS every period until the returned
// function is called, which returns the average and peak in MiB.
func sampleRSS(pid int, period time.Duration) func() (avg, peak float64) {
	stop := make(chan struct{})
	done := make(chan [2]float64)
	go func() {
		var sum, peak float64
		n := 0
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			if m := rssMiB(pid); m > 0 {
				sum, peak, n = sum+m, max(peak, m), n+1
			}
			select {
			case <-stop:
				done <- [2]float64{sum / float64(max(n, 1)), peak}
				return
			case <-t.C:
			}
		}
	}()
	return func() (float64, float64) {
		close(stop)
		r := <-done
		return round2(r[0]), round2(r[1])
	}
}

// raiseFileLimit raises this process's open-file limit to its hard limit
// (a server child started after inherits it) and checks that it allows
// need descriptors.
func raiseFileLimit(need int) error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return err
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return fmt.Errorf("raise the open-file limit to %d: %w", l.Max, err)
		}
	}
	if uint64(need) > l.Cur {
		return fmt.Errorf("%d streams need about %d open files, and the hard limit is %d: raise it (ulimit -Hn, or LimitNOFILE)", need-64, need, l.Max)
	}
	return nil
}

// viewerTokens makes n viewer accounts members of the organisation and
// mints a token for each with the development issuer of the server on
// addr (started with --dev-auth and keyFile).
func viewerTokens(ctx context.Context, pool *pgxpool.Pool, keyFile, addr, orgID string, n int) ([]string, error) {
	dev, err := auth.LoadDevIssuer(keyFile, auth.DevIssuerURL(addr))
	if err != nil {
		return nil, err
	}
	tokens := make([]string, n)
	for i := range tokens {
		email := fmt.Sprintf("viewer%d@bench.freshtrack.local", i)
		name := fmt.Sprintf("Bench viewer %d", i)
		subject := "dev|" + email
		u, err := auth.UpsertUser(ctx, pool, dev.Issuer(), subject, email, name)
		if err != nil {
			return nil, err
		}
		if err := auth.GrantMembership(ctx, pool, orgID, u.ID, auth.Viewer); err != nil {
			return nil, fmt.Errorf("membership: %w", err)
		}
		if tokens[i], err = dev.Mint(subject, email, name, 2*time.Hour); err != nil {
			return nil, err
		}
	}
	return tokens, nil
}

// liveStream is one open event stream, read by a goroutine of its own that
// counts events and bytes without keeping them.
type liveStream struct {
	conn    net.Conn
	probe   *probe
	closing atomic.Bool
	done    chan struct{}

	events, readings, resets, bytes atomic.Int64
	ended                           atomic.Bool
}

// probeStreams is how many streams feed the probe, on sites spread over
// the fleet: a site's units are in one request body, stored in one flush,
// so one site alone times about one flush per round.
const probeStreams = 8

// isProbe reports whether stream i of n, over sites sites, feeds the probe.
func isProbe(i, n, sites int) bool {
	distinct := min(n, sites)
	every := max(1, distinct/probeStreams)
	return i < distinct && i%every == 0 && i/every < probeStreams
}

// openStreams opens n streams of the organisation's events, stream i
// watching sites[i mod len(sites)] with tokens[i mod len(tokens)]; a few,
// on sites spread over the fleet, feed probe.
func openStreams(ctx context.Context, addr, orgID string, sites, tokens []string, n int, probe *probe, progressTo io.Writer) ([]*liveStream, error) {
	streams := make([]*liveStream, n)
	var (
		next   atomic.Int64
		opened atomic.Int64
		wg     sync.WaitGroup
		mu     sync.Mutex
		first  error
	)
	next.Store(-1)
	stopProgress := progress(progressTo, "streams", opened.Load, int64(n))
	for range min(n, 32) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1))
				if i >= n {
					return
				}
				path := "/v1/orgs/" + orgID + "/events?site=" + sites[i%len(sites)]
				s, err := openStream(ctx, addr, path, tokens[i%len(tokens)])
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("open stream %d: %w", i, err)
					}
					mu.Unlock()
					return
				}
				if isProbe(i, n, len(sites)) {
					s.probe = probe
				}
				go s.read()
				streams[i] = s
				opened.Add(1)
			}
		}()
	}
	wg.Wait()
	stopProgress()
	if first == nil {
		first = ctx.Err()
	}
	if first != nil {
		for _, s := range streams {
			if s != nil {
				s.close()
			}
		}
		return nil, first
	}
	return streams, nil
}

// openStream sends GET path with a bearer token and reads the answer's
// head: a stream is open once it is 200.
func openStream(ctx context.Context, addr, path, token string) (*liveStream, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", path, addr, token); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		conn.Close()
		return nil, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	_ = conn.SetDeadline(time.Time{})
	// The body is chunked: the stream reads it decoded.
	return &liveStream{conn: &bodyConn{Conn: conn, body: resp.Body}, done: make(chan struct{})}, nil
}

// bodyConn reads a response's decoded body; closing it closes the
// connection.
type bodyConn struct {
	net.Conn
	body io.Reader
}

func (c *bodyConn) Read(p []byte) (int, error) { return c.body.Read(p) }

var (
	eventPrefix = []byte("event: ")
	dataPrefix  = []byte("data: ")
	readingType = []byte("reading\n")
	resetType   = []byte("reset\n")
)

// read counts the stream's events until it ends.
func (s *liveStream) read() {
	defer close(s.done)
	r := bufio.NewReaderSize(s.conn, 2048)
	reading := false
	for {
		line, err := r.ReadSlice('\n')
		s.bytes.Add(int64(len(line)))
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			if !s.closing.Load() {
				s.ended.Store(true)
			}
			return
		}
		if typ, ok := bytes.CutPrefix(line, eventPrefix); ok {
			s.events.Add(1)
			reading = bytes.Equal(typ, readingType)
			switch {
			case reading:
				s.readings.Add(1)
			case bytes.Equal(typ, resetType):
				s.resets.Add(1)
			}
			continue
		}
		if reading && s.probe != nil {
			if data, ok := bytes.CutPrefix(line, dataPrefix); ok {
				s.probe.observe(data, time.Now())
			}
		}
	}
}

func (s *liveStream) close() {
	s.closing.Store(true)
	s.conn.Close()
	<-s.done
}

// received sums what the streams read so far.
func received(streams []*liveStream) Received {
	var r Received
	for _, s := range streams {
		r.Events += int(s.events.Load())
		r.Readings += int(s.readings.Load())
		r.Resets += int(s.resets.Load())
		r.Bytes += int(s.bytes.Load())
		if s.ended.Load() {
			r.Ended++
		}
	}
	return r
}

// waitStreams waits until the server counts n open streams, and returns
// the count it last saw.
func waitStreams(client *fasthttp.HostClient, n int, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		v, ok := scrapeMetrics(client, liveMetrics[:1])
		open := int(v["freshtrack_live_streams"])
		if ok && open == n {
			return open, nil
		}
		if time.Now().After(deadline) {
			return open, fmt.Errorf("after %s the server counts %d open streams of %d", timeout, open, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// drained waits (up to timeout) until the server has written the run's
// last events and the clients have read them, and returns the server's
// metrics then.
func drained(client *fasthttp.HostClient, streams []*liveStream, timeout time.Duration) []byte {
	deadline := time.Now().Add(timeout)
	var last []byte
	prevSent, prevGot := -1.0, -1
	for {
		time.Sleep(250 * time.Millisecond)
		body, ok := fetchMetrics(client)
		if !ok {
			return last
		}
		last = body
		sent := metricValues(body, liveMetrics)["freshtrack_live_events_sent_total"]
		got := received(streams).Events
		if (sent == prevSent && got == prevGot) || time.Now().After(deadline) {
			return last
		}
		prevSent, prevGot = sent, got
	}
}

// probe matches a few streams' reading events with the POSTs that stored
// their readings, to time them from the client's side.
type probe struct {
	plan   Plan
	sensor map[string]int // unit id → sensor index

	mu      sync.Mutex
	parser  fastjson.Parser
	samples []probeSample
}

type probeSample struct {
	reading  int   // index in the plan
	received int64 // µs since the epoch
}

func newProbe(f fleet, plan Plan) *probe {
	p := &probe{plan: plan, sensor: make(map[string]int, len(f.units))}
	for i, u := range f.units {
		p.sensor[u] = i
	}
	return p
}

// observe notes a reading event's data, received at.
func (p *probe) observe(data []byte, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, err := p.parser.ParseBytes(data)
	if err != nil {
		return
	}
	s, ok := p.sensor[string(v.GetStringBytes("unit_id"))]
	if !ok {
		return
	}
	t, err := time.Parse(time.RFC3339Nano, string(v.GetStringBytes("time")))
	if err != nil || t.Before(p.plan.Start) {
		return // the warm-up round's, or unreadable
	}
	round := int(math.Round(float64(t.Sub(p.plan.Start)) / float64(p.plan.Interval)))
	i := round*p.plan.Sensors + s
	if i >= p.plan.Rows {
		return
	}
	if _, at2, _ := p.plan.Reading(i); !at2.Equal(t) {
		return
	}
	p.samples = append(p.samples, probeSample{reading: i, received: at.UnixMicro()})
}

// latencies are the samples' arrival after their POST's answer (answered
// holds each body's answer time in µs); an event that came before the
// answer counts as 0.
func (p *probe) latencies(answered []atomic.Int64) []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]time.Duration, 0, len(p.samples))
	for _, s := range p.samples {
		body := s.reading / p.plan.Batch
		if body >= len(answered) {
			continue
		}
		a := answered[body].Load()
		if a == 0 {
			continue
		}
		out = append(out, time.Duration(max(s.received-a, 0))*time.Microsecond)
	}
	return out
}

// WriteLiveSummary prints a live-updates result: a line per stream count,
// then whether the goals were met.
func WriteLiveSummary(w io.Writer, r *LiveResult) error {
	fmt.Fprintf(w, "live benchmark: %s storage, %d sensors in sites of %d (a stream watches one), %.0f readings/s for %s, %d readings/request, %d in flight, %d writers × %d rows/flush, %d CPUs, PostgreSQL %s\n",
		r.Storage, r.Sensors, r.UnitsPerSite, r.Rate, r.Duration, r.Batch, r.Concurrency, r.Writers, r.FlushRows, r.Machine.CPUs, r.Machine.Postgres)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "streams\topen\trows/s\tratio\tfan-out p50/p99 ms\tafter answer p50/p99 ms\tserver cpu %\tpg cpu %\tbench cpu %\t"+
		"rss idle/streams/avg/peak MiB\trss MiB/1k\tcpu %/1k\tevents received\tevents/s\tsent\tdropped\tended\tevaluator had\tlocked units\t")
	for _, run := range r.Runs {
		fan, client := "-", "-"
		if run.Fanout != nil {
			fan = fmt.Sprintf("%.0f / %.0f", float64(run.Fanout.P50), float64(run.Fanout.P99))
		}
		if run.AfterAnswer != nil {
			client = fmt.Sprintf("%.0f / %.0f", float64(run.AfterAnswer.P50), float64(run.AfterAnswer.P99))
		}
		ratio := "-"
		if run.IngestRatio > 0 {
			ratio = fmt.Sprintf("%.3f", run.IngestRatio)
		}
		in := run.Ingest
		percent := func(cpu float64) string {
			if in.Seconds <= 0 {
				return "-"
			}
			return opt(100 * cpu / in.Seconds)
		}
		perSec, evaluated, locked := 0.0, "-", "-"
		if in.Seconds > 0 {
			perSec = float64(run.Received.Events) / in.Seconds
		}
		if a := in.Alerting; a != nil {
			evaluated, locked = evaluatedInTime(a, in.Rows), strconv.Itoa(a.LockedUnits)
		}
		fmt.Fprintf(tw, "%d\t%d\t%.0f\t%s\t%s\t%s\t%.0f\t%s\t%s\t%.0f / %.0f / %.0f / %.0f\t%s\t%s\t%d\t%.0f\t%d\t%d\t%d\t%s\t%s\t\n",
			run.Streams, run.StreamsOpen, in.RowsPerSec, ratio, fan, client, run.ServerCPUPercent, percent(in.PostgresCPU), percent(in.GeneratorCPU),
			run.IdleRSS, run.StreamsRSS, run.AvgRSS, run.PeakRSS, opt(run.RSSPer1k), opt(run.CPUPer1k),
			run.Received.Events, perSec, run.EventsSent, run.Dropped, run.Received.Ended, evaluated, locked)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, run := range r.Runs {
		if run.Streams == 0 {
			continue
		}
		var verdicts []string
		if run.Fanout == nil {
			verdicts = append(verdicts, "no fan-out measured")
		} else {
			verdicts = append(verdicts, fmt.Sprintf("fan-out p99 %.1f ms %s %.0f ms goal", float64(run.Fanout.P99), metOrNot(run.Fanout.P99 < LiveFanoutGoal), float64(LiveFanoutGoal)))
		}
		if run.IngestRatio > 0 {
			verdicts = append(verdicts, fmt.Sprintf("ingest ratio %.3f %s %.2f goal", run.IngestRatio, metOrNot(run.IngestRatio >= LiveRatioGoal), LiveRatioGoal))
		}
		if a := run.Ingest.Alerting; a != nil && a.Dropped > 0 {
			verdicts = append(verdicts, fmt.Sprintf("the evaluator fell behind ingest (%d flushes dropped from its queue), so unit_state events came late (reading events do not wait for it)", a.Dropped))
		}
		fmt.Fprintf(w, "%d streams: %s\n", run.Streams, strings.Join(verdicts, "; "))
	}
	return nil
}

// evaluatedInTime says how much of a run's readings the evaluator had
// received from ingest when the harness stopped waiting for it (at once
// when its subscription had dropped flushes, which it evaluates later from
// the backlog, so their events come late; else when it had them all, or
// after a minute), and what it dropped or how long it took.
func evaluatedInTime(a *Alerting, stored int) string {
	if stored == 0 {
		return "-"
	}
	pct := fmt.Sprintf("%.0f%%", 100*float64(a.Rows)/float64(stored))
	if a.Dropped > 0 {
		return fmt.Sprintf("%s, %d flushes dropped", pct, a.Dropped)
	}
	return fmt.Sprintf("%s after %.1f s", pct, a.LagSeconds)
}

func metOrNot(ok bool) string {
	if ok {
		return "meets the"
	}
	return "misses the"
}
