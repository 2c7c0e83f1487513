package seedimport

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// faultSQL is safety.IsFaultCode in SQL, on a numeric °C value c.
const faultSQL = `(abs(c) >= 327 AND (abs(c - 327.67) < 0.005 OR abs(c + 327.68) < 0.005 OR abs(c - 3276.7) < 0.005
	OR abs(c + 3276.8) < 0.005 OR abs(c - 32767) < 0.005 OR abs(c + 32768) < 0.005))`

// readingHash is the 64-bit row hash of the readings checksum, computed in
// SQL on both sides: PostgreSQL's hashtextextended (the hash of hash
// partitioning, stable across versions and platforms). md5 cost 0.9 s more
// per million readings on each side here, and nothing outside SQL needs to
// compute it.
func readingHash(p string) string { return `hashtextextended(` + p + `, 0)` }

// unitDay is one side's count and checksum of a unit's day.
type unitDay struct {
	n, faults int64
	sum       string
}

// verifyReadings compares the readings per unit and UTC day. The seed's
// side applies the import's mapping in SQL: each reading's sensor key (its
// device's, when that device is imported in the reading's unit, else the
// unit's synthetic sensor), the first reading by id of each key and
// instant, the °C conversion, probe error codes left out; FreshTrack's
// side groups its readings by their sensor's unit. Each day of the seed is
// compared as of the snapshot its chunks were read in (a reading the seed
// received after that is the next --since run's).
func verifyReadings(ctx context.Context, o Options, src *source, d *seedData, last *run, p *plan, res *VerifyResult) error {
	daySet := map[time.Time]bool{}
	for _, g := range d.readings {
		daySet[g.Day] = true
	}
	snap, err := chunkSnapshots(ctx, o, daySet)
	if err != nil {
		return err
	}
	days := slices.SortedFunc(maps.Keys(daySet), time.Time.Compare)

	var devs, devUnits, keys, units, devKeys, synthetic []string
	unitOf := map[string]*string{}
	for _, s := range p.sensors {
		unitOf[s.Key] = s.UnitID
		if s.PublicID != "" {
			devKeys = append(devKeys, s.PublicID)
		} else {
			synthetic = append(synthetic, s.External)
		}
	}
	for dev, key := range p.deviceSensor {
		if u := unitOf[key]; u != nil {
			devs, devUnits, keys = append(devs, dev), append(devUnits, *u), append(keys, key)
		}
	}
	orgOf := map[string]string{}
	for id, u := range p.unitsByID {
		units = append(units, id)
		orgOf[id] = u.OrgID
	}
	var sensorIDs []int64
	rows, err := o.Target.Query(ctx, `SELECT id FROM sensors WHERE public_id = ANY($1::text[]::uuid[]) OR external_id = ANY($2::text[])`, devKeys, synthetic)
	if err == nil {
		sensorIDs, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	}
	if err != nil {
		return fmt.Errorf("verify readings: imported sensors: %w", err)
	}
	conv := "r.temperature"
	if last.Unit == Fahrenheit {
		conv = "(r.temperature - 32) * 5 / 9"
	}
	recv := "true"
	if src.cat.col("sensor_readings", "received_at") {
		recv = "r.received_at < $8"
	}
	sourceSQL := `
		WITH m AS (SELECT * FROM unnest($1::text[]::uuid[], $2::text[]::uuid[], $3::text[]::uuid[]) AS m(dev, unit, skey)),
		src AS (
			SELECT DISTINCT ON (coalesce(m.skey, r.unit_id), r.recorded_at) r.unit_id, r.recorded_at, ` + conv + ` AS c
			  FROM sensor_readings r LEFT JOIN m ON m.dev = r.device_id AND m.unit = r.unit_id
			 WHERE r.recorded_at >= $4 AND r.recorded_at < $5 AND r.recorded_at <= $6 AND r.unit_id = ANY($7::text[]::uuid[]) AND ` + recv + `
			 ORDER BY coalesce(m.skey, r.unit_id), r.recorded_at, r.id)
		SELECT unit_id::text, count(*) FILTER (WHERE NOT ` + faultSQL + `),
		       coalesce(sum(` + readingHash(`unit_id::text || '|' || recorded_at::text || '|' || round(c, 2)::text`) + `) FILTER (WHERE NOT ` + faultSQL + `), 0)::text,
		       count(*) FILTER (WHERE ` + faultSQL + `)
		  FROM src GROUP BY 1`
	targetSQL := `
		SELECT s.unit_id::text, count(*),
		       coalesce(sum(` + readingHash(`s.unit_id::text || '|' || r.time::text || '|' || round(r.temp_c::numeric, 2)::text`) + `), 0)::text
		  FROM readings r JOIN sensors s ON s.id = r.sensor_id
		 WHERE r.time >= $1 AND r.time < $2 AND r.time <= $3 AND r.sensor_id = ANY($4)
		 GROUP BY 1`
	to := deref(last.ReadingsTo)

	type dayResult struct {
		day      time.Time
		src, dst map[string]unitDay
	}
	results := make([]dayResult, len(days))
	work := make(chan int)
	errs := make(chan error, o.Workers)
	var wg sync.WaitGroup
	for range min(o.Workers, max(len(days), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, tx, err := src.fork(ctx)
			if err != nil {
				errs <- err
				return
			}
			defer func() { _ = tx.Rollback(context.Background()); _ = conn.Close(context.Background()) }()
			for i := range work {
				day := days[i]
				args := []any{devs, devUnits, keys, day, day.Add(24 * time.Hour), to, units}
				if recv != "true" {
					args = append(args, snap(day, last))
				}
				var (
					s, t       map[string]unitDay
					serr, terr error
					inner      sync.WaitGroup
				)
				inner.Add(1)
				go func() {
					defer inner.Done()
					t, terr = targetDay(ctx, o, targetSQL, day, to, sensorIDs)
				}()
				s, serr = sourceDay(ctx, tx, sourceSQL, args)
				inner.Wait()
				if err := cmp.Or(serr, terr); err != nil {
					errs <- fmt.Errorf("verify readings of %s: %w", day.Format(time.DateOnly), err)
					return
				}
				results[i] = dayResult{day: day, src: s, dst: t}
			}
		}()
	}
	var failed error
feed:
	for i := range days {
		select {
		case work <- i:
		case failed = <-errs:
			break feed
		}
	}
	close(work)
	wg.Wait()
	if failed == nil && len(errs) > 0 {
		failed = <-errs
	}
	if failed != nil {
		return failed
	}
	var srcFaults int64
	for _, r := range results {
		dl := DayLine{Day: r.day.Format(time.DateOnly)}
		for _, u := range slices.Sorted(maps.Keys(mergeKeys(r.src, r.dst))) {
			s, t := r.src[u], r.dst[u]
			srcFaults += s.faults
			s.sum, t.sum = cmp.Or(s.sum, "0"), cmp.Or(t.sum, "0")
			if s.n == 0 && t.n == 0 {
				continue // only probe error codes that day
			}
			l := ReadingsLine{UnitID: u, OrgID: orgOf[u], Day: dl.Day, SourceCount: s.n, TargetCount: t.n, SourceChecksum: s.sum, TargetChecksum: t.sum,
				Result: passFail(s.n == t.n && s.sum == t.sum)}
			res.Readings = append(res.Readings, l)
			dl.Units++
			dl.SourceCount += s.n
			dl.TargetCount += t.n
			dl.Failing += b2i(l.Result != "PASS")
		}
		dl.Result = passFail(dl.Failing == 0 && dl.SourceCount == dl.TargetCount)
		res.Days = append(res.Days, dl)
	}
	var dstFaults int64
	if err := o.Target.QueryRow(ctx, `SELECT count(*) FROM sensor_faults WHERE sensor_id = ANY($1) AND time <= $2`, sensorIDs, to).Scan(&dstFaults); err != nil {
		return fmt.Errorf("verify probe error codes: %w", err)
	}
	res.Tables = append(res.Tables, VerifyLine{Table: "sensor_faults", From: "sensor_readings (probe error codes)", SourceRows: srcFaults,
		Expected: srcFaults, Target: dstFaults, ExpectedChecksum: "-", TargetChecksum: "-", Result: passFail(srcFaults == dstFaults)})
	var sum, dst int64
	var total, totalDst big.Int
	for _, l := range res.Readings {
		sum += l.SourceCount
		dst += l.TargetCount
		var a, b big.Int
		a.SetString(l.SourceChecksum, 10)
		b.SetString(l.TargetChecksum, 10)
		total.Add(&total, &a)
		totalDst.Add(&totalDst, &b)
	}
	res.Tables = append(res.Tables, VerifyLine{Table: "readings", From: "sensor_readings", SourceRows: sum, Expected: sum, Target: dst,
		ExpectedChecksum: total.String(), TargetChecksum: totalDst.String(), Result: passFail(sum == dst && total.Cmp(&totalDst) == 0)})
	return nil
}

func sourceDay(ctx context.Context, tx pgx.Tx, sql string, args []any) (map[string]unitDay, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	out := map[string]unitDay{}
	var (
		u string
		x unitDay
	)
	_, err = pgx.ForEachRow(rows, []any{&u, &x.n, &x.sum, &x.faults}, func() error {
		out[u] = x
		return nil
	})
	return out, err
}

func targetDay(ctx context.Context, o Options, sql string, day, to time.Time, sensors []int64) (map[string]unitDay, error) {
	out := map[string]unitDay{}
	err := pgx.BeginFunc(ctx, o.Target, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL TimeZone = 'UTC'`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '64MB'; SET LOCAL jit = off`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, sql, day, day.Add(24*time.Hour), to, sensors)
		if err != nil {
			return err
		}
		var (
			u string
			x unitDay
		)
		_, err = pgx.ForEachRow(rows, []any{&u, &x.n, &x.sum}, func() error {
			out[u] = x
			return nil
		})
		return err
	})
	return out, err
}

// chunkSnapshots returns, for a day, the newest seed snapshot a chunk of it
// was read in (else the last run's).
func chunkSnapshots(ctx context.Context, o Options, days map[time.Time]bool) (func(time.Time, *run) time.Time, error) {
	rows, err := o.Target.Query(ctx, `
		SELECT date_bin('1 day', c.chunk_from, timestamptz '2000-01-01 00:00:00+00'), max(c.source_snapshot_at)
		  FROM import_chunks c JOIN import_runs r ON r.id = c.run_id WHERE r.finished_at IS NOT NULL GROUP BY 1`)
	if err != nil {
		return nil, fmt.Errorf("verify: read import chunks: %w", err)
	}
	byDay := map[int64]time.Time{}
	var day, at time.Time
	if _, err := pgx.ForEachRow(rows, []any{&day, &at}, func() error {
		byDay[day.Unix()] = at
		return nil
	}); err != nil {
		return nil, fmt.Errorf("verify: read import chunks: %w", err)
	}
	return func(d time.Time, last *run) time.Time {
		if t, ok := byDay[d.Unix()]; ok {
			return t
		}
		return last.SnapshotAt
	}, nil
}

func mergeKeys(a, b map[string]unitDay) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// WriteText prints the verification for people: every table line, every
// day, and every failing unit-day (--json has them all).
func (v *VerifyResult) WriteText(w interface{ Write([]byte) (int, error) }) error {
	var b strings.Builder
	fmt.Fprintf(&b, "verify import run %d from %s (seed snapshot %s)\n", v.RunID, v.Source, v.SnapshotAt.Format(time.RFC3339))
	for _, l := range v.Tables {
		fmt.Fprintf(&b, "%s  %-22s from %-38s seed %8d  expected %8d  freshtrack %8d  checksum %s / %s\n",
			l.Result, l.Table, l.From, l.SourceRows, l.Expected, l.Target, l.ExpectedChecksum, l.TargetChecksum)
	}
	for _, l := range v.Days {
		fmt.Fprintf(&b, "%s  readings %s  %d units  seed %d  freshtrack %d  failing units %d\n", l.Result, l.Day, l.Units, l.SourceCount, l.TargetCount, l.Failing)
	}
	passing := 0
	for _, l := range v.Readings {
		if l.Result == "PASS" {
			passing++
			continue
		}
		fmt.Fprintf(&b, "FAIL  readings %s unit %s  seed %d (checksum %s)  freshtrack %d (checksum %s)\n",
			l.Day, l.UnitID, l.SourceCount, l.SourceChecksum, l.TargetCount, l.TargetChecksum)
	}
	fmt.Fprintf(&b, "%d of %d unit-days PASS; %d failing lines in all; %s in %.1fs\n", passing, len(v.Readings), v.Failures, v.Result, v.Seconds)
	_, err := w.Write([]byte(b.String()))
	return err
}
