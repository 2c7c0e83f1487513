package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// LatestValue is a sensor's newest reading.
type LatestValue struct {
	TimeMicros int64
	TempC      float64
	// Humidity and Battery are NaN when the newest reading had none.
	Humidity float64
	Battery  float64
}

// Time is the reading's time.
func (v LatestValue) Time() time.Time { return time.UnixMicro(v.TimeMicros).UTC() }

// Latest keeps every sensor's newest reading in memory, updated after each
// commit, so "latest value" questions never scan readings. It persists the
// values that changed to sensor_latest (and sensors.last_seen_at / battery)
// at most every PersistInterval, coalesced: one statement for however many
// readings arrived, instead of an upsert per reading on the ingest path.
// At start, Load rebuilds it from sensor_latest plus an index lookup per
// sensor for anything newer.
type Latest struct {
	mu    sync.RWMutex
	m     map[int64]LatestValue
	dirty map[int64]struct{}
}

// NewLatest returns an empty cache.
func NewLatest() *Latest {
	return &Latest{m: map[int64]LatestValue{}, dirty: map[int64]struct{}{}}
}

// Update folds committed rows in; older rows than the cached one are ignored.
func (l *Latest) Update(rows []Row) {
	l.mu.Lock()
	for i := range rows {
		r := &rows[i]
		if r.Fault {
			continue
		}
		cur, ok := l.m[r.SensorID]
		if ok && cur.TimeMicros >= r.TimeMicros {
			continue
		}
		l.m[r.SensorID] = LatestValue{TimeMicros: r.TimeMicros, TempC: r.TempC, Humidity: r.Humidity, Battery: r.Battery}
		l.dirty[r.SensorID] = struct{}{}
	}
	l.mu.Unlock()
}

// Get returns a sensor's newest reading.
func (l *Latest) Get(sensorID int64) (LatestValue, bool) {
	l.mu.RLock()
	v, ok := l.m[sensorID]
	l.mu.RUnlock()
	return v, ok
}

// Len is the number of sensors with a known latest value.
func (l *Latest) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.m)
}

// Persist writes the values that changed since the last call. Several
// processes may persist concurrently: a row only moves forward in time.
func (l *Latest) Persist(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	l.mu.Lock()
	n := len(l.dirty)
	ids := make([]int64, 0, n)
	times := make([]time.Time, 0, n)
	temps := make([]float64, 0, n)
	hums := make([]*float64, 0, n)
	bats := make([]*float64, 0, n)
	for id := range l.dirty {
		v := l.m[id]
		ids = append(ids, id)
		times = append(times, v.Time())
		temps = append(temps, v.TempC)
		hums = append(hums, nullable(v.Humidity))
		bats = append(bats, nullable(v.Battery))
	}
	clear(l.dirty)
	l.mu.Unlock()
	if n == 0 {
		return 0, nil
	}
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO sensor_latest AS sl (sensor_id, time, temp_c, humidity, battery, updated_at)
			SELECT u.id, u.t, u.temp, u.hum, u.bat, now()
			  FROM unnest($1::bigint[], $2::timestamptz[], $3::float8[], $4::float4[], $5::float4[]) AS u(id, t, temp, hum, bat)
			  JOIN sensors s ON s.id = u.id
			ON CONFLICT (sensor_id) DO UPDATE
			   SET time = excluded.time, temp_c = excluded.temp_c, humidity = excluded.humidity,
			       battery = excluded.battery, updated_at = now()
			 WHERE sl.time < excluded.time`, ids, times, temps, hums, bats)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			UPDATE sensors s SET last_seen_at = u.t, battery = coalesce(u.bat, s.battery)
			  FROM unnest($1::bigint[], $2::timestamptz[], $3::float4[]) AS u(id, t, bat)
			 WHERE s.id = u.id AND (s.last_seen_at IS NULL OR s.last_seen_at < u.t)`, ids, times, bats)
		return err
	})
	if err != nil {
		// Put them back so the next call retries.
		l.mu.Lock()
		for _, id := range ids {
			l.dirty[id] = struct{}{}
		}
		l.mu.Unlock()
		return 0, fmt.Errorf("persist latest values: %w", err)
	}
	return n, nil
}

// Load rebuilds the cache: persisted values, then for each sensor an index
// lookup (readings' primary key, newest first) for anything stored after
// them, bounded to the last lookback for sensors never persisted.
func (l *Latest) Load(ctx context.Context, pool *pgxpool.Pool, lookback time.Duration) error {
	rows, err := pool.Query(ctx, `
		SELECT s.id, r.time IS NOT NULL, coalesce(r.time, sl.time), coalesce(r.temp_c, sl.temp_c),
		       CASE WHEN r.time IS NOT NULL THEN r.humidity ELSE sl.humidity END,
		       CASE WHEN r.time IS NOT NULL THEN r.battery ELSE sl.battery END
		  FROM sensors s
		  LEFT JOIN sensor_latest sl ON sl.sensor_id = s.id
		  LEFT JOIN LATERAL (
		        SELECT time, temp_c, humidity, battery FROM readings
		         WHERE sensor_id = s.id AND time > coalesce(sl.time, now() - $1::interval)
		         ORDER BY time DESC LIMIT 1) r ON true
		 WHERE s.retired_at IS NULL AND (r.time IS NOT NULL OR sl.time IS NOT NULL)`,
		fmt.Sprintf("%d seconds", int64(lookback/time.Second)))
	if err != nil {
		return fmt.Errorf("load latest values: %w", err)
	}
	var (
		id       int64
		newer    bool
		t        time.Time
		temp     float64
		hum, bat *float32
	)
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err = pgx.ForEachRow(rows, []any{&id, &newer, &t, &temp, &hum, &bat}, func() error {
		l.m[id] = LatestValue{TimeMicros: t.UnixMicro(), TempC: temp, Humidity: fromNullable(hum), Battery: fromNullable(bat)}
		if newer {
			// Stored after the last persist (the process died before it):
			// sensor_latest, which the sweep and other instances read, must
			// catch up too.
			l.dirty[id] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load latest values: %w", err)
	}
	return nil
}

// RunPersist persists every interval until ctx ends, then once more.
func (l *Latest) RunPersist(ctx context.Context, pool *pgxpool.Pool, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if _, err := l.Persist(ctx, pool); err != nil {
				log.Warn("persist latest values", "err", err)
			}
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if _, err := l.Persist(final, pool); err != nil {
				log.Warn("persist latest values at shutdown", "err", err)
			}
			cancel()
			return
		}
	}
}

func nullable(v float64) *float64 {
	if math.IsNaN(v) {
		return nil
	}
	return &v
}

func fromNullable(v *float32) float64 {
	if v == nil {
		return math.NaN()
	}
	return float64(*v)
}
