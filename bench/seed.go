package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/auth"
	"github.com/freshtrack/freshtrack/schema"
)

// SeedOptions configure Seed.
type SeedOptions struct {
	DatabaseURL string
	// Sensors is the fleet size, one sensor per unit. Defaults to 2000.
	Sensors int
	// UnitsPerSite groups units into sites. Defaults to 200.
	UnitsPerSite int
	// Days of history ending now. Defaults to 14.
	Days int
	// Interval between a sensor's readings. Defaults to 1m.
	Interval time.Duration
	// Connections loading in parallel. Defaults to 2.
	Connections int
	// Progress receives a status line a second; nil for none.
	Progress io.Writer
	Logger   *slog.Logger
}

// SeedResult describes the seeded history.
type SeedResult struct {
	OrgID         string   `json:"org_id"`
	SiteIDs       []string `json:"site_ids"`
	Sensors       int      `json:"sensors"`
	Rows          int64    `json:"rows"`
	From          string   `json:"from"`
	To            string   `json:"to"`
	LoadSeconds   float64  `json:"load_seconds"`
	RowsPerSec    float64  `json:"rows_per_sec"`
	RollupSeconds float64  `json:"rollup_seconds"`
	Storage       string   `json:"storage"`
}

// Seed generates a realistic history straight into readings with COPY: an
// organisation with sites of fridges and freezers, one sensor each, reporting
// every Interval for Days, with compressor cycles, door openings and a few
// excursions; then it materialises the downsampled series.
func Seed(ctx context.Context, o SeedOptions) (*SeedResult, error) {
	if o.Sensors <= 0 {
		o.Sensors = 2000
	}
	if o.UnitsPerSite <= 0 {
		o.UnitsPerSite = 200
	}
	if o.Days <= 0 {
		o.Days = 14
	}
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.Connections <= 0 {
		o.Connections = 2
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
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
	org, err := auth.CreateOrganization(ctx, pool, auth.CreateOrganizationParams{Name: fmt.Sprintf("seed %d sensors × %d days", o.Sensors, o.Days), Actor: "bench"})
	if err != nil {
		return nil, err
	}
	res := &SeedResult{OrgID: org.ID, Sensors: o.Sensors, Storage: string(store.Mode())}
	var keys []int64
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		sites := (o.Sensors + o.UnitsPerSite - 1) / o.UnitsPerSite
		rows, err := tx.Query(ctx, `INSERT INTO sites (org_id, name, timezone) SELECT $1, 'Site ' || g, 'Europe/Berlin' FROM generate_series(1, $2) g RETURNING id`, org.ID, sites)
		if err != nil {
			return err
		}
		if res.SiteIDs, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `
			WITH u AS (
				INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c)
				SELECT $1, ($2::uuid[])[(g - 1) / $3 + 1], 'Unit ' || g,
				       CASE WHEN g % 5 = 0 THEN 'freezer' ELSE 'fridge' END,
				       CASE WHEN g % 5 = 0 THEN -30 ELSE 0 END, CASE WHEN g % 5 = 0 THEN -15 ELSE 5 END
				  FROM generate_series(1, $4) g RETURNING id, name)
			INSERT INTO sensors (org_id, external_id, unit_id)
			SELECT $1, 'seed-' || substr(u.name, 6), u.id FROM u ORDER BY (substr(u.name, 6))::int RETURNING id`,
			org.ID, res.SiteIDs, o.UnitsPerSite, o.Sensors)
		if err != nil {
			return err
		}
		keys, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create seed fleet: %w", err)
	}

	to := time.Now().UTC().Truncate(o.Interval)
	from := to.AddDate(0, 0, -o.Days)
	res.From, res.To = from.Format(time.RFC3339), to.Format(time.RFC3339)
	var days []time.Time
	for d := from; d.Before(to.Add(24 * time.Hour)); d = d.Add(24 * time.Hour) {
		days = append(days, d)
	}
	if err := store.EnsurePartitions(ctx, days...); err != nil {
		return nil, err
	}
	steps := int(to.Sub(from) / o.Interval)
	total := int64(steps) * int64(len(keys))
	var done atomic.Int64
	stop := progress(o.Progress, "seed", done.Load, total)
	start := time.Now()
	// Rounds (one reading per sensor) are split in contiguous ranges, one per
	// connection, each loaded in COPYs of about 100k rows.
	per := (steps + o.Connections - 1) / o.Connections
	perCopy := max(1, 100_000/len(keys))
	var wg sync.WaitGroup
	errs := make(chan error, o.Connections)
	for c := range o.Connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := c * per; lo < min((c+1)*per, steps); lo += perCopy {
				hi := min(lo+perCopy, (c+1)*per, steps)
				step, s := lo, 0
				n, err := pool.CopyFrom(ctx, pgx.Identifier{"readings"}, []string{"time", "sensor_id", "temp_c", "humidity", "battery"},
					pgx.CopyFromFunc(func() ([]any, error) {
						if step >= hi {
							return nil, nil
						}
						at := from.Add(time.Duration(step) * o.Interval)
						row := []any{at, keys[s], seedTemp(s, at), float32(55 + 10*math.Sin(float64(step)/90)), float32(100 - float64(step)/float64(steps)*20)}
						if s++; s == len(keys) {
							s, step = 0, step+1
						}
						return row, nil
					}))
				if err != nil {
					errs <- fmt.Errorf("copy seed readings: %w", err)
					return
				}
				done.Add(n)
			}
		}()
	}
	wg.Wait()
	stop()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	res.Rows = done.Load()
	res.LoadSeconds = round2(time.Since(start).Seconds())
	res.RowsPerSec = math.Round(float64(res.Rows) / time.Since(start).Seconds())
	o.Logger.Info("seed readings loaded; materialising the downsampled series", "rows", res.Rows, "rows_per_sec", res.RowsPerSec)
	t0 := time.Now()
	if err := store.Materialize(ctx, from, to.Add(time.Minute)); err != nil {
		return nil, err
	}
	res.RollupSeconds = round2(time.Since(t0).Seconds())
	return res, nil
}

// seedTemp is a unit's temperature: a compressor cycle around the setpoint,
// a door opening now and then, and for one fridge in fifty a two-hour
// excursion every third day.
func seedTemp(sensor int, at time.Time) float64 {
	minutes := float64(at.Unix()) / 60
	phase := float64(sensor%37) / 37 * 2 * math.Pi
	if (sensor+1)%5 == 0 { // freezers
		return round2(-18 + 1.5*math.Sin(2*math.Pi*minutes/40+phase))
	}
	t := 3 + 0.9*math.Sin(2*math.Pi*minutes/20+phase)
	if int(minutes+float64(sensor*13))%97 == 0 {
		t += 3
	}
	if sensor%50 == 7 && at.YearDay()%3 == 0 && at.Hour() >= 14 && at.Hour() < 16 {
		t += 6
	}
	return round2(t)
}
