package compliance_test

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/compliance"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/query/querytest"
	"github.com/freshtrack/freshtrack/schema"
)

// TestHACCPPackedHoursAreExact: a report that reads the packed hours
// (reading_hours) is the report read from readings alone, byte for byte of
// its content, in both storage modes: before the first refresh (nothing
// packed), after it, with a late reading not yet packed, after it is
// packed, and with the oldest hours pruned. The site is in Kathmandu
// (+05:45), so its days begin inside UTC hours; the probes report every
// 30 s to 10 min, go silent, report error codes, and cross the limits at
// and around hour boundaries.
func TestHACCPPackedHoursAreExact(t *testing.T) {
	t.Parallel()
	for _, mode := range []schema.Mode{schema.Postgres, schema.Timescale} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			db := querytest.New(t, pgtest.WithMode(mode))
			ctx := context.Background()
			org := db.Org("packed")
			site := db.Site(org, "Thamel kitchen", "Asia/Kathmandu")
			day := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
			from, to := day.Add(-6*time.Hour), day.Add(78*time.Hour)
			series := func(sensor int64, every time.Duration, temp func(time.Time, int) float64) {
				var rs []querytest.Reading
				for at, i := from, 0; at.Before(to); at, i = at.Add(every), i+1 {
					if v := temp(at, i); !math.IsNaN(v) {
						rs = append(rs, querytest.R(sensor, at, v))
					}
				}
				db.MustWrite(rs...)
			}
			// One probe a minute, warm for 7 minutes across every fifth
			// hour boundary, silent for 40 minutes once, one stored fault
			// code, and error codes for ten minutes.
			fridge := db.Unit(org, site, "Fridge", "fridge", 0, 5)
			f1, _ := db.Sensor(org, fridge, "fridge-1")
			series(f1, time.Minute, func(at time.Time, i int) float64 {
				switch m := at.Minute(); {
				case at.Hour()%5 == 0 && (m < 4 || m >= 57):
					return 6.5
				case at.After(day.Add(30*time.Hour)) && at.Before(day.Add(30*time.Hour+40*time.Minute)):
					return math.NaN()
				case at.Equal(day.Add(50 * time.Hour)):
					return 327.67
				}
				return 3 + math.Sin(float64(i)/30)
			})
			for at := day.Add(60 * time.Hour); at.Before(day.Add(60*time.Hour + 10*time.Minute)); at = at.Add(time.Minute) {
				db.Exec(`INSERT INTO sensor_faults (sensor_id, time, code) VALUES ($1, $2, 327.67)`, f1, at.Add(30*time.Second))
			}
			// Two probes, every 30 s and every 7 minutes; the slow one runs
			// warm now and then.
			walkIn := db.Unit(org, site, "Walk-in", "walk_in", 0, 5)
			w1, _ := db.Sensor(org, walkIn, "walk-in-door")
			w2, _ := db.Sensor(org, walkIn, "walk-in-back")
			series(w1, 30*time.Second, func(_ time.Time, i int) float64 { return 2 + float64(i%7)/10 })
			series(w2, 7*time.Minute, func(_ time.Time, i int) float64 {
				if i%23 == 0 {
					return 5.5
				}
				return 4
			})
			// A freezer reporting every 10 minutes, with a jitter.
			freezer := db.Unit(org, site, "Freezer", "freezer", -30, -15)
			z1, _ := db.Sensor(org, freezer, "freezer-1")
			var rs []querytest.Reading
			for at, i := from, 0; at.Before(to); at, i = at.Add(10*time.Minute), i+1 {
				rs = append(rs, querytest.R(z1, at.Add(time.Duration(i%5)*7*time.Second), -18+float64(i%9)/3))
			}
			db.MustWrite(rs...)

			now := day.Add(5 * 24 * time.Hour)
			p := compliance.HACCPParams{OrgID: org, SiteID: site, From: day, To: day.Add(48 * time.Hour), Now: func() time.Time { return now }}
			report := func(what string) *compliance.Report {
				t.Helper()
				r, err := compliance.HACCP(ctx, db.Pool, p)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				return r
			}
			same := func(what string, got, want *compliance.Report) {
				t.Helper()
				if got.Header.ContentSHA256 != want.Header.ContentSHA256 {
					g, _ := json.Marshal(got.Units)
					w, _ := json.Marshal(want.Units)
					t.Fatalf("%s: the report differs from the one read from readings\n got %.600s\nwant %.600s", what, g, w)
				}
			}
			packedHours := func() int {
				var n int
				if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM reading_hours`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}

			raw := report("before the first refresh")
			for _, u := range raw.Units {
				if u.Name == "Fridge" && (u.Summary.Readings < 2800 || len(u.Excursions) < 5 || len(u.Gaps) < 2) {
					t.Fatalf("the trace is too tame: %d readings, %d excursions, %d gaps", u.Summary.Readings, len(u.Excursions), len(u.Gaps))
				}
			}
			db.Refresh(now)
			if n := packedHours(); n < 3*84 {
				t.Fatalf("%d packed hours after the refresh", n)
			}
			querytest.SameAsReadings(t, db.Pool)
			same("packed", report("packed"), raw)
			// Through the simple protocol (rows in text, as some poolers
			// send them) the packed hours decode the same.
			cfg := db.Pool.Config().Copy()
			cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
			simple, err := pgxpool.NewWithConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer simple.Close()
			text, err := compliance.HACCP(ctx, simple, p)
			if err != nil {
				t.Fatal(err)
			}
			same("packed, read as text", text, raw)

			// A late warm reading in a packed hour: read from readings until
			// the refresh packs it again.
			db.MustWrite(querytest.R(z1, day.Add(20*time.Hour+5*time.Minute), -5))
			late := report("late reading pending")
			if late.Header.ContentSHA256 == raw.Header.ContentSHA256 {
				t.Fatal("the late reading changed nothing")
			}
			db.Exec(`UPDATE rollup_state SET hours_through = '-infinity'`)
			same("late reading pending", late, report("late, read from readings"))
			db.Refresh(now)
			querytest.SameAsReadings(t, db.Pool)
			same("late reading packed", report("late reading packed"), late)

			// Retention (which in postgres mode drops the first days'
			// partitions) prunes the packed hours too, and those are read
			// from what readings still hold.
			if _, err := db.Store.ApplyRetention(ctx, day.Add(24*time.Hour+30*time.Minute).AddDate(1, 0, 0), 365*24*time.Hour); err != nil {
				t.Fatal(err)
			}
			var oldest time.Time
			if err := db.Pool.QueryRow(ctx, `SELECT min(hour) FROM reading_hours`).Scan(&oldest); err != nil || oldest.Before(day.Add(24*time.Hour)) {
				t.Fatalf("oldest packed hour after retention: %s (%v)", oldest, err)
			}
			pruned := report("pruned")
			db.Exec(`UPDATE rollup_state SET hours_through = '-infinity'`)
			same("oldest hours pruned", pruned, report("pruned, read from readings"))
		})
	}
}
