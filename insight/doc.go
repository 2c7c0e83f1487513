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
package insight
