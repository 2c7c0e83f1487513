package seedimport

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/safety"
	"github.com/freshtrack/freshtrack/schema"
)

// What follows the readings: each sensor's latest values, each unit's
// evaluation state, and the downsampled series.

// storeLatest sets sensor_latest (and sensors.last_seen_at) from the newest
// stored reading of each imported sensor, so /latest, the in-memory cache
// ingest loads at start and the sweep's silence all start from the truth.
func storeLatest(ctx context.Context, pool *pgxpool.Pool, sensors []int64) error {
	if len(sensors) == 0 {
		return nil
	}
	_, err := pool.Exec(ctx, `
		WITH newest AS (
			SELECT s.id, r.time, r.temp_c, r.humidity, r.battery
			  FROM unnest($1::int8[]) AS s(id)
			 CROSS JOIN LATERAL (SELECT time, temp_c, humidity, battery FROM readings
			                      WHERE sensor_id = s.id ORDER BY time DESC LIMIT 1) r),
		latest AS (
			INSERT INTO sensor_latest (sensor_id, time, temp_c, humidity, battery)
			SELECT id, time, temp_c, humidity, battery FROM newest
			ON CONFLICT (sensor_id) DO UPDATE SET time = excluded.time, temp_c = excluded.temp_c, humidity = excluded.humidity,
			       battery = excluded.battery, updated_at = now()
			 WHERE sensor_latest.time < excluded.time)
		UPDATE sensors SET last_seen_at = greatest(sensors.last_seen_at, n.time), battery = coalesce(n.battery, sensors.battery)
		  FROM newest n WHERE sensors.id = n.id AND sensors.last_seen_at IS DISTINCT FROM greatest(sensors.last_seen_at, n.time)`, sensors)
	if err != nil {
		return fmt.Errorf("store latest values: %w", err)
	}
	return nil
}

// retireHistoric retires the synthetic sensors that hold only history: their
// readings ended (a device that moved on, a gateway replaced by a device)
// while another sensor of the unit went on reporting. Active, they would be
// probes that fell silent, which the sweep alerts as a dead probe
// (sensor_fault); retired at their last reading, their readings stay in the
// unit's record. One whose readings are current again (a --since run) is
// active again. It returns how many are retired.
func retireHistoric(ctx context.Context, pool *pgxpool.Pool, synthetic []int64) (int64, error) {
	if len(synthetic) == 0 {
		return 0, nil
	}
	var n int64
	err := pool.QueryRow(ctx, `
		WITH st AS (
			SELECT s.id, sl.time,
			       sl.time < (SELECT max(o.time) FROM sensor_latest o JOIN sensors x ON x.id = o.sensor_id
			                   WHERE x.org_id = s.org_id AND x.unit_id = s.unit_id AND x.id <> s.id AND x.retired_at IS NULL) - $2::interval AS stale
			  FROM sensors s JOIN sensor_latest sl ON sl.sensor_id = s.id
			 WHERE s.id = ANY($1)),
		upd AS (
			UPDATE sensors s SET retired_at = CASE WHEN st.stale THEN st.time END, updated_at = now(), version = s.version + 1
			  FROM st WHERE s.id = st.id AND (s.retired_at IS NOT NULL) IS DISTINCT FROM coalesce(st.stale, false)
			RETURNING 1)
		SELECT count(*) FILTER (WHERE stale) FROM st`, synthetic, (2 * safety.DefaultMaxGap).String()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("retire sensors that hold only history: %w", err)
	}
	return n, nil
}

// unitNow is a unit's newest imported readings: when, and the highest and
// lowest of its sensors' latest temperatures.
type unitNow struct {
	at        *time.Time
	high, low float64
}

// storeAlertStates writes an alert_state row for every rule that applies to
// each imported unit, evaluated up to the unit's newest imported reading:
// the sweep then has nothing to catch up, and no reading the seed already
// judged is evaluated again (an excursion it handled cannot open, or page
// anyone for, a new alert). An imported open alert is attached to its rule's
// state while its condition holds now (auto-resolving kinds: always, so
// that the next good reading resolves it); otherwise the state is ok.
func storeAlertStates(ctx context.Context, pool *pgxpool.Pool, p *plan) (int, error) {
	units := slices.Sorted(maps.Keys(p.unitsByID))
	if len(units) == 0 {
		return 0, nil
	}
	now := map[string]unitNow{}
	rows, err := pool.Query(ctx, `
		SELECT s.unit_id::text, max(sl.time), max(sl.temp_c), min(sl.temp_c)
		  FROM sensors s JOIN sensor_latest sl ON sl.sensor_id = s.id
		 WHERE s.unit_id = ANY($1::text[]::uuid[]) AND s.retired_at IS NULL
		 GROUP BY 1`, units)
	if err != nil {
		return 0, fmt.Errorf("read units' latest readings: %w", err)
	}
	var (
		id        string
		at        time.Time
		high, low float64
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &at, &high, &low}, func() error {
		now[id] = unitNow{at: ptr(at.UTC()), high: high, low: low}
		return nil
	}); err != nil {
		return 0, fmt.Errorf("read units' latest readings: %w", err)
	}
	open := map[[2]string]*tAlert{}
	var imported []string
	for i := range p.alerts {
		a := &p.alerts[i]
		imported = append(imported, a.ID)
		if a.Status != "resolved" {
			open[[2]string{a.UnitID, a.RuleID}] = a
		}
	}
	rulesOf := map[string][]alerting.Rule{}
	b := &pgx.Batch{}
	for _, uid := range units {
		u := p.unitsByID[uid]
		rules, ok := rulesOf[u.OrgID]
		if !ok {
			if rules, err = alerting.LoadRules(ctx, pool, u.OrgID); err != nil {
				return 0, err
			}
			rulesOf[u.OrgID] = rules
		}
		un := now[uid]
		for _, r := range alerting.Effective(rules, alerting.UnitScope{ID: u.ID, Kind: u.Kind, SafeMinC: u.SafeMinC, SafeMaxC: u.SafeMaxC}) {
			state, since, peak, alertID := "ok", (*time.Time)(nil), (*float64)(nil), (*string)(nil)
			if a := open[[2]string{u.ID, r.ID}]; a != nil && current(r, a, un) {
				state, since, peak, alertID = "alerting", &a.StartedAt, a.PeakC, &a.ID
			}
			b.Queue(`
				INSERT INTO alert_state (org_id, unit_id, rule_id, state, since, evaluated_to, peak_c, alert_id)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT (unit_id, rule_id) DO UPDATE SET
				       evaluated_to = greatest(alert_state.evaluated_to, excluded.evaluated_to),
				       state = CASE WHEN alert_state.state = 'ok' OR alert_state.alert_id = ANY($9::text[]::uuid[]) THEN excluded.state ELSE alert_state.state END,
				       since = CASE WHEN alert_state.state = 'ok' OR alert_state.alert_id = ANY($9::text[]::uuid[]) THEN excluded.since ELSE alert_state.since END,
				       peak_c = CASE WHEN alert_state.state = 'ok' OR alert_state.alert_id = ANY($9::text[]::uuid[]) THEN excluded.peak_c ELSE alert_state.peak_c END,
				       alert_id = CASE WHEN alert_state.state = 'ok' OR alert_state.alert_id = ANY($9::text[]::uuid[]) THEN excluded.alert_id ELSE alert_state.alert_id END,
				       updated_at = now()`,
				u.OrgID, u.ID, r.ID, state, since, un.at, peak, alertID, imported)
		}
	}
	n := b.Len()
	if err := pool.SendBatch(ctx, b).Close(); err != nil {
		return 0, fmt.Errorf("store alert states: %w", err)
	}
	return n, nil
}

// current reports whether an imported open alert's condition holds at the
// unit's newest readings.
func current(r alerting.Rule, a *tAlert, un unitNow) bool {
	switch r.Kind {
	case alerting.KindTempHigh:
		return un.at != nil && !math.IsNaN(r.Threshold) && un.high > r.Threshold
	case alerting.KindTempLow:
		return un.at != nil && !math.IsNaN(r.Threshold) && un.low < r.Threshold
	}
	return r.AutoResolve
}

// vacuumReadings vacuums and analyzes the partitions (or chunks) that
// received the imported days, as after any bulk load, before the rollups
// are refreshed from them: TimescaleDB's refresh of 1M freshly copied
// readings took 5 to 35 s here, depending on what autovacuum had reached,
// and 2 s after this; the VACUUM took 0.3 s.
func vacuumReadings(ctx context.Context, pool *pgxpool.Pool, mode schema.Mode, days []time.Time) error {
	if len(days) == 0 {
		return nil
	}
	var tables []string
	if mode == schema.Timescale {
		lo, hi := days[0], days[len(days)-1].Add(24*time.Hour)
		rows, err := pool.Query(ctx, `SELECT c::text FROM show_chunks('readings', newer_than => $1::timestamptz, older_than => $2::timestamptz) c`, lo, hi)
		if err == nil {
			tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil {
			return fmt.Errorf("list the imported chunks: %w", err)
		}
	} else {
		for _, d := range days {
			tables = append(tables, pgx.Identifier{"readings_p" + d.Format("20060102")}.Sanitize())
		}
	}
	for _, t := range tables {
		if _, err := pool.Exec(ctx, `VACUUM (ANALYZE) `+t); err != nil {
			return fmt.Errorf("vacuum %s: %w", t, err)
		}
	}
	return nil
}

// refreshRollups folds the imported readings into the downsampled series:
// every chunk logged its 5-minute buckets (RecordWrites), and this refreshes
// them all, in either storage mode, waiting for a refresh running elsewhere.
func refreshRollups(ctx context.Context, store *schema.Store, now time.Time) error {
	if err := store.Materialize(ctx, now, now); err != nil {
		return fmt.Errorf("refresh the downsampled series: %w", err)
	}
	return nil
}
