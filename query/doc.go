// Package query is FreshTrack's read path: a unit's temperature series at
// any resolution, and the latest value and status of every unit of a site.
// Every function takes the caller's organisation and filters every
// statement by it; a unit or site of another organisation, a missing one
// and a malformed id are the same ErrNotFound.
//
// # Series
//
// Series aggregates the readings of every sensor currently assigned to a
// unit. Resolutions: raw readings (ranges up to 7 days), 5-minute and hourly
// buckets aligned to UTC, and local days of the site's time zone (23 to 25
// hours around daylight-saving changes). "auto" picks the finest resolution
// that returns at most 1,000 points (AutoResolution): raw up to 12 hours,
// 5m up to 83 h 20 min (24 h → 288 buckets), 1h up to 41 d 16 h (7 d → 168,
// 30 d → 720), 1d beyond (90 d → 90). Ranges are at most 400 days.
//
// Buckets are read from the downsampled series and, for the part not
// materialised yet, from readings:
//
//   - postgres mode: the rollup tables hold every bucket before
//     rollup_state.watermark W. A request is cut at W into day rows before
//     floor_1d(W), hour rows before floor_1h(W), 5-minute rows before W and
//     readings from W on, each level reading only its whole buckets, so a
//     bucket that straddles W is exactly the sum of the finer rows before
//     it and the readings after it. Late readings into materialised buckets
//     appear after the next refresh (RefreshRollups), readings after W at
//     once.
//   - timescale mode: the continuous aggregates are real-time
//     (materialized_only = false), so they are read directly: TimescaleDB
//     serves buckets after the aggregate's watermark from readings. The same
//     refresh (RefreshRollups) materialises them from the same log of
//     touched buckets, so late readings into materialised buckets appear
//     after the next refresh there too, and readings after W at once.
//
// Day buckets are folded at query time from the coarsest level whose
// buckets tile the site's local days: daily rows for zones at UTC, hourly
// rows for whole-hour offsets, 5-minute rows for :30 and :45 offsets
// (Asia/Kolkata, Asia/Kathmandu), readings for anything else. The local
// midnights are computed in Go (DayBounds) and passed to width_bucket, so
// the site's zone rules are Go's.
//
// A bucket without readings is absent, never invented. Gaps lists them: for
// bucketed resolutions every run of consecutive missing buckets that ended
// before now (the current and future buckets are never gaps); for raw
// readings every silence longer than three times the median interval
// between the returned readings (at least a minute; 15 minutes when fewer
// than two readings), from the range start to the earlier of its end and
// now.
//
// Cost: one statement for the unit, its site's zone, the storage mode and
// its sensors; in postgres mode one for the watermark; one for the data,
// reading the rollup tables and readings through their (sensor_id, bucket)
// and (sensor_id, time) primary keys.
//
// # Latest
//
// Latest lists the units of a site (or of the organisation) with their
// newest readings, in one statement over units, sensors, rules,
// sensor_latest and each sensor's newest sensor_faults row (never
// readings); an in-memory LatestSource such as ingest's cache is consulted
// per sensor without further statements, and the newer of the two values
// wins. A unit's limits are those of package safety (safety.LimitsFor: the
// same rule selection as alerting, a rule with threshold NULL following the
// safe range). Every active sensor is a probe, live when its newest reading
// is within the offline threshold (its sensor_offline rule's minutes, else
// LatestParams.OfflineAfter, 15 minutes by default) and no error code came
// after it; the unit is out of range while any live probe is. A unit's
// status is the first of no_data (nothing ever reported), offline (nothing,
// reading or error code, within the threshold), out_of_range, sensor_fault
// (a probe's newest record is an error code) and ok.
package query
