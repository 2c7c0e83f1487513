// Package seedimport moves a FreshTrack Pro database (the TypeScript system
// FreshTrack replaces, "the seed") into FreshTrack, and verifies that
// nothing was lost: `freshtrack import seed`.
//
// # What it owns, and what it must not touch
//
// It owns the mapping from the seed's tables to FreshTrack's
// (../shared/SEED-SYSTEM.md §3.2 and §3.3) and the import's bookkeeping
// (import_runs, import_chunks). It writes FreshTrack's tables directly,
// because an import must keep the seed's ids and times, which the API
// cannot; it uses the capabilities' own helpers where they exist (default
// rules and effective rules from alerting, the partitions and rollups of
// schema.Store, the binary COPY encoding of ingest, the audit chain of
// auth). It never writes to the seed: every read is in a REPEATABLE READ
// READ ONLY transaction.
//
// # Phases
//
// One exported snapshot of the seed (pg_export_snapshot) is shared by every
// connection of a run, so a live seed is read consistently:
//
//  1. load: every table but the readings, with the columns this seed has
//     (its history decides; see catalog), and a pre-pass over the readings
//     counting them per unit, device and UTC day.
//  2. plan (plan*.go, pure): the seed's rows become FreshTrack's, with
//     every skip and merge counted in the Report. Ids are kept where both
//     sides are uuids; organisations are derived through unit → area →
//     site; people are users keyed by Options.Issuer and their Stack Auth
//     id; temperatures are converted from Options.ReadingsUnit (readings,
//     alert trigger values, manual checks) and from each unit's temp_unit
//     (limits).
//  3. tables: one transaction upserting the plan, organisations first,
//     then their built-in default rules (alerts may hang from them).
//  4. readings: chunks of Options.Chunk, oldest first, Options.Workers at a
//     time: the seed's COPY (SELECT ... ORDER BY recorded_at, id) TO STDOUT
//     in binary is decoded, mapped and re-encoded on the fly (stream.go)
//     into FreshTrack's binary COPY, and committed with the chunk's
//     import_chunks row and its rollup invalidations.
//  5. finish: sensor_latest from the newest stored readings, an alert_state
//     per unit and applying rule evaluated up to the unit's newest
//     reading, the downsampled series refreshed (both storage modes).
//
// # Readings
//
// Each reading goes to its device's sensor (public_id = devices.id) when
// that device is imported and sits in the reading's unit; otherwise (no
// device, a device that is not imported, or one that has moved since) to
// the unit's synthetic sensor, external_id "unit:<unit id>", which the
// legacy ingest routes use for readings addressed by unit. Readings of one
// sensor at one instant collapse into the first by id. A probe's error code
// (safety.IsFaultCode) goes to sensor_faults, as ingest does.
//
// # Runs: interrupted, resumed, incremental
//
// A run (import_runs) fixes the readings it covers when it starts: those
// recorded up to the snapshot's newest. Killed at any point, a rerun
// continues the run: tables are upserted again, chunks already committed
// are skipped, the others are copied from a new snapshot. A --since run
// (Options.Since) covers what the seed received after the last finished
// run: readings recorded after its newest, or received after its snapshot
// (less SinceSlack), inserted with ON CONFLICT DO NOTHING so an overlap is
// counted, not duplicated.
//
// # Alerts
//
// The import must never open or notify an alert for what the seed already
// handled. Every rule that applies to an imported unit gets an alert_state
// row evaluated up to the unit's newest imported reading, so the sweep's
// catch-up (which would replay the last 24 hours) finds nothing to do; an
// imported open alert is attached to its rule's state while its condition
// holds; an unacknowledged imported alert counts as having sent every
// escalation step, so the sweep's overdue-escalation pass pages no one.
// Imported alerts name no policy: a notification policy is chosen when an
// alert opens, so the imported notification policies (plan_policies.go)
// govern the alerts FreshTrack opens after the import, and no imported
// alert gets reminders or "resolved" messages for what the seed handled.
//
// # Secrets
//
// TTN webhook secrets (ttn_connections.webhook_secret of active connections)
// are not imported here: the report counts them "to legacy secrets", and
// Options.LegacySecrets, when set (to auth.CreateLegacySecret), receives
// each in the tables' transaction, in a savepoint of its own. Other secrets
// (LoRa app keys, Telnyx keys, TTN API keys) are never read.
//
// # Verify
//
// Verify rebuilds the plan from a new snapshot and compares it with
// FreshTrack table by table (count and an order-independent sum of MD5
// prefixes over a projection of each row), and the readings unit by unit
// and UTC day by day with the same checksum of unit|time|round(temp_c, 2)
// computed in SQL on both sides, the seed's side applying the mapping
// (sensor keys, collapsing, conversion, error codes). Its result is an
// import.completed entry in each organisation's audit trail, which the
// HACCP report's footer cites.
//
// # Files
//
//	options.go        Options, defaults, validation
//	source.go         the seed session: snapshot, forks, catalog
//	seed.go, load.go  the seed's rows and how they are read
//	convert.go        pure conversions (units, kinds, phones, zones, ids)
//	plan*.go          the mapping
//	target.go         what FreshTrack already holds
//	write.go          storing the plan
//	readings.go       chunks, workers, the pre-pass
//	stream.go         the seed COPY → FreshTrack COPY transformer
//	finish.go         sensor_latest, alert_state, rollups
//	runs.go           import_runs, import_chunks
//	import.go         Import: the phases in order
//	verify*.go        Verify
//	report.go         Report
//	progress.go       rows/s and ETA
package seedimport
