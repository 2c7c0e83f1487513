// Package records owns what people record about their equipment and what
// the food-safety detectors recognised in it, as the API reads and writes
// them:
//
//   - sensor_calibrations: a sensor's calibration records (when, against
//     what reference, when the next one is due, who did it), newest first;
//     the calibration_due rule reads the newest one.
//   - cooling_logs: cooling cycles (the two-stage rule, 57 → 21 °C within
//     2 h and → 5 °C within 6 h) that a person starts on a blast chiller or
//     hot-holding unit, lists and cancels. The detectors (package insight)
//     track a running cycle's progress and pass or fail it; this package
//     only starts and cancels.
//   - unit_events and defrost_patterns: the defrost cycles and door
//     openings the detectors recognised, and a freezer's learned defrost
//     pattern, read-only here.
//
// Every write runs in one transaction with its audit_log row
// (auth.WriteAudit). Every query filters by organisation; another
// organisation's sensor, unit or log is [ErrNotFound], like one that does
// not exist. Bad input is a [*ValidationError] naming the API's field and a
// log that is in the way a [*ConflictError] (internal/errs), which the api
// package maps to problem+json; it runs none of this SQL.
package records
