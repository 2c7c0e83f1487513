package query_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/query"
	"github.com/freshtrack/freshtrack/query/querytest"
	"github.com/freshtrack/freshtrack/schema"
)

var modes = []schema.Mode{schema.Postgres, schema.Timescale}

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// expectBuckets computes a resolution's buckets straight from readings with
// SQL that shares nothing with Series: date_bin for 5m and 1h, PostgreSQL's
// own time-zone rules (date_trunc on local time) for days.
func expectBuckets(t *testing.T, db *querytest.DB, sensors []int64, res, tz string, from, to time.Time) []query.Bucket {
	t.Helper()
	var sql string
	switch res {
	case query.Resolution5m, query.Resolution1h:
		width := map[string]string{query.Resolution5m: "5 minutes", query.Resolution1h: "1 hour"}[res]
		sql = `SELECT date_bin('` + width + `', time, timestamptz '2000-01-01Z') AS b, min(temp_c), max(temp_c), avg(temp_c), count(*)
		         FROM readings WHERE sensor_id = ANY($1) AND time >= $2 AND time < $3 GROUP BY 1 ORDER BY 1`
	case query.Resolution1d:
		sql = `SELECT (date_trunc('day', time AT TIME ZONE '` + tz + `') AT TIME ZONE '` + tz + `') AS b, min(temp_c), max(temp_c), avg(temp_c), count(*)
		         FROM readings WHERE sensor_id = ANY($1) AND time >= $2 AND time < $3 GROUP BY 1 ORDER BY 1`
	}
	rows, err := db.Pool.Query(context.Background(), sql, sensors, from, to)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (query.Bucket, error) {
		var b query.Bucket
		err := r.Scan(&b.Start, &b.MinC, &b.MaxC, &b.AvgC, &b.Count)
		b.Start = b.Start.UTC()
		return b, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameBuckets(t *testing.T, label string, got, want []query.Bucket) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d buckets, want %d\n got %+v\nwant %+v", label, len(got), len(want), got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		// The average is rounded to AvgResolution (0.01 °C).
		if !g.Start.Equal(w.Start) || g.MinC != w.MinC || g.MaxC != w.MaxC || g.Count != w.Count || math.Abs(g.AvgC-w.AvgC) > query.AvgResolution/2+1e-9 {
			t.Fatalf("%s: bucket %d = %+v, want %+v", label, i, g, w)
		}
		if !g.End.After(g.Start) {
			t.Fatalf("%s: bucket %d ends at %v, before its start", label, i, g.End)
		}
	}
}

// checkAll compares every resolution of Series with SQL over readings, for
// several ranges: whole history, ranges starting and ending mid-bucket,
// and ranges around the watermark.
func checkAll(t *testing.T, db *querytest.DB, org, unit string, sensors []int64, now time.Time, label string, extra ...time.Time) {
	t.Helper()
	ctx := context.Background()
	ranges := [][2]time.Time{
		{now.Add(-80 * time.Hour), now.Add(time.Hour)},
		{now.Add(-49*time.Hour - 7*time.Minute), now.Add(-3*time.Hour + 13*time.Minute)},
		{now.Add(-5*time.Hour - 2*time.Minute), now.Add(2 * time.Minute)},
	}
	for _, e := range extra {
		ranges = append(ranges, [2]time.Time{e.Add(-2*time.Hour - 3*time.Minute), e.Add(47 * time.Minute)})
	}
	for _, rg := range ranges {
		for _, res := range []string{query.Resolution5m, query.Resolution1h, query.Resolution1d, query.ResolutionRaw} {
			if res == query.ResolutionRaw && rg[1].Sub(rg[0]) > query.MaxRawRange {
				continue
			}
			s, err := query.Series(ctx, db.Pool, query.SeriesParams{OrgID: org, UnitID: unit, From: rg[0], To: rg[1], Resolution: res, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatalf("%s %s %v: %v", label, res, rg, err)
			}
			if res == query.ResolutionRaw {
				var n int
				if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM readings WHERE sensor_id = ANY($1) AND time >= $2 AND time < $3`,
					sensors, rg[0], rg[1]).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if len(s.Points) != n {
					t.Fatalf("%s raw %v: %d points, want %d", label, rg, len(s.Points), n)
				}
				for i := 1; i < len(s.Points); i++ {
					if s.Points[i].Time.Before(s.Points[i-1].Time) {
						t.Fatalf("%s raw: points out of order at %d", label, i)
					}
				}
				continue
			}
			want := expectBuckets(t, db, sensors, res, "Europe/Berlin", s.From, s.To)
			sameBuckets(t, label+" "+res+" "+rg[0].Format(time.RFC3339)+"…"+rg[1].Format(time.RFC3339), s.Buckets, want)
			if s.From.After(rg[0]) || s.To.Before(rg[1]) {
				t.Fatalf("%s %s: covered [%v, %v) does not contain the request %v", label, res, s.From, s.To, rg)
			}
		}
	}
}

// TestSeriesMatchesReadings is the property test of the read path: random
// readings from two sensors of a unit (plus a neighbour's that must not
// leak in), batches refused for a duplicate, late readings into
// materialised buckets, and readings after the watermark; after every step
// each resolution equals aggregates computed straight from readings. The
// refresh times put the watermark in the middle of an hour and of a day.
func TestSeriesMatchesReadings(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			db := querytest.New(t, pgtest.WithMode(mode))
			org := db.Org("property")
			site := db.Site(org, "Berlin", "Europe/Berlin")
			unit := db.Unit(org, site, "Walk-in", "walk_in", 0, 5)
			other := db.Unit(org, site, "Other", "fridge", 0, 5)
			s1, _ := db.Sensor(org, unit, "a")
			s2, _ := db.Sensor(org, unit, "b")
			s3, _ := db.Sensor(org, other, "c")
			sensors := []int64{s1, s2}
			rng := rand.New(rand.NewPCG(7, uint64(len(mode))))
			now := time.Date(2026, 3, 29, 14, 0, 0, 0, time.UTC) // a 23-hour day in Berlin
			used := map[[2]int64]bool{}
			batch := func(from time.Time, span time.Duration, n int) []querytest.Reading {
				var rs []querytest.Reading
				for len(rs) < n {
					id := []int64{s1, s2, s3}[rng.IntN(3)]
					at := from.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Second)
					if used[[2]int64{id, at.Unix()}] {
						continue
					}
					used[[2]int64{id, at.Unix()}] = true
					rs = append(rs, querytest.R(id, at, math.Round((rng.Float64()*14-4)*10)/10))
				}
				return rs
			}
			// 1. History up to t1, nothing materialised yet: all from readings.
			t1 := now.Add(-4*time.Hour - 23*time.Minute)
			for range 5 {
				db.MustWrite(batch(now.Add(-78*time.Hour), t1.Sub(now.Add(-78*time.Hour)), 300)...)
			}
			checkAll(t, db, org, unit, sensors, now, "unmaterialised")

			// 2. Refresh in the middle of an hour: rollups below, readings above.
			db.Refresh(t1)
			if w := db.Watermark(); !w.Equal(t1.Add(-time.Minute).Truncate(schema.Bucket5m)) || w.Truncate(time.Hour).Equal(w) {
				t.Fatalf("watermark %v: want mid-hour %v", w, t1.Add(-time.Minute).Truncate(schema.Bucket5m))
			}
			checkAll(t, db, org, unit, sensors, now, "materialised", t1)

			// 3. Readings after the watermark show at once (the raw tail),
			// including ones inside the 5-minute bucket and hour it cuts.
			w1 := t1.Add(-time.Minute).Truncate(schema.Bucket5m)
			db.MustWrite(batch(w1, now.Sub(w1), 200)...)
			checkAll(t, db, org, unit, sensors, now, "tail", t1)

			// 4. A batch with a duplicate is refused whole; nothing changes.
			dup := batch(now.Add(-30*time.Hour), time.Hour, 20)
			var existing querytest.Reading
			for k := range used {
				if k[0] == s1 && time.Unix(k[1], 0).Before(t1) {
					existing = querytest.R(s1, time.Unix(k[1], 0).UTC(), 99)
					break
				}
			}
			err := db.Write(append(dup, existing))
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
				t.Fatalf("batch with a duplicate = %v, want unique violation", err)
			}
			for _, r := range dup {
				delete(used, [2]int64{r.Sensor, r.Time.Unix()})
			}

			// 5. Late readings two days back, into materialised buckets; a
			// refresh in the middle of another hour and day folds them in.
			db.MustWrite(batch(now.Add(-50*time.Hour), 3*time.Hour, 150)...)
			t2 := now.Add(-97 * time.Minute)
			db.Refresh(t2)
			checkAll(t, db, org, unit, sensors, now, "late", t1, t2)

			// 6. Everything materialised.
			db.Refresh(now.Add(2 * time.Hour))
			checkAll(t, db, org, unit, sensors, now, "all materialised")
		})
	}
}

// TestSeriesLateReading: a reading hours late shows in every resolution,
// at once when it falls after the watermark and after the next refresh when
// it falls before it.
func TestSeriesLateReading(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			db := querytest.New(t, pgtest.WithMode(mode))
			ctx := context.Background()
			org := db.Org("late")
			site := db.Site(org, "Site", "UTC")
			unit := db.Unit(org, site, "Fridge", "fridge", 0, 5)
			s, _ := db.Sensor(org, unit, "late-1")
			now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
			var rs []querytest.Reading
			for at := now.Add(-12 * time.Hour); at.Before(now); at = at.Add(time.Minute) {
				rs = append(rs, querytest.R(s, at, 3))
			}
			db.MustWrite(rs...)
			db.Refresh(now.Add(-2 * time.Hour))

			late := now.Add(-5*time.Hour + 30*time.Second) // before the watermark
			tail := now.Add(-time.Hour + 30*time.Second)   // after it
			db.MustWrite(querytest.R(s, late, 11.5), querytest.R(s, tail, -2.5))

			peak := func(res string, at time.Time) (float64, float64, bool) {
				t.Helper()
				out, err := query.Series(ctx, db.Pool, query.SeriesParams{OrgID: org, UnitID: unit, From: now.Add(-6 * time.Hour), To: now, Resolution: res, Now: func() time.Time { return now }})
				if err != nil {
					t.Fatal(err)
				}
				if res == query.ResolutionRaw {
					for _, p := range out.Points {
						if p.Time.Equal(at) {
							return p.TempC, p.TempC, true
						}
					}
					return 0, 0, false
				}
				for _, b := range out.Buckets {
					if !at.Before(b.Start) && at.Before(b.End) {
						return b.MaxC, b.MinC, true
					}
				}
				return 0, 0, false
			}
			for _, res := range []string{query.ResolutionRaw, query.Resolution5m, query.Resolution1h, query.Resolution1d} {
				if _, lo, ok := peak(res, tail); !ok || lo != -2.5 {
					t.Fatalf("%s: reading after the watermark not shown at once (min %v, found %v)", res, lo, ok)
				}
			}
			if hi, _, _ := peak(query.Resolution1h, late); hi == 11.5 {
				t.Fatalf("late reading before the watermark shown before a refresh; the test no longer covers the refresh")
			}
			db.Refresh(now)
			for _, res := range []string{query.ResolutionRaw, query.Resolution5m, query.Resolution1h, query.Resolution1d} {
				if hi, _, ok := peak(res, late); !ok || hi != 11.5 {
					t.Fatalf("%s: late reading missing after the refresh (max %v, found %v)", res, hi, ok)
				}
			}
		})
	}
}

// TestSeriesDaysAcrossDST: day buckets follow the site's local days,
// 23 hours on 2026-03-29 and 25 hours on 2026-10-25 in Berlin; Kolkata's
// +05:30 days are folded from 5-minute rows.
func TestSeriesDaysAcrossDST(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			db := querytest.New(t, pgtest.WithMode(mode))
			ctx := context.Background()
			org := db.Org("dst")
			berlin := db.Site(org, "Berlin", "Europe/Berlin")
			kolkata := db.Site(org, "Kolkata", "Asia/Kolkata")
			ub := db.Unit(org, berlin, "B", "fridge", 0, 5)
			uk := db.Unit(org, kolkata, "K", "fridge", 0, 5)
			sb, _ := db.Sensor(org, ub, "dst-b")
			sk, _ := db.Sensor(org, uk, "dst-k")
			var rs []querytest.Reading
			for _, span := range [][2]time.Time{
				{time.Date(2026, 3, 27, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)},
				{time.Date(2026, 10, 23, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 28, 0, 0, 0, 0, time.UTC)},
			} {
				for at := span[0]; at.Before(span[1]); at = at.Add(10 * time.Minute) {
					rs = append(rs, querytest.R(sb, at, 2), querytest.R(sk, at, 3))
				}
			}
			db.MustWrite(rs...)
			ber, kol := mustLoad(t, "Europe/Berlin"), mustLoad(t, "Asia/Kolkata")
			type day struct {
				start, end time.Time
				count      int64
			}
			cases := []struct {
				name   string
				unit   string
				loc    *time.Location
				from   time.Time
				to     time.Time
				expect []day
			}{
				{"berlin spring", ub, nil, time.Date(2026, 3, 28, 12, 0, 0, 0, ber), time.Date(2026, 3, 30, 12, 0, 0, 0, ber), []day{
					{time.Date(2026, 3, 27, 23, 0, 0, 0, time.UTC), time.Date(2026, 3, 28, 23, 0, 0, 0, time.UTC), 144},
					{time.Date(2026, 3, 28, 23, 0, 0, 0, time.UTC), time.Date(2026, 3, 29, 22, 0, 0, 0, time.UTC), 138},
					{time.Date(2026, 3, 29, 22, 0, 0, 0, time.UTC), time.Date(2026, 3, 30, 22, 0, 0, 0, time.UTC), 144},
				}},
				{"berlin autumn", ub, ber, time.Date(2026, 10, 25, 0, 0, 0, 0, ber), time.Date(2026, 10, 26, 0, 0, 0, 0, ber), []day{
					{time.Date(2026, 10, 24, 22, 0, 0, 0, time.UTC), time.Date(2026, 10, 25, 23, 0, 0, 0, time.UTC), 150},
				}},
				{"kolkata half hour", uk, nil, time.Date(2026, 3, 28, 0, 0, 0, 0, kol), time.Date(2026, 3, 30, 0, 0, 0, 0, kol), []day{
					{time.Date(2026, 3, 27, 18, 30, 0, 0, time.UTC), time.Date(2026, 3, 28, 18, 30, 0, 0, time.UTC), 144},
					{time.Date(2026, 3, 28, 18, 30, 0, 0, time.UTC), time.Date(2026, 3, 29, 18, 30, 0, 0, time.UTC), 144},
				}},
			}
			for _, phase := range []string{"from readings", "from rollups"} {
				if phase == "from rollups" {
					db.Refresh(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
				}
				for _, c := range cases {
					s, err := query.Series(ctx, db.Pool, query.SeriesParams{OrgID: org, UnitID: c.unit, From: c.from, To: c.to, Resolution: query.Resolution1d, Location: c.loc})
					if err != nil {
						t.Fatal(err)
					}
					if len(s.Buckets) != len(c.expect) {
						t.Fatalf("%s %s: %d buckets %+v, want %d", phase, c.name, len(s.Buckets), s.Buckets, len(c.expect))
					}
					for i, e := range c.expect {
						b := s.Buckets[i]
						if !b.Start.Equal(e.start) || !b.End.Equal(e.end) || b.Count != e.count {
							t.Fatalf("%s %s: day %d = [%v, %v) × %d, want [%v, %v) × %d", phase, c.name, i, b.Start, b.End, b.Count, e.start, e.end, e.count)
						}
					}
					if len(s.Gaps) != 0 {
						t.Fatalf("%s %s: gaps %+v in complete data", phase, c.name, s.Gaps)
					}
				}
			}
		})
	}
}

// TestSeriesAverageRounded: a bucket's average has no more digits than the
// readings it averages (0.01 °C), and prints so in JSON.
func TestSeriesAverageRounded(t *testing.T) {
	t.Parallel()
	db := querytest.New(t)
	org := db.Org("avg")
	site := db.Site(org, "Site", "UTC")
	unit := db.Unit(org, site, "Fridge", "fridge", 0, 5)
	s, _ := db.Sensor(org, unit, "avg-1")
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	db.MustWrite(querytest.R(s, start, 3), querytest.R(s, start.Add(time.Minute), 3), querytest.R(s, start.Add(2*time.Minute), 3.5),
		querytest.R(s, start.Add(5*time.Minute), -0.01), querytest.R(s, start.Add(6*time.Minute), 0.004))
	series, err := query.Series(context.Background(), db.Pool, query.SeriesParams{OrgID: org, UnitID: unit, From: start, To: start.Add(10 * time.Minute),
		Resolution: query.Resolution5m, Now: func() time.Time { return start.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(series.Buckets)
	if err != nil {
		t.Fatal(err)
	}
	if len(series.Buckets) != 2 || !strings.Contains(string(b), `"avg_c":3.17,`) || !strings.Contains(string(b), `"avg_c":0,`) {
		t.Fatalf("buckets %s, want averages 3.17 and 0 (not -0.003)", b)
	}
}

func TestSeriesGaps(t *testing.T) {
	t.Parallel()
	db := querytest.New(t)
	ctx := context.Background()
	org := db.Org("gaps")
	site := db.Site(org, "Site", "UTC")
	unit := db.Unit(org, site, "Fridge", "fridge", 0, 5)
	s, _ := db.Sensor(org, unit, "g-1")
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	var rs []querytest.Reading
	for at := start; at.Before(start.Add(6 * time.Hour)); at = at.Add(time.Minute) {
		// silent from 02:00 to 03:10 and from 05:00 on
		if (at.Before(start.Add(2*time.Hour)) || !at.Before(start.Add(3*time.Hour+10*time.Minute))) && at.Before(start.Add(5*time.Hour)) {
			rs = append(rs, querytest.R(s, at, 3))
		}
	}
	db.MustWrite(rs...)
	now := start.Add(5*time.Hour + 32*time.Minute)

	hourly, err := query.Series(ctx, db.Pool, query.SeriesParams{OrgID: org, UnitID: unit, From: start, To: start.Add(8 * time.Hour), Resolution: query.Resolution1h, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	// Hour 02 is empty; hour 05 is current (not yet a gap); 06, 07 future.
	want := []query.Gap{{Start: start.Add(2 * time.Hour), End: start.Add(3 * time.Hour), Seconds: 3600}}
	if len(hourly.Gaps) != 1 || hourly.Gaps[0] != want[0] || len(hourly.Buckets) != 4 {
		t.Fatalf("hourly gaps %+v, %d buckets; want %+v and 4 buckets", hourly.Gaps, len(hourly.Buckets), want)
	}

	raw, err := query.Series(ctx, db.Pool, query.SeriesParams{OrgID: org, UnitID: unit, From: start.Add(90 * time.Minute), To: start.Add(6 * time.Hour), Resolution: query.ResolutionRaw, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	wantRaw := []query.Gap{
		{Start: start.Add(2*time.Hour - time.Minute), End: start.Add(3*time.Hour + 10*time.Minute), Seconds: 71 * 60},
		{Start: start.Add(5*time.Hour - time.Minute), End: now, Seconds: 33 * 60},
	}
	if raw.GapThresholdSeconds != 180 || len(raw.Gaps) != 2 || raw.Gaps[0] != wantRaw[0] || raw.Gaps[1] != wantRaw[1] {
		t.Fatalf("raw gaps %+v (threshold %vs), want %+v (180s)", raw.Gaps, raw.GapThresholdSeconds, wantRaw)
	}
}

func TestSeriesValidation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := querytest.New(t)
	org := db.Org("validation")
	site := db.Site(org, "Site", "UTC")
	unit := db.Unit(org, site, "Fridge", "fridge", 0, 5)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		p     query.SeriesParams
		field string
	}{
		{query.SeriesParams{From: at, To: at}, "to"},
		{query.SeriesParams{From: at, To: at.Add(-time.Hour)}, "to"},
		{query.SeriesParams{To: at}, "from"},
		{query.SeriesParams{From: at}, "to"},
		{query.SeriesParams{From: at, To: at.Add(401 * 24 * time.Hour)}, "to"},
		{query.SeriesParams{From: at, To: at.Add(time.Hour), Resolution: "2m"}, "resolution"},
		{query.SeriesParams{From: at, To: at.Add(8 * 24 * time.Hour), Resolution: "raw"}, "resolution"},
	} {
		c.p.OrgID, c.p.UnitID = org, unit
		_, err := query.Series(ctx, db.Pool, c.p)
		var ve *query.ValidationError
		if !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("%+v: error %v, want a validation error on %s", c.p, err, c.field)
		}
	}
	for span, want := range map[time.Duration]string{
		6 * time.Hour: "raw", 24 * time.Hour: "5m", 7 * 24 * time.Hour: "1h", 30 * 24 * time.Hour: "1h", 90 * 24 * time.Hour: "1d",
	} {
		s, err := query.Series(ctx, db.Pool, query.SeriesParams{OrgID: org, UnitID: unit, From: at, To: at.Add(span)})
		if err != nil || s.Resolution != want {
			t.Errorf("auto over %v = %v, %v; want %s", span, s, err, want)
		}
	}
}

// TestSeriesTenantIsolation: another organisation's unit, a missing one
// and a malformed id are all ErrNotFound, and never data.
func TestSeriesTenantIsolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := querytest.New(t)
	a, b := db.Org("a"), db.Org("b")
	sb := db.Site(b, "B site", "UTC")
	ub := db.Unit(b, sb, "B fridge", "fridge", 0, 5)
	sensor, _ := db.Sensor(b, ub, "shared-name")
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	db.MustWrite(querytest.R(sensor, at, 4))
	for _, id := range []string{ub, "00000000-0000-0000-0000-000000000000", "not-a-uuid", ""} {
		for _, res := range []string{"raw", "5m", "1d"} {
			s, err := query.Series(ctx, db.Pool, query.SeriesParams{OrgID: a, UnitID: id, From: at, To: at.Add(time.Hour), Resolution: res})
			if !errors.Is(err, query.ErrNotFound) || s != nil {
				t.Fatalf("org a reading unit %q (%s) = %+v, %v; want ErrNotFound", id, res, s, err)
			}
		}
	}
	s, err := query.Series(ctx, db.Pool, query.SeriesParams{OrgID: b, UnitID: ub, From: at, To: at.Add(time.Hour), Resolution: "raw"})
	if err != nil || len(s.Points) != 1 {
		t.Fatalf("own unit: %+v, %v", s, err)
	}
}
