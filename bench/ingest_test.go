package bench_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/bench"
	"github.com/freshtrack/freshtrack/internal/pgtest"
)

// TestIngestSmoke runs a short bench ingest with the ceiling against a test
// database and checks that every row the server claimed was accepted is in
// the table, and that the result JSON carries the numbers.
func TestIngestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "freshtrack")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/freshtrack").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	url, pool := pgtest.NewDBURL(t)
	res, err := bench.RunIngest(context.Background(), bench.IngestOptions{
		DatabaseURL:  url,
		ServerBinary: bin,
		Sensors:      100,
		Batch:        200,
		Concurrency:  4,
		Rows:         20_000,
		Runs:         2,
		Ceiling:      true,
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	var stored int
	if err := pool.QueryRow(context.Background(), `
		SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id WHERE s.org_id = $1`, res.OrgID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 40_000 || stored != res.Accepted {
		t.Fatalf("server accepted %d, table holds %d; want 40000 and 40000", res.Accepted, stored)
	}
	if len(res.Runs) != 4 || res.Runs[0].Kind != "ceiling" || res.Runs[1].Kind != "ingest" {
		t.Fatalf("runs = %+v", res.Runs)
	}
	for _, r := range res.Runs {
		if r.RowsPerSec <= 0 || r.Rows != 20_000 {
			t.Fatalf("run %+v has no rate", r)
		}
		if r.Kind == "ingest" && (r.Latency == nil || r.Latency.P99 <= 0 || r.Requests != 100 || r.ServerPeakRSS <= 0) {
			t.Fatalf("ingest run lacks measurements: %+v", r)
		}
	}
	if res.Ratio == nil || res.Ratio.Median <= 0 {
		t.Fatalf("no ratio: %+v", res.Ratio)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil || back["ratio"] == nil || back["machine"] == nil {
		t.Fatalf("result JSON %s", b)
	}
}

// TestAlertsSmoke provokes a few alerts under a light background load and
// checks that each became an alert with its notification.
func TestAlertsSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "freshtrack")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/freshtrack").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	url, _ := pgtest.NewDBURL(t)
	res, err := bench.RunAlerts(context.Background(), bench.AlertsOptions{
		DatabaseURL: url, ServerBinary: bin, Units: 20, Rate: 2000, Batch: 20, Excursions: 5, Every: 50 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Opened != 5 || res.Latency.P99 <= 0 {
		t.Fatalf("result = %+v", res)
	}
}
