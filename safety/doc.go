// Package safety is the one definition of when a unit's food is safe, shared
// by alerting, the dashboard's latest values, the series annotations and the
// HACCP report, so that none of them can disagree about a unit:
//
//   - a unit's limits (Limits; LimitsFor from alert_rules rows): its safe
//     range, unless an alert rule of the unit or of its kind overrides a
//     side with its own threshold;
//   - which alert rules apply to a unit (Applies): per rule kind, the
//     unit's own rules, else its organisation's rules for its kind;
//   - a unit's temperature over time when it has several probes (Mixer):
//     conservative, so the unit is out of range while any live probe is,
//     and a probe that stopped reporting or reports an error code is a gap,
//     never "in range";
//   - how long a reading stands for (Stand): at most its sensor's reporting
//     interval (with one lost uplink tolerated) and never more than a
//     maximum gap, so silence is never mistaken for data.
package safety
