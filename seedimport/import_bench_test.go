package seedimport

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/schema"
)

// BenchmarkImportVerify imports a seed-shaped history of
// SEEDIMPORT_BENCH_READINGS readings (default 1,000,000: 1,000 units, one
// reading a minute) and verifies it, then times pg_dump | pg_restore of the
// same sensor_readings on the same server for comparison. The seed database
// is generated once and kept (seedimport_bench_<n>) for the next run; drop
// it when done. Run it alone, once:
//
//	SEEDIMPORT_BENCH_READINGS=10000000 go test -run '^$' -bench ImportVerify -benchtime 1x -timeout 60m ./seedimport/
func BenchmarkImportVerify(b *testing.B) {
	n := int64(1_000_000)
	if v := os.Getenv("SEEDIMPORT_BENCH_READINGS"); v != "" {
		var err error
		if n, err = strconv.ParseInt(v, 10, 64); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	seedURL, units, gen := benchSeed(b, n)
	if gen > 0 {
		b.Logf("generated the seed (%d readings, %d units) in %.1fs", n, units, gen.Seconds())
	}
	for b.Loop() {
		target := pgtest.NewDB(b)
		o := Options{Source: seedURL, Target: target, Issuer: testIssuer, Logger: quiet, Progress: os.Stderr}
		start := time.Now()
		rep, err := Import(ctx, o)
		if err != nil {
			b.Fatal(err)
		}
		imported := time.Since(start)
		res, err := Verify(ctx, o)
		if err != nil {
			b.Fatal(err)
		}
		verified := time.Since(start) - imported
		if res.Result != "PASS" {
			b.Fatalf("verify %s", res.Result)
		}
		rows := rep.Table("readings").Written
		b.Logf("import phases: %+v", rep.Phases)
		delta, deltaVerify := benchDelta(b, o)
		dump := pgDumpRestore(b, seedURL)
		b.ReportMetric(float64(rows)/imported.Seconds(), "import_rows/s")
		b.ReportMetric(imported.Seconds(), "import_s")
		b.ReportMetric(verified.Seconds(), "verify_s")
		b.ReportMetric((imported + verified).Seconds(), "total_s")
		b.ReportMetric(dump.Seconds(), "pg_dump_restore_s")
		b.ReportMetric(delta.Seconds(), "since_s")
		b.ReportMetric(deltaVerify.Seconds(), "since_verify_s")
		b.Logf("%d readings: import %.1fs (%.0f rows/s, readings phase %.0f rows/s), verify %.1fs, total %.1fs; pg_dump | pg_restore of sensor_readings %.1fs; "+
			"the freeze: --since of a minute of new readings %.1fs, verify %.1fs",
			rows, imported.Seconds(), float64(rows)/imported.Seconds(), rep.RowsPerSecond, verified.Seconds(), (imported + verified).Seconds(), dump.Seconds(),
			delta.Seconds(), deltaVerify.Seconds())
	}
}

// benchSeed returns the URL of a fresh-staged seed with n readings, making
// it if missing: units of 1,000 each with one device, a reading a minute
// ending now.
func benchSeed(b *testing.B, n int64) (string, int, time.Duration) {
	ctx := context.Background()
	name := fmt.Sprintf("seedimport_bench_%d", n)
	admin, err := pgx.Connect(ctx, pgtest.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close(ctx)
	u, _ := url.Parse(pgtest.URL())
	u.Path = "/" + name
	units := 1000
	minutes := n / int64(units)
	var have int64
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		b.Fatal(err)
	}
	if exists {
		pool, err := pgxpool.New(ctx, u.String())
		if err == nil {
			err = pool.QueryRow(ctx, `SELECT count(*) FROM sensor_readings`).Scan(&have)
			pool.Close()
		}
		if err == nil && have == int64(units)*minutes {
			return u.String(), units, 0
		}
		if _, err := admin.Exec(ctx, `DROP DATABASE `+name+` WITH (FORCE)`); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		b.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, u.String())
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	end := time.Now().UTC().Add(-time.Minute).Truncate(time.Minute)
	for _, q := range []string{
		freshStagedDDL,
		`INSERT INTO organizations (id, name, slug) VALUES ('00000000-0000-4000-8000-000000000001', 'Bench', 'bench')`,
		`INSERT INTO sites (id, organization_id, name, timezone) VALUES ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000001', 'Site', 'UTC')`,
		`INSERT INTO areas (id, site_id, name) VALUES ('00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000002', 'Area')`,
		fmt.Sprintf(`INSERT INTO units (area_id, name, unit_type, temp_min, temp_max, temp_unit)
		             SELECT '00000000-0000-4000-8000-000000000003', 'unit ' || g, 'fridge', 33, 41, 'F' FROM generate_series(1, %d) g`, units),
		`INSERT INTO devices (unit_id, device_eui, name) SELECT id, upper(substr(md5(id::text), 1, 16)), name FROM units`,
		// as a restore would: data first, indexes after
		`DROP INDEX sensor_readings_unit_time_idx, sensor_readings_device_idx, sensor_readings_recorded_idx`,
		`ALTER TABLE sensor_readings DROP CONSTRAINT sensor_readings_pkey`,
		fmt.Sprintf(`INSERT INTO sensor_readings (unit_id, device_id, temperature, humidity, battery, recorded_at, received_at, source)
		             SELECT d.unit_id, d.id, round((3 + 1.5 * sin(extract(epoch FROM t) / 1800 + d.h))::numeric, 2), 45, 90, t, t + interval '2 seconds', 'ttn'
		               FROM generate_series(timestamptz '%s' - interval '%d minutes', timestamptz '%[1]s' - interval '1 minute', interval '1 minute') t
		              CROSS JOIN (SELECT id, unit_id, abs(hashtext(id::text)) %% 100 AS h FROM devices) d
		              ORDER BY t`, end.Format(time.RFC3339), minutes),
		`ALTER TABLE sensor_readings ADD PRIMARY KEY (id, recorded_at)`,
		`CREATE INDEX sensor_readings_unit_time_idx ON sensor_readings (unit_id, recorded_at)`,
		`CREATE INDEX sensor_readings_device_idx ON sensor_readings (device_id)`,
		`CREATE INDEX sensor_readings_recorded_idx ON sensor_readings (recorded_at)`,
		`VACUUM ANALYZE`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			b.Fatalf("generate the seed: %v\n%.300s", err, q)
		}
	}
	return u.String(), units, time.Since(start)
}

// pgDumpRestore times pg_dump -Fc of sensor_readings (its partitions and
// indexes) piped into pg_restore in a scratch database on the same server.
func pgDumpRestore(b *testing.B, seedURL string) time.Duration {
	_, scratch := pgtest.EmptyDB(b, pgtest.WithMode(schema.Postgres))
	var scratchURL string
	if err := scratch.QueryRow(context.Background(), `SELECT current_database()`).Scan(&scratchURL); err != nil {
		b.Fatal(err)
	}
	u, _ := url.Parse(seedURL)
	u.Path = "/" + scratchURL
	// The table's foreign keys name units and devices, which are not
	// dumped: pg_restore reports those two failures and goes on.
	start := time.Now()
	dump := exec.Command("pg_dump", "-Fc", "-t", "sensor_readings*", seedURL)
	restore := exec.Command("pg_restore", "--no-owner", "-d", u.String())
	pipe, err := dump.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	restore.Stdin = pipe
	restore.Stderr = io.Discard
	if err := dump.Start(); err != nil {
		b.Fatal(err)
	}
	_ = restore.Run()
	if err := dump.Wait(); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	var n int64
	if err := scratch.QueryRow(context.Background(), `SELECT count(*) FROM sensor_readings`).Scan(&n); err != nil || n == 0 {
		b.Fatalf("pg_restore restored %d readings: %v", n, err)
	}
	return took
}

// benchDelta times the freeze: a --since import of a minute of new readings
// (one per unit) and the verify after it. The new readings are removed
// again, so the seed stays as generated for the next run.
func benchDelta(b *testing.B, o Options) (time.Duration, time.Duration) {
	ctx := context.Background()
	seed, err := pgxpool.New(ctx, o.Source)
	if err != nil {
		b.Fatal(err)
	}
	defer seed.Close()
	defer func() {
		if _, err := seed.Exec(ctx, `DELETE FROM sensor_readings WHERE source = 'bench-delta'`); err != nil {
			b.Error(err)
		}
	}()
	if _, err := seed.Exec(ctx, `INSERT INTO sensor_readings (unit_id, device_id, temperature, recorded_at, received_at, source)
	     SELECT unit_id, id, 3.5, date_trunc('minute', now()), now(), 'bench-delta' FROM devices`); err != nil {
		b.Fatal(err)
	}
	o.Since = true
	start := time.Now()
	rep, err := Import(ctx, o)
	if err != nil {
		b.Fatal(err)
	}
	delta := time.Since(start)
	o.Since = false
	res, err := Verify(ctx, o)
	if err != nil || res.Result != "PASS" {
		b.Fatalf("verify after --since: %v %v", res.Result, err)
	}
	b.Logf("--since: %d readings written in %.1fs (%+v)", rep.Table("readings").Written, delta.Seconds(), rep.Phases)
	return delta, time.Since(start) - delta
}
