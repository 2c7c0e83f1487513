package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/freshtrack/freshtrack/bench"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// TestQuerySmoke seeds a tiny history and runs every query type of the
// dashboard workload a few times against it.
func TestQuerySmoke(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDBURL(t)
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	seed, err := bench.Seed(ctx, bench.SeedOptions{DatabaseURL: url, Sensors: 12, UnitsPerSite: 6, Days: 3, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	res, err := bench.RunQuery(ctx, bench.QueryOptions{DatabaseURL: url, Iterations: 5, HACCPIterations: 2, Concurrency: 2,
		HACCPUnits: 4, HACCPDays: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if res.OrgID != seed.OrgID || res.Sites != 2 || res.Units != 12 || res.UnitsPerSite != 6 || res.HACCPUnits != 4 || res.Storage != string(pgtest.DefaultMode()) {
		t.Fatalf("result %+v", res)
	}
	names := []string{"series_24h", "series_7d", "series_30d", "latest_site", "haccp_month"}
	if len(res.Queries) != len(names) {
		t.Fatalf("queries %+v", res.Queries)
	}
	for i, q := range res.Queries {
		wantCount := 5
		if q.Name == "haccp_month" {
			wantCount = 2
		}
		if q.Name != names[i] || q.Count != wantCount || q.Errors != 0 || q.PerSec <= 0 || q.Latency.P99 <= 0 || q.Detail == "" {
			t.Fatalf("query stats %+v", q)
		}
	}
	if d := res.Queries[0].Detail; !strings.HasPrefix(d, "5m, ") {
		t.Fatalf("24-hour series at %q, want 5-minute buckets", d)
	}
	if d := res.Queries[3].Detail; d != "6 units" {
		t.Fatalf("latest per site returns %q", d)
	}
	if d := res.Queries[4].Detail; !strings.HasPrefix(d, "4 units × 2 days, ") || strings.HasSuffix(d, " 0 readings") {
		t.Fatalf("haccp returns %q", d)
	}
	var buf bytes.Buffer
	if err := bench.WriteQuerySummary(&buf, res); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if !strings.Contains(buf.String(), n) {
			t.Fatalf("summary lacks %s:\n%s", n, buf.String())
		}
	}
	if _, err := json.Marshal(res); err != nil {
		t.Fatal(err)
	}
}
