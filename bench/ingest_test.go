package bench_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/bench"
	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/schema"
)

var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
	out  []byte
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		_ = os.RemoveAll(binary.dir)
	}
	os.Exit(code)
}

// freshtrackBinary builds the freshtrack binary once for the package's tests.
func freshtrackBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	binary.once.Do(func() {
		// Not t.TempDir: the binary outlives the test that builds it.
		if binary.dir, binary.err = os.MkdirTemp("", "freshtrack-bench-test"); binary.err != nil {
			return
		}
		binary.path = filepath.Join(binary.dir, "freshtrack")
		binary.out, binary.err = exec.Command("go", "build", "-o", binary.path, "../cmd/freshtrack").CombinedOutput()
	})
	if binary.err != nil {
		t.Fatalf("build: %v\n%s", binary.err, binary.out)
	}
	return binary.path
}

// TestIngestSmoke runs a short bench ingest with the raw limit in each
// storage mode and workload, and checks that every row the server claimed
// was accepted is in the table, that a live fleet's readings are recent and
// were all evaluated, and that the result JSON carries the numbers.
func TestIngestSmoke(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode     schema.Mode
		workload string
	}{
		{schema.Postgres, bench.WorkloadLive},
		{schema.Timescale, bench.WorkloadLive},
		{schema.Postgres, bench.WorkloadOld},
	} {
		t.Run(string(tc.mode)+"/"+tc.workload, func(t *testing.T) {
			t.Parallel()
			bin := freshtrackBinary(t)
			url, pool := pgtest.NewDBURL(t, pgtest.WithMode(tc.mode))
			ctx := context.Background()
			started := time.Now()
			res, err := bench.RunIngest(ctx, bench.IngestOptions{
				DatabaseURL:  url,
				ServerBinary: bin,
				Workload:     tc.workload,
				Sensors:      100,
				Batch:        200,
				Concurrency:  4,
				Rows:         20_000,
				Runs:         2,
				RawLimit:     true,
				Logger:       slog.New(slog.DiscardHandler),
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Storage != string(tc.mode) || res.Workload != tc.workload {
				t.Fatalf("result is for %s/%s", res.Storage, res.Workload)
			}
			var stored int
			var oldest, newest time.Time
			if err := pool.QueryRow(ctx, `
				SELECT count(*), min(r.time), max(r.time) FROM readings r JOIN sensors s ON s.id = r.sensor_id WHERE s.org_id = $1`,
				res.OrgID).Scan(&stored, &oldest, &newest); err != nil {
				t.Fatal(err)
			}
			// A live run's warm-up round (one reading per sensor) is stored too.
			want := 40_000
			if tc.workload == bench.WorkloadLive {
				want += 2 * 100
			}
			if res.Accepted != 40_000 || stored != want {
				t.Fatalf("server accepted %d, table holds %d; want 40000 and %d", res.Accepted, stored, want)
			}
			if len(res.Runs) != 4 || res.Runs[0].Kind != bench.KindRawLimit || res.Runs[1].Kind != bench.KindIngest || res.Runs[3].Pair != 2 {
				t.Fatalf("runs = %+v", res.Runs)
			}
			for _, r := range res.Runs {
				if r.RowsPerSec <= 0 || r.Rows != 20_000 || r.Duplicates != 0 {
					t.Fatalf("run %+v has no rate, or duplicates", r)
				}
				switch r.Kind {
				case bench.KindIngest:
					if r.Latency == nil || r.Latency.P99 <= 0 || r.Requests != 100 || r.ServerPeakRSS <= 0 || r.Connections < 1 || r.Connections > 4 {
						t.Fatalf("ingest run lacks measurements: %+v", r)
					}
					if a := r.Alerting; a == nil || a.Rows < 20_000 || a.TooOld != 0 {
						t.Fatalf("ingest run's alerting = %+v, want all 20000 rows received, none too old", a)
					}
				case bench.KindRawLimit:
					if len(r.Configurations) != len(bench.RawConnections)*len(bench.RawRowsPerCopy) || r.Best == "" {
						t.Fatalf("raw limit run %+v", r)
					}
					for _, c := range r.Configurations {
						if c.Rows != 20_000 || c.RowsPerSec <= 0 || c.RowsPerSec > r.RowsPerSec {
							t.Fatalf("raw limit configuration %+v (best %.0f rows/s)", c, r.RowsPerSec)
						}
					}
				}
			}
			if tc.workload == bench.WorkloadLive {
				if oldest.Before(started.Add(-24*time.Hour)) || newest.After(time.Now()) {
					t.Fatalf("live readings span %s .. %s; want within the last 24 h and none in the future", oldest, newest)
				}
				// Every unit was evaluated up to its newest reading: the
				// evaluator saw every batch.
				var units, behind int
				if err := pool.QueryRow(ctx, `
					SELECT count(DISTINCT s.unit_id), count(*) FILTER (WHERE a.evaluated_to IS NULL OR a.evaluated_to < l.newest)
					  FROM sensors s
					  JOIN alert_state a ON a.unit_id = s.unit_id
					  CROSS JOIN LATERAL (SELECT max(time) AS newest FROM readings r WHERE r.sensor_id = s.id) l
					 WHERE s.org_id = $1`, res.OrgID).Scan(&units, &behind); err != nil {
					t.Fatal(err)
				}
				if units != 200 || behind != 0 {
					t.Fatalf("%d units have alert states, %d states trail their unit's newest reading; want 200 and 0", units, behind)
				}
			} else if !newest.Before(started.AddDate(0, 0, -1)) {
				t.Fatalf("old readings reach %s; want days in the past", newest)
			}
			if res.Ratio == nil || res.Ratio.Median <= 0 || res.RawLimit == nil || res.RawLimit.Median <= 0 {
				t.Fatalf("no ratio: %+v %+v", res.Ratio, res.RawLimit)
			}
			b, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			var back map[string]any
			if err := json.Unmarshal(b, &back); err != nil || back["ratio"] == nil || back["machine"] == nil || back["raw_limit_rows_per_sec"] == nil {
				t.Fatalf("result JSON %s", b)
			}
		})
	}
}

// TestSingleSmoke posts one reading per request from a live fleet.
func TestSingleSmoke(t *testing.T) {
	t.Parallel()
	bin := freshtrackBinary(t)
	url, pool := pgtest.NewDBURL(t)
	res, err := bench.RunIngest(context.Background(), bench.IngestOptions{
		DatabaseURL:  url,
		ServerBinary: bin,
		Workload:     bench.WorkloadSingle,
		Sensors:      50,
		Concurrency:  8,
		Rows:         2000,
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 1 || res.Batch != 1 {
		t.Fatalf("result %+v", res)
	}
	run := res.Runs[0]
	if run.Requests != 2000 || run.Rows != 2000 || run.RequestsPerSec <= 0 || run.Latency == nil || run.Latency.P99 <= 0 ||
		run.Connections < 1 || run.Connections > 8 || run.Errors != nil {
		t.Fatalf("single run %+v", run)
	}
	if res.Requests == nil || res.P99 == nil || res.Requests.Median != run.RequestsPerSec {
		t.Fatalf("single result spreads %+v %+v", res.Requests, res.P99)
	}
	var stored int
	if err := pool.QueryRow(context.Background(), `
		SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id WHERE s.org_id = $1`, res.OrgID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 2000+50 {
		t.Fatalf("table holds %d readings, want 2000 and the 50 of the warm-up", stored)
	}
}

// TestSingleRefusesRawLimit: the raw limit is a batched measurement.
func TestSingleRefusesRawLimit(t *testing.T) {
	t.Parallel()
	_, err := bench.RunIngest(context.Background(), bench.IngestOptions{Workload: bench.WorkloadSingle, RawLimit: true})
	if err == nil {
		t.Fatal("want an error")
	}
}

// TestAlertsSmoke provokes a few alerts under a light background load and
// checks that each became an alert with its notification.
func TestAlertsSmoke(t *testing.T) {
	t.Parallel()
	bin := freshtrackBinary(t)
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
