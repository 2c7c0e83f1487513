// Package schema owns FreshTrack's database schema: the embedded migrations
// (golang-migrate for FreshTrack's tables, rivermigrate for River's), the choice
// and record of the storage mode, and the storage upkeep that differs between
// modes (readings partitions, downsampled-series refresh, retention).
//
// Two storage modes share one data model:
//
//   - timescale: readings is a hypertable; the 5-minute, hourly and daily series
//     are continuous aggregates with real-time aggregation; TimescaleDB policies
//     compress and refresh them.
//   - postgres: readings is range-partitioned by UTC day; the series are rollup
//     tables that a River job refreshes from an invalidation log written in the
//     same transaction as the readings.
//
// The mode is decided by the first `freshtrack migrate up` and stored in the
// storage_mode table. Code outside this package asks a Store for its Mode and
// never probes the extension itself.
package schema
