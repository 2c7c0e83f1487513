package compat

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SyntheticSensorName is the name of the sensor that takes a unit's
// readings when FreshTrack Pro named no device for them.
const SyntheticSensorName = "FreshTrack Pro unit feed"

// SyntheticExternalID is the external id of a unit's synthetic sensor,
// "unit:<unit id>" (the id lower-case, as PostgreSQL prints a uuid). The
// importer creates these sensors for units with device-less readings, with
// the same id, name and unit.
func SyntheticExternalID(unitID string) string { return "unit:" + unitID }

// unitTarget is the sensor that takes a unit's device-less readings.
type unitTarget struct {
	sensor int64  // > 0; 0: none
	reason string // why none
}

// deviceSensor is the sensor whose public_id a reading's deviceId is.
type deviceSensor struct {
	id   int64
	unit string // "": unassigned
}

// sensorMap is a batch's units and devices resolved in one organisation.
type sensorMap struct {
	// units holds the organisation's units; the others are foreign.
	units   map[string]unitTarget
	devices map[string]deviceSensor
}

// sensorFor is where one reading goes: its device's sensor when it is on
// the reading's unit and not retired, else the unit's (see the package
// doc). foreign means the unit is not the organisation's.
func (m sensorMap) sensorFor(r *seedReading) (id int64, foreign bool, reason string) {
	u, ok := m.units[r.Unit]
	if !ok {
		return 0, true, "unit " + r.Unit + " does not belong to the organisation"
	}
	if d, ok := m.devices[r.Device]; ok && r.Device != "" && d.unit == r.Unit {
		return d.id, false, ""
	}
	return u.sensor, false, u.reason
}

// unitsSQL reads, for each unit of the organisation among $2, its active
// sensors (how many, and the lowest id) and its synthetic sensor, if any,
// with whether it may take readings (not retired, still on the unit).
const unitsSQL = `
	SELECT u.id::text, a.n, coalesce(a.only, 0), coalesce(syn.id, 0), coalesce(syn.usable, false)
	  FROM units u
	 CROSS JOIN LATERAL (
	       SELECT count(*) AS n, min(s.id) AS only FROM sensors s
	        WHERE s.org_id = u.org_id AND s.unit_id = u.id AND s.retired_at IS NULL) a
	  LEFT JOIN LATERAL (
	       SELECT s.id, s.retired_at IS NULL AND coalesce(s.unit_id = u.id, false) AS usable FROM sensors s
	        WHERE s.org_id = u.org_id AND s.external_id = 'unit:' || u.id::text) syn ON true
	 WHERE u.org_id = $1 AND u.id = ANY($2::uuid[])`

// createSyntheticSQL creates the synthetic sensors of units $2.
const createSyntheticSQL = `
	INSERT INTO sensors (org_id, external_id, unit_id, name)
	SELECT $1, 'unit:' || u::text, u, $3 FROM unnest($2::uuid[]) AS u
	ON CONFLICT (org_id, external_id) DO NOTHING`

// devicesSQL finds the sensors, not retired, whose public ids are $2.
const devicesSQL = `
	SELECT s.public_id::text, s.id, coalesce(s.unit_id::text, '') FROM sensors s
	 WHERE s.org_id = $1 AND s.public_id = ANY($2::uuid[]) AND s.retired_at IS NULL`

// resolve maps units and devices (lower-case UUIDs, without duplicates)
// to sensor keys in org, creating the synthetic sensors of units that have
// none or several active sensors and no synthetic one yet. A unit has
// exactly one active sensor: that one takes its readings (it may be the
// synthetic one); otherwise the synthetic sensor does.
func resolve(ctx context.Context, pool *pgxpool.Pool, org string, units, devices []string) (sensorMap, error) {
	m := sensorMap{devices: map[string]deviceSensor{}}
	for attempt := 0; ; attempt++ {
		var create []string
		var err error
		m.units, create, err = queryUnits(ctx, pool, org, units)
		if err != nil {
			return m, err
		}
		if len(create) == 0 {
			break
		}
		if attempt == 1 {
			for _, u := range create {
				m.units[u] = unitTarget{reason: "unit " + u + " has no sensor that can take its readings, and its " +
					SyntheticExternalID(u) + " sensor could not be created"}
			}
			break
		}
		_, err = pool.Exec(ctx, createSyntheticSQL, org, create, SyntheticSensorName)
		var pgErr *pgconn.PgError
		if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "23503") { // 23503: a unit was deleted meanwhile
			return m, fmt.Errorf("create synthetic sensors: %w", err)
		}
	}
	if len(devices) == 0 {
		return m, nil
	}
	rows, err := pool.Query(ctx, devicesSQL, org, devices)
	if err != nil {
		return m, fmt.Errorf("look up devices: %w", err)
	}
	var (
		public, unit string
		id           int64
	)
	_, err = pgx.ForEachRow(rows, []any{&public, &id, &unit}, func() error {
		m.devices[public] = deviceSensor{id: id, unit: unit}
		return nil
	})
	if err != nil {
		return m, fmt.Errorf("look up devices: %w", err)
	}
	return m, nil
}

// queryUnits reads the organisation's units among units and where their
// readings go; create lists those whose synthetic sensor must be made.
func queryUnits(ctx context.Context, pool *pgxpool.Pool, org string, units []string) (map[string]unitTarget, []string, error) {
	out := make(map[string]unitTarget, len(units))
	rows, err := pool.Query(ctx, unitsSQL, org, units)
	if err != nil {
		return nil, nil, fmt.Errorf("look up units: %w", err)
	}
	var (
		unit               string
		n, only, synthetic int64
		usable             bool
		create             []string
	)
	_, err = pgx.ForEachRow(rows, []any{&unit, &n, &only, &synthetic, &usable}, func() error {
		switch {
		case n == 1:
			out[unit] = unitTarget{sensor: only}
		case synthetic != 0 && usable:
			out[unit] = unitTarget{sensor: synthetic}
		case synthetic != 0:
			out[unit] = unitTarget{reason: fmt.Sprintf("unit %s has %d active sensors and its %s sensor is retired or on another unit: name the device (deviceId) or restore that sensor",
				unit, n, SyntheticExternalID(unit))}
		default:
			out[unit] = unitTarget{}
			create = append(create, unit)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("look up units: %w", err)
	}
	return out, create, nil
}
