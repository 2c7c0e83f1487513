package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/alerting"
)

// fleet is the sensors of a run: external ids and the compact keys the
// server stores them under, in the same order, and for a live fleet the unit
// each one is assigned to.
type fleet struct {
	names []string
	keys  []int64
	units []string
}

// createBareFleet registers sensors assigned to no unit (so no rule applies
// to them): the old-readings workload's fleet, as the bench had it first.
func createBareFleet(ctx context.Context, pool *pgxpool.Pool, orgID string, names []string) (fleet, error) {
	rows, err := pool.Query(ctx, `INSERT INTO sensors (org_id, external_id) SELECT $1, unnest($2::text[]) RETURNING external_id, id`, orgID, names)
	if err != nil {
		return fleet{}, fmt.Errorf("register bench sensors: %w", err)
	}
	f := fleet{names: names, keys: make([]int64, len(names))}
	byName := make(map[string]int64, len(names))
	var name string
	var id int64
	if _, err := pgx.ForEachRow(rows, []any{&name, &id}, func() error { byName[name] = id; return nil }); err != nil {
		return fleet{}, fmt.Errorf("register bench sensors: %w", err)
	}
	for i, n := range names {
		f.keys[i] = byName[n]
	}
	return f, nil
}

// createSites creates n sites in the organisation, named "Bench 1" to
// "Bench n" (one statement), and returns their ids in that order.
func createSites(ctx context.Context, pool *pgxpool.Pool, orgID string, n int) ([]string, error) {
	rows, err := pool.Query(ctx, `
		INSERT INTO sites (org_id, name, timezone)
		SELECT $1, 'Bench ' || g, 'UTC' FROM generate_series(1, $2) g ORDER BY g RETURNING id::text`, orgID, n)
	if err != nil {
		return nil, fmt.Errorf("create bench sites: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("create bench sites: %w", err)
	}
	return ids, nil
}

// createLiveFleet registers one fridge unit per name, in sites[i] for
// names[i], each with one sensor of that name, and makes sure the
// organisation's default rules exist: every reading of the fleet is then
// evaluated against the fridge rules (temp_high 5 °C, sensor_offline,
// battery_low).
func createLiveFleet(ctx context.Context, pool *pgxpool.Pool, orgID string, sites, names []string) (fleet, error) {
	if len(sites) != len(names) {
		return fleet{}, fmt.Errorf("create live bench fleet: %d sites for %d sensors", len(sites), len(names))
	}
	if _, err := alerting.EnsureRules(ctx, pool, orgID); err != nil {
		return fleet{}, err
	}
	f := fleet{names: names, keys: make([]int64, len(names)), units: make([]string, len(names))}
	rows, err := pool.Query(ctx, `
		WITH u AS (
			INSERT INTO units (org_id, site_id, name, kind, safe_min_c, safe_max_c)
			SELECT $1, s, 'Fridge ' || n, 'fridge', 0, 5 FROM unnest($2::uuid[], $3::text[]) AS x(s, n) RETURNING id, name)
		INSERT INTO sensors (org_id, external_id, unit_id)
		SELECT $1, substr(u.name, 8), u.id FROM u RETURNING external_id, id, unit_id::text`, orgID, sites, names)
	if err != nil {
		return fleet{}, fmt.Errorf("create live bench fleet: %w", err)
	}
	type sensor struct {
		id   int64
		unit string
	}
	byName := make(map[string]sensor, len(names))
	var (
		name string
		s    sensor
	)
	if _, err := pgx.ForEachRow(rows, []any{&name, &s.id, &s.unit}, func() error { byName[name] = s; return nil }); err != nil {
		return fleet{}, fmt.Errorf("create live bench fleet: %w", err)
	}
	for i, n := range names {
		f.keys[i], f.units[i] = byName[n].id, byName[n].unit
	}
	return f, nil
}

// waitEvaluated waits until the evaluator has evaluated every unit of a live
// fleet up to at least until (alert_state.evaluated_to of each of its rules),
// which is how the harness knows a warm-up round went all the way through.
func waitEvaluated(ctx context.Context, pool *pgxpool.Pool, units []string, until time.Time, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var done int
		err := pool.QueryRow(ctx, `
			SELECT count(*) FROM (
				SELECT unit_id FROM alert_state WHERE unit_id = ANY($1::uuid[])
				 GROUP BY unit_id HAVING min(evaluated_to) >= $2) d`, units, until).Scan(&done)
		if err != nil {
			return fmt.Errorf("check the fleet's alert states: %w", err)
		}
		if done == len(units) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s the evaluator had evaluated %d of %d bench units up to %s: is the server's ingest role evaluating alerts?",
				timeout, done, len(units), until.Format(time.RFC3339Nano))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
