package ingest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Sensor resolution outcomes besides a sensor key (> 0).
const (
	sensorUnknown int64 = -1
	sensorRetired int64 = -2
	// sensorRejected marks a reading rejected before resolution; Resolve skips it.
	sensorRejected int64 = -3
	// sensorOverLimit is an unknown sensor that auto-registration could not
	// register: the organisation's plan has no room for it.
	sensorOverLimit int64 = -4
)

// SensorRoom says how many of want new sensors an organisation may
// register in tx, holding whatever lock keeps concurrent registrations
// from passing its limit until tx ends, and why not more (billing.Limits).
type SensorRoom func(ctx context.Context, tx pgx.Tx, org string, want int) (room int, why string, err error)

// negative reports whether a resolution is cached as a negative entry.
func negative(id int64) bool { return id == sensorUnknown || id == sensorOverLimit }

// SensorDirectory maps (organisation, external id) to sensor keys, cached in
// process. A cache hit costs one map lookup without allocation; misses of a
// request are looked up (and auto-registered when the organisation allows
// it) with one query for all of them. Entries are re-checked after a TTL, so
// a retired sensor stops being accepted within it.
type SensorDirectory struct {
	pool   *pgxpool.Pool
	ttl    time.Duration
	negTTL time.Duration
	now    func() time.Time

	mu   sync.RWMutex
	orgs map[string]map[string]sensorEntry
	// unknown counts each organisation's cached unknown ids, at most
	// MaxUnknownSensors: a key holder posting random ids must not grow the
	// cache without bound.
	unknown map[string]int
	// room, when set, bounds auto-registration; limitWhy is the reason it
	// gave last, per organisation.
	room     SensorRoom
	limitWhy map[string]string
}

// MaxUnknownSensors bounds the unknown sensor ids cached per organisation;
// past it, expired ones are dropped, and if none is, new unknown ids are not
// cached (each request then looks its unknown ids up again, in one query).
const MaxUnknownSensors = 10_000

var (
	mUnknownCached    = metrics.NewGauge(`freshtrack_ingest_unknown_sensors_cached`, nil)
	mUnknownNotCached = metrics.NewCounter(`freshtrack_ingest_unknown_sensors_not_cached_total`)
)

type sensorEntry struct {
	id      int64 // > 0, sensorUnknown, sensorOverLimit or sensorRetired
	checked int64 // unix nanos
}

// NewSensorDirectory returns a directory whose positive entries live ttl and
// negative ones (unknown sensors) negTTL.
func NewSensorDirectory(pool *pgxpool.Pool, ttl, negTTL time.Duration) *SensorDirectory {
	return &SensorDirectory{pool: pool, ttl: ttl, negTTL: negTTL, now: time.Now, orgs: map[string]map[string]sensorEntry{}, unknown: map[string]int{},
		limitWhy: map[string]string{}}
}

// LimitReason is why the organisation's last auto-registration stopped
// short of the sensors it was asked for.
func (d *SensorDirectory) LimitReason(org string) string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if why := d.limitWhy[org]; why != "" {
		return why
	}
	return "the organisation's sensor limit is reached"
}

// Resolve fills ids[i] for readings[i]: the sensor key, sensorUnknown or
// sensorRetired. Readings whose ids[i] is already non-zero are skipped
// (callers mark rejected readings that way). With autoRegister, unknown
// external ids are created as unassigned sensors of org.
func (d *SensorDirectory) Resolve(ctx context.Context, org string, autoRegister bool, readings []Reading, ids []int64) error {
	now := d.now().UnixNano()
	var missing []string
	d.mu.RLock()
	m := d.orgs[org]
	for i := range readings {
		if ids[i] != 0 {
			continue
		}
		e, ok := m[string(readings[i].Sensor)]
		if ok && now-e.checked < d.ttlFor(e) {
			ids[i] = e.id
			continue
		}
		missing = append(missing, string(readings[i].Sensor))
	}
	d.mu.RUnlock()
	if len(missing) == 0 {
		return nil
	}
	missing = dedupe(missing)
	found, why, err := d.lookup(ctx, org, autoRegister, missing)
	if err != nil {
		return err
	}
	d.mu.Lock()
	if why != "" {
		d.limitWhy[org] = why
	}
	m = d.orgs[org]
	if m == nil {
		m = map[string]sensorEntry{}
		d.orgs[org] = m
	}
	for _, ext := range missing {
		id, ok := found[ext]
		if !ok {
			id = sensorUnknown
		}
		prev, had := m[ext]
		switch {
		case had && negative(prev.id) && !negative(id):
			d.unknown[org]--
			mUnknownCached.Dec()
		case negative(id) && !(had && negative(prev.id)):
			if d.unknown[org] >= MaxUnknownSensors && d.pruneUnknown(org, m, now) == 0 {
				mUnknownNotCached.Inc()
				continue
			}
			d.unknown[org]++
			mUnknownCached.Inc()
		}
		m[ext] = sensorEntry{id: id, checked: now}
	}
	d.mu.Unlock()
	for i := range readings {
		if ids[i] == 0 {
			if id, ok := found[string(readings[i].Sensor)]; ok {
				ids[i] = id
			} else {
				ids[i] = sensorUnknown
			}
		}
	}
	return nil
}

// CachedUnknown returns how many unknown sensor ids of an organisation are
// cached.
func (d *SensorDirectory) CachedUnknown(org string) int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.unknown[org]
}

// pruneUnknown drops an organisation's expired unknown entries, called with
// d.mu held, and returns how many it dropped.
func (d *SensorDirectory) pruneUnknown(org string, m map[string]sensorEntry, now int64) int {
	n := 0
	for ext, e := range m {
		if negative(e.id) && now-e.checked >= int64(d.negTTL) {
			delete(m, ext)
			n++
		}
	}
	d.unknown[org] -= n
	mUnknownCached.Add(float64(-n))
	return n
}

func (d *SensorDirectory) ttlFor(e sensorEntry) int64 {
	if negative(e.id) {
		return int64(d.negTTL)
	}
	return int64(d.ttl)
}

// Forget drops an organisation's cached sensors (after sensors were
// retired or reassigned in this process).
func (d *SensorDirectory) Forget(org string) {
	d.mu.Lock()
	delete(d.orgs, org)
	mUnknownCached.Add(float64(-d.unknown[org]))
	delete(d.unknown, org)
	d.mu.Unlock()
}

// lookup resolves external ids in the database, auto-registering the
// unknown ones when asked, as many as the organisation has room for; the
// others resolve to sensorOverLimit, and why says why.
func (d *SensorDirectory) lookup(ctx context.Context, org string, autoRegister bool, exts []string) (found map[string]int64, why string, err error) {
	var over []string
	if autoRegister {
		if over, why, err = d.register(ctx, org, exts); err != nil {
			return nil, "", err
		}
	}
	rows, err := d.pool.Query(ctx, `
		SELECT external_id, id, retired_at IS NOT NULL FROM sensors
		 WHERE org_id = $1 AND external_id = ANY($2::text[])`, org, exts)
	if err != nil {
		return nil, "", fmt.Errorf("look up sensors: %w", err)
	}
	found = make(map[string]int64, len(exts))
	var (
		ext     string
		id      int64
		retired bool
	)
	_, err = pgx.ForEachRow(rows, []any{&ext, &id, &retired}, func() error {
		if retired {
			id = sensorRetired
		}
		found[ext] = id
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("look up sensors: %w", err)
	}
	for _, ext := range over {
		if _, ok := found[ext]; !ok {
			found[ext] = sensorOverLimit
		}
	}
	return found, why, nil
}

// register creates the sensors of exts the organisation does not have, as
// unassigned sensors, within its room; it returns those it had no room for.
func (d *SensorDirectory) register(ctx context.Context, org string, exts []string) (over []string, why string, err error) {
	if d.room == nil {
		if _, err := d.pool.Exec(ctx, `
			INSERT INTO sensors (org_id, external_id) SELECT $1, unnest($2::text[])
			ON CONFLICT (org_id, external_id) DO NOTHING`, org, exts); err != nil {
			return nil, "", fmt.Errorf("auto-register sensors: %w", err)
		}
		return nil, "", nil
	}
	err = pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT e FROM unnest($2::text[]) AS e
			WHERE NOT EXISTS (SELECT 1 FROM sensors WHERE org_id = $1 AND external_id = e) ORDER BY e`, org, exts)
		if err != nil {
			return err
		}
		fresh, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(fresh) == 0 {
			return err
		}
		room, reason, err := d.room(ctx, tx, org, len(fresh))
		if err != nil {
			return err
		}
		room = max(0, min(room, len(fresh)))
		if room < len(fresh) {
			over, why = fresh[room:], reason
		}
		if room == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO sensors (org_id, external_id) SELECT $1, unnest($2::text[])
			ON CONFLICT (org_id, external_id) DO NOTHING`, org, fresh[:room])
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("auto-register sensors: %w", err)
	}
	return over, why, nil
}

func dedupe(s []string) []string {
	seen := make(map[string]struct{}, len(s))
	out := s[:0]
	for _, v := range s {
		if _, ok := seen[v]; !ok {
			seen[v] = struct{}{}
			out = append(out, v)
		}
	}
	return out
}
