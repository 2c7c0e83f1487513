package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/freshtrack/freshtrack/internal/pgtest"
	"github.com/freshtrack/freshtrack/internal/redistest"
	"github.com/freshtrack/freshtrack/internal/stripetest"
)

// TestInstancesRunPeriodicJobsOnce: three serve processes on one database
// and one Redis elect one River leader, and each periodic job (upkeep,
// sweep, digests, metering) is enqueued once for its period, not once per
// instance.
func TestInstancesRunPeriodicJobsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped with -short")
	}
	t.Parallel()
	dbURL, pool := pgtest.NewDBURL(t)
	env := []string{"REDIS_URL=" + redistest.Start(t), "FRESHTRACK_STRIPE_SECRET_KEY=sk_test_instances", "FRESHTRACK_STRIPE_API_URL=" + stripetest.Start(t)}
	for i := range 3 {
		logOnFailure(t, startServe(t, fmt.Sprintf("instance-%d", i+1), dbURL, env, "--rollup-interval", "1h"))
	}
	ctx := context.Background()
	// Hourly or slower jobs that also run when the leader starts: each is
	// in river_job once.
	kinds := []string{"storage_retention", "alerting_sweep", "digest_run", "billing_meter", "storage_rollup"}
	if pgtest.DefaultMode() == "postgres" {
		kinds = append(kinds, "storage_partitions")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		counts := map[string]int{}
		rows, err := pool.Query(ctx, `SELECT kind, count(*) FROM river_job WHERE kind = ANY($1) GROUP BY kind`, kinds)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var k string
			var n int
			if err := rows.Scan(&k, &n); err != nil {
				t.Fatal(err)
			}
			counts[k] = n
		}
		rows.Close()
		all := true
		for _, k := range kinds {
			if counts[k] > 1 {
				t.Fatalf("%s enqueued %d times by 3 instances: %v", k, counts[k], counts)
			}
			all = all && counts[k] == 1
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("periodic jobs after 20 s: %v, want each of %v once", counts, kinds)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var leaders int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_leader`).Scan(&leaders); err != nil || leaders != 1 {
		t.Errorf("%d River leaders (%v), want 1", leaders, err)
	}
	// And stays so a while later (a second leader would enqueue its own).
	time.Sleep(2 * time.Second)
	var dup int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT kind FROM river_job WHERE kind = ANY($1) GROUP BY kind HAVING count(*) > 1) d`, kinds).Scan(&dup); err != nil || dup != 0 {
		t.Errorf("%d periodic kinds enqueued twice (%v)", dup, err)
	}
}
