package compliance_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/compliance"
	"github.com/freshtrack/freshtrack/query/querytest"
)

// benchSite seeds a site of units reading every minute for days, every
// other unit with two probes (one a degree warmer than the other) unless
// oneProbe, a slow sine so that every unit crosses its safe maximum a few
// times a day, and returns the report's parameters.
func benchSite(b *testing.B, units, days int, oneProbe bool) (*querytest.DB, compliance.HACCPParams, int) {
	b.Helper()
	db := querytest.New(b)
	org := db.Org("bench")
	site := db.Site(org, "Kitchen", "Europe/Berlin")
	from := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	start, end := from.Add(-2*time.Hour), from.AddDate(0, 0, days).Add(2*time.Hour)
	var n int
	for u := 0; u < units; u++ {
		unit := db.Unit(org, site, fmt.Sprintf("Unit %02d", u), "walk_in", 0, 5)
		probes := 1 + u%2
		if oneProbe {
			probes = 1
		}
		for p := 0; p < probes; p++ {
			s, _ := db.Sensor(org, unit, fmt.Sprintf("u%02d-p%d", u, p))
			var rs []querytest.Reading
			for at, i := start, 0; at.Before(end); at, i = at.Add(time.Minute), i+1 {
				temp := 3.5 + 2*math.Sin(float64(i+u*37)/180) + float64(p)
				rs = append(rs, querytest.R(s, at, math.Round(temp*10)/10))
			}
			db.MustWrite(rs...)
			n += len(rs)
		}
	}
	db.Exec(`ANALYZE`)
	return db, compliance.HACCPParams{OrgID: org, SiteID: site, From: from, To: from.AddDate(0, 0, days-1),
		Now: func() time.Time { return from.AddDate(0, 0, days+1) }}, n
}

func benchHACCP(b *testing.B, units, days int, oneProbe bool) {
	db, p, n := benchSite(b, units, days, oneProbe)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := compliance.HACCP(ctx, db.Pool, p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/reading")
}

// BenchmarkHACCPWeek: a one-week report of a 20-unit site (30 probes,
// 305,000 readings).
func BenchmarkHACCPWeek(b *testing.B) { benchHACCP(b, 20, 7, false) }

// BenchmarkHACCPWeekOneProbe: the same site with one probe per unit
// (20 probes, 203,000 readings).
func BenchmarkHACCPWeekOneProbe(b *testing.B) { benchHACCP(b, 20, 7, true) }

// BenchmarkHACCPMonth: a one-month report of a 4-unit site (6 probes,
// 260,000 readings).
func BenchmarkHACCPMonth(b *testing.B) { benchHACCP(b, 4, 30, false) }
