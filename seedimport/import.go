package seedimport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/freshtrack/freshtrack/alerting"
	"github.com/freshtrack/freshtrack/schema"
)

// Import copies a FreshTrack Pro database into FreshTrack (see the package
// documentation for the phases), or with DryRun reports what it would do.
// It returns the report also when it fails part-way: a rerun continues
// where it stopped.
func Import(ctx context.Context, o Options) (*Report, error) {
	o = o.WithDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	if ok, err := schemaHasImportTables(ctx, o.Target); err != nil || !ok {
		return nil, fmt.Errorf("FreshTrack's database has no import tables (%v): run `freshtrack migrate up` first", err)
	}
	store, err := schema.OpenStore(ctx, o.Target, o.Logger)
	if err != nil {
		return nil, err
	}
	src, err := openSource(ctx, o.Source)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	kind := map[bool]string{false: "full", true: "since"}[o.Since]
	rep := newReport(kind, o.Source)
	if o.DryRun {
		rep.Kind = "dry-run (" + kind + ")"
	}
	rep.SnapshotAt, rep.ReadingsUnit = src.At, o.ReadingsUnit

	mark := start
	d, err := loadSeed(ctx, src.tx, src.cat)
	if err != nil {
		return nil, err
	}
	if d.frostguard && o.ReadingsUnit != Fahrenheit {
		rep.note("this seed keeps FrostGuard's unit limits (temp_limit_low/high), whose readings were stored in °F: is --readings-unit F meant?")
	}
	newest, err := newestReading(ctx, src.tx)
	if err != nil {
		return nil, err
	}
	var r *run
	if o.DryRun {
		r = &run{Kind: kind, Unit: o.ReadingsUnit, SnapshotAt: src.At, ReadingsTo: newest}
		if o.Since {
			last, err := lastRun(ctx, o.Target)
			if err != nil {
				return nil, err
			}
			r.ReadingsFrom, r.ReceivedFrom = last.ReadingsTo, ptr(last.SnapshotAt.Add(-SinceSlack))
		}
	} else if r, err = openRun(ctx, o.Target, o, kind, src, newest); err != nil {
		return nil, err
	}
	rep.RunID, rep.Resumed, rep.ReadingsFrom, rep.ReadingsTo = r.ID, r.Resumed, r.ReadingsFrom, r.ReadingsTo
	if r.ReadingsTo == nil {
		r.ReadingsTo = ptr(time.Unix(0, 0).UTC()) // no readings: nothing matches
	}
	filter := newFilter(src.cat, r)
	if d.readings, err = prepass(ctx, src.tx, filter); err != nil {
		return nil, err
	}
	if err := checkRetention(o, d.readings, rep); err != nil {
		return rep, err
	}
	rep.phase("read seed", &mark)

	if o.DryRun {
		ts, err := loadTargetState(ctx, o.Target, o.Issuer, d)
		if err != nil {
			return nil, err
		}
		p := buildPlan(o, d, ts, rep)
		readingsDryRun(rep, p, d.readings)
		rep.note("dry run: nothing was written")
		rep.Seconds = time.Since(start).Seconds()
		return rep, nil
	}

	p, ids, err := importTables(ctx, o, d, rep)
	if err != nil {
		return rep, err
	}
	o.Logger.Info("seed import: tables stored", slog.Int64("run", r.ID), slog.Int("sensors", len(ids)))
	rep.phase("tables", &mark)

	m, err := buildSensorMap(p, ids)
	if err != nil {
		return rep, err
	}
	done, err := doneChunks(ctx, o.Target, r.ID)
	if err != nil {
		return rep, err
	}
	list := chunks(d.readings, o.Chunk, done)
	var total int64
	for _, c := range list {
		total += c.rows
	}
	sensorIDs := make([]int64, 0, len(ids))
	for _, id := range ids {
		sensorIDs = append(sensorIDs, id)
	}
	c := &copier{o: o, src: src, pool: o.Target, store: store, m: m, filter: filter, run: r, dedupe: r.Kind == "since", sensors: sensorIDs}
	readStart := time.Now()
	prog := startProgress(o.Progress, o.Terminal, total, &c.rows)
	err = c.copyAll(ctx, list)
	prog.Stop()
	if err != nil {
		return rep, err
	}
	readSeconds := time.Since(readStart).Seconds()
	rep.phase("readings", &mark)

	if err := storeLatest(ctx, o.Target, sensorIDs); err != nil {
		return rep, err
	}
	var synthetic []int64
	for _, s := range p.sensors {
		if s.PublicID == "" {
			synthetic = append(synthetic, ids[s.Key])
		}
	}
	retired, err := retireHistoric(ctx, o.Target, synthetic)
	if err != nil {
		return rep, err
	}
	if retired > 0 {
		rep.note("%d sensors for readings without a device of their unit hold only history (their readings ended while the unit's devices went on): they are retired at their last reading, so they are not taken for dead probes", retired)
	}
	states, err := storeAlertStates(ctx, o.Target, p)
	if err != nil {
		return rep, err
	}
	rep.table("alert_state", "units (evaluated up to their newest imported reading)").Written = int64(states)
	rep.phase("latest values and alert states", &mark)
	if err := vacuumReadings(ctx, o.Target, store.Mode(), readingDays(d.readings)); err != nil {
		return rep, err
	}
	if err := refreshRollups(ctx, store, o.Now()); err != nil {
		return rep, err
	}
	rep.phase("vacuum and rollups", &mark)
	if err := readingsReport(ctx, o, rep, r); err != nil {
		return rep, err
	}
	rep.Seconds = time.Since(start).Seconds()
	if t := rep.Table("readings"); t != nil && readSeconds > 0 {
		rep.RowsPerSecond = float64(c.rows.Load()) / readSeconds
	}
	if err := finishRun(ctx, o.Target, r.ID, rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// importTables stores every table but the readings in one transaction:
// organisations first, then their built-in default rules (alerts may hang
// from them), then the rest of the plan built against what FreshTrack
// holds now.
func importTables(ctx context.Context, o Options, d *seedData, rep *Report) (*plan, map[string]int64, error) {
	var (
		p   *plan
		ids map[string]int64
	)
	err := pgx.BeginFunc(ctx, o.Target, func(tx pgx.Tx) error {
		ts, err := loadTargetState(ctx, tx, o.Issuer, d)
		if err != nil {
			return err
		}
		first := buildPlan(o, d, ts, newReport("", o.Source))
		if err := writeOrgs(ctx, tx, first.orgs); err != nil {
			return err
		}
		var orgs []string
		for _, org := range first.orgs {
			if _, err := alerting.EnsureRules(ctx, tx, org.ID); err != nil {
				return err
			}
			orgs = append(orgs, org.ID)
		}
		if err := loadOrgRules(ctx, tx, orgs, ts); err != nil {
			return err
		}
		p = buildPlan(o, d, ts, rep)
		if ids, err = writePlan(ctx, tx, p); err != nil {
			return err
		}
		return storeSecrets(ctx, o, tx, p, rep)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("import tables: %w", err)
	}
	return p, ids, nil
}

// storeSecrets hands the TTN webhook secrets to Options.LegacySecrets.
func storeSecrets(ctx context.Context, o Options, tx pgx.Tx, p *plan, rep *Report) error {
	if len(p.secrets) == 0 {
		return nil
	}
	if o.LegacySecrets == nil {
		rep.note("%d TTN webhook secrets (ttn_connections.webhook_secret) are for FreshTrack's legacy ingest credentials and were not imported here", len(p.secrets))
		return nil
	}
	// Each in a savepoint: a secret the sink refuses (too short, another
	// organisation's) is reported, and the import goes on.
	t := rep.table("legacy_secrets", "ttn_connections.webhook_secret")
	for _, s := range p.secrets {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := o.LegacySecrets(ctx, sp, s.OrgID, s.Secret, s.Source); err != nil {
			if rerr := sp.Rollback(ctx); rerr != nil {
				return rerr
			}
			t.ToLegacySecrets--
			t.skip("refused as a legacy secret: "+err.Error(), 1)
			continue
		}
		if err := sp.Commit(ctx); err != nil {
			return err
		}
	}
	return nil
}

// checkRetention refuses readings that FreshTrack's upkeep would drop.
func checkRetention(o Options, groups []readingGroup, rep *Report) error {
	if o.RetentionDays == 0 || len(groups) == 0 {
		return nil
	}
	oldest := groups[0].Min
	for _, g := range groups {
		oldest = minT(oldest, g.Min)
	}
	cutoff := o.Now().Add(-time.Duration(o.RetentionDays) * 24 * time.Hour)
	if !oldest.Before(cutoff) {
		return nil
	}
	need := int(o.Now().Sub(oldest).Hours()/24) + 2
	msg := fmt.Sprintf("the seed's oldest reading (%s) is older than FRESHTRACK_RETENTION_DAYS=%d, so upkeep would drop it: set FRESHTRACK_RETENTION_DAYS to at least %d (for serve too) and run again",
		oldest.Format(time.RFC3339), o.RetentionDays, need)
	if o.DryRun {
		rep.note("%s", msg)
		return nil
	}
	return errors.New(msg)
}

// readingsDryRun reports the readings a run would copy, from the pre-pass.
func readingsDryRun(rep *Report, p *plan, groups []readingGroup) {
	t := rep.table("readings", "sensor_readings")
	for _, g := range groups {
		t.Read += g.N
		if p.unitsByID[g.UnitID] == nil {
			t.skip("unit not imported", g.N)
			continue
		}
		t.Written += g.N
	}
	rep.note("dry run: readings of one sensor at one instant collapse when written; the written count does not know them yet")
}

// readingsReport adds the run's readings (every chunk it committed, also
// before an interruption) to the report.
func readingsReport(ctx context.Context, o Options, rep *Report, r *run) error {
	s, present, err := chunkTotals(ctx, o.Target, r.ID)
	if err != nil {
		return err
	}
	t := rep.table("readings", "sensor_readings")
	t.Read, t.Written, t.Merged, t.Present = s.Read, s.Written, s.Collapsed, present
	t.skip("unit not imported", s.Skipped)
	f := rep.table("sensor_faults", "sensor_readings (probe error codes)")
	f.Read, f.Written = s.Faults, s.Faults
	if s.Collapsed > 0 {
		rep.note("%d seed readings shared a sensor and an instant with an earlier one and were collapsed into it (the first by id is kept)", s.Collapsed)
	}
	return nil
}

// readingDays are the UTC days the pre-pass found readings on, in order.
func readingDays(groups []readingGroup) []time.Time {
	seen := map[int64]bool{}
	var days []time.Time
	for _, g := range groups {
		if !seen[g.Day.Unix()] {
			seen[g.Day.Unix()] = true
			days = append(days, g.Day)
		}
	}
	slices.SortFunc(days, time.Time.Compare)
	return days
}
