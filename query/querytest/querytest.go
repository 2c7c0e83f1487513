package querytest

import (
	"context"
	"log/slog"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/schema"
)

// DB is a migrated test database with its store.
type DB struct {
	// Pool is connected to the test's own database.
	Pool *pgxpool.Pool
	// Store is the database's storage-mode store.
	Store *schema.Store
	t     testing.TB
}

// New returns a fresh database (pgtest.NewDB) and its store; a timescale
// request is skipped when the server lacks TimescaleDB.
func New(t testing.TB, opts ...pgtest.Option) *DB {
	t.Helper()
	return Open(t, pgtest.NewDB(t, opts...))
}

// Open wraps a migrated database the test did not get from pgtest (a
// pgtest.ReplicaPair's primary, say) and opens its store.
func Open(t testing.TB, pool *pgxpool.Pool) *DB {
	t.Helper()
	store, err := schema.OpenStore(context.Background(), pool, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return &DB{Pool: pool, Store: store, t: t}
}

// Mode is the database's storage mode.
func (d *DB) Mode() schema.Mode { return d.Store.Mode() }

func (d *DB) id(sql string, args ...any) string {
	d.t.Helper()
	var id string
	if err := d.Pool.QueryRow(context.Background(), sql, args...).Scan(&id); err != nil {
		d.t.Fatalf("querytest: %v", err)
	}
	return id
}

// Org creates an organisation, recorded in the audit log as the API does,
// and returns its id.
func (d *DB) Org(name string) string {
	d.t.Helper()
	return d.id(`
		WITH o AS (INSERT INTO organizations (name) VALUES ($1) RETURNING id),
		     a AS (INSERT INTO audit_log (org_id, actor, action, target_type, target_id)
		           SELECT id, 'test', 'organization.create', 'organization', id::text FROM o)
		SELECT id::text FROM o`, name)
}

// Site creates a site in a time zone and returns its id.
func (d *DB) Site(org, name, tz string) string {
	d.t.Helper()
	return d.id(`INSERT INTO sites (org_id, name, timezone) VALUES ($1, $2, $3) RETURNING id::text`, org, name, tz)
}

// Unit creates a unit with a safe range and returns its id.
func (d *DB) Unit(org, site, name, kind string, safeMin, safeMax float64) string {
	d.t.Helper()
	return d.id(`INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id::text`,
		org, site, name, kind, safeMin, safeMax)
}

// Sensor creates a sensor assigned to unit (none when unit is "") and
// returns its compact key and public id.
func (d *DB) Sensor(org, unit, externalID string) (int64, string) {
	d.t.Helper()
	var u *string
	if unit != "" {
		u = &unit
	}
	var id int64
	var public string
	err := d.Pool.QueryRow(context.Background(), `
		INSERT INTO sensors (org_id, unit_id, external_id) VALUES ($1, $2, $3) RETURNING id, public_id::text`,
		org, u, externalID).Scan(&id, &public)
	if err != nil {
		d.t.Fatalf("querytest: %v", err)
	}
	return id, public
}

// User creates a user and returns its id.
func (d *DB) User(name, email string) string {
	d.t.Helper()
	return d.id(`INSERT INTO users (issuer, subject, name, email) VALUES ('https://issuer.test', gen_random_uuid()::text, $1, $2) RETURNING id::text`,
		name, email)
}

// Rule creates an enabled alert rule for a unit and returns its id.
func (d *DB) Rule(org, unit, kind string, threshold float64) string {
	d.t.Helper()
	return d.id(`INSERT INTO alert_rules (org_id, unit_id, kind, threshold) VALUES ($1, $2, $3, $4) RETURNING id::text`, org, unit, kind, threshold)
}

// KindRule creates an organisation default rule for a kind of unit.
func (d *DB) KindRule(org, unitKind, kind string, threshold float64) string {
	d.t.Helper()
	return d.id(`INSERT INTO alert_rules (org_id, unit_kind, kind, threshold) VALUES ($1, $2, $3, $4) RETURNING id::text`, org, unitKind, kind, threshold)
}

// Exec runs a statement, failing the test on error.
func (d *DB) Exec(sql string, args ...any) {
	d.t.Helper()
	if _, err := d.Pool.Exec(context.Background(), sql, args...); err != nil {
		d.t.Fatalf("querytest: %v", err)
	}
}

// Reading is one reading to write. Humidity and Battery are NaN for none.
type Reading struct {
	// Sensor is the sensor's compact key.
	Sensor int64
	// Time is when it was taken.
	Time time.Time
	// TempC is the temperature.
	TempC float64
	// Humidity is stored as NULL when NaN.
	Humidity float64
	// Battery is stored as NULL when NaN.
	Battery float64
}

// R is a reading without humidity and battery.
func R(sensor int64, t time.Time, temp float64) Reading {
	return Reading{Sensor: sensor, Time: t, TempC: temp, Humidity: math.NaN(), Battery: math.NaN()}
}

func nullable(v float64) any {
	if math.IsNaN(v) {
		return nil
	}
	return float32(v)
}

// Write stores readings as ingest does: partitions first, then COPY and the
// rollup invalidations of the 5-minute buckets touched, in one transaction.
// A duplicate (sensor, time) fails the whole batch with the database's
// unique violation, and nothing of it is stored.
func (d *DB) Write(rs []Reading) error {
	ctx := context.Background()
	times := make([]time.Time, len(rs))
	seen := map[time.Time]bool{}
	var buckets []time.Time
	for i, r := range rs {
		times[i] = r.Time
		if b := r.Time.Truncate(schema.Bucket5m); !seen[b] {
			seen[b] = true
			buckets = append(buckets, b)
		}
	}
	sort.Slice(buckets, func(i, j int) bool { return buckets[i].Before(buckets[j]) })
	if err := d.Store.EnsurePartitions(ctx, times...); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"readings"}, []string{"time", "sensor_id", "temp_c", "humidity", "battery"},
			pgx.CopyFromSlice(len(rs), func(i int) ([]any, error) {
				r := rs[i]
				return []any{r.Time, r.Sensor, r.TempC, nullable(r.Humidity), nullable(r.Battery)}, nil
			}))
		if err != nil {
			return err
		}
		return d.Store.RecordWrites(ctx, tx, buckets)
	})
}

// MustWrite is Write failing the test on error.
func (d *DB) MustWrite(rs ...Reading) {
	d.t.Helper()
	if err := d.Write(rs); err != nil {
		d.t.Fatalf("querytest: write readings: %v", err)
	}
}

// Refresh folds written readings into the downsampled series as the
// periodic job does at now (Store.RefreshRollups), in either storage mode.
func (d *DB) Refresh(now time.Time) {
	d.t.Helper()
	if _, err := d.Store.RefreshRollups(context.Background(), now); err != nil {
		d.t.Fatalf("querytest: refresh rollups: %v", err)
	}
}

// Watermark is rollup_state.watermark: buckets before it are materialised.
func (d *DB) Watermark() time.Time {
	d.t.Helper()
	var w time.Time
	if err := d.Pool.QueryRow(context.Background(), `SELECT watermark FROM rollup_state`).Scan(&w); err != nil {
		d.t.Fatalf("querytest: %v", err)
	}
	return w
}

// SameAsReadings fails the test unless every downsampled series (5m, 1h,
// 1d) holds exactly the aggregates computed straight from readings, bucket
// for bucket, and holds some.
func SameAsReadings(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	for _, level := range []struct{ table, width string }{
		{"readings_5m", "5 minutes"}, {"readings_1h", "1 hour"}, {"readings_1d", "1 day"},
	} {
		var differ, rollupRows int
		err := pool.QueryRow(context.Background(), `
			WITH direct AS (
				SELECT sensor_id, date_bin('`+level.width+`', time, timestamptz '2000-01-01 00:00:00+00') AS bucket,
				       min(temp_c) AS t_min, max(temp_c) AS t_max, sum(temp_c) AS t_sum, count(*) AS n
				  FROM readings GROUP BY 1, 2)
			SELECT count(*) FILTER (WHERE d.sensor_id IS NULL OR r.sensor_id IS NULL
			                          OR d.t_min <> r.t_min OR d.t_max <> r.t_max
			                          OR abs(d.t_sum - r.t_sum) > 1e-9 OR d.n <> r.n),
			       count(r.sensor_id)
			  FROM direct d FULL JOIN `+level.table+` r USING (sensor_id, bucket)`).Scan(&differ, &rollupRows)
		if err != nil {
			t.Fatalf("querytest: %s: %v", level.table, err)
		}
		if differ != 0 || rollupRows == 0 {
			t.Fatalf("%s: %d buckets differ from readings (%d rollup rows)", level.table, differ, rollupRows)
		}
	}
	// The packed hours that readers trust hold exactly the readings.
	var differ int
	err := pool.QueryRow(context.Background(), `
		WITH direct AS (
			SELECT sensor_id, date_bin('1 hour', time, timestamptz '2000-01-01 00:00:00+00') AS hour, count(*) AS n,
			       string_agg(timestamptz_send(time) || float8send(temp_c), ''::bytea ORDER BY time) AS readings
			  FROM readings GROUP BY 1, 2)
		SELECT count(*)
		  FROM direct d FULL JOIN reading_hours h USING (sensor_id, hour), rollup_state st
		 WHERE hour >= st.hours_from AND hour < st.hours_through
		   AND NOT EXISTS (SELECT 1 FROM rollup_invalidations i WHERE i.bucket >= hour AND i.bucket < hour + interval '1 hour')
		   AND (d.sensor_id IS NULL OR h.sensor_id IS NULL OR d.n <> h.n OR d.readings <> h.readings)`).Scan(&differ)
	if err != nil {
		t.Fatalf("querytest: reading_hours: %v", err)
	}
	if differ != 0 {
		t.Fatalf("reading_hours: %d sensor hours differ from readings", differ)
	}
}
