package schema_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/query/querytest"
	"github.com/freshtrack/freshtrack/schema"
)

type reading struct {
	t    time.Time
	id   int64
	temp float64
}

// write stores readings the way ingest does: partitions first, then COPY and
// the rollup invalidations in one transaction.
func write(t *testing.T, store *schema.Store, pool *pgxpool.Pool, rs []reading) error {
	t.Helper()
	ctx := context.Background()
	times := make([]time.Time, len(rs))
	seen := map[time.Time]bool{}
	var buckets []time.Time
	for i, r := range rs {
		times[i] = r.t
		if b := r.t.Truncate(schema.Bucket5m); !seen[b] {
			seen[b] = true
			buckets = append(buckets, b)
		}
	}
	if err := store.EnsurePartitions(ctx, times...); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"readings"}, []string{"time", "sensor_id", "temp_c"},
			pgx.CopyFromSlice(len(rs), func(i int) ([]any, error) { return []any{rs[i].t, rs[i].id, rs[i].temp}, nil }))
		if err != nil {
			return err
		}
		return store.RecordWrites(ctx, tx, buckets)
	})
}

func openStore(t *testing.T, opts ...pgtest.Option) (*schema.Store, *pgxpool.Pool) {
	t.Helper()
	pool := pgtest.NewDB(t, opts...)
	store, err := schema.OpenStore(context.Background(), pool, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return store, pool
}

func TestPartitionOnDemand(t *testing.T) {
	t.Parallel()
	store, pool := openStore(t, pgtest.WithMode(schema.Postgres))
	ctx := context.Background()
	far := []reading{
		{time.Date(2031, 7, 4, 12, 0, 0, 0, time.UTC), 1, 3.5},
		{time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC), 1, 4.5},
		{time.Date(2019, 1, 1, 23, 59, 59, 999999000, time.UTC), 2, 5.5},
	}
	if err := write(t, store, pool, far); err != nil {
		t.Fatalf("write far readings: %v", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM readings`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("stored %d readings (%v), want 3", n, err)
	}
	for _, p := range []string{"readings_p20310704", "readings_p20190101"} {
		var ok bool
		if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, p).Scan(&ok); err != nil || !ok {
			t.Fatalf("partition %s missing (%v)", p, err)
		}
	}
	// A store whose cache is stale (another process dropped the partition)
	// sees the database's refusal as a missing partition and recovers.
	if _, err := pool.Exec(ctx, `DROP TABLE readings_p20310704`); err != nil {
		t.Fatal(err)
	}
	err := write(t, store, pool, far[:1])
	if !schema.IsMissingPartition(err) {
		t.Fatalf("write into a dropped partition = %v, want a missing-partition error", err)
	}
	store.ForgetPartitions()
	if err := write(t, store, pool, far[:1]); err != nil {
		t.Fatalf("write after ForgetPartitions: %v", err)
	}
}

func TestPartitionsCreatedConcurrently(t *testing.T) {
	t.Parallel()
	_, pool := openStore(t, pgtest.WithMode(schema.Postgres))
	ctx := context.Background()
	day := time.Date(2040, 2, 29, 6, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Separate stores: nothing cached, every one asks the database.
			s, err := schema.OpenStore(ctx, pool, quiet)
			if err == nil {
				err = s.EnsurePartitions(ctx, day)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent partition creation: %v", err)
		}
	}
}

func TestDatabaseEnforcesUniqueReadings(t *testing.T) {
	t.Parallel()
	store, pool := openStore(t)
	at := time.Now().UTC().Truncate(time.Second)
	if err := write(t, store, pool, []reading{{at, 7, 2.0}}); err != nil {
		t.Fatal(err)
	}
	err := write(t, store, pool, []reading{{at.Add(time.Second), 7, 2.5}, {at, 7, 9.9}})
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		t.Fatalf("duplicate (sensor, time) = %v, want unique violation 23505", err)
	}
	var n int
	var temp float64
	if err := pool.QueryRow(context.Background(), `SELECT count(*), max(temp_c) FROM readings WHERE sensor_id = 7`).Scan(&n, &temp); err != nil {
		t.Fatal(err)
	}
	if n != 1 || temp != 2.0 {
		t.Fatalf("after a refused batch: %d readings, max %v; want the first one only", n, temp)
	}
}

// TestRollupsMatchReadings writes random readings (late ones and several
// batches into the same buckets included), refreshes, and compares every
// resolution with aggregates computed straight from readings.
func TestRollupsMatchReadings(t *testing.T) {
	t.Parallel()
	for _, mode := range []schema.Mode{schema.Postgres, schema.Timescale} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			store, pool := openStore(t, pgtest.WithMode(mode))
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(1, uint64(len(mode))))
			now := time.Date(2026, 3, 29, 12, 0, 0, 0, time.UTC)
			used := map[[2]int64]bool{}
			batch := func(from time.Time, span time.Duration, n int) []reading {
				var rs []reading
				for len(rs) < n {
					r := reading{
						t:    from.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Second),
						id:   rng.Int64N(5) + 1,
						temp: math.Round((rng.Float64()*30-10)*10) / 10,
					}
					k := [2]int64{r.id, r.t.Unix()}
					if !used[k] {
						used[k] = true
						rs = append(rs, r)
					}
				}
				return rs
			}
			for i := range 4 {
				if err := write(t, store, pool, batch(now.Add(-3*time.Hour), 3*time.Hour, 200)); err != nil {
					t.Fatalf("batch %d: %v", i, err)
				}
			}
			if _, err := store.RefreshRollups(ctx, now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			querytest.SameAsReadings(t, pool)
			// Late readings into already materialised buckets: two days back,
			// then a backlog from 10 to 40 days back (older than any refresh
			// window a TimescaleDB policy would cover), in one batch with a
			// reading of the current hour.
			for _, late := range [][]reading{
				batch(now.Add(-50*time.Hour), 2*time.Hour, 150),
				append(batch(now.AddDate(0, 0, -40), 30*24*time.Hour, 150), batch(now.Add(-10*time.Minute), 5*time.Minute, 1)...),
			} {
				if err := write(t, store, pool, late); err != nil {
					t.Fatal(err)
				}
				res, err := store.RefreshRollups(ctx, now.Add(time.Hour))
				if err != nil || res.Buckets == 0 {
					t.Fatalf("refresh after late data: %+v %v", res, err)
				}
				querytest.SameAsReadings(t, pool)
			}
		})
	}
}

func TestRollupRefreshIsSafeConcurrently(t *testing.T) {
	t.Parallel()
	for _, mode := range []schema.Mode{schema.Postgres, schema.Timescale} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			refreshConcurrently(t, mode)
		})
	}
}

func refreshConcurrently(t *testing.T, mode schema.Mode) {
	store, pool := openStore(t, pgtest.WithMode(mode))
	ctx := context.Background()
	base := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	var rs []reading
	for i := range 600 {
		rs = append(rs, reading{base.Add(time.Duration(i) * 30 * time.Second), int64(i%3 + 1), float64(i % 17)})
	}
	if err := write(t, store, pool, rs); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var done, skipped int
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := store.RefreshRollups(ctx, base.Add(24*time.Hour))
			if err != nil {
				t.Errorf("refresh: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if res.Skipped {
				skipped++
			} else {
				done++
			}
		}()
	}
	wg.Wait()
	if done == 0 {
		t.Fatal("no refresh ran")
	}
	querytest.SameAsReadings(t, pool)
	var pending int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM rollup_invalidations`).Scan(&pending); err != nil || pending != 0 {
		t.Fatalf("%d invalidations left (%v)", pending, err)
	}
}

func TestRetentionDropsWholeOldPartitions(t *testing.T) {
	t.Parallel()
	store, pool := openStore(t, pgtest.WithMode(schema.Postgres))
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	rs := []reading{
		{now.AddDate(0, 0, -40), 1, 1}, // older than 30 days: dropped
		{now.AddDate(0, 0, -31), 1, 2}, // its day ended before the cutoff: dropped
		{now.AddDate(0, 0, -30), 1, 3}, // the cutoff's day is kept whole
		{now.AddDate(0, 0, -1), 1, 4},
	}
	if err := write(t, store, pool, rs); err != nil {
		t.Fatal(err)
	}
	dropped, err := store.ApplyRetention(ctx, now, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(dropped) != 2 {
		t.Fatalf("dropped %v, want the two partitions older than 30 days", dropped)
	}
	var temps []float64
	rows, _ := pool.Query(ctx, `SELECT temp_c FROM readings ORDER BY time`)
	temps, err = pgx.CollectRows(rows, pgx.RowTo[float64])
	if err != nil || len(temps) != 2 || temps[0] != 3 || temps[1] != 4 {
		t.Fatalf("readings left = %v (%v), want [3 4]", temps, err)
	}
	// Writing into a day whose partition retention dropped recreates it.
	if err := write(t, store, pool, rs[:1]); err != nil {
		t.Fatalf("write after retention: %v", err)
	}
}

// TestTimescaleRetentionPolicyFollowsConfig: ApplyRetention keeps one
// TimescaleDB retention policy on readings with the configured age, replaces
// it when the age changes, and the policy, run as TimescaleDB runs it, drops
// the chunks that ended before the cutoff and keeps the cutoff's day.
func TestTimescaleRetentionPolicyFollowsConfig(t *testing.T) {
	t.Parallel()
	store, pool := openStore(t, pgtest.WithMode(schema.Timescale))
	ctx := context.Background()
	now := time.Now().UTC()
	rs := []reading{
		{now.AddDate(0, 0, -40), 1, 1},
		{now.AddDate(0, 0, -32), 1, 2},
		{now.AddDate(0, 0, -29), 1, 3},
		{now.Add(-time.Hour), 1, 4},
	}
	if err := write(t, store, pool, rs); err != nil {
		t.Fatal(err)
	}
	policy := func() (int, string) {
		t.Helper()
		var id int
		var dropAfter string
		err := pool.QueryRow(ctx, `
			SELECT job_id, config->>'drop_after' FROM timescaledb_information.jobs
			 WHERE proc_name = 'policy_retention' AND hypertable_name = 'readings'`).Scan(&id, &dropAfter)
		if err != nil {
			t.Fatalf("retention policy: %v", err)
		}
		return id, dropAfter
	}
	for _, days := range []int{30, 30, 60, 30} {
		dropped, err := store.ApplyRetention(ctx, now, time.Duration(days)*24*time.Hour)
		if err != nil || len(dropped) != 0 {
			t.Fatalf("apply retention of %d days: %v %v", days, dropped, err)
		}
		var ok bool
		_, got := policy()
		if err := pool.QueryRow(ctx, `SELECT $1::interval = make_interval(days => $2)`, got, days).Scan(&ok); err != nil || !ok {
			t.Fatalf("retention policy drops after %s, want %d days (%v)", got, days, err)
		}
	}
	var policies int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention'`).Scan(&policies); err != nil || policies != 1 {
		t.Fatalf("%d retention policies (%v), want exactly one", policies, err)
	}
	id, _ := policy()
	if _, err := pool.Exec(ctx, `CALL run_job($1)`, id); err != nil {
		t.Fatalf("run the retention policy: %v", err)
	}
	rows, _ := pool.Query(ctx, `SELECT temp_c FROM readings ORDER BY time`)
	temps, err := pgx.CollectRows(rows, pgx.RowTo[float64])
	if err != nil || len(temps) != 2 || temps[0] != 3 || temps[1] != 4 {
		t.Fatalf("readings left = %v (%v), want [3 4]", temps, err)
	}
}

// TestScratchReadingsHaveTheShapeOfReadings: the bench's scratch table has
// the same columns, primary key and partitioning as readings in both modes
// (a hypertable with 1-day chunks and the same indexes in timescale mode),
// refuses a duplicate like readings, and is dropped without a trace.
func TestScratchReadingsHaveTheShapeOfReadings(t *testing.T) {
	t.Parallel()
	for _, mode := range []schema.Mode{schema.Postgres, schema.Timescale} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			store, pool := openStore(t, pgtest.WithMode(mode))
			ctx := context.Background()
			from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
			if err := store.CreateScratchReadings(ctx, "scratch_readings", from, from.Add(48*time.Hour)); err != nil {
				t.Fatal(err)
			}
			indexes := func(table string) []string {
				t.Helper()
				rows, err := pool.Query(ctx, `
					SELECT regexp_replace(pg_get_indexdef(indexrelid), '^.* USING ', '')
					  FROM pg_index WHERE indrelid = $1::regclass ORDER BY 1`, table)
				if err != nil {
					t.Fatal(err)
				}
				out, err := pgx.CollectRows(rows, pgx.RowTo[string])
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			if got, want := indexes("scratch_readings"), indexes("readings"); !slices.Equal(got, want) {
				t.Fatalf("scratch indexes %v, readings %v", got, want)
			}
			if mode == schema.Timescale {
				var dims []string
				rows, err := pool.Query(ctx, `
					SELECT hypertable_name || ':' || column_name || ':' || time_interval::text
					  FROM timescaledb_information.dimensions
					 WHERE hypertable_name IN ('readings', 'scratch_readings') ORDER BY hypertable_name`)
				if err == nil {
					dims, err = pgx.CollectRows(rows, pgx.RowTo[string])
				}
				if err != nil || !slices.Equal(dims, []string{"readings:time:1 day", "scratch_readings:time:1 day"}) {
					t.Fatalf("dimensions %v (%v)", dims, err)
				}
			}
			at := from.Add(time.Hour)
			if _, err := pool.Exec(ctx, `INSERT INTO scratch_readings (time, sensor_id, temp_c) VALUES ($1, 1, 2), ($1, 1, 3)`, at); !isUnique(err) {
				t.Fatalf("duplicate into the scratch table = %v, want a unique violation", err)
			}
			if err := store.DropScratchReadings(ctx, "scratch_readings"); err != nil {
				t.Fatal(err)
			}
			var left int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname LIKE 'scratch_readings%'`).Scan(&left); err != nil || left != 0 {
				t.Fatalf("%d relations left after drop (%v)", left, err)
			}
		})
	}
}

func isUnique(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// TestRetentionDoesNotStallWrites: retention detaches old partitions
// concurrently, so a write into readings is not queued behind it while a
// long transaction keeps the detach waiting (a plain DROP TABLE takes
// ACCESS EXCLUSIVE on readings and every COPY waits behind it). A day table
// a crash left detached is dropped too.
func TestRetentionDoesNotStallWrites(t *testing.T) {
	t.Parallel()
	store, pool := openStore(t, pgtest.WithMode(schema.Postgres))
	ctx := context.Background()
	now := time.Now().UTC()
	old := now.AddDate(0, 0, -40)
	if err := write(t, store, pool, []reading{{old, 1, 1}, {now.Add(-time.Hour), 1, 2}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE readings_p20000101 (LIKE readings)`); err != nil {
		t.Fatal(err)
	}
	long, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer long.Rollback(ctx)
	if _, err := long.Exec(ctx, `INSERT INTO readings (time, sensor_id, temp_c) VALUES ($1, 2, 3)`, now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	type result struct {
		dropped []string
		err     error
	}
	done := make(chan result, 1)
	go func() {
		d, err := store.ApplyRetention(ctx, now, 30*24*time.Hour)
		done <- result{d, err}
	}()
	// Wait until retention is blocked by the long transaction: only then
	// can a write behind it show whether it queues.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var waiting bool
		if err := pool.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			                WHERE datname = current_database() AND wait_event_type = 'Lock'
			                  AND (query LIKE 'ALTER TABLE readings DETACH%' OR query LIKE 'DROP TABLE%'))`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("retention never waited for the long transaction")
		}
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '2s'`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO readings (time, sensor_id, temp_c) VALUES ($1, 3, 4)`, now.Add(-2*time.Minute))
		return err
	})
	if err != nil {
		t.Fatalf("a write while retention runs: %v", err)
	}
	if err := long.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if fmt.Sprint(r.dropped) != "[readings_p20000101 readings_p"+old.Format("20060102")+"]" {
		t.Fatalf("dropped %v", r.dropped)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM readings`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d readings left (%v), want 3", n, err)
	}
}

// TestReadingHoursCatchUpInSteps: the first refresh after the packed hours
// were added (hours_through at -infinity, as migration 0021 leaves an
// existing database) packs at most two weeks beyond the late hours and
// says it is behind; later refreshes go on from there, and Materialize
// loops until nothing is behind. Every trusted hour holds exactly its
// readings at every step, in both modes. Packing starts at the first day
// the daily rollup holds.
func TestReadingHoursCatchUpInSteps(t *testing.T) {
	t.Parallel()
	for _, mode := range []schema.Mode{schema.Postgres, schema.Timescale} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			store, pool := openStore(t, pgtest.WithMode(mode))
			ctx := context.Background()
			now := time.Date(2026, 3, 29, 12, 0, 0, 0, time.UTC)
			first := now.AddDate(0, 0, -40)
			var rs []reading
			for at, i := first, 0; at.Before(now); at, i = at.Add(37*time.Minute), i+1 {
				rs = append(rs, reading{t: at, id: int64(i%3) + 1, temp: float64(i % 11)})
			}
			if err := write(t, store, pool, rs); err != nil {
				t.Fatal(err)
			}
			through := func() time.Time {
				var at time.Time
				if err := pool.QueryRow(ctx, `SELECT hours_through FROM rollup_state`).Scan(&at); err != nil {
					t.Fatal(err)
				}
				return at
			}
			// The migration's state on a database that has rollups already.
			if _, err := store.RefreshRollups(ctx, now); err != nil {
				t.Fatal(err)
			}
			if _, err := pool.Exec(ctx, `UPDATE rollup_state SET hours_through = '-infinity'; TRUNCATE reading_hours`); err != nil {
				t.Fatal(err)
			}
			var steps int
			for {
				res, err := store.RefreshRollups(ctx, now)
				if err != nil {
					t.Fatal(err)
				}
				querytest.SameAsReadings(t, pool)
				steps++
				if !res.HoursBehind {
					break
				}
				if want := first.Truncate(24 * time.Hour).Add(time.Duration(steps) * 14 * 24 * time.Hour); !through().Equal(want) {
					t.Fatalf("step %d: hours_through %s, want %s", steps, through(), want)
				}
			}
			if steps != 3 || !through().Equal(now.Add(-schema.RefreshGrace).Truncate(time.Hour)) {
				t.Fatalf("%d steps, hours_through %s", steps, through())
			}
			if _, err := pool.Exec(ctx, `UPDATE rollup_state SET hours_through = '-infinity'; TRUNCATE reading_hours`); err != nil {
				t.Fatal(err)
			}
			if err := store.Materialize(ctx, first, now); err != nil {
				t.Fatal(err)
			}
			if !through().Equal(now) {
				t.Fatalf("after Materialize: hours_through %s", through())
			}
			querytest.SameAsReadings(t, pool)
		})
	}
}
