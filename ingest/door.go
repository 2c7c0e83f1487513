package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// doors are the door states of one request, waiting for their sensors'
// keys to be resolved and then stored.
type doors struct {
	ids  []int64
	at   []time.Time
	open []bool
	// alone marks a door state that came without a temperature: what
	// becomes of it is what becomes of the uplink.
	alone []bool
}

func (d *doors) reset() {
	d.ids, d.at, d.open, d.alone = d.ids[:0], d.at[:0], d.open[:0], d.alone[:0]
}

func (d *doors) add(sensor int64, r *Reading) {
	d.ids = append(d.ids, sensor)
	d.at = append(d.at, time.UnixMicro(r.TimeMicros).UTC())
	d.open = append(d.open, r.Door == DoorOpen)
	d.alone = append(d.alone, !r.HasTemp())
}

// storeDoorsSQL inserts the door states not yet stored (a resent uplink is
// a no-op, like a resent reading) and counts how many of those that came
// alone were new. Within one request the first state of a (sensor, time)
// counts.
const storeDoorsSQL = `
	WITH src AS (
		SELECT DISTINCT ON (sensor_id, at) sensor_id, at, open, alone
		  FROM unnest($2::int8[], $3::timestamptz[], $4::bool[], $5::bool[]) WITH ORDINALITY AS s(sensor_id, at, open, alone, n)
		 ORDER BY sensor_id, at, n),
	ins AS (
		INSERT INTO door_events (org_id, sensor_id, at, open)
		SELECT $1, sensor_id, at, open FROM src
		ON CONFLICT DO NOTHING RETURNING sensor_id, at)
	SELECT count(*) FILTER (WHERE src.alone), (SELECT count(*) FROM src WHERE alone)
	  FROM src JOIN ins USING (sensor_id, at)`

// store commits the door states of org's sensors and returns how many of
// those that came alone were new and how many were already stored. It
// runs in its own transaction after the readings' commit: a failure is
// answered with a retryable error, and the retry stores what is missing
// and skips what is not.
func (d *doors) store(ctx context.Context, pool *pgxpool.Pool, org string) (stored, dup int, err error) {
	if len(d.ids) == 0 {
		return 0, 0, nil
	}
	var newAlone, alone int
	if err := pool.QueryRow(ctx, storeDoorsSQL, org, d.ids, d.at, d.open, d.alone).Scan(&newAlone, &alone); err != nil {
		return 0, 0, fmt.Errorf("store door states: %w", err)
	}
	return newAlone, alone - newAlone, nil
}
