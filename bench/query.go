package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/compliance"
	"github.com/freshtrack/freshtrack/query"
	"github.com/freshtrack/freshtrack/schema"
)

// QueryOptions configure a query benchmark.
type QueryOptions struct {
	// DatabaseURL is a migrated database holding a seeded history (Seed).
	DatabaseURL string
	// OrgID is the organisation queried. Defaults to the newest one whose
	// name starts with "seed ".
	OrgID string
	// Iterations is the queries run per query type. Defaults to 200 (and to
	// HACCPIterations for the HACCP report) unless Duration is set.
	Iterations int
	// HACCPIterations is the HACCP reports run. Defaults to 10.
	HACCPIterations int
	// Duration, when set, ends each query type's phase after this long
	// (whichever of Iterations and Duration comes first).
	Duration time.Duration
	// Concurrency is the queries in flight. Defaults to 4.
	Concurrency int
	// HACCPUnits is the units a HACCP report covers: the site with the
	// fewest units when it has at most this many, else the first HACCPUnits
	// units (by name) of that site. Defaults to 50.
	HACCPUnits int
	// HACCPDays is the report period, ending yesterday (site time).
	// Defaults to 30.
	HACCPDays int
	// Seed picks the random units and sites. Zero seeds from the clock, so
	// repeated runs do not all find the same units in the cache.
	Seed uint64
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (o *QueryOptions) withDefaults() {
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	if o.Iterations <= 0 {
		o.Iterations = 200
		if o.Duration > 0 {
			o.Iterations = math.MaxInt
		}
	}
	if o.HACCPIterations <= 0 {
		o.HACCPIterations = 10
		if o.Duration > 0 {
			o.HACCPIterations = math.MaxInt
		}
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.HACCPUnits <= 0 {
		o.HACCPUnits = 50
	}
	if o.HACCPDays <= 0 {
		o.HACCPDays = 30
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// QueryResult is the outcome of a query benchmark.
type QueryResult struct {
	// Storage is the database's storage mode.
	Storage string `json:"storage"`
	// OrgID is the organisation queried.
	OrgID string `json:"org_id"`
	// Sites is the organisation's number of sites.
	Sites int `json:"sites"`
	// Units is the organisation's number of units.
	Units int `json:"units"`
	// UnitsPerSite is the size of the largest site.
	UnitsPerSite int `json:"units_per_site"`
	// HACCPSite is the site reported on.
	HACCPSite string `json:"haccp_site"`
	// HACCPUnits is the units each report covers.
	HACCPUnits int `json:"haccp_units"`
	// HACCPDays is the days each report covers.
	HACCPDays int `json:"haccp_days"`
	// HACCPFrom is the report's first day.
	HACCPFrom string `json:"haccp_from"`
	// HACCPTo is the report's last day.
	HACCPTo string `json:"haccp_to"`
	// Concurrency is the queries in flight.
	Concurrency int `json:"concurrency"`
	// Queries has one entry per query type, run one type at a time.
	Queries []QueryStats `json:"queries"`
	// Machine describes where the numbers came from.
	Machine Machine `json:"machine"`
}

// QueryStats are the measurements of one query type.
type QueryStats struct {
	// Name is series_24h, series_7d, series_30d, latest_site or haccp_month.
	Name string `json:"name"`
	// Detail says what one query returns (resolution and buckets, units).
	Detail string `json:"detail"`
	// Count is the queries that succeeded.
	Count int `json:"count"`
	// Errors is the queries that failed.
	Errors int `json:"errors"`
	// Seconds is the phase's wall time.
	Seconds float64 `json:"seconds"`
	// PerSec is Count over Seconds.
	PerSec float64 `json:"per_sec"`
	// Latency summarises the successful queries' latencies.
	Latency Latency `json:"latency"`
}

type benchOrg struct {
	sites      []string
	unitsBy    map[string][]string // site → unit ids by name
	units      []string
	haccpSite  string
	haccpUnits []string
}

// RunQuery runs the dashboard workload against a seeded organisation: the
// series of a random unit over 24 hours, 7 days and 30 days at auto
// resolution, the latest values of a random site, and a one-month HACCP
// report. Each query type runs in its own phase with Concurrency queries in
// flight; the result has queries/s and latency percentiles per type.
//
// Seed loads readings with COPY only, so RunQuery first persists each
// sensor's newest reading to sensor_latest where it is missing, as ingest
// would have.
func RunQuery(ctx context.Context, o QueryOptions) (*QueryResult, error) {
	o.withDefaults()
	pc, err := pgxpool.ParseConfig(o.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	pc.MaxConns = int32(max(4, o.Concurrency+1))
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if _, err := schema.CheckCurrent(ctx, pool); err != nil {
		return nil, err
	}
	mode, err := schema.StoredMode(ctx, pool)
	if err != nil {
		return nil, err
	}
	if o.OrgID == "" {
		err := pool.QueryRow(ctx, `SELECT id::text FROM organizations WHERE name LIKE 'seed %' ORDER BY created_at DESC LIMIT 1`).Scan(&o.OrgID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("no seeded organisation found; run `freshtrack bench seed` first or pass the organisation")
		}
		if err != nil {
			return nil, err
		}
	}
	org, err := describeOrg(ctx, pool, o.OrgID, o.HACCPUnits)
	if err != nil {
		return nil, err
	}
	if n, err := fillLatest(ctx, pool, o.OrgID); err != nil {
		return nil, err
	} else if n > 0 {
		o.Logger.Info("persisted latest values for seeded sensors", "sensors", n)
	}
	res := &QueryResult{
		Storage: string(mode), OrgID: o.OrgID, Sites: len(org.sites), Units: len(org.units),
		HACCPSite: org.haccpSite, HACCPUnits: len(org.unitsBy[org.haccpSite]), HACCPDays: o.HACCPDays,
		Concurrency: o.Concurrency, Machine: describeMachine(ctx, pool),
	}
	if org.haccpUnits != nil {
		res.HACCPUnits = len(org.haccpUnits)
	}
	for _, s := range org.sites {
		res.UnitsPerSite = max(res.UnitsPerSite, len(org.unitsBy[s]))
	}
	var tz string
	if err := pool.QueryRow(ctx, `SELECT timezone FROM sites WHERE id = $1`, org.haccpSite).Scan(&tz); err != nil {
		return nil, err
	}
	loc, err := query.LoadLocation(tz)
	if err != nil {
		return nil, err
	}
	today := time.Now().In(loc)
	last := today.AddDate(0, 0, -1)
	first := today.AddDate(0, 0, -o.HACCPDays)
	res.HACCPFrom, res.HACCPTo = first.Format(time.DateOnly), last.Format(time.DateOnly)

	series := func(span time.Duration) func(context.Context, *rand.Rand) (string, error) {
		return func(ctx context.Context, rng *rand.Rand) (string, error) {
			now := time.Now()
			s, err := query.Series(ctx, pool, query.SeriesParams{OrgID: o.OrgID, UnitID: org.units[rng.IntN(len(org.units))],
				From: now.Add(-span), To: now, Resolution: query.ResolutionAuto})
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%s, %d buckets", s.Resolution, len(s.Buckets)+len(s.Points)), nil
		}
	}
	phases := []struct {
		name  string
		iters int
		run   func(context.Context, *rand.Rand) (string, error)
	}{
		{"series_24h", o.Iterations, series(24 * time.Hour)},
		{"series_7d", o.Iterations, series(7 * 24 * time.Hour)},
		{"series_30d", o.Iterations, series(30 * 24 * time.Hour)},
		{"latest_site", o.Iterations, func(ctx context.Context, rng *rand.Rand) (string, error) {
			site := org.sites[rng.IntN(len(org.sites))]
			us, err := query.Latest(ctx, pool, query.LatestParams{OrgID: o.OrgID, SiteID: site})
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%d units", len(us)), nil
		}},
		{"haccp_month", o.HACCPIterations, func(ctx context.Context, _ *rand.Rand) (string, error) {
			r, err := compliance.HACCP(ctx, pool, compliance.HACCPParams{OrgID: o.OrgID, SiteID: org.haccpSite, UnitIDs: org.haccpUnits,
				From: first, To: last})
			if err != nil {
				return "", err
			}
			var readings int64
			for _, u := range r.Units {
				readings += u.Summary.Readings
			}
			return fmt.Sprintf("%d units × %d days, %d readings", len(r.Units), o.HACCPDays, readings), nil
		}},
	}
	for _, ph := range phases {
		o.Logger.Info("query benchmark phase", "query", ph.name)
		st, err := runPhase(ctx, ph.name, ph.iters, o.Duration, o.Concurrency, o.Seed, ph.run)
		if err != nil {
			return nil, err
		}
		res.Queries = append(res.Queries, st)
	}
	return res, nil
}

// runPhase runs fn iters times (or until d) with conc in flight.
func runPhase(ctx context.Context, name string, iters int, d time.Duration, conc int, seed uint64, fn func(context.Context, *rand.Rand) (string, error)) (QueryStats, error) {
	st := QueryStats{Name: name}
	var (
		mu      sync.Mutex
		lat     []time.Duration
		next    int
		firstEr error
		wg      sync.WaitGroup
	)
	var deadline time.Time
	if d > 0 {
		deadline = time.Now().Add(d)
	}
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for {
				mu.Lock()
				if next >= iters || ctx.Err() != nil || (!deadline.IsZero() && time.Now().After(deadline)) {
					mu.Unlock()
					return
				}
				next++
				mu.Unlock()
				t0 := time.Now()
				detail, err := fn(ctx, rng)
				el := time.Since(t0)
				mu.Lock()
				if err != nil {
					st.Errors++
					if firstEr == nil {
						firstEr = err
					}
				} else {
					lat = append(lat, el)
					st.Detail = detail
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	st.Seconds = math.Round(elapsed*1000) / 1000
	st.Count = len(lat)
	if elapsed > 0 {
		st.PerSec = round2(float64(st.Count) / elapsed)
	}
	st.Latency = Summarize(lat)
	if st.Count == 0 && firstEr != nil {
		return st, fmt.Errorf("%s: %w", name, firstEr)
	}
	return st, nil
}

// describeOrg lists the organisation's sites and units and picks the HACCP
// scope: the site with the fewest units, all of them when at most
// haccpUnits, else its first haccpUnits units by name.
func describeOrg(ctx context.Context, pool *pgxpool.Pool, orgID string, haccpUnits int) (*benchOrg, error) {
	rows, err := pool.Query(ctx, `
		SELECT st.id::text, u.id::text FROM sites st JOIN units u ON u.org_id = st.org_id AND u.site_id = st.id
		 WHERE st.org_id = $1 ORDER BY st.name, st.id, u.name, u.id`, orgID)
	if err != nil {
		return nil, err
	}
	org := &benchOrg{unitsBy: map[string][]string{}}
	var site, unit string
	_, err = pgx.ForEachRow(rows, []any{&site, &unit}, func() error {
		if len(org.unitsBy[site]) == 0 {
			org.sites = append(org.sites, site)
		}
		org.unitsBy[site] = append(org.unitsBy[site], unit)
		org.units = append(org.units, unit)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(org.units) == 0 {
		return nil, fmt.Errorf("organisation %s has no units; seed it with `freshtrack bench seed`", orgID)
	}
	for _, s := range org.sites {
		if org.haccpSite == "" || len(org.unitsBy[s]) < len(org.unitsBy[org.haccpSite]) {
			org.haccpSite = s
		}
	}
	us := org.unitsBy[org.haccpSite]
	if len(us) > haccpUnits {
		org.haccpUnits = us[:haccpUnits]
	}
	return org, nil
}

// fillLatest persists the newest reading of every sensor of the
// organisation that has no sensor_latest row, and returns how many.
func fillLatest(ctx context.Context, pool *pgxpool.Pool, orgID string) (int64, error) {
	tag, err := pool.Exec(ctx, `
		INSERT INTO sensor_latest (sensor_id, time, temp_c, humidity, battery)
		SELECT s.id, r.time, r.temp_c, r.humidity, r.battery
		  FROM sensors s
		  CROSS JOIN LATERAL (SELECT time, temp_c, humidity, battery FROM readings
		                       WHERE sensor_id = s.id ORDER BY time DESC LIMIT 1) r
		 WHERE s.org_id = $1 AND NOT EXISTS (SELECT 1 FROM sensor_latest sl WHERE sl.sensor_id = s.id)
		ON CONFLICT (sensor_id) DO NOTHING`, orgID)
	if err != nil {
		return 0, fmt.Errorf("persist latest values: %w", err)
	}
	return tag.RowsAffected(), nil
}

// WriteQuerySummary prints the summary table of a query benchmark.
func WriteQuerySummary(w io.Writer, r *QueryResult) error {
	fmt.Fprintf(w, "query benchmark: %s storage, %d sites, %d units (%d in the largest site), %d in flight, %d CPUs, PostgreSQL %s\n",
		r.Storage, r.Sites, r.Units, r.UnitsPerSite, r.Concurrency, r.Machine.CPUs, r.Machine.Postgres)
	fmt.Fprintf(w, "haccp_month: %d units of site %s, %s to %s (%d days)\n", r.HACCPUnits, r.HACCPSite, r.HACCPFrom, r.HACCPTo, r.HACCPDays)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "query\tcount\terrors\tqueries/s\tp50 ms\tp95 ms\tp99 ms\tmax ms\t  returns\t")
	for _, q := range r.Queries {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t  %s\t\n", q.Name, q.Count, q.Errors, q.PerSec,
			float64(q.Latency.P50), float64(q.Latency.P95), float64(q.Latency.P99), float64(q.Latency.Max), q.Detail)
	}
	return tw.Flush()
}
