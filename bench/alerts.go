package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/valyala/fasthttp"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/schema"
)

// AlertsOptions configure an alert-latency benchmark.
type AlertsOptions struct {
	DatabaseURL  string
	ServerBinary string
	// Units is the fleet: one sensor per fridge. Defaults to 500.
	Units int
	// Rate is the steady background ingest in readings per second, sent in
	// batches of Batch. Defaults to 20000 and 500.
	Rate  float64
	Batch int
	// Excursions is how many alerts to provoke, one every Every.
	// Defaults to 50 and 200ms.
	Excursions int
	Every      time.Duration
	Progress   io.Writer
	Logger     *slog.Logger
}

// AlertsResult is the outcome of an alert-latency benchmark.
type AlertsResult struct {
	Storage    string  `json:"storage"`
	Units      int     `json:"units"`
	Rate       float64 `json:"background_rows_per_sec"`
	Achieved   float64 `json:"achieved_rows_per_sec"`
	Excursions int     `json:"excursions"`
	Opened     int     `json:"alerts_opened"`
	// Latency is from the moment the out-of-range reading's POST was
	// answered (its commit) to the alert row and its first notification
	// job existing, which commit together.
	Latency Latency `json:"commit_to_alert"`
	Machine Machine `json:"machine"`
}

// RunAlerts keeps a steady ingest going against a freshtrack serve child and
// injects excursions (one out-of-range reading on a unit whose rule alerts at
// once), measuring how long each takes to become an alert with its
// notification job.
func RunAlerts(ctx context.Context, o AlertsOptions) (*AlertsResult, error) {
	o.Units = max(o.Units, 0)
	if o.Units == 0 {
		o.Units = 500
	}
	if o.Rate <= 0 {
		o.Rate = 20_000
	}
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.Excursions <= 0 {
		o.Excursions = 50
	}
	if o.Every <= 0 {
		o.Every = 200 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Excursions > o.Units {
		return nil, fmt.Errorf("%d excursions need at least as many units, got %d", o.Excursions, o.Units)
	}
	pool, err := pgxpool.New(ctx, o.DatabaseURL)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if _, err := schema.CheckCurrent(ctx, pool); err != nil {
		return nil, err
	}
	store, err := schema.OpenStore(ctx, pool, o.Logger)
	if err != nil {
		return nil, err
	}
	org, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: "bench alerts " + time.Now().UTC().Format(time.RFC3339), Actor: "bench"})
	if err != nil {
		return nil, err
	}
	units := make([]string, o.Units)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var site string
		if err := tx.QueryRow(ctx, `INSERT INTO sites (org_id, name, timezone) VALUES ($1, 'Bench', 'UTC') RETURNING id`, org.ID).Scan(&site); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			WITH u AS (INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c)
			           SELECT $1, $2, 'Fridge ' || g, 'fridge', 0, 5 FROM generate_series(0, $3 - 1) g RETURNING id, name),
			     s AS (INSERT INTO sensors (org_id, external_id, unit_id)
			           SELECT $1, 'bench-' || lpad(substr(u.name, 8), 6, '0'), u.id FROM u RETURNING unit_id, external_id),
			     r AS (INSERT INTO alert_rules (org_id, unit_id, kind, threshold, confirm_seconds, severity)
			           SELECT $1, id, 'temp_high', 5, 0, 'critical' FROM u)
			SELECT unit_id FROM s ORDER BY external_id`, org.ID, site, o.Units)
		if err != nil {
			return err
		}
		if units, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO contacts (org_id, name, phone, role) VALUES ($1, 'On call', '+15550100009', 'staff')`, org.ID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create alert bench fleet: %w", err)
	}
	key, err := auth.CreateAPIKey(ctx, pool, auth.CreateAPIKeyParams{OrgID: org.ID, Name: "bench", Actor: "bench"})
	if err != nil {
		return nil, err
	}
	srv, err := startServer(ctx, IngestOptions{DatabaseURL: o.DatabaseURL, ServerBinary: o.ServerBinary, Writers: 2, FlushRows: 5000})
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	client := &fasthttp.HostClient{Addr: strings.TrimPrefix(srv.url, "http://"), MaxConns: 16, ReadTimeout: 30 * time.Second}
	post := func(body []byte) error {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI(srv.url + "/v1/readings")
		req.Header.SetMethod("POST")
		req.Header.SetContentType("application/json")
		req.Header.Set("Authorization", "Bearer "+key.Key)
		req.SetBodyRaw(body)
		if err := client.Do(req, resp); err != nil {
			return err
		}
		if resp.StatusCode() != 200 {
			return fmt.Errorf("POST /v1/readings: %d %s", resp.StatusCode(), resp.Body())
		}
		return nil
	}

	// Background: every sensor reports in range, round after round, paced.
	// The background's readings end about now, so that they are live data
	// (an hour-old fleet would be offline, which is another benchmark).
	span := time.Duration(float64(o.Rate*(float64(o.Excursions)*o.Every.Seconds()+5))/float64(o.Units)) * time.Second
	start := time.Now().UTC().Add(-span).Truncate(time.Second)
	plan := Plan{Sensors: o.Units, Interval: time.Second, Batch: o.Batch, Rows: int(o.Rate * (float64(o.Excursions)*o.Every.Seconds() + 5)), Start: start,
		TempC: func(int) float64 { return 3.5 }}
	bodies := plan.Bodies()
	bgCtx, stopBG := context.WithCancel(ctx)
	var sent atomic.Int64
	var bgErr error
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		t0 := time.Now()
		for i, b := range bodies {
			due := t0.Add(time.Duration(float64(i*o.Batch) / o.Rate * float64(time.Second)))
			select {
			case <-bgCtx.Done():
				return
			case <-time.After(time.Until(due)):
			}
			if err := post(b); err != nil {
				bgErr = err
				return
			}
			sent.Add(int64(o.Batch))
		}
	}()
	time.Sleep(time.Second) // let the background settle

	res := &AlertsResult{Storage: string(store.Mode()), Units: o.Units, Rate: o.Rate, Excursions: o.Excursions, Machine: describeMachine(ctx, pool)}
	var lat []time.Duration
	bgStart := time.Now()
	for i := range o.Excursions {
		at := time.Now().UTC()
		body := fmt.Appendf(nil, `{"readings":[{"sensor":%q,"time":%q,"temp_c":9.5}]}`, SensorName(i), at.Format(time.RFC3339Nano))
		if err := post(body); err != nil {
			stopBG()
			return nil, err
		}
		committed := time.Now()
		deadline := committed.Add(30 * time.Second)
		for {
			var opened time.Time
			var jobs int
			err := pool.QueryRow(ctx, `
				SELECT a.opened_at, (SELECT count(*) FROM notifications n WHERE n.alert_id = a.id)
				  FROM alerts a WHERE a.org_id = $1 AND a.unit_id = $2`, org.ID, units[i]).Scan(&opened, &jobs)
			if err == nil && jobs > 0 {
				// The alert and its notification (row and job) commit in one
				// transaction; seeing them means both exist.
				lat = append(lat, time.Since(committed))
				res.Opened++
				break
			}
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				stopBG()
				return nil, err
			}
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "\r\033[Kalerts %d/%d", i+1, o.Excursions)
		}
		time.Sleep(time.Until(committed.Add(o.Every)))
	}
	stopBG()
	bg.Wait()
	if o.Progress != nil {
		fmt.Fprint(o.Progress, "\r\033[K")
	}
	if bgErr != nil {
		return nil, fmt.Errorf("background ingest: %w", bgErr)
	}
	res.Achieved = float64(sent.Load()) / time.Since(bgStart.Add(-time.Second)).Seconds()
	res.Latency = Summarize(lat)
	return res, nil
}

// WriteAlertsSummary prints an alert-latency result.
func WriteAlertsSummary(w io.Writer, r *AlertsResult) error {
	_, err := fmt.Fprintf(w, "alert benchmark: %s storage, %d units, background %.0f readings/s (achieved %.0f)\n"+
		"%d of %d excursions became alerts with their notification job; commit → alert: p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms\n",
		r.Storage, r.Units, r.Rate, r.Achieved, r.Opened, r.Excursions,
		float64(r.Latency.P50), float64(r.Latency.P95), float64(r.Latency.P99), float64(r.Latency.Max))
	return err
}
