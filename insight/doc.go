// Package insight holds FreshTrack's food-safety detectors: what the
// threshold-plus-confirm-delay alerts of package alerting miss.
//
//   - trend_warning: a robust (Theil–Sen) slope of a unit's compressor-cycle
//     envelope predicts when it will cross its limit, ahead of the threshold
//     alert;
//   - defrost: a freezer's defrost cycle is learned from its history, so
//     the evaluator lets a defrost that keeps to it run its course;
//   - door_open: a door left open (contact sensor), and door openings
//     recognised from the temperature's signature;
//   - time_out_of_temp: the time a unit spent out of range in a local day,
//     however short each excursion;
//   - cooling: the two-stage cooling rule (57 → 21 °C in 2 h, → 5 °C in 6 h),
//     with a projection of a stage that is going to be missed;
//   - sensor_implausible: a probe stuck on one value, or jumping faster than
//     anything it can measure.
//
// A Unit is a pure, streaming state machine: it has no clock and no
// database of its own. Its caller feeds it a unit's readings in time order
// and the passing of time (Tick), and persists it between runs as JSON; the
// state round-trips through encoding/json exactly, so a trace fed in one go
// and one fed in parts with a round-trip between them produce the same
// Outputs. Every time a Unit keeps is in UTC and no float it keeps is NaN,
// which is what makes that round-trip exact.
//
// # The job
//
// Runner (runner.go) is the Unit's caller in production: RunArgs, a River
// job on the alerting queue that the leader enqueues every minute
// (job.go), visits each unit with new readings or door states since its
// last visit, something in progress (insight_state.busy: a raised
// condition, an open door, a running cooling log), a manual cooling log a
// person started, or a duty that may be due. A visit is one transaction
// holding the unit's insight_state row: it reads the readings after
// processed_to (and a little before, so safety.Mixer knows every probe),
// feeds them with the door states and cooling starts minute by minute as
// `freshtrack eval alerts` does, stores the episodes (unit_events), the
// cooling logs and the learned defrost pattern (defrost_patterns, which the
// evaluator reads), checks the duties (duties.go: manual checks at the
// site's cadence, calibration due dates), and raises or clears alerts
// through alerting's RaiseTx and ClearTx last. A crash repeats a visit;
// it never loses or doubles one. History read on a unit's first visit
// (Config.Backfill, 7 days) is learned from, but a condition that began
// more than Config.Quiet (1 h) before it was recognised alerts nobody.
// store.go holds the SQL, rules.go turns a unit's rules into Params.
package insight
